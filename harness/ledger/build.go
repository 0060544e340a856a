package ledger

import (
	"fmt"
	"math"

	"github.com/firedrill/firedrill/harness/model"
)

// builder turns a ledger file's entries into a Ledger's user streams in two
// passes over the file. The first checks every entry, learns every
// attempt's outcome (a completion comes after its invoke) and sizes each
// user's stream; the second, over the same bytes, writes the streams into
// one exactly sized arena. Entries that do not decode or do not make sense
// are corruption: the writer never writes them.
type builder struct {
	l    *Ledger
	fill bool // the second pass

	// Tables of the first pass, kept for the second.
	live     []liveItem
	liveKeys []byte // compact keys of the live items
	attempts []attemptInfo

	// Per user, rebuilt by each pass.
	size      []int64  // first pass: bytes of the stream; second: where the next entry goes
	prevCall  []int64  // the user's previous own call
	prevBatch []int32  // the user's previous batch, -1 before the first
	items     []uint32 // items the user's stream has defined
	liveLocal []uint32 // per live item, its local index, or noLocal before its first write

	// Progress of a pass through the entries.
	users, patterns, nLive int
	nAttempts, nBatches    int
	call                   int64 // the previous attempt's call
	completions            int
	scratch                []byte // an entry being sized
	keyScratch             []byte // an import item's compact key
}

const noLocal = math.MaxUint32

// liveItem is an item interned with Writer.Item.
type liveItem struct {
	user, pattern  uint32
	keyOff, keyLen uint32
}

// attemptInfo is what the first pass learns about an attempt.
type attemptInfo struct {
	call, ret int64
	ref       uint32 // the user of a single attempt, the index of a batch
	n         uint32 // writes: 1, or the batch's items
	outcome   Outcome
	batch     bool
}

// corrupt is an error about the entry being decoded; the frame reader adds
// where it is.
type corrupt struct{ reason string }

func (c *corrupt) Error() string { return c.reason }

func corruptf(format string, args ...any) error { return &corrupt{fmt.Sprintf(format, args...)} }

// startPass resets the per-pass state; the caller sets the second pass's
// cursors in size.
func (b *builder) startPass(fill bool) {
	b.fill = fill
	if fill {
		b.users = 0
		for i := range b.prevCall {
			b.prevCall[i], b.prevBatch[i], b.items[i] = 0, -1, 0
		}
		for i := range b.liveLocal {
			b.liveLocal[i] = noLocal
		}
	}
	b.patterns, b.nLive, b.nAttempts, b.nBatches, b.call, b.completions = 0, 0, 0, 0, 0, 0
}

// frame processes the entries of one frame's payload.
func (b *builder) frame(p []byte) error {
	d := &decoder{b: p}
	for !d.done() {
		if err := b.entry(d); err != nil {
			return err
		}
		if d.err != nil {
			return &corrupt{d.err.Error()}
		}
	}
	return nil
}

// entry processes one entry.
func (b *builder) entry(d *decoder) error {
	tag := d.byte()
	switch {
	case tag == tagUser:
		name := d.bytes()
		if !b.fill && d.err == nil {
			b.l.names = append(b.l.names, name...)
			b.l.nameEnd = append(b.l.nameEnd, uint32(len(b.l.names)))
			b.size, b.prevCall, b.prevBatch, b.items = append(b.size, 0), append(b.prevCall, 0), append(b.prevBatch, -1), append(b.items, 0)
		}
		b.users++
	case tag == tagPattern:
		form, prefix, suffix := d.byte(), d.bytes(), d.bytes()
		if !b.fill && d.err == nil {
			if form >= numPatternForms {
				return corruptf("collection pattern of unknown form %d", form)
			}
			b.l.patterns = append(b.l.patterns, pattern{form: form, prefix: string(prefix), suffix: string(suffix)})
		}
		b.patterns++
	case tag == tagItem:
		return b.itemDef(d)
	case tag&0xf0 == tagInvoke && tag&0x0e == 0:
		return b.attempt(d, Op(tag&1)+1, 0, false)
	case tag&0xf0 == tagAppend && tag&0x08 == 0:
		o := Outcome(tag & 3)
		if !validOutcome(o) {
			return corruptf("entry tag %#x: invalid outcome", tag)
		}
		return b.attempt(d, Op(tag>>2&1)+1, o, true)
	case tag&0xf0 == tagComplete && tag&0x0c == 0:
		return b.complete(d, Outcome(tag&3))
	case tag == tagBatch:
		return b.batch(d)
	case tag == tagTrailer:
		return corruptf("trailer inside a frame of other entries")
	default:
		if d.err == nil {
			return corruptf("unknown entry tag %#x", tag)
		}
	}
	return nil
}

// itemDef processes a live item's definition.
func (b *builder) itemDef(d *decoder) error {
	user, pat, key := d.uvarint(), d.uvarint(), d.bytes()
	if b.fill || d.err != nil {
		b.nLive++
		return nil
	}
	if user >= uint64(b.users) || pat >= uint64(len(b.l.patterns)) {
		return corruptf("item of user %d, collection pattern %d: not defined before", user, pat)
	}
	if keyKind(key) == 0 {
		return corruptf("live item key %q is not <kind>/<name>", key)
	}
	off := len(b.liveKeys)
	b.liveKeys = encodeKey(b.liveKeys, string(key))
	b.live = append(b.live, liveItem{user: uint32(user), pattern: uint32(pat), keyOff: uint32(off), keyLen: uint32(len(b.liveKeys) - off)})
	b.liveLocal = append(b.liveLocal, noLocal)
	b.nLive++
	return nil
}

// nextCall follows the call delta chain.
func (b *builder) nextCall(d *decoder) (int64, error) {
	delta := d.varint()
	call := b.call + delta
	if (delta > 0 && call < b.call) || call < 0 {
		return 0, corruptf("call time %d+%d out of range", b.call, delta)
	}
	b.call = call
	return call, nil
}

// content reads a put's digest and size.
func (b *builder) content(d *decoder, e *memEntry) error {
	e.digest = d.digest()
	size := d.uvarint()
	if size > math.MaxUint32 {
		return corruptf("size %d out of range", size)
	}
	e.size = uint32(size)
	return nil
}

// attempt processes a live attempt: an invoke, or an invoke with its outcome.
func (b *builder) attempt(d *decoder, op Op, o Outcome, withOutcome bool) error {
	item := d.uvarint()
	call, err := b.nextCall(d)
	if err != nil {
		return err
	}
	e := memEntry{}
	if op == OpDelete {
		e.tag |= memDelete
	} else if err := b.content(d, &e); err != nil {
		return err
	}
	var dur uint64
	if withOutcome {
		dur = d.uvarint()
		b.completions++
	}
	if d.err != nil {
		return nil
	}
	if item >= uint64(len(b.live)) {
		return corruptf("attempt on item %d, which was not defined before", item)
	}
	li := &b.live[item]
	if b.fill {
		a := &b.attempts[b.nAttempts]
		o, dur = a.outcome, uint64(a.ret-a.call)
	} else {
		if dur > math.MaxInt64-uint64(call) {
			return corruptf("return time %d+%d out of range", call, dur)
		}
		b.attempts = append(b.attempts, attemptInfo{call: call, ret: call + int64(dur), ref: li.user, n: 1, outcome: o})
	}
	b.nAttempts++
	u := li.user
	if local := b.liveLocal[item]; local != noLocal {
		e.local = local
	} else {
		e.tag |= memNewItem
		e.pattern = li.pattern
		e.key = b.liveKeys[li.keyOff : li.keyOff+li.keyLen]
		b.liveLocal[item] = b.items[u]
		b.items[u]++
	}
	e.tag |= byte(o)
	e.callDelta = call - b.prevCall[u]
	b.prevCall[u] = call
	e.dur = dur
	b.emit(u, &e)
	return nil
}

// complete processes an earlier attempt's outcome.
func (b *builder) complete(d *decoder, o Outcome) error {
	dist, dur := d.uvarint(), d.uvarint()
	if d.err != nil || b.fill {
		b.completions++
		return nil
	}
	if !validOutcome(o) {
		return corruptf("completion with invalid outcome %d", o)
	}
	if dist >= uint64(b.nAttempts) {
		return corruptf("completion of attempt -%d, but only %d attempts came before", dist+1, b.nAttempts)
	}
	a := &b.attempts[b.nAttempts-1-int(dist)]
	switch {
	case a.outcome != 0:
		return corruptf("attempt %d completed twice", b.nAttempts-1-int(dist))
	case dur > math.MaxInt64-uint64(a.call):
		return corruptf("return time %d+%d out of range", a.call, dur)
	}
	a.outcome, a.ret = o, a.call+int64(dur)
	if !a.batch {
		b.size[a.ref] += int64(uvarintLen(dur)) // the return its entry will carry
	}
	b.completions++
	return nil
}

// batch processes an import batch.
func (b *builder) batch(d *decoder) error {
	call, err := b.nextCall(d)
	if err != nil {
		return err
	}
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n == 0 || n > maxBatchItems {
		return corruptf("import batch of %d items", n)
	}
	bi := b.nBatches
	if !b.fill {
		b.attempts = append(b.attempts, attemptInfo{call: call, ret: call, ref: uint32(bi), n: uint32(n), batch: true})
	}
	b.nAttempts++
	b.nBatches++
	var user int64
	for range n {
		user += d.varint()
		pat := d.uvarint()
		e := memEntry{tag: memBatch | memNewItem}
		switch k := d.byte(); {
		case k == batchKeyRaw:
			key := d.bytes()
			if d.err != nil {
				return nil
			}
			if keyKind(key) == 0 {
				return corruptf("import item key %q is not <kind>/<name>", key)
			}
			e.key = encodeKey(b.keyScratch[:0], string(key))
			b.keyScratch = e.key
		case k&3 == batchKeyDerived:
			e.tag |= memDerived
			e.keyByte = k &^ 3
			e.index = d.uvarint()
			if !validKind(model.Kind(k>>5)) || int(k>>2&7) > len(suffixes) || e.index > maxIndex {
				return corruptf("import item with derived key %#x, index %d", k, e.index)
			}
		default:
			return corruptf("import item with key form %#x", k)
		}
		if err := b.content(d, &e); err != nil || d.err != nil {
			return err
		}
		if user < 0 || user >= int64(b.users) || pat >= uint64(len(b.l.patterns)) {
			return corruptf("import item of user %d, collection pattern %d: not defined before", user, pat)
		}
		u := uint32(user)
		e.pattern = uint32(pat)
		if prev := b.prevBatch[u]; int(prev) != bi {
			e.tag |= memBatchRef
			e.batchDelta = uint64(bi - int(prev) - 1)
			b.prevBatch[u] = int32(bi)
		}
		b.items[u]++
		b.emit(u, &e)
	}
	return nil
}

// emit sizes (first pass) or writes (second pass) one entry of user u's
// stream.
func (b *builder) emit(u uint32, e *memEntry) {
	if !b.fill {
		b.scratch = e.append(b.scratch[:0])
		b.size[u] += int64(len(b.scratch))
		return
	}
	at := b.size[u]
	b.size[u] = at + int64(len(e.append(b.l.arena[at:at])))
}
