// Package canon gives vCard and iCalendar bodies a canonical text by the
// semantics of RFC 5545 (iCalendar), RFC 6350 (vCard 4) and RFC 2426
// (vCard 3), so that two bodies with equal meaning have equal digests
// however a server re-serialised them, and any change to what a device wrote
// changes the digest. Photos and app data have no canonical form other than
// their bytes.
//
// Digest is the first 16 bytes of the SHA-256 of Canonical. Diff lists the
// property differences of two bodies; Compare says whether a served body
// differs from the written one only by rewrites the server manages, or by
// damage. Both take raw or canonical bodies (an observation keeps canonical
// ones). A digest reuses pooled buffers and allocates nothing.
//
// # Syntax
//
// Lines are unfolded (CRLF or LF, a space or tab continues), a UTF-8 BOM and
// empty lines are dropped, names are upper-cased, parameters are unquoted,
// merged by name and sorted, properties are sorted within their component and
// components among their siblings. The canonical text has one property per
// line and CRLF line ends. A CR inside a value is part of the value (a body
// whose line ends were converted twice is changed, and Diff shows \r).
//
// # Values
//
//   - TEXT: escapes resolved (\\ \, \; \n \N; any other backslash is a
//     literal backslash), then Unicode NFC (é as U+00E9 or e+U+0301 is the
//     same text); leading and trailing spaces count. In a one-valued text
//     "\," and "," are the same comma.
//   - Lists: CATEGORIES and RESOURCES (iCalendar), CATEGORIES and NICKNAME
//     (vCard) are split at unescaped commas into a multiset of values, one
//     canonical line each: "a,b", "b,a" and two lines "a" and "b" are equal;
//     "Work\, Travel" (one value) and "Work, Travel" (two) differ.
//   - N and ADR: components split at unescaped ';', trailing empty ones
//     dropped; each component split at unescaped ',' into its values. The
//     values of a component are a sequence, not a multiset (a decision: the
//     order of additional names or street lines is part of the name or
//     address); an escaped comma stays inside its value. ORG, GEO,
//     REQUEST-STATUS and CLIENTPIDMAP have components but no lists.
//   - Enumerated values are case-insensitive and written upper-case (STATUS,
//     TRANSP, CLASS, ACTION, CALSCALE, METHOD, BUSYTYPE, the sex of GENDER),
//     KIND lower-case; so are enumerated parameters (CUTYPE, PARTSTAT, ROLE,
//     RSVP, RELATED, RANGE, RELTYPE, FBTYPE, VALUE, SCHEDULE-AGENT,
//     SCHEDULE-FORCE-SEND, DISPLAY, FEATURE, CHARSET upper; ENCODING,
//     LANGUAGE, FMTTYPE, MEDIATYPE, CALSCALE lower; PREF an integer;
//     SCHEDULE-STATUS a set). vCard TYPE is a lower-case set, however it was
//     split, quoted or repeated. Other parameter values are text in NFC.
//   - URIs and CAL-ADDRESSes (ATTENDEE, ORGANIZER, URL, ATTACH, TZURL,
//     CONFERENCE, IMAGE, SOURCE; vCard URL, PHOTO, LOGO, SOUND, KEY, GEO,
//     IMPP, MEMBER, RELATED, CALURI, CALADRURI, FBURL, SOURCE, and any
//     VALUE=URI; the parameters DELEGATED-TO, DELEGATED-FROM, MEMBER,
//     SENT-BY, DIR, ALTREP): the scheme is case-insensitive (MAILTO: is
//     mailto:); the rest is compared as written (a mailbox's local part is
//     case-sensitive).
//   - DURATION (DURATION, TRIGGER, REFRESH-INTERVAL, a period's length):
//     compared as a value: PT60M is PT1H, P1W is P7D, PT0S is -PT0S, but
//     calendar days stay apart from exact time: P1D is not PT24H.
//   - INTEGER (SEQUENCE, PRIORITY, PERCENT-COMPLETE, REPEAT, PREF): without
//     '+' and leading zeros. UTC-OFFSET: +HHMM, seconds only when not zero.
//   - RECUR (RRULE, EXRULE): parts upper-case and in any order; BYxxx lists
//     are sets ("BYDAY=WE,MO" is "MO,WE", "+1SU" is "1SU"); INTERVAL=1 and
//     WKST=MO are made explicit.
//   - DTSTART, DTEND, DUE, COMPLETED and the stamps keep their TZID and wall
//     clock: the zone the user chose matters, and 09:00 Europe/Berlin is not
//     08:00Z even when it is the same instant.
//   - EXDATE, RDATE and RECURRENCE-ID name instants: a local date-time whose
//     TZID is an IANA zone becomes its UTC instant, without the TZID, so an
//     EXDATE a server gives in UTC equals the device's local one. Values in a
//     custom zone keep their TZID and wall clock. EXDATE, RDATE and FREEBUSY
//     lists are split into one line per value (a multiset).
//   - vCard dates (BDAY, ANNIVERSARY, DEATHDATE, REV): ISO 8601 basic form:
//     1975-04-01 and 19750401 are the same; --04-01 is --0401; 10:11:12Z is
//     101112Z; +01:00 is +0100; +00:00 is Z. VALUE=text keeps the text.
//   - Inline binary (ENCODING=b or BASE64): standard padded base64 without
//     white space, so a re-wrapped photo is the same photo.
//
// A value that does not parse as its type is compared as TEXT.
//
// # Defaults
//
// An RFC default means the same whether written or not, so the canonical
// form makes it explicit on both sides: CALSCALE:GREGORIAN (VCALENDAR);
// CLASS:PUBLIC, PRIORITY:0, SEQUENCE:0 (VEVENT, VTODO; VJOURNAL has no
// PRIORITY); TRANSP:OPAQUE (VEVENT); REPEAT:0 (VALARM); KIND:individual
// (VCARD, any version); ATTENDEE CUTYPE=INDIVIDUAL, PARTSTAT=NEEDS-ACTION,
// ROLE=REQ-PARTICIPANT, RSVP=FALSE; TRIGGER RELATED=START (for a duration);
// FREEBUSY FBTYPE=BUSY; RELATED-TO RELTYPE=PARENT; vCard TEL TYPE=voice when
// it has no TYPE; vCard 3 EMAIL TYPE=internet (unless x400). A VALUE that
// names the property's default type (VALUE=DATE-TIME on DTSTART,
// VALUE=DURATION on TRIGGER, VALUE=TEXT on SUMMARY) and ENCODING=8BIT are
// dropped: they are type tags, not data. vCard 3's default ADR type
// (intl,postal,parcel,work) is not made explicit: no server adds it and every
// device that means it writes it.
//
// # Time zones
//
// Whether a TZID is an IANA zone, and what an IANA zone's offsets are, comes
// from the IANA time zone database embedded in this package (release 2025c,
// a copy of Go's lib/time/zoneinfo.zip; see zones.go), never from the host's
// /usr/share/zoneinfo, so two machines always agree. Names are matched
// exactly, as in the database. A VTIMEZONE for an IANA zone is dropped: the
// TZID means the database's zone, whatever definition a device or server
// attached (RFC 7809 lets servers substitute or strip them). A VTIMEZONE for
// any other TZID (a Windows or Outlook name, a made-up one) is the only
// definition of that zone, so it is compared like any component, unless no
// TZID parameter outside the VTIMEZONEs refers to it (then it means nothing
// and is dropped). A local time
// that a daylight-saving change skips or repeats converts as Go's time.Date
// resolves it.
//
// # What servers manage
//
// Some differences are neither equal meaning nor damage: the server changes
// them on its own, as the RFCs allow. The digest keeps covering everything the
// device wrote that can carry meaning, so such a rewrite is a digest mismatch
// (never silently dropped); Compare then lists it as "rewritten by the
// server" (never called damage). The decisions:
//
//   - DTSTAMP, LAST-MODIFIED, CREATED (iCalendar) and REV (vCard): time
//     stamps a server may set when it stores the object (RFC 5545 3.8.7, RFC
//     4791 5.3.2); changed, added or removed, in any direction, they are
//     rewrites.
//   - SEQUENCE raised: a rewrite (servers bump it on scheduling changes).
//     SEQUENCE lowered is damage: it is the mark of an older version coming
//     back.
//   - SCHEDULE-STATUS set, changed or removed (RFC 6638 7.3),
//     SCHEDULE-FORCE-SEND removed (RFC 6638 7.2: servers must not keep it),
//     an ATTENDEE's PARTSTAT reset to NEEDS-ACTION, with RSVP=TRUE, on a
//     reschedule (RFC 6638 3.2.8; also allowed at other times): rewrites.
//     Any other PARTSTAT change is damage: in a rehearsal no attendee
//     answers, and against a live server an answer shows as a change to
//     look at, not as a silent pass.
//   - X- properties and X- parameters the device did not write, added by
//     the server: rewrites. An X- property the device wrote that is changed
//     or gone is damage: it is the device's data.
//   - PRODID names the software that serialised the bytes, not anything the
//     user wrote; every server that re-serialises rewrites it. It is left out
//     of the canonical form like line folding, so it never shows at all.
//   - Anything else (a property or component added or lost, a value or a
//     parameter changed) is damage.
package canon
