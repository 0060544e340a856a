package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firedrill/firedrill/harness/timeline"
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

// The chart's geometry, in SVG user units.
const (
	chartW      = 1000.0
	chartLeft   = 72.0
	chartRight  = 16.0
	chartTop    = 28.0
	plotH       = 190.0
	laneH       = 18.0
	laneGap     = 6.0
	charW       = 6.4 // approximate advance of an 11-unit sans character
	paletteSize = 6
)

type chart struct {
	W, H, X0, X1, Y0, Y1, LanesY0, LanesY1 float64
	YTicks, XTicks                         []tick
	Area, Acked, Failed, Ambiguous         string
	Bands                                  []rect
	Lanes                                  []lane
	NoSamples                              bool
	HasFailed, HasAmbiguous                bool
}

type tick struct {
	Pos   float64
	Label string
}

type rect struct {
	X, Y, W, H     float64
	Class, Title   string
	Label          string
	LabelX, LabelY float64
	LabelClass     string
}

type lane struct {
	Name string
	Y    float64
	Bars []rect
}

func newChart(r *Report) *chart {
	if len(r.Throughput) == 0 && len(r.Faults) == 0 && len(r.RTO.Phases) == 0 && len(r.Spans) == 0 {
		return nil
	}
	c := &chart{W: chartW, X0: chartLeft, X1: chartW - chartRight, Y0: chartTop, Y1: chartTop + plotH}
	binW := 1.0
	if len(r.Throughput) > 1 {
		binW = r.Throughput[1].T - r.Throughput[0].T
	}
	end := r.Duration().Seconds()
	if n := len(r.Throughput); n > 0 {
		end = max(end, r.Throughput[n-1].T+binW)
	}
	off := func(t time.Time) float64 {
		if r.Started.IsZero() || t.IsZero() {
			return 0
		}
		return t.Sub(r.Started).Seconds()
	}
	phases, _ := phaseEntries(r)
	spans := append(append(append([]timeline.Entry(nil), r.Spans...), r.Faults...), phases...)
	for _, s := range spans {
		end = max(end, off(s.Start), off(s.End))
	}
	if end <= 0 {
		end = 1
	}
	x := func(t float64) float64 { return c.X0 + min(max(t, 0), end)/end*(c.X1-c.X0) }

	// Throughput.
	var top float64
	for _, s := range r.Throughput {
		top = max(top, s.Acked, s.Failed, s.Ambiguous)
		c.HasFailed = c.HasFailed || s.Failed > 0
		c.HasAmbiguous = c.HasAmbiguous || s.Ambiguous > 0
	}
	c.NoSamples = len(r.Throughput) == 0
	step, yMax := niceScale(top, 4)
	y := func(v float64) float64 { return c.Y1 - v/yMax*(c.Y1-c.Y0) }
	for v := 0.0; v <= yMax+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{Pos: y(v), Label: commasF(v)})
	}
	if len(r.Throughput) > 0 {
		line := func(get func(Sample) float64) string {
			b := make([]byte, 0, 16*len(r.Throughput))
			for i, s := range r.Throughput {
				cmd := byte('L')
				if i == 0 {
					cmd = 'M'
				}
				b = fmt.Appendf(b, "%c%.1f %.1f ", cmd, x(s.T+binW/2), y(get(s)))
			}
			return string(b)
		}
		c.Acked = line(func(s Sample) float64 { return s.Acked })
		first, last := r.Throughput[0].T+binW/2, r.Throughput[len(r.Throughput)-1].T+binW/2
		c.Area = fmt.Sprintf("%sL%.1f %.1f L%.1f %.1f Z", c.Acked, x(last), c.Y1, x(first), c.Y1)
		if c.HasFailed {
			c.Failed = line(func(s Sample) float64 { return s.Failed })
		}
		if c.HasAmbiguous {
			c.Ambiguous = line(func(s Sample) float64 { return s.Ambiguous })
		}
	}

	// Lanes: stages, faults, backups, restore phases.
	laneY := c.Y1 + 26
	c.LanesY0 = laneY
	addLane := func(name string, entries []timeline.Entry, classes []string, band bool) {
		if len(entries) == 0 {
			return
		}
		// Bars that overlap in time go on separate rows of the lane.
		type placed struct {
			b   rect
			row int
		}
		var bars []placed
		var rowEnds []float64
		for i, e := range entries {
			x0 := x(off(e.Start))
			x1 := x(end)
			if !e.End.IsZero() {
				x1 = x(off(e.End))
			}
			w := max(x1-x0, 2)
			title := e.Name
			if e.Target != "" {
				title += " on " + e.Target
			}
			title += " from +" + clock(off(e.Start))
			if !e.End.IsZero() {
				title += " for " + seconds(e.Duration().Seconds())
			}
			if e.Detail != "" {
				title += ": " + e.Detail
			}
			row := slices.IndexFunc(rowEnds, func(end float64) bool { return end <= x0+0.5 })
			if row < 0 {
				row = len(rowEnds)
				rowEnds = append(rowEnds, 0)
			}
			rowEnds[row] = x0 + w
			y := laneY + float64(row)*(laneH+2)
			bars = append(bars, placed{rect{X: x0, Y: y, W: w, H: laneH, Class: classes[i], Title: title, Label: e.Name, LabelY: y + laneH/2 + 4}, row})
			if band {
				c.Bands = append(c.Bands, rect{X: x0, Y: c.Y0, W: w, Class: "band " + classes[i], Title: title})
			}
		}
		// Labels go inside a bar when they fit, else after it when nothing
		// follows too closely on the same row; the tooltip always has them.
		l := lane{Name: name, Y: laneY}
		for i := range bars {
			b := &bars[i].b
			tw := float64(utf8.RuneCountInString(b.Label))*charW + 8
			next := c.X1 + chartRight
			for _, o := range bars[i+1:] {
				if o.row == bars[i].row {
					next = o.b.X
					break
				}
			}
			switch {
			case b.W >= tw:
				b.LabelX, b.LabelClass = b.X+4, "in"
			case b.X+b.W+tw <= next:
				b.LabelX, b.LabelClass = b.X+b.W+4, "out"
			default:
				b.Label = ""
			}
			l.Bars = append(l.Bars, *b)
		}
		c.Lanes = append(c.Lanes, l)
		laneY += float64(len(rowEnds))*(laneH+2) - 2 + laneGap
	}
	var stages, backups []timeline.Entry
	for _, s := range r.Spans {
		if s.Category == timeline.Backup {
			backups = append(backups, s)
		} else {
			stages = append(stages, s)
		}
	}
	same := func(n int, class string) []string { return slices.Repeat([]string{class}, n) }
	faults := slices.Clone(r.Faults)
	slices.SortStableFunc(faults, func(a, b timeline.Entry) int { return a.Start.Compare(b.Start) })
	phases, phaseClasses := phaseEntries(r)
	addLane("stages", stages, same(len(stages), "stage"), false)
	addLane("faults", faults, same(len(faults), "fault"), true)
	addLane("backup", backups, same(len(backups), "backup"), false)
	addLane("restore", phases, phaseClasses, true)
	c.LanesY1 = laneY
	for i := range c.Bands {
		c.Bands[i].H = c.LanesY1 - laneGap - c.Y0
	}

	xStep := niceTimeStep(end, 10)
	for t := 0.0; t <= end+xStep/1000; t += xStep {
		c.XTicks = append(c.XTicks, tick{Pos: x(t), Label: clock(t)})
	}
	c.H = c.LanesY1 + 24
	return c
}

// phaseEntries returns the restore phases that carry times, as timeline
// entries, with the colour classes the RTO bar gives them.
func phaseEntries(r *Report) (entries []timeline.Entry, classes []string) {
	for i, p := range r.RTO.Phases {
		if p.Start.IsZero() {
			continue
		}
		entries = append(entries, timeline.Entry{Category: timeline.Restore, Name: p.Name, Start: p.Start, End: p.End, Detail: p.Detail})
		classes = append(classes, phaseClass(i))
	}
	return entries, classes
}

// phaseClass is the colour class of the i-th restore phase.
func phaseClass(i int) string { return "c" + strconv.Itoa(i%paletteSize) }

// niceScale returns a tick step of 1, 2, 2.5 or 5 times a power of ten and the
// top of the axis for values up to top, with about n steps.
func niceScale(top float64, n int) (step, axisMax float64) {
	if top <= 0 || math.IsNaN(top) {
		return 1, float64(n)
	}
	raw := top / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return step, math.Ceil(top/step) * step
}

// niceTimeStep returns a tick step in seconds that gives at most n ticks.
func niceTimeStep(end float64, n int) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400} {
		if end/s <= float64(n) {
			return s
		}
	}
	return math.Ceil(end/float64(n)/86400) * 86400
}

type rtoBar struct {
	Note   string // how the RTO compares with its budget
	W, H   float64
	Segs   []rect
	Budget *rect
	Legend []legendRow
	Total  string
}

type legendRow struct {
	Class, Name, Seconds, Percent, Detail string
}

const (
	rtoW    = 1000.0
	rtoBarH = 34.0
)

func newRTOBar(r *Report) *rtoBar {
	if len(r.RTO.Phases) == 0 {
		return nil
	}
	var sum float64
	for _, p := range r.RTO.Phases {
		sum += max(p.Seconds, 0)
	}
	total := max(sum, r.RTO.Seconds)
	scale := total
	// The budget is drawn as a line on the bar when it is near enough to the
	// RTO to compare; a far larger one would squeeze the phases unreadably.
	b, hasBudget := r.budget("rto")
	hasBudget = hasBudget && (!b.Met || b.Limit <= 1.5*total)
	if hasBudget {
		scale = max(scale, b.Limit)
	}
	if scale <= 0 {
		scale = 1
	}
	bar := &rtoBar{W: rtoW, H: rtoBarH + 22, Total: seconds(total)}
	x := 0.0
	add := func(class, name string, secs float64, detail string) {
		w := secs / scale * rtoW
		s := rect{X: x, Y: 0, W: w, H: rtoBarH, Class: class, Title: name + ": " + seconds(secs), LabelY: rtoBarH/2 + 4}
		text := name + " " + seconds(secs)
		if w >= float64(utf8.RuneCountInString(text))*charW+10 {
			s.Label, s.LabelX = text, x+6
		} else if w >= float64(utf8.RuneCountInString(seconds(secs)))*charW+10 {
			s.Label, s.LabelX = seconds(secs), x+6
		}
		bar.Segs = append(bar.Segs, s)
		pct := ""
		if total > 0 {
			pct = strconv.FormatFloat(100*secs/total, 'f', 0, 64) + "%"
		}
		bar.Legend = append(bar.Legend, legendRow{Class: class, Name: name, Seconds: seconds(secs), Percent: pct, Detail: detail})
		x += w
	}
	for i, p := range r.RTO.Phases {
		add(phaseClass(i), p.Name, max(p.Seconds, 0), p.Detail)
	}
	if gap := r.RTO.Seconds - sum; gap > 0.05*r.RTO.Seconds && gap > 0.5 {
		add("gap", "between phases", gap, "time inside the RTO not covered by a named phase")
	}
	if b, ok := r.budget("rto"); ok {
		bar.Note = "within its budget of " + seconds(b.Limit)
		if !b.Met {
			bar.Note = "over its budget of " + seconds(b.Limit)
		}
	}
	if hasBudget {
		bx := min(b.Limit/scale*rtoW, rtoW-1)
		m := &rect{X: bx, Y: 0, H: rtoBarH + 6, Label: "budget " + seconds(b.Limit), LabelY: rtoBarH + 18, LabelClass: "end"}
		if !b.Met {
			m.Class = "over"
		}
		bar.Budget = m
	}
	return bar
}
