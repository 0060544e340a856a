package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	dateTimeFormat = "20060102T150405"
	dateFormat     = "20060102"
	utcFormat      = "20060102T150405Z"
)

// zones are the time zones events use, each with the VTIMEZONE a phone sends.
var zones = []struct{ id, vtimezone string }{
	{"Europe/Berlin", `BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE`},
	{"America/New_York", `BEGIN:VTIMEZONE
TZID:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE`},
	{"America/Los_Angeles", `BEGIN:VTIMEZONE
TZID:America/Los_Angeles
BEGIN:DAYLIGHT
TZOFFSETFROM:-0800
TZOFFSETTO:-0700
TZNAME:PDT
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0700
TZOFFSETTO:-0800
TZNAME:PST
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE`},
	{"Asia/Tokyo", `BEGIN:VTIMEZONE
TZID:Asia/Tokyo
BEGIN:STANDARD
TZOFFSETFROM:+0900
TZOFFSETTO:+0900
TZNAME:JST
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE`},
	{"Asia/Kolkata", `BEGIN:VTIMEZONE
TZID:Asia/Kolkata
BEGIN:STANDARD
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
TZNAME:IST
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE`},
	{"Australia/Sydney", `BEGIN:VTIMEZONE
TZID:Australia/Sydney
BEGIN:STANDARD
TZOFFSETFROM:+1100
TZOFFSETTO:+1000
TZNAME:AEST
DTSTART:20080406T030000
RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU
END:STANDARD
BEGIN:DAYLIGHT
TZOFFSETFROM:+1000
TZOFFSETTO:+1100
TZNAME:AEDT
DTSTART:20081005T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=1SU
END:DAYLIGHT
END:VTIMEZONE`},
}

func (w *lines) vtimezone(i int) {
	for _, l := range strings.Split(zones[i].vtimezone, "\n") {
		w.line(l)
	}
}

func (w *lines) calendarHeader() {
	w.line("BEGIN:VCALENDAR")
	w.line("VERSION:2.0")
	w.line("PRODID:-//firedrill//simulated phone//EN")
	w.line("CALSCALE:GREGORIAN")
}

// stamps writes DTSTAMP, CREATED, LAST-MODIFIED and SEQUENCE for an item version.
func (w *lines) stamps(version int) {
	w.prop("DTSTAMP", "", stamp(version).Format(utcFormat))
	w.prop("CREATED", "", stamp(0).Format(utcFormat))
	w.prop("LAST-MODIFIED", "", stamp(version).Format(utcFormat))
	w.prop("SEQUENCE", "", itoa(version))
}

// wall is a local wall-clock time (the time.Time's location is unused).
func wallTime(r *rand.Rand) time.Time {
	day := epoch.AddDate(0, 0, r.IntN(540)-60)
	if day.Day() > 28 { // keep monthly recurrences on every month
		day = day.AddDate(0, 0, -3)
	}
	return day.Add(time.Duration(7*60+15*r.IntN(52)) * time.Minute)
}

// event writes a VCALENDAR with one VEVENT: timed with a TZID, all-day, UTC, or
// recurring with RECURRENCE-ID exceptions and EXDATEs. The shape and zone come from
// id, the details from v.
func (g *Generator) event(id, v *rand.Rand, uid string, version int) []byte {
	shape := id.IntN(100)
	zone := id.IntN(len(zones))
	tzid := ";TZID=" + zones[zone].id
	var w lines
	w.calendarHeader()
	const (
		timed     = 35
		allDay    = 55
		utc       = 65
		recurring = 100
	)
	if shape < timed || shape >= utc {
		w.vtimezone(zone)
	}
	start := wallTime(v)
	dur := time.Duration(30*between(v, 1, 6)) * time.Minute
	summary := pick(v, eventTitles)

	w.line("BEGIN:VEVENT")
	w.prop("UID", "", uid)
	w.stamps(version)
	switch {
	case shape < timed:
		w.prop("DTSTART", tzid, start.Format(dateTimeFormat))
		w.prop("DTEND", tzid, start.Add(dur).Format(dateTimeFormat))
	case shape < allDay:
		d := start.Truncate(24 * time.Hour)
		w.prop("DTSTART", ";VALUE=DATE", d.Format(dateFormat))
		w.prop("DTEND", ";VALUE=DATE", d.AddDate(0, 0, between(v, 1, 3)).Format(dateFormat))
		if chance(id, 0.4) { // birthdays and anniversaries
			w.prop("RRULE", "", "FREQ=YEARLY")
		}
		w.prop("TRANSP", "", "TRANSPARENT")
	case shape < utc:
		w.prop("DTSTART", "", start.Format(utcFormat))
		w.prop("DURATION", "", fmt.Sprintf("PT%dM", int(dur.Minutes())))
	}
	w.text("SUMMARY", "", summary)
	if chance(v, 0.5) {
		w.text("LOCATION", "", pick(v, locations))
	}
	if chance(v, 0.4) {
		w.text("DESCRIPTION", "", pick(v, sentences)+"\n"+pick(v, sentences))
	}
	if chance(v, 0.3) {
		c := pick(v, cultures)
		i := v.IntN(len(c.given))
		j := v.IntN(len(c.family))
		w.prop("ORGANIZER", ";CN="+quote("Sidekick User"), "mailto:owner@example.com")
		w.prop("ATTENDEE", ";CN="+quote(c.given[i]+" "+c.family[j])+";PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT",
			"mailto:"+c.romGiven[i]+"."+c.romFamily[j]+"@"+pick(v, emailDomains))
	}
	if shape >= utc { // recurring, in a time zone
		w.prop("DTSTART", tzid, start.Format(dateTimeFormat))
		w.prop("DTEND", tzid, start.Add(dur).Format(dateTimeFormat))
		count := between(v, 4, 20)
		freq := pick(v, []struct {
			rule string
			step func(time.Time, int) time.Time
		}{
			{"FREQ=WEEKLY", func(t time.Time, k int) time.Time { return t.AddDate(0, 0, 7*k) }},
			{"FREQ=DAILY;INTERVAL=2", func(t time.Time, k int) time.Time { return t.AddDate(0, 0, 2*k) }},
			{"FREQ=MONTHLY", func(t time.Time, k int) time.Time { return t.AddDate(0, k, 0) }},
		})
		w.prop("RRULE", "", fmt.Sprintf("%s;COUNT=%d", freq.rule, count))
		ks := v.Perm(count - 1)
		if chance(v, 0.3) {
			w.prop("EXDATE", tzid, freq.step(start, 1+ks[len(ks)-1]).Format(dateTimeFormat))
		}
		alarm(&w, v)
		w.line("END:VEVENT")
		for e := 0; e < between(v, 0, min(2, count-2)); e++ {
			occ := freq.step(start, 1+ks[e])
			moved := occ.Add(time.Duration(between(v, 1, 3)) * time.Hour)
			w.line("BEGIN:VEVENT")
			w.prop("UID", "", uid)
			w.stamps(version)
			w.prop("RECURRENCE-ID", tzid, occ.Format(dateTimeFormat))
			w.prop("DTSTART", tzid, moved.Format(dateTimeFormat))
			w.prop("DTEND", tzid, moved.Add(dur).Format(dateTimeFormat))
			w.text("SUMMARY", "", summary+" (moved)")
			w.line("END:VEVENT")
		}
	} else {
		alarm(&w, v)
		w.line("END:VEVENT")
	}
	w.line("END:VCALENDAR")
	return w.Bytes()
}

func alarm(w *lines, v *rand.Rand) {
	if !chance(v, 0.4) {
		return
	}
	w.line("BEGIN:VALARM")
	w.line("ACTION:DISPLAY")
	w.text("DESCRIPTION", "", "Reminder")
	w.prop("TRIGGER", "", pick(v, []string{"-PT15M", "-PT1H", "-P1D"}))
	w.line("END:VALARM")
}

// todo writes a VCALENDAR with one VTODO: a due date (with a TZID or all-day),
// a priority, and sometimes COMPLETED.
func (g *Generator) todo(id, v *rand.Rand, uid string, version int) []byte {
	zone := id.IntN(len(zones))
	timedDue := chance(id, 0.5)
	var w lines
	w.calendarHeader()
	if timedDue {
		w.vtimezone(zone)
	}
	w.line("BEGIN:VTODO")
	w.prop("UID", "", uid)
	w.stamps(version)
	w.text("SUMMARY", "", pick(v, todoTitles))
	if chance(v, 0.3) {
		w.text("DESCRIPTION", "", pick(v, sentences))
	}
	due := wallTime(v)
	if timedDue {
		w.prop("DUE", ";TZID="+zones[zone].id, due.Format(dateTimeFormat))
	} else {
		w.prop("DUE", ";VALUE=DATE", due.Format(dateFormat))
	}
	w.prop("PRIORITY", "", itoa(pick(v, []int{0, 1, 2, 5, 5, 9})))
	switch {
	case chance(v, 0.35):
		w.line("STATUS:COMPLETED")
		w.prop("COMPLETED", "", stamp(version).Add(-time.Hour).Format(utcFormat))
		w.line("PERCENT-COMPLETE:100")
	case chance(v, 0.3):
		w.line("STATUS:IN-PROCESS")
		w.prop("PERCENT-COMPLETE", "", itoa(10*between(v, 1, 9)))
	default:
		w.line("STATUS:NEEDS-ACTION")
	}
	if chance(v, 0.3) {
		w.prop("CATEGORIES", "", escape(pick(v, categories)))
	}
	w.line("END:VTODO")
	w.line("END:VCALENDAR")
	return w.Bytes()
}

// note writes a VCALENDAR with one VJOURNAL whose DESCRIPTION has the size the
// profile's note distribution picks (at most 64 KiB of text).
func (g *Generator) note(id, v *rand.Rand, uid string, version int) []byte {
	var w lines
	w.calendarHeader()
	w.line("BEGIN:VJOURNAL")
	w.prop("UID", "", uid)
	w.stamps(version)
	w.prop("DTSTART", ";VALUE=DATE", wallTime(id).Format(dateFormat))
	w.text("SUMMARY", "", pick(v, noteTitles)+" "+itoa(1+id.IntN(999)))
	w.text("DESCRIPTION", "", prose(v, size(v, g.p.NoteSizes)))
	if chance(v, 0.4) {
		w.prop("CATEGORIES", "", escape(pick(v, categories)))
	}
	w.line("STATUS:FINAL")
	w.line("END:VJOURNAL")
	w.line("END:VCALENDAR")
	return w.Bytes()
}

// prose returns n bytes or fewer (never splitting a character) of multilingual text
// in paragraphs.
func prose(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		s := pick(r, sentences)
		switch {
		case b.Len() == 0:
		case chance(r, 0.15):
			b.WriteString("\n\n")
		default:
			b.WriteString(" ")
		}
		b.WriteString(s)
	}
	s := b.String()
	if len(s) > n {
		s = s[:n]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}
