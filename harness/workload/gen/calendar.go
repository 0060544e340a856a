package gen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	dateTimeFormat = "20060102T150405"
	dateFormat     = "20060102"
	utcFormat      = "20060102T150405Z"
)

// zone is a time zone events use: its TZID, its standard offset from UTC in
// minutes, and the VTIMEZONE a phone sends.
type zone struct {
	id        string
	std       int
	vtimezone string
}

// zones are the time zones events and to-dos use: first the IANA zones
// (numIANA of them), then custom zones whose TZID is not in the IANA
// database, as Outlook and Exchange write them: their VTIMEZONE is the only
// definition there is.
var zones = []zone{
	{"Europe/Berlin", 60, `BEGIN:VTIMEZONE
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
	{"America/New_York", -300, `BEGIN:VTIMEZONE
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
	{"America/Los_Angeles", -480, `BEGIN:VTIMEZONE
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
	{"Asia/Tokyo", 540, `BEGIN:VTIMEZONE
TZID:Asia/Tokyo
BEGIN:STANDARD
TZOFFSETFROM:+0900
TZOFFSETTO:+0900
TZNAME:JST
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE`},
	{"Asia/Kolkata", 330, `BEGIN:VTIMEZONE
TZID:Asia/Kolkata
BEGIN:STANDARD
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
TZNAME:IST
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE`},
	{"Australia/Sydney", 600, `BEGIN:VTIMEZONE
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
	{"W. Europe Standard Time", 60, `BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16011028T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE`},
	{"Customized Time Zone", -210, `BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16011104T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11
TZOFFSETFROM:-0230
TZOFFSETTO:-0330
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010311T020000
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3
TZOFFSETFROM:-0330
TZOFFSETTO:-0230
END:DAYLIGHT
END:VTIMEZONE`},
}

// numIANA is how many of zones are IANA zones.
const numIANA = 6

// customZoneShare is the share of timed and recurring events in a custom zone.
const customZoneShare = 0.15

// pickZone returns an event's zone: a custom one for customZoneShare of
// events, an IANA zone otherwise.
func pickZone(id *rand.Rand) int {
	if chance(id, customZoneShare) {
		return numIANA + id.IntN(len(zones)-numIANA)
	}
	return id.IntN(numIANA)
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

// event writes a VCALENDAR with one VEVENT: timed in a time zone, all-day, UTC,
// or recurring with RECURRENCE-ID exceptions, EXDATEs and RDATEs. A share of
// the zoned ones is in a custom (non-IANA) zone, and a share gives a DURATION
// instead of a DTEND. The shape and zone come from id, the details from v.
func (g *Generator) event(id, v *rand.Rand, uid string, version int) []byte {
	shape := id.IntN(100)
	zi := pickZone(id)
	z := zones[zi]
	tzid := ";TZID=" + z.id
	var w lines
	w.calendarHeader()
	const (
		timed     = 35
		allDay    = 55
		utc       = 65
		recurring = 100
	)
	if shape < timed || shape >= utc {
		w.vtimezone(zi)
	}
	start := wallTime(v)
	dur := time.Duration(30*between(v, 1, 6)) * time.Minute
	summary := pick(v, eventTitles)
	useDuration := chance(v, durationShare)

	w.line("BEGIN:VEVENT")
	w.prop("UID", "", uid)
	w.stamps(version)
	switch {
	case shape < timed:
		w.prop("DTSTART", tzid, start.Format(dateTimeFormat))
		w.end(tzid, start, dur, useDuration)
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
		w.prop("CATEGORIES", "", categoryList(v, 2))
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
		g.recurrence(&w, v, uid, version, z, start, dur, summary, useDuration)
	} else {
		alarm(&w, v)
		w.line("END:VEVENT")
	}
	w.line("END:VCALENDAR")
	return w.Bytes()
}

// durationShare is the share of timed events that give a DURATION instead of
// a DTEND.
const durationShare = 0.25

// end writes an event's end: a DTEND in the zone, or a DURATION in minutes
// (as phones write it, PT90M rather than PT1H30M).
func (w *lines) end(tzid string, start time.Time, dur time.Duration, useDuration bool) {
	if useDuration {
		w.prop("DURATION", "", fmt.Sprintf("PT%dM", int(dur.Minutes())))
		return
	}
	w.prop("DTEND", tzid, start.Add(dur).Format(dateTimeFormat))
}

// rule is a recurrence a phone offers: its RRULE parts but the end, and the
// occurrences it gives from a start.
type rule struct {
	parts string
	occur func(start time.Time, n int) []time.Time
}

// rules returns the recurrences for an event starting at start: weekly on
// the start's weekday and one or two more (BYDAY listed from the start's
// day, as a phone's picker does), weekly, every other day, monthly.
func rules(v *rand.Rand, start time.Time) []rule {
	days := []time.Weekday{start.Weekday()}
	for _, d := range v.Perm(7) {
		if len(days) < 1+between(v, 1, 2) && time.Weekday(d) != start.Weekday() {
			days = append(days, time.Weekday(d))
		}
	}
	var byday []string
	for _, d := range days {
		byday = append(byday, strings.ToUpper(d.String()[:2]))
	}
	step := func(k func(time.Time, int) time.Time) func(time.Time, int) []time.Time {
		return func(t time.Time, n int) []time.Time {
			out := make([]time.Time, n)
			for i := range out {
				out[i] = k(t, i)
			}
			return out
		}
	}
	return []rule{
		{"FREQ=WEEKLY;BYDAY=" + strings.Join(byday, ","), func(t time.Time, n int) []time.Time {
			var out []time.Time
			for d := t; len(out) < n; d = d.AddDate(0, 0, 1) {
				if slices.Contains(days, d.Weekday()) {
					out = append(out, d)
				}
			}
			return out
		}},
		{"FREQ=WEEKLY", step(func(t time.Time, k int) time.Time { return t.AddDate(0, 0, 7*k) })},
		{"FREQ=DAILY;INTERVAL=2", step(func(t time.Time, k int) time.Time { return t.AddDate(0, 0, 2*k) })},
		{"FREQ=MONTHLY", step(func(t time.Time, k int) time.Time { return t.AddDate(0, k, 0) })},
	}
}

// recurrence writes the rest of a recurring event: DTSTART, its end, the
// RRULE ending by COUNT or by UNTIL, a multi-value EXDATE, an RDATE, an alarm,
// then up to two RECURRENCE-ID exceptions.
func (g *Generator) recurrence(w *lines, v *rand.Rand, uid string, version int, z zone, start time.Time, dur time.Duration, summary string, useDuration bool) {
	tzid := ";TZID=" + z.id
	w.prop("DTSTART", tzid, start.Format(dateTimeFormat))
	w.end(tzid, start, dur, useDuration)
	count := between(v, 4, 20)
	r := pick(v, rules(v, start))
	occ := r.occur(start, count)
	if chance(v, 0.4) {
		// UNTIL is in UTC (RFC 5545 3.3.10): the last occurrence's wall clock
		// less the zone's standard offset is at or after that occurrence
		// whether or not daylight time applies, and before the next one.
		until := occ[len(occ)-1].Add(-time.Duration(z.std) * time.Minute)
		w.prop("RRULE", "", r.parts+";UNTIL="+until.Format(utcFormat))
	} else {
		w.prop("RRULE", "", fmt.Sprintf("%s;COUNT=%d", r.parts, count))
	}
	ks := v.Perm(count - 1) // occurrences after the first, in random order
	exceptions := between(v, 0, min(2, count-2))
	if chance(v, 0.4) {
		var ex []string
		for _, k := range ks[exceptions:min(len(ks), exceptions+between(v, 1, 3))] {
			ex = append(ex, occ[1+k].Format(dateTimeFormat))
		}
		w.prop("EXDATE", tzid, strings.Join(ex, ","))
	}
	if chance(v, 0.25) { // extra occurrences, off the rule's time of day
		var rd []string
		for n := between(v, 1, 2); n > 0; n-- {
			rd = append(rd, occ[v.IntN(len(occ))].Add(time.Duration(between(v, 1, 3))*time.Hour+30*time.Minute).Format(dateTimeFormat))
		}
		slices.Sort(rd)
		w.prop("RDATE", tzid, strings.Join(slices.Compact(rd), ","))
	}
	alarm(w, v)
	w.line("END:VEVENT")
	for e := 0; e < exceptions; e++ {
		o := occ[1+ks[e]]
		moved := o.Add(time.Duration(between(v, 1, 3)) * time.Hour)
		w.line("BEGIN:VEVENT")
		w.prop("UID", "", uid)
		w.stamps(version)
		w.prop("RECURRENCE-ID", tzid, o.Format(dateTimeFormat))
		w.prop("DTSTART", tzid, moved.Format(dateTimeFormat))
		w.prop("DTEND", tzid, moved.Add(dur).Format(dateTimeFormat))
		w.text("SUMMARY", "", summary+" (moved)")
		w.line("END:VEVENT")
	}
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
	zone := id.IntN(numIANA)
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
		w.prop("CATEGORIES", "", categoryList(v, 2))
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
		w.prop("CATEGORIES", "", categoryList(v, 3))
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

// categoryList returns a CATEGORIES value of one to max distinct categories.
func categoryList(v *rand.Rand, max int) string {
	n := between(v, 1, max)
	var cs []string
	for _, i := range v.Perm(len(categories))[:n] {
		cs = append(cs, categories[i])
	}
	return list(cs...)
}
