package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"iter"
	"os"
	"time"
)

// Ledger is a loaded ledger: the run's base time and meta, the interned user
// names and item keys, and every record in append order. It keeps records in
// the file's packed form (about 30 bytes a write instead of 48) and item keys
// compressed; Records and History decode them.
type Ledger struct {
	Base time.Time
	Meta Meta
	// Torn is set when the file's tail was torn (a crash while writing a
	// batch): the ledger holds the intact prefix, and records after Torn.Offset
	// are lost. It is nil for an intact file.
	Torn *TornError

	users   []string
	keyBlob []byte   // compact item keys, each preceded by its uvarint length
	keyIdx  []uint32 // offset in keyBlob of every keyStride-th key
	nKeys   int
	recs    []byte // write entries, back to back, delta chain as in the file
	n       int    // number of records
}

// TornError describes a torn ledger tail.
type TornError struct {
	Path   string
	Offset int64 // where the first bad batch starts
	Bytes  int64 // bytes from Offset to the end of the file, ignored
	Reason string
}

// Error describes where the tail was torn and why.
func (e *TornError) Error() string {
	return fmt.Sprintf("ledger %s: tail torn at offset %d (%d bytes ignored): %s; records after it were lost", e.Path, e.Offset, e.Bytes, e.Reason)
}

// Load reads a ledger file. A torn tail is not an error: the intact prefix
// loads and Ledger.Torn says what was cut. A file that is not a ledger, has a
// damaged header, or holds a batch that passes its checksum but does not
// decode is an error.
func Load(path string) (*Ledger, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load ledger: %w", err)
	}
	l, err := parse(path, data)
	if err != nil {
		return nil, fmt.Errorf("load ledger %s: %w", path, err)
	}
	return l, nil
}

// parse decodes a whole ledger file.
func parse(path string, data []byte) (*Ledger, error) {
	const fixed = len(magic) + 2 + 8 + 4
	if len(data) < fixed+4 || string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("not a firedrill ledger (no %q header)", magic)
	}
	if v := binary.LittleEndian.Uint16(data[8:]); v != formatVersion {
		return nil, fmt.Errorf("ledger format version %d, this build reads %d", v, formatVersion)
	}
	base := int64(binary.LittleEndian.Uint64(data[10:]))
	mlen := int(binary.LittleEndian.Uint32(data[18:]))
	if mlen > len(data)-fixed-4 {
		return nil, fmt.Errorf("header meta length %d runs past the end of the file", mlen)
	}
	hend := fixed + mlen
	if crc32.Checksum(data[:hend], crcTable) != binary.LittleEndian.Uint32(data[hend:]) {
		return nil, fmt.Errorf("header checksum mismatch")
	}
	l := &Ledger{Base: time.Unix(0, base)}
	if err := json.Unmarshal(data[fixed:hend], &l.Meta); err != nil {
		return nil, fmt.Errorf("decode meta: %w", err)
	}

	var recs, keys bytes.Buffer
	var prevReturn int64
	off := hend + 4
	for off < len(data) {
		torn := func(reason string) {
			l.Torn = &TornError{Path: path, Offset: int64(off), Bytes: int64(len(data) - off), Reason: reason}
		}
		if len(data)-off < frameHeaderLen {
			torn("incomplete batch header")
			break
		}
		plen := int(binary.LittleEndian.Uint32(data[off:]))
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if plen > maxPayload || plen > len(data)-off-frameHeaderLen {
			torn(fmt.Sprintf("batch of %d bytes runs past the end of the file", plen))
			break
		}
		payload := data[off+frameHeaderLen : off+frameHeaderLen+plen]
		if crc32.Checksum(payload, crcTable) != sum {
			torn("batch checksum mismatch")
			break
		}
		if err := l.decodeBatch(payload, &recs, &keys, &prevReturn); err != nil {
			return nil, fmt.Errorf("batch at offset %d: %w", off, err)
		}
		off += frameHeaderLen + plen
	}
	// Copy into exactly sized slices: the ledger stays in memory for the
	// whole verification.
	l.recs = bytes.Clone(recs.Bytes())
	l.keyBlob = bytes.Clone(keys.Bytes())
	l.keyIdx = append([]uint32(nil), l.keyIdx...)
	l.users = append([]string(nil), l.users...)
	return l, nil
}

// decodeBatch appends a batch's definitions to the tables and its write
// entries to recs, checking every entry.
func (l *Ledger) decodeBatch(p []byte, recs, keys *bytes.Buffer, prevReturn *int64) error {
	var scratch []byte
	for len(p) > 0 {
		switch tag := p[0]; {
		case tag == tagUser || tag == tagItem:
			n, k := binary.Uvarint(p[1:])
			if k <= 0 || n > uint64(len(p)-1-k) {
				return errShort
			}
			s := string(p[1+k : 1+k+int(n)])
			p = p[1+k+int(n):]
			if tag == tagUser {
				l.users = append(l.users, s)
				continue
			}
			if l.nKeys%keyStride == 0 {
				l.keyIdx = append(l.keyIdx, uint32(keys.Len()))
			}
			scratch = encodeKey(scratch[:0], s)
			keys.Write(binary.AppendUvarint(nil, uint64(len(scratch))))
			keys.Write(scratch)
			l.nKeys++
		case tag&0xc0 == tagWrite:
			r, n, err := decodeWrite(p, *prevReturn)
			if err != nil {
				return fmt.Errorf("record %d: %w", l.n, err)
			}
			if int(r.User) >= len(l.users) || int(r.Item) >= l.nKeys {
				return fmt.Errorf("record %d: user %d or item %d not defined before use", l.n, r.User, r.Item)
			}
			recs.Write(p[:n])
			*prevReturn = r.Return
			l.n++
			p = p[n:]
		default:
			return fmt.Errorf("unknown entry tag %#x", tag)
		}
	}
	return nil
}

// Len returns the number of records.
func (l *Ledger) Len() int { return l.n }

// Users returns the interned user names, indexed by Record.User. The slice
// is the ledger's own: do not modify it.
func (l *Ledger) Users() []string { return l.users }

// User returns the name of user i.
func (l *Ledger) User(i uint32) string { return l.users[i] }

// keyStride is how many keys share one entry of the key index.
const keyStride = 16

// NumItems returns the number of interned item keys.
func (l *Ledger) NumItems() int { return l.nKeys }

// ItemKey returns item i's key (model.ItemKey form).
func (l *Ledger) ItemKey(i uint32) string {
	p := l.keyBlob[l.keyIdx[i/keyStride]:]
	for range i % keyStride {
		n, k := binary.Uvarint(p)
		p = p[k+int(n):]
	}
	n, k := binary.Uvarint(p)
	return decodeKey(p[k : k+int(n)])
}

// Records yields every record in append order with its position.
func (l *Ledger) Records() iter.Seq2[int, Record] {
	return func(yield func(int, Record) bool) {
		var prev int64
		p := l.recs
		for i := 0; len(p) > 0; i++ {
			r, n, err := decodeWrite(p, prev)
			if err != nil {
				panic(fmt.Sprintf("ledger: record %d does not decode after Load checked it: %v", i, err))
			}
			prev = r.Return
			p = p[n:]
			if !yield(i, r) {
				return
			}
		}
	}
}

// MemoryBytes returns the bytes the loaded ledger holds on the heap for its
// records, keys and user names (excluding the small fixed-size header).
func (l *Ledger) MemoryBytes() int {
	n := cap(l.recs) + cap(l.keyBlob) + 4*cap(l.keyIdx) + 16*cap(l.users)
	for _, u := range l.users {
		n += len(u)
	}
	return n
}
