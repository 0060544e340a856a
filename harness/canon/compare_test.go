package canon

import (
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
)

// TestCompare: what a server manages is "rewritten by the server", listed,
// never damage; everything else the device wrote is damage.
func TestCompare(t *testing.T) {
	cases := []struct {
		name     string
		kind     model.Kind
		want     string
		prepare  []string // applied to want first
		repl     []string // want -> got
		verdict  Verdict
		rewrites []string // substrings, one per expected rewrite line
		damage   []string // substrings, one per expected damage line
	}{
		{name: "same meaning", kind: model.KindEvent, want: corpusEvent, repl: ev("DURATION:PT60M", "DURATION:PT1H"), verdict: Intact},
		{name: "DTSTAMP", kind: model.KindEvent, want: corpusEvent, repl: ev("DTSTAMP:20240301T090000Z", "DTSTAMP:20250101T120000Z"), verdict: Rewritten,
			rewrites: []string{`VEVENT: DTSTAMP rewritten by the server: "20240301T090000Z" -> "20250101T120000Z"`}},
		{name: "LAST-MODIFIED added, CREATED removed", kind: model.KindEvent, want: corpusEvent, prepare: ev("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\nCREATED:20240301T080000Z\r\n"),
			repl: ev("CREATED:20240301T080000Z\r\n", "LAST-MODIFIED:20250101T120000Z\r\n"), verdict: Rewritten,
			rewrites: []string{`VEVENT: CREATED removed by the server: "20240301T080000Z"`, `VEVENT: LAST-MODIFIED added by the server: "20250101T120000Z"`}},
		{name: "SEQUENCE raised", kind: model.KindEvent, want: corpusEvent, repl: ev("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\nSEQUENCE:1\r\n"), verdict: Rewritten,
			rewrites: []string{`VEVENT: SEQUENCE raised by the server: "0" -> "1"`}},
		{name: "SEQUENCE lowered: an older version", kind: model.KindEvent, want: corpusEvent, prepare: ev("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\nSEQUENCE:3\r\n"),
			repl: ev("SEQUENCE:3", "SEQUENCE:2"), verdict: Damaged, damage: []string{`VEVENT: SEQUENCE: "3" -> "2"`}},
		{name: "SCHEDULE-STATUS set", kind: model.KindEvent, want: corpusEvent, repl: ev("ATTENDEE;CN=Jürgen;", "ATTENDEE;SCHEDULE-STATUS=1.2;CN=Jürgen;"), verdict: Rewritten,
			rewrites: []string{`VEVENT: ATTENDEE "mailto:j.weiss@example.de": SCHEDULE-STATUS set by the server: 1.2`}},
		{name: "PARTSTAT reset on a reschedule", kind: model.KindEvent, want: corpusEvent,
			repl: ev("PARTSTAT=ACCEPTED;", "PARTSTAT=NEEDS-ACTION;RSVP=TRUE;SCHEDULE-STATUS=1.1;"), verdict: Rewritten,
			rewrites: []string{"PARTSTAT reset by the server on a reschedule: ACCEPTED -> NEEDS-ACTION", "RSVP=TRUE set by the server on a reschedule", "SCHEDULE-STATUS set by the server: 1.1"}},
		{name: "PARTSTAT changed otherwise", kind: model.KindEvent, want: corpusEvent, repl: ev("PARTSTAT=ACCEPTED", "PARTSTAT=DECLINED"), verdict: Damaged,
			damage: []string{`VEVENT: ATTENDEE "mailto:j.weiss@example.de": PARTSTAT: "ACCEPTED" -> "DECLINED"`}},
		{name: "a parameter lost beside a server's", kind: model.KindEvent, want: corpusEvent, repl: ev("CN=Jürgen;", "SCHEDULE-STATUS=2.0;"), verdict: Damaged,
			rewrites: []string{"SCHEDULE-STATUS set by the server: 2.0"}, damage: []string{`VEVENT: ATTENDEE "mailto:j.weiss@example.de": CN: "Jürgen" -> missing`}},
		{name: "SCHEDULE-FORCE-SEND consumed", kind: model.KindEvent, want: corpusEvent, prepare: ev("ATTENDEE;", "ATTENDEE;SCHEDULE-FORCE-SEND=REQUEST;"),
			repl: ev("SCHEDULE-FORCE-SEND=REQUEST;", ""), verdict: Rewritten, rewrites: []string{"SCHEDULE-FORCE-SEND=REQUEST consumed by the server"}},
		{name: "X- property and parameter added", kind: model.KindEvent, want: corpusEvent,
			repl: ev("SUMMARY:Standup\r\n", "SUMMARY:Standup\r\nX-MOZ-GENERATION:2\r\n", "ATTENDEE;", "ATTENDEE;X-NUM-GUESTS=0;"), verdict: Rewritten,
			rewrites: []string{`VEVENT: ATTENDEE "mailto:j.weiss@example.de": X-NUM-GUESTS=0 added by the server`, `VEVENT: X-MOZ-GENERATION added by the server: "2"`}},
		{name: "X- property the device wrote, lost", kind: model.KindContact, want: corpusCard3, repl: ev("X-SIDEKICK-RINGTONE:Jump\r\n", ""), verdict: Damaged,
			damage: []string{`X-SIDEKICK-RINGTONE: "Jump" -> missing`}},
		{name: "X- property the device wrote, changed", kind: model.KindContact, want: corpusCard3, repl: ev("RINGTONE:Jump", "RINGTONE:Classic"), verdict: Damaged,
			damage: []string{`X-SIDEKICK-RINGTONE: "Jump" -> "Classic"`}},
		{name: "REV", kind: model.KindContact, want: corpusCard3, repl: ev("REV:2024-03-01T10:11:12Z", "REV:2025-01-01T00:00:00Z"), verdict: Rewritten,
			rewrites: []string{`REV rewritten by the server: "20240301T101112Z" -> "20250101T000000Z"`}},
		{name: "damage beside a rewrite", kind: model.KindEvent, want: corpusEvent,
			repl: ev("DTSTAMP:20240301T090000Z\r\nDTSTART", "DTSTAMP:20250101T120000Z\r\nDTSTART", "SUMMARY:Standup\r\n", "SUMMARY:Stand-up\r\n"), verdict: Damaged,
			rewrites: []string{"VEVENT: DTSTAMP rewritten by the server"}, damage: []string{`VEVENT: SUMMARY: "Standup" -> "Stand-up"`}},
		{name: "component lost", kind: model.KindEvent, want: corpusEvent,
			repl: ev("BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-P1D\r\nEND:VALARM\r\n", ""), verdict: Damaged, damage: []string{"VEVENT/VALARM: component missing"}},
		{name: "served body unreadable", kind: model.KindEvent, want: corpusEvent, repl: ev("END:VCALENDAR\r\n", ""), verdict: Damaged, damage: []string{"got: parse icalendar: BEGIN:VCALENDAR without END"}},
	}
	for _, c := range cases {
		want := replaceAll(t, 0, c.want, c.prepare)
		got := replaceAll(t, 0, want, c.repl)
		for _, served := range []string{got, string(mustCanonical(t, c.kind, got))} {
			if len(c.damage) > 0 && strings.HasPrefix(c.damage[0], "got: ") && served != got {
				continue // an unreadable body has no canonical form
			}
			cmp := Compare(c.kind, []byte(want), []byte(served))
			if cmp.Verdict != c.verdict {
				t.Errorf("%s: verdict %s, want %s; rewrites %q, damage %q", c.name, cmp.Verdict, c.verdict, cmp.Rewrites, cmp.Damage)
				continue
			}
			checkLines(t, c.name+": rewrites", cmp.Rewrites, c.rewrites)
			checkLines(t, c.name+": damage", cmp.Damage, c.damage)
		}
	}
}

// checkLines wants one line of got per substring of want, in order, and no
// other lines.
func checkLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %q, want %d lines like %q", what, got, len(want), want)
		return
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("%s: line %d %q, want it to contain %q", what, i, got[i], want[i])
		}
	}
}

func mustCanonical(t *testing.T, k model.Kind, body string) []byte {
	t.Helper()
	c, err := Canonical(k, []byte(body))
	if err != nil {
		return []byte(body) // an unreadable body is served as it is
	}
	return c
}

func TestCompareBytesAndUnknown(t *testing.T) {
	if c := Compare(model.KindPhoto, []byte("abc"), []byte("abc")); c.Verdict != Intact {
		t.Errorf("equal photo: %+v", c)
	}
	if c := Compare(model.KindPhoto, []byte("abc"), []byte("abd")); c.Verdict != Damaged || len(c.Damage) != 1 || !strings.Contains(c.Damage[0], "offset 2") {
		t.Errorf("changed photo: %+v", c)
	}
	c := Compare(model.KindContact, []byte("not a card"), []byte(corpusCard3))
	if c.Verdict != Unknown || !strings.Contains(c.Reason, "the written body does not parse") {
		t.Errorf("unreadable written body: %+v", c)
	}
	for v, s := range map[Verdict]string{Intact: "intact", Rewritten: "rewritten by the server", Damaged: "damaged", Unknown: "unknown"} {
		if v.String() != s {
			t.Errorf("Verdict(%d).String() = %q, want %q", v, v.String(), s)
		}
	}
}
