package canon

import (
	"bytes"
	"fmt"
	"strings"
)

// component is one BEGIN..END block of a vCard or iCalendar body: its
// properties in body order and its nested components.
type component struct {
	name     string // upper-cased, e.g. "VCARD", "VEVENT"
	props    []prop
	children []*component
}

// prop is one content line: [group.]name *(;param) : value, with the value
// still in its escaped wire form.
type prop struct {
	group  string // upper-cased, "" when absent
	name   string // upper-cased
	params []param
	value  string
}

// param is one property parameter with its values, quotes removed.
type param struct {
	name   string // upper-cased
	values []string
}

// parseBody reads a body into its top-level components. format names the
// format in errors ("vcard" or "icalendar"). It unfolds lines (CRLF or LF
// followed by a space or tab), accepts LF or CRLF line ends and a leading
// UTF-8 BOM, and fails on anything that is not a content line or on
// unbalanced BEGIN/END.
func parseBody(format string, body []byte) ([]*component, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	lines, err := unfold(body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", format, err)
	}
	var top []*component
	var stack []*component
	for _, l := range lines {
		p, err := parseLine(l.text)
		if err != nil {
			return nil, fmt.Errorf("parse %s: line %d: %w", format, l.no, err)
		}
		switch p.name {
		case "BEGIN":
			name := strings.ToUpper(strings.TrimSpace(p.value))
			if !validName(name) {
				return nil, fmt.Errorf("parse %s: line %d: BEGIN with invalid component name %q", format, l.no, p.value)
			}
			c := &component{name: name}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, c)
			} else {
				top = append(top, c)
			}
			stack = append(stack, c)
		case "END":
			name := strings.ToUpper(strings.TrimSpace(p.value))
			if len(stack) == 0 {
				return nil, fmt.Errorf("parse %s: line %d: END:%s without BEGIN", format, l.no, name)
			}
			if open := stack[len(stack)-1].name; open != name {
				return nil, fmt.Errorf("parse %s: line %d: END:%s closes BEGIN:%s", format, l.no, name, open)
			}
			stack = stack[:len(stack)-1]
		default:
			if len(stack) == 0 {
				return nil, fmt.Errorf("parse %s: line %d: property %s outside BEGIN/END", format, l.no, p.name)
			}
			c := stack[len(stack)-1]
			c.props = append(c.props, p)
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("parse %s: BEGIN:%s without END (truncated body?)", format, stack[len(stack)-1].name)
	}
	if len(top) == 0 {
		return nil, fmt.Errorf("parse %s: no BEGIN line (empty body?)", format)
	}
	return top, nil
}

// logicalLine is one unfolded content line and the physical line it starts on.
type logicalLine struct {
	no   int
	text string
}

// unfold splits a body into logical lines, joining folded continuations and
// dropping empty lines.
func unfold(body []byte) ([]logicalLine, error) {
	var out []logicalLine
	var cur strings.Builder
	curNo := 0
	flush := func() {
		if curNo > 0 && cur.Len() > 0 {
			out = append(out, logicalLine{no: curNo, text: cur.String()})
		}
		cur.Reset()
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
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if curNo == 0 {
				return nil, fmt.Errorf("line %d: continuation line without a line to continue", no)
			}
			cur.Write(line[1:])
			continue
		}
		flush()
		if len(line) == 0 {
			continue
		}
		curNo = no
		cur.Write(line)
	}
	flush()
	return out, nil
}

// validName reports whether s is a non-empty run of letters, digits and '-',
// the syntax of property, parameter and component names.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parseLine parses one unfolded content line.
func parseLine(s string) (prop, error) {
	var p prop
	i := strings.IndexAny(s, ";:")
	if i < 0 {
		return p, fmt.Errorf("content line %q has no ':'", clip(s, 40))
	}
	name := s[:i]
	if dot := strings.IndexByte(name, '.'); dot >= 0 {
		p.group = strings.ToUpper(name[:dot])
		name = name[dot+1:]
		if !validName(p.group) {
			return p, fmt.Errorf("invalid property group %q", clip(p.group, 40))
		}
	}
	if !validName(name) {
		return p, fmt.Errorf("invalid property name %q", clip(name, 40))
	}
	p.name = strings.ToUpper(name)
	s = s[i:]
	for len(s) > 0 && s[0] == ';' {
		s = s[1:]
		var pm param
		eq := strings.IndexAny(s, "=;:")
		if eq < 0 {
			return p, fmt.Errorf("property %s: parameter %q has no value and no ':' follows", p.name, clip(s, 40))
		}
		if s[eq] != '=' {
			// A bare parameter ("TEL;CELL:") is vCard 2.1 shorthand for TYPE=CELL.
			if !validName(s[:eq]) {
				return p, fmt.Errorf("property %s: invalid parameter %q", p.name, clip(s[:eq], 40))
			}
			pm = param{name: "TYPE", values: []string{s[:eq]}}
			s = s[eq:]
			p.params = append(p.params, pm)
			continue
		}
		pm.name = strings.ToUpper(s[:eq])
		if !validName(pm.name) {
			return p, fmt.Errorf("property %s: invalid parameter name %q", p.name, clip(s[:eq], 40))
		}
		s = s[eq+1:]
		for {
			var v string
			if len(s) > 0 && s[0] == '"' {
				end := strings.IndexByte(s[1:], '"')
				if end < 0 {
					return p, fmt.Errorf("property %s: parameter %s: unterminated quoted value", p.name, pm.name)
				}
				v, s = s[1:1+end], s[2+end:]
			} else {
				end := strings.IndexAny(s, ";,:\"")
				if end < 0 {
					return p, fmt.Errorf("property %s: parameter %s: no ':' after the value", p.name, pm.name)
				}
				if s[end] == '"' {
					return p, fmt.Errorf("property %s: parameter %s: '\"' inside an unquoted value", p.name, pm.name)
				}
				v, s = s[:end], s[end:]
			}
			pm.values = append(pm.values, strings.ReplaceAll(v, "\r", ""))
			if len(s) > 0 && s[0] == ',' {
				s = s[1:]
				continue
			}
			break
		}
		if len(s) == 0 || (s[0] != ';' && s[0] != ':') {
			return p, fmt.Errorf("property %s: parameter %s: want ';' or ':' after the value", p.name, pm.name)
		}
		p.params = append(p.params, pm)
	}
	if len(s) == 0 || s[0] != ':' {
		return p, fmt.Errorf("property %s: no ':' before the value", p.name)
	}
	// A CR inside a line carries no meaning and could not survive re-parsing.
	p.value = strings.ReplaceAll(s[1:], "\r", "")
	return p, nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
