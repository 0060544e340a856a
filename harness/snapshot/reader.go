package snapshot

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/progress"
)

// Progress says where Open reports how far its check of a file has come;
// the zero value shows nothing.
type Progress struct {
	W   io.Writer
	TTY bool
}

// Snapshot is an opened, checked snapshot file. It keeps per user only the
// name, where its line starts and a fingerprint of the line, and reads a
// user's line again when that user is asked for, so its memory does not
// grow with the number of items. It implements verify.Expected and is safe
// for concurrent use.
type Snapshot struct {
	Header Header
	path   string
	f      *os.File
	names  []string
	off    []int64 // start of each user's line; off[len(names)] is the trailer's
	prints []uint64
	items  int

	mu     sync.Mutex
	cacheU int
	cache  *User
	hist   *ledger.UserHistory
	err    error
}

// Open reads a snapshot file through once, checking its header, every
// user's line, its trailer's counts and its checksum. A file cut short or
// changed in any byte is refused with an error that says so.
func Open(path string, p Progress) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open snapshot: %w", err)
	}
	s := &Snapshot{path: path, f: f, cacheU: -1}
	if err := s.check(p); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the file.
func (s *Snapshot) Close() error { return s.f.Close() }

// refuse formats why a file is not a usable snapshot.
func (s *Snapshot) refuse(format string, args ...any) error {
	return fmt.Errorf("read snapshot %s: "+format+": take the snapshot again (firedrill snapshot)", append([]any{s.path}, args...)...)
}

func (s *Snapshot) check(p Progress) error {
	br := bufio.NewReaderSize(s.f, 256<<10)
	h := sha256.New()
	var pos int64
	next := func() ([]byte, error) {
		line, err := br.ReadBytes('\n')
		if err == io.EOF && len(line) > 0 {
			return line, io.ErrUnexpectedEOF
		}
		return line, err
	}
	line, err := next()
	switch {
	case err == io.EOF:
		return fmt.Errorf("read snapshot %s: empty file: want a snapshot written by firedrill snapshot", s.path)
	case err != nil && err != io.ErrUnexpectedEOF:
		return fmt.Errorf("read snapshot %s: %w", s.path, err)
	}
	var head struct {
		Format *int `json:"firedrill_snapshot"`
		Header
	}
	if jerr := strictUnmarshal(line, &head); jerr != nil || head.Format == nil {
		return fmt.Errorf("read snapshot %s: the first line is not a snapshot header (want {\"firedrill_snapshot\":%d,...}): not a snapshot file, or a damaged one", s.path, Version)
	}
	if err == io.ErrUnexpectedEOF {
		return s.refuse("cut short in its header")
	}
	if *head.Format != Version {
		return fmt.Errorf("read snapshot %s: format version %d; this firedrill reads version %d: use the firedrill that wrote it, or take the snapshot again", s.path, *head.Format, Version)
	}
	s.Header = head.Header
	s.Header.Format = *head.Format
	if s.Header.Users <= 0 {
		return s.refuse("the header announces %d users", s.Header.Users)
	}
	h.Write(line)
	pos += int64(len(line))
	meter := progress.Start(p.W, p.TTY, "check snapshot", s.Header.Users, nil)
	defer meter.Stop()
	seen := map[string]bool{}
	for {
		line, err := next()
		switch {
		case err == io.EOF:
			return s.refuse("cut short after %d of %d users: no trailer", len(s.names), s.Header.Users)
		case err == io.ErrUnexpectedEOF:
			return s.refuse("cut short in line %d (after %d of %d users)", len(s.names)+2, len(s.names), s.Header.Users)
		case err != nil:
			return fmt.Errorf("read snapshot %s: %w", s.path, err)
		}
		if bytes.HasPrefix(line, []byte(`{"end":`)) {
			return s.finish(line, h.Sum(nil), pos, br)
		}
		var u User
		if err := strictUnmarshal(line, &u); err != nil {
			return s.refuse("line %d is damaged (%v)", len(s.names)+2, err)
		}
		if err := u.check(); err != nil {
			return s.refuse("line %d: %v", len(s.names)+2, err)
		}
		if seen[u.User] {
			return s.refuse("line %d: user %s listed twice", len(s.names)+2, u.User)
		}
		if len(s.names) == s.Header.Users {
			return s.refuse("line %d: more users than the %d the header announces", len(s.names)+2, s.Header.Users)
		}
		seen[u.User] = true
		s.names = append(s.names, u.User)
		s.off = append(s.off, pos)
		s.prints = append(s.prints, linePrint(line))
		s.items += len(u.Items)
		h.Write(line)
		pos += int64(len(line))
		meter.Done()
	}
}

// finish checks the trailer line against the counts and the checksum of
// everything before it, and that nothing follows it.
func (s *Snapshot) finish(line, sum []byte, pos int64, br *bufio.Reader) error {
	if !bytes.Equal(line, encodeTrailer(len(s.names), s.items, sum)) {
		var t trailer
		if err := strictUnmarshal(line, &t); err != nil {
			return s.refuse("the trailer is damaged (%v)", err)
		}
		switch {
		case t.End.Users != s.Header.Users || t.End.Users != len(s.names):
			return s.refuse("the header announces %d users, the trailer %d, the file holds %d", s.Header.Users, t.End.Users, len(s.names))
		case t.End.Items != s.items:
			return s.refuse("the trailer counts %d items, the file holds %d", t.End.Items, s.items)
		}
		return s.refuse("checksum mismatch: the file was changed or damaged after it was written")
	}
	if len(s.names) != s.Header.Users {
		return s.refuse("the header announces %d users, the file holds %d", s.Header.Users, len(s.names))
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return s.refuse("bytes after the trailer")
	}
	s.off = append(s.off, pos)
	return nil
}

// strictUnmarshal decodes one JSON value, refusing unknown fields and
// anything after it.
func strictUnmarshal(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one value on the line")
	}
	return nil
}

// Path returns the file the snapshot was opened from.
func (s *Snapshot) Path() string { return s.path }

// Users returns every user's name, in the file's order.
func (s *Snapshot) Users() []string { return slices.Clone(s.names) }

// Items returns the number of items the snapshot holds.
func (s *Snapshot) Items() int { return s.items }

// Err returns the first error reading a user's line again (the file changed
// since Open): every user asked for after it came back empty, so a check
// made then is not to be trusted.
func (s *Snapshot) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// User returns user u's line.
func (s *Snapshot) User(u uint32) (*User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLocked(u)
}

func (s *Snapshot) userLocked(u uint32) (*User, error) {
	if int(u) >= len(s.names) {
		return nil, fmt.Errorf("read snapshot %s: user %d of %d", s.path, u, len(s.names))
	}
	if s.cacheU == int(u) {
		return s.cache, nil
	}
	if s.err != nil {
		return nil, s.err
	}
	line := make([]byte, s.off[u+1]-s.off[u])
	if _, err := s.f.ReadAt(line, s.off[u]); err != nil {
		s.err = fmt.Errorf("read snapshot %s again: user %s: %w", s.path, s.names[u], err)
		return nil, s.err
	}
	var usr User
	if linePrint(line) != s.prints[u] || strictUnmarshal(line, &usr) != nil || usr.User != s.names[u] {
		s.err = fmt.Errorf("read snapshot %s again: user %s's line changed since it was checked: the file was modified while in use", s.path, s.names[u])
		return nil, s.err
	}
	s.cacheU, s.cache, s.hist = int(u), &usr, nil
	return &usr, nil
}

// UserHistory returns user u's items as the verifier takes them: each one
// acknowledged put at time 0. After a read error it returns the user
// without items (see Err).
func (s *Snapshot) UserHistory(u uint32) *ledger.UserHistory {
	s.mu.Lock()
	defer s.mu.Unlock()
	usr, err := s.userLocked(u)
	if err != nil {
		name := ""
		if int(u) < len(s.names) {
			name = s.names[u]
		}
		return &ledger.UserHistory{User: u, Name: name}
	}
	if s.hist == nil {
		s.hist = history(u, usr)
	}
	return s.hist
}

// history turns a user's line into a ledger history.
func history(u uint32, usr *User) *ledger.UserHistory {
	uh := &ledger.UserHistory{User: u, Name: usr.User, Items: make([]ledger.ItemHistory, len(usr.Items))}
	for i, it := range usr.Items {
		k, _, _ := model.SplitItemKey(it.Key) // checked when opened
		uh.Items[i] = ledger.ItemHistory{Item: uint32(i), Key: it.Key, Collection: it.Collection, Kind: k,
			Writes: []ledger.Write{{Digest: it.Canon, Size: uint32(min(it.Size, math.MaxUint32)), Op: ledger.OpPut, Outcome: ledger.OK}}}
	}
	return uh
}

// Each yields every user's history in order until f returns false.
func (s *Snapshot) Each(f func(*ledger.UserHistory) bool) {
	for u := range uint32(len(s.names)) {
		if !f(s.UserHistory(u)) {
			return
		}
	}
}

// ByteDigest returns the digest of the bytes user u's item was served with
// when the snapshot was taken.
func (s *Snapshot) ByteDigest(u uint32, key, collection string) (model.Digest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	usr, err := s.userLocked(u)
	if err != nil {
		return model.Digest{}, false
	}
	i, ok := slices.BinarySearchFunc(usr.Items, Item{Key: key, Collection: collection}, compareItems)
	if !ok || usr.Items[i].Bytes.IsZero() {
		return model.Digest{}, false
	}
	return usr.Items[i].Bytes, true
}

// Kinds returns the kinds of which the snapshot holds at least one item,
// in model.Kinds order.
func (s *Snapshot) Kinds() []model.Kind {
	var have [8]bool
	s.Each(func(uh *ledger.UserHistory) bool {
		for _, h := range uh.Items {
			if int(h.Kind) < len(have) {
				have[h.Kind] = true
			}
		}
		return true
	})
	var out []model.Kind
	for _, k := range model.Kinds {
		if have[k] {
			out = append(out, k)
		}
	}
	return out
}
