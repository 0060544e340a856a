package ledger

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"
)

// TornError describes a torn ledger tail: the last frame is incomplete (a
// write cut short by a crash) or damaged with nothing valid after it. The
// ledger holds what came before; the torn frame's invokes never returned to
// their callers, so their requests did not leave, but its completions are
// lost and those attempts count as ambiguous.
type TornError struct {
	Path   string
	Offset int64 // where the torn frame starts
	Bytes  int64 // bytes from Offset to the end of the file, ignored
	Reason string
}

// Error describes where the tail was torn and why.
func (e *TornError) Error() string {
	return fmt.Sprintf("ledger %s: tail torn at offset %d (%d bytes ignored): %s", e.Path, e.Offset, e.Bytes, e.Reason)
}

// CutShortError describes a ledger without its trailer: the writer never
// reached Close (the harness was killed or crashed, a write failed), the
// file was copied or loaded while being written, or it was truncated. Every
// attempt in it is real; those without an outcome count as ambiguous. If the
// harness stopped, no request left that is not on record (an invoke reaches
// the file before its request is sent); a file truncated afterwards may have
// lost more, which no ledger can tell.
type CutShortError struct {
	Path    string
	Offset  int64 // where the intact part ends
	Writes  int   // writes on record
	Pending int   // of those, the writes without a recorded outcome: ambiguous
}

// Error says where the ledger ends and what that means.
func (e *CutShortError) Error() string {
	return fmt.Sprintf("ledger %s is cut short: it ends at offset %d without its trailer (the run never closed it: killed, crashed or still writing); %d of its %d writes have no recorded outcome and count as ambiguous",
		e.Path, e.Offset, e.Pending, e.Writes)
}

// CorruptError says a ledger is damaged in a way no crash explains: a frame
// that fails its checksum with valid data after it, frames missing or out of
// order, an entry that passes its checksum but makes no sense, data after the
// trailer, a trailer that does not match. Load returns it (wrapped): nothing
// a corrupt ledger says can be trusted.
type CorruptError struct {
	Path   string
	Offset int64 // where the damage starts (the start of the frame it is in)
	Reason string
}

// Error names the offset and the damage.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("ledger %s is corrupt at offset %d: %s; it cannot be verified against (restore it from a copy, or record the run again)", e.Path, e.Offset, e.Reason)
}

// Load reads a ledger file. A ledger without its trailer loads with
// CutShort set, and one whose last frame is torn with Torn set too: both keep
// every attempt before the cut. A file that is not a ledger, has a damaged
// header or is of another format version is an error; damage in the middle is
// a *CorruptError (use errors.As).
func Load(path string) (*Ledger, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load ledger: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load ledger: %w", err)
	}
	l, err := load(path, f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("load ledger %s: %w", path, err)
	}
	return l, nil
}

// load reads a ledger of size bytes in two passes (see builder); path only
// names it in errors.
func load(path string, f io.ReaderAt, size int64) (*Ledger, error) {
	l, hend, headerCRC, err := readHeader(path, f, size)
	if err != nil {
		return nil, err
	}
	b := &builder{l: l}
	b.startPass(false)
	fr := newFrameReader(path, f, hend, size, headerCRC)
	var closed bool
	dataEnd := hend
	for {
		off := fr.off
		p, err := fr.next()
		if err == io.EOF {
			break
		}
		var bad *badFrame
		if errors.As(err, &bad) {
			if next, found := validFrameAfter(f, off, size, fr.num); found {
				return nil, &CorruptError{Path: path, Offset: off, Reason: fmt.Sprintf("%s, and a valid frame follows at offset %d", bad.reason, next)}
			}
			l.Torn = &TornError{Path: path, Offset: off, Bytes: size - off, Reason: bad.reason}
			break
		}
		if err != nil {
			return nil, err
		}
		if p[0] == tagTrailer {
			if err := b.checkTrailer(p, fr.crcBefore); err != nil {
				return nil, &CorruptError{Path: path, Offset: off, Reason: err.Error()}
			}
			if fr.off != size {
				return nil, &CorruptError{Path: path, Offset: fr.off, Reason: fmt.Sprintf("%d bytes after the trailer", size-fr.off)}
			}
			closed = true
			break
		}
		if err := b.frame(p); err != nil {
			return nil, &CorruptError{Path: path, Offset: off, Reason: fmt.Sprintf("frame %d: %v", fr.num-1, err)}
		}
		dataEnd = fr.off
	}
	l.finish(b)
	if !closed {
		l.CutShort = &CutShortError{Path: path, Offset: dataEnd, Writes: l.records, Pending: l.pending}
	}

	// The second pass writes the streams from the same frames.
	start := int64(0)
	for u := range b.size {
		start, b.size[u] = start+b.size[u], start
	}
	b.startPass(true)
	fr = newFrameReader(path, f, hend, dataEnd, headerCRC)
	for {
		p, err := fr.next()
		if err == io.EOF {
			break
		}
		if err == nil {
			err = b.frame(p)
		}
		if err != nil {
			return nil, fmt.Errorf("ledger changed while it was loaded (%v): load it again once its writer is done", err)
		}
	}
	for u, at := range b.size {
		if at != l.streamEnd[u] {
			return nil, fmt.Errorf("ledger changed while it was loaded: user %d's writes take %d bytes, %d were counted", u, at-l.streamStart(uint32(u)), l.streamEnd[u]-l.streamStart(uint32(u)))
		}
	}
	return l, nil
}

// readHeader reads and checks the header; it returns the ledger with its base
// time and meta, where the frames start and the CRC-32C of the header.
func readHeader(path string, f io.ReaderAt, size int64) (*Ledger, int64, uint32, error) {
	fixed := make([]byte, headerFixed)
	n, _ := f.ReadAt(fixed, 0)
	if n < len(magic) || string(fixed[:len(magic)]) != magic {
		return nil, 0, 0, fmt.Errorf("not a firedrill ledger (no %q header)", magic)
	}
	if n < headerFixed {
		return nil, 0, 0, fmt.Errorf("the ledger's header is cut short (%d bytes): the run stopped before it recorded anything", size)
	}
	if v := binary.LittleEndian.Uint16(fixed[8:]); v != formatVersion {
		return nil, 0, 0, fmt.Errorf("ledger format version %d, this build reads version %d: record the run again with this build", v, formatVersion)
	}
	mlen := int64(binary.LittleEndian.Uint32(fixed[18:]))
	if mlen > size-int64(headerFixed)-4 || mlen > maxPayload {
		return nil, 0, 0, fmt.Errorf("the ledger's header is cut short or damaged: its meta of %d bytes runs past the end of the file (%d bytes)", mlen, size)
	}
	rest := make([]byte, mlen+4)
	if _, err := f.ReadAt(rest, int64(headerFixed)); err != nil {
		return nil, 0, 0, fmt.Errorf("read ledger header: %w", err)
	}
	sum := crc32.Update(crc32.Checksum(fixed, crcTable), crcTable, rest[:mlen])
	if sum != binary.LittleEndian.Uint32(rest[mlen:]) {
		return nil, 0, 0, &CorruptError{Path: path, Offset: 0, Reason: "header checksum mismatch"}
	}
	l := &Ledger{Base: time.Unix(0, int64(binary.LittleEndian.Uint64(fixed[10:])))}
	if err := json.Unmarshal(rest[:mlen], &l.Meta); err != nil {
		return nil, 0, 0, &CorruptError{Path: path, Offset: int64(headerFixed), Reason: fmt.Sprintf("header meta: %v", err)}
	}
	hend := int64(headerFixed) + mlen + 4
	return l, hend, crc32.Update(sum, crcTable, rest[mlen:]), nil
}

// checkTrailer checks a trailer frame against what the frames before it
// held; crcBefore is the CRC-32C of every byte before it.
func (b *builder) checkTrailer(p []byte, crcBefore uint32) error {
	d := &decoder{b: p[1:]}
	var t trailer
	for _, v := range [...]*uint64{&t.records, &t.attempts, &t.completions, &t.users, &t.patterns, &t.items} {
		*v = d.uvarint()
	}
	t.fileCRC = d.u32()
	if d.err != nil || !d.done() {
		return fmt.Errorf("malformed trailer")
	}
	var records uint64
	for _, a := range b.attempts {
		records += uint64(a.n)
	}
	got := trailer{records: records, attempts: uint64(b.nAttempts), completions: uint64(b.completions),
		users: uint64(b.users), patterns: uint64(len(b.l.patterns)), items: uint64(len(b.live)), fileCRC: crcBefore}
	if got != t {
		return fmt.Errorf("the trailer says %+v, the file holds %+v: frames are missing or were changed", t, got)
	}
	return nil
}

// badFrame is a frame that is incomplete or fails its checksum.
type badFrame struct{ reason string }

func (b *badFrame) Error() string { return b.reason }

// frameReader reads a ledger's frames in order, checking each.
type frameReader struct {
	path      string
	r         *bufio.Reader
	off       int64 // where the next frame starts
	limit     int64
	num       uint32 // the next frame's number
	crc       uint32 // CRC-32C of every byte before off
	crcBefore uint32 // CRC-32C of every byte before the last frame returned
	hdr       [frameHeaderLen]byte
	payload   []byte
}

func newFrameReader(path string, f io.ReaderAt, start, limit int64, crc uint32) *frameReader {
	return &frameReader{path: path, r: bufio.NewReaderSize(io.NewSectionReader(f, start, limit-start), int(min(1<<20, max(limit-start, 16)))),
		off: start, limit: limit, crc: crc}
}

// next returns the next frame's payload, valid until the following call:
// io.EOF at the end, a *badFrame for an incomplete or damaged frame, a
// *CorruptError for a valid frame out of order.
func (fr *frameReader) next() ([]byte, error) {
	left := fr.limit - fr.off
	if left == 0 {
		return nil, io.EOF
	}
	if left < frameHeaderLen {
		return nil, &badFrame{fmt.Sprintf("incomplete frame header (%d of %d bytes)", left, frameHeaderLen)}
	}
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return nil, fmt.Errorf("read ledger frame: %w", err)
	}
	plen := int64(binary.LittleEndian.Uint32(fr.hdr[0:]))
	switch {
	case plen == 0 || plen > maxPayload:
		return nil, &badFrame{fmt.Sprintf("frame length %d out of range", plen)}
	case plen > left-frameHeaderLen:
		return nil, &badFrame{fmt.Sprintf("frame of %d bytes runs past the end of the file (%d bytes left)", plen, left-frameHeaderLen)}
	}
	if int64(cap(fr.payload)) < plen {
		fr.payload = make([]byte, plen)
	}
	p := fr.payload[:plen]
	if _, err := io.ReadFull(fr.r, p); err != nil {
		return nil, fmt.Errorf("read ledger frame: %w", err)
	}
	if frameCRC(fr.hdr[:], p) != binary.LittleEndian.Uint32(fr.hdr[8:]) {
		return nil, &badFrame{"frame checksum mismatch"}
	}
	if num := binary.LittleEndian.Uint32(fr.hdr[4:]); num != fr.num {
		return nil, &CorruptError{Path: fr.path, Offset: fr.off, Reason: fmt.Sprintf("frame number %d where %d was expected: frames are missing, repeated or out of order", num, fr.num)}
	}
	fr.crcBefore = fr.crc
	fr.crc = crc32.Update(crc32.Update(fr.crc, crcTable, fr.hdr[:]), crcTable, p)
	fr.off += frameHeaderLen + plen
	fr.num++
	return p, nil
}

// validFrameAfter looks for a frame that passes its checksum, numbered num
// or later, anywhere after off: proof that the damage at off is not a torn
// tail. It returns the frame's offset.
func validFrameAfter(f io.ReaderAt, off, size int64, num uint32) (int64, bool) {
	chunk := int(min(1<<20, size))
	buf := make([]byte, chunk+frameHeaderLen)
	for start := off + 1; start+frameHeaderLen <= size; start += int64(chunk) {
		n, _ := f.ReadAt(buf[:min(int64(len(buf)), size-start)], start)
		for i := 0; i < chunk && i+frameHeaderLen <= n; i++ {
			h := buf[i : i+frameHeaderLen]
			plen := int64(binary.LittleEndian.Uint32(h))
			fnum := binary.LittleEndian.Uint32(h[4:])
			at := start + int64(i)
			if plen == 0 || plen > maxPayload || at+frameHeaderLen+plen > size || fnum < num || fnum-num >= 1<<20 {
				continue
			}
			p := make([]byte, plen)
			if _, err := f.ReadAt(p, at+frameHeaderLen); err == nil && frameCRC(h, p) == binary.LittleEndian.Uint32(h[8:]) {
				return at, true
			}
		}
	}
	return 0, false
}
