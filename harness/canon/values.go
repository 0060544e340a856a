package canon

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strconv"
	"time"
)

// appendDuration appends a DURATION (RFC 5545 section 3.3.6) in canonical
// form: weeks counted as 7 days, days kept apart from exact time (P1D is a
// calendar day, PT24H is 24 hours), time as hours, minutes and seconds
// without zero parts, a zero duration as PT0S. ok is false when v is not a
// duration; dst is then unchanged.
func appendDuration(dst, v []byte) (_ []byte, ok bool) {
	neg, days, secs, ok := parseDuration(v)
	if !ok {
		return dst, false
	}
	if neg && (days != 0 || secs != 0) {
		dst = append(dst, '-')
	}
	dst = append(dst, 'P')
	if days != 0 {
		dst = strconv.AppendInt(dst, days, 10)
		dst = append(dst, 'D')
	}
	if secs != 0 || days == 0 {
		dst = append(dst, 'T')
		h, m, s := secs/3600, secs/60%60, secs%60
		if h != 0 {
			dst = strconv.AppendInt(dst, h, 10)
			dst = append(dst, 'H')
		}
		if m != 0 {
			dst = strconv.AppendInt(dst, m, 10)
			dst = append(dst, 'M')
		}
		if s != 0 || secs == 0 {
			dst = strconv.AppendInt(dst, s, 10)
			dst = append(dst, 'S')
		}
	}
	return dst, true
}

// parseDuration reads [+-]P[nW][nD][T[nH][nM][nS]], letters in either case,
// with at least one part and at least one part after a T.
func parseDuration(v []byte) (neg bool, days, secs int64, ok bool) {
	i := 0
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		neg = v[i] == '-'
		i++
	}
	if i == len(v) || v[i]|0x20 != 'p' {
		return false, 0, 0, false
	}
	i++
	parts, inTime, timeParts := 0, false, 0
	order := 0 // parts must come in the order W D T H M S
	for i < len(v) {
		if v[i]|0x20 == 't' {
			if inTime {
				return false, 0, 0, false
			}
			inTime, order = true, 3
			i++
			continue
		}
		j := i
		var n int64
		for j < len(v) && v[j] >= '0' && v[j] <= '9' && j-i < 9 {
			n = n*10 + int64(v[j]-'0')
			j++
		}
		if j == i || j == len(v) {
			return false, 0, 0, false
		}
		var at int
		switch u := v[j] | 0x20; {
		case u == 'w' && !inTime:
			at, days = 1, days+7*n
		case u == 'd' && !inTime:
			at, days = 2, days+n
		case u == 'h' && inTime:
			at, secs = 4, secs+3600*n
		case u == 'm' && inTime:
			at, secs = 5, secs+60*n
		case u == 's' && inTime:
			at, secs = 6, secs+n
		default:
			return false, 0, 0, false
		}
		if at <= order {
			return false, 0, 0, false
		}
		order = at
		parts++
		if inTime {
			timeParts++
		}
		i = j + 1
	}
	if parts == 0 || (inTime && timeParts == 0) {
		return false, 0, 0, false
	}
	return neg, days, secs, true
}

// appendInteger appends an INTEGER without '+' and leading zeros.
func appendInteger(dst, v []byte) (_ []byte, ok bool) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return dst, false
	}
	return strconv.AppendInt(dst, n, 10), true
}

// appendUTCOffset appends a UTC-OFFSET as +HHMM, with SS only when not zero;
// a colon-separated +HH:MM[:SS] is read too.
func appendUTCOffset(dst, v []byte) (_ []byte, ok bool) {
	if len(v) < 5 || (v[0] != '+' && v[0] != '-') {
		return dst, false
	}
	var d [6]byte
	n := 0
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9' && n < 6:
			d[n] = c
			n++
		case c == ':' && (n == 2 || n == 4):
		default:
			return dst, false
		}
	}
	if n != 4 && n != 6 {
		return dst, false
	}
	dst = append(dst, v[0])
	dst = append(dst, d[:4]...)
	if n == 6 && (d[4] != '0' || d[5] != '0') {
		dst = append(dst, d[4:6]...)
	}
	return dst, true
}

// dateTime is a parsed iCalendar DATE or DATE-TIME.
type dateTime struct {
	y, mo, d, h, mi, s int
	hasTime, utc       bool
}

// parseDateTime reads YYYYMMDD or YYYYMMDDTHHMMSS[Z] (T and Z in either
// case) and checks that the fields name a real date and time.
func parseDateTime(v []byte) (dt dateTime, ok bool) {
	if len(v) != 8 && len(v) != 15 && len(v) != 16 {
		return dt, false
	}
	dt.y, dt.mo, dt.d = num(v[0:4]), num(v[4:6]), num(v[6:8])
	if dt.y < 0 || dt.mo < 1 || dt.mo > 12 || dt.d < 1 || dt.d > daysIn(dt.y, dt.mo) {
		return dt, false
	}
	if len(v) == 8 {
		return dt, true
	}
	if v[8]|0x20 != 't' {
		return dt, false
	}
	dt.hasTime = true
	dt.h, dt.mi, dt.s = num(v[9:11]), num(v[11:13]), num(v[13:15])
	if dt.h < 0 || dt.h > 23 || dt.mi < 0 || dt.mi > 59 || dt.s < 0 || dt.s > 60 {
		return dt, false
	}
	if len(v) == 16 {
		if v[15]|0x20 != 'z' {
			return dt, false
		}
		dt.utc = true
	}
	return dt, true
}

// num reads a run of decimal digits; -1 when b holds anything else.
func num(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func daysIn(y, m int) int {
	switch m {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// appendDateTime appends a parsed DATE or DATE-TIME in its basic form.
func appendDateTime(dst []byte, dt dateTime) []byte {
	dst = appendDigits(dst, dt.y, 4)
	dst = appendDigits(dst, dt.mo, 2)
	dst = appendDigits(dst, dt.d, 2)
	if !dt.hasTime {
		return dst
	}
	dst = append(dst, 'T')
	dst = appendDigits(dst, dt.h, 2)
	dst = appendDigits(dst, dt.mi, 2)
	dst = appendDigits(dst, dt.s, 2)
	if dt.utc {
		dst = append(dst, 'Z')
	}
	return dst
}

// toUTC converts a local DATE-TIME in loc to UTC. A local time that a
// daylight-saving change skips or repeats resolves as Go's time.Date does.
func toUTC(dt dateTime, loc *time.Location) dateTime {
	sec := 0
	if dt.s == 60 {
		sec = 1 // a leap second keeps its minute: 60 stays as written after conversion
	}
	t := time.Date(dt.y, time.Month(dt.mo), dt.d, dt.h, dt.mi, dt.s-sec, 0, loc).UTC()
	return dateTime{y: t.Year(), mo: int(t.Month()), d: t.Day(), h: t.Hour(), mi: t.Minute(), s: t.Second() + sec, hasTime: true, utc: true}
}

// appendDigits appends n in exactly width decimal digits (n >= 0).
func appendDigits(dst []byte, n, width int) []byte {
	var b [8]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return append(dst, b[:width]...)
}

// appendBase64 appends inline binary data as standard padded base64 without
// white space; ok is false when it does not decode.
func (w *work) appendBase64(dst, v []byte) (_ []byte, ok bool) {
	clean := v
	if bytes.ContainsAny(v, " \t\r\n") {
		w.tmp = w.tmp[:0]
		for _, c := range v {
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				w.tmp = append(w.tmp, c)
			}
		}
		clean = w.tmp
	}
	w.tmp2 = grow(w.tmp2, base64.RawStdEncoding.DecodedLen(len(clean))+3)
	n, err := base64.StdEncoding.Strict().Decode(w.tmp2, clean)
	if err == nil && len(clean) == base64.StdEncoding.EncodedLen(n) {
		return append(dst, clean...), true // already canonical
	}
	if err != nil {
		if n, err = base64.RawStdEncoding.Decode(w.tmp2, clean); err != nil {
			if n, err = base64.StdEncoding.Decode(w.tmp2, clean); err != nil {
				return dst, false
			}
		}
	}
	return base64.StdEncoding.AppendEncode(dst, w.tmp2[:n]), true
}

// appendRecur appends a RECUR value (RFC 5545 section 3.3.10) in canonical
// form: parts upper-case and sorted by name, INTERVAL=1 and WKST=MO explicit,
// BYxxx lists as sets (sorted, without repeats, "+1MO" as "1MO", "01" as
// "1"), COUNT and INTERVAL as plain integers, UNTIL as a normalised date.
func (w *work) appendRecur(dst, v []byte) []byte {
	w.tmp = append(w.tmp[:0], v...)
	upper(w.tmp)
	rest := bytes.TrimSpace(w.tmp)
	// Each part is rendered into w.rparts; its span is remembered for sorting.
	w.rparts = w.rparts[:0]
	w.rspans = w.rspans[:0]
	hasInterval, hasWkst := false, false
	for len(rest) > 0 {
		var part []byte
		if i := bytes.IndexByte(rest, ';'); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			part, rest = rest, nil
		}
		if len(part) == 0 {
			continue
		}
		start := len(w.rparts)
		name, val, found := bytes.Cut(part, []byte("="))
		switch {
		case !found:
			w.rparts = append(w.rparts, part...)
		case bytes.HasPrefix(name, []byte("BY")):
			w.rparts = append(w.rparts, name...)
			w.rparts = append(w.rparts, '=')
			w.rparts = w.appendSet(w.rparts, val)
		case string(name) == "COUNT" || string(name) == "INTERVAL":
			hasInterval = hasInterval || string(name) == "INTERVAL"
			w.rparts = append(w.rparts, part[:len(name)+1]...)
			var ok bool
			if w.rparts, ok = appendInteger(w.rparts, val); !ok {
				w.rparts = append(w.rparts, val...)
			}
		case string(name) == "UNTIL":
			w.rparts = append(w.rparts, "UNTIL="...)
			if dt, ok := parseDateTime(val); ok {
				w.rparts = appendDateTime(w.rparts, dt)
			} else {
				w.rparts = append(w.rparts, val...)
			}
		default:
			hasWkst = hasWkst || string(name) == "WKST"
			w.rparts = append(w.rparts, part...)
		}
		w.rspans = append(w.rspans, span{int32(start), int32(len(w.rparts))})
	}
	if !hasInterval {
		start := len(w.rparts)
		w.rparts = append(w.rparts, "INTERVAL=1"...)
		w.rspans = append(w.rspans, span{int32(start), int32(len(w.rparts))})
	}
	if !hasWkst {
		start := len(w.rparts)
		w.rparts = append(w.rparts, "WKST=MO"...)
		w.rspans = append(w.rspans, span{int32(start), int32(len(w.rparts))})
	}
	buf := w.rparts
	slices.SortFunc(w.rspans, func(a, b span) int { return bytes.Compare(buf[a.lo:a.hi], buf[b.lo:b.hi]) })
	for i, s := range w.rspans {
		if i > 0 {
			dst = append(dst, ';')
		}
		dst = append(dst, buf[s.lo:s.hi]...)
	}
	return dst
}

// appendSet appends a BYxxx list as a sorted set: each item with a '+' sign
// and leading zeros dropped from its number.
func (w *work) appendSet(dst, list []byte) []byte {
	w.items = w.items[:0]
	w.setBuf = w.setBuf[:0]
	for len(list) > 0 {
		var it []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			it, list = list[:i], list[i+1:]
		} else {
			it, list = list, nil
		}
		start := len(w.setBuf)
		w.setBuf = appendSetItem(w.setBuf, it)
		w.items = append(w.items, span{int32(start), int32(len(w.setBuf))})
	}
	buf := w.setBuf
	slices.SortFunc(w.items, func(a, b span) int { return bytes.Compare(buf[a.lo:a.hi], buf[b.lo:b.hi]) })
	for i, s := range w.items {
		if i > 0 {
			if bytes.Equal(buf[s.lo:s.hi], buf[w.items[i-1].lo:w.items[i-1].hi]) {
				continue
			}
			dst = append(dst, ',')
		}
		dst = append(dst, buf[s.lo:s.hi]...)
	}
	return dst
}

// appendSetItem normalises one BYxxx item: [+-]digits[weekday].
func appendSetItem(dst, it []byte) []byte {
	i := 0
	neg := false
	if i < len(it) && (it[i] == '+' || it[i] == '-') {
		neg = it[i] == '-'
		i++
	}
	j := i
	for j < len(it) && it[j] >= '0' && it[j] <= '9' {
		j++
	}
	if j == i { // no number: a bare weekday, or not an item at all
		return append(dst, it...)
	}
	for i < j-1 && it[i] == '0' {
		i++
	}
	if neg && !(j-i == 1 && it[i] == '0') {
		dst = append(dst, '-')
	}
	dst = append(dst, it[i:j]...)
	return append(dst, it[j:]...)
}
