package live_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/live"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
)

// ShotsVar names a directory where TestLivePageInBrowser saves screenshots of
// the page at three moments (during the load, during verification, the final
// page); unset saves none.
const ShotsVar = "FIREDRILL_SHOTS"

// stall is how long the page may take to show what the drill already did
// before the test says the page stopped updating. It guards against a page
// that hangs; it is not a measure of speed (the page takes milliseconds).
const stall = 45 * time.Second

// probe is what the test reads off the page.
type probe struct {
	Live        bool   `json:"live"` // the live page (not yet the final report)
	Points      int    `json:"points"`
	Faults      int    `json:"faults"`
	OpenFaults  int    `json:"openFaults"`
	NextEnabled bool   `json:"nextEnabled"`
	StageNo     string `json:"stageNo"`
	Phases      string `json:"phases"`
	Title       string `json:"title"`
	Verdict     string `json:"verdict"`
}

const probeJS = `JSON.stringify((() => {
  const c = document.getElementById("chart"), n = document.getElementById("next"), s = document.getElementById("stageno");
  const v = document.querySelector(".verdict"), ph = document.getElementById("phases");
  return { live: !!c, points: c ? +c.dataset.points : 0,
    faults: document.querySelectorAll('#chart rect[data-category="fault"]').length,
    openFaults: document.querySelectorAll('#chart rect[data-category="fault"][data-open="true"]').length,
    nextEnabled: !!n && !n.disabled, stageNo: s ? s.textContent : "", phases: ph ? ph.textContent : "",
    title: document.title, verdict: v ? v.textContent.trim() : "" };
})())`

// chromium returns the path of a Chromium or Chrome binary, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium to drive the live page: install Debian's chromium package (apt-get install chromium)")
	return ""
}

// TestLivePageInBrowser runs a tiny real drill in step mode with a fault in
// its load, watched in headless Chromium: the page's "next stage" button is
// the only way the drill goes on; the timeline must gain points, the fault's
// span must appear, and the page must become the final report with its
// verdict. Were the page to stop updating, a wait would see the drill ahead
// of the page and fail.
func TestLivePageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a drill in containers and a browser")
	}
	browser := chromium(t)
	stacktest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	sc := drill.Scenario{
		Name: "live-page", Summary: "A tiny load with the sync server killed mid-way, watched on the live page.",
		Profile: "tiny", Backup: "base-only", Proxy: true,
		Steps: []drill.Step{
			{Do: drill.Load, Faults: []fault.Spec{{Name: "kill-9", Target: "syncd"}}},
			{Do: drill.Verify},
		},
		Expect: report.ExpectIntact,
	}
	hub := live.NewHub(live.Info{Scenario: sc.Name, Summary: sc.Summary, Profile: sc.Profile, Seed: 5, Step: true})
	drillCtx, stopDrill := context.WithCancel(ctx)
	defer stopDrill()
	srv, err := live.Start(hub, live.Config{Addr: "127.0.0.1:0", Stop: stopDrill})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1600, 1000))...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL())); err != nil {
		t.Fatalf("open the live page in Chromium: %v", err)
	}
	// The page is connected before the drill begins, so that everything it
	// shows must have come through the stream, not the first state.
	for hub.Subscribers() == 0 {
		time.Sleep(50 * time.Millisecond)
	}

	var narration safeBuffer
	type result struct {
		out *drill.Outcome
		err error
	}
	ran := make(chan result, 1)
	go func() {
		out, err := drill.Execute(drillCtx, sc, drill.Options{Seed: 5, Reports: t.TempDir(), Step: true, Out: &narration,
			Watch: hub, Next: srv.Next()})
		ran <- result{out, err}
	}()

	w := &watcher{t: t, tab: tab, hub: hub, narration: &narration}
	shots := os.Getenv(ShotsVar)

	// Stage 1 (start the service) and 2 (the load) wait for the page's button.
	for n := 1; n <= 2; n++ {
		w.clickNext(n)
	}
	first := w.until("a first throughput point", func(p probe) bool { return p.Points > 0 },
		func(s live.State) bool { return len(s.Points) > 0 })
	w.until("the timeline gaining points", func(p probe) bool { return p.Points > first.Points },
		func(s live.State) bool { return len(s.Points) > first.Points })
	w.until("the fault's span", func(p probe) bool { return p.Faults > 0 },
		func(s live.State) bool { return countFaults(s) > 0 })
	w.shoot(shots, "1-load-with-fault.png")
	w.clickNext(3) // verify
	w.until("the verification's progress", func(p probe) bool { return strings.Contains(p.Phases, "Verifying users") || !p.Live },
		func(s live.State) bool { return hasPhase(s, "observe") || hasPhase(s, "verify") })
	w.shoot(shots, "2-verification.png")
	final := w.until("the final report", func(p probe) bool { return !p.Live && p.Verdict != "" },
		func(s live.State) bool { return s.Finished != nil })
	w.shoot(shots, "3-final.png")

	res := <-ran
	if res.err != nil {
		t.Fatalf("drill: %v\n%s", res.err, narration.String())
	}
	if want := strings.ToUpper(string(res.out.Report.Verdict)); final.Verdict != want || !strings.HasPrefix(final.Title, want) {
		t.Fatalf("final page shows verdict %q (title %q), the run's verdict is %s", final.Verdict, final.Title, want)
	}
	if res.out.Report.Verdict != report.Pass {
		t.Fatalf("the drill's verdict is %s: %s\n%s", res.out.Report.Verdict, res.out.Report.Reason, narration.String())
	}
}

// watcher polls the page and compares it with the hub: the drill's truth.
type watcher struct {
	t         *testing.T
	tab       context.Context
	hub       *live.Hub
	narration *safeBuffer
}

func (w *watcher) probe() probe {
	w.t.Helper()
	s, err := chromedp.Run(w.tab, chromedp.Evaluate[string](probeJS))
	if err != nil {
		w.t.Fatalf("read the page: %v", err)
	}
	var p probe
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		w.t.Fatalf("decode the page's probe %q: %v", s, err)
	}
	return p
}

// until waits for the page to show what pageDone checks. Once the drill's own
// state (hubDone) shows it, the page has the stall time to follow; a drill
// that ended without ever showing it fails the test too.
func (w *watcher) until(what string, pageDone func(probe) bool, hubDone func(live.State) bool) probe {
	w.t.Helper()
	var since time.Time
	for {
		p := w.probe()
		if pageDone(p) {
			return p
		}
		st := w.hub.Snapshot()
		switch {
		case hubDone(st) && since.IsZero():
			since = time.Now()
		case !since.IsZero() && time.Since(since) > stall:
			w.t.Fatalf("the page stopped updating: the drill shows %s but the page does not, %s later (page: %+v; drill: %d points, %d spans, waiting %d)\n%s",
				what, stall, p, len(st.Points), len(st.Spans), st.Waiting, w.narration.String())
		case since.IsZero() && st.Finished != nil:
			w.t.Fatalf("the drill ended without showing %s (page: %+v)\n%s", what, p, w.narration.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// clickNext waits until the page offers "next stage" for stage n, clicks it,
// and checks that the drill went on.
func (w *watcher) clickNext(n int) {
	w.t.Helper()
	label := fmt.Sprintf("Stage %d of", n)
	w.until(fmt.Sprintf("stage %d waiting", n), func(p probe) bool { return p.NextEnabled && strings.HasPrefix(p.StageNo, label) },
		func(s live.State) bool { return s.Waiting == n })
	if err := chromedp.Do(w.tab, chromedp.Click("#next")); err != nil {
		w.t.Fatalf("click next stage: %v", err)
	}
	// Nothing else answers the drill's pause (it has no terminal): it goes on
	// only through the page.
	// (The button disables itself on the click; the stage's line says it
	// waits until the drill has taken the go-ahead.)
	w.until(fmt.Sprintf("stage %d under way", n), func(p probe) bool {
		return !strings.Contains(p.StageNo, "waiting") || !strings.HasPrefix(p.StageNo, label)
	},
		func(s live.State) bool { return s.Waiting != n })
	if w.hub.Waiting() == n {
		w.t.Fatalf("stage %d still waits after the page's button was clicked", n)
	}
}

// shoot saves a screenshot of the page into dir (none when dir is "").
func (w *watcher) shoot(dir, name string) {
	w.t.Helper()
	if dir == "" {
		return
	}
	png, err := chromedp.Run(w.tab, chromedp.CaptureScreenshot())
	if err != nil {
		w.t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func countFaults(s live.State) int {
	n := 0
	for _, sp := range s.Spans {
		if sp.Category == "fault" {
			n++
		}
	}
	return n
}

func hasPhase(s live.State, name string) bool {
	for _, p := range s.Phases {
		if p.Phase == name {
			return true
		}
	}
	return false
}

// safeBuffer is a strings.Builder for the drill's narration, written from
// the drill's goroutines and read by the test.
type safeBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
