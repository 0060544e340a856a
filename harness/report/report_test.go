package report

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/firedrill/firedrill/harness/timeline"
)

// parse parses a rendered page and fails the test if it is not HTML.
func parse(t *testing.T, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	return doc
}

// find returns the elements for which match is true, in document order.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
	}
	return out
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func hasClass(name, class string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		return n.Data == name && strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func render(t *testing.T, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := RenderHTML(&b, r); err != nil {
		t.Fatalf("render: %v", err)
	}
	return b.Bytes()
}

// checkSelfContained fails if the page loads anything from outside itself.
func checkSelfContained(t *testing.T, doc *html.Node) {
	t.Helper()
	for _, n := range find(doc, func(*html.Node) bool { return true }) {
		if n.Data == "link" || n.Data == "img" || n.Data == "iframe" {
			t.Errorf("page has a <%s> element: it must be self-contained", n.Data)
		}
		if n.Data == "script" && attr(n, "src") != "" {
			t.Errorf("page loads script %q: it must be self-contained", attr(n, "src"))
		}
		for _, a := range n.Attr {
			if (a.Key == "href" || a.Key == "src") && strings.Contains(a.Val, "//") {
				t.Errorf("<%s %s=%q> points outside the run directory", n.Data, a.Key, a.Val)
			}
		}
	}
	for _, s := range find(doc, tag("style")) {
		if strings.Contains(text(s), "@import") || strings.Contains(text(s), "url(") {
			t.Error("inline CSS loads an external resource")
		}
	}
}

func TestRenderPassingReport(t *testing.T) {
	r := sampleReport(false)
	doc := parse(t, render(t, r))
	checkSelfContained(t, doc)
	v := find(doc, hasClass("div", "verdict"))
	if len(v) != 1 || text(v[0]) != "PASS" {
		t.Fatalf("verdict elements = %d, want one saying PASS", len(v))
	}
	if h := find(doc, hasClass("header", "pass")); len(h) != 1 {
		t.Error("header is not marked pass")
	}
	all := text(doc)
	for _, want := range []string{
		"sidekick-san-migration",
		"All 1,000 users intact: every one of 48,213 acknowledged writes came back unchanged.",
		"expected every user intact, found every user intact",
		r.Command,
		"2026-03-14 02:30:00 UTC",
		"1,000 intact users",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := len(find(doc, hasClass("details", "user"))); n != 0 {
		t.Errorf("passing page lists %d damaged users, want 0", n)
	}
	svgs := find(doc, tag("svg"))
	if len(svgs) != 2 {
		t.Fatalf("page has %d SVG charts, want the timeline and the RTO bar", len(svgs))
	}
	if len(find(svgs[0], hasClass("path", "acked"))) != 1 {
		t.Error("timeline has no throughput line")
	}
	if n := len(find(svgs[0], hasClass("rect", "fault"))); n != 2+2 { // two bars and two bands
		t.Errorf("timeline draws %d fault rectangles, want 2 bars and 2 bands", n)
	}
	if n := len(find(svgs[1], func(n *html.Node) bool { return n.Data == "rect" })); n != 5 {
		t.Errorf("RTO bar has %d segments, want 5 phases", n)
	}
}

func TestRenderFailingReport(t *testing.T) {
	r := sampleReport(true)
	doc := parse(t, render(t, r))
	checkSelfContained(t, doc)
	if v := find(doc, hasClass("div", "verdict")); len(v) != 1 || text(v[0]) != "FAIL" {
		t.Fatal("verdict is not FAIL")
	}
	all := text(doc)
	for _, want := range []string{
		"3 of 1,000 users lost data: 17 acknowledged writes lost",
		"found 3 users damaged",
		"WAL segment 000000010000000000000007 was missing",
		"997 intact users",
		"17 acked writes",
		"exceeded",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	users := find(doc, hasClass("details", "user"))
	if len(users) != 3 {
		t.Fatalf("page lists %d damaged users, want 3", len(users))
	}
	// Damaged users come first (an unreadable account before damaged ones),
	// each expandable to its items.
	wantOrder := []string{"danger.hiptop.fan@example.org", "zoë.lindqvist@example.org", "user0815@example.org"}
	for i, u := range users {
		name := find(u, hasClass("span", "uname"))
		if len(name) != 1 || text(name[0]) != wantOrder[i] {
			t.Errorf("damaged user %d is %q, want %q", i, text(name[0]), wantOrder[i])
		}
	}
	rows := find(users[1], func(n *html.Node) bool { return n.Data == "tr" && n.Parent.Data == "tbody" })
	if len(rows) != 15 {
		t.Errorf("zoë's drill-down has %d item rows, want 15", len(rows))
	}
	changed := text(users[2])
	for _, want := range []string{"event/dentist-2009-10-12.ics", "changed", "DTSTART: expected 20091012T090000", "resurrected", "deleted"} {
		if !strings.Contains(changed, want) {
			t.Errorf("user0815's drill-down lacks %q", want)
		}
	}
	// Numbers are right-aligned with thousands separators.
	var tiles []string
	for _, v := range find(doc, hasClass("div", "value")) {
		tiles = append(tiles, text(v))
	}
	if !reflect.DeepEqual(tiles[:4], []string{"997", "3", "17", "41.3 s"}) || tiles[4] != "48,213" {
		t.Errorf("tiles = %q, want 997, 3, 17, 41.3 s, 48,213, ...", tiles)
	}
}

func TestRenderEscapesHostileNames(t *testing.T) {
	r := sampleReport(true)
	hostile := `<script>alert(1)</script>`
	r.Scenario = `"><img src=x onerror=alert(2)>`
	r.Command = `firedrill run x --seed 42 '</code><script>alert(3)</script>`
	r.UserVerdicts[0].User = hostile
	r.UserVerdicts[0].Reason = `</details><iframe src="javascript:alert(4)">`
	r.UserVerdicts[1].Items[0].Key = `contact/"><svg onload=alert(5)>.vcf`
	r.UserVerdicts[1].Items[0].Detail = []string{"]]><!-- -->&amp;"}
	r.Faults[0].Name = `<b onmouseover=alert(6)>fault</b>`
	page := render(t, r)
	doc := parse(t, page)
	if n := len(find(doc, tag("script"))); n != 1 {
		t.Errorf("page has %d script elements, want only its own", n)
	}
	for _, n := range find(doc, func(*html.Node) bool { return true }) {
		if n.Data == "img" || n.Data == "iframe" || (n.Data == "svg" && attr(n, "onload") != "") || n.Data == "b" && attr(n, "onmouseover") != "" {
			t.Errorf("hostile input became a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("hostile input became an event handler attribute %s on <%s>", a.Key, n.Data)
			}
		}
	}
	all := text(doc)
	for _, want := range []string{hostile, r.Scenario, r.Command, "]]><!-- -->&amp;", `contact/"><svg onload=alert(5)>.vcf`} {
		if !strings.Contains(all, want) {
			t.Errorf("page does not show %q as text", want)
		}
	}
}

func TestRenderErrorReport(t *testing.T) {
	r := &Report{Scenario: "crash-mid-sync", Seed: 7, Verdict: Error, Expected: ExpectIntact, Actual: FoundUnknown,
		Reason: "start postgres: container exited with code 1", Command: "firedrill run crash-mid-sync --seed 7"}
	doc := parse(t, render(t, r))
	all := text(doc)
	for _, want := range []string{"ERROR", "Nothing is known about users' data", "start postgres: container exited with code 1", "not judged"} {
		if !strings.Contains(all, want) {
			t.Errorf("error page lacks %q", want)
		}
	}
	if len(find(doc, tag("svg"))) != 0 {
		t.Error("error page without data draws charts")
	}
}

func TestRenderRefusesInvalidReport(t *testing.T) {
	for name, r := range map[string]*Report{
		"no scenario":      {Verdict: Pass, Expected: ExpectIntact},
		"unknown verdict":  {Scenario: "x", Verdict: "ok", Expected: ExpectIntact},
		"fail no reason":   {Scenario: "x", Verdict: Fail, Expected: ExpectIntact},
		"bad expectation":  {Scenario: "x", Verdict: Pass, Expected: "fine"},
		"future schema":    {Scenario: "x", Verdict: Pass, Expected: ExpectIntact, Schema: SchemaVersion + 1},
		"nameless verdict": {Scenario: "x", Verdict: Pass, Expected: ExpectIntact, UserVerdicts: []UserVerdict{{Status: StatusDamaged}}},
	} {
		if err := RenderHTML(&bytes.Buffer{}, r); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	d, err := NewRunDir(t.TempDir(), "run-1")
	if err != nil {
		t.Fatal(err)
	}
	r := sampleReport(true)
	if err := d.Save(r); err != nil {
		t.Fatal(err)
	}
	got, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("loaded report differs from saved one:\n got %+v\nwant %+v", got, r)
	}
	if got.Schema != SchemaVersion || got.RunID != r.RunID {
		t.Errorf("schema %d run %q, want %d and %q", got.Schema, got.RunID, SchemaVersion, r.RunID)
	}
	// The JSON uses snake_case names.
	b, err := os.ReadFile(d.ReportPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"lost_acked_writes": 17`, `"user_verdicts"`, `"acked_per_s"`, `"verdict": "fail"`, `"expected": "intact"`, `"phases"`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("report.json lacks %s", key)
		}
	}
	if err := os.WriteFile(d.ReportPath(), []byte(`{"scenario": "x", "verdict": "maybe"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Load(); err == nil || !strings.Contains(err.Error(), `verdict "maybe"`) {
		t.Errorf("loading a bad verdict: err = %v, want one naming the verdict", err)
	}
}

func TestWriteRendersEveryFileAndReRenders(t *testing.T) {
	root := t.TempDir()
	d, err := NewRunDir(root, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.LedgerPath(), make([]byte, 2048), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.LogPath("/fd-run-1-postgres"), []byte("FATAL: bad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(sampleReport(true)); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(d.HTMLPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d.ReportPath(), d.JUnitPath()} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("Write did not write %s: %v", p, err)
		}
	}
	all := text(parse(t, first))
	for _, want := range []string{"ledger.bin", "logs/fd-run-1-postgres.log", "2.0 KiB"} {
		if !strings.Contains(all, want) {
			t.Errorf("page does not link %q", want)
		}
	}
	// Re-render offline from the saved report: the same page comes out.
	d2, err := OpenRunDir(filepath.Join(root, LatestLink))
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := d2.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Write(loaded); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(d.HTMLPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("re-rendering the loaded report changed index.html")
	}
	if matches, _ := filepath.Glob(filepath.Join(d.Path, ".*")); len(matches) != 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
}

func TestNewRunDirPointsLatestAtNewestRun(t *testing.T) {
	root := t.TempDir()
	latest := filepath.Join(root, LatestLink)
	for _, id := range []string{"20260101-000000-a-s1", "20260101-000001-b-s2"} {
		d, err := NewRunDir(root, id)
		if err != nil {
			t.Fatal(err)
		}
		target, err := os.Readlink(latest)
		if err != nil {
			t.Fatal(err)
		}
		if target != id {
			t.Errorf("latest -> %q, want the relative name %q", target, id)
		}
		if st, err := os.Stat(filepath.Join(latest, LogsDir)); err != nil || !st.IsDir() {
			t.Errorf("latest/logs is not a directory: %v", err)
		}
		if d.LogPath("../../etc/passwd") != filepath.Join(d.Path, LogsDir, "etc_passwd.log") {
			t.Errorf("LogPath escapes the logs directory: %s", d.LogPath("../../etc/passwd"))
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("reports root holds %d entries, want two runs and latest (no temporary links)", len(entries))
	}
	if _, err := NewRunDir(root, "20260101-000000-a-s1"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("reusing a run ID: err = %v, want already exists", err)
	}
	for _, bad := range []string{"", "latest", "../x", "a/b", ".hidden", "a b"} {
		if _, err := NewRunDir(root, bad); err == nil {
			t.Errorf("run ID %q accepted", bad)
		}
	}
	// A real directory named latest is never replaced.
	root2 := t.TempDir()
	if err := os.Mkdir(filepath.Join(root2, LatestLink), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRunDir(root2, "run-1"); err == nil || !strings.Contains(err.Error(), "not a symbolic link") {
		t.Errorf("latest is a directory: err = %v, want not a symbolic link", err)
	}
}

func TestNewRunID(t *testing.T) {
	got := NewRunID("sidekick san/migration", 42, time.Date(2026, 1, 2, 15, 4, 5, 0, time.FixedZone("CET", 3600)))
	if want := "20260102-140405-sidekick-san-migration-s42"; got != want {
		t.Errorf("NewRunID = %q, want %q", got, want)
	}
	if !runIDPattern.MatchString(got) {
		t.Errorf("NewRunID gave %q, which NewRunDir refuses", got)
	}
}

func TestJUnit(t *testing.T) {
	for _, tc := range []struct {
		name             string
		r                *Report
		failures, errors int
		inText           []string
	}{
		{name: "pass", r: sampleReport(false)},
		{name: "fail", r: sampleReport(true), failures: 1, inText: []string{
			"WAL segment", "danger.hiptop.fan@example.org", "zoë.lindqvist@example.org: 15 items: contact/",
			"RPO budget exceeded: 17 acked writes > 0 acked writes", "replay: FIREDRILL_SEED=42",
		}},
		{name: "error", r: &Report{Scenario: "disk-full", Seed: 3, Verdict: Error, Expected: ExpectIntact,
			Reason: "restore: no base backup\x00 in <catalogue>", Command: "firedrill run disk-full --seed 3"}, errors: 1,
			inText: []string{"restore: no base backup"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := JUnit(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			var doc JUnitSuites
			if err := xml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("junit.xml is not well-formed: %v\n%s", err, b)
			}
			if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 1 {
				t.Fatalf("junit has %d suites, want 1 with 1 case", len(doc.Suites))
			}
			s, c := doc.Suites[0], doc.Suites[0].Cases[0]
			if c.Name != tc.r.Scenario || s.Failures != tc.failures || s.Errors != tc.errors || doc.Failures != tc.failures {
				t.Errorf("case %q failures %d errors %d, want %q %d %d", c.Name, s.Failures, s.Errors, tc.r.Scenario, tc.failures, tc.errors)
			}
			if (c.Failure != nil) != (tc.failures == 1) || (c.Error != nil) != (tc.errors == 1) {
				t.Errorf("failure %v error %v, want failure=%v error=%v", c.Failure, c.Error, tc.failures == 1, tc.errors == 1)
			}
			props := map[string]string{}
			for _, p := range s.Properties {
				props[p.Name] = p.Value
			}
			if props["command"] != tc.r.Command || props["seed"] == "" {
				t.Errorf("properties %v lack the seed or the replay command", props)
			}
			var problem string
			if c.Failure != nil {
				problem = c.Failure.Message + "\n" + c.Failure.Text
			}
			if c.Error != nil {
				problem = c.Error.Message + "\n" + c.Error.Text
			}
			for _, want := range tc.inText {
				if !strings.Contains(problem, want) {
					t.Errorf("problem text lacks %q:\n%s", want, problem)
				}
			}
		})
	}
}

func TestLine(t *testing.T) {
	r := &Report{Scenario: "sidekick-san-migration", Seed: 42, Verdict: Pass, Expected: ExpectIntact, Actual: ExpectIntact,
		Users: UserCounts{Total: 1000, Intact: 1000}, RTO: RTO{Seconds: 41.23}}
	if got, want := r.Line("reports/latest/index.html"),
		"PASS sidekick-san-migration seed=42: 1,000/1,000 users intact, 0 acked writes lost, RTO 41.2s -> reports/latest/index.html"; got != want {
		t.Errorf("Line =\n %q, want\n %q", got, want)
	}
	r.Scenario, r.Expected, r.Actual = "sidekick-backup-on-same-san", ExpectLossDetected, ExpectLossDetected
	r.Users = UserCounts{Total: 1000, Damaged: 1000}
	r.RPO.LostAckedWrites = 48213
	r.RTO.Seconds = 252
	if got, want := r.Line(""),
		"PASS sidekick-backup-on-same-san seed=42: loss detected as expected: 0/1,000 users intact, 48,213 acked writes lost, RTO 4m12s"; got != want {
		t.Errorf("Line =\n %q, want\n %q", got, want)
	}
	e := &Report{Scenario: "disk-full", Seed: 9, Verdict: Error, Expected: ExpectIntact, Reason: "start stack:\n  no image"}
	if got, want := e.Line("x.html"), "ERROR disk-full seed=9: start stack: no image -> x.html"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
}

func TestWriteSummary(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSummary(&b, sampleReport(true)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"1,000 total, 997 intact, 3 damaged",
		"48,213 acknowledged, 312 ambiguous, 41 refused",
		"17 acknowledged writes lost, oldest 12.4 s before the disaster  (budget 0 acked writes: EXCEEDED)",
		"replay WAL", "18.2 s",
		"san-migration-copy on san-a at +1:35 for 45.0 s",
		"danger.hiptop.fan@example.org",
		"FAIL  expected intact, found loss-detected: 3 of 1,000 users lost data",
		"replay: FIREDRILL_SEED=42 firedrill run",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestThroughputBins(t *testing.T) {
	start := time.Unix(1000, 0)
	tp, err := NewThroughput(start, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	tp.Add(start.Add(-time.Second), 1, 0, 0) // before the start: first bin
	tp.Add(start.Add(100*time.Millisecond), 2, 1, 0)
	tp.Add(start.Add(1600*time.Millisecond), 3, 0, 1)
	want := []Sample{{T: 0, Acked: 6, Failed: 2}, {T: 0.5}, {T: 1}, {T: 1.5, Acked: 6, Ambiguous: 2}}
	if got := tp.Samples(); !reflect.DeepEqual(got, want) {
		t.Errorf("samples = %+v, want %+v", got, want)
	}
	if _, err := NewThroughput(start, 0); err == nil {
		t.Error("zero bin width accepted")
	}
}

func TestSetTimeline(t *testing.T) {
	t0 := time.Unix(0, 0)
	s := func(c timeline.Category, name string, a, b int) timeline.Entry {
		return timeline.Entry{Category: c, Name: name, Start: t0.Add(time.Duration(a) * time.Second), End: t0.Add(time.Duration(b) * time.Second)}
	}
	var r Report
	r.SetTimeline([]timeline.Entry{
		s(timeline.Stage, "load", 0, 10), s(timeline.Fault, "kill-9", 5, 6),
		s(timeline.Restore, "provision", 20, 22), s(timeline.Restore, "replay", 23, 30), s(timeline.Backup, "base", 1, 2),
	})
	if len(r.Faults) != 1 || r.Faults[0].Name != "kill-9" || len(r.Spans) != 2 || len(r.RTO.Phases) != 2 {
		t.Fatalf("faults %v spans %v phases %v", r.Faults, r.Spans, r.RTO.Phases)
	}
	if r.RTO.Seconds != 10 || r.RTO.Phases[1].Seconds != 7 {
		t.Errorf("RTO %v s, replay %v s; want 10 s (first start to last end) and 7 s", r.RTO.Seconds, r.RTO.Phases[1].Seconds)
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{commas(0), "0"}, {commas(999), "999"}, {commas(1000), "1,000"}, {commas(-1234567), "-1,234,567"},
		{seconds(0.421), "0.42 s"}, {seconds(41.23), "41.2 s"}, {seconds(252), "4 min 12 s"}, {seconds(7500), "2 h 05 min"},
		{bytesIEC(812), "812 B"}, {bytesIEC(2_413_207), "2.3 MiB"}, {clock(95), "1:35"}, {clock(3725), "1:02:05"},
		{percent(997, 1000), "99.7"}, {percent(9999, 10000), "99.9"}, {percent(1000, 1000), "100"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestLimitKeepsDamagedUsersFirst(t *testing.T) {
	r := &Report{UserVerdicts: []UserVerdict{
		{User: "a", Status: StatusIntact},
		{User: "b", Status: StatusDamaged, Items: make([]ItemProblem, 5), MoreItems: 1},
		{User: "c", Status: StatusDamaged, Items: make([]ItemProblem, 2)},
	}}
	r.Limit(2, 3)
	if len(r.UserVerdicts) != 2 || r.UserVerdicts[0].User != "b" || r.UserVerdicts[1].User != "c" {
		t.Fatalf("verdicts = %+v, want b and c", r.UserVerdicts)
	}
	if b := r.UserVerdicts[0]; len(b.Items) != 3 || b.MoreItems != 3 {
		t.Errorf("b keeps %d items and %d more, want 3 and 3", len(b.Items), b.MoreItems)
	}
}

func TestNotCoveredUsersAreNeitherIntactNorDamaged(t *testing.T) {
	r := &Report{Scenario: "radicale-staging", Verdict: Fail, Reason: "not covered: photo", Expected: ExpectIntact, Actual: FoundUnknown,
		Users:      UserCounts{Total: 3, Intact: 1, NotCovered: 2},
		NotCovered: []string{"photo", "appdata"},
		UserVerdicts: []UserVerdict{
			{User: "anna", Status: StatusNotCovered, NotCovered: []string{"photo"}},
			{User: "bert", Status: StatusIntact},
			{User: "carl", Status: StatusNotCovered, NotCovered: []string{"photo", "appdata"}},
		}}
	r.Verdict, r.Actual = Pass, ExpectIntact // judged, with nothing damaged
	if got, want := r.Headline(), "No damage found in 3 users, but 2 have items of kinds the server does not support (photo and appdata): those were not verified."; got != want {
		t.Errorf("Headline = %q, want %q", got, want)
	}
	doc := parse(t, render(t, r))
	if n := len(find(doc, hasClass("details", "user"))); n != 0 {
		t.Errorf("%d not-covered users listed as damaged", n)
	}
	nc := find(doc, hasClass("details", "nc"))
	if len(nc) != 1 || !strings.Contains(text(nc[0]), "2 not fully covered") || !strings.Contains(text(nc[0]), "carl (photo, appdata)") {
		t.Errorf("not-covered group missing or wrong: %d groups", len(nc))
	}
	if !strings.Contains(text(doc), "Not covered: photo, appdata.") {
		t.Error("page lacks the not-covered note")
	}
}

func TestAmbiguousItemShowsEveryAllowedVersion(t *testing.T) {
	r := sampleReport(true)
	doc := parse(t, render(t, r))
	users := find(doc, hasClass("details", "user"))
	got := text(users[2])
	for _, want := range []string{" · 912 B", "or ", " · 930 B", "acknowledged at +1:12", "deleted"} {
		if !strings.Contains(got, want) {
			t.Errorf("user0815's drill-down lacks %q: %s", want, got)
		}
	}
}
