package canon

import "bytes"

// appendCardDate appends a vCard date, time or date-time (RFC 6350 section
// 4.3, RFC 2426 ISO 8601 forms) in the basic form: 1975-04-01 and 19750401
// both as 19750401, --04-01 as --0401, 10:11:12 as 101112, a UTC offset as
// +HHMM, +00:00 as Z. Reduced forms (1975-04, --0401, ---01) keep their
// markers. ok is false when v is none of these.
func appendCardDate(dst, v []byte) (_ []byte, ok bool) {
	date, tm, hasT := v, []byte(nil), false
	if i := bytes.IndexAny(v, "Tt"); i >= 0 {
		date, tm, hasT = v[:i], v[i+1:], true
	}
	start := len(dst)
	var good bool
	if dst, good = appendCardDatePart(dst, date); !good {
		return dst[:start], false
	}
	if !hasT {
		return dst, true
	}
	dst = append(dst, 'T')
	if dst, good = appendCardTimePart(dst, tm); !good {
		return dst[:start], false
	}
	return dst, true
}

// appendCardDatePart handles the date before a T.
func appendCardDatePart(dst, d []byte) ([]byte, bool) {
	digits := func(b []byte) bool {
		for _, c := range b {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	switch {
	case len(d) == 0: // a time alone ("T102200")
		return dst, true
	case len(d) == 10 && d[4] == '-' && d[7] == '-' && digits(d[:4]) && digits(d[5:7]) && digits(d[8:]):
		dst = append(dst, d[:4]...)
		dst = append(dst, d[5:7]...)
		return append(dst, d[8:]...), true
	case (len(d) == 8 || len(d) == 4) && digits(d):
		return append(dst, d...), true
	case len(d) == 7 && d[4] == '-' && digits(d[:4]) && digits(d[5:]): // 1975-04
		return append(dst, d...), true
	case len(d) == 7 && d[0] == '-' && d[1] == '-' && d[4] == '-' && digits(d[2:4]) && digits(d[5:]): // --04-01
		dst = append(dst, "--"...)
		dst = append(dst, d[2:4]...)
		return append(dst, d[5:]...), true
	case (len(d) == 6 || len(d) == 4) && d[0] == '-' && d[1] == '-' && digits(d[2:]): // --0401, --04
		return append(dst, d...), true
	case len(d) == 5 && d[0] == '-' && d[1] == '-' && d[2] == '-' && digits(d[3:]): // ---01
		return append(dst, d...), true
	}
	return dst, false
}

// appendCardTimePart handles the time after a T: HH[:MM[:SS]] or basic
// forms, then Z or a UTC offset.
func appendCardTimePart(dst, t []byte) ([]byte, bool) {
	zone := -1
	for i, c := range t {
		if c == 'Z' || c == 'z' || c == '+' || (c == '-' && i > 0) {
			zone = i
			break
		}
	}
	clock, off := t, []byte(nil)
	if zone >= 0 {
		clock, off = t[:zone], t[zone:]
	}
	n := 0
	for i, c := range clock {
		switch {
		case c >= '0' && c <= '9':
			dst = append(dst, c)
			n++
		case c == ':' && i > 0 && n%2 == 0:
		case c == '-' && i == 0: // reduced "-MMSS" forms keep their markers
			dst = append(dst, c)
		default:
			return dst, false
		}
	}
	if n == 0 || n%2 != 0 || n > 6 {
		return dst, false
	}
	switch {
	case off == nil:
		return dst, true
	case len(off) == 1 && off[0]|0x20 == 'z':
		return append(dst, 'Z'), true
	}
	var d [4]byte
	k := 0
	for i, c := range off[1:] {
		switch {
		case c >= '0' && c <= '9' && k < 4:
			d[k] = c
			k++
		case c == ':' && i == 2:
		default:
			return dst, false
		}
	}
	if k != 2 && k != 4 {
		return dst, false
	}
	if off[0] == '+' && d[0] == '0' && d[1] == '0' && (k == 2 || d[2] == '0' && d[3] == '0') {
		return append(dst, 'Z'), true
	}
	dst = append(dst, off[0])
	dst = append(dst, d[:2]...)
	if k == 4 {
		dst = append(dst, d[2:4]...)
	} else {
		dst = append(dst, "00"...)
	}
	return dst, true
}
