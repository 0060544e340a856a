package canon

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/firedrill/firedrill/harness/model"
)

// maxShown is how many bytes of a value a difference line shows.
const maxShown = 60

// Diff explains how got differs from want, one line per property, e.g.
//
//	TEL;TYPE=cell: "+1 555 0100" -> missing
//	VEVENT[RECURRENCE-ID=20240108T100000Z]: SUMMARY: "Standup" -> "Stand-up"
//
// For semantic kinds want and got may be raw or canonical bodies; differences
// that canonicalisation removes are not reported. For photos and app data it
// reports sizes and the first differing byte. Diff returns nil when the two
// are equal, and a line naming the problem when either does not parse.
func Diff(kind model.Kind, want, got []byte) []string {
	wd, werr := parseKind(kind, want)
	gd, gerr := parseKind(kind, got)
	switch {
	case werr != nil || gerr != nil:
		var out []string
		if werr != nil {
			out = append(out, "want: "+werr.Error())
		}
		if gerr != nil {
			out = append(out, "got: "+gerr.Error())
		}
		return out
	case wd == nil:
		return diffBytes(want, got)
	}
	wc, gc := flatten(wd), flatten(gd)
	gotByPath := make(map[string]flatComp, len(gc))
	for _, fc := range gc {
		gotByPath[fc.path] = fc
	}
	var out []string
	seen := map[string]bool{}
	for _, fc := range wc {
		seen[fc.path] = true
		g, ok := gotByPath[fc.path]
		if !ok {
			out = append(out, prefix(fc.path)+"component missing")
			continue
		}
		out = append(out, diffLines(prefix(fc.path), fc.lines, g.lines)...)
	}
	for _, fc := range gc {
		if !seen[fc.path] {
			out = append(out, prefix(fc.path)+"unexpected component")
		}
	}
	return out
}

// diffBytes describes how two byte strings differ.
func diffBytes(want, got []byte) []string {
	if bytes.Equal(want, got) {
		return nil
	}
	n := min(len(want), len(got))
	at := n
	for i := 0; i < n; i++ {
		if want[i] != got[i] {
			at = i
			break
		}
	}
	return []string{fmt.Sprintf("bytes: %d -> %d, first difference at offset %d", len(want), len(got), at)}
}

// flatComp is one component of a flattened document: a path naming it and
// its canonical property lines.
type flatComp struct {
	path  string
	lines []string
}

// flatten lists a document's components with stable paths: the component
// name, with its RECURRENCE-ID when it has one and a #n suffix when several
// siblings would share a path.
func flatten(d *doc) []flatComp {
	var out []flatComp
	var walk func(c *ncomp, parent string)
	walk = func(c *ncomp, parent string) {
		count := map[string]int{}
		for _, ch := range c.children {
			p := childPath(parent, ch)
			count[p]++
			if count[p] > 1 {
				p += fmt.Sprintf("#%d", count[p])
			}
			out = append(out, flatComp{path: p, lines: ch.lines})
			walk(ch, p)
		}
	}
	count := map[string]int{}
	for _, c := range d.comps {
		p := c.name
		count[p]++
		if count[p] > 1 {
			p += fmt.Sprintf("#%d", count[p])
		}
		out = append(out, flatComp{path: p, lines: c.lines})
		if c.name == "VCALENDAR" {
			p = "" // calendar children are named without the VCALENDAR prefix
		}
		walk(c, p)
	}
	return out
}

// childPath names a child component under parent.
func childPath(parent string, c *ncomp) string {
	p := c.name
	for _, l := range c.lines {
		if h, v := splitLine(l); strings.HasPrefix(h, "RECURRENCE-ID") {
			p += "[RECURRENCE-ID=" + v + "]"
			break
		}
	}
	if parent != "" {
		p = parent + "/" + p
	}
	return p
}

// prefix is what a component's difference lines start with; the properties
// of a single vCard or of the VCALENDAR itself carry none beyond its name.
func prefix(path string) string {
	if path == "VCARD" {
		return ""
	}
	return path + ": "
}

// diffLines compares two sorted lists of canonical property lines.
func diffLines(pre string, want, got []string) []string {
	type side struct{ want, got []string }
	byHead := map[string]*side{}
	var heads []string
	add := func(lines []string, isWant bool) {
		for _, l := range lines {
			h, v := splitLine(l)
			s := byHead[h]
			if s == nil {
				s = &side{}
				byHead[h] = s
				heads = append(heads, h)
			}
			if isWant {
				s.want = append(s.want, v)
			} else {
				s.got = append(s.got, v)
			}
		}
	}
	add(want, true)
	add(got, false)
	var out []string
	for _, h := range heads {
		s := byHead[h]
		w, g := minus(s.want, s.got), minus(s.got, s.want)
		for len(w) > 0 && len(g) > 0 {
			sw, sg := showPair(w[0], g[0])
			out = append(out, fmt.Sprintf("%s%s: %s -> %s", pre, h, sw, sg))
			w, g = w[1:], g[1:]
		}
		for _, v := range w {
			out = append(out, fmt.Sprintf("%s%s: %s -> missing", pre, h, show(v)))
		}
		for _, v := range g {
			out = append(out, fmt.Sprintf("%s%s: missing -> %s", pre, h, show(v)))
		}
	}
	return out
}

// minus returns the values of a not matched by an equal value of b, as multisets.
func minus(a, b []string) []string {
	left := map[string]int{}
	for _, v := range b {
		left[v]++
	}
	var out []string
	for _, v := range a {
		if left[v] > 0 {
			left[v]--
			continue
		}
		out = append(out, v)
	}
	return out
}

// splitLine splits a canonical line into its head (group, name, parameters)
// and its value at the first ':' outside a quoted parameter value.
func splitLine(l string) (head, value string) {
	quoted := false
	for i := 0; i < len(l); i++ {
		switch l[i] {
		case '"':
			quoted = !quoted
		case ':':
			if !quoted {
				return l[:i], l[i+1:]
			}
		}
	}
	return l, ""
}

// show quotes a canonical value for a difference line, shortening long ones
// to their start.
func show(v string) string { return showAt(v, 0) }

// showAt quotes a canonical value, shortened to a window starting a little
// before byte offset at when it is long. The value keeps its canonical
// escaping (\\, \n, \;); control characters show as \xNN.
func showAt(v string, at int) string {
	if len(v) <= maxShown {
		return quote(v)
	}
	start := max(0, min(at-maxShown/3, len(v)-maxShown))
	for start > 0 && !utf8.RuneStart(v[start]) {
		start--
	}
	end := min(len(v), start+maxShown)
	for end < len(v) && !utf8.RuneStart(v[end]) {
		end--
	}
	out := quote(v[start:end])
	if start > 0 {
		out = "..." + out
	}
	if end < len(v) {
		out += "..."
	}
	return out + fmt.Sprintf(" (%d bytes)", len(v))
}

// showPair quotes two differing values, each shortened around the first byte
// where they differ.
func showPair(a, b string) (string, string) {
	at := 0
	for at < len(a) && at < len(b) && a[at] == b[at] {
		at++
	}
	return showAt(a, at), showAt(b, at)
}

// quote wraps a value in double quotes, writing control characters as \xNN.
func quote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, `\x%02x`, c)
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
