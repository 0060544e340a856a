package canon

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"github.com/firedrill/firedrill/harness/model"
)

func mustDigest(t *testing.T, k model.Kind, body string) model.Digest {
	t.Helper()
	d, err := Digest(k, []byte(body))
	if err != nil {
		t.Fatalf("Digest(%s): %v\n%s", k, err, body)
	}
	return d
}

// TestEquivalentBodies rewrites each sample the way servers do and expects
// the same digest.
func TestEquivalentBodies(t *testing.T) {
	rewrites := []struct {
		name string
		f    func(string) string
	}{
		{"LF line ends", func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }},
		{"folded at 75", func(s string) string { return fold(s, 75, "\r\n ") }},
		{"folded at 1 with tabs", func(s string) string { return fold(s, 1, "\n\t") }},
		{"PRODID replaced", func(s string) string {
			return strings.Replace(s, "PRODID:-//firedrill//workload//EN", "PRODID:-//Server Inc//syncd 1.0//EN", 1)
		}},
		{"PRODID added", func(s string) string {
			i := strings.Index(s, "\r\n") + 2
			return s[:i] + "PRODID:-//Other//EN\r\n" + s[i:]
		}},
		{"lower-case names", func(s string) string {
			return strings.NewReplacer("SUMMARY:", "summary:", "TEL;TYPE", "tel;type", "DTSTART;TZID", "DtStart;tzid", "FN:", "fn:").Replace(s)
		}},
		{"properties reversed", reverseProps},
		{"commas unescaped in one-valued text", func(s string) string {
			return strings.NewReplacer(`Sales\, North`, "Sales, North", `3.14\, Geb`, "3.14, Geb").Replace(s)
		}},
		{"newline escape upper-case", func(s string) string { return strings.ReplaceAll(s, `\n`, `\N`) }},
		{"VTIMEZONE dropped", func(s string) string {
			i, j := strings.Index(s, "BEGIN:VTIMEZONE"), strings.Index(s, "END:VTIMEZONE\r\n")
			if i < 0 {
				return s
			}
			return s[:i] + s[j+len("END:VTIMEZONE\r\n"):]
		}},
		{"CALSCALE dropped", func(s string) string { return strings.Replace(s, "CALSCALE:GREGORIAN\r\n", "", 1) }},
		{"params quoted and reordered", func(s string) string {
			return strings.NewReplacer("TYPE=CELL,VOICE", `TYPE="voice";TYPE=cell`,
				"ATTENDEE;CN=\"Jürgen Weiß\";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED", "ATTENDEE;PARTSTAT=ACCEPTED;role=REQ-PARTICIPANT;CN=Jürgen Weiß",
				";VALUE=DATE-TIME:", ":").Replace(s)
		}},
		{"EXDATE split", func(s string) string {
			return strings.Replace(s, "EXDATE;TZID=Europe/Berlin:20240311T093000,20240313T093000",
				"EXDATE;TZID=Europe/Berlin:20240313T093000\r\nEXDATE;TZID=Europe/Berlin:20240311T093000", 1)
		}},
		{"RRULE parts reordered", func(s string) string {
			return strings.Replace(s, "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20241231T230000Z", "RRULE:UNTIL=20241231T230000Z;FREQ=WEEKLY;BYDAY=MO,WE,FR", 1)
		}},
		{"N trailing components trimmed", func(s string) string { return strings.Replace(s, "N:王;小明;;;", "N:王;小明", 1) }},
		{"BOM", func(s string) string { return "\xef\xbb\xbf" + s }},
	}
	for _, s := range samples {
		want := mustDigest(t, s.kind, s.body)
		for _, rw := range rewrites {
			got := mustDigest(t, s.kind, rw.f(s.body))
			if got != want {
				c1, _ := Canonical(s.kind, []byte(s.body))
				c2, _ := Canonical(s.kind, []byte(rw.f(s.body)))
				t.Errorf("%s, %s: digest changed; diff: %q", s.name, rw.name, Diff(s.kind, c1, c2))
			}
		}
	}
}

// TestLibraryRoundTrip passes every sample through go-vcard or go-ical, as a
// server built on them (go-webdav) does, and expects the same digest.
func TestLibraryRoundTrip(t *testing.T) {
	for _, s := range samples {
		if s.kind == model.KindContact {
			// go-vcard turns an escaped semicolon in a text value into an
			// escaped backslash and a separator, and merges comma lists into
			// one value: real changes, see TestGoVcardSemicolonIsAChange and
			// TestGoVcardListsAreAChange.
			s.body = strings.NewReplacer(`\;`, ",", "family,friends", "family", "Maria,Luise", "Maria").Replace(s.body)
		}
		var out bytes.Buffer
		if s.kind == model.KindContact {
			card, err := vcard.NewDecoder(strings.NewReader(s.body)).Decode()
			if err != nil {
				t.Fatalf("%s: go-vcard decode: %v", s.name, err)
			}
			card.SetValue(vcard.FieldProductID, "-//emersion//go-vcard//EN")
			if err := vcard.NewEncoder(&out).Encode(card); err != nil {
				t.Fatalf("%s: go-vcard encode: %v", s.name, err)
			}
		} else {
			cal, err := ical.NewDecoder(strings.NewReader(s.body)).Decode()
			if err != nil {
				t.Fatalf("%s: go-ical decode: %v", s.name, err)
			}
			cal.Props.SetText(ical.PropProductID, "-//emersion//go-ical//EN")
			if err := ical.NewEncoder(&out).Encode(cal); err != nil {
				t.Fatalf("%s: go-ical encode: %v", s.name, err)
			}
		}
		if got, want := mustDigest(t, s.kind, out.String()), mustDigest(t, s.kind, s.body); got != want {
			t.Errorf("%s: digest changed by the library round trip: %q\n%s", s.name, Diff(s.kind, []byte(s.body), out.Bytes()), out.String())
		}
	}
}

// TestChangedValues changes one property value at a time and expects a new
// digest and a Diff naming that property.
func TestChangedValues(t *testing.T) {
	changes := []struct {
		sample, from, to, prop string
	}{
		{"vcard3", "TEL;TYPE=HOME:+46 8 555 01 00", "TEL;TYPE=HOME:+46 8 555 01 01", "TEL;TYPE=home"},
		{"vcard3", "FN:Zoë Ångström-Müller", "FN:Zoe Angstrom-Muller", "FN"},
		{"vcard3", `ORG:Ærø Fisk A/S;Nordic Sales\; Exports`, `ORG:Ærø Fisk A/S;Nordic Sales; Exports`, "ORG"},
		{"vcard3", "TEL;TYPE=HOME:", "TEL;TYPE=WORK:", "TEL;TYPE=home"},
		{"vcard3", "PHOTO;ENCODING=b;TYPE=JPEG:/9j/", "PHOTO;ENCODING=b;TYPE=JPEG:/9k/", "PHOTO;ENCODING=b;TYPE=jpeg"},
		{"vcard3", "REV:2024-03-01T10:11:12Z\r\n", "", "REV"},
		{"vcard4", "N:王;小明;;;", "N:王;小朋;;;", "N"},
		{"event-tz-rrule", "SUMMARY:Täglicher Abgleich (verschoben)", "SUMMARY:Täglicher Abgleich", "VEVENT[RECURRENCE-ID=20240306T083000Z]: SUMMARY"},
		{"event-tz-rrule", "DTSTART;TZID=Europe/Berlin:20240304T093000", "DTSTART;TZID=Europe/London:20240304T093000", "VEVENT: DTSTART"},
		{"event-tz-rrule", "BYDAY=MO,WE,FR", "BYDAY=MO,WE", "VEVENT: RRULE"},
		{"event-tz-rrule", "TRIGGER:-PT10M", "TRIGGER:-PT15M", "VEVENT/VALARM: TRIGGER"},
		{"event-allday", "DTSTART;VALUE=DATE:20240704", "DTSTART;VALUE=DATE:20240703", "VEVENT: DTSTART;VALUE=DATE"},
		{"todo", "COMPLETED:20240314T160512Z\r\n", "", "VTODO: COMPLETED"},
		{"todo", "DUE;VALUE=DATE-TIME:20240315T170000Z", "DUE;VALUE=DATE-TIME:20240316T170000Z", "VTODO: DUE"},
		{"journal", "Kaffee\\; später", "Kaffee\\; spater", "VJOURNAL: DESCRIPTION"},
	}
	byName := map[string]sample{}
	for _, s := range samples {
		byName[s.name] = s
	}
	for _, c := range changes {
		s := byName[c.sample]
		if !strings.Contains(s.body, c.from) {
			t.Fatalf("%s: sample lacks %q", c.sample, c.from)
		}
		changed := strings.Replace(s.body, c.from, c.to, 1)
		if mustDigest(t, s.kind, changed) == mustDigest(t, s.kind, s.body) {
			t.Errorf("%s: %q -> %q did not change the digest", c.sample, c.from, c.to)
			continue
		}
		diff := Diff(s.kind, []byte(s.body), []byte(changed))
		if len(diff) == 0 || !strings.HasPrefix(diff[0], c.prop) {
			t.Errorf("%s: %q -> %q: Diff = %q, want a line starting %q", c.sample, c.from, c.to, diff, c.prop)
		}
	}
}

// TestGoVcardSemicolonIsAChange documents that go-vcard's decode/encode round
// trip changes a text value holding an escaped ';' ("a\;b" comes back as
// "a\\;b", a literal backslash), and that the digest catches it.
func TestGoVcardSemicolonIsAChange(t *testing.T) {
	body := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nNOTE:tea\\; not coffee\r\nEND:VCARD\r\n"
	out := goVcardRoundTrip(t, body)
	if mustDigest(t, model.KindContact, out.String()) == mustDigest(t, model.KindContact, body) {
		t.Fatalf("go-vcard round trip %q -> %q kept the digest; it changes the NOTE", body, out.String())
	}
	d := Diff(model.KindContact, []byte(body), out.Bytes())
	if len(d) != 1 || d[0] != `NOTE: "tea; not coffee" -> "tea\\; not coffee"` {
		t.Errorf("Diff = %q", d)
	}
}

// TestGoVcardListsAreAChange documents that go-vcard's decode/encode round
// trip escapes the commas between the values of a list (CATEGORIES:a,b comes
// back as CATEGORIES:a\,b, one value), and that the digest catches it.
func TestGoVcardListsAreAChange(t *testing.T) {
	body := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nN:Doe;Jane;Maria,Luise;;\r\nCATEGORIES:family,friends\r\nEND:VCARD\r\n"
	out := goVcardRoundTrip(t, body)
	d := Diff(model.KindContact, []byte(body), out.Bytes())
	want := []string{`CATEGORIES: "family" -> "family\,friends"`, `CATEGORIES: "friends" -> missing`, `N: "Doe;Jane;Maria,Luise" -> "Doe;Jane;Maria\,Luise"`}
	if strings.Join(d, "\n") != strings.Join(want, "\n") {
		t.Errorf("go-vcard round trip %q -> %q: Diff = %q, want %q", body, out.String(), d, want)
	}
}

// goVcardRoundTrip decodes and encodes body with go-vcard, as a server built
// on it would store it.
func goVcardRoundTrip(t *testing.T, body string) *bytes.Buffer {
	t.Helper()
	card, err := vcard.NewDecoder(strings.NewReader(body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := vcard.NewEncoder(&out).Encode(card); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestDiffFormat(t *testing.T) {
	want := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=cell:+1 555 0100\r\nEND:VCARD\r\n"
	got := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anne\r\nEMAIL:ann@example.org\r\nEND:VCARD\r\n"
	d := Diff(model.KindContact, []byte(want), []byte(got))
	expect := []string{
		`FN: "Ann" -> "Anne"`,
		`TEL;TYPE=cell: "+1 555 0100" -> missing`,
		`EMAIL;TYPE=internet: missing -> "ann@example.org"`,
	}
	if strings.Join(d, "\n") != strings.Join(expect, "\n") {
		t.Errorf("Diff = %q, want %q", d, expect)
	}
	if d := Diff(model.KindContact, []byte(want), []byte(want)); d != nil {
		t.Errorf("Diff of equal bodies = %q, want nil", d)
	}
	if d := Diff(model.KindPhoto, []byte("abcdef"), []byte("abXdef")); len(d) != 1 || d[0] != "bytes: 6 -> 6, first difference at offset 2" {
		t.Errorf("photo Diff = %q", d)
	}
	if d := Diff(model.KindContact, []byte(want), []byte("garbage")); len(d) != 1 || !strings.HasPrefix(d[0], "got: parse vcard: ") {
		t.Errorf("Diff against garbage = %q", d)
	}
}

func TestBadBodies(t *testing.T) {
	card := samples[0].body
	cal := samples[2].body
	cases := []struct {
		name string
		kind model.Kind
		body string
		want string
	}{
		{"empty", model.KindContact, "", "parse vcard: no BEGIN line"},
		{"garbage", model.KindContact, "\x00\x01\x02 not a card at all", "parse vcard: line 1"},
		{"truncated vcard", model.KindContact, card[:len(card)/2], "parse vcard: "},
		{"truncated icalendar", model.KindEvent, cal[:len(cal)-40], "parse icalendar: "},
		{"END mismatch", model.KindEvent, strings.Replace(cal, "END:VALARM", "END:VEVENT", 1), "closes BEGIN:VALARM"},
		{"vcard as event", model.KindEvent, card, "top-level component is VCARD, want VCALENDAR"},
		{"event as todo", model.KindTodo, cal, "no VTODO component"},
		{"unterminated quote", model.KindContact, "BEGIN:VCARD\nFN;X=\"abc:x\nEND:VCARD\n", "unterminated quoted value"},
		{"param without colon", model.KindEvent, "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=Foo\nEND:VEVENT\nEND:VCALENDAR\n", "no ':' after the value"},
		{"unknown kind", model.Kind(42), card, "unknown kind"},
	}
	for _, c := range cases {
		_, err := Canonical(c.kind, []byte(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestBytesKinds(t *testing.T) {
	body := []byte("\x89PNG\r\n\x1a\nnot really a png")
	for _, k := range []model.Kind{model.KindPhoto, model.KindAppData} {
		c, err := Canonical(k, body)
		if err != nil || !bytes.Equal(c, body) {
			t.Fatalf("Canonical(%s) = %q, %v; want the body", k, c, err)
		}
		d, _ := Digest(k, body)
		sum := sha256.Sum256(body)
		if !bytes.Equal(d[:], sum[:16]) {
			t.Errorf("Digest(%s) = %s, want the first 16 bytes of SHA-256", k, d)
		}
	}
}

func TestIdempotent(t *testing.T) {
	for _, s := range samples {
		c1, err := Canonical(s.kind, []byte(s.body))
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Canonical(s.kind, c1)
		if err != nil {
			t.Fatalf("%s: canonical text does not parse: %v", s.name, err)
		}
		if !bytes.Equal(c1, c2) {
			t.Errorf("%s: Canonical not idempotent:\n%s\n---\n%s", s.name, c1, c2)
		}
	}
}

// fold folds every line longer than width bytes with sep, splitting anywhere,
// even inside a UTF-8 sequence as some servers do.
func fold(s string, width int, sep string) string {
	nl := "\r\n"
	if !strings.Contains(s, nl) {
		nl = "\n"
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, nl) {
		body := strings.TrimSuffix(l, nl)
		for len(body) > width {
			b.WriteString(body[:width] + sep)
			body = body[width:]
		}
		b.WriteString(body + l[len(strings.TrimSuffix(l, nl)):])
	}
	return b.String()
}

// reverseProps reverses the order of the properties inside each component,
// keeping BEGIN/END lines and nested components in place.
func reverseProps(s string) string {
	return strings.Join(reverseLines(strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")), "\r\n") + "\r\n"
}

// TestConcurrentDigest digests the same bodies from several goroutines: the
// pooled workspaces must never mix two bodies.
func TestConcurrentDigest(t *testing.T) {
	all := fuzzSamples()
	want := make([]model.Digest, len(all))
	for i, s := range all {
		want[i] = mustDigest(t, s.kind, s.body)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 20; round++ {
				for i := range all {
					j := (i + g*7 + round) % len(all)
					d, err := Digest(all[j].kind, []byte(all[j].body))
					if err != nil || d != want[j] {
						errs <- fmt.Sprintf("goroutine %d: %s: digest %s, err %v; want %s", g, all[j].name, d, err, want[j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestDiffMissingComponentOnce: a lost component is one line, not one per
// component inside it.
func TestDiffMissingComponentOnce(t *testing.T) {
	i := strings.Index(corpusEvent, "BEGIN:VTIMEZONE\r\nTZID:Customized")
	j := strings.Index(corpusEvent, "BEGIN:VEVENT")
	got := corpusEvent[:i] + corpusEvent[j:]
	d := Diff(model.KindEvent, []byte(corpusEvent), []byte(got))
	if len(d) != 1 || d[0] != "VTIMEZONE[TZID=Customized Time Zone]: component missing" {
		t.Errorf("Diff = %q", d)
	}
	if d := Diff(model.KindEvent, []byte(got), []byte(corpusEvent)); len(d) != 1 || d[0] != "VTIMEZONE[TZID=Customized Time Zone]: unexpected component" {
		t.Errorf("reverse Diff = %q", d)
	}
}

// TestIANAZones: the embedded database decides which TZIDs are IANA zones,
// by exact name.
func TestIANAZones(t *testing.T) {
	for tzid, want := range map[string]bool{
		"Europe/Berlin": true, "America/New_York": true, "UTC": true, "Etc/GMT+5": true, "US/Eastern": true,
		"europe/berlin": false, "W. Europe Standard Time": false, "Customized Time Zone": false,
		"/mozilla.org/20050126_1/Europe/Berlin": false, "": false, "../../etc/passwd": false,
	} {
		if got := isIANA([]byte(tzid)); got != want {
			t.Errorf("isIANA(%q) = %v, want %v", tzid, got, want)
		}
	}
	berlin := zones.lookup([]byte("Europe/Berlin"))
	if got := toUTC(dateTime{y: 2024, mo: 7, d: 1, h: 12, hasTime: true}, berlin); got.h != 10 || !got.utc {
		t.Errorf("12:00 Europe/Berlin in July = %+v, want 10:00Z", got)
	}
}
