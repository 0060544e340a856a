package report

// The page's charts: the timeline of throughput, faults and restore
// phases, and the RTO as a stacked bar, drawn as inline SVG.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/firedrill/firedrill/harness/timeline"
)

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
