package canon

// valueKind says how a property's value is compared.
type valueKind uint8

const (
	vText       valueKind = iota // one TEXT value: escapes resolved, NFC; the default for unknown and X- properties
	vList                        // TEXT values separated by unescaped commas, compared as a multiset
	vStructured                  // ';'-separated TEXT components (ORG, GEO, REQUEST-STATUS, CLIENTPIDMAP)
	vNameLists                   // N and ADR: ';'-separated components, each a sequence of comma-separated values
	vGender                      // GENDER: an enumerated sex component, then TEXT
	vEnum                        // an enumerated value, case-insensitive: written upper-case
	vEnumLower                   // an enumerated vCard value (KIND): written lower-case
	vInteger                     // INTEGER: sign and leading zeros dropped
	vDateTime                    // DATE or DATE-TIME in the zone it names (DTSTART, DTEND, DUE, stamps)
	vInstant                     // a DATE-TIME compared as an instant when its zone is IANA (RECURRENCE-ID)
	vDateList                    // EXDATE, RDATE: comma-separated dates, date-times or periods, each an instant when IANA
	vDuration                    // DURATION: weeks and days apart from exact time
	vRecur                       // RECUR rule: parts and BYxxx lists as sets, defaults explicit
	vUTCOffset                   // UTC-OFFSET: +HHMM, seconds only when not zero
	vURI                         // URI or CAL-ADDRESS: scheme in lower case
	vCardDate                    // vCard date, date-time or timestamp: ISO 8601 basic form
	vPeriods                     // FREEBUSY: comma-separated periods
	vBinary                      // inline binary data (ENCODING=b or BASE64): standard padded base64
)

// propInfo is what the canonical form knows about one property.
type propInfo struct {
	kind valueKind
	// defaultType is the VALUE type that restates the default; an explicit
	// VALUE of this type is dropped ("" when VALUE is always kept).
	defaultType string
}

// iCalendar properties (RFC 5545 section 3.7 and 3.8, RFC 7986, RFC 9074).
var icalProps = map[string]propInfo{
	"CALSCALE": {vEnum, "TEXT"}, "METHOD": {vEnum, "TEXT"},
	"CATEGORIES": {vList, "TEXT"}, "RESOURCES": {vList, "TEXT"},
	"CLASS": {vEnum, "TEXT"}, "STATUS": {vEnum, "TEXT"}, "TRANSP": {vEnum, "TEXT"},
	"ACTION": {vEnum, "TEXT"}, "BUSYTYPE": {vEnum, "TEXT"},
	"COMMENT": {vText, "TEXT"}, "DESCRIPTION": {vText, "TEXT"}, "LOCATION": {vText, "TEXT"},
	"SUMMARY": {vText, "TEXT"}, "CONTACT": {vText, "TEXT"}, "RELATED-TO": {vText, "TEXT"},
	"UID": {vText, "TEXT"}, "TZID": {vText, "TEXT"}, "TZNAME": {vText, "TEXT"},
	"NAME": {vText, "TEXT"}, "COLOR": {vText, "TEXT"}, "VERSION": {vText, "TEXT"},
	"GEO": {vStructured, "FLOAT"}, "REQUEST-STATUS": {vStructured, "TEXT"},
	"PERCENT-COMPLETE": {vInteger, "INTEGER"}, "PRIORITY": {vInteger, "INTEGER"},
	"SEQUENCE": {vInteger, "INTEGER"}, "REPEAT": {vInteger, "INTEGER"},
	"DTSTART": {vDateTime, "DATE-TIME"}, "DTEND": {vDateTime, "DATE-TIME"}, "DUE": {vDateTime, "DATE-TIME"},
	"DTSTAMP": {vDateTime, "DATE-TIME"}, "CREATED": {vDateTime, "DATE-TIME"},
	"LAST-MODIFIED": {vDateTime, "DATE-TIME"}, "COMPLETED": {vDateTime, "DATE-TIME"},
	"ACKNOWLEDGED":  {vDateTime, "DATE-TIME"},
	"RECURRENCE-ID": {vInstant, "DATE-TIME"},
	"EXDATE":        {vDateList, "DATE-TIME"}, "RDATE": {vDateList, "DATE-TIME"},
	"DURATION": {vDuration, "DURATION"}, "TRIGGER": {vDuration, "DURATION"},
	"REFRESH-INTERVAL": {vDuration, "DURATION"},
	"RRULE":            {vRecur, "RECUR"}, "EXRULE": {vRecur, "RECUR"},
	"TZOFFSETFROM": {vUTCOffset, "UTC-OFFSET"}, "TZOFFSETTO": {vUTCOffset, "UTC-OFFSET"},
	"ATTENDEE": {vURI, "CAL-ADDRESS"}, "ORGANIZER": {vURI, "CAL-ADDRESS"},
	"URL": {vURI, "URI"}, "TZURL": {vURI, "URI"}, "ATTACH": {vURI, "URI"},
	"CONFERENCE": {vURI, "URI"}, "IMAGE": {vURI, "URI"}, "SOURCE": {vURI, "URI"},
	"FREEBUSY": {vPeriods, "PERIOD"},
}

// vCard properties (RFC 6350, RFC 2426, RFC 6474).
var vcardProps = map[string]propInfo{
	"CATEGORIES": {vList, ""}, "NICKNAME": {vList, ""},
	"N": {vNameLists, ""}, "ADR": {vNameLists, ""},
	"ORG": {vStructured, ""}, "CLIENTPIDMAP": {vStructured, ""},
	"GENDER": {vGender, ""}, "KIND": {vEnumLower, ""}, "CLASS": {vEnum, ""},
	"BDAY": {vCardDate, ""}, "ANNIVERSARY": {vCardDate, ""}, "DEATHDATE": {vCardDate, ""},
	"REV": {vCardDate, ""},
	"URL": {vURI, ""}, "SOURCE": {vURI, ""}, "IMPP": {vURI, ""}, "MEMBER": {vURI, ""},
	"CALURI": {vURI, ""}, "CALADRURI": {vURI, ""}, "FBURL": {vURI, ""},
	"PHOTO": {vURI, ""}, "LOGO": {vURI, ""}, "SOUND": {vURI, ""}, "KEY": {vURI, ""},
	"GEO": {vURI, ""}, "RELATED": {vURI, ""},
}

// lookupProp returns what the canonical form knows about a property; unknown
// and X- properties are TEXT.
func lookupProp(vcard bool, name []byte) propInfo {
	m := icalProps
	if vcard {
		m = vcardProps
	}
	if pi, ok := m[string(name)]; ok {
		return pi
	}
	if vcard {
		return propInfo{kind: vText}
	}
	return propInfo{kind: vText, defaultType: "TEXT"}
}

// paramKind says how a parameter's values are compared.
type paramKind uint8

const (
	pText     paramKind = iota // as written, NFC
	pUpper                     // an enumerated iCalendar value: upper-case
	pLower                     // an enumerated or case-insensitive value written lower-case
	pTypeSet                   // vCard TYPE: a lower-case set, however it was split
	pURI                       // a list of URIs or CAL-ADDRESSes: schemes lower-case
	pInteger                   // INTEGER (PREF)
	pUpperSet                  // a case-insensitive set (SCHEDULE-STATUS codes)
)

// paramKinds lists the parameters (RFC 5545 section 3.2, RFC 6638, RFC 7986,
// RFC 6350 section 5) whose values are not plain text.
var paramKinds = map[string]paramKind{
	"CUTYPE": pUpper, "FBTYPE": pUpper, "PARTSTAT": pUpper, "RANGE": pUpper, "RELATED": pUpper,
	"RELTYPE": pUpper, "ROLE": pUpper, "RSVP": pUpper, "VALUE": pUpper, "SCHEDULE-AGENT": pUpper,
	"SCHEDULE-FORCE-SEND": pUpper, "DISPLAY": pUpper, "FEATURE": pUpper, "CHARSET": pUpper,
	"ENCODING": pLower, "LANGUAGE": pLower, "FMTTYPE": pLower, "MEDIATYPE": pLower, "CALSCALE": pLower,
	"TYPE":         pTypeSet,
	"DELEGATED-TO": pURI, "DELEGATED-FROM": pURI, "MEMBER": pURI, "SENT-BY": pURI, "DIR": pURI, "ALTREP": pURI,
	"PREF":            pInteger,
	"SCHEDULE-STATUS": pUpperSet,
}

// defaultParam is a parameter value the RFC implies when it is absent.
type defaultParam struct {
	prop         string
	param, value []byte
}

// icalDefaultParams are made explicit on both sides (RFC 5545 section 3.2).
// TRIGGER's RELATED=START applies only to a duration trigger.
var icalDefaultParams = []defaultParam{
	{"ATTENDEE", []byte("CUTYPE"), []byte("INDIVIDUAL")},
	{"ATTENDEE", []byte("PARTSTAT"), []byte("NEEDS-ACTION")},
	{"ATTENDEE", []byte("ROLE"), []byte("REQ-PARTICIPANT")},
	{"ATTENDEE", []byte("RSVP"), []byte("FALSE")},
	{"TRIGGER", []byte("RELATED"), []byte("START")},
	{"FREEBUSY", []byte("FBTYPE"), []byte("BUSY")},
	{"RELATED-TO", []byte("RELTYPE"), []byte("PARENT")},
}

// defaultProp is a property value the RFC implies when it is absent.
type defaultProp struct{ comp, prop, line string }

// defaultProps are inserted, on both sides, into a component that lacks them
// (RFC 5545 sections 3.7.1, 3.8.1.3, 3.8.1.9, 3.8.2.7, 3.8.6.2, 3.8.7.4;
// RFC 6350 section 6.1.4).
var defaultProps = []defaultProp{
	{"VCALENDAR", "CALSCALE", "CALSCALE:GREGORIAN"},
	{"VEVENT", "CLASS", "CLASS:PUBLIC"},
	{"VEVENT", "PRIORITY", "PRIORITY:0"},
	{"VEVENT", "SEQUENCE", "SEQUENCE:0"},
	{"VEVENT", "TRANSP", "TRANSP:OPAQUE"},
	{"VTODO", "CLASS", "CLASS:PUBLIC"},
	{"VTODO", "PRIORITY", "PRIORITY:0"},
	{"VTODO", "SEQUENCE", "SEQUENCE:0"},
	{"VJOURNAL", "CLASS", "CLASS:PUBLIC"},
	{"VJOURNAL", "SEQUENCE", "SEQUENCE:0"},
	{"VALARM", "REPEAT", "REPEAT:0"},
	{"VCARD", "KIND", "KIND:individual"},
}

// defaultsOf lists defaultProps by component name.
var defaultsOf = func() map[string][]defaultProp {
	m := map[string][]defaultProp{}
	for _, d := range defaultProps {
		m[d.comp] = append(m[d.comp], d)
	}
	return m
}()
