package canon

import (
	"bytes"
	"fmt"
)

// span is a byte range [lo, hi) of one of the workspace's buffers.
type span struct{ lo, hi int32 }

func (s span) len() int { return int(s.hi - s.lo) }

// rawParam is one parameter of a content line: its name (upper-cased in
// place) and its values, quotes removed, as spans of work.src.
type rawParam struct {
	name       span
	vals, nval int32 // values: work.pvals[vals : vals+nval]
}

// rawProp is one content line: [group.]name *(;param) : value, with the value
// in its escaped wire form. Group and name are upper-cased in place.
type rawProp struct {
	group, name  span // group is empty when absent
	params, npar int32
	value        span
	comp         int32 // the component it belongs to
}

// rawComp is one BEGIN..END block. Its properties are
// work.propIdx[props : props+nprops] and its children
// work.childIdx[children : children+nchild], both in body order.
type rawComp struct {
	name            span
	parent          int32 // -1 for a top-level component
	inTimezone      bool  // a VTIMEZONE or inside one
	props, nprops   int32
	children, nchld int32
}

// parse reads body into the workspace: it unfolds lines (CRLF or LF followed
// by a space or tab), accepts LF or CRLF line ends and a leading UTF-8 BOM,
// and fails on anything that is not a content line or on unbalanced
// BEGIN/END. format names the format in errors ("vcard" or "icalendar").
// A CR that is not part of a line end is kept: it is part of the value.
func (w *work) parse(format string, body []byte) error {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if err := w.unfold(body); err != nil {
		return fmt.Errorf("parse %s: %w", format, err)
	}
	w.stack = w.stack[:0]
	ntop := 0
	for _, l := range w.logical {
		p, err := w.parseLine(l.text)
		if err != nil {
			return fmt.Errorf("parse %s: line %d: %w", format, l.no, err)
		}
		switch name := w.src[p.name.lo:p.name.hi]; {
		case string(name) == "BEGIN":
			cname := w.trimSpan(p.value)
			upper(w.src[cname.lo:cname.hi])
			if !validName(w.src[cname.lo:cname.hi]) {
				return fmt.Errorf("parse %s: line %d: BEGIN with invalid component name %q", format, l.no, w.src[p.value.lo:p.value.hi])
			}
			c := rawComp{name: cname, parent: -1}
			if len(w.stack) > 0 {
				c.parent = w.stack[len(w.stack)-1]
				c.inTimezone = w.comps[c.parent].inTimezone
			} else {
				ntop++
			}
			c.inTimezone = c.inTimezone || string(w.src[cname.lo:cname.hi]) == "VTIMEZONE"
			w.comps = append(w.comps, c)
			w.stack = append(w.stack, int32(len(w.comps)-1))
		case string(name) == "END":
			cname := w.trimSpan(p.value)
			upper(w.src[cname.lo:cname.hi])
			if len(w.stack) == 0 {
				return fmt.Errorf("parse %s: line %d: END:%s without BEGIN", format, l.no, w.src[cname.lo:cname.hi])
			}
			open := w.comps[w.stack[len(w.stack)-1]].name
			if !bytes.Equal(w.src[open.lo:open.hi], w.src[cname.lo:cname.hi]) {
				return fmt.Errorf("parse %s: line %d: END:%s closes BEGIN:%s", format, l.no, w.src[cname.lo:cname.hi], w.src[open.lo:open.hi])
			}
			w.stack = w.stack[:len(w.stack)-1]
		default:
			if len(w.stack) == 0 {
				return fmt.Errorf("parse %s: line %d: property %s outside BEGIN/END", format, l.no, name)
			}
			p.comp = w.stack[len(w.stack)-1]
			w.props = append(w.props, p)
		}
	}
	if len(w.stack) > 0 {
		open := w.comps[w.stack[len(w.stack)-1]].name
		return fmt.Errorf("parse %s: BEGIN:%s without END (truncated body?)", format, w.src[open.lo:open.hi])
	}
	if ntop == 0 {
		return fmt.Errorf("parse %s: no BEGIN line (empty body?)", format)
	}
	w.index()
	return nil
}

// index fills propIdx and childIdx: each component's properties and children
// in body order, by a counting sort on the owning component.
func (w *work) index() {
	for i := range w.props {
		w.comps[w.props[i].comp].nprops++
	}
	for i := range w.comps {
		if p := w.comps[i].parent; p >= 0 {
			w.comps[p].nchld++
		}
	}
	var np, nc int32
	for i := range w.comps {
		c := &w.comps[i]
		c.props, c.children = np, nc
		np += c.nprops
		nc += c.nchld
		c.nprops, c.nchld = 0, 0
	}
	w.propIdx = grow(w.propIdx, int(np))
	w.childIdx = grow(w.childIdx, int(nc))
	for i := range w.props {
		c := &w.comps[w.props[i].comp]
		w.propIdx[c.props+c.nprops] = int32(i)
		c.nprops++
	}
	for i := range w.comps {
		if p := w.comps[i].parent; p >= 0 {
			c := &w.comps[p]
			w.childIdx[c.children+c.nchld] = int32(i)
			c.nchld++
		}
	}
}

// grow returns s resized to n elements, reusing its storage.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n, n+n/2)
}

// logicalLine is one unfolded content line and the physical line it starts on.
type logicalLine struct {
	no   int
	text span
}

// unfold copies body's logical lines into w.src, joining folded
// continuations and dropping empty lines.
func (w *work) unfold(body []byte) error {
	cur, curNo := int32(-1), 0
	flush := func() {
		if curNo > 0 && int32(len(w.src)) > cur {
			w.logical = append(w.logical, logicalLine{no: curNo, text: span{cur, int32(len(w.src))}})
		}
		curNo = 0
	}
	no := 0
	for len(body) > 0 {
		no++
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if curNo == 0 {
				return fmt.Errorf("line %d: continuation line without a line to continue", no)
			}
			w.src = append(w.src, line[1:]...)
			continue
		}
		flush()
		if len(line) == 0 {
			continue
		}
		curNo, cur = no, int32(len(w.src))
		w.src = append(w.src, line...)
	}
	flush()
	return nil
}

// validName reports whether s is a non-empty run of letters, digits and '-',
// the syntax of property, parameter and component names.
func validName(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// upper upper-cases ASCII letters in place.
func upper(b []byte) {
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
}

// trimSpan returns s without leading and trailing ASCII white space.
func (w *work) trimSpan(s span) span {
	for s.lo < s.hi && isSpace(w.src[s.lo]) {
		s.lo++
	}
	for s.hi > s.lo && isSpace(w.src[s.hi-1]) {
		s.hi--
	}
	return s
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// indexAny returns the index of the first byte of b that is one of a, b2 or
// c, or -1.
func indexAny3(b []byte, a, b2, c byte) int {
	for i, x := range b {
		if x == a || x == b2 || x == c {
			return i
		}
	}
	return -1
}

// parseLine parses one unfolded content line at s of w.src, appending its
// parameters to w.params and w.pvals.
func (w *work) parseLine(s span) (rawProp, error) {
	var p rawProp
	line := w.src[s.lo:s.hi]
	i := indexAny3(line, ';', ':', ';')
	if i < 0 {
		return p, fmt.Errorf("content line %q has no ':'", clip(line, 40))
	}
	name := span{s.lo, s.lo + int32(i)}
	if dot := bytes.IndexByte(w.src[name.lo:name.hi], '.'); dot >= 0 {
		p.group = span{name.lo, name.lo + int32(dot)}
		name.lo += int32(dot) + 1
		upper(w.src[p.group.lo:p.group.hi])
		if !validName(w.src[p.group.lo:p.group.hi]) {
			return p, fmt.Errorf("invalid property group %q", clip(w.src[p.group.lo:p.group.hi], 40))
		}
	}
	if !validName(w.src[name.lo:name.hi]) {
		return p, fmt.Errorf("invalid property name %q", clip(w.src[name.lo:name.hi], 40))
	}
	upper(w.src[name.lo:name.hi])
	p.name = name
	pname := w.src[name.lo:name.hi]
	p.params = int32(len(w.params))
	at := s.lo + int32(i)
	for at < s.hi && w.src[at] == ';' {
		at++
		rest := w.src[at:s.hi]
		eq := indexAny3(rest, '=', ';', ':')
		if eq < 0 {
			return p, fmt.Errorf("property %s: parameter %q has no value and no ':' follows", pname, clip(rest, 40))
		}
		if rest[eq] != '=' {
			// A bare parameter ("TEL;CELL:") is vCard 2.1 shorthand for TYPE=CELL.
			if !validName(rest[:eq]) {
				return p, fmt.Errorf("property %s: invalid parameter %q", pname, clip(rest[:eq], 40))
			}
			w.pvals = append(w.pvals, span{at, at + int32(eq)})
			w.params = append(w.params, rawParam{name: span{-1, -1}, vals: int32(len(w.pvals) - 1), nval: 1})
			at += int32(eq)
			continue
		}
		pn := span{at, at + int32(eq)}
		upper(w.src[pn.lo:pn.hi])
		if !validName(w.src[pn.lo:pn.hi]) {
			return p, fmt.Errorf("property %s: invalid parameter name %q", pname, clip(w.src[pn.lo:pn.hi], 40))
		}
		pm := rawParam{name: pn, vals: int32(len(w.pvals))}
		at = pn.hi + 1
		for {
			rest = w.src[at:s.hi]
			if len(rest) > 0 && rest[0] == '"' {
				end := bytes.IndexByte(rest[1:], '"')
				if end < 0 {
					return p, fmt.Errorf("property %s: parameter %s: unterminated quoted value", pname, w.src[pn.lo:pn.hi])
				}
				w.pvals = append(w.pvals, span{at + 1, at + 1 + int32(end)})
				at += int32(end) + 2
			} else {
				end := -1
				for j, c := range rest {
					if c == ';' || c == ',' || c == ':' || c == '"' {
						end = j
						break
					}
				}
				if end < 0 {
					return p, fmt.Errorf("property %s: parameter %s: no ':' after the value", pname, w.src[pn.lo:pn.hi])
				}
				if rest[end] == '"' {
					return p, fmt.Errorf("property %s: parameter %s: '\"' inside an unquoted value", pname, w.src[pn.lo:pn.hi])
				}
				w.pvals = append(w.pvals, span{at, at + int32(end)})
				at += int32(end)
			}
			pm.nval++
			if at < s.hi && w.src[at] == ',' {
				at++
				continue
			}
			break
		}
		if at >= s.hi || (w.src[at] != ';' && w.src[at] != ':') {
			return p, fmt.Errorf("property %s: parameter %s: want ';' or ':' after the value", pname, w.src[pn.lo:pn.hi])
		}
		w.params = append(w.params, pm)
	}
	if at >= s.hi || w.src[at] != ':' {
		return p, fmt.Errorf("property %s: no ':' before the value", pname)
	}
	p.npar = int32(len(w.params)) - p.params
	p.value = span{at + 1, s.hi}
	return p, nil
}

// clip shortens s for an error message.
func clip(s []byte, n int) string {
	if len(s) <= n {
		return string(s)
	}
	return string(s[:n]) + "..."
}
