package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

//go:embed index.html.tmpl
var pageTemplate string

// The page shows at most this many damaged users, and this many items each;
// report.json holds the rest.
const (
	maxUsersHTML       = 200
	maxItemsHTML       = 50
	maxIntactNamesHTML = 2000
)

var tmpl = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"commas":   commas,
	"commasF":  commasF,
	"seconds":  seconds,
	"bytes":    bytesIEC,
	"f1":       func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"add":      func(a, b int) int { return a + b },
	"problems": func() []string { return Problems },
	"short": func(p string) string {
		return map[string]string{ProblemResurrected: "resurr.", ProblemDuplicate: "dupl.", ProblemUnreadable: "unread.", ProblemRewritten: "rewr."}[p] + map[bool]string{true: p}[len(p) <= 7]
	},
	"maxListed": func() int { return MaxUserVerdicts },
	"upper": func(v Verdict) string {
		return map[Verdict]string{Pass: "PASS", Fail: "FAIL", Error: "ERROR"}[v]
	},
}).Parse(pageTemplate))

// RenderHTML writes r as one self-contained HTML page: inline CSS and SVG, no
// external resources, a little optional JavaScript for filtering.
func RenderHTML(w io.Writer, r *Report) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	if err := tmpl.Execute(w, newPage(r)); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	return nil
}

// page is what the template sees.
type page struct {
	R           *Report
	Class       string // pass, fail, error
	Headline    string
	Outcome     string
	ExpectText  string
	FoundText   string
	Date        string
	Duration    string
	Tiles       []tile
	Chart       *chart
	RTOBar      *rtoBar
	Faults      []faultRow
	Users       []userRow
	MoreUsers   int
	Rewritten   []userRow // users with only server rewrites
	MoreRW      int
	Verdicts    []verdictRow
	Kinds       []kindRow
	Canary      *canaryView
	Listed      int // users named anywhere on the page, for the search
	Intact      int
	IntactNames []string
	MoreIntact  int
	NotCovered  []string // names of users not fully covered
	MoreNC      int
	Budgets     []budgetRow
	Env         [][2]string
}

type tile struct {
	Label, Value, Sub, Class string
}

type faultRow struct {
	Name, Target, From, To, Duration, Detail string
}

type budgetRow struct {
	Name, Limit, Actual string
	Met                 bool
}

type userRow struct {
	User, Status, Reason, First string
	Chips                       []chip // damaged items by problem
	Total                       int
	Items                       []itemRow
	More                        int
}

type chip struct {
	Problem string
	N       int
}

type itemRow struct {
	Key, Kind, Problem, Owner string
	Expected                  []string // the allowed versions, any of which would do
	Got                       string
	ExpectedTitle, GotTitle   string
	OwnerKey, Acked           string
	WantColl                  string   // where the item was written
	GotColls                  []string // where the server had it
	Detail                    []string
}

func newPage(r *Report) *page {
	p := &page{
		R:        r,
		Class:    string(r.Verdict),
		Headline: r.Headline(),
		Outcome:  r.Outcome(),
		ExpectText: map[Expectation]string{
			ExpectIntact: "every user intact", ExpectLossDetected: "the loss detected",
		}[r.Expected],
	}
	switch {
	case r.Verdict == Error || r.Actual == FoundUnknown || r.Actual == "":
		p.FoundText = "nothing: the data was not judged"
	case r.Users.Damaged == 0 && r.Users.Rewritten > 0:
		p.FoundText = "every user's data back, " + plural(r.Users.Rewritten, "user", "users") + " with server rewrites"
	case r.Users.Damaged == 0:
		p.FoundText = "every user intact"
	default:
		p.FoundText = plural(r.Users.Damaged, "user", "users") + " damaged"
	}
	if !r.Started.IsZero() {
		p.Date = r.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if d := r.Duration(); d > 0 {
		p.Duration = seconds(d.Seconds())
	}
	p.Tiles = tiles(r)
	p.Chart = newChart(r)
	p.RTOBar = newRTOBar(r)
	for _, f := range r.Faults {
		row := faultRow{Name: f.Name, Target: f.Target, Detail: f.Detail, From: offsetClock(r, f.Start), To: "still open"}
		if !f.End.IsZero() {
			row.To = offsetClock(r, f.End)
			row.Duration = seconds(f.Duration().Seconds())
		}
		p.Faults = append(p.Faults, row)
	}
	for _, b := range r.Budgets {
		p.Budgets = append(p.Budgets, budgetRow{
			Name: budgetName(b.Name), Limit: budgetValue(b.Limit, b.Unit), Actual: budgetValue(b.Actual, b.Unit), Met: b.Met,
		})
	}
	damaged := r.damagedVerdicts()
	for i, u := range damaged {
		if i == maxUsersHTML {
			p.MoreUsers = len(damaged) - i
			break
		}
		p.Users = append(p.Users, newUserRow(r, u))
	}
	if n := r.Users.Damaged + r.Users.Unknown - len(damaged); n > 0 {
		p.MoreUsers += n // counted but not listed
	}
	for _, u := range r.UserVerdicts {
		if u.Status == StatusRewritten {
			if len(p.Rewritten) == maxUsersHTML {
				p.MoreRW++
				continue
			}
			p.Rewritten = append(p.Rewritten, newUserRow(r, u))
		}
	}
	if n := r.Users.Rewritten - len(p.Rewritten) - p.MoreRW; n > 0 {
		p.MoreRW += n
	}
	p.Verdicts, p.Kinds, p.Canary = verdictRows(r), kindRows(r), newCanaryView(r)
	p.Intact = r.Users.Intact
	for _, name := range r.IntactSample {
		if len(p.IntactNames) < maxIntactNamesHTML {
			p.IntactNames = append(p.IntactNames, name)
		}
	}
	for _, u := range r.UserVerdicts {
		if u.Status == StatusIntact {
			if len(p.IntactNames) == maxIntactNamesHTML {
				p.MoreIntact++
				continue
			}
			p.IntactNames = append(p.IntactNames, u.User)
		}
	}
	for _, u := range r.UserVerdicts {
		if u.Status == StatusNotCovered {
			if len(p.NotCovered) == maxIntactNamesHTML {
				p.MoreNC++
				continue
			}
			name := u.User
			if len(u.NotCovered) > 0 {
				name += " (" + strings.Join(u.NotCovered, ", ") + ")"
			}
			p.NotCovered = append(p.NotCovered, name)
		}
	}
	if n := r.Users.NotCovered - len(p.NotCovered) - p.MoreNC; n > 0 {
		p.MoreNC += n
	}
	if len(p.IntactNames) > 0 {
		p.MoreIntact = max(p.MoreIntact, p.Intact-len(p.IntactNames))
	}
	p.Listed = len(p.Users) + len(p.Rewritten) + len(p.IntactNames) + len(p.NotCovered)
	for _, k := range sortedKeys(r.Environment) {
		p.Env = append(p.Env, [2]string{k, r.Environment[k]})
	}
	return p
}

func newUserRow(r *Report, u UserVerdict) userRow {
	row := userRow{User: u.User, Status: u.Status, Reason: u.Reason, More: u.MoreItems}
	counts := u.countProblems()
	for _, pr := range Problems {
		if n := counts[pr]; n > 0 {
			row.Chips = append(row.Chips, chip{Problem: pr, N: n})
			row.Total += n
		}
	}
	row.Total += u.MoreItems
	switch {
	case u.Reason != "":
		row.First = u.Reason
	case len(u.Items) > 0:
		row.First = u.Items[0].Key + " " + u.Items[0].Problem
	}
	for i, it := range u.Items {
		if i == maxItemsHTML {
			row.More += len(u.Items) - i
			break
		}
		ir := itemRow{Key: it.Key, Kind: it.Kind, Problem: it.Problem, Owner: it.Owner, OwnerKey: it.OwnerKey, Detail: it.Detail,
			WantColl: it.WantCollection, GotColls: it.GotCollections}
		ir.Expected, ir.ExpectedTitle = expectedVersions(it.Expected, it.Problem == ProblemResurrected)
		ir.Got, ir.GotTitle = version(it.Got, false)
		if !it.AckedAt.IsZero() {
			ir.Acked = offsetClock(r, it.AckedAt)
		}
		row.Items = append(row.Items, ir)
	}
	return row
}

// expectedVersions formats the states the ledger allows.
func expectedVersions(vs []Version, deleted bool) (short []string, title string) {
	if len(vs) == 0 {
		s, t := version(nil, deleted)
		return []string{s}, t
	}
	var titles []string
	for i := range vs {
		s, t := version(&vs[i], deleted)
		short, titles = append(short, s), append(titles, t)
	}
	return short, strings.Join(titles, " or ")
}

// version formats an item version as "3f2a9c01… · 1.2 KiB".
func version(v *Version, deleted bool) (short, title string) {
	if v == nil || v.Absent {
		if deleted {
			return "deleted", "the ledger says this item was deleted"
		}
		return "absent", "no such item"
	}
	if v.Digest == "" {
		return bytesIEC(v.Size), ""
	}
	return shortDigest(v.Digest) + " · " + bytesIEC(v.Size), v.Digest + " (" + commas(int(v.Size)) + " bytes)"
}

func tiles(r *Report) []tile {
	judged := r.Verdict != Error && r.Actual != FoundUnknown
	var t []tile
	intact := tile{Label: "Users intact", Value: commas(r.Users.Intact), Sub: "of " + commas(r.Users.Total)}
	if r.Users.Total > 0 {
		intact.Sub += fmt.Sprintf(" (%s%%)", percent(r.Users.Intact, r.Users.Total))
	}
	lossExpected := r.Expected == ExpectLossDetected
	switch {
	case r.Users.Damaged > 0 && lossExpected:
		intact.Class = "expected"
	case r.Users.Damaged > 0:
		intact.Class = "bad"
	case r.Users.Total > 0:
		intact.Class = "good"
	}
	damaged := tile{Label: "Users damaged", Value: commas(r.Users.Damaged), Class: "good"}
	if r.Users.Damaged > 0 {
		damaged.Class = "bad"
		damaged.Sub = joinAnd(r.DamageParts()[:min(2, len(r.DamageParts()))])
	} else {
		damaged.Sub = "no item lost, changed or misplaced"
	}
	if r.Users.Damaged > 0 && lossExpected {
		damaged.Class = "expected"
		damaged.Sub = "loss detected, as expected"
	}
	rpo := tile{Label: "Writes lost (RPO)", Value: commas(r.RPO.LostAckedWrites), Class: "good",
		Sub: "of " + commas(r.Items.Acked) + " acknowledged"}
	if r.RPO.LostAckedWrites > 0 {
		rpo.Class = "bad"
		rpo.Sub += ", oldest " + seconds(r.RPO.Seconds) + " before the disaster"
	}
	if b, ok := r.budget("rpo"); ok {
		rpo.Sub += " · budget " + budgetShort(b)
		if !b.Met {
			rpo.Class = "bad"
		}
	}
	if r.RPO.LostAckedWrites > 0 && lossExpected {
		rpo.Class = "expected"
	}
	rto := tile{Label: "Recovery time (RTO)", Value: seconds(r.RTO.Seconds)}
	if n := len(r.RTO.Phases); n > 0 {
		rto.Sub = plural(n, "phase", "phases")
	}
	if b, ok := r.budget("rto"); ok {
		rto.Sub = strings.Join(nonEmpty(rto.Sub, "budget "+budgetShort(b)), " · ")
		rto.Class = "good"
		if !b.Met {
			rto.Class = "bad"
		}
	}
	if r.RTO.Seconds == 0 && len(r.RTO.Phases) == 0 {
		rto.Value, rto.Sub = "–", "no restore was timed"
	}
	if !judged {
		intact.Value, intact.Sub = "–", "not judged"
		damaged.Value, damaged.Sub, damaged.Class = "–", "not judged", ""
		rpo.Value, rpo.Sub, rpo.Class = "–", "not judged", ""
	}
	t = append(t, intact, damaged, rpo, rto)
	writes := tile{Label: "Writes", Value: commas(r.Items.Acked), Sub: "acknowledged"}
	if r.Items.Ambiguous > 0 || r.Items.Failed > 0 {
		writes.Sub += "; " + joinAnd(nonEmpty(
			ifPos(r.Items.Ambiguous, commas(r.Items.Ambiguous)+" ambiguous"),
			ifPos(r.Items.Failed, commas(r.Items.Failed)+" refused")))
	}
	return append(t, writes)
}

func (r *Report) budget(name string) (Budget, bool) {
	for _, b := range r.Budgets {
		if b.Name == name {
			return b, true
		}
	}
	return Budget{}, false
}

func budgetName(n string) string {
	switch n {
	case "rpo":
		return "RPO"
	case "rto":
		return "RTO"
	}
	return n
}

// budgetShort formats a budget's limit without its unit unless it is time.
func budgetShort(b Budget) string {
	if b.Unit == "s" {
		return seconds(b.Limit)
	}
	return commasF(b.Limit)
}

func budgetValue(v float64, unit string) string {
	if unit == "s" {
		return seconds(v)
	}
	return commasF(v) + " " + unit
}

func percent(n, total int) string {
	p := 100 * float64(n) / float64(total)
	if n != total && p > 99.9 {
		return "99.9"
	}
	if p == math.Trunc(p) {
		return strconv.Itoa(int(p))
	}
	return strconv.FormatFloat(p, 'f', 1, 64)
}

func ifPos(n int, s string) string {
	if n > 0 {
		return s
	}
	return ""
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func offsetClock(r *Report, t time.Time) string {
	if r.Started.IsZero() {
		return t.UTC().Format("15:04:05")
	}
	return "+" + clock(t.Sub(r.Started).Seconds())
}
