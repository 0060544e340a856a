package dav

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testClient(t *testing.T, h http.Handler) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "alice", "pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func multistatusBody(inner string) string {
	return `<?xml version="1.0" encoding="utf-8"?><d:multistatus xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav">` + inner + `</d:multistatus>`
}

func answer207(w http.ResponseWriter, inner string) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	io.WriteString(w, multistatusBody(inner))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, "0": 0, "-3": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := parseRetryAfter(h, now); got != want {
			t.Errorf("Retry-After %q: %s, want %s", v, got, want)
		}
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&StatusError{Code: 503}, true},
		{&StatusError{Code: 500}, true},
		{&StatusError{Code: 429}, true},
		{&StatusError{Code: 404}, false},
		{&StatusError{Code: 401}, false},
		{&StatusError{Code: 405}, false},
		{fmt.Errorf("send PROPFIND x: %w", io.EOF), true},
		{fmt.Errorf("send: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{&ProtocolError{Err: errors.New("truncated body"), Truncated: true}, true},
		{&ProtocolError{Err: errors.New("invalid XML")}, false},
		{fmt.Errorf("x: %w", ErrTimeout), true},
		{nil, false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := &Backoff{Attempts: 5, Base: 100 * time.Millisecond, Max: time.Second, MaxRetryAfter: 30 * time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 40: time.Second} {
		if d, ok := b.Delay(n, errors.New("x")); d != want || !ok {
			t.Errorf("Delay(%d) = %s %v, want %s", n, d, ok, want)
		}
	}
	if d, ok := b.Delay(1, &StatusError{Code: 503, RetryAfter: 7 * time.Second}); d != 7*time.Second || !ok {
		t.Errorf("Retry-After 7s: %s %v", d, ok)
	}
	if _, ok := b.Delay(1, &StatusError{Code: 503, RetryAfter: time.Hour}); ok {
		t.Error("a Retry-After of an hour is honoured")
	}
	b.Rand = rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 10; n++ {
		d, _ := b.Delay(3, errors.New("x"))
		if d < 200*time.Millisecond || d > 400*time.Millisecond {
			t.Errorf("jittered delay %s outside [200ms, 400ms]", d)
		}
	}
}

// TestRetryAfterHonoured is a server that answers 503 with Retry-After: 1
// twice, then 207: the client waits as asked (the server checks the gap) and
// succeeds.
func TestRetryAfterHonoured(t *testing.T) {
	var mu sync.Mutex
	var last time.Time
	var tries, early int
	c, srv := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if tries > 0 && time.Since(last) < time.Second {
			early++
		}
		last = time.Now()
		tries++
		if tries <= 2 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		answer207(w, `<d:response><d:href>/x/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`)
	}))
	var retries atomic.Int32
	c.Retry = &Backoff{Attempts: 3, Base: time.Millisecond, Max: 10 * time.Millisecond, MaxRetryAfter: 5 * time.Second,
		OnRetry: func(error) { retries.Add(1) }}
	if _, err := c.Stat(context.Background(), srv.URL+"/x/", PropResourceType); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if tries != 3 || early != 0 || retries.Load() != 2 {
		t.Errorf("%d tries, %d before the Retry-After, %d retries counted", tries, early, retries.Load())
	}
	// A wait longer than the policy allows is not made: the error says why.
	tries = 0
	mu.Unlock()
	c.Retry.MaxRetryAfter = 500 * time.Millisecond
	_, err := c.Stat(context.Background(), srv.URL+"/x/", PropResourceType)
	mu.Lock()
	defer mu.Unlock()
	if err == nil || !strings.Contains(err.Error(), "asks to wait 1s") || tries != 1 {
		t.Errorf("Retry-After over the limit: %d tries, %v", tries, err)
	}
}

// TestStatMissing covers every way servers say a collection is not there.
func TestStatMissing(t *testing.T) {
	ok := `<d:response><d:href>/u/photos/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`
	for _, tc := range []struct {
		name    string
		answer  func(w http.ResponseWriter)
		missing bool
		garbage bool
	}{
		{"404", func(w http.ResponseWriter) { http.Error(w, "no", http.StatusNotFound) }, true, false},
		{"410", func(w http.ResponseWriter) { http.Error(w, "gone", http.StatusGone) }, true, false},
		// Xandikos: a 207 whose only response is an inner 404, with a mangled href.
		{"207 inner 404, mangled href", func(w http.ResponseWriter) {
			answer207(w, `<d:response><d:href>/u/photosphotos</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`)
		}, true, false},
		{"207 inner 404", func(w http.ResponseWriter) {
			answer207(w, `<d:response><d:href>/u/photos/</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`)
		}, true, false},
		{"207 found", func(w http.ResponseWriter) { answer207(w, ok) }, false, false},
		{"207 found under a mangled href", func(w http.ResponseWriter) {
			answer207(w, strings.Replace(ok, "/u/photos/", "/u//photos", 1))
		}, false, false},
		{"207 about others only", func(w http.ResponseWriter) {
			answer207(w, strings.Replace(ok, "/u/photos/", "/a/", 1)+strings.Replace(ok, "/u/photos/", "/b/", 1))
		}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.answer(w) }))
			_, err := c.Stat(context.Background(), srv.URL+"/u/photos/", PropResourceType)
			if IsMissing(err) != tc.missing || IsGarbage(err) != tc.garbage {
				t.Errorf("Stat: %v; want missing %v, garbage %v", err, tc.missing, tc.garbage)
			}
			_, err = c.List(context.Background(), srv.URL+"/u/photos/", PropResourceType)
			if IsMissing(err) != tc.missing {
				t.Errorf("List: %v; want missing %v", err, tc.missing)
			}
		})
	}
}

// collectionServer records MKCOL and MKCALENDAR requests and answers as told.
type collectionServer struct {
	mu     sync.Mutex
	exists map[string]string // path -> resourcetype XML
	status map[string]int    // method+" "+path -> status to answer
	bodies []string
}

func (s *collectionServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	switch r.Method {
	case "PROPFIND":
		rt, ok := s.exists[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		answer207(w, `<d:response><d:href>`+r.URL.Path+`</d:href><d:propstat><d:prop><d:resourcetype>`+rt+`</d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`)
	case "MKCOL", "MKCALENDAR":
		s.bodies = append(s.bodies, r.Method+" "+r.URL.Path+" "+string(body))
		if code := s.status[r.Method+" "+r.URL.Path]; code != 0 {
			w.WriteHeader(code)
			return
		}
		if _, ok := s.exists[r.URL.Path]; ok {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		rt := `<d:collection/>`
		switch {
		case r.Method == "MKCALENDAR":
			rt += `<cal:calendar/>`
		case strings.Contains(string(body), "addressbook"):
			rt += `<card:addressbook/>`
		}
		s.exists[r.URL.Path] = rt
		w.WriteHeader(http.StatusCreated)
	default:
		http.Error(w, "no", http.StatusMethodNotAllowed)
	}
}

func TestMakeCollections(t *testing.T) {
	s := &collectionServer{exists: map[string]string{"/u/": `<d:collection/>`, "/u/old/": `<d:collection/>`}, status: map[string]int{}}
	c, srv := testClient(t, s)
	ctx := context.Background()
	if err := c.MakeAddressBook(ctx, srv.URL+"/u/contacts/", "Contacts"); err != nil {
		t.Fatal(err)
	}
	if err := c.MakeCalendar(ctx, srv.URL+"/u/cal/", "Calendar", []string{"VEVENT", "VTODO", "VJOURNAL"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Mkcol(ctx, srv.URL+"/u/photos/"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mkcol(ctx, srv.URL+"/u/photos/"); err != nil {
		t.Errorf("MKCOL of an existing collection: %v", err)
	}
	if err := c.MakeAddressBook(ctx, srv.URL+"/u/old/", "Old"); err == nil || !HasStatus(err, 405) {
		t.Errorf("an address book over a plain collection: %v", err)
	}
	s.status["MKCOL /u/apps/tetris/"] = http.StatusConflict
	if err := c.Mkcol(ctx, srv.URL+"/u/apps/tetris/"); !HasStatus(err, http.StatusConflict) {
		t.Errorf("MKCOL without its parent: %v", err)
	}
	want := []string{
		`MKCOL /u/contacts/ <?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>Contacts</d:displayname></d:prop></d:set></d:mkcol>`,
		`MKCALENDAR /u/cal/ <?xml version="1.0" encoding="utf-8"?><cal:mkcalendar xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"><d:set><d:prop><d:displayname>Calendar</d:displayname><cal:supported-calendar-component-set><cal:comp name="VEVENT"/><cal:comp name="VTODO"/><cal:comp name="VJOURNAL"/></cal:supported-calendar-component-set></d:prop></d:set></cal:mkcalendar>`,
		`MKCOL /u/photos/ `,
	}
	for i, w := range want {
		if s.bodies[i] != w {
			t.Errorf("request %d:\n%s\nwant\n%s", i, s.bodies[i], w)
		}
	}
}

// radicaleFresh is a fresh Radicale account: principal and home are the same
// collection, which holds nothing yet.
func radicaleFresh() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "PROPFIND" && strings.HasPrefix(r.URL.Path, "/.well-known/"):
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
		case r.Method == "PROPFIND" && r.URL.Path == "/":
			answer207(w, `<d:response><d:href>/</d:href><d:propstat><d:prop><d:current-user-principal><d:href>/alice/</d:href></d:current-user-principal></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`)
		case r.Method == "PROPFIND" && r.URL.Path == "/alice/" && r.Header.Get("Depth") == "0":
			answer207(w, `<d:response><d:href>/alice/</d:href><d:propstat><d:prop><card:addressbook-home-set><d:href>/alice/</d:href></card:addressbook-home-set><cal:calendar-home-set><d:href>/alice/</d:href></cal:calendar-home-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`)
		case r.Method == "PROPFIND" && r.URL.Path == "/alice/":
			answer207(w, `<d:response><d:href>/alice/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><d:principal/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`)
		default:
			http.Error(w, "no", http.StatusNotFound)
		}
	})
}

func TestDiscoverFreshAccount(t *testing.T) {
	var requests atomic.Int32
	h := radicaleFresh()
	c, srv := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	c.Cache = &DiscoveryCache{}
	a, err := c.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.Principal != srv.URL+"/alice/" || len(a.AddressBooks)+len(a.Calendars) != 0 ||
		!strings.Contains(a.NoCardDAV, "holds no address book") || !strings.Contains(a.NoCalDAV, "holds no calendar") {
		t.Errorf("%+v", a)
	}
	// /.well-known (a redirect), the context path, the principal and one
	// listing of the shared home.
	if n := requests.Load(); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
	// The next user skips the redirect.
	requests.Store(0)
	c2, _ := New(srv.URL, "alice", "pw", nil)
	c2.Cache = c.Cache
	if _, err := c2.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("with the cache: %d requests, want 3", n)
	}
}

// TestDiscoverRetriesEOF is a server that drops the connection of the first
// PROPFIND of each step: with a retry policy discovery gets through.
func TestDiscoverRetriesEOF(t *testing.T) {
	h := radicaleFresh()
	var mu sync.Mutex
	seen := map[string]bool{}
	c, _ := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		key := r.URL.Path + r.Header.Get("Depth")
		first := !seen[key]
		seen[key] = true
		mu.Unlock()
		if first {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the client reads EOF
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	if _, err := c.Discover(context.Background()); err == nil {
		t.Fatal("discovery without retries got through dropped connections")
	}
	mu.Lock()
	seen = map[string]bool{}
	mu.Unlock()
	c.Retry = &Backoff{Attempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond}
	if _, err := c.Discover(context.Background()); err != nil {
		t.Fatalf("discovery with retries: %v", err)
	}
}

// TestRequestTimeout is a server that never answers: each try ends at the
// client's request time limit, and the error says so.
func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	c, srv := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	c.Timeout = 50 * time.Millisecond
	c.Retry = &Backoff{Attempts: 2, Base: time.Millisecond}
	_, err := c.Propfind(context.Background(), srv.URL+"/", "0", PropResourceType)
	if !errors.Is(err, ErrTimeout) || !Transient(err) {
		t.Errorf("stalled PROPFIND: %v", err)
	}
}
