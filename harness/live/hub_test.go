package live

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/timeline"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func testHub(step bool) (*Hub, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	return newHub(Info{Scenario: "crash-mid-sync", Seed: 7, Step: step}, c.now), c
}

// drive plays the first part of a drill into h: a stage, a line, a fault that
// begins and ends, and load progress for three seconds.
func drive(h *Hub, c *fakeClock) {
	h.Stage(1, 3, "Phones sync their users' data", "Every user's phones write.")
	h.Span(timeline.Entry{Category: timeline.Stage, Name: "load", Start: c.now()})
	h.Said("fault kill-9@postgres injected")
	start := c.add(time.Second)
	f := timeline.Entry{Category: timeline.Fault, Name: "kill-9", Target: "postgres", Start: start}
	h.Span(f)
	for i := 0; i <= 6; i++ {
		at := c.add(500 * time.Millisecond)
		h.Progress(drill.Progress{At: at, Phase: "load", Done: int64(10 * i), Total: 100, Unit: "writes", Acked: int64(10 * i), Ambiguous: int64(i)})
	}
	f.End = c.now()
	f.Detail = "restarted"
	h.Span(f)
}

func TestLateSubscriberGetsTheStateSoFar(t *testing.T) {
	h, c := testHub(false)
	drive(h, c)
	raw, events, cancel := h.Subscribe()
	defer cancel()
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("decode state: %v\n%s", err, raw)
	}
	if len(st.Stages) != 1 || st.Stages[0].Title != "Phones sync their users' data" {
		t.Errorf("stages = %+v, want the one stage announced", st.Stages)
	}
	if len(st.Lines) != 1 || st.Lines[0].Text != "fault kill-9@postgres injected" || st.Lines[0].Stage != 1 {
		t.Errorf("lines = %+v, want the line said in stage 1", st.Lines)
	}
	var fault *Span
	for i := range st.Spans {
		if st.Spans[i].Category == "fault" {
			if fault != nil {
				t.Fatalf("the fault's begin and end gave two spans: %+v", st.Spans)
			}
			fault = &st.Spans[i]
		}
	}
	if fault == nil || fault.End == nil || fault.Detail != "restarted" || fault.Start != 1 || *fault.End != 4.5 {
		t.Errorf("fault span = %+v, want kill-9 from 1 s to 4.5 s, closed, detail restarted", fault)
	}
	if len(st.Points) != 3 {
		t.Fatalf("points = %+v, want 3 (one a second from 3.5 s of samples every 0.5 s)", st.Points)
	}
	for _, p := range st.Points {
		// 10 acked and 1 ambiguous write every half second.
		if math.Abs(p.Acked-20) > 1e-9 || math.Abs(p.Ambiguous-2) > 1e-9 || p.Failed != 0 || p.W != 1 {
			t.Errorf("point %+v, want 20 acked/s and 2 ambiguous/s over 1 s", p)
		}
	}
	if len(st.Phases) != 1 || st.Phases[0].Done != 60 || st.Phases[0].Total != 100 {
		t.Errorf("phases = %+v, want load at 60 of 100", st.Phases)
	}
	select {
	case ev := <-events:
		t.Fatalf("a late subscriber got event %s %s before anything happened: the state holds it already", ev.Type, ev.Data)
	default:
	}
	h.Said("after")
	if ev := <-events; ev.Type != "said" {
		t.Fatalf("first event after subscribing = %s, want said", ev.Type)
	}
}

func TestEveryViewerGetsEveryEventInOrder(t *testing.T) {
	h, c := testHub(false)
	var subs []<-chan Event
	for range 3 {
		_, ev, cancel := h.Subscribe()
		defer cancel()
		subs = append(subs, ev)
	}
	drive(h, c)
	var want []string
	for i, ch := range subs {
		var got []string
		var last int64
	drain:
		for {
			select {
			case ev := <-ch:
				if ev.Seq <= last {
					t.Fatalf("viewer %d: event %d after %d", i, ev.Seq, last)
				}
				last = ev.Seq
				got = append(got, ev.Type)
			default:
				break drain
			}
		}
		if i == 0 {
			want = got
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("viewer %d got %v, viewer 0 got %v", i, got, want)
		}
	}
	if len(want) < 12 {
		t.Fatalf("viewers got %v, want the stage, spans, line, 7 samples and 3 points", want)
	}
}

// TestSlowViewerNeverBlocksTheDrill: a viewer that reads nothing is dropped
// once its buffer is full, and the drill's calls go on (were they to block,
// this test would hang and fail by the test binary's timeout); a viewer that
// keeps up gets everything.
func TestSlowViewerNeverBlocksTheDrill(t *testing.T) {
	h, c := testHub(false)
	_, slow, cancelSlow := h.Subscribe()
	defer cancelSlow()
	_, fast, cancelFast := h.Subscribe()
	defer cancelFast()
	const n = 3 * subscriberBuffer
	for i := range n {
		h.Progress(drill.Progress{At: c.add(100 * time.Millisecond), Phase: "verify", Done: int64(i), Total: n, Unit: "users", Intact: int64(i)})
		// The fast viewer reads each event as it comes.
		if ev, ok := <-fast; !ok || ev.Type != "progress" {
			t.Fatalf("event %d: the fast viewer got %q (open %v), want progress", i, ev.Type, ok)
		}
	}
	buffered := 0
	for range slow {
		buffered++
	}
	if buffered != subscriberBuffer {
		t.Fatalf("the slow viewer's stream held %d events before it ended, want its buffer of %d, then closed", buffered, subscriberBuffer)
	}
	if s := h.Subscribers(); s != 1 {
		t.Fatalf("%d subscribers left, want 1 (the slow one dropped)", s)
	}
}

func TestStepModeWaitsUntilTheStageGoesOn(t *testing.T) {
	h, c := testHub(true)
	h.Stage(2, 4, "Take a backup", "The continuous strategy takes a backup now.")
	if w := h.Waiting(); w != 2 {
		t.Fatalf("waiting = %d after stage 2 was announced in step mode, want 2", w)
	}
	h.Said("a line while the operator reads")
	h.Span(timeline.Entry{Category: timeline.Backup, Name: "wal-archive", Start: c.now()})
	if w := h.Waiting(); w != 2 {
		t.Fatalf("waiting = %d after a line and a backup span, want still 2: only the stage going on clears it", w)
	}
	h.Span(timeline.Entry{Category: timeline.Stage, Name: "base-backup", Start: c.add(time.Second)})
	if w := h.Waiting(); w != 0 {
		t.Fatalf("waiting = %d after the stage's span began (Enter on the terminal), want 0", w)
	}
	h.Stage(3, 4, "Load", "…")
	h.advanced(3)
	if w := h.Waiting(); w != 0 {
		t.Fatalf("waiting = %d after the page went on, want 0", w)
	}
	hNoStep, _ := testHub(false)
	hNoStep.Stage(1, 2, "Start", "…")
	if w := hNoStep.Waiting(); w != 0 {
		t.Fatalf("waiting = %d without step mode, want 0", w)
	}
}

func TestFinishedPointsAtTheRunDirectory(t *testing.T) {
	h, _ := testHub(true)
	h.Stage(1, 1, "Start", "…")
	_, events, cancel := h.Subscribe()
	defer cancel()
	dir, err := report.NewRunDir(t.TempDir(), "run-1")
	if err != nil {
		t.Fatal(err)
	}
	r := &report.Report{Scenario: "crash-mid-sync", Verdict: report.Pass}
	h.Finished(r, dir)
	h.Finished(r, dir) // a second call changes nothing
	<-h.Done()
	if h.RunDir() != dir {
		t.Fatal("RunDir is not the finished run's directory")
	}
	st := h.Snapshot()
	if st.Finished == nil || st.Finished.Verdict != "pass" || st.Waiting != 0 {
		t.Fatalf("state after Finished: finished=%+v waiting=%d, want verdict pass and nothing waiting", st.Finished, st.Waiting)
	}
	if ev := <-events; ev.Type != "finished" {
		t.Fatalf("event = %s, want finished", ev.Type)
	}
	select {
	case ev := <-events:
		t.Fatalf("a second Finished published %s", ev.Type)
	default:
	}
}

func TestLongLoadsKeepBoundedState(t *testing.T) {
	h, c := testHub(false)
	for i := range 3 * maxPoints {
		h.Progress(drill.Progress{At: c.add(time.Second), Phase: "load", Acked: int64(5 * i)})
	}
	for range 2 * maxLines {
		h.Said("line")
	}
	st := h.Snapshot()
	if len(st.Points) > maxPoints || len(st.Points) < maxPoints/2 {
		t.Fatalf("%d points after %d seconds of load, want between %d and %d", len(st.Points), 3*maxPoints, maxPoints/2, maxPoints)
	}
	for _, p := range st.Points {
		if math.Abs(p.Acked-5) > 1e-9 {
			t.Fatalf("merged point %+v, want the steady 5 acked/s", p)
		}
	}
	last := st.Points[len(st.Points)-1]
	if end := last.T + last.W/2; math.Abs(end-float64(3*maxPoints)) > 1e-6 {
		t.Fatalf("the points end at %.1f s, want %d s: merging must keep the time axis", end, 3*maxPoints)
	}
	if len(st.Lines) != maxLines {
		t.Fatalf("%d lines kept, want %d", len(st.Lines), maxLines)
	}
}

// TestTheLoadsLastWritesReachTheTimeline checks that writes acknowledged in
// the last second of a load, after the last whole-second point, become a
// point when the load's stage ends: a tiny load that ends 0.3 s after its last
// point must not look idle on the page.
func TestTheLoadsLastWritesReachTheTimeline(t *testing.T) {
	h, c := testHub(false)
	h.Stage(1, 2, "Phones sync their users' data", "")
	sample := func(acked int64) {
		h.Progress(drill.Progress{At: c.now(), Phase: "load", Unit: "writes", Done: acked, Total: 250, Acked: acked})
	}
	sample(0)
	c.add(1200 * time.Millisecond)
	sample(100) // a point: 100 writes over 1.2 s
	c.add(300 * time.Millisecond)
	sample(250) // 0.3 s later: too short for a point of its own, yet
	if got := len(h.Snapshot().Points); got != 1 {
		t.Fatalf("%d points before the load ended, want 1", got)
	}
	h.StageDone(1, "250 writes acknowledged", 1500*time.Millisecond)
	pts := h.Snapshot().Points
	if len(pts) != 2 {
		t.Fatalf("points %+v after the load ended, want 2", pts)
	}
	last := pts[1]
	if math.Abs(last.Acked-500) > 1e-6 || math.Abs(last.W-0.3) > 1e-6 || math.Abs(last.T-1.35) > 1e-6 {
		t.Errorf("the last point is %+v, want 150 writes over the last 0.3 s (500/s, centred at 1.35 s)", last)
	}
	// Nothing is counted twice when the run finishes.
	h.Finished(nil, nil)
	if got := len(h.Snapshot().Points); got != 2 {
		t.Errorf("%d points after Finished, want still 2", got)
	}
}
