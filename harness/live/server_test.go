package live

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/timeline"
)

func testServer(t *testing.T, step bool) (*Server, *Hub, *fakeClock, *httptest.Server, *atomic.Int32) {
	t.Helper()
	h, c := testHub(step)
	var stops atomic.Int32
	s, err := NewServer(h, false, func() { stops.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { _ = s.Close(); ts.Close() })
	return s, h, c, ts, &stops
}

func post(t *testing.T, url string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestPageHasTheReportsLookAndNoExternalAssets(t *testing.T) {
	s, _, _, ts, _ := testServer(t, true)
	resp, err := http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	css := report.Stylesheet()
	if !strings.Contains(css, "--acked") || !strings.Contains(page, strings.TrimSpace(css)[:200]) {
		t.Fatal("the live page does not carry index.html's stylesheet")
	}
	for _, want := range []string{`content="` + s.Token() + `"`, `id="next"`, `id="stop"`, `new EventSource("/live/events")`, "crash-mid-sync"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "src=\"", "<link"} {
		if i := strings.Index(page, bad); i >= 0 && !strings.Contains(page[i:min(i+40, len(page))], "www.w3.org/2000/svg") {
			t.Errorf("page refers to something outside itself: %q", page[i:min(i+60, len(page))])
		}
	}
}

func TestEventStreamStartsWithTheStateThenStreams(t *testing.T) {
	_, h, c, ts, _ := testServer(t, false)
	drive(h, c)
	resp, err := http.Get(ts.URL + "/live/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	typ, data := readEvent(t, rd)
	if typ != "state" || !strings.Contains(data, `"kill-9"`) || !strings.Contains(data, `"points":[{`) {
		t.Fatalf("first event %s %s, want the state with the fault and the points", typ, data)
	}
	h.Said("a line after connecting")
	if typ, data := readEvent(t, rd); typ != "said" || !strings.Contains(data, "a line after connecting") {
		t.Fatalf("next event %s %s, want the line said", typ, data)
	}
}

// readEvent reads one SSE event (skipping comments).
func readEvent(t *testing.T, rd *bufio.Reader) (typ, data string) {
	t.Helper()
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && typ != "":
			return typ, data
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func TestControlsRefuseCrossSiteRequests(t *testing.T) {
	s, h, _, ts, stops := testServer(t, true)
	h.Stage(1, 2, "Start", "…")
	tok := s.Token()
	cases := []struct {
		name string
		hdr  map[string]string
	}{
		{"no token", nil},
		{"wrong token", map[string]string{TokenHeader: strings.Repeat("0", len(tok))}},
		{"other origin", map[string]string{TokenHeader: tok, "Origin": "http://evil.example"}},
		{"cross-site fetch", map[string]string{TokenHeader: tok, "Sec-Fetch-Site": "cross-site"}},
	}
	for _, c := range cases {
		for _, path := range []string{"/live/next?stage=1", "/live/stop"} {
			if code, body := post(t, ts.URL+path, c.hdr); code != http.StatusForbidden {
				t.Errorf("%s to %s: %d %s, want 403", c.name, path, code, body)
			}
		}
	}
	if n := stops.Load(); n != 0 {
		t.Fatalf("a refused stop stopped the drill %d times", n)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	req.Host = "rebound.example:80"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("GET with Host rebound.example: %d, want 421 (a DNS-rebinding page must not read the token)", resp.StatusCode)
	}
}

func TestNextStageGoesOnFromTheWaitingStageOnly(t *testing.T) {
	s, h, c, ts, _ := testServer(t, true)
	hdr := map[string]string{TokenHeader: s.Token(), "Origin": ts.URL}
	h.Stage(1, 2, "Start", "…")
	took := make(chan struct{})
	go func() { <-s.Next(); close(took) }() // the drill, waiting before stage 1
	if code, body := post(t, ts.URL+"/live/next?stage=1", hdr); code != http.StatusNoContent {
		t.Fatalf("next from the waiting stage: %d %s, want 204", code, body)
	}
	<-took
	if w := h.Waiting(); w != 0 {
		t.Fatalf("waiting = %d after the page went on", w)
	}
	if code, body := post(t, ts.URL+"/live/next?stage=1", hdr); code != http.StatusConflict || !strings.Contains(body, "not waiting") {
		t.Fatalf("a second press for stage 1: %d %s, want 409 not waiting", code, body)
	}
	h.Span(timeline.Entry{Category: timeline.Stage, Name: "provision", Start: c.now()})
	h.Stage(2, 2, "Load", "…")
	if code, body := post(t, ts.URL+"/live/next?stage=1", hdr); code != http.StatusConflict || !strings.Contains(body, "stage 2 is") {
		t.Fatalf("a stale press for stage 1 while 2 waits: %d %s, want 409", code, body)
	}
	if code, _ := post(t, ts.URL+"/live/next", hdr); code != http.StatusBadRequest {
		t.Fatalf("next without a stage: %d, want 400", code)
	}
}

func TestStopCancelsAndLetsAPausedDrillGoOn(t *testing.T) {
	s, h, _, ts, stops := testServer(t, true)
	hdr := map[string]string{TokenHeader: s.Token()}
	h.Stage(1, 2, "Start", "…")
	if code, body := post(t, ts.URL+"/live/stop", hdr); code != http.StatusAccepted {
		t.Fatalf("stop: %d %s, want 202", code, body)
	}
	<-s.Next() // the paused drill is let go on, into its cancelled context
	if n := stops.Load(); n != 1 {
		t.Fatalf("stop cancelled the drill %d times, want 1", n)
	}
	if !h.Snapshot().Stopping {
		t.Fatal("the state does not say the drill is stopping")
	}
}

func TestTheFinalReportReplacesThePage(t *testing.T) {
	s, h, _, ts, _ := testServer(t, false)
	dir, err := report.NewRunDir(t.TempDir(), "run-final")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir.HTMLPath(), []byte("<title>PASS · final</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir.ReportPath(), []byte(`{"verdict":"pass"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/report.json"); code != http.StatusNotFound {
		t.Fatalf("report.json before the end: %d, want 404", code)
	}
	h.Finished(&report.Report{Verdict: report.Pass}, dir)
	if code, body := get("/"); code != 200 || body != "<title>PASS · final</title>" {
		t.Fatalf("GET / after the end: %d %q, want index.html", code, body)
	}
	if code, body := get("/report.json"); code != 200 || !strings.Contains(body, "pass") {
		t.Fatalf("GET /report.json after the end: %d %q", code, body)
	}
	if code, _ := post(t, ts.URL+"/live/stop", map[string]string{TokenHeader: s.Token()}); code != http.StatusConflict {
		t.Fatalf("stop after the end: %d, want 409", code)
	}
}

func TestResolveAddrKeepsToLoopbackUnlessAsked(t *testing.T) {
	cases := []struct {
		in     string
		public bool
		want   string
		err    error
	}{
		{"127.0.0.1:8089", false, "127.0.0.1:8089", nil},
		{"8089", false, "127.0.0.1:8089", nil},
		{":8089", false, "127.0.0.1:8089", nil},
		{"localhost:0", false, "localhost:0", nil},
		{"[::1]:8089", false, "[::1]:8089", nil},
		{"0.0.0.0:8089", false, "", ErrNotLoopback},
		{"192.0.2.7:8089", false, "", ErrNotLoopback},
		{"[::]:8089", false, "", ErrNotLoopback},
		{"0.0.0.0:8089", true, "0.0.0.0:8089", nil},
		{":8089", true, ":8089", nil},
	}
	for _, c := range cases {
		got, err := ResolveAddr(c.in, c.public)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("ResolveAddr(%q, %v) = %q, %v; want %q, %v", c.in, c.public, got, err, c.want, c.err)
		}
	}
	_, err := ResolveAddr("0.0.0.0:8089", false)
	if err == nil || !strings.Contains(err.Error(), "--serve-public") {
		t.Errorf("refusal %v does not say how to mean it", err)
	}
	for _, bad := range []string{"", "host", "127.0.0.1:http", "127.0.0.1:70000"} {
		if _, err := ResolveAddr(bad, false); err == nil {
			t.Errorf("ResolveAddr(%q) accepted it", bad)
		}
	}
}
