package dav

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// Byte classes of text, for decodeText's one pass.
const (
	classPlain   = iota
	classSpecial // '\r' or '&': the text must be rewritten
	classHigh    // part of a multi-byte UTF-8 sequence: checked as UTF-8
	classIllegal // a control character XML does not allow
	classLess    // '<': only seen in attribute values, where it is illegal
)

var textClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = classIllegal
	}
	t['\t'], t['\n'] = classPlain, classPlain
	t['\r'], t['&'] = classSpecial, classSpecial
	t['<'] = classLess
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = classHigh
	}
	return t
}()

// decodeText expands entities (when decode) and reads \r\n and \r as \n, then
// checks the characters. It returns raw itself when nothing needs changing.
// inAttr says raw is an attribute value, where '<' is not allowed.
func (s *scanner) decodeText(raw []byte, decode, inAttr bool) ([]byte, error) {
	special, high := false, false
	for _, c := range raw {
		switch textClass[c] {
		case classPlain:
		case classSpecial:
			special = true
		case classHigh:
			high = true
		case classIllegal:
			return nil, s.errorf("illegal character code %U", rune(c))
		case classLess:
			if inAttr {
				return nil, s.errorf("unescaped < inside quoted string")
			}
		}
	}
	out := raw
	if special {
		out = s.scratch[:0]
		for len(raw) > 0 {
			i := 0
			for i < len(raw) && textClass[raw[i]] != classSpecial {
				i++
			}
			out = append(out, raw[:i]...)
			if i == len(raw) {
				break
			}
			if raw[i] == '\r' {
				out = append(out, '\n')
				i++
				if i < len(raw) && raw[i] == '\n' {
					i++
				}
			} else if decode {
				r, n, err := s.entity(raw[i:])
				if err != nil {
					return nil, err
				}
				out = utf8.AppendRune(out, r)
				i += n
			} else {
				out = append(out, '&')
				i++
			}
			raw = raw[i:]
		}
		s.scratch = out
	}
	if high && (!utf8.Valid(out) || bytes.Contains(out, []byte("\uFFFE")) || bytes.Contains(out, []byte("\uFFFF"))) {
		return nil, s.checkChars(out)
	}
	return out, nil
}

// checkChars says what is wrong with b, which is not UTF-8 of characters XML
// allows.
func (s *scanner) checkChars(b []byte) error {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			return s.errorf("invalid UTF-8")
		}
		b = b[size:]
		if !legalChar(r) {
			return s.errorf("illegal character code %U", r)
		}
	}
	return s.errorf("invalid UTF-8")
}

// legalChar reports whether XML allows the character r.
func legalChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// entity decodes the reference at the start of b ("&amp;", "&#10;", "&#x1F;").
func (s *scanner) entity(b []byte) (rune, int, error) {
	end := bytes.IndexByte(b, ';')
	if end < 0 || end > 32 {
		return 0, 0, s.errorf("invalid character entity %s (no semicolon)", b[:min(len(b), 12)])
	}
	ref := b[1:end]
	switch string(ref) {
	case "lt":
		return '<', end + 1, nil
	case "gt":
		return '>', end + 1, nil
	case "amp":
		return '&', end + 1, nil
	case "apos":
		return '\'', end + 1, nil
	case "quot":
		return '"', end + 1, nil
	}
	if len(ref) > 1 && ref[0] == '#' {
		num, base := ref[1:], 10
		if num[0] == 'x' {
			num, base = num[1:], 16
		}
		if n, err := strconv.ParseUint(string(num), base, 32); err == nil && n <= utf8.MaxRune && len(num) > 0 && num[0] != '+' {
			if !legalChar(rune(n)) {
				return 0, 0, s.errorf("illegal character code %U", rune(n))
			}
			return rune(n), end + 1, nil
		}
	}
	return 0, 0, s.errorf("invalid character entity &%s;", ref)
}
