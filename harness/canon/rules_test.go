package canon

import (
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
)

// rcase is one rule case: got is want with replacements applied, and the
// two must digest equal (a rewrite) or differ (damage), with a Diff holding
// show when given.
type rcase struct {
	rule    string
	kind    model.Kind
	want    string
	repl    []string // pairs: old, new (each must occur in want)
	equal   bool
	show    string   // a substring of Diff's output, for damage
	prepare []string // replacements applied to want first, for a variant of the base body
}

func ev(repl ...string) []string { return repl }

var ruleCases = []rcase{
	// Durations compared as values; calendar days apart from exact time.
	{rule: "duration", kind: model.KindEvent, want: corpusEvent, repl: ev("DURATION:PT60M", "DURATION:PT1H"), equal: true},
	{rule: "duration", kind: model.KindEvent, want: corpusEvent, repl: ev("DURATION:PT60M", "DURATION:PT3600S"), equal: true},
	{rule: "duration", kind: model.KindEvent, want: corpusEvent, repl: ev("TRIGGER:-P1D", "TRIGGER:-P1DT0H0M0S"), equal: true},
	{rule: "duration", kind: model.KindEvent, want: corpusEvent, prepare: ev("TRIGGER:-P1D", "TRIGGER:-P7D"), repl: ev("TRIGGER:-P7D", "TRIGGER:-P1W"), equal: true},
	{rule: "duration", kind: model.KindEvent, want: corpusEvent, repl: ev("TRIGGER:-P1D", "TRIGGER:-PT24H"), show: `TRIGGER;RELATED=START: "-P1D" -> "-PT24H"`},
	{rule: "duration", kind: model.KindEvent, want: corpusEvent, repl: ev("DURATION:PT60M", "DURATION:PT2H"), show: `DURATION: "PT1H" -> "PT2H"`},
	// Case-insensitive enumerations and URI schemes; text keeps its case.
	{rule: "case", kind: model.KindEvent, want: corpusEvent, repl: ev("PARTSTAT=ACCEPTED", "PARTSTAT=accepted"), equal: true},
	{rule: "case", kind: model.KindEvent, want: corpusEvent, repl: ev("STATUS:CONFIRMED", "STATUS:confirmed", "ACTION:DISPLAY", "ACTION:Display"), equal: true},
	{rule: "case", kind: model.KindEvent, want: corpusEvent, repl: ev(":mailto:j.weiss", ":MAILTO:j.weiss"), equal: true},
	{rule: "case", kind: model.KindContact, want: corpusCard4, repl: ev(":tel:+33-6", ":TEL:+33-6", "KIND:individual", "KIND:Individual"), equal: true},
	{rule: "case", kind: model.KindEvent, want: corpusEvent, repl: ev("PARTSTAT=ACCEPTED", "PARTSTAT=DECLINED"), show: "ATTENDEE;CN=Jürgen"},
	{rule: "case", kind: model.KindEvent, want: corpusEvent, repl: ev("SUMMARY:Standup\r\n", "SUMMARY:standup\r\n"), show: `SUMMARY: "Standup" -> "standup"`},
	{rule: "case", kind: model.KindEvent, want: corpusEvent, repl: ev("mailto:j.weiss@", "mailto:J.Weiss@"), show: `"mailto:j.weiss@example.de" -> "mailto:J.Weiss@example.de"`},
	// RFC defaults made explicit on both sides.
	{rule: "defaults", kind: model.KindEvent, want: corpusEvent, repl: ev("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\nTRANSP:OPAQUE\r\nSEQUENCE:0\r\nCLASS:PUBLIC\r\nPRIORITY:0\r\n"), equal: true},
	{rule: "defaults", kind: model.KindEvent, want: corpusEvent, repl: ev("UNTIL=20241231T230000Z", "UNTIL=20241231T230000Z;INTERVAL=1;WKST=MO", "VERSION:2.0", "VERSION:2.0\r\nCALSCALE:GREGORIAN"), equal: true},
	{rule: "defaults", kind: model.KindEvent, want: corpusEvent, repl: ev(";ROLE=REQ-PARTICIPANT:", ";RSVP=FALSE;CUTYPE=INDIVIDUAL:", "TRIGGER:", "TRIGGER;RELATED=START;VALUE=DURATION:", "DTSTART;TZID=Europe/Berlin:", "DTSTART;VALUE=DATE-TIME;TZID=Europe/Berlin:"), equal: true},
	{rule: "defaults", kind: model.KindContact, want: corpusCard4, repl: ev("KIND:individual\r\n", "", ";TYPE=\"cell,voice\"", ";TYPE=cell;TYPE=voice"), equal: true},
	{rule: "defaults", kind: model.KindContact, want: corpusCard4, repl: ev("TEL;VALUE=uri:", "TEL;VALUE=uri;TYPE=VOICE:"), equal: true},
	{rule: "defaults", kind: model.KindContact, want: corpusCard3, repl: ev("EMAIL;TYPE=INTERNET,HOME:", "EMAIL;TYPE=HOME:"), equal: true},
	{rule: "defaults", kind: model.KindEvent, want: corpusEvent, repl: ev("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\nTRANSP:TRANSPARENT\r\n"), show: `TRANSP: "OPAQUE" -> "TRANSPARENT"`},
	{rule: "defaults", kind: model.KindEvent, want: corpusEvent, repl: ev("UNTIL=20241231T230000Z", "UNTIL=20241231T230000Z;INTERVAL=2"), show: "INTERVAL=2"},
	{rule: "defaults", kind: model.KindEvent, want: corpusEvent, repl: ev("ROLE=REQ-PARTICIPANT", "ROLE=OPT-PARTICIPANT"), show: "ROLE=OPT-PARTICIPANT"},
	{rule: "defaults", kind: model.KindContact, want: corpusCard4, repl: ev("KIND:individual", "KIND:group"), show: `KIND: "individual" -> "group"`},
	{rule: "defaults", kind: model.KindContact, want: corpusCard3, repl: ev("EMAIL;TYPE=INTERNET,HOME:", "EMAIL;TYPE=X400,HOME:"), show: "EMAIL;TYPE=home,x400"},
	// RRULE BYxxx lists as sets.
	{rule: "rrule", kind: model.KindEvent, want: corpusEvent, repl: ev("BYDAY=MO,WE", "BYDAY=WE,MO"), equal: true},
	{rule: "rrule", kind: model.KindEvent, want: corpusEvent, repl: ev("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20241231T230000Z", "RRULE:until=20241231T230000Z;byday=we,mo,MO;freq=weekly"), equal: true},
	{rule: "rrule", kind: model.KindEvent, want: corpusEvent, repl: ev("BYDAY=MO,WE", "BYDAY=MO,FR"), show: "BYDAY=FR,MO"},
	{rule: "rrule", kind: model.KindEvent, want: corpusEvent, repl: ev("BYDAY=MO,WE", "BYDAY=MO"), show: "BYDAY=MO;"},
	// Multi-valued text: multisets split at unescaped commas.
	{rule: "lists", kind: model.KindEvent, want: corpusEvent, repl: ev("CATEGORIES:Work\\, Travel,Team", "CATEGORIES:Team\r\nCATEGORIES:Work\\, Travel"), equal: true},
	{rule: "lists", kind: model.KindEvent, want: corpusEvent, repl: ev("RESOURCES:Projector,Whiteboard", "RESOURCES:Whiteboard,Projector"), equal: true},
	{rule: "lists", kind: model.KindContact, want: corpusCard3, repl: ev("NICKNAME:Anni,Nane", "NICKNAME:Nane\r\nNICKNAME:Anni"), equal: true},
	{rule: "lists", kind: model.KindEvent, want: corpusEvent, repl: ev("CATEGORIES:Work\\, Travel,Team", "CATEGORIES:Work, Travel,Team"), show: `CATEGORIES: "Work\, Travel" -> " Travel"`},
	{rule: "lists", kind: model.KindEvent, want: corpusEvent, repl: ev("CATEGORIES:Work\\, Travel,Team", "CATEGORIES:Work\\, Travel\\,Team"), show: `"Work\, Travel\,Team"`},
	{rule: "lists", kind: model.KindContact, want: corpusCard3, repl: ev("CATEGORIES:Familie,Work\\, Travel", "CATEGORIES:Familie,Work,Travel"), show: `CATEGORIES: "Work\, Travel" -> "Travel"`},
	{rule: "lists", kind: model.KindEvent, want: corpusEvent, repl: ev("RESOURCES:Projector,Whiteboard", "RESOURCES:Projector"), show: `RESOURCES: "Whiteboard" -> missing`},
	// N and ADR: components of comma-separated values, in order.
	{rule: "name-lists", kind: model.KindContact, want: corpusCard3, repl: ev("N:Müller;Anna;Maria,Luise;Dr.;", "N:Müller;Anna;Maria,Luise;Dr."), equal: true},
	{rule: "name-lists", kind: model.KindContact, want: corpusCard3, repl: ev("ORG:Müller\\, Söhne & Co", "ORG:Müller, Söhne & Co"), equal: true},
	{rule: "name-lists", kind: model.KindContact, want: corpusCard3, repl: ev("Maria,Luise", "Maria\\,Luise"), show: `N: "Müller;Anna;Maria,Luise;Dr." -> "Müller;Anna;Maria\,Luise;Dr."`},
	{rule: "name-lists", kind: model.KindContact, want: corpusCard3, repl: ev("Hauptstraße 5\\, Hinterhaus", "Hauptstraße 5, Hinterhaus"), show: "ADR;TYPE=home"},
	{rule: "name-lists", kind: model.KindContact, want: corpusCard3, repl: ev("c/o Weiß,Hauptstraße", "c/o Weiß\\,Hauptstraße"), show: "ADR;TYPE=home"},
	{rule: "name-lists", kind: model.KindContact, want: corpusCard3, repl: ev("Maria,Luise", "Luise,Maria"), show: `"Müller;Anna;Luise,Maria;Dr."`},
	// vCard dates in one form.
	{rule: "vcard-dates", kind: model.KindContact, want: corpusCard3, repl: ev("BDAY:1975-04-01", "BDAY:19750401", "REV:2024-03-01T10:11:12Z", "REV:20240301T101112Z"), equal: true},
	{rule: "vcard-dates", kind: model.KindContact, want: corpusCard4, repl: ev("BDAY:19750401", "BDAY:1975-04-01", "ANNIVERSARY:--0915", "ANNIVERSARY:--09-15"), equal: true},
	{rule: "vcard-dates", kind: model.KindContact, want: corpusCard3, repl: ev("REV:2024-03-01T10:11:12Z", "REV:2024-03-01T11:11:12+01:00"), show: `REV: "20240301T101112Z" -> "20240301T111112+0100"`},
	{rule: "vcard-dates", kind: model.KindContact, want: corpusCard3, repl: ev("BDAY:1975-04-01", "BDAY:1975-04-02"), show: `BDAY: "19750401" -> "19750402"`},
	{rule: "vcard-dates", kind: model.KindContact, want: corpusCard4, repl: ev("BDAY:19750401", "BDAY:--0401"), show: `BDAY: "19750401" -> "--0401"`},
	// EXDATE, RDATE, RECURRENCE-ID as instants in IANA zones; DTSTART and DTEND as written.
	{rule: "instants", kind: model.KindEvent, want: corpusEvent, repl: ev("EXDATE;TZID=Europe/Berlin:20240311T093000,20240313T093000", "EXDATE:20240313T083000Z,20240311T083000Z"), equal: true},
	{rule: "instants", kind: model.KindEvent, want: corpusEvent, repl: ev("EXDATE;TZID=Europe/Berlin:20240311T093000,20240313T093000", "EXDATE:20240311T083000Z\r\nEXDATE;TZID=Europe/Berlin:20240313T093000"), equal: true},
	{rule: "instants", kind: model.KindEvent, want: corpusEvent, repl: ev("RDATE;TZID=Europe/Berlin:20240316T120000", "RDATE:20240316T110000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20240306T093000", "RECURRENCE-ID:20240306T083000Z"), equal: true},
	{rule: "instants", kind: model.KindEvent, want: corpusEvent, repl: ev("EXDATE;TZID=Europe/Berlin:20240311T093000,", "EXDATE:20240311T093000Z\r\nEXDATE;TZID=Europe/Berlin:"), show: `EXDATE: "20240311T083000Z" -> "20240311T093000Z"`},
	{rule: "instants", kind: model.KindEvent, want: corpusEvent, repl: ev("EXDATE;TZID=Europe/Berlin:", "EXDATE;TZID=Europe/London:"), show: "EXDATE"},
	{rule: "instants", kind: model.KindEvent, want: corpusEvent, repl: ev("DTSTART;TZID=Europe/Berlin:20240304T093000", "DTSTART:20240304T083000Z"), show: "DTSTART"},
	{rule: "instants", kind: model.KindEvent, want: corpusEvent, repl: ev("EXDATE;TZID=Customized Time Zone:20240320T060000", "EXDATE:20240320T093000Z"), show: "EXDATE;TZID=Customized Time Zone"},
	// VTIMEZONE ignored only for IANA zones.
	{rule: "vtimezone", kind: model.KindEvent, want: corpusEvent, repl: ev("TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100", "TZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900"), equal: true},
	{rule: "vtimezone", kind: model.KindEvent, want: corpusEvent, repl: ev("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n", ""), equal: true},
	{rule: "vtimezone", kind: model.KindEvent, want: corpusEvent, repl: ev("TZOFFSETFROM:-0230\r\nTZOFFSETTO:-0330", "TZOFFSETTO:-033000\r\nTZOFFSETFROM:-0230", "VERSION:2.0\r\n", "VERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Nobody's Zone\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"), equal: true},
	{rule: "vtimezone", kind: model.KindEvent, want: corpusEvent, repl: ev("TZOFFSETFROM:-0230\r\nTZOFFSETTO:-0330", "TZOFFSETFROM:-0230\r\nTZOFFSETTO:-0300"), show: `VTIMEZONE[TZID=Customized Time Zone]/STANDARD: TZOFFSETTO: "-0330" -> "-0300"`},
	{rule: "vtimezone", kind: model.KindEvent, want: corpusEvent, repl: ev("BYDAY=2SU;BYMONTH=3", "BYDAY=1SU;BYMONTH=3"), show: "VTIMEZONE[TZID=Customized Time Zone]/DAYLIGHT: RRULE"},
	{rule: "vtimezone", kind: model.KindEvent, want: corpusEvent, repl: ev("BEGIN:DAYLIGHT\r\nDTSTART:16010311T020000\r\nRRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nTZOFFSETFROM:-0330\r\nTZOFFSETTO:-0230\r\nEND:DAYLIGHT\r\n", ""), show: "VTIMEZONE[TZID=Customized Time Zone]/DAYLIGHT: component missing"},
	// Text in NFC, invisible differences shown.
	{rule: "text", kind: model.KindEvent, want: corpusEvent, repl: ev("CN=Jürgen", "CN=Ju\u0308rgen", "(moved) e\u0301", "(moved) \u00e9"), prepare: ev("SUMMARY:Standup (moved)", "SUMMARY:Standup (moved) e\u0301"), equal: true},
	{rule: "text", kind: model.KindEvent, want: corpusEvent, repl: ev("CN=Jürgen", "CN=Jurgen"), show: "CN=Jurgen"},
	{rule: "text", kind: model.KindEvent, want: corpusEvent, repl: ev("SUMMARY:Standup\r\n", "SUMMARY:Standup \r\n"), show: `SUMMARY: "Standup" -> "Standup "`},
	{rule: "text", kind: model.KindEvent, want: corpusEvent, repl: ev("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\r\n"), show: `SUMMARY: "Standup" -> "Standup\r"`},
	{rule: "text", kind: model.KindEvent, want: corpusEvent, repl: ev("Room 1\\, then", "Room\u00a01\\, then"), show: `"Room\u{00A0}1, then lunch"`},
	{rule: "text", kind: model.KindEvent, want: corpusEvent, repl: ev("SUMMARY:Standup\r\n", "SUMMARY:St\u0430ndup\r\n"), show: "(U+0061 vs U+0430)"},
	{rule: "text", kind: model.KindEvent, want: corpusEvent, repl: ev("SUMMARY:Standup\r\n", "SUMMARY:Standup\u200b\r\n"), show: `"Standup\u{200B}"`},
	// Inline binary.
	{rule: "binary", kind: model.KindContact, want: corpusCard3, repl: ev(":/9j/4AAQSkZJRgABAQ==", ":/9j/4AAQ\r\n  SkZJRgABAQ"), equal: true},
	{rule: "binary", kind: model.KindContact, want: corpusCard3, repl: ev(":/9j/4AAQSkZJRgABAQ==", ":/9j/4AAQSkZJRgABAg=="), show: "PHOTO;ENCODING=b;TYPE=jpeg"},
}

// TestRuleCorpus: every rule of the canonical form has at least one rewrite
// that must keep the digest and one damage that must change it, with a Diff
// that names it.
func TestRuleCorpus(t *testing.T) {
	kinds := map[string][2]int{}
	for i, c := range ruleCases {
		want := replaceAll(t, i, c.want, c.prepare)
		got := replaceAll(t, i, want, c.repl)
		dw, dg := mustDigest(t, c.kind, want), mustDigest(t, c.kind, got)
		d := Diff(c.kind, []byte(want), []byte(got))
		n := kinds[c.rule]
		switch {
		case c.equal:
			n[0]++
			if dw != dg {
				t.Errorf("case %d (%s): a rewrite changed the digest: %q", i, c.rule, d)
			}
		default:
			n[1]++
			if dw == dg {
				t.Errorf("case %d (%s): damage %q kept the digest", i, c.rule, c.repl)
			} else if !strings.Contains(strings.Join(d, "\n"), c.show) {
				t.Errorf("case %d (%s): Diff = %q, want it to show %q", i, c.rule, d, c.show)
			}
		}
		kinds[c.rule] = n
	}
	for rule, n := range kinds {
		if n[0] == 0 || n[1] == 0 {
			t.Errorf("rule %s has %d rewrites and %d damages: want at least one of each", rule, n[0], n[1])
		}
	}
}

// replaceAll applies old, new pairs to s; each old must occur.
func replaceAll(t *testing.T, i int, s string, repl []string) string {
	t.Helper()
	for j := 0; j+1 < len(repl); j += 2 {
		if !strings.Contains(s, repl[j]) {
			t.Fatalf("case %d: body lacks %q", i, repl[j])
		}
		s = strings.Replace(s, repl[j], repl[j+1], 1)
	}
	return s
}

// TestReportedMisses: the damage that passed before (measured against
// Radicale, Xandikos, DAViCal and Cyrus) must change the digest.
func TestReportedMisses(t *testing.T) {
	misses := []struct {
		name, body, old, new string
		kind                 model.Kind
	}{
		{"CATEGORIES split at an escaped comma", corpusEvent, "CATEGORIES:Work\\, Travel,Team", "CATEGORIES:Work, Travel,Team", model.KindEvent},
		{"CATEGORIES merged at an escaped comma", corpusCard3, "CATEGORIES:Familie,Work\\, Travel", "CATEGORIES:Familie\\,Work\\, Travel", model.KindContact},
		{"N component split at an escaped comma", corpusCard3, "N:Müller;Anna;Maria,Luise", "N:Müller;Anna;Maria\\,Luise", model.KindContact},
		{"ADR component split at an escaped comma", corpusCard3, "Hauptstraße 5\\, Hinterhaus", "Hauptstraße 5, Hinterhaus", model.KindContact},
		{"ADR component merged at a comma", corpusCard3, "c/o Weiß,Hauptstraße", "c/o Weiß\\,Hauptstraße", model.KindContact},
		{"custom VTIMEZONE damaged", corpusEvent, "TZOFFSETTO:-0230", "TZOFFSETTO:-0200", model.KindEvent},
	}
	for _, m := range misses {
		damaged := strings.Replace(m.body, m.old, m.new, 1)
		if damaged == m.body {
			t.Fatalf("%s: body lacks %q", m.name, m.old)
		}
		if mustDigest(t, m.kind, damaged) == mustDigest(t, m.kind, m.body) {
			t.Errorf("%s: the digest did not change", m.name)
		}
	}
}
