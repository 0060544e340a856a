package canon

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
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
	wd, werr := canonicalTree(kind, want)
	gd, gerr := canonicalTree(kind, got)
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
	case !kind.Semantic():
		return diffBytes(want, got)
	}
	var out []string
	pairComponents(flatten(wd), flatten(gd), func(path string, w, g *flatComp) {
		switch {
		case g == nil:
			out = append(out, prefix(path)+"component missing")
		case w == nil:
			out = append(out, prefix(path)+"unexpected component")
		default:
			out = append(out, diffLines(prefix(path), w.lines, g.lines)...)
		}
	})
	return out
}

// pairComponents calls f for each component path of want and got, in want's
// order then got's extra ones, with nil for the side that lacks it. The
// components inside one that a side lacks are not reported again.
func pairComponents(wc, gc []flatComp, f func(path string, w, g *flatComp)) {
	gotByPath := make(map[string]*flatComp, len(gc))
	for i := range gc {
		gotByPath[gc[i].path] = &gc[i]
	}
	wantByPath := make(map[string]bool, len(wc))
	for i := range wc {
		wantByPath[wc[i].path] = true
	}
	var lacking []string // paths of components one side lacks
	inside := func(path string) bool {
		for _, l := range lacking {
			if strings.HasPrefix(path, l+"/") {
				return true
			}
		}
		return false
	}
	for i := range wc {
		g := gotByPath[wc[i].path]
		if inside(wc[i].path) {
			continue
		}
		if g == nil {
			lacking = append(lacking, wc[i].path)
		}
		f(wc[i].path, &wc[i], g)
	}
	for i := range gc {
		if !wantByPath[gc[i].path] && !inside(gc[i].path) {
			lacking = append(lacking, gc[i].path)
			f(gc[i].path, nil, &gc[i])
		}
	}
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
func flatten(d []*ncomp) []flatComp {
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
	for _, c := range d {
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

// childPath names a child component under parent: by its RECURRENCE-ID
// when it has one, a VTIMEZONE by its TZID.
func childPath(parent string, c *ncomp) string {
	p := c.name
	for _, l := range c.lines {
		h, v := splitLine(l)
		if name, _, _ := strings.Cut(h, ";"); name == "RECURRENCE-ID" || (name == "TZID" && c.name == "VTIMEZONE") {
			p += "[" + name + "=" + v + "]"
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
// where they differ. When that difference lies in non-ASCII text (a
// look-alike letter, a mark), the second value is followed by the code points
// that differ, e.g. (U+0430 vs U+0061).
func showPair(a, b string) (string, string) {
	at := 0
	for at < len(a) && at < len(b) && a[at] == b[at] {
		at++
	}
	for at > 0 && (at < len(a) && !utf8.RuneStart(a[at]) || at < len(b) && !utf8.RuneStart(b[at])) {
		at--
	}
	sa, sb := showAt(a, at), showAt(b, at)
	ra, _ := utf8.DecodeRuneInString(a[at:])
	rb, _ := utf8.DecodeRuneInString(b[at:])
	if at < len(a) && at < len(b) && (ra >= 0x80 || rb >= 0x80) {
		sb += fmt.Sprintf(" (U+%04X vs U+%04X)", ra, rb)
	}
	return sa, sb
}

// quote wraps a value in double quotes and makes what would not show
// visible: control characters as \r, \t or \xNN, and combining marks,
// format characters (zero-width, direction marks, BOM) and spaces other than
// U+0020 as \u{XXXX}. A backslash in a canonical value is always escaped
// (\\), so these cannot be mistaken for the value's own text.
func quote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == utf8.RuneError:
			b.WriteString(`\u{FFFD}`)
		case r >= 0x80 && invisible(r):
			fmt.Fprintf(&b, `\u{%04X}`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// invisible reports whether r would not show, or would show as something
// else, in a difference line: marks that combine with what precedes them,
// format and private-use characters, and separators other than U+0020.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Co, unicode.Zs, unicode.Zl, unicode.Zp) || !unicode.IsPrint(r) && !unicode.IsGraphic(r)
}
