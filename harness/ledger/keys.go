package ledger

import (
	"bytes"
	"encoding/binary"
	"net/url"
	"strings"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/seed"
)

// Item keys are stored compactly in memory. The first byte packs
// kind<<5 | suffix<<2 | form: the "<kind>/" prefix becomes the kind's code
// (0 when the key has none), a common file extension becomes a suffix code,
// and a canonical lower- or upper-case UUID in the name (as CardDAV and
// CalDAV clients name resources) becomes its 16 bytes:
//
//	formRaw:          name
//	formUUID:         16 UUID bytes (lower case, at the start of the name), rest
//	formUUIDPrefixed: uvarint prefix length, prefix, 16 UUID bytes (lower case), rest
//	formUUIDUpper:    as formUUIDPrefixed, upper case
const (
	formRaw          = 0
	formUUID         = 1
	formUUIDPrefixed = 2
	formUUIDUpper    = 3
)

// suffixes are the extensions with a code (index+1) in a compact key.
var suffixes = [...]string{".vcf", ".ics", ".jpg", ".json", ".png", ".heic", ".txt"}

// encodeKey appends the compact form of key to b.
func encodeKey(b []byte, key string) []byte {
	var kind model.Kind
	name := key
	if k, n, err := model.SplitItemKey(key); err == nil && model.ItemKey(k, n) == key {
		kind, name = k, n
	}
	suffix := 0
	for i, s := range suffixes {
		if strings.HasSuffix(name, s) {
			suffix, name = i+1, strings.TrimSuffix(name, s)
			break
		}
	}
	pos, lower := findUUID(name)
	form := formRaw
	switch {
	case pos < 0:
	case pos == 0 && lower:
		form = formUUID
	case lower:
		form = formUUIDPrefixed
	default:
		form = formUUIDUpper
	}
	b = append(b, byte(kind)<<5|byte(suffix)<<2|byte(form))
	if form == formRaw {
		return append(b, name...)
	}
	if form != formUUID {
		b = binary.AppendUvarint(b, uint64(pos))
		b = append(b, name[:pos]...)
	}
	for i := pos; i < pos+36; i++ {
		if c := name[i]; c != '-' {
			hi := unhex(c)
			i++
			b = append(b, hi<<4|unhex(name[i]))
		}
	}
	return append(b, name[pos+36:]...)
}

// decodeKey reverses encodeKey.
func decodeKey(b []byte) string {
	kind, suffix, form := model.Kind(b[0]>>5), int(b[0]>>2&7), int(b[0]&3)
	b = b[1:]
	var s strings.Builder
	if kind != 0 {
		s.WriteString(kind.String())
		s.WriteByte('/')
	}
	if form != formRaw {
		if form != formUUID {
			pos, k := binary.Uvarint(b)
			b = b[k:]
			s.Write(b[:pos])
			b = b[pos:]
		}
		digits := "0123456789abcdef"
		if form == formUUIDUpper {
			digits = "0123456789ABCDEF"
		}
		for i := 0; i < 16; i++ {
			if i == 4 || i == 6 || i == 8 || i == 10 {
				s.WriteByte('-')
			}
			s.WriteByte(digits[b[i]>>4])
			s.WriteByte(digits[b[i]&15])
		}
		b = b[16:]
	}
	s.Write(b)
	if suffix > 0 {
		s.WriteString(suffixes[suffix-1])
	}
	return s.String()
}

// findUUID returns the position of the first canonical UUID in s
// (8-4-4-4-12 hex digits, all lower or all upper case) and whether it is
// lower case, or -1 when there is none.
func findUUID(s string) (int, bool) {
	for i := 0; i+36 <= len(s); i++ {
		switch uuidAt(s[i : i+36]) {
		case caseLower:
			return i, true
		case caseUpper:
			return i, false
		}
	}
	return -1, false
}

// The letter cases of a UUID candidate.
const (
	caseNone = iota
	caseLower
	caseUpper
)

// uuidAt reports the letter case of a 36-byte candidate UUID, or caseNone
// when it is not one.
func uuidAt(s string) int {
	lower, upper := true, true
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return caseNone
			}
			continue
		}
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f':
			upper = false
		case c >= 'A' && c <= 'F':
			lower = false
		default:
			return caseNone
		}
	}
	switch {
	case lower:
		return caseLower
	case upper:
		return caseUpper
	}
	return caseNone
}

// unhex returns the value of a hex digit.
func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// kindByName maps a kind's name to the kind.
var kindByName = func() map[string]model.Kind {
	m := map[string]model.Kind{}
	for _, k := range model.Kinds {
		m[k.String()] = k
	}
	return m
}()

// keyKind returns the kind of a key in model.ItemKey form: "<kind>/<name>"
// with the kind's exact name and a name that is not empty; 0 for any other
// key. The writer and the loader both hold keys to it.
func keyKind(key []byte) model.Kind {
	i := bytes.IndexByte(key, '/')
	if i < 0 || i == len(key)-1 {
		return 0
	}
	return kindByName[string(key[:i])]
}

// suffixCode returns the code of a compact-key extension, or 0.
func suffixCode(ext string) int {
	for i, s := range suffixes {
		if s == ext {
			return i + 1
		}
	}
	return 0
}

// derivedSuffix reports whether name is the generator's name for the user's
// index-th item of kind k under the run's seed (the item's seed.ItemUUID in
// canonical form, then nothing or an extension with a suffix code), and
// returns the extension's code.
func derivedSuffix(runSeed int64, user string, k model.Kind, index int, name string) (int, bool) {
	if index < 0 || len(name) < 36 || uuidAt(name[:36]) != caseLower {
		return 0, false
	}
	suffix := 0
	if rest := name[36:]; rest != "" {
		if suffix = suffixCode(rest); suffix == 0 {
			return 0, false
		}
	}
	var u [16]byte
	for i, j := 0, 0; i < 36; i++ {
		if c := name[i]; c != '-' {
			u[j] = unhex(c)<<4 | unhex(name[i+1])
			i++
			j++
		}
	}
	return suffix, u == seed.ItemUUID(runSeed, user, k.String(), index)
}

// appendDerivedKey appends the item key whose name derivedSuffix
// recognised: "<kind>/<uuid><extension>".
func appendDerivedKey(b []byte, runSeed int64, user string, k model.Kind, index, suffix int) []byte {
	const digits = "0123456789abcdef"
	b = append(append(b, k.String()...), '/')
	for i, c := range seed.ItemUUID(runSeed, user, k.String(), index) {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[c>>4], digits[c&15])
	}
	if suffix > 0 {
		b = append(b, suffixes[suffix-1]...)
	}
	return b
}

// A collection path is interned as a pattern with its user's name taken
// out, so that "/dav/u1/contacts/" and "/dav/u2/contacts/" share one entry
// and an item names its collection in a byte or two.
const (
	patLiteral = iota // the path is prefix
	patName           // prefix + user name + suffix
	patEscaped        // prefix + url.PathEscape(user name) + suffix
	numPatternForms
)

// pattern is a collection path relative to its user.
type pattern struct {
	form   uint8
	prefix string
	suffix string
}

// splitCollection returns the pattern of a user's collection path: the first
// path segment that is the user's name (as is or path-escaped) is taken out.
func splitCollection(user, path string) pattern {
	if user != "" {
		if i := segment(path, user); i >= 0 {
			return pattern{form: patName, prefix: path[:i], suffix: path[i+len(user):]}
		}
		if esc := url.PathEscape(user); esc != user {
			if i := segment(path, esc); i >= 0 {
				return pattern{form: patEscaped, prefix: path[:i], suffix: path[i+len(esc):]}
			}
		}
	}
	return pattern{form: patLiteral, prefix: path}
}

// segment returns where seg starts as a whole segment of path ("/seg/" or a
// final "/seg"), or -1.
func segment(path, seg string) int {
	for from := 0; ; {
		i := strings.Index(path[from:], "/"+seg)
		if i < 0 {
			return -1
		}
		start := from + i + 1
		if end := start + len(seg); end == len(path) || path[end] == '/' {
			return start
		}
		from = start
	}
}

// path returns the user's collection path the pattern stands for.
func (p pattern) path(user string) string {
	switch p.form {
	case patName:
		return p.prefix + user + p.suffix
	case patEscaped:
		return p.prefix + url.PathEscape(user) + p.suffix
	}
	return p.prefix
}
