package canon

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/firedrill/firedrill/harness/model"
)

// reserialiser writes a parsed body back out with equal meaning, the way
// another server might: properties, parameters and components reordered;
// names, enumerated values and URI schemes in random case; parameter values
// quoted or not; TYPE lists split or joined; commas escaped or not where they
// are literal; \n as \N; text decomposed (NFD); list values and date lists
// split into lines; RRULE parts and BYxxx lists reordered; durations, vCard
// dates and integers in other forms; EXDATE, RDATE and RECURRENCE-ID in UTC
// instead of their IANA zone; RFC defaults added or dropped; PRODID and
// CALSCALE added; IANA VTIMEZONEs added or dropped; lines folded at random
// widths, LF or CRLF.
type reserialiser struct {
	r         *rand.Rand
	vcard, v3 bool
	b         strings.Builder
}

func (s *reserialiser) coin() bool { return s.r.IntN(2) == 0 }

func (s *reserialiser) randCase(name string) string {
	switch s.r.IntN(3) {
	case 0:
		return strings.ToLower(name)
	case 1:
		return name
	}
	out := []byte(name)
	for i := range out {
		if s.coin() {
			out[i] = bytes.ToLower(out[i : i+1])[0]
		}
	}
	return string(out)
}

func (s *reserialiser) line(l string) { s.b.WriteString(l + "\x00") } // \x00 marks line ends until folding

func (s *reserialiser) component(c *component, top bool) {
	s.line("BEGIN:" + s.randCase(c.name))
	var lines []string
	present := map[string]bool{}
	for _, p := range c.props {
		if s.vcard && p.name == "VERSION" {
			s.v3 = strings.TrimSpace(p.value) == "3.0"
		}
	}
	for _, p := range c.props {
		present[p.name] = true
		if isDefaultProp(c.name, p) && s.coin() {
			continue // a default dropped
		}
		lines = append(lines, s.prop(p)...)
	}
	for _, d := range defaultsOf[c.name] {
		if !present[d.prop] && s.coin() {
			name, value, _ := strings.Cut(d.line, ":")
			lines = append(lines, s.randCase(name)+":"+s.randCase(value)) // a default made explicit
		}
	}
	if top && s.coin() {
		lines = append(lines, s.randCase("PRODID")+":-//Server "+fmt.Sprint(s.r.IntN(100))+"//EN")
	}
	s.r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	for _, l := range lines {
		s.line(l)
	}
	var children []*component
	for _, ch := range c.children {
		if top && !s.vcard && ch.name == "VTIMEZONE" && ianaTimezone(ch) && s.coin() {
			continue // RFC 7809: a server may drop an IANA zone's definition
		}
		children = append(children, ch)
	}
	if top && !s.vcard && s.coin() {
		children = append(children, &component{name: "VTIMEZONE", props: []prop{{name: "TZID", value: "Pacific/Auckland"}},
			children: []*component{{name: "STANDARD", props: []prop{{name: "DTSTART", value: "19700405T030000"}, {name: "TZOFFSETFROM", value: "+1300"}, {name: "TZOFFSETTO", value: "+1200"}}}}})
	}
	s.r.Shuffle(len(children), func(i, j int) { children[i], children[j] = children[j], children[i] })
	for _, ch := range children {
		s.component(ch, false)
	}
	s.line("END:" + s.randCase(c.name))
}

// ianaTimezone reports whether a VTIMEZONE defines an IANA zone.
func ianaTimezone(c *component) bool {
	for _, p := range c.props {
		if p.name == "TZID" {
			return isIANA([]byte(p.value))
		}
	}
	return false
}

// isDefaultProp reports whether p restates a default of component comp.
func isDefaultProp(comp string, p prop) bool {
	for _, d := range defaultsOf[comp] {
		name, value, _ := strings.Cut(d.line, ":")
		if p.name != name || p.group != "" {
			continue
		}
		for _, pm := range p.params {
			if pm.name != "VALUE" || !strings.EqualFold(pm.values[0], lookupProp(false, []byte(name)).defaultType) {
				return false
			}
		}
		v := strings.TrimSpace(p.value)
		if n, err := strconv.Atoi(v); err == nil {
			return strconv.Itoa(n) == value
		}
		return strings.EqualFold(v, value)
	}
	return false
}

// kindOf is the value kind of p as the canonical form sees it.
func (s *reserialiser) kindOf(p prop) valueKind {
	var valueType, encoding []byte
	for _, pm := range p.params {
		switch pm.name {
		case "VALUE":
			valueType = bytes.ToUpper([]byte(pm.values[0]))
		case "ENCODING":
			encoding = bytes.ToLower([]byte(pm.values[0]))
		}
	}
	return effectiveKind(lookupProp(s.vcard, []byte(p.name)), valueType, encoding, s.vcard)
}

func (s *reserialiser) prop(p prop) []string {
	kind := s.kindOf(p)
	info := lookupProp(s.vcard, []byte(p.name))
	name := s.randCase(p.name)
	if p.group != "" {
		name = s.randCase(p.group) + "." + name
	}
	tzid := ""
	var params []string
	have := map[string]bool{}
	for _, pm := range p.params {
		have[pm.name] = true
		params = append(params, s.param(p, pm, kind, info)...)
		if pm.name == "TZID" {
			tzid = pm.values[0]
		}
	}
	if !s.vcard {
		for _, d := range icalDefaultParams {
			if d.prop == p.name && !have[string(d.param)] && (d.prop != "TRIGGER" || kind == vDuration) && s.coin() {
				params = append(params, s.randCase(string(d.param))+"="+s.randCase(string(d.value)))
			}
		}
		if !have["VALUE"] && info.defaultType != "" && s.r.IntN(4) == 0 {
			params = append(params, "VALUE="+s.randCase(info.defaultType))
		}
	}
	s.r.Shuffle(len(params), func(i, j int) { params[i], params[j] = params[j], params[i] })
	head := name
	for _, pm := range params {
		head += ";" + pm
	}
	v := p.value
	switch kind {
	case vBinary:
	case vRecur:
		v = s.recur(v)
	case vDateList, vInstant:
		return s.dates(head, name, params, tzid, v, kind)
	case vDuration:
		v = s.duration(v)
	case vEnum, vEnumLower:
		v = s.randCase(v)
	case vURI:
		if i := strings.IndexByte(v, ':'); i > 0 && s.coin() {
			v = s.randCase(v[:i]) + v[i:]
		}
	case vCardDate:
		v = s.cardDate(v)
	case vInteger:
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 && s.coin() {
			v = "+0" + strconv.Itoa(n)
		}
	case vUTCOffset:
		if len(v) == 5 && s.coin() {
			v += "00"
		}
	case vDateTime:
		if s.coin() {
			v = strings.ToLower(v)
		}
	case vList:
		var items []string
		splitUnescaped([]byte(v), ',', func(it []byte) { items = append(items, s.text(string(it), false)) })
		s.r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		if s.coin() {
			return []string{head + ":" + strings.Join(items, ",")}
		}
		var out []string
		for _, it := range items {
			out = append(out, head+":"+it)
		}
		return out
	case vNameLists:
		v = s.text(v, false)
	default:
		v = s.text(v, true)
	}
	return []string{head + ":" + v}
}

// param re-serialises one parameter: names and case-insensitive values in
// random case, quoting at random, TYPE split or joined, defaults dropped.
func (s *reserialiser) param(p prop, pm param, kind valueKind, info propInfo) []string {
	pk := paramKinds[pm.name]
	vals := append([]string(nil), pm.values...)
	switch {
	case pm.name == "VALUE" && len(vals) == 1 && strings.EqualFold(vals[0], info.defaultType) && !s.vcard && s.coin():
		return nil
	case !s.vcard && len(vals) == 1 && isDefaultParam(p.name, pm.name, vals[0], kind) && s.coin():
		return nil
	case pk == pTypeSet:
		var set []string
		for _, v := range vals {
			for _, t := range strings.Split(v, ",") {
				if s.v3 && p.name == "EMAIL" && strings.EqualFold(t, "internet") && s.coin() {
					continue // the vCard 3 default e-mail type
				}
				set = append(set, s.randCase(t))
			}
		}
		if len(set) == 0 {
			return nil
		}
		s.r.Shuffle(len(set), func(i, j int) { set[i], set[j] = set[j], set[i] })
		if s.coin() {
			var out []string
			for _, t := range set {
				out = append(out, s.randCase("TYPE")+"="+s.quote(t))
			}
			return out
		}
		vals = set
	case pk == pUpper || pk == pLower:
		for i := range vals {
			vals[i] = s.randCase(vals[i])
		}
	case pk == pURI:
		for i, v := range vals {
			if j := strings.IndexByte(v, ':'); j > 0 {
				vals[i] = s.randCase(v[:j]) + v[j:]
			}
		}
	case pk == pText && s.r.IntN(4) == 0:
		for i := range vals {
			vals[i] = norm.NFD.String(vals[i])
		}
	}
	var qs []string
	for _, v := range vals {
		qs = append(qs, s.quote(v))
	}
	return []string{s.randCase(pm.name) + "=" + strings.Join(qs, ",")}
}

// isDefaultParam reports whether a parameter restates its RFC default.
func isDefaultParam(prop, name, value string, kind valueKind) bool {
	for _, d := range icalDefaultParams {
		if d.prop == prop && string(d.param) == name && strings.EqualFold(string(d.value), value) && (prop != "TRIGGER" || kind == vDuration) {
			return true
		}
	}
	return false
}

// quote quotes a parameter value when it must be, and at random otherwise.
func (s *reserialiser) quote(v string) string {
	if strings.ContainsAny(v, ";:,") || s.r.IntN(3) == 0 {
		return `"` + v + `"`
	}
	return v
}

// text rewrites a text value's escaping without changing its meaning: \n as
// \N, escaped commas unescaped or unescaped ones escaped where commas are
// literal (commaLiteral), and at random decomposed to NFD.
func (s *reserialiser) text(v string, commaLiteral bool) string {
	mode := s.r.IntN(3)
	if !commaLiteral {
		mode = 2
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			next := v[i+1]
			i++
			switch {
			case next == ',' && mode == 1:
				b.WriteByte(',')
			case next == 'n' && mode == 2:
				b.WriteString(`\N`)
			default:
				b.WriteByte('\\')
				b.WriteByte(next)
			}
		case c == ',' && mode == 0:
			b.WriteString(`\,`)
		default:
			b.WriteByte(c)
		}
	}
	if s.r.IntN(4) == 0 {
		return norm.NFD.String(b.String())
	}
	return b.String()
}

// recur reorders a rule's parts and BYxxx lists, changes their case, and adds
// or drops INTERVAL=1 and WKST=MO.
func (s *reserialiser) recur(v string) string {
	var parts []string
	for _, part := range strings.Split(v, ";") {
		n, val, ok := strings.Cut(part, "=")
		switch {
		case ok && strings.HasPrefix(strings.ToUpper(n), "BY"):
			items := strings.Split(val, ",")
			s.r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
			part = n + "=" + strings.Join(items, ",")
		case ok && (strings.EqualFold(part, "INTERVAL=1") || strings.EqualFold(part, "WKST=MO")) && s.coin():
			continue
		}
		parts = append(parts, s.randCase(part))
	}
	for _, d := range []string{"INTERVAL=1", "WKST=MO"} {
		name, _, _ := strings.Cut(d, "=")
		if !strings.Contains(strings.ToUpper(v), name+"=") && s.coin() {
			parts = append(parts, s.randCase(d))
		}
	}
	s.r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return strings.Join(parts, ";")
}

// duration writes the same duration another way: minutes as hours and
// minutes or seconds, zero parts explicit, a '+' sign, 7 days as a week.
func (s *reserialiser) duration(v string) string {
	neg, days, secs, ok := parseDuration([]byte(strings.TrimSpace(v)))
	if !ok {
		return v
	}
	out := ""
	switch {
	case neg:
		out = "-"
	case s.coin():
		out = "+"
	}
	out += "P"
	switch {
	case days > 0 && days%7 == 0 && secs == 0 && s.coin():
		return out + strconv.FormatInt(days/7, 10) + "W"
	case days > 0:
		out += strconv.FormatInt(days, 10) + "D"
	}
	if secs == 0 && days > 0 && s.coin() {
		return out
	}
	switch s.r.IntN(3) {
	case 0:
		return out + "T" + strconv.FormatInt(secs, 10) + "S"
	case 1:
		return out + fmt.Sprintf("T%dM%dS", secs/60, secs%60)
	}
	return out + fmt.Sprintf("T%dH%dM%dS", secs/3600, secs/60%60, secs%60)
}

// cardDate switches a vCard date or time stamp between the ISO 8601 basic
// and extended forms.
func (s *reserialiser) cardDate(v string) string {
	t := strings.TrimSpace(v)
	switch {
	case len(t) == 8 && !strings.Contains(t, "-"):
		return t[:4] + "-" + t[4:6] + "-" + t[6:]
	case len(t) == 10 && t[4] == '-' && t[7] == '-':
		return strings.ReplaceAll(t, "-", "")
	case len(t) == 20 && t[4] == '-' && t[10] == 'T': // 2024-03-01T10:11:12Z
		return strings.NewReplacer("-", "", ":", "").Replace(t)
	case len(t) == 16 && t[8] == 'T' && t[15] == 'Z': // 20240301T101112Z
		return t[:4] + "-" + t[4:6] + "-" + t[6:8] + "T" + t[9:11] + ":" + t[11:13] + ":" + t[13:]
	}
	return v
}

// dates writes EXDATE, RDATE and RECURRENCE-ID values split into lines or
// joined, each local date-time in an IANA zone at random as its UTC instant
// on a line without TZID.
func (s *reserialiser) dates(head, name string, params []string, tzid, v string, kind valueKind) []string {
	loc := zones.lookup([]byte(tzid))
	noTZ := name
	for _, pm := range params {
		if !strings.EqualFold(pm[:strings.IndexByte(pm, '=')], "TZID") {
			noTZ += ";" + pm
		}
	}
	var local []string
	var out []string
	for _, item := range strings.Split(v, ",") {
		if dt, ok := parseDateTime([]byte(strings.TrimSpace(item))); ok && dt.hasTime && !dt.utc && loc != nil && s.coin() {
			out = append(out, noTZ+":"+string(appendDateTime(nil, toUTC(dt, loc))))
			continue
		}
		local = append(local, item)
	}
	if len(local) > 0 {
		if kind == vInstant || s.coin() {
			out = append(out, head+":"+strings.Join(local, ","))
		} else {
			for _, l := range local {
				out = append(out, head+":"+l)
			}
		}
	}
	return out
}

// finish folds the lines at random widths and joins them with LF or CRLF.
func (s *reserialiser) finish() string {
	nl, cont := "\r\n", "\r\n "
	if s.coin() {
		nl, cont = "\n", "\n\t"
	}
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(s.b.String(), "\x00"), "\x00") {
		width := 1 + s.r.IntN(120)
		for len(l) > width {
			out.WriteString(l[:width] + cont)
			l = l[width:]
		}
		out.WriteString(l + nl)
	}
	return out.String()
}

// equivalent re-serialises body with equal meaning.
func equivalent(t *testing.T, kind model.Kind, body string, r *rand.Rand) string {
	comps, err := parseBody("body", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	s := &reserialiser{r: r, vcard: kind == model.KindContact}
	for _, c := range comps {
		s.component(c, true)
	}
	return s.finish()
}
