package canon

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// serverRewrites are meaning-preserving rewrites real CardDAV/CalDAV servers
// and the libraries they are built on make to stored bodies (Radicale and
// Xandikos through vobject, DAViCal, Cyrus, sabre/dav), each applied to the
// generator's own bodies.
var serverRewrites = []rewrite{
	// Durations.
	{"DURATION PT90M as PT1H30M", each(`^DURATION:PT\d+M$`, durationHM)},
	{"DURATION with a + sign", sub(`^DURATION:PT`, "DURATION:+PT")},
	{"TRIGGER -PT1H as -PT60M", sub(`^TRIGGER:-PT1H$`, "TRIGGER:-PT60M")},
	{"TRIGGER -PT15M as -PT0H15M0S", sub(`^TRIGGER:-PT15M$`, "TRIGGER:-PT0H15M0S")},
	{"TRIGGER -P1D as -P1DT0H0M0S", sub(`^TRIGGER:-P1D$`, "TRIGGER:-P1DT0H0M0S")},
	{"TRIGGER;VALUE=DURATION explicit", sub(`^TRIGGER:`, "TRIGGER;VALUE=DURATION:")},
	{"TRIGGER;RELATED=START explicit", sub(`^TRIGGER:`, "TRIGGER;RELATED=START:")},
	// Case of names, enumerated values and URI schemes.
	{"PARTSTAT value lower-case", sub(`PARTSTAT=ACCEPTED`, "PARTSTAT=accepted")},
	{"ROLE value lower-case", sub(`ROLE=REQ-PARTICIPANT`, "ROLE=req-participant")},
	{"STATUS:COMPLETED lower-case", sub(`^STATUS:COMPLETED$`, "STATUS:completed")},
	{"STATUS:NEEDS-ACTION lower-case", sub(`^STATUS:NEEDS-ACTION$`, "STATUS:needs-action")},
	{"STATUS:IN-PROCESS lower-case", sub(`^STATUS:IN-PROCESS$`, "STATUS:In-Process")},
	{"STATUS:FINAL lower-case", sub(`^STATUS:FINAL$`, "STATUS:final")},
	{"TRANSP:TRANSPARENT lower-case", sub(`^TRANSP:TRANSPARENT$`, "TRANSP:transparent")},
	{"ACTION:DISPLAY lower-case", sub(`^ACTION:DISPLAY$`, "ACTION:display")},
	{"mailto: as MAILTO:", sub(`:mailto:`, ":MAILTO:")},
	{"tel: URI as TEL:", sub(`:tel:`, ":TEL:")},
	{"data: URI as DATA:", sub(`^PHOTO:data:`, "PHOTO:DATA:")},
	{"VALUE=DATE lower-case", sub(`;VALUE=DATE([:;])`, ";value=date$1")},
	{"VALUE=uri upper-case", sub(`;VALUE=uri`, ";VALUE=URI")},
	{"vCard 3 TYPE values lower-case", each(`^(TEL|EMAIL|ADR);TYPE=`, func(l string) string {
		head, v := splitLine(l)
		return strings.ToLower(head) + ":" + v
	})},
	{"RRULE lower-case", each(`^RRULE:`, func(l string) string { return "RRULE:" + strings.ToLower(l[6:]) })},
	{"CALSCALE value lower-case", sub(`^CALSCALE:GREGORIAN$`, "CALSCALE:gregorian")},
	{"ENCODING=b as ENCODING=B", sub(`;ENCODING=b`, ";ENCODING=B")},
	{"KIND value upper-case", sub(`^KIND:individual$`, "KIND:INDIVIDUAL")},
	{"property names lower-case", each(`^[A-Z-]+[;:]`, func(l string) string {
		i := strings.IndexAny(l, ";:")
		return strings.ToLower(l[:i]) + l[i:]
	})},
	{"parameter names lower-case", each(`;[A-Z-]+=`, func(l string) string {
		return paramNameRE.ReplaceAllStringFunc(l, strings.ToLower)
	})},
	// RFC defaults made explicit or dropped.
	{"TRANSP:OPAQUE added", insertIn("VEVENT", "TRANSP:", "TRANSP:OPAQUE")},
	{"SEQUENCE:0 dropped", drop(`^SEQUENCE:0$`)},
	{"CLASS:PUBLIC added", insertIn("VEVENT", "CLASS:", "CLASS:PUBLIC")},
	{"PRIORITY:0 added to events", insertIn("VEVENT", "PRIORITY:", "PRIORITY:0")},
	{"PRIORITY:0 dropped from to-dos", drop(`^PRIORITY:0$`)},
	{"REPEAT:0 added to alarms", insertIn("VALARM", "REPEAT:", "REPEAT:0")},
	{"RRULE INTERVAL=1 added", each(`^RRULE:`, func(l string) string {
		if strings.Contains(l, "INTERVAL=") {
			return l
		}
		return l + ";INTERVAL=1"
	})},
	{"RRULE WKST=MO added", sub(`^RRULE:(.*)$`, "RRULE:$1;WKST=MO")},
	{"KIND:individual dropped", drop(`^KIND:individual$`)},
	{"KIND:individual added to vCard 3", func(k model.Kind, lines []string) []string {
		if !slices.Contains(lines, "VERSION:3.0") {
			return lines
		}
		return insertIn("VCARD", "KIND:", "KIND:individual")(k, lines)
	}},
	{"vCard 3 TYPE=INTERNET dropped", sub(`^EMAIL;TYPE=INTERNET,`, "EMAIL;TYPE=")},
	{"CALSCALE:GREGORIAN dropped", drop(`^CALSCALE:GREGORIAN$`)},
	{"ATTENDEE CUTYPE=INDIVIDUAL added", sub(`^ATTENDEE;`, "ATTENDEE;CUTYPE=INDIVIDUAL;")},
	{"ATTENDEE RSVP=FALSE added", sub(`^ATTENDEE;`, "ATTENDEE;RSVP=FALSE;")},
	{"ATTENDEE ROLE=REQ-PARTICIPANT dropped", sub(`;ROLE=REQ-PARTICIPANT`, "")},
	{"VALUE=DATE-TIME on zoned times", sub(`^(DTSTART|DTEND|RECURRENCE-ID);TZID=`, "$1;VALUE=DATE-TIME;TZID=")},
	{"VALUE=TEXT on SUMMARY", sub(`^SUMMARY:`, "SUMMARY;VALUE=TEXT:")},
	// Recurrence rules.
	{"BYDAY reversed", each(`^RRULE:.*BYDAY=`, byday(slices.Reverse[[]string]))},
	{"BYDAY in week order", each(`^RRULE:.*BYDAY=`, byday(func(d []string) {
		slices.SortFunc(d, func(a, b string) int { return weekOrder[a] - weekOrder[b] })
	}))},
	{"RRULE parts reordered", each(`^RRULE:`, func(l string) string {
		parts := strings.Split(l[6:], ";")
		slices.Reverse(parts)
		return "RRULE:" + strings.Join(parts, ";")
	})},
	// List values.
	{"CATEGORIES one line per value", splitList("CATEGORIES", false)},
	{"CATEGORIES values reordered", splitList("CATEGORIES", true)},
	{"NICKNAME one line per value", splitList("NICKNAME", false)},
	{"NICKNAME values reordered", splitList("NICKNAME", true)},
	// Dates and instants.
	{"vCard 3 BDAY in basic form", sub(`^BDAY:(\d{4})-(\d\d)-(\d\d)$`, "BDAY:$1$2$3")},
	{"vCard 4 BDAY in extended form", sub(`^BDAY:(\d{4})(\d\d)(\d\d)$`, "BDAY:$1-$2-$3")},
	{"REV in extended form", sub(`^REV:(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$`, "REV:${1}-${2}-${3}T${4}:${5}:${6}Z")},
	{"EXDATE in UTC", inUTC("EXDATE", false)},
	{"EXDATE in UTC, one line per date", inUTC("EXDATE", true)},
	{"EXDATE one line per date", each(`^EXDATE;`, func(l string) string {
		head, v, _ := strings.Cut(l, ":")
		return head + ":" + strings.ReplaceAll(v, ",", "\r\n"+head+":")
	})},
	{"RDATE in UTC", inUTC("RDATE", false)},
	{"RDATE one line per date", each(`^RDATE;`, func(l string) string {
		head, v, _ := strings.Cut(l, ":")
		return head + ":" + strings.ReplaceAll(v, ",", "\r\n"+head+":")
	})},
	{"RECURRENCE-ID in UTC", inUTC("RECURRENCE-ID", false)},
	{"TZID quoted", sub(`;TZID=([^:;"]+)`, `;TZID="$1"`)},
	// Time zones.
	{"IANA VTIMEZONE dropped (RFC 7809)", zoneRewrite(true, func([]string) []string { return nil })},
	{"IANA VTIMEZONE replaced by the server's", zoneRewrite(true, func(z []string) []string {
		return []string{z[0], z[1], "X-LIC-LOCATION:" + strings.TrimPrefix(z[1], "TZID:"), "BEGIN:STANDARD",
			"DTSTART:19700101T000000", "TZOFFSETFROM:+0000", "TZOFFSETTO:+0000", "END:STANDARD", z[len(z)-1]}
	})},
	{"unreferenced VTIMEZONE added", func(_ model.Kind, lines []string) []string {
		if lines[0] != "BEGIN:VCALENDAR" {
			return lines
		}
		return slices.Insert(slices.Clone(lines), 1, "BEGIN:VTIMEZONE", "TZID:Some Other Zone", "BEGIN:STANDARD",
			"DTSTART:16010101T000000", "TZOFFSETFROM:+0300", "TZOFFSETTO:+0300", "END:STANDARD", "END:VTIMEZONE")
	}},
	{"custom VTIMEZONE rules in the other order", zoneRewrite(false, func(z []string) []string {
		rules := components(z, "STANDARD")
		std := slices.Clone(z[rules[0][0]:rules[0][1]])
		rest := slices.Delete(slices.Clone(z), rules[0][0], rules[0][1])
		return slices.Insert(rest, len(rest)-1, std...)
	})},
	{"custom VTIMEZONE offsets with seconds", zoneRewrite(false, func(z []string) []string {
		for i, l := range z {
			if strings.HasPrefix(l, "TZOFFSET") {
				z[i] = l + "00"
			}
		}
		return z
	})},
	// Text.
	{"text decomposed (NFD)", each(`^(SUMMARY|FN|N|DESCRIPTION|NOTE|LOCATION|ADR[^:]*|ATTENDEE[^:]*):`, norm.NFD.String)},
	{"commas unescaped in one-valued text", each(`^(SUMMARY|DESCRIPTION|LOCATION|NOTE|TITLE|ORG):`, func(l string) string {
		return strings.ReplaceAll(l, `\,`, ",")
	})},
	{"semicolons unescaped in one-valued text", each(`^(SUMMARY|DESCRIPTION|LOCATION|NOTE|TITLE):`, func(l string) string {
		return strings.ReplaceAll(l, `\;`, ";")
	})},
	{`\n as \N`, sub(`\\n`, `\N`)},
	// Syntax.
	{"PRODID replaced", sub(`^PRODID:.*$`, "PRODID:-//Example Corp.//CalDAV Server//EN")},
	{"parameters reordered", each(`^[A-Z-]+;[^:]*;`, func(l string) string {
		head, v := splitLine(l)
		parts := strings.Split(head, ";")
		slices.Reverse(parts[1:])
		return strings.Join(parts, ";") + ":" + v
	})},
	{"parameter values quoted", sub(`;(TYPE|ROLE|PARTSTAT|CN)=([^";:,]+)([;:])`, `;$1="$2"$3`)},
	{"vCard TYPE lists split into parameters", each(`^(TEL|EMAIL)[^:]*TYPE="?[a-zA-Z]+,`, func(l string) string {
		head, v := splitLine(l)
		return typeListRE.ReplaceAllString(head, "TYPE=$1;TYPE=$2") + ":" + v
	})},
	{"N trailing empty components dropped", sub(`^N:(.*?);*$`, "N:$1")},
	{"properties reversed", func(_ model.Kind, lines []string) []string { return reverseLines(lines) }},
	{"components reordered", func(_ model.Kind, lines []string) []string { return reverseComponents(lines) }},
}

var (
	paramNameRE = regexp.MustCompile(`;(CN|TZID|TYPE|VALUE|PARTSTAT|ROLE|ENCODING)=`)
	typeListRE  = regexp.MustCompile(`TYPE="?([a-zA-Z]+),([a-zA-Z]+)"?`)
)

// The syntax-only rewrites act on the whole body text.
var textRewrites = []struct {
	name string
	f    func(string) string
}{
	{"LF line ends", func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }},
	{"folded at 60 octets anywhere", func(s string) string { return fold(unfoldText(s), 60, "\r\n ") }},
	{"folded at 7 with tabs", func(s string) string { return fold(unfoldText(s), 7, "\r\n\t") }},
	{"base64 wrapped with spaces", func(s string) string {
		return regexp.MustCompile(`(?m)^(PHOTO;ENCODING=b[^:]*:)(.*)\r$`).ReplaceAllStringFunc(unfoldText(s), func(l string) string {
			i := strings.IndexByte(l, ':') + 1
			return l[:i] + fold(l[i:len(l)-1], 76, "\r\n  ") + "\r"
		})
	}},
	{"UTF-8 BOM", func(s string) string { return "\xef\xbb\xbf" + s }},
}

// TestServerRewritesOfGeneratedBodies is the rewrite experiment: every
// rewrite above, applied to the generator's bodies, must keep the digest.
// Each rewrite must apply to some body, or it tests nothing.
func TestServerRewritesOfGeneratedBodies(t *testing.T) {
	p, err := profile.Load("small")
	if err != nil {
		t.Fatal(err)
	}
	g := gen.New(20091002, p)
	type body struct {
		kind model.Kind
		text string
	}
	var bodies []body
	for _, k := range []model.Kind{model.KindContact, model.KindEvent, model.KindTodo, model.KindNote} {
		for i := 0; i < 150; i++ {
			bodies = append(bodies, body{k, string(g.Item(fmt.Sprintf("user%d", i/25), k, i%25, i%3).Body)})
		}
	}
	total := len(serverRewrites) + len(textRewrites)
	flagged := 0
	// check applies f to each body; f returns the rewritten body and the
	// text it rewrote (the body, or the body unfolded).
	check := func(name string, f func(model.Kind, string) (string, string)) {
		applied, changed := 0, 0
		var first []string
		for _, b := range bodies {
			out, from := f(b.kind, b.text)
			if out == from {
				continue
			}
			applied++
			want, err := Digest(b.kind, []byte(b.text))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Digest(b.kind, []byte(out))
			if err == nil && got == want {
				continue
			}
			changed++
			if first == nil {
				first = Diff(b.kind, []byte(b.text), []byte(out))
				if err != nil {
					first = []string{err.Error()}
				}
			}
		}
		switch {
		case applied == 0:
			t.Errorf("rewrite %q applies to none of %d generated bodies: it tests nothing", name, len(bodies))
		case changed > 0:
			flagged++
			t.Errorf("rewrite %q changed the digest of %d of %d bodies; first diff: %q", name, changed, applied, first)
		}
	}
	for _, rw := range serverRewrites {
		check(rw.name, func(k model.Kind, s string) (string, string) {
			from := unfoldText(s)
			return strings.Join(rw.f(k, strings.Split(from, "\r\n")), "\r\n"), from
		})
	}
	for _, rw := range textRewrites {
		check(rw.name, func(_ model.Kind, s string) (string, string) { return rw.f(s), s })
	}
	t.Logf("%d of %d server rewrites of generated bodies change the digest", flagged, total)
}

// unfoldText joins folded lines of a CRLF body.
func unfoldText(s string) string { return strings.ReplaceAll(s, "\r\n ", "") }

// reverseLines reverses the properties inside each component, keeping BEGIN
// and END lines and nested components in place.
func reverseLines(lines []string) []string {
	var out, run []string
	flush := func() {
		slices.Reverse(run)
		out = append(out, run...)
		run = nil
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "BEGIN:") || strings.HasPrefix(l, "END:") {
			flush()
			out = append(out, l)
			continue
		}
		run = append(run, l)
	}
	flush()
	return out
}

// reverseComponents reverses the order of a VCALENDAR's components.
func reverseComponents(lines []string) []string {
	if len(lines) == 0 || lines[0] != "BEGIN:VCALENDAR" {
		return lines
	}
	var tail []string
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines, tail = lines[:len(lines)-1], append(tail, "")
	}
	var head []string
	var comps [][]string
	depth := 0
	for _, l := range lines[1 : len(lines)-1] {
		switch {
		case depth == 0 && strings.HasPrefix(l, "BEGIN:"):
			comps = append(comps, []string{l})
			depth++
		case depth > 0:
			comps[len(comps)-1] = append(comps[len(comps)-1], l)
			if strings.HasPrefix(l, "BEGIN:") {
				depth++
			} else if strings.HasPrefix(l, "END:") {
				depth--
			}
		default:
			head = append(head, l)
		}
	}
	slices.Reverse(comps)
	out := append([]string{lines[0]}, head...)
	for _, c := range comps {
		out = append(out, c...)
	}
	out = append(out, lines[len(lines)-1])
	return append(out, tail...)
}
