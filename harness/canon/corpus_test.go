package canon

import (
	"encoding/base64"
	"strings"

	"github.com/firedrill/firedrill/harness/model"
)

// sample is a realistic body of one kind, as a device would write it.
type sample struct {
	name string
	kind model.Kind
	body string
}

// photoB64 is a small inline JPEG-like payload, long enough to need folding.
var photoB64 = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01photo-bytes-", 24)))

var samples = []sample{
	{"vcard3", model.KindContact, "BEGIN:VCARD\r\n" +
		"VERSION:3.0\r\n" +
		"PRODID:-//firedrill//workload//EN\r\n" +
		"UID:5f1c0c9e-3d7b-4f0e-9a51-0c2d6c1e7b42\r\n" +
		"FN:Zoë Ångström-Müller\r\n" +
		"N:Ångström-Müller;Zoë;Maria,Luise;Dr.;\r\n" +
		"NICKNAME:Zo\r\n" +
		"ORG:Ærø Fisk A/S;Nordic Sales\\; Exports\r\n" +
		"TITLE:Head of Sales\\, North\r\n" +
		"TEL;TYPE=CELL,VOICE:+46 70 123 45 67\r\n" +
		"TEL;TYPE=HOME:+46 8 555 01 00\r\n" +
		"TEL;TYPE=WORK;TYPE=FAX:+46 8 555 01 99\r\n" +
		"EMAIL;TYPE=INTERNET;TYPE=HOME:zoe@example.se\r\n" +
		"EMAIL;TYPE=INTERNET,WORK:z.mueller@aero-fisk.example\r\n" +
		"ADR;TYPE=HOME:;;Storgatan 12\\, lgh 1101;Stockholm;;114 51;Sweden\r\n" +
		"item1.X-ABLabel:Grandmother's place\r\n" +
		"item1.ADR:;;Kyrkvägen 3;Visby;;621 55;Sweden\r\n" +
		"BDAY:1984-02-29\r\n" +
		"CATEGORIES:family,friends\r\n" +
		"NOTE:Met at the ferry.\\nAllergic to peanuts\\; bring tea\\, not coffee.\r\n" +
		"PHOTO;ENCODING=b;TYPE=JPEG:" + photoB64 + "\r\n" +
		"REV:2024-03-01T10:11:12Z\r\n" +
		"END:VCARD\r\n"},
	{"vcard4", model.KindContact, "BEGIN:VCARD\r\n" +
		"VERSION:4.0\r\n" +
		"UID:urn:uuid:0e7c7a55-1f0b-4c43-8f5f-6f7e1d0a9b11\r\n" +
		"KIND:individual\r\n" +
		"FN:王小明\r\n" +
		"N:王;小明;;;\r\n" +
		"GENDER:M\r\n" +
		"TEL;VALUE=uri;PREF=1;TYPE=\"voice,cell\":tel:+86-138-0013-8000\r\n" +
		"TEL;VALUE=uri;TYPE=work:tel:+86-10-5555-0100;ext=42\r\n" +
		"EMAIL;PREF=1:xiaoming@example.cn\r\n" +
		"LANG;PREF=1:zh\r\n" +
		"LANG;PREF=2:en\r\n" +
		"TZ;VALUE=text:Asia/Shanghai\r\n" +
		"GEO:geo:39.9042,116.4074\r\n" +
		"URL:https://example.cn/~xiaoming\r\n" +
		"PHOTO:data:image/jpeg;base64," + photoB64 + "\r\n" +
		"ANNIVERSARY:20090915\r\n" +
		"END:VCARD\r\n"},
	{"event-tz-rrule", model.KindEvent, "BEGIN:VCALENDAR\r\n" +
		"VERSION:2.0\r\n" +
		"PRODID:-//firedrill//workload//EN\r\n" +
		"CALSCALE:GREGORIAN\r\n" +
		"BEGIN:VTIMEZONE\r\n" +
		"TZID:Europe/Berlin\r\n" +
		"BEGIN:DAYLIGHT\r\n" +
		"TZOFFSETFROM:+0100\r\n" +
		"TZOFFSETTO:+0200\r\n" +
		"TZNAME:CEST\r\n" +
		"DTSTART:19700329T020000\r\n" +
		"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n" +
		"END:DAYLIGHT\r\n" +
		"BEGIN:STANDARD\r\n" +
		"TZOFFSETFROM:+0200\r\n" +
		"TZOFFSETTO:+0100\r\n" +
		"TZNAME:CET\r\n" +
		"DTSTART:19701025T030000\r\n" +
		"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n" +
		"END:STANDARD\r\n" +
		"END:VTIMEZONE\r\n" +
		"BEGIN:VEVENT\r\n" +
		"UID:9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d\r\n" +
		"DTSTAMP:20240301T090000Z\r\n" +
		"DTSTART;TZID=Europe/Berlin:20240304T093000\r\n" +
		"DTEND;TZID=Europe/Berlin:20240304T100000\r\n" +
		"SUMMARY:Täglicher Abgleich – Übergabe\r\n" +
		"LOCATION:Raum 3.14\\, Gebäude B\r\n" +
		"DESCRIPTION:Agenda:\\n1. Status\\n2. Blocker\\; Risiken\r\n" +
		"RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20241231T230000Z\r\n" +
		"EXDATE;TZID=Europe/Berlin:20240311T093000,20240313T093000\r\n" +
		"ATTENDEE;CN=\"Jürgen Weiß\";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:j.weiss@example.de\r\n" +
		"ORGANIZER;CN=Anna Schmidt:mailto:anna@example.de\r\n" +
		"CATEGORIES:Arbeit,Team\r\n" +
		"SEQUENCE:2\r\n" +
		"BEGIN:VALARM\r\n" +
		"ACTION:DISPLAY\r\n" +
		"DESCRIPTION:Erinnerung\r\n" +
		"TRIGGER:-PT10M\r\n" +
		"END:VALARM\r\n" +
		"END:VEVENT\r\n" +
		"BEGIN:VEVENT\r\n" +
		"UID:9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d\r\n" +
		"DTSTAMP:20240301T090000Z\r\n" +
		"RECURRENCE-ID;TZID=Europe/Berlin:20240306T093000\r\n" +
		"DTSTART;TZID=Europe/Berlin:20240306T110000\r\n" +
		"DTEND;TZID=Europe/Berlin:20240306T113000\r\n" +
		"SUMMARY:Täglicher Abgleich (verschoben)\r\n" +
		"SEQUENCE:3\r\n" +
		"END:VEVENT\r\n" +
		"END:VCALENDAR\r\n"},
	{"event-allday", model.KindEvent, "BEGIN:VCALENDAR\r\n" +
		"VERSION:2.0\r\n" +
		"PRODID:-//firedrill//workload//EN\r\n" +
		"BEGIN:VEVENT\r\n" +
		"UID:allday-20240704@example.org\r\n" +
		"DTSTAMP:20240601T120000Z\r\n" +
		"DTSTART;VALUE=DATE:20240704\r\n" +
		"DTEND;VALUE=DATE:20240705\r\n" +
		"SUMMARY:Independence Day 🎆\r\n" +
		"TRANSP:TRANSPARENT\r\n" +
		"RRULE:FREQ=YEARLY\r\n" +
		"END:VEVENT\r\n" +
		"END:VCALENDAR\r\n"},
	{"todo", model.KindTodo, "BEGIN:VCALENDAR\r\n" +
		"VERSION:2.0\r\n" +
		"PRODID:-//firedrill//workload//EN\r\n" +
		"BEGIN:VTODO\r\n" +
		"UID:3c2f1e8a-todo-4a7b@example.org\r\n" +
		"DTSTAMP:20240310T080000Z\r\n" +
		"CREATED:20240301T080000Z\r\n" +
		"LAST-MODIFIED:20240310T080000Z\r\n" +
		"SUMMARY:Renew passport – bring 2 photos\r\n" +
		"DUE;VALUE=DATE-TIME:20240315T170000Z\r\n" +
		"COMPLETED:20240314T160512Z\r\n" +
		"STATUS:COMPLETED\r\n" +
		"PERCENT-COMPLETE:100\r\n" +
		"PRIORITY:1\r\n" +
		"END:VTODO\r\n" +
		"END:VCALENDAR\r\n"},
	{"journal", model.KindNote, "BEGIN:VCALENDAR\r\n" +
		"VERSION:2.0\r\n" +
		"PRODID:-//firedrill//workload//EN\r\n" +
		"BEGIN:VJOURNAL\r\n" +
		"UID:journal-7d2a@example.org\r\n" +
		"DTSTAMP:20240402T211500Z\r\n" +
		"DTSTART;VALUE=DATE:20240402\r\n" +
		"SUMMARY:Reisetagebuch\\, Tag 3\r\n" +
		"DESCRIPTION:" + strings.Repeat("Heute früh über den Fjord gefahren\\, dann Kaffee\\; später Regen.\\nΚαλημέρα — 早上好. ", 60) + "\r\n" +
		"CATEGORIES:travel\r\n" +
		"END:VJOURNAL\r\n" +
		"END:VCALENDAR\r\n"},
}

// corpusEvent is a recurring event in an IANA zone with an exception in a
// custom (non-IANA) zone: the body the rule cases below rewrite or damage.
const corpusEvent = "BEGIN:VCALENDAR\r\n" +
	"VERSION:2.0\r\n" +
	"PRODID:-//firedrill//corpus//EN\r\n" +
	"BEGIN:VTIMEZONE\r\n" +
	"TZID:Europe/Berlin\r\n" +
	"BEGIN:STANDARD\r\n" +
	"DTSTART:19701025T030000\r\n" +
	"TZOFFSETFROM:+0200\r\n" +
	"TZOFFSETTO:+0100\r\n" +
	"END:STANDARD\r\n" +
	"END:VTIMEZONE\r\n" +
	"BEGIN:VTIMEZONE\r\n" +
	"TZID:Customized Time Zone\r\n" +
	"BEGIN:STANDARD\r\n" +
	"DTSTART:16011104T020000\r\n" +
	"RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\n" +
	"TZOFFSETFROM:-0230\r\n" +
	"TZOFFSETTO:-0330\r\n" +
	"END:STANDARD\r\n" +
	"BEGIN:DAYLIGHT\r\n" +
	"DTSTART:16010311T020000\r\n" +
	"RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\n" +
	"TZOFFSETFROM:-0330\r\n" +
	"TZOFFSETTO:-0230\r\n" +
	"END:DAYLIGHT\r\n" +
	"END:VTIMEZONE\r\n" +
	"BEGIN:VEVENT\r\n" +
	"UID:corpus-1\r\n" +
	"DTSTAMP:20240301T090000Z\r\n" +
	"DTSTART;TZID=Europe/Berlin:20240304T093000\r\n" +
	"DURATION:PT60M\r\n" +
	"SUMMARY:Standup\r\n" +
	"DESCRIPTION:Room 1\\, then lunch\r\n" +
	"CATEGORIES:Work\\, Travel,Team\r\n" +
	"RESOURCES:Projector,Whiteboard\r\n" +
	"STATUS:CONFIRMED\r\n" +
	"RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20241231T230000Z\r\n" +
	"EXDATE;TZID=Europe/Berlin:20240311T093000,20240313T093000\r\n" +
	"EXDATE;TZID=Customized Time Zone:20240320T060000\r\n" +
	"RDATE;TZID=Europe/Berlin:20240316T120000\r\n" +
	"ATTENDEE;CN=Jürgen;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:j.weiss@example.de\r\n" +
	"ORGANIZER:mailto:anna@example.de\r\n" +
	"BEGIN:VALARM\r\n" +
	"ACTION:DISPLAY\r\n" +
	"DESCRIPTION:Reminder\r\n" +
	"TRIGGER:-P1D\r\n" +
	"END:VALARM\r\n" +
	"END:VEVENT\r\n" +
	"BEGIN:VEVENT\r\n" +
	"UID:corpus-1\r\n" +
	"DTSTAMP:20240301T090000Z\r\n" +
	"RECURRENCE-ID;TZID=Europe/Berlin:20240306T093000\r\n" +
	"DTSTART;TZID=Customized Time Zone:20240306T060000\r\n" +
	"DTEND;TZID=Customized Time Zone:20240306T063000\r\n" +
	"SUMMARY:Standup (moved)\r\n" +
	"END:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

// corpusCard3 and corpusCard4 are contacts with list values, structured
// names and addresses, dates and a photo.
const corpusCard3 = "BEGIN:VCARD\r\n" +
	"VERSION:3.0\r\n" +
	"UID:corpus-card-3\r\n" +
	"FN:Anna Müller\r\n" +
	"N:Müller;Anna;Maria,Luise;Dr.;\r\n" +
	"NICKNAME:Anni,Nane\r\n" +
	"ORG:Müller\\, Söhne & Co;Vertrieb\r\n" +
	"EMAIL;TYPE=INTERNET,HOME:anna@example.de\r\n" +
	"TEL;TYPE=CELL:+49 151 1234567\r\n" +
	"ADR;TYPE=HOME:;;c/o Weiß,Hauptstraße 5\\, Hinterhaus;Berlin;;10115;Deutschland\r\n" +
	"CATEGORIES:Familie,Work\\, Travel\r\n" +
	"BDAY:1975-04-01\r\n" +
	"PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ==\r\n" +
	"REV:2024-03-01T10:11:12Z\r\n" +
	"X-SIDEKICK-RINGTONE:Jump\r\n" +
	"END:VCARD\r\n"

const corpusCard4 = "BEGIN:VCARD\r\n" +
	"VERSION:4.0\r\n" +
	"UID:urn:uuid:0e7c7a55-1f0b-4c43-8f5f-6f7e1d0a9b11\r\n" +
	"KIND:individual\r\n" +
	"FN:Léa Girard\r\n" +
	"N:Girard;Léa;;;\r\n" +
	"TEL;VALUE=uri;TYPE=\"cell,voice\":tel:+33-6-12-34-56-78\r\n" +
	"TEL;VALUE=uri:tel:+33-1-23-45-67-89\r\n" +
	"EMAIL;TYPE=work:lea@example.fr\r\n" +
	"BDAY:19750401\r\n" +
	"ANNIVERSARY:--0915\r\n" +
	"END:VCARD\r\n"
