package live

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Timing of the page's streams and controls.
const (
	keepAlive    = 15 * time.Second // a comment line keeps idle streams open through proxies
	writeTimeout = 10 * time.Second // a viewer that takes longer for one event is dropped
	nextTries    = 20               // "next stage" offers itself this many times...
	nextTry      = 100 * time.Millisecond
	retryMillis  = 1000 // how soon a dropped viewer's browser reconnects
)

// Config says where a live page listens and how it stops the drill.
type Config struct {
	// Addr is where to listen (see ResolveAddr); Public allows an address
	// other than loopback.
	Addr   string
	Public bool
	// Stop cancels the drill's context (clean-up as after Ctrl-C).
	Stop func()
}

// Server serves a hub's live page, its event stream and its controls, and
// once the run has ended, the run directory with its final report.
type Server struct {
	hub   *Hub
	stop  func()
	next  chan struct{}
	guard guard
	page  []byte

	mu   sync.Mutex // one "next stage" at a time
	done chan struct{}
	once sync.Once
	srv  *http.Server
	ln   net.Listener
}

// NewServer returns the page's server for hub without listening (Handler
// serves it); stop cancels the drill.
func NewServer(hub *Hub, public bool, stop func()) (*Server, error) {
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	page, err := renderPage(hub.Snapshot().Info, token)
	if err != nil {
		return nil, err
	}
	if stop == nil {
		stop = func() {}
	}
	return &Server{hub: hub, stop: stop, next: make(chan struct{}), guard: guard{token: token, public: public},
		page: page, done: make(chan struct{})}, nil
}

// Start listens where cfg says and serves hub's page until Close.
func Start(hub *Hub, cfg Config) (*Server, error) {
	addr, err := ResolveAddr(cfg.Addr, cfg.Public)
	if err != nil {
		return nil, err
	}
	s, err := NewServer(hub, cfg.Public, cfg.Stop)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: listen on %s: %w", addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }() // returns ErrServerClosed on Close
	return s, nil
}

// URL is where the page is served (after Start).
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	a := s.ln.Addr().(*net.TCPAddr)
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port)) + "/"
}

// Next is the channel the page's "next stage" button sends on: give it to
// drill.Options.Next.
func (s *Server) Next() <-chan struct{} { return s.next }

// Token is the page's per-run token its POSTs carry in TokenHeader.
func (s *Server) Token() string { return s.guard.token }

// Close ends every stream and stops serving.
func (s *Server) Close() error {
	s.once.Do(func() { close(s.done) })
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop live page: %w", err)
	}
	return nil
}

// Handler serves the page.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /live/events", s.events)
	mux.HandleFunc("GET /live/state", s.state)
	mux.HandleFunc("POST /live/next", s.advance)
	mux.HandleFunc("POST /live/stop", s.stopDrill)
	mux.HandleFunc("/", s.root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why := s.guard.host(r); why != "" {
			http.Error(w, why, http.StatusMisdirectedRequest)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		mux.ServeHTTP(w, r)
	})
}

// root serves the live page while the drill runs, then the run directory:
// "/" is its final index.html.
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "the page answers GET (and POST to /live/next and /live/stop)", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if dir := s.hub.RunDir(); dir != nil {
		if r.URL.Path == "/" {
			http.ServeFile(w, r, dir.HTMLPath())
			return
		}
		http.StripPrefix("/", http.FileServer(http.Dir(filepath.Clean(dir.Path)))).ServeHTTP(w, r)
		return
	}
	if r.URL.Path != "/" {
		http.Error(w, "the run directory is served here once the drill has ended", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:")
	_, _ = w.Write(s.page)
}

// state serves the state so far as JSON.
func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	st, _, cancel := s.hub.Subscribe()
	cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(st)
}

// events streams the state so far, then every change, as Server-Sent Events.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	st, evs, cancel := s.hub.Subscribe()
	defer cancel()
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(fmt.Appendf(nil, "retry: %d\nevent: state\ndata: %s\n\n", retryMillis, st)) {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				return // fell behind: the browser reconnects to a fresh state
			}
			if !send(fmt.Appendf(nil, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, ev.Data)) {
				return
			}
		case <-tick.C:
			if !send([]byte(": keep-alive\n\n")) {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

// advance is "next stage": it goes on from the stage the viewer saw waiting,
// and only from that one.
func (s *Server) advance(w http.ResponseWriter, r *http.Request) {
	if why := s.guard.control(r); why != "" {
		http.Error(w, why, http.StatusForbidden)
		return
	}
	if !s.hub.Snapshot().Info.Step {
		http.Error(w, "this drill runs without --step: it does not wait between stages", http.StatusConflict)
		return
	}
	n, err := strconv.Atoi(r.URL.Query().Get("stage"))
	if err != nil || n <= 0 {
		http.Error(w, "name the stage to go on from: ?stage=N", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range nextTries {
		if got := s.hub.Waiting(); got != n {
			http.Error(w, waitingText(n, got), http.StatusConflict)
			return
		}
		select {
		case s.next <- struct{}{}:
			s.hub.advanced(n)
			w.WriteHeader(http.StatusNoContent)
			return
		case <-time.After(nextTry):
		case <-r.Context().Done():
			return
		}
	}
	http.Error(w, fmt.Sprintf("stage %d did not take the page's go-ahead (it may have gone on from the terminal)", n), http.StatusConflict)
}

func waitingText(n, got int) string {
	if got == 0 {
		return fmt.Sprintf("stage %d is not waiting any more: the drill went on", n)
	}
	return fmt.Sprintf("stage %d is not waiting; stage %d is", n, got)
}

// stopDrill cancels the drill. A drill paused before a stage is let go on
// into it, so that it sees the cancellation at once and cleans up.
func (s *Server) stopDrill(w http.ResponseWriter, r *http.Request) {
	if why := s.guard.control(r); why != "" {
		http.Error(w, why, http.StatusForbidden)
		return
	}
	select {
	case <-s.hub.Done():
		http.Error(w, "the drill has ended already", http.StatusConflict)
		return
	default:
	}
	s.hub.stopping()
	s.stop()
	go s.release()
	w.WriteHeader(http.StatusAccepted)
}

// release offers the paused drill its go-ahead until it takes one or ends,
// for at most nextTries tries.
func (s *Server) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range nextTries {
		if s.hub.Waiting() == 0 {
			return
		}
		select {
		case s.next <- struct{}{}:
			return
		case <-s.hub.Done():
			return
		case <-time.After(nextTry):
		}
	}
}
