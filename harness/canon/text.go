package canon

import (
	"bytes"
	"encoding/binary"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// escMode says which separators a canonical TEXT value escapes besides
// backslash and newline.
type escMode uint8

const (
	escSingle    escMode = 0                       // a lone value: ',' and ';' are literal either way
	escSemicolon escMode = 1                       // a component of a structured value
	escComma     escMode = 2                       // an item of a comma-separated list
	escBoth      escMode = escSemicolon | escComma // an element of an N or ADR component
)

// appendText appends the canonical form of one escaped TEXT value: escapes
// resolved (\\ \, \; \n \N; RFC 5545 section 3.3.11, RFC 6350 section 3.4;
// any other backslash is a literal backslash), Unicode NFC, then escaped again
// as mode says.
func (w *work) appendText(dst, raw []byte, mode escMode) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		// Nothing escaped: nothing to escape either, since a raw value holds
		// no newline and no separator that mode escapes (those split it).
		if w.isNFC(raw) {
			return append(dst, raw...)
		}
		return norm.NFC.Append(dst, raw...)
	}
	x := unescape(w.tmp[:0], raw)
	w.tmp = x
	if !w.isNFC(x) {
		w.tmp2 = norm.NFC.Append(w.tmp2[:0], x...)
		x = w.tmp2
	}
	return escape(dst, x, mode)
}

// unescape appends s with its text escapes resolved.
func unescape(dst, s []byte) []byte {
	for {
		i := bytes.IndexByte(s, '\\')
		if i < 0 || i+1 == len(s) {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		switch c := s[i+1]; c {
		case '\\', ',', ';':
			dst = append(dst, c)
		case 'n', 'N':
			dst = append(dst, '\n')
		default:
			dst = append(dst, '\\', c)
		}
		s = s[i+2:]
	}
}

// escapeTable[mode][c] is the escape letter for byte c in mode, or 0.
var escapeTable = func() (t [4][256]byte) {
	for m := range t {
		t[m]['\\'] = '\\'
		t[m]['\n'] = 'n'
		if escMode(m)&escSemicolon != 0 {
			t[m][';'] = ';'
		}
		if escMode(m)&escComma != 0 {
			t[m][','] = ','
		}
	}
	return t
}()

// escape appends s in the canonical escaping: backslash and newline always,
// ';' and ',' as mode says.
func escape(dst, s []byte, mode escMode) []byte {
	tab := &escapeTable[mode&escBoth]
	start := 0
	for i, c := range s {
		if esc := tab[c]; esc != 0 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', esc)
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}

// splitUnescaped calls f with each part of s between separators sep that no
// backslash escapes.
func splitUnescaped(s []byte, sep byte, f func(part []byte)) {
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			f(s[start:i])
			start = i + 1
		}
	}
	f(s[start:])
}

// nfcStable has a bit set for every BMP rune that is NFC-stable on its own
// and can neither combine with nor reorder around its neighbours
// (NFC_Quick_Check=Yes and canonical combining class 0): a string made only
// of such runes is in NFC.
var (
	nfcStableOnce sync.Once
	nfcStable     *[1 << 16 / 64]uint64
)

func buildNFCStable() {
	t := new([1 << 16 / 64]uint64)
	for r := rune(0); r < 1<<16; r++ {
		if r >= 0xd800 && r < 0xe000 {
			continue
		}
		s := string(r)
		if norm.NFC.PropertiesString(s).BoundaryBefore() && norm.NFC.IsNormalString(s) {
			t[r/64] |= 1 << (r % 64)
		}
	}
	nfcStable = t
}

// isNFC reports whether s is in Unicode Normalization Form C. Runs of
// stable runes (ASCII among them) need no look-up; the normalisation tables
// are consulted only for the segments that hold other runes, each from the
// stable rune before it to the next stable rune.
func (w *work) isNFC(s []byte) bool {
	i := asciiPrefix(s)
	if i == len(s) {
		return true
	}
	nfcStableOnce.Do(buildNFCStable)
	segStart := i - 1 // the last stable rune before i, or -1
	for i < len(s) {
		if s[i] < utf8.RuneSelf {
			segStart = i
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if stableRune(s[i:], r, n) {
			segStart = i
			i += n
			continue
		}
		j := i + n
		for j < len(s) {
			if s[j] < utf8.RuneSelf {
				break
			}
			r2, n2 := utf8.DecodeRune(s[j:])
			if stableRune(s[j:], r2, n2) {
				break
			}
			j += n2
		}
		if seg := s[max(segStart, 0):j]; norm.NFC.QuickSpan(seg) != len(seg) && !w.segmentNFC(seg) {
			return false
		}
		i = j
	}
	return true
}

// segmentNFC reports whether a segment the quick check could not decide is
// in NFC. The answers are remembered per workspace: the segments are short
// (a letter and its marks) and repeat, and the normalisation tables'
// answer allocates.
func (w *work) segmentNFC(seg []byte) bool {
	if ok, found := w.nfcSegs[string(seg)]; found {
		return ok
	}
	ok := norm.NFC.IsNormal(seg)
	if len(seg) <= 32 {
		if w.nfcSegs == nil || len(w.nfcSegs) >= 4096 {
			w.nfcSegs = make(map[string]bool)
		}
		w.nfcSegs[string(seg)] = ok
	}
	return ok
}

// stableRune reports whether rune r, the first n bytes of s, is NFC-stable
// and a normalisation boundary on both sides.
func stableRune(s []byte, r rune, n int) bool {
	if r == utf8.RuneError && n <= 1 {
		return false
	}
	if r < 1<<16 {
		return nfcStable[r/64]&(1<<(r%64)) != 0
	}
	return norm.NFC.Properties(s).BoundaryBefore() && norm.NFC.IsNormal(s[:n])
}

// appendNFC appends v in Unicode Normalization Form C.
func appendNFC(dst, v []byte) []byte { return norm.NFC.Append(dst, v...) }

// lowerASCII lower-cases the ASCII letters of b in place.
func lowerASCII(b []byte) {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
}

// lowerScheme lower-cases the scheme of a URI at the start of b ("MAILTO:" ->
// "mailto:", RFC 3986 section 3.1); b is left alone when it does not start
// with a scheme.
func lowerScheme(b []byte) {
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') && i > 0:
		case c == ':' && i > 0:
			lowerASCII(b[:i])
			return
		default:
			return
		}
	}
}

// asciiPrefix returns the length of the longest prefix of s that is ASCII,
// reading 8 bytes at a time.
func asciiPrefix(s []byte) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if binary.LittleEndian.Uint64(s[i:])&0x8080808080808080 != 0 {
			break
		}
	}
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	return i
}
