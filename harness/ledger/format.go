package ledger

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/firedrill/firedrill/harness/model"
)

// The ledger file (format version 2):
//
//	header:  magic "FDLEDGER" | version u16 | base time (Unix ns) i64 |
//	         meta length u32 | meta JSON | CRC-32C of all of the above u32
//	frame*:  payload length u32 | frame number u32 (0, 1, 2, ...) |
//	         CRC-32C of the length, the number and the payload u32 | payload
//	trailer: the last frame of a closed ledger, alone in its frame:
//	         tagTrailer, uvarint records, attempts, completions, users,
//	         patterns, items, then the CRC-32C u32 of every byte before
//	         the trailer's frame
//
// All integers are little-endian. Each frame is one write(2): a group of
// invokes is written before any of their requests may leave. A payload is a
// run of entries, each starting with a tag byte:
//
//	tagUser:     uvarint length, name              defines the next user
//	tagPattern:  form, uvarint length, prefix, uvarint length, suffix
//	                                               defines the next collection pattern
//	tagItem:     uvarint user, uvarint pattern, uvarint length, item key
//	                                               defines the next (live) item
//	tagInvoke|op-1: uvarint item, varint call delta, put: digest [16], uvarint size
//	                                               the next attempt, outcome to come
//	tagAppend|(op-1)<<2|outcome: as tagInvoke, then uvarint (return - call)
//	                                               the next attempt, with its outcome
//	tagComplete|outcome: uvarint (attempts so far - 1 - attempt), uvarint (return - call)
//	                                               an earlier attempt's outcome
//	tagBatch:    varint call delta, uvarint count, then per item: varint user
//	             delta, uvarint pattern, key, digest [16], uvarint size
//	                                               the next attempt: an import batch
//
// The call delta is against the previous attempt's call in the file (calls
// arrive nearly in order); a batch item's user delta is against the previous
// item's user (the first against 0). A batch item's key is either 0, uvarint
// length, item key, or kind<<5|suffix<<2|1 and uvarint index: the
// generator's name for the user's index-th item of that kind (derivedName).
//
// Every truncation of a ledger is recognised: a cut at a frame boundary
// leaves no trailer (cut short), a cut inside a frame leaves an incomplete
// last frame (torn, and cut short). A frame whose checksum fails with a valid
// frame after it is corruption.
const (
	magic         = "FDLEDGER"
	formatVersion = 2
	headerFixed   = len(magic) + 2 + 8 + 4 // before the meta JSON

	tagUser     = 0x01
	tagPattern  = 0x02
	tagItem     = 0x03
	tagInvoke   = 0x10
	tagAppend   = 0x20
	tagComplete = 0x30
	tagBatch    = 0x40
	tagTrailer  = 0x7f

	batchKeyRaw     = 0
	batchKeyDerived = 1

	frameHeaderLen = 12
	// maxPayload bounds one frame, so a corrupt length cannot ask for a
	// huge allocation; the writer splits its buffer before it gets there.
	maxPayload = 64 << 20
	// maxBatchItems bounds one import batch.
	maxBatchItems = 1 << 20
	// maxIndex bounds a generated item's index.
	maxIndex = 1<<31 - 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// frameCRC is the checksum of a frame: its length and number, then its
// payload.
func frameCRC(header, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(header[:8], crcTable), crcTable, payload)
}

// validKind reports whether k is one of model.Kinds.
func validKind(k model.Kind) bool { return k >= model.KindContact && k <= model.KindAppData }

// validOutcome reports whether o is OK, Failed or Ambiguous.
func validOutcome(o Outcome) bool { return o >= OK && o <= Ambiguous }

// appendString appends a length-prefixed string.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendAttempt appends the body shared by tagInvoke and tagAppend entries.
func appendAttempt(b []byte, item uint32, callDelta int64, r Record) []byte {
	b = binary.AppendUvarint(b, uint64(item))
	b = binary.AppendVarint(b, callDelta)
	if r.Op == OpPut {
		b = append(b, r.Digest[:]...)
		b = binary.AppendUvarint(b, uint64(r.Size))
	}
	return b
}

// errTruncated says an entry runs past the end of its frame.
var errTruncated = errors.New("entry runs past the end of its frame")

// decoder reads the fields of entries from a payload. The first error
// sticks: later reads return zero values, and err says what went wrong.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail(errTruncated)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// take returns the next n bytes.
func (d *decoder) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

// bytes returns a length-prefixed byte string.
func (d *decoder) bytes() []byte { return d.take(d.uvarint()) }

// u32 returns a fixed little-endian uint32.
func (d *decoder) u32() uint32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

// digest returns a 16-byte digest.
func (d *decoder) digest() model.Digest {
	var g model.Digest
	copy(g[:], d.take(uint64(len(g))))
	return g
}

func (d *decoder) done() bool { return len(d.b) == 0 }
