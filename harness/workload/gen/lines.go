package gen

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// lines writes vCard and iCalendar content lines: CRLF-terminated and folded at
// 75 octets without splitting a UTF-8 sequence, as RFC 5545 and RFC 6350 ask.
type lines struct{ bytes.Buffer }

const foldAt = 75

func (w *lines) line(s string) {
	limit := foldAt
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.WriteString(s[:cut])
		w.WriteString("\r\n ")
		s = s[cut:]
		limit = foldAt - 1
	}
	w.WriteString(s)
	w.WriteString("\r\n")
}

// prop writes NAME[;params]:value; params already start with ';' when present.
func (w *lines) prop(name, params, value string) { w.line(name + params + ":" + value) }

// text writes a property whose value is escaped TEXT.
func (w *lines) text(name, params, value string) { w.prop(name, params, escape(value)) }

var textEscaper = strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`)

// escape escapes a TEXT value (backslash, semicolon, comma, newline).
func escape(s string) string { return textEscaper.Replace(s) }

// structured escapes each component and joins them with ';' (vCard N and ADR).
func structured(parts ...string) string {
	for i, p := range parts {
		parts[i] = escape(p)
	}
	return strings.Join(parts, ";")
}

// list escapes each value and joins them with ',': a list value (CATEGORIES,
// NICKNAME) or a list component of N or ADR, ready to be a component of
// joinComponents. A comma inside a value stays escaped ("Work\, Travel").
func list(values ...string) string {
	for i, v := range values {
		values[i] = escape(v)
	}
	return strings.Join(values, ",")
}

// joinComponents joins already escaped components with ';'.
func joinComponents(parts ...string) string { return strings.Join(parts, ";") }

// quote returns a parameter value, quoted when it holds ':', ';' or ','.
func quote(s string) string {
	if strings.ContainsAny(s, ":;,") || strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 }) {
		return `"` + s + `"`
	}
	return s
}
