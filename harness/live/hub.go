// Package live serves a drill as it happens to people watching together (a
// game day on a projector): the narration of the current stage in large type,
// the throughput timeline growing as writes are acknowledged, fault, backup and
// restore spans as they begin and end, the progress of long phases and, during
// verification, how many users were found intact or damaged so far. In step
// mode the page can advance the drill and stop it. When the run ends the page
// becomes the run's final report.
//
// A Hub is the drill's Watcher: it keeps the state so far and fans every
// change out to the page's viewers over Server-Sent Events. It never blocks
// the drill: a viewer too slow to keep up is dropped and reconnects to the
// state as it is then.
package live

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/timeline"
)

// subscriberBuffer is how many events a viewer may fall behind by before it is
// dropped (at two progress samples a second, over a minute's worth).
const subscriberBuffer = 256

// Event is one change of the state, as sent to viewers: Type names it (the
// SSE event name) and Data is its JSON.
type Event struct {
	Seq  int64
	Type string
	Data []byte
}

// Hub keeps a drill's live state and tells its subscribers every change. It
// implements drill.Watcher; it is safe for concurrent use.
type Hub struct {
	mu      sync.Mutex
	now     func() time.Time
	started time.Time
	st      State
	seq     int64
	subs    map[*subscriber]struct{}
	dir     *report.RunDir // set when the run ended and its report was written

	base     *drill.Progress // the load sample the next throughput point counts from
	last     *drill.Progress // the newest load sample, not yet in a point when it came less than minBin after base
	finished chan struct{}
}

type subscriber struct {
	ch chan Event
}

var _ drill.Watcher = (*Hub)(nil)

// NewHub returns a hub for a run described by info, starting now.
func NewHub(info Info) *Hub { return newHub(info, time.Now) }

func newHub(info Info, now func() time.Time) *Hub {
	t := now()
	return &Hub{now: now, started: t, subs: map[*subscriber]struct{}{}, finished: make(chan struct{}),
		st: State{Info: info, Started: t.UTC().Format(time.RFC3339Nano), Stages: []StageState{}, Lines: []Line{},
			Spans: []Span{}, Points: []Point{}, Phases: []PhaseState{}}}
}

// Subscribe returns the state so far as JSON and the channel of the events
// that follow it, in order. The channel is closed when the viewer falls too
// far behind (it should reconnect) or cancel is called.
func (h *Hub) Subscribe() (state []byte, events <-chan Event, cancel func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &subscriber{ch: make(chan Event, subscriberBuffer)}
	h.subs[s] = struct{}{}
	state = h.marshalLocked(h.st)
	return state, s.ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.dropLocked(s)
	}
}

// Snapshot returns a copy of the state so far.
func (h *Hub) Snapshot() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	var st State
	// A round trip through JSON is a deep copy and what viewers see.
	_ = json.Unmarshal(h.marshalLocked(h.st), &st)
	return st
}

// Subscribers returns how many viewers are connected.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// RunDir returns the run directory once the run has ended, else nil.
func (h *Hub) RunDir() *report.RunDir {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dir
}

// Done is closed when the run has ended and its report is written.
func (h *Hub) Done() <-chan struct{} { return h.finished }

// Waiting returns the stage waiting for "next stage", or 0.
func (h *Hub) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st.Waiting
}

func (h *Hub) dropLocked(s *subscriber) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// publishLocked sends an event to every subscriber without waiting: one whose
// buffer is full is dropped (its stream ends; the page reconnects and gets
// the state as it is then).
func (h *Hub) publishLocked(typ string, v any) {
	h.seq++
	ev := Event{Seq: h.seq, Type: typ, Data: h.marshalLocked(v)}
	for s := range h.subs {
		select {
		case s.ch <- ev:
		default:
			h.dropLocked(s)
		}
	}
}

func (h *Hub) marshalLocked(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value published is made of strings and numbers; a failure
		// here is a bug, and viewers are told instead of left silent.
		b, _ = json.Marshal(map[string]string{"error": "encode live state: " + err.Error()})
	}
	return b
}

// at returns t (now when zero) in seconds since the hub started, and moves
// the state's clock on.
func (h *Hub) atLocked(t time.Time) float64 {
	if t.IsZero() {
		t = h.now()
	}
	s := t.Sub(h.started).Seconds()
	h.st.Now = max(h.st.Now, s)
	return s
}

// Stage implements drill.Watcher.
func (h *Hub) Stage(n, total int, title, what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := StageState{N: n, Total: total, Title: title, What: what, At: h.atLocked(time.Time{})}
	h.st.Stages = append(h.st.Stages, st)
	if h.st.Info.Step {
		h.st.Waiting = n
	}
	h.publishLocked("stage", struct {
		StageState
		Waiting int     `json:"waiting"`
		Now     float64 `json:"now"`
	}{st, h.st.Waiting, h.st.Now})
}

// StageDone implements drill.Watcher.
func (h *Hub) StageDone(n int, said string, took time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.atLocked(time.Time{})
	h.flushLoadLocked() // a stage that loaded is over: its last writes are in
	for i := range h.st.Stages {
		if h.st.Stages[i].N == n {
			h.st.Stages[i].Said, h.st.Stages[i].Took, h.st.Stages[i].Done = said, took.Seconds(), true
		}
	}
	h.wentOnLocked(n)
	h.publishLocked("stagedone", map[string]any{"n": n, "said": said, "took": took.Seconds(), "waiting": h.st.Waiting, "now": now})
}

// Said implements drill.Watcher.
func (h *Hub) Said(text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := Line{Stage: h.currentLocked(), At: h.atLocked(time.Time{}), Text: text}
	h.st.Lines = append(h.st.Lines, l)
	if len(h.st.Lines) > maxLines {
		h.st.Lines = append(h.st.Lines[:0], h.st.Lines[len(h.st.Lines)-maxLines:]...)
	}
	h.publishLocked("said", map[string]any{"line": l, "waiting": h.st.Waiting, "now": h.st.Now})
}

// Span implements drill.Watcher.
func (h *Hub) Span(e timeline.Entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sp := Span{ID: spanID(e), Category: string(e.Category), Name: e.Name, Target: e.Target, Start: h.atLocked(e.Start), Detail: e.Detail}
	if !e.End.IsZero() {
		end := h.atLocked(e.End)
		sp.End = &end
	}
	replaced := false
	for i := range h.st.Spans {
		if h.st.Spans[i].ID == sp.ID {
			h.st.Spans[i], replaced = sp, true
		}
	}
	if !replaced {
		h.st.Spans = append(h.st.Spans, sp)
		h.trimSpansLocked()
	}
	// A stage's own span begins once the drill went on into it (from the
	// page or from the terminal's Enter): it no longer waits.
	if e.Category == timeline.Stage && sp.End == nil {
		h.wentOnLocked(h.currentLocked())
	}
	h.publishLocked("span", map[string]any{"span": sp, "waiting": h.st.Waiting, "now": h.st.Now})
}

// trimSpansLocked drops the oldest closed spans past maxSpans.
func (h *Hub) trimSpansLocked() {
	for len(h.st.Spans) > maxSpans {
		i := 0
		for i < len(h.st.Spans) && h.st.Spans[i].End == nil {
			i++
		}
		if i == len(h.st.Spans) {
			return
		}
		h.st.Spans = append(h.st.Spans[:i], h.st.Spans[i+1:]...)
	}
}

// Progress implements drill.Watcher: the newest sample of each phase and,
// during the load, a throughput point about every second.
func (h *Hub) Progress(p drill.Progress) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.progressLocked(p)
}

func (h *Hub) progressLocked(p drill.Progress) {
	at := h.atLocked(p.At)
	ph := PhaseState{Phase: p.Phase, Done: p.Done, Total: p.Total, Unit: p.Unit, ETA: p.ETA.Seconds(),
		Acked: p.Acked, Failed: p.Failed, Ambiguous: p.Ambiguous, Intact: p.Intact, Damaged: p.Damaged, At: at}
	replaced := false
	for i := range h.st.Phases {
		if h.st.Phases[i].Phase == p.Phase {
			h.st.Phases[i], replaced = ph, true
		}
	}
	if !replaced {
		h.st.Phases = append(h.st.Phases, ph)
	}
	h.publishLocked("progress", map[string]any{"phase": ph, "waiting": h.st.Waiting, "now": h.st.Now})
	if p.Phase == "load" {
		h.pointLocked(p, at)
	}
}

// pointLocked turns load samples into write rates: a point once at least a
// second has passed since the sample it counts from.
func (h *Hub) pointLocked(p drill.Progress, at float64) {
	if p.At.IsZero() {
		p.At = h.started.Add(time.Duration(at * float64(time.Second)))
	}
	b := h.base
	if b == nil || p.Acked < b.Acked || p.Failed < b.Failed || p.Ambiguous < b.Ambiguous || !p.At.After(b.At) {
		// The first sample of a load (or of a new one) is where rates count from.
		h.base = &p
		return
	}
	dt := p.At.Sub(b.At)
	if dt < minBin {
		h.last = &p
		return
	}
	h.pointFromLocked(b, &p)
}

// flushLoadLocked turns the load's last samples into a point however short
// their interval (the load ended: nothing will come after them), so that the
// writes of a load's last second are on the timeline too.
func (h *Hub) flushLoadLocked() {
	if h.base != nil && h.last != nil && h.last.At.After(h.base.At) {
		h.pointFromLocked(h.base, h.last)
	}
	h.base, h.last = nil, nil
}

// pointFromLocked adds the point of the writes between samples b and p.
func (h *Hub) pointFromLocked(b, p *drill.Progress) {
	dt := p.At.Sub(b.At)
	h.last = nil
	from := b.At.Sub(h.started).Seconds()
	s := dt.Seconds()
	pt := Point{T: from + s/2, W: s, Acked: float64(p.Acked-b.Acked) / s, Failed: float64(p.Failed-b.Failed) / s, Ambiguous: float64(p.Ambiguous-b.Ambiguous) / s}
	h.base = p
	h.st.Points = append(h.st.Points, pt)
	if len(h.st.Points) > maxPoints {
		h.st.Points = mergePoints(h.st.Points)
		h.publishLocked("points", map[string]any{"points": h.st.Points, "now": h.st.Now})
		return
	}
	h.publishLocked("point", map[string]any{"point": pt, "now": h.st.Now})
}

// Finished implements drill.Watcher: the page becomes the final report.
func (h *Hub) Finished(r *report.Report, dir *report.RunDir) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.st.Finished != nil {
		return
	}
	h.atLocked(time.Time{})
	h.flushLoadLocked()
	f := &Final{}
	if r != nil {
		f.Verdict, f.Headline = string(r.Verdict), r.Headline()
	}
	h.st.Finished, h.st.Waiting, h.dir = f, 0, dir
	h.publishLocked("finished", map[string]any{"finished": f, "now": h.st.Now})
	close(h.finished)
}

// advanced records that the page's "next stage" went on from stage n.
func (h *Hub) advanced(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wentOnLocked(n)
	h.publishLocked("waiting", map[string]any{"waiting": h.st.Waiting, "now": h.atLocked(time.Time{})})
}

// stopping records that someone asked the drill to stop.
func (h *Hub) stopping() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.st.Stopping {
		return
	}
	h.st.Stopping = true
	h.publishLocked("stopping", map[string]any{"stopping": true, "now": h.atLocked(time.Time{})})
}

// wentOnLocked clears the wait of stage n: the drill is past it.
func (h *Hub) wentOnLocked(n int) {
	if h.st.Waiting != 0 && h.st.Waiting == n {
		h.st.Waiting = 0
	}
}

func (h *Hub) currentLocked() int {
	if len(h.st.Stages) == 0 {
		return 0
	}
	return h.st.Stages[len(h.st.Stages)-1].N
}
