package ledger

import (
	"encoding/binary"
	"fmt"
)

// Invoke records an attempt before its request leaves: r without Return and
// Outcome. It returns once the entry has been written to the file, so the
// attempt is on record even if the harness is killed right after; send the
// request only then, and record its outcome with Complete. Concurrent
// Invokes share one write. It fails on a record that does not make sense
// (see Append) and after a write to the file failed; then do not send.
func (w *Writer) Invoke(r Record) (Ticket, error) {
	if r.Outcome != 0 || r.Return != 0 || r.Pending {
		return Ticket{}, fmt.Errorf("invoke ledger attempt: the record carries an outcome (%d, return %d): invoke before the request leaves, or use Append for a write whose outcome is known", r.Outcome, r.Return)
	}
	if err := validWrite(r); err != nil {
		return Ticket{}, fmt.Errorf("invoke ledger attempt: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.acceptLocked(r); err != nil {
		return Ticket{}, fmt.Errorf("invoke ledger attempt: %w", err)
	}
	w.appendEntry(func(b []byte) []byte {
		return appendAttempt(append(b, tagInvoke|byte(r.Op-1)), r.Item, r.Call-w.prevCall, r)
	})
	t := w.openLocked(r.Call, 1)
	if err := w.writeOutLocked(w.appended); err != nil {
		return Ticket{}, fmt.Errorf("invoke ledger attempt: %w", err)
	}
	return t, nil
}

// Complete records the outcome of an invoked attempt (or import batch):
// OK, Failed or Ambiguous, learned at ret. It is buffered: a completion lost
// with a crash leaves the attempt ambiguous, never wrong.
func (w *Writer) Complete(t Ticket, o Outcome, ret int64) error {
	if !validOutcome(o) {
		return fmt.Errorf("complete ledger attempt: invalid outcome %d: want OK, Failed or Ambiguous", o)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	call, ok := w.open[t.seq]
	if !ok {
		return fmt.Errorf("complete ledger attempt: the ticket names no open attempt of this ledger (completed already, or from another writer)")
	}
	if ret < call {
		return fmt.Errorf("complete ledger attempt: return %d before call %d", ret, call)
	}
	if err := w.room(2 * binary.MaxVarintLen64); err != nil {
		return err
	}
	delete(w.open, t.seq)
	w.completions++
	w.outcomes[o] += int64(max(t.n, 1))
	w.appendEntry(func(b []byte) []byte {
		b = binary.AppendUvarint(append(b, tagComplete|byte(o)), w.attempts-t.seq)
		return binary.AppendUvarint(b, uint64(ret-call))
	})
	return w.flushFullLocked()
}

// Append records an attempt whose outcome is known already, as an invoke and
// its completion in one entry. Like a completion it is buffered: a record
// lost with a crash is missing from the ledger, so use it only where the
// request left before the ledger could know (imports of old histories,
// tests); a device's request goes through Invoke. It fails on a record that
// does not make sense (an item Item did not return or of another user, an
// invalid kind, op or outcome, a kind that differs from the item key's,
// Return before Call) and after a write to the file failed.
func (w *Writer) Append(r Record) error {
	if !validOutcome(r.Outcome) {
		return fmt.Errorf("append ledger record: invalid outcome %d: want OK, Failed or Ambiguous", r.Outcome)
	}
	if r.Return < r.Call {
		return fmt.Errorf("append ledger record: call %d, return %d: want call <= return", r.Call, r.Return)
	}
	if err := validWrite(r); err != nil {
		return fmt.Errorf("append ledger record: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.acceptLocked(r); err != nil {
		return fmt.Errorf("append ledger record: %w", err)
	}
	w.appendEntry(func(b []byte) []byte {
		b = appendAttempt(append(b, tagAppend|byte(r.Op-1)<<2|byte(r.Outcome)), r.Item, r.Call-w.prevCall, r)
		return binary.AppendUvarint(b, uint64(r.Return-r.Call))
	})
	w.numberLocked(r.Call, 1)
	w.completions++
	w.outcomes[r.Outcome]++
	return w.flushFullLocked()
}

// validWrite checks the fields of a record that need no interning tables.
func validWrite(r Record) error {
	switch {
	case !validKind(r.Kind):
		return fmt.Errorf("invalid kind %d", r.Kind)
	case r.Op != OpPut && r.Op != OpDelete:
		return fmt.Errorf("invalid op %d", r.Op)
	case r.Call < 0:
		return fmt.Errorf("call %d before the ledger's base time", r.Call)
	case r.Op == OpDelete && (r.Size != 0 || !r.Digest.IsZero()):
		return fmt.Errorf("a delete carries no digest or size")
	}
	return nil
}

// acceptLocked checks a record against the interning tables and makes room
// for its entry. The caller holds mu.
func (w *Writer) acceptLocked(r Record) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	switch {
	case r.Item == itemOfUnknownUser:
		return fmt.Errorf("item was interned for a user index that User never returned")
	case r.Item == itemWithBadKey:
		return fmt.Errorf("item was interned with a key that is not <kind>/<name> (model.ItemKey)")
	case int(r.Item) >= len(w.itemInfo):
		return fmt.Errorf("item %d was not interned with Item", r.Item)
	}
	it := w.itemInfo[r.Item]
	if it.user != r.User {
		return fmt.Errorf("item %d belongs to user %d, the record names user %d", r.Item, it.user, r.User)
	}
	if it.kind != r.Kind {
		return fmt.Errorf("kind %s, but item %d's key is of kind %s", r.Kind, r.Item, it.kind)
	}
	return w.room(64)
}

// numberLocked numbers a new attempt of n writes called at call.
func (w *Writer) numberLocked(call int64, n int) uint64 {
	w.prevCall = call
	w.attempts++
	w.records += int64(n)
	return w.attempts
}

// openLocked numbers a new attempt and keeps it open for its completion.
func (w *Writer) openLocked(call int64, n int) Ticket {
	seq := w.numberLocked(call, n)
	w.open[seq] = call
	return Ticket{seq: seq, n: n}
}

// flushFullLocked writes the buffer out once it holds batchBytes.
func (w *Writer) flushFullLocked() error {
	if len(w.buf)-frameHeaderLen < batchBytes {
		return nil
	}
	return w.writeOutLocked(w.appended)
}

// InvokeBatch records an import batch before it is sent: every item an
// acknowledged write once the batch commits (Complete with OK at the commit's
// time), none if it fails, each ambiguous if the answer is lost. Like Invoke
// it returns once the batch is in the file, in one write. Items whose names
// the generator derives from the seed cost the ledger a few bytes each.
func (w *Writer) InvokeBatch(call int64, items []ImportItem) (Ticket, error) {
	if len(items) == 0 || len(items) > maxBatchItems {
		return Ticket{}, fmt.Errorf("invoke import batch: %d items: want 1 to %d", len(items), maxBatchItems)
	}
	if call < 0 {
		return Ticket{}, fmt.Errorf("invoke import batch: call %d before the ledger's base time", call)
	}
	// Recognise generated names (a SHA-256 each) before taking the lock, so
	// that live invokes do not wait for it. Names only ever get appended.
	w.mu.Lock()
	names := w.names
	w.mu.Unlock()
	derived := make([]int8, len(items))
	for i := range items {
		it := &items[i]
		derived[i] = -1
		if int(it.User) < len(names) && validKind(it.Kind) && it.Index <= maxIndex {
			if suffix, ok := derivedSuffix(w.seed, names[it.User], it.Kind, it.Index, it.Name); ok {
				derived[i] = int8(suffix)
			}
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return Ticket{}, ErrClosed
	}
	if w.err != nil {
		return Ticket{}, w.err
	}
	b := append(w.scratch[:0], tagBatch)
	b = binary.AppendVarint(b, call-w.prevCall)
	b = binary.AppendUvarint(b, uint64(len(items)))
	var prevUser uint32
	for i := range items {
		it := &items[i]
		var err error
		if b, err = w.appendImportLocked(b, it, prevUser, int(derived[i])); err != nil {
			return Ticket{}, fmt.Errorf("invoke import batch: item %d (%s of user %d): %w", i, it.Name, it.User, err)
		}
		prevUser = it.User
	}
	w.scratch = b[:0]
	if len(b) > maxPayload {
		return Ticket{}, fmt.Errorf("invoke import batch: %d items take %d bytes, more than the %d one frame holds: import smaller batches", len(items), len(b), maxPayload)
	}
	if err := w.room(len(b)); err != nil {
		return Ticket{}, err
	}
	w.appendEntry(func(buf []byte) []byte { return append(buf, b...) })
	t := w.openLocked(call, len(items))
	if err := w.writeOutLocked(w.appended); err != nil {
		return Ticket{}, fmt.Errorf("invoke import batch: %w", err)
	}
	return t, nil
}

// appendImportLocked checks one import item and appends its batch entry;
// suffix is the code of its generated name's extension, -1 when the name is
// not generated.
func (w *Writer) appendImportLocked(b []byte, it *ImportItem, prevUser uint32, suffix int) ([]byte, error) {
	switch {
	case int(it.User) >= len(w.names):
		return b, fmt.Errorf("user index %d was never returned by User", it.User)
	case !validKind(it.Kind):
		return b, fmt.Errorf("invalid kind %d", it.Kind)
	case it.Name == "":
		return b, fmt.Errorf("empty item name")
	}
	b = binary.AppendVarint(b, int64(it.User)-int64(prevUser))
	b = binary.AppendUvarint(b, uint64(w.patternLocked(it.User, it.Collection)))
	if suffix >= 0 {
		b = append(b, byte(it.Kind)<<5|byte(suffix)<<2|batchKeyDerived)
		b = binary.AppendUvarint(b, uint64(it.Index))
	} else {
		kind := it.Kind.String()
		b = append(b, batchKeyRaw)
		b = binary.AppendUvarint(b, uint64(len(kind)+1+len(it.Name)))
		b = append(append(append(b, kind...), '/'), it.Name...)
	}
	b = append(b, it.Digest[:]...)
	return binary.AppendUvarint(b, uint64(it.Size)), nil
}
