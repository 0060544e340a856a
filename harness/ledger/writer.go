package ledger

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
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

// Batching: a batch goes to the file once it holds batchBytes, and at least
// every flushEvery while records arrive.
const (
	batchBytes = 256 << 10
	flushEvery = 200 * time.Millisecond
)

// ErrClosed is returned by a Writer's methods after Close.
var ErrClosed = errors.New("ledger writer closed")

// Writer appends records to a ledger file. It is safe for concurrent use: it
// buffers entries in memory and writes them in checksummed batches when the
// buffer fills, every 200 ms, and on Sync and Close.
type Writer struct {
	path string
	base time.Time

	mu         sync.Mutex // guards everything below, the file included
	buf        []byte     // a frame header's room, then entries not yet written
	spare      []byte     // the other buffer, reused after a write
	users      map[string]uint32
	items      map[string]uint32
	itemKinds  []model.Kind // kind of each interned item key (0 when the key has none)
	prevReturn int64
	count      int64
	err        error // sticky: the first write or sync failure
	closed     bool
	f          *os.File

	stop chan struct{}
	done chan struct{}
}

// Create creates (or truncates) a ledger file at path whose times count from
// base, writes its header with meta, and starts the background flusher. Call
// Close when done. Base should come from time.Now, so that Now reads the
// monotonic clock.
func Create(path string, base time.Time, meta Meta) (*Writer, error) {
	mj, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encode ledger meta: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create ledger: %w", err)
	}
	h := make([]byte, 0, 26+len(mj))
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
		path:  path,
		base:  base,
		users: map[string]uint32{},
		items: map[string]uint32{},
		f:     f,
		buf:   make([]byte, frameHeaderLen, frameHeaderLen+batchBytes+1024),
		spare: make([]byte, frameHeaderLen, frameHeaderLen+batchBytes+1024),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go w.flusher()
	return w, nil
}

// Path returns the ledger file's path.
func (w *Writer) Path() string { return w.path }

// Base returns the time the ledger's times count from.
func (w *Writer) Base() time.Time { return w.base }

// Now returns the nanoseconds since the ledger's base time, from the
// monotonic clock: the Call and Return of records.
func (w *Writer) Now() int64 { return int64(time.Since(w.base)) }

// User interns a user name and returns its index for Record.User.
func (w *Writer) User(name string) uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i, ok := w.users[name]; ok {
		return i
	}
	i := uint32(len(w.users))
	w.users[name] = i
	w.buf = append(w.buf, tagUser)
	w.buf = binary.AppendUvarint(w.buf, uint64(len(name)))
	w.buf = append(w.buf, name...)
	return i
}

// Item interns an item key (model.ItemKey form) and returns its index for
// Record.Item.
func (w *Writer) Item(key string) uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i, ok := w.items[key]; ok {
		return i
	}
	i := uint32(len(w.items))
	w.items[key] = i
	var kind model.Kind
	if k, _, err := model.SplitItemKey(key); err == nil {
		kind = k
	}
	w.itemKinds = append(w.itemKinds, kind)
	w.buf = append(w.buf, tagItem)
	w.buf = binary.AppendUvarint(w.buf, uint64(len(key)))
	w.buf = append(w.buf, key...)
	return i
}

// Append adds a record to the ledger. It is buffered: the record reaches the
// file with its batch, and is durable after the next Sync. It fails on a
// record that does not make sense (unknown user or item, kind, op or outcome,
// a kind that differs from the item key's, Return before Call) and after a
// write to the file failed.
func (w *Writer) Append(r Record) error {
	if err := validOps(r); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if int(r.User) >= len(w.users) || int(r.Item) >= len(w.itemKinds) {
		return fmt.Errorf("append ledger record: user %d or item %d was not interned with User or Item", r.User, r.Item)
	}
	if k := w.itemKinds[r.Item]; k != 0 && k != r.Kind {
		return fmt.Errorf("append ledger record: kind %s, but item %d's key is of kind %s", r.Kind, r.Item, k)
	}
	w.buf = appendWrite(w.buf, r, w.prevReturn)
	w.prevReturn = r.Return
	w.count++
	if len(w.buf) >= frameHeaderLen+batchBytes {
		return w.flushLocked()
	}
	return nil
}

// validOps checks the fields of a record that need no interning tables.
func validOps(r Record) error {
	switch {
	case !validKind(r.Kind):
		return fmt.Errorf("append ledger record: invalid kind %d", r.Kind)
	case r.Op != OpPut && r.Op != OpDelete:
		return fmt.Errorf("append ledger record: invalid op %d", r.Op)
	case r.Outcome < OK || r.Outcome > Ambiguous:
		return fmt.Errorf("append ledger record: invalid outcome %d", r.Outcome)
	case r.Call < 0 || r.Return < r.Call:
		return fmt.Errorf("append ledger record: call %d, return %d: want 0 <= call <= return", r.Call, r.Return)
	case r.Op == OpDelete && (r.Size != 0 || !r.Digest.IsZero()):
		return fmt.Errorf("append ledger record: a delete carries no digest or size")
	}
	return nil
}

// Len returns the number of records appended so far.
func (w *Writer) Len() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}

// flushLocked writes the buffered entries as one batch, in one write call.
// The caller holds mu, which keeps batches in order; the write goes to the
// page cache and holds at most a few hundred KiB.
func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == frameHeaderLen {
		return nil
	}
	frame := w.buf
	w.buf = w.spare[:frameHeaderLen]
	w.spare = frame
	payload := frame[frameHeaderLen:]
	binary.LittleEndian.PutUint32(frame[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(frame[4:], crc32.Checksum(payload, crcTable))
	if _, err := w.f.Write(frame); err != nil {
		w.err = fmt.Errorf("write ledger batch: %w", err)
		return w.err
	}
	return nil
}

// Flush writes buffered records to the file without waiting for the disk.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return w.flushLocked()
}

// Sync writes buffered records and waits until the file is on disk. Call it
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
	if err := w.flushLocked(); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		w.err = fmt.Errorf("sync ledger: %w", err)
		return w.err
	}
	return nil
}

// Close syncs the ledger and closes its file. Later calls return ErrClosed.
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
	err := w.syncLocked()
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close ledger: %w", cerr)
	}
	return err
}

// flusher writes the buffer every flushEvery, so that a crash of the harness
// loses at most that much of the ledger.
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
			_ = w.flushLocked() // a failure is sticky and returned by the next call
			w.mu.Unlock()
		}
	}
}
