// Package canon gives vCard and iCalendar bodies a canonical text, so that two
// bodies with equal meaning have equal digests however a server re-serialised
// them, and any change to a property a device wrote changes the digest.
//
// The canonical text unfolds lines, upper-cases property, parameter and group
// names, removes parameter quoting, merges and sorts parameters, normalises
// value escaping, sorts properties within each component and sorts components.
// It drops what servers add or rewrite on their own:
//   - PRODID, in any component;
//   - CALSCALE:GREGORIAN on VCALENDAR (the default calendar scale);
//   - VTIMEZONE components (servers may add, replace or strip time zone
//     definitions, RFC 7809); the TZID references on properties stay.
//
// VERSION stays, and so does every other property. Photos and app data have
// no canonical form other than their bytes.
package canon

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/firedrill/firedrill/harness/model"
)

// Canonical returns the canonical text of body for semantic kinds (contact,
// event, todo, note) and body itself for photo and app data. It fails when a
// semantic body does not parse or is not of its kind's format (a vCard for
// contacts, a VCALENDAR with a VEVENT, VTODO or VJOURNAL for events, to-dos and
// notes). Canonical is idempotent: Canonical of a canonical text is itself.
func Canonical(kind model.Kind, body []byte) ([]byte, error) {
	tree, err := parseKind(kind, body)
	if err != nil {
		return nil, err
	}
	if tree == nil {
		return body, nil
	}
	return []byte(tree.render()), nil
}

// Digest returns the first 16 bytes of the SHA-256 of Canonical(kind, body).
func Digest(kind model.Kind, body []byte) (model.Digest, error) {
	c, err := Canonical(kind, body)
	if err != nil {
		return model.Digest{}, err
	}
	sum := sha256.Sum256(c)
	var d model.Digest
	copy(d[:], sum[:len(d)])
	return d, nil
}

// doc is a normalised body: its top-level components, each normalised.
type doc struct {
	comps []*ncomp
}

// ncomp is a normalised component: rendered property lines, sorted, and
// normalised children, sorted by their rendering.
type ncomp struct {
	name     string
	lines    []string // sorted canonical property lines
	children []*ncomp // sorted by rendering
	text     string   // the component's full rendering
}

// parseKind parses and normalises body for kind; it returns nil, nil for
// kinds compared byte for byte.
func parseKind(kind model.Kind, body []byte) (*doc, error) {
	var format, top string
	var vcard bool
	switch kind {
	case model.KindContact:
		format, top, vcard = "vcard", "VCARD", true
	case model.KindEvent, model.KindTodo, model.KindNote:
		format, top = "icalendar", "VCALENDAR"
	case model.KindPhoto, model.KindAppData:
		return nil, nil
	default:
		return nil, fmt.Errorf("canonicalise %s: unknown kind; want one of contact, event, todo, note, photo, appdata", kind)
	}
	comps, err := parseBody(format, body)
	if err != nil {
		return nil, err
	}
	for _, c := range comps {
		if c.name != top {
			return nil, fmt.Errorf("parse %s: top-level component is %s, want %s", format, c.name, top)
		}
	}
	if !vcard && len(comps) > 1 {
		return nil, fmt.Errorf("parse %s: %d VCALENDAR components, want one", format, len(comps))
	}
	d := &doc{}
	for _, c := range comps {
		d.comps = append(d.comps, normalise(c, vcard, nil))
	}
	if !vcard {
		want := map[model.Kind]string{model.KindEvent: "VEVENT", model.KindTodo: "VTODO", model.KindNote: "VJOURNAL"}[kind]
		found := false
		for _, ch := range d.comps[0].children {
			found = found || ch.name == want
		}
		if !found {
			return nil, fmt.Errorf("parse %s: no %s component in the VCALENDAR (a %s must have one)", format, want, kind)
		}
	}
	slices.SortFunc(d.comps, func(a, b *ncomp) int { return strings.Compare(a.text, b.text) })
	return d, nil
}

// render returns the document's canonical text.
func (d *doc) render() string {
	var b strings.Builder
	for _, c := range d.comps {
		b.WriteString(c.text)
	}
	return b.String()
}

// normalise turns a parsed component into its canonical form. parent is nil
// for a top-level component.
func normalise(c *component, vcard bool, parent *component) *ncomp {
	n := &ncomp{name: c.name}
	for _, p := range c.props {
		if ignored(c, p) {
			continue
		}
		n.lines = append(n.lines, propLines(p, vcard)...)
	}
	slices.Sort(n.lines)
	for _, ch := range c.children {
		if !vcard && c.name == "VCALENDAR" && ch.name == "VTIMEZONE" {
			continue
		}
		n.children = append(n.children, normalise(ch, vcard, c))
	}
	slices.SortFunc(n.children, func(a, b *ncomp) int { return strings.Compare(a.text, b.text) })
	var b strings.Builder
	b.WriteString("BEGIN:" + n.name + "\n")
	for _, l := range n.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	for _, ch := range n.children {
		b.WriteString(ch.text)
	}
	b.WriteString("END:" + n.name + "\n")
	n.text = b.String()
	return n
}

// ignored reports whether a property is one servers add or rewrite on their
// own, which the canonical form drops.
func ignored(c *component, p prop) bool {
	switch p.name {
	case "PRODID":
		return true
	case "CALSCALE":
		return c.name == "VCALENDAR" && strings.EqualFold(strings.TrimSpace(p.value), "GREGORIAN")
	}
	return false
}

// Properties whose values have a structure of ';'-separated components
// (RFC 6350 section 6, RFC 5545 section 3.8): an escaped "\;" differs from a
// separator there, while elsewhere both mean a literal ';'.
var structured = map[string]bool{
	"N": true, "ADR": true, "ORG": true, "GENDER": true, "CLIENTPIDMAP": true,
	"GEO": true, "REQUEST-STATUS": true,
}

// Properties whose values are RECUR rules: parts in any order, no escaping.
var recur = map[string]bool{"RRULE": true, "EXRULE": true}

// Properties whose values are comma-separated date or date-time lists, which
// servers may merge into one property or split into several.
var dateList = map[string]bool{"EXDATE": true, "RDATE": true}

// iCalendar properties whose default value type is DATE-TIME, for which an
// explicit VALUE=DATE-TIME says nothing.
var dateTimeDefault = map[string]bool{
	"DTSTART": true, "DTEND": true, "DUE": true, "RECURRENCE-ID": true, "EXDATE": true,
	"RDATE": true, "DTSTAMP": true, "CREATED": true, "LAST-MODIFIED": true, "COMPLETED": true,
}

// propLines returns the canonical lines of one property: one line, or one per
// date for a date list.
func propLines(p prop, vcard bool) []string {
	params := normParams(p, vcard)
	head := p.name
	if p.group != "" {
		head = p.group + "." + p.name
	}
	head += renderParams(params)
	encoding := ""
	for _, pm := range params {
		if pm.name == "ENCODING" && len(pm.values) > 0 {
			encoding = pm.values[0]
		}
	}
	switch {
	case encoding == "b" || encoding == "base64":
		return []string{head + ":" + normBase64(p.value)}
	case recur[p.name] && !vcard:
		return []string{head + ":" + normRecur(p.value)}
	case dateList[p.name] && !vcard:
		var out []string
		for _, v := range strings.Split(p.value, ",") {
			out = append(out, head+":"+strings.ToUpper(strings.TrimSpace(v)))
		}
		return out
	case dateTimeDefault[p.name] && !vcard:
		return []string{head + ":" + strings.ToUpper(strings.TrimSpace(p.value))}
	case structured[p.name]:
		parts := splitUnescaped(p.value, ';')
		for len(parts) > 1 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		for i, s := range parts {
			parts[i] = escape(unescape(s), true)
		}
		return []string{head + ":" + strings.Join(parts, ";")}
	default:
		return []string{head + ":" + escape(unescape(p.value), false)}
	}
}

// normParams merges repeated parameters, normalises the values whose case
// does not matter, drops parameters that restate a default, and sorts them by
// name.
func normParams(p prop, vcard bool) []param {
	byName := map[string][]string{}
	var names []string
	for _, pm := range p.params {
		if _, ok := byName[pm.name]; !ok {
			names = append(names, pm.name)
		}
		byName[pm.name] = append(byName[pm.name], pm.values...)
	}
	var out []param
	for _, name := range names {
		vals := byName[name]
		switch name {
		case "TYPE":
			// TYPE values are a case-insensitive set (RFC 6350 section 5.6),
			// written as repeated parameters, a list, or a quoted list.
			var set []string
			for _, v := range vals {
				for _, t := range strings.Split(v, ",") {
					set = append(set, strings.ToLower(t))
				}
			}
			vals = set
			slices.Sort(vals)
			vals = slices.Compact(vals)
		case "ENCODING":
			for i, v := range vals {
				vals[i] = strings.ToLower(v)
			}
		case "VALUE":
			for i, v := range vals {
				vals[i] = strings.ToUpper(v)
			}
			if !vcard && len(vals) == 1 && vals[0] == "DATE-TIME" && dateTimeDefault[p.name] {
				continue
			}
		}
		out = append(out, param{name: name, values: vals})
	}
	slices.SortFunc(out, func(a, b param) int { return strings.Compare(a.name, b.name) })
	return out
}

// renderParams writes parameters as ";NAME=v1,v2", quoting values that hold
// a ';', ':' or ','.
func renderParams(params []param) string {
	var b strings.Builder
	for _, pm := range params {
		b.WriteString(";" + pm.name + "=")
		for i, v := range pm.values {
			if i > 0 {
				b.WriteByte(',')
			}
			if strings.ContainsAny(v, ";:,") {
				b.WriteString(`"` + v + `"`)
			} else {
				b.WriteString(v)
			}
		}
	}
	return b.String()
}

// normBase64 re-encodes inline binary data in standard padded base64 without
// whitespace; data that does not decode stays as it was.
func normBase64(v string) string {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, v)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(clean); err == nil {
			return base64.StdEncoding.EncodeToString(b)
		}
	}
	return escape(unescape(v), false)
}

// normRecur upper-cases a RECUR value's parts and sorts them.
func normRecur(v string) string {
	parts := strings.Split(strings.ToUpper(strings.TrimSpace(v)), ";")
	parts = slices.DeleteFunc(parts, func(s string) bool { return s == "" })
	slices.Sort(parts)
	return strings.Join(parts, ";")
}

// splitUnescaped splits s at every sep not preceded by an escaping backslash.
func splitUnescaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescape resolves the text escapes \\ \n \N \, \; (RFC 6350 section 3.4,
// RFC 5545 section 3.3.11). Unknown escapes are kept as written.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case '\\', ',', ';':
			b.WriteByte(s[i])
		case 'n', 'N':
			b.WriteByte('\n')
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// escape writes a value in the canonical escaping: backslash and newline
// always, ';' too within a structured value's component.
func escape(s string, semicolon bool) string {
	if !strings.ContainsAny(s, "\\\n;") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == ';' && semicolon:
			b.WriteString(`\;`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
