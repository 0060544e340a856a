package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// sampleCanary is a canary that caught everything, or missed one damage.
func sampleCanary(missed string) *Canary {
	c := &Canary{}
	for i, d := range []string{"lost", "changed_property", "changed_byte", "resurrected", "foreign", "moved", "duplicate"} {
		p := CanaryPlant{Damage: d, Class: strings.SplitN(d, "_", 2)[0], User: fmt.Sprintf("user%07d", i%2), Key: fmt.Sprintf("contact/%d.vcf", i), Planted: true, Caught: true, Detail: "caught"}
		if d == missed {
			p.Caught, p.Detail = false, "moved contact/5.vcf from /dav/u/contacts/ to /dav/u/contacts-x/; the checker reported nothing for it"
		}
		c.Plants = append(c.Plants, p)
		c.Planted++
		if p.Caught {
			c.Caught++
		}
	}
	return c
}

// sampleMillionReport is a run at a million users: 1,234 damaged (as the
// verifier hands them over: bounded), 40 rewritten, 1,000 not covered, kinds,
// canary, notes, and an intact sample.
func sampleMillionReport() *Report {
	rng := rand.New(rand.NewPCG(1, 1))
	r := sampleReport(false)
	r.Scenario, r.Profile = "million-users-at-rest", "large"
	r.RunID = NewRunID(r.Scenario, 42, sampleStart)
	r.Verdict, r.Actual = Fail, ExpectLossDetected
	r.Reason = "1,234 of 1,000,000 users damaged"
	r.Users = UserCounts{Total: 1_000_000, Damaged: 1234, Rewritten: 40, NotCovered: 1000, Intact: 1_000_000 - 1234 - 40 - 1000}
	r.Items = ItemCounts{Checked: 12_000_000, Acked: 13_500_000, Lost: 2000, Changed: 30, Moved: 12, Duplicate: 3, Rewritten: 44, NotCovered: 1000, Failed: 1000}
	r.RPO = RPO{LostAckedWrites: 2000, Seconds: 3.5}
	r.UserVerdicts = nil
	for u := range 1234 {
		v := UserVerdict{User: fmt.Sprintf("user%07d", u*797%1_000_000), Status: StatusDamaged}
		for i := range 1 + rng.IntN(3) {
			p := []string{ProblemLost, ProblemLost, ProblemChanged, ProblemMoved, ProblemDuplicate}[rng.IntN(5)]
			it := ItemProblem{Kind: "contact", Key: fmt.Sprintf("contact/%08x-%d.vcf", rng.Uint32(), i), Problem: p,
				Expected: []Version{{Digest: fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()), Size: 700}}}
			if p == ProblemMoved || p == ProblemDuplicate {
				it.WantCollection = "/dav/" + v.User + "/contacts/default/"
				it.GotCollections = []string{"/dav/" + v.User + "/contacts/work/"}
			}
			v.Items = append(v.Items, it)
		}
		r.UserVerdicts = append(r.UserVerdicts, v)
	}
	for u := range 40 {
		r.UserVerdicts = append(r.UserVerdicts, UserVerdict{User: fmt.Sprintf("rw%07d", u), Status: StatusRewritten, Items: []ItemProblem{{
			Kind: "event", Key: "event/x.ics", Problem: ProblemRewritten, Detail: []string{"rewritten by the server", "DURATION: PT60M -> PT1H"}}}})
	}
	for u := range 1000 {
		r.UserVerdicts = append(r.UserVerdicts, UserVerdict{User: fmt.Sprintf("nc%07d", u), Status: StatusNotCovered, NotCovered: []string{"photo"},
			Reason: "not covered: photo: 1000 writes refused, none acknowledged in the whole load"})
	}
	r.IntactSample = []string{"user0000001", "user0000002", "user0000003"}
	r.Kinds = []KindSummary{
		{Kind: "contact", Covered: true, Users: 1_000_000, Writes: 8_000_000, AckedWrites: 8_000_000, Items: 7_000_000, Lost: 2000, Changed: 30, Moved: 12, Duplicate: 3},
		{Kind: "event", Covered: true, Users: 1_000_000, Writes: 5_500_000, AckedWrites: 5_500_000, Items: 5_000_000, Rewritten: 44},
		{Kind: "photo", Covered: false, Users: 1000, Writes: 1000, Refused: 1000, Reason: "1000 writes refused, none acknowledged", NotCovered: 1000},
	}
	r.NotCovered = []string{"photo"}
	r.Canary = sampleCanary("")
	r.Notes = []string{"collections not compared for 10 present items: the ledger records no collection for them"}
	return r
}

// TestMillionUserReport: at a million users the page and report.json stay
// small, list a bounded set of users, and carry the summaries by kind and by
// verdict class, the canary and a search over the listed names.
func TestMillionUserReport(t *testing.T) {
	d, err := NewRunDir(t.TempDir(), "million")
	if err != nil {
		t.Fatal(err)
	}
	r := sampleMillionReport()
	if err := d.Write(r); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(d.HTMLPath())
	if err != nil {
		t.Fatal(err)
	}
	if len(page) > 2<<20 {
		t.Errorf("index.html is %d bytes for a million users", len(page))
	}
	doc := parse(t, page)
	checkSelfContained(t, doc)
	if n := len(find(doc, tag("tr"))); n > 2000 {
		t.Errorf("page has %d table rows", n)
	}
	if n := len(find(doc, hasClass("details", "user"))); n != maxUsersHTML+40 {
		t.Errorf("page lists %d users in detail, want %d damaged and 40 rewritten", n, maxUsersHTML)
	}
	all := text(doc)
	for _, want := range []string{
		"… and 1,034 more damaged users, counted but not listed here",
		"Verdicts by class", "By kind of item",
		"Canary: 7 of 7 planted damages caught",
		"Notes", "collections not compared for 10 present items",
		"40 with items rewritten by the server", "DURATION: PT60M -> PT1H",
		"written to /dav/", "found in /dav/",
		"user0000003",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	rows := tableRows(doc, "verdicts")
	for _, want := range []string{"intact|997,726|", "rewritten|40|", "damaged|1,234|", "not_covered|1,000|"} {
		if !slices.ContainsFunc(rows, func(r string) bool { return strings.HasPrefix(r, want) }) {
			t.Errorf("verdict table %q lacks a row %q", rows, want)
		}
	}
	kinds := tableRows(doc, "kinds")
	if len(kinds) != 3 || !strings.HasPrefix(kinds[0], "contact|covered|8,000,000|8,000,000|0|0|7,000,000|2,000|30|0|0|12|3|0|0") ||
		!strings.HasPrefix(kinds[2], "photo|not covered1000 writes refused, none acknowledged|") {
		t.Errorf("kind table %q", kinds)
	}
	search := find(doc, func(n *html.Node) bool { return n.Data == "input" && attr(n, "id") == "filter" })
	if len(search) != 1 || !strings.Contains(attr(search[0], "placeholder"), "Find a user by name") {
		t.Errorf("no user search on the page")
	}
	b, err := os.ReadFile(d.ReportPath())
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.UserVerdicts) > MaxUserVerdicts || back.Canary == nil || len(back.Kinds) != 3 || back.Users.Rewritten != 40 || back.Items.Moved != 12 {
		t.Errorf("report.json: %d verdicts, canary %v, %d kinds, users %+v", len(back.UserVerdicts), back.Canary, len(back.Kinds), back.Users)
	}
	if len(b) > 4<<20 {
		t.Errorf("report.json is %d bytes", len(b))
	}
	line := r.Line("")
	if !strings.Contains(line, "997,726/1,000,000 users intact (+40 rewritten by the server), 1,000 not covered") || !strings.Contains(line, "canary 7/7 caught") {
		t.Errorf("Line = %q", line)
	}
	var sum bytes.Buffer
	if err := WriteSummary(&sum, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"12 moved, 3 duplicate", "44 items rewritten by the server", "7 of 7 planted damages caught", "not covered  photo: 1000 writes refused"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}

// tableRows returns the body rows of the table with a class, cells joined by "|".
func tableRows(doc *html.Node, class string) []string {
	var out []string
	for _, tb := range find(doc, hasClass("table", class)) {
		for _, tr := range find(tb, tag("tr")) {
			if tr.Parent.Data != "tbody" {
				continue
			}
			var cells []string
			for _, td := range find(tr, tag("td")) {
				cells = append(cells, text(td))
			}
			out = append(out, strings.Join(cells, "|"))
		}
	}
	return out
}

// TestBrokenCanaryReport: a verifier that missed planted damage is an error
// everywhere it is shown.
func TestBrokenCanaryReport(t *testing.T) {
	r := sampleMillionReport()
	r.Canary = sampleCanary("moved")
	r.Verdict, r.Actual = Error, FoundUnknown
	r.Reason = "the verifier could not decide: the verifier is broken"
	doc := parse(t, render(t, r))
	all := text(doc)
	for _, want := range []string{"ERROR", "The verifier is broken:", "6 of 7 planted damages caught; MISSED: moved in user0000001", "✗ MISSED",
		"Nothing is known about users' data: the verifier is broken, it missed 1 instance"} {
		if !strings.Contains(all, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	x, err := JUnit(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc2 JUnitSuites
	if err := xml.Unmarshal(x, &doc2); err != nil {
		t.Fatal(err)
	}
	c := doc2.Suites[0].Cases[0]
	if c.Error == nil || c.Error.Type != "broken-verifier" || !strings.Contains(c.Error.Text, "MISSED: moved") {
		t.Errorf("junit error = %+v", c.Error)
	}
	props := map[string]string{}
	for _, p := range doc2.Suites[0].Properties {
		props[p.Name] = p.Value
	}
	if props["canary.planted"] != "7" || props["canary.caught"] != "6" || props["users.rewritten"] != "40" || props["not_covered.photo"] == "" {
		t.Errorf("junit properties %v", props)
	}
	if line := r.Line(""); !strings.HasPrefix(line, "ERROR") || !strings.Contains(line, "canary 6/7 caught") {
		t.Errorf("Line = %q", line)
	}
}

// TestHeadlineOfAnIncompleteCheck: a run the verifier could not decide for
// every user says so, not that it stopped before it was judged.
func TestHeadlineOfAnIncompleteCheck(t *testing.T) {
	r := &Report{Scenario: "crash-mid-sync", Verdict: Error, Actual: FoundUnknown, Expected: ExpectIntact, Reason: "the verifier could not decide",
		Users: UserCounts{Total: 10, Intact: 5, NotCovered: 5}}
	if got, want := r.Headline(), "Not every user could be judged: 5 of 10 users could not be verified in full; no damage was found in the others, but a run cannot pass on what it did not check."; got != want {
		t.Errorf("Headline = %q, want %q", got, want)
	}
	r.Users = UserCounts{}
	if got := r.Headline(); !strings.Contains(got, "the run stopped before it could be judged") {
		t.Errorf("Headline of a run without users = %q", got)
	}
}
