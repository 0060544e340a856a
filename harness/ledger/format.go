package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/firedrill/firedrill/harness/model"
)

// The ledger file:
//
//	header: magic "FDLEDGER" | version u16 | base time (Unix ns) i64 |
//	        meta length u32 | meta JSON | CRC-32C of all of the above u32
//	batch*: payload length u32 | CRC-32C of payload u32 | payload
//
// All integers are little-endian. A payload is a run of entries, each
// starting with a tag byte:
//
//	tagUser: uvarint length, name        (defines the next user index)
//	tagItem: uvarint length, item key    (defines the next item index)
//	write:   tag 0x40|kind<<3|op<<2|outcome, uvarint user, uvarint item,
//	         varint (Return - previous write's Return), uvarint (Return - Call),
//	         and for puts: digest [16], uvarint size
//
// Returns arrive nearly in order, so the Return delta is small; the delta
// chain runs across batches. A crash can tear the last batch: its length or
// checksum does not match, and Load keeps the intact prefix.
const (
	magic          = "FDLEDGER"
	formatVersion  = 1
	tagUser        = 0x01
	tagItem        = 0x02
	tagWrite       = 0x40
	frameHeaderLen = 8
	// maxPayload bounds one batch, so a corrupt length cannot ask for a
	// huge allocation.
	maxPayload = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// writeTag packs a record's kind, op and outcome into its entry's tag byte.
func writeTag(r Record) byte {
	return tagWrite | byte(r.Kind&7)<<3 | byte(r.Op-1)<<2 | byte(r.Outcome&3)
}

// appendWrite encodes a write entry; prevReturn is the Return of the write
// before it in the file.
func appendWrite(b []byte, r Record, prevReturn int64) []byte {
	b = append(b, writeTag(r))
	b = binary.AppendUvarint(b, uint64(r.User))
	b = binary.AppendUvarint(b, uint64(r.Item))
	b = binary.AppendVarint(b, r.Return-prevReturn)
	b = binary.AppendUvarint(b, uint64(r.Return-r.Call))
	if r.Op == OpPut {
		b = append(b, r.Digest[:]...)
		b = binary.AppendUvarint(b, uint64(r.Size))
	}
	return b
}

var errShort = errors.New("entry runs past the end of its batch")

// decodeWrite decodes the write entry at the start of b (tag included) and
// returns the record and the entry's length.
func decodeWrite(b []byte, prevReturn int64) (Record, int, error) {
	var r Record
	tag := b[0]
	r.Kind = model.Kind(tag >> 3 & 7)
	r.Op = Op(tag>>2&1) + 1
	r.Outcome = Outcome(tag & 3)
	n := 1
	next := func() (uint64, error) {
		v, k := binary.Uvarint(b[n:])
		if k <= 0 {
			return 0, errShort
		}
		n += k
		return v, nil
	}
	u, err := next()
	if err != nil {
		return r, 0, err
	}
	it, err := next()
	if err != nil {
		return r, 0, err
	}
	delta, k := binary.Varint(b[n:])
	if k <= 0 {
		return r, 0, errShort
	}
	n += k
	dur, err := next()
	if err != nil {
		return r, 0, err
	}
	if u > 1<<32-1 || it > 1<<32-1 {
		return r, 0, fmt.Errorf("user or item index out of range")
	}
	r.User, r.Item = uint32(u), uint32(it)
	r.Return = prevReturn + delta
	r.Call = r.Return - int64(dur)
	if r.Op == OpPut {
		if len(b) < n+len(r.Digest) {
			return r, 0, errShort
		}
		copy(r.Digest[:], b[n:])
		n += len(r.Digest)
		sz, err := next()
		if err != nil {
			return r, 0, err
		}
		if sz > 1<<32-1 {
			return r, 0, fmt.Errorf("size %d out of range", sz)
		}
		r.Size = uint32(sz)
	}
	if r.Outcome < OK || r.Outcome > Ambiguous || !validKind(r.Kind) {
		return r, 0, fmt.Errorf("invalid tag %#x", tag)
	}
	return r, n, nil
}

// validKind reports whether k is one of model.Kinds.
func validKind(k model.Kind) bool { return k >= model.KindContact && k <= model.KindAppData }

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
