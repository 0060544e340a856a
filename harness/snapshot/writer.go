package snapshot

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Writer writes a snapshot user by user into a temporary file beside its
// destination and renames it into place on Close, so that a snapshot that
// was not finished never stands where a finished one is expected.
type Writer struct {
	path, tmp string
	f         *os.File
	bw        *bufio.Writer
	h         hash.Hash
	w         io.Writer
	header    Header
	users     int
	items     int
	err       error
	closed    bool
}

// Create starts a snapshot of users users of server, taken at taken, to be
// written at path.
func Create(path, server string, taken time.Time, users int) (*Writer, error) {
	if users <= 0 {
		return nil, fmt.Errorf("create snapshot %s: %d users: want at least one", path, users)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create snapshot: %w", err)
	}
	w := &Writer{path: path, tmp: f.Name(), f: f, bw: bufio.NewWriterSize(f, 256<<10), h: sha256.New(),
		header: Header{Format: Version, Server: server, Taken: taken.UTC(), Users: users}}
	w.w = io.MultiWriter(w.bw, w.h)
	w.line(w.header)
	if w.err != nil {
		w.Abort()
		return nil, w.err
	}
	return w, nil
}

func (w *Writer) line(v any) {
	if w.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		w.err = fmt.Errorf("write snapshot %s: %w", w.path, err)
		return
	}
	if _, err := w.w.Write(append(b, '\n')); err != nil {
		w.err = fmt.Errorf("write snapshot %s: %w", w.path, err)
	}
}

// Write appends one user's line. Users must be distinct; there must be as
// many as Create was told.
func (w *Writer) Write(u User) error {
	if w.err != nil {
		return w.err
	}
	sortItems(u.Items)
	if u.Items == nil {
		u.Items = []Item{}
	}
	if err := u.check(); err != nil {
		w.err = fmt.Errorf("write snapshot %s: %w", w.path, err)
		return w.err
	}
	if w.users == w.header.Users {
		w.err = fmt.Errorf("write snapshot %s: user %s is one more than the %d announced", w.path, u.User, w.header.Users)
		return w.err
	}
	w.line(u)
	w.users++
	w.items += len(u.Items)
	return w.err
}

// Users and Items return how many users and items were written.
func (w *Writer) Users() int { return w.users }

// Items returns how many items were written.
func (w *Writer) Items() int { return w.items }

// Close writes the trailer, syncs the file and renames it into place. A
// snapshot with fewer users than announced is not put in place.
func (w *Writer) Close() error {
	if w.closed {
		return errors.New("close snapshot: closed already")
	}
	if w.err == nil && w.users != w.header.Users {
		w.err = fmt.Errorf("close snapshot %s: %d of %d users written", w.path, w.users, w.header.Users)
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	if _, err := w.bw.Write(encodeTrailer(w.users, w.items, w.h.Sum(nil))); err != nil {
		w.Abort()
		return fmt.Errorf("close snapshot %s: %w", w.path, err)
	}
	err := w.bw.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.closed = true
	if err == nil {
		err = os.Rename(w.tmp, w.path)
	}
	if err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("close snapshot %s: %w", w.path, err)
	}
	return nil
}

// Abort drops an unfinished snapshot: nothing is left at its path.
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.f.Close()
	os.Remove(w.tmp)
}
