package ledger

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"sync"
	"time"

	"github.com/firedrill/firedrill/harness/model"
)

// Meta describes the run a ledger belongs to.
type Meta struct {
	Seed    int64             `json:"seed"`
	Profile string            `json:"profile"`
	Server  string            `json:"server"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// Buffered entries (completions, Append) go to the file once they fill
// batchBytes, at least every flushEvery, with the next invoke, and on Sync
// and Close. Invokes go at once.
const (
	batchBytes = 256 << 10
	flushEvery = 100 * time.Millisecond
)

// ErrClosed is returned by a Writer's methods after Close.
var ErrClosed = errors.New("ledger writer closed")

// Item indices Item returns when it cannot intern: Invoke and Append refuse
// them with the reason.
const (
	itemOfUnknownUser = math.MaxUint32 - iota
	itemWithBadKey
)

// Writer appends attempts to a ledger file. It is safe for concurrent use.
// Invoke and InvokeBatch return once their entry has been written to the
// file (the kernel holds it even if the harness is killed next); entries of
// concurrent callers share one write. Completions are buffered and written
// with the next invoke, every 100 ms, and on Sync and Close.
type Writer struct {
	path string
	base time.Time
	seed int64

	mu          sync.Mutex  // guards everything below
	buf         []byte      // a frame header's room, then entries not yet written
	spare       []byte      // the other buffer, reused after a write
	gen         *generation // the entries in buf
	appended    int64       // bytes of entries ever appended
	out         int64       // bytes of entries that reached the file
	writing     bool        // a frame is being written (with mu released)
	inflight    *generation // the frame being written
	inflightEnd int64       // appended at its end
	frames      uint32      // frames written
	fileCRC     uint32      // CRC-32C of every byte written so far
	f           *os.File
	err         error // sticky: the first write or sync failure
	closed      bool

	users    map[string]uint32
	names    []string
	patterns map[pattern]uint32
	lastPat  struct { // the last collection looked up, a cache for imports
		user uint32
		path string
		id   uint32
	}
	items       map[itemID]uint32
	itemInfo    []itemInfo
	open        map[uint64]int64 // the call of each attempt without outcome, by number
	attempts    uint64
	records     int64 // writes: attempts, counting every item of a batch
	completions int64
	outcomes    [4]int64 // writes by Outcome (OK, Failed, Ambiguous) completed so far
	prevCall    int64
	scratch     []byte

	stop chan struct{}
	done chan struct{}
}

// itemID identifies a live item in the writer.
type itemID struct {
	user            uint32
	key, collection string
}

// itemInfo is what the writer checks a record against.
type itemInfo struct {
	user uint32
	kind model.Kind
}

// Create creates (or truncates) a ledger file at path whose times count from
// base, writes its header with meta, and starts the background flusher. Call
// Close when done: only Close writes the trailer that marks the ledger
// complete. Base should come from time.Now, so that Now reads the monotonic
// clock.
func Create(path string, base time.Time, meta Meta) (*Writer, error) {
	mj, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encode ledger meta: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create ledger: %w", err)
	}
	h := make([]byte, 0, headerFixed+len(mj)+4)
	h = append(h, magic...)
	h = binary.LittleEndian.AppendUint16(h, formatVersion)
	h = binary.LittleEndian.AppendUint64(h, uint64(base.UnixNano()))
	h = binary.LittleEndian.AppendUint32(h, uint32(len(mj)))
	h = append(h, mj...)
	h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, crcTable))
	if _, err := f.Write(h); err != nil {
		f.Close()
		return nil, fmt.Errorf("write ledger header: %w", err)
	}
	w := &Writer{
		path:     path,
		base:     base,
		seed:     meta.Seed,
		f:        f,
		fileCRC:  crc32.Checksum(h, crcTable),
		buf:      make([]byte, frameHeaderLen, frameHeaderLen+batchBytes+1024),
		spare:    make([]byte, frameHeaderLen, frameHeaderLen+batchBytes+1024),
		users:    map[string]uint32{},
		patterns: map[pattern]uint32{},
		items:    map[itemID]uint32{},
		open:     map[uint64]int64{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	w.gen = newGeneration()
	w.lastPat.user = math.MaxUint32
	go w.flusher()
	return w, nil
}

// Outcomes returns how many writes have completed so far as OK, Failed and
// Ambiguous (an import batch counts each of its items): a running load's
// progress.
func (w *Writer) Outcomes() (ok, failed, ambiguous int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.outcomes[OK], w.outcomes[Failed], w.outcomes[Ambiguous]
}

// Path returns the ledger file's path.
func (w *Writer) Path() string { return w.path }

// Base returns the time the ledger's times count from.
func (w *Writer) Base() time.Time { return w.base }

// Now returns the nanoseconds since the ledger's base time, from the
// monotonic clock: the Call and Return of records.
func (w *Writer) Now() int64 { return int64(time.Since(w.base)) }

// Len returns the number of writes recorded so far: attempts, with every
// item of an import batch counted.
func (w *Writer) Len() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.records
}

// User interns a user name and returns its index for Record.User. After
// Close it interns nothing new.
func (w *Writer) User(name string) uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i, ok := w.users[name]; ok || w.closed {
		return i
	}
	i := uint32(len(w.names))
	w.users[name] = i
	w.names = append(w.names, name)
	w.appendEntry(func(b []byte) []byte { return appendString(append(b, tagUser), name) })
	return i
}

// Item interns a user's item: its key (model.ItemKey form) and the URL path
// of the collection it is written to (e.g. "/dav/u1/contacts/"; "" when not
// known), and returns its index for Record.Item. An unknown user or a key
// that is not <kind>/<name> gives an index that Invoke and Append refuse.
// After Close it interns nothing new.
func (w *Writer) Item(user uint32, key, collection string) uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := itemID{user, key, collection}
	if i, ok := w.items[id]; ok {
		return i
	}
	if int(user) >= len(w.names) || w.closed {
		return itemOfUnknownUser
	}
	kind := keyKind([]byte(key))
	if kind == 0 {
		return itemWithBadKey
	}
	pat := w.patternLocked(user, collection)
	i := uint32(len(w.itemInfo))
	w.items[id] = i
	w.itemInfo = append(w.itemInfo, itemInfo{user: user, kind: kind})
	w.appendEntry(func(b []byte) []byte {
		b = binary.AppendUvarint(append(b, tagItem), uint64(user))
		b = binary.AppendUvarint(b, uint64(pat))
		return appendString(b, key)
	})
	return i
}

// patternLocked returns the index of a user's collection pattern, defining
// it in the file when it is new.
func (w *Writer) patternLocked(user uint32, path string) uint32 {
	if c := &w.lastPat; c.user == user && c.path == path {
		return c.id
	}
	p := splitCollection(w.names[user], path)
	id, ok := w.patterns[p]
	if !ok {
		id = uint32(len(w.patterns))
		w.patterns[p] = id
		w.appendEntry(func(b []byte) []byte {
			return appendString(appendString(append(b, tagPattern, p.form), p.prefix), p.suffix)
		})
	}
	w.lastPat.user, w.lastPat.path, w.lastPat.id = user, path, id
	return id
}

// appendEntry appends one entry to the buffer; the caller holds mu.
func (w *Writer) appendEntry(enc func([]byte) []byte) {
	n := len(w.buf)
	w.buf = enc(w.buf)
	w.appended += int64(len(w.buf) - n)
}

// room makes sure n more bytes fit in the frame being filled, writing the
// buffer out first when they would not. The caller holds mu.
func (w *Writer) room(n int) error {
	for len(w.buf) > frameHeaderLen && len(w.buf)-frameHeaderLen+n > maxPayload {
		if err := w.writeOutLocked(w.appended); err != nil {
			return err
		}
	}
	return w.err
}

// generation is the set of entries in the buffer between two frame writes:
// they reach the file in one write(2).
type generation struct {
	written chan struct{} // closed once they are in the file, or the writer failed
	lead    chan struct{} // holds a token that makes one of the waiters write them
	waiters int
}

func newGeneration() *generation {
	return &generation{written: make(chan struct{}), lead: make(chan struct{}, 1)}
}

// writeOutLocked returns once every entry appended before position pos has
// been written to the file, or the writer failed. The caller holds mu; it is
// released while a frame is written or waited for. Group commit: while one
// caller writes a frame, the others append to the next one and wait for it;
// the writer then hands the next frame to one of them, and only the callers
// whose frame was written wake up.
func (w *Writer) writeOutLocked(pos int64) error {
	for w.out < pos && w.err == nil {
		switch {
		case w.writing && pos <= w.inflightEnd:
			g := w.inflight
			w.mu.Unlock()
			<-g.written
			w.mu.Lock()
		case w.writing:
			g := w.gen
			g.waiters++
			w.mu.Unlock()
			select {
			case <-g.written:
			case <-g.lead: // write it: the loop finds no frame in flight, or another caller took it
			}
			w.mu.Lock()
		default:
			w.writeFrameLocked()
		}
	}
	return w.err
}

// writeFrameLocked writes the buffered entries as one frame in one write(2).
// The caller holds mu and no frame is being written.
func (w *Writer) writeFrameLocked() {
	frame, end, g := w.buf, w.appended, w.gen
	if len(frame) == frameHeaderLen {
		return
	}
	w.buf, w.spare, w.gen = w.spare[:frameHeaderLen], nil, newGeneration()
	if n := len(frame) - frameHeaderLen; n > maxPayload {
		w.err = fmt.Errorf("write ledger frame: %d bytes, more than the %d a frame holds: a user name, item key or collection path that long is not a real one", n, maxPayload)
		close(g.written)
		return
	}
	w.writing, w.inflight, w.inflightEnd = true, g, end
	binary.LittleEndian.PutUint32(frame[0:], uint32(len(frame)-frameHeaderLen))
	binary.LittleEndian.PutUint32(frame[4:], w.frames)
	binary.LittleEndian.PutUint32(frame[8:], frameCRC(frame, frame[frameHeaderLen:]))
	w.mu.Unlock()
	_, err := w.f.Write(frame)
	w.mu.Lock()
	w.writing, w.inflight = false, nil
	if err != nil {
		w.err = fmt.Errorf("write ledger frame: %w", err)
	} else {
		w.frames++
		w.fileCRC = crc32.Update(w.fileCRC, crcTable, frame)
		w.out = end
	}
	if cap(frame) <= 4*batchBytes {
		w.spare = frame[:frameHeaderLen]
	} else {
		w.spare = make([]byte, frameHeaderLen, frameHeaderLen+batchBytes+1024)
	}
	close(g.written)
	if w.gen.waiters > 0 {
		select {
		case w.gen.lead <- struct{}{}:
		default:
		}
	}
}

// Flush writes buffered entries to the file without waiting for the disk.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return w.writeOutLocked(w.appended)
}

// Sync writes buffered entries and waits until the file is on disk. Call it
// before injecting any fault.
func (w *Writer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return w.syncLocked()
}

func (w *Writer) syncLocked() error {
	if err := w.writeOutLocked(w.appended); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		w.err = fmt.Errorf("sync ledger: %w", err)
	}
	return w.err
}

// Close writes every buffered entry and the trailer (what the ledger holds
// and a checksum of the file), syncs the file and closes it. A writer that
// failed writes no trailer: its ledger loads as cut short. Attempts still
// open keep no outcome and load as ambiguous. Later calls return ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done

	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.writeOutLocked(w.appended)
	if err == nil {
		t := trailer{records: uint64(w.records), attempts: w.attempts, completions: uint64(w.completions),
			users: uint64(len(w.names)), patterns: uint64(len(w.patterns)), items: uint64(len(w.itemInfo)), fileCRC: w.fileCRC}
		w.appendEntry(t.append)
		err = w.syncLocked()
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close ledger: %w", cerr)
	}
	return err
}

// flusher writes buffered entries every flushEvery, so that a crash of the
// harness loses at most that much of the completions.
func (w *Writer) flusher() {
	defer close(w.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.mu.Lock()
			if !w.writing && w.err == nil {
				w.writeFrameLocked() // a failure is sticky and returned by the next call
			}
			w.mu.Unlock()
		}
	}
}

// trailer is the last entry of a closed ledger, alone in its frame.
type trailer struct {
	records, attempts, completions, users, patterns, items uint64
	fileCRC                                                uint32
}

func (t trailer) append(b []byte) []byte {
	b = append(b, tagTrailer)
	for _, v := range [...]uint64{t.records, t.attempts, t.completions, t.users, t.patterns, t.items} {
		b = binary.AppendUvarint(b, v)
	}
	return binary.LittleEndian.AppendUint32(b, t.fileCRC)
}
