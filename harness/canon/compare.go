package canon

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/firedrill/firedrill/harness/model"
)

// Verdict is what Compare concluded about a served body.
type Verdict uint8

// The verdicts of Compare.
const (
	Intact    Verdict = iota + 1 // same meaning: equal canonical forms
	Rewritten                    // differs only by rewrites the server manages (listed)
	Damaged                      // differs in something the device wrote
	Unknown                      // the written body does not parse: nothing can be said
)

// String names the verdict.
func (v Verdict) String() string {
	switch v {
	case Intact:
		return "intact"
	case Rewritten:
		return "rewritten by the server"
	case Damaged:
		return "damaged"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Comparison is the result of Compare.
type Comparison struct {
	Verdict Verdict
	// Rewrites lists the server-managed differences, e.g.
	// "VEVENT: DTSTAMP rewritten by the server: "20091002T090000Z" -> "20250101T120000Z"".
	// A Damaged comparison lists them too.
	Rewrites []string
	// Damage lists the other differences, in Diff's form.
	Damage []string
	// Reason says why the verdict is Unknown.
	Reason string
}

// Compare compares the body a device wrote (want) with the body a server
// served (got), either raw or canonical. Differences that a server manages
// (see the package doc: time stamps, raised SEQUENCE, scheduling parameters,
// added X- properties and parameters) are listed as Rewrites and alone give
// Rewritten; any other difference gives Damaged. Photos and app data are
// Intact or Damaged byte for byte.
func Compare(kind model.Kind, want, got []byte) Comparison {
	wd, werr := canonicalTree(kind, want)
	if werr != nil {
		return Comparison{Verdict: Unknown, Reason: "the written body does not parse: " + werr.Error()}
	}
	gd, gerr := canonicalTree(kind, got)
	if gerr != nil {
		return Comparison{Verdict: Damaged, Damage: []string{"got: " + gerr.Error()}}
	}
	var c Comparison
	if !kind.Semantic() {
		c.Damage = diffBytes(want, got)
	} else {
		pairComponents(flatten(wd), flatten(gd), func(path string, w, g *flatComp) {
			switch {
			case g == nil:
				c.Damage = append(c.Damage, prefix(path)+"component missing")
			case w == nil:
				c.Damage = append(c.Damage, prefix(path)+"unexpected component")
			default:
				c.compareLines(prefix(path), w.lines, g.lines)
			}
		})
	}
	switch {
	case len(c.Damage) > 0:
		c.Verdict = Damaged
	case len(c.Rewrites) > 0:
		c.Verdict = Rewritten
	default:
		c.Verdict = Intact
	}
	return c
}

// stampProps are the properties a server sets on its own: when the object
// was stamped, created and last modified (RFC 5545 sections 3.8.7.1-3 and
// 3.8.7.2 DTSTAMP, RFC 6350 section 6.7.4 REV).
var stampProps = map[string]bool{"DTSTAMP": true, "LAST-MODIFIED": true, "CREATED": true, "REV": true}

// compareLines classifies the differences between two components' canonical
// lines.
func (c *Comparison) compareLines(pre string, want, got []string) {
	w, g := minus(want, got), minus(got, want)
	if len(w) == 0 && len(g) == 0 {
		return
	}
	byName := func(lines []string) map[string][]cline {
		m := map[string][]cline{}
		for _, l := range lines {
			cl := parseCanonicalLine(l)
			m[cl.name] = append(m[cl.name], cl)
		}
		return m
	}
	wm, gm := byName(w), byName(g)
	var names []string
	for n := range wm {
		names = append(names, n)
	}
	for n := range gm {
		if _, ok := wm[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var damW, damG []string
	for _, n := range names {
		ws, gs := wm[n], gm[n]
		base := n[strings.LastIndexByte(n, '.')+1:]
		switch {
		case stampProps[base]:
			c.stampRewrites(pre, n, ws, gs)
			continue
		case base == "SEQUENCE" && len(ws) == 1 && len(gs) == 1:
			wv, werr := strconv.Atoi(ws[0].value)
			gv, gerr := strconv.Atoi(gs[0].value)
			if werr == nil && gerr == nil && gv > wv {
				c.Rewrites = append(c.Rewrites, fmt.Sprintf("%sSEQUENCE raised by the server: %s -> %s", pre, show(ws[0].value), show(gs[0].value)))
				continue
			}
		case strings.HasPrefix(base, "X-") && len(ws) == 0:
			for _, l := range gs {
				c.Rewrites = append(c.Rewrites, fmt.Sprintf("%s%s added by the server: %s", pre, l.head, show(l.value)))
			}
			continue
		}
		ws, gs = c.paramRewrites(pre, ws, gs)
		for _, l := range ws {
			damW = append(damW, l.line)
		}
		for _, l := range gs {
			damG = append(damG, l.line)
		}
	}
	c.Damage = append(c.Damage, diffLines(pre, damW, damG)...)
}

// stampRewrites lists the changes to a server-managed time stamp.
func (c *Comparison) stampRewrites(pre, name string, ws, gs []cline) {
	for len(ws) > 0 && len(gs) > 0 {
		c.Rewrites = append(c.Rewrites, fmt.Sprintf("%s%s rewritten by the server: %s -> %s", pre, name, show(ws[0].value), show(gs[0].value)))
		ws, gs = ws[1:], gs[1:]
	}
	for _, l := range ws {
		c.Rewrites = append(c.Rewrites, fmt.Sprintf("%s%s removed by the server: %s", pre, name, show(l.value)))
	}
	for _, l := range gs {
		c.Rewrites = append(c.Rewrites, fmt.Sprintf("%s%s added by the server: %s", pre, name, show(l.value)))
	}
}

// paramRewrites pairs lines of one property that have the same value and
// differ only in parameters: those a server manages are listed as rewrites,
// any other as damage naming the parameter. It returns the lines left
// unpaired.
func (c *Comparison) paramRewrites(pre string, ws, gs []cline) ([]cline, []cline) {
	var restW []cline
	used := make([]bool, len(gs))
	for _, wl := range ws {
		j := slices.IndexFunc(gs, func(gl cline) bool { return gl.value == wl.value })
		for j >= 0 && used[j] {
			k := slices.IndexFunc(gs[j+1:], func(gl cline) bool { return gl.value == wl.value })
			if k < 0 {
				j = -1
				break
			}
			j += 1 + k
		}
		if j < 0 {
			restW = append(restW, wl)
			continue
		}
		used[j] = true
		rewrites, damage := serverParams(wl, gs[j])
		for _, n := range rewrites {
			c.Rewrites = append(c.Rewrites, fmt.Sprintf("%s%s %s: %s", pre, wl.name, show(wl.value), n))
		}
		for _, n := range damage {
			c.Damage = append(c.Damage, fmt.Sprintf("%s%s %s: %s", pre, wl.name, show(wl.value), n))
		}
	}
	var restG []cline
	for j, gl := range gs {
		if !used[j] {
			restG = append(restG, gl)
		}
	}
	return restW, restG
}

// serverParams sorts the parameter differences between two lines of the
// same property and value into those a server manages (RFC 6638):
// SCHEDULE-STATUS set, changed or removed, SCHEDULE-FORCE-SEND removed, an
// attendee's PARTSTAT reset to NEEDS-ACTION (with RSVP=TRUE) on a
// reschedule, X- parameters added; and the others, which are damage.
func serverParams(w, g cline) (rewrites, damage []string) {
	names := map[string]bool{}
	for n := range w.params {
		names[n] = true
	}
	for n := range g.params {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	reset := w.name == "ATTENDEE" && g.params["PARTSTAT"] == "NEEDS-ACTION" && w.params["PARTSTAT"] != "NEEDS-ACTION"
	for _, n := range sorted {
		wv, inW := w.params[n]
		gv, inG := g.params[n]
		if inW && inG && wv == gv {
			continue
		}
		switch {
		case n == "SCHEDULE-STATUS" && inG:
			rewrites = append(rewrites, fmt.Sprintf("SCHEDULE-STATUS set by the server: %s", gv))
		case n == "SCHEDULE-STATUS":
			rewrites = append(rewrites, fmt.Sprintf("SCHEDULE-STATUS removed by the server: %s", wv))
		case n == "SCHEDULE-FORCE-SEND" && !inG:
			rewrites = append(rewrites, fmt.Sprintf("SCHEDULE-FORCE-SEND=%s consumed by the server", wv))
		case n == "PARTSTAT" && reset:
			rewrites = append(rewrites, fmt.Sprintf("PARTSTAT reset by the server on a reschedule: %s -> NEEDS-ACTION", wv))
		case n == "RSVP" && reset && gv == "TRUE":
			rewrites = append(rewrites, "RSVP=TRUE set by the server on a reschedule")
		case strings.HasPrefix(n, "X-") && !inW:
			rewrites = append(rewrites, fmt.Sprintf("%s=%s added by the server", n, gv))
		case !inG:
			damage = append(damage, fmt.Sprintf("%s: %s -> missing", n, show(wv)))
		case !inW:
			damage = append(damage, fmt.Sprintf("%s: missing -> %s", n, show(gv)))
		default:
			damage = append(damage, fmt.Sprintf("%s: %s -> %s", n, show(wv), show(gv)))
		}
	}
	return rewrites, damage
}

// cline is a canonical content line taken apart.
type cline struct {
	line, head, name, value string
	params                  map[string]string // name -> values as written, comma-joined
}

// parseCanonicalLine splits a canonical line into its name (with group),
// parameters and value. Canonical lines quote exactly the parameter values
// that hold ';', ':' or ','.
func parseCanonicalLine(l string) cline {
	head, value := splitLine(l)
	cl := cline{line: l, head: head, value: value, params: map[string]string{}}
	parts := splitQuoted(head, ';')
	cl.name = parts[0]
	for _, p := range parts[1:] {
		n, v, _ := strings.Cut(p, "=")
		cl.params[n] = v
	}
	return cl
}

// splitQuoted splits s at every sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
