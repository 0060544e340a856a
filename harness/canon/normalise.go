package canon

import (
	"bytes"
	"time"
)

// emitProp appends the canonical lines of one property to w.out and their
// spans to w.lineSpans: one line, or one per item for list values and date
// lists.
func (w *work) emitProp(p *rawProp, vcard, v3 bool) {
	info := lookupProp(vcard, w.src[p.name.lo:p.name.hi])
	kind := w.normParams(p, info, vcard, v3)
	w.head = w.appendHead(w.head[:0], p, nil)
	raw := w.src[p.value.lo:p.value.hi]
	switch kind {
	case vList:
		splitUnescaped(raw, ',', func(item []byte) {
			w.beginLine(w.head)
			w.out = w.appendText(w.out, item, escComma)
			w.endLine()
		})
		return
	case vDateList, vInstant, vPeriods:
		w.emitDates(p, raw, kind)
		return
	}
	w.beginLine(w.head)
	w.out = w.appendValue(w.out, raw, kind)
	w.endLine()
}

// beginLine starts a canonical line with head and ':'.
func (w *work) beginLine(head []byte) {
	w.lineStart = len(w.out)
	w.out = append(w.out, head...)
	w.out = append(w.out, ':')
}

// endLine records the line begun last.
func (w *work) endLine() {
	w.lineSpans = append(w.lineSpans, w.keyed(w.out, span{int32(w.lineStart), int32(len(w.out))}))
}

// appendValue appends one value of kind in canonical form; a value that does
// not parse as its kind is compared as TEXT.
func (w *work) appendValue(dst, raw []byte, kind valueKind) []byte {
	start := len(dst)
	var trimmed []byte
	switch kind {
	case vEnum, vEnumLower, vInteger, vDateTime, vDuration, vUTCOffset, vCardDate:
		trimmed = bytes.TrimSpace(raw)
	}
	var ok bool
	switch kind {
	case vText:
		return w.appendText(dst, raw, escSingle)
	case vStructured, vGender:
		dst = w.appendComponents(dst, raw, false)
		if kind == vGender {
			end := bytes.IndexByte(dst[start:], ';')
			if end < 0 {
				end = len(dst) - start
			}
			upper(dst[start : start+end])
		}
		return dst
	case vNameLists:
		return w.appendComponents(dst, raw, true)
	case vEnum:
		dst = w.appendText(dst, trimmed, escSingle)
		upper(dst[start:])
		return dst
	case vEnumLower:
		dst = w.appendText(dst, trimmed, escSingle)
		lowerASCII(dst[start:])
		return dst
	case vURI:
		dst = w.appendText(dst, raw, escSingle)
		lowerScheme(dst[start:])
		return dst
	case vInteger:
		dst, ok = appendInteger(dst, trimmed)
	case vDateTime:
		var dt dateTime
		if dt, ok = parseDateTime(trimmed); ok {
			dst = appendDateTime(dst, dt)
		}
	case vDuration:
		dst, ok = appendDuration(dst, trimmed)
	case vRecur:
		return w.appendRecur(dst, raw)
	case vUTCOffset:
		dst, ok = appendUTCOffset(dst, trimmed)
	case vCardDate:
		dst, ok = appendCardDate(dst, trimmed)
	case vBinary:
		dst, ok = w.appendBase64(dst, raw)
	}
	if ok {
		return dst
	}
	return w.appendText(dst[:start], raw, escSingle)
}

// appendComponents appends a structured value: ';'-separated components
// (trailing empty ones dropped), each TEXT; with lists, each component is a
// sequence of comma-separated values (N, ADR), an escaped comma staying part
// of its value.
func (w *work) appendComponents(dst, raw []byte, lists bool) []byte {
	// Find the last non-empty component so trailing empty ones are dropped.
	end := len(raw)
	for {
		i := lastUnescaped(raw[:end], ';')
		if i < 0 || i+1 != end {
			break
		}
		end = i
	}
	raw = raw[:end]
	first := true
	splitUnescaped(raw, ';', func(comp []byte) {
		if !first {
			dst = append(dst, ';')
		}
		first = false
		if !lists {
			dst = w.appendText(dst, comp, escSemicolon)
			return
		}
		firstItem := true
		splitUnescaped(comp, ',', func(item []byte) {
			if !firstItem {
				dst = append(dst, ',')
			}
			firstItem = false
			dst = w.appendText(dst, item, escBoth)
		})
	})
	return dst
}

// lastUnescaped returns the index of the last sep in s that no backslash
// escapes, or -1.
func lastUnescaped(s []byte, sep byte) int {
	last := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			last = i
		}
	}
	return last
}

// emitDates emits RECURRENCE-ID, EXDATE, RDATE and FREEBUSY: one line per
// date, date-time or period. A local date-time whose TZID names an IANA zone
// becomes the UTC instant it denotes, without the TZID; so does a UTC value
// with such a TZID. Other values keep their TZID and wall-clock time.
func (w *work) emitDates(p *rawProp, raw []byte, kind valueKind) {
	var loc *time.Location
	if tzid := w.paramValue(tzidName); tzid != nil {
		loc = zones.lookup(tzid)
	}
	if loc != nil {
		w.head2 = w.appendHead(w.head2[:0], p, tzidName)
	}
	each := func(item []byte) {
		item = bytes.TrimSpace(item)
		w.val = w.val[:0]
		converted, ok := false, false
		if i := bytes.IndexByte(item, '/'); i >= 0 {
			w.val, converted, ok = w.appendPeriod(w.val, item[:i], item[i+1:], loc)
		} else {
			var dt dateTime
			if dt, ok = parseDateTime(item); ok {
				if dt.hasTime && loc != nil {
					if !dt.utc {
						dt = toUTC(dt, loc)
					}
					converted = true
				}
				w.val = appendDateTime(w.val, dt)
			}
		}
		if !ok {
			w.val = w.appendText(w.val[:0], item, escSingle)
		}
		if converted {
			w.beginLine(w.head2)
		} else {
			w.beginLine(w.head)
		}
		w.out = append(w.out, w.val...)
		w.endLine()
	}
	if kind == vInstant {
		each(raw)
		return
	}
	for {
		i := bytes.IndexByte(raw, ',')
		if i < 0 {
			each(raw)
			return
		}
		each(raw[:i])
		raw = raw[i+1:]
	}
}

// appendPeriod appends a PERIOD, start/end or start/duration, with both
// date-times converted as emitDates says. converted reports whether the
// TZID was applied.
func (w *work) appendPeriod(dst, start, end []byte, l *time.Location) (_ []byte, converted, ok bool) {
	st, ok := parseDateTime(start)
	if !ok || !st.hasTime {
		return dst, false, false
	}
	if l != nil && !st.utc {
		st = toUTC(st, l)
	}
	converted = l != nil
	dst = appendDateTime(dst, st)
	dst = append(dst, '/')
	if et, good := parseDateTime(end); good && et.hasTime {
		if l != nil && !et.utc {
			et = toUTC(et, l)
		}
		return appendDateTime(dst, et), converted, true
	}
	if dst, ok = appendDuration(dst, end); !ok {
		return dst, false, false
	}
	return dst, converted, true
}
