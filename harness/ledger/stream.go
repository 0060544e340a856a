package ledger

import (
	"encoding/binary"

	"github.com/firedrill/firedrill/harness/model"
)

// A loaded ledger keeps each user's writes as one packed stream, in append
// order. An entry is a tag byte, then:
//
//	new item:  uvarint pattern, then derived: kind<<5|suffix<<2 and uvarint
//	           index; else uvarint length and the compact key (encodeKey)
//	else:      uvarint local index of the user's item
//	batch:     if memBatchRef, uvarint (batch - the user's previous batch - 1)
//	else:      varint (call - the user's previous own call), and when the
//	           outcome is known uvarint (return - call)
//	put:       digest [16], uvarint size
//
// Items are numbered per user in the order their first write appears; a
// write that defines its item carries the definition, so a resting item with
// one imported write costs its tag, two or three bytes of item, its digest
// and its size, and shares its times with its batch.
const (
	memOutcome  = 0x03 // the write's outcome; 0: pending, or the batch's
	memDelete   = 0x04
	memNewItem  = 0x08
	memBatch    = 0x10 // timed by an import batch
	memBatchRef = 0x20
	memDerived  = 0x40
)

// memEntry is one write of a user's stream, decoded.
type memEntry struct {
	tag byte
	// a new item's definition
	pattern uint32
	keyByte byte   // derived: kind<<5|suffix<<2
	index   uint64 // derived
	key     []byte // compact key
	// an existing item
	local uint32
	// timing
	batchDelta uint64
	callDelta  int64
	dur        uint64
	// content
	digest model.Digest
	size   uint32
}

// completed reports whether an own-timed entry carries its return.
func (e *memEntry) completed() bool { return e.tag&memOutcome != 0 }

// append encodes the entry.
func (e *memEntry) append(b []byte) []byte {
	b = append(b, e.tag)
	switch {
	case e.tag&memNewItem == 0:
		b = binary.AppendUvarint(b, uint64(e.local))
	case e.tag&memDerived != 0:
		b = binary.AppendUvarint(b, uint64(e.pattern))
		b = append(b, e.keyByte)
		b = binary.AppendUvarint(b, e.index)
	default:
		b = binary.AppendUvarint(b, uint64(e.pattern))
		b = binary.AppendUvarint(b, uint64(len(e.key)))
		b = append(b, e.key...)
	}
	switch {
	case e.tag&memBatch != 0:
		if e.tag&memBatchRef != 0 {
			b = binary.AppendUvarint(b, e.batchDelta)
		}
	default:
		b = binary.AppendVarint(b, e.callDelta)
		if e.completed() {
			b = binary.AppendUvarint(b, e.dur)
		}
	}
	if e.tag&memDelete == 0 {
		b = append(b, e.digest[:]...)
		b = binary.AppendUvarint(b, uint64(e.size))
	}
	return b
}

// uvarintLen returns the length of v's uvarint encoding.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// streamReader decodes a user's stream, which Load wrote and checked: it
// trusts it. It follows the deltas, so the fields it returns are absolute.
type streamReader struct {
	p        []byte
	call     int64 // the previous own call
	batch    int   // the previous batch, -1 before the first
	items    uint32
	e        memEntry
	curLocal uint32 // the entry's item, new or existing
	curBatch int
	curCall  int64
}

func newStreamReader(p []byte) *streamReader { return &streamReader{p: p, batch: -1} }

// next decodes the next entry into s.e and the cur fields; false at the end.
func (s *streamReader) next() bool {
	if len(s.p) == 0 {
		return false
	}
	e := &s.e
	e.tag = s.p[0]
	p := s.p[1:]
	uv := func() uint64 {
		v, n := binary.Uvarint(p)
		p = p[n:]
		return v
	}
	if e.tag&memNewItem == 0 {
		e.local = uint32(uv())
		s.curLocal = e.local
	} else {
		e.pattern = uint32(uv())
		if e.tag&memDerived != 0 {
			e.keyByte = p[0]
			p = p[1:]
			e.index = uv()
			e.key = nil
		} else {
			n := uv()
			e.key = p[:n]
			p = p[n:]
		}
		s.curLocal = s.items
		s.items++
	}
	if e.tag&memBatch != 0 {
		if e.tag&memBatchRef != 0 {
			e.batchDelta = uv()
			s.batch += int(e.batchDelta) + 1
		}
		s.curBatch = s.batch
	} else {
		d, n := binary.Varint(p)
		p = p[n:]
		e.callDelta = d
		s.call += d
		s.curCall = s.call
		if e.completed() {
			e.dur = uv()
		}
	}
	if e.tag&memDelete == 0 {
		copy(e.digest[:], p)
		p = p[len(e.digest):]
		e.size = uint32(uv())
	} else {
		e.digest, e.size = model.Digest{}, 0
	}
	s.p = p
	return true
}
