package verify

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// kindSlots sizes arrays indexed by model.Kind (kinds are small integers).
const kindSlots = 8

// ledgerIndex gives one user's history at a time. Built from a ledger, it
// keeps every user's writes packed back to back (about 30 bytes a write, no
// per-item allocation), so that a million users' histories fit where the
// grouped ledger.History would not; a user's ItemHistory values exist only
// while that user is checked. Built from a History, it uses it as is.
type ledgerIndex struct {
	l      *ledger.Ledger
	hist   *ledger.History
	names  []string
	byName map[string]uint32
	off    []uint64 // user u's writes are packed[off[u]:off[u+1]]
	packed []byte
	// kinds totals the ledger's writes by kind; wrote[u] has bit k set when
	// user u tried to write kind k.
	kinds [kindSlots]kindWrites
	wrote []uint8
}

// kindWrites counts a kind's writes in the whole ledger.
type kindWrites struct {
	users, writes, acked, refused, ambiguous int
}

func (k *kindWrites) count(w ledger.Write, r int64) {
	k.writes++
	switch {
	case w.Outcome == ledger.OK && w.Return <= r:
		k.acked++
	case w.Outcome == ledger.Failed:
		k.refused++
	case w.Outcome == ledger.Ambiguous:
		k.ambiguous++
	}
}

// newIndex indexes a ledger (or takes a History as is); r is the time writes
// count as acknowledged by.
func newIndex(l *ledger.Ledger, hist *ledger.History, r int64) *ledgerIndex {
	x := &ledgerIndex{l: l, hist: hist}
	if hist != nil {
		x.names = make([]string, len(hist.Users))
		x.wrote = make([]uint8, len(hist.Users))
		for i := range hist.Users {
			u := &hist.Users[i]
			x.names[i] = u.Name
			for _, h := range u.Items {
				for _, w := range h.Writes {
					x.note(uint32(i), h.Kind, w, r)
				}
			}
		}
	} else {
		x.pack(r)
	}
	x.byName = make(map[string]uint32, len(x.names))
	for i, n := range x.names {
		x.byName[n] = uint32(i)
	}
	return x
}

func (x *ledgerIndex) note(u uint32, k model.Kind, w ledger.Write, r int64) {
	if int(k) >= kindSlots {
		return
	}
	if x.wrote[u]&(1<<k) == 0 {
		x.wrote[u] |= 1 << k
		x.kinds[k].users++
	}
	x.kinds[k].count(w, r)
}

// pack makes two passes over the ledger: one to size every user's share of
// the packed buffer, one to fill it, so the buffer is allocated once, exactly.
func (x *ledgerIndex) pack(r int64) {
	l := x.l
	x.names = l.Users()
	n := len(x.names)
	x.wrote = make([]uint8, n)
	x.off = make([]uint64, n+1)
	prev := make([]int64, n)
	var scratch []byte
	for _, rec := range l.Records() {
		scratch = appendPacked(scratch[:0], rec, prev[rec.User])
		prev[rec.User] = rec.Call
		x.off[rec.User+1] += uint64(len(scratch))
		x.note(rec.User, rec.Kind, ledger.Write{Call: rec.Call, Return: rec.Return, Op: rec.Op, Outcome: rec.Outcome}, r)
	}
	for u := range n {
		x.off[u+1] += x.off[u]
	}
	x.packed = make([]byte, x.off[n])
	pos := slices.Clone(x.off[:n])
	clear(prev)
	for _, rec := range l.Records() {
		scratch = appendPacked(scratch[:0], rec, prev[rec.User])
		prev[rec.User] = rec.Call
		pos[rec.User] += uint64(copy(x.packed[pos[rec.User]:], scratch))
	}
}

// appendPacked encodes a record without its user: tag (kind, op, outcome),
// item, call as a delta from the user's previous call, duration, and for puts
// digest and size.
func appendPacked(b []byte, r ledger.Record, prevCall int64) []byte {
	b = append(b, byte(r.Kind)<<4|byte(r.Op)<<2|byte(r.Outcome))
	b = binary.AppendUvarint(b, uint64(r.Item))
	b = binary.AppendVarint(b, r.Call-prevCall)
	b = binary.AppendVarint(b, r.Return-r.Call)
	if r.Op == ledger.OpPut {
		b = append(b, r.Digest[:]...)
		b = binary.AppendUvarint(b, uint64(r.Size))
	}
	return b
}

// packedWrite is one decoded entry of a user's packed writes.
type packedWrite struct {
	item uint32
	kind model.Kind
	w    ledger.Write
}

// eachPacked decodes a user's packed writes in append order. The entries
// were written by appendPacked from records Load had checked.
func eachPacked(p []byte, f func(packedWrite)) {
	var prevCall int64
	for len(p) > 0 {
		var pw packedWrite
		tag := p[0]
		pw.kind = model.Kind(tag >> 4)
		pw.w.Op = ledger.Op(tag >> 2 & 3)
		pw.w.Outcome = ledger.Outcome(tag & 3)
		p = p[1:]
		item, n := binary.Uvarint(p)
		p = p[n:]
		call, n := binary.Varint(p)
		p = p[n:]
		dur, n := binary.Varint(p)
		p = p[n:]
		pw.item = uint32(item)
		pw.w.Call = prevCall + call
		pw.w.Return = pw.w.Call + dur
		prevCall = pw.w.Call
		if pw.w.Op == ledger.OpPut {
			copy(pw.w.Digest[:], p)
			size, n := binary.Uvarint(p[len(pw.w.Digest):])
			pw.w.Size = uint32(size)
			p = p[len(pw.w.Digest)+n:]
		}
		f(pw)
	}
}

// users returns the number of users the ledger knows.
func (x *ledgerIndex) users() int { return len(x.names) }

// hasWrites reports whether user u has any record.
func (x *ledgerIndex) hasWrites(u uint32) bool {
	if x.hist != nil {
		return len(x.hist.Users[u].Items) > 0
	}
	return x.off[u+1] > x.off[u]
}

// user returns user u's history: the History's own, or one decoded from the
// packed writes for this call alone.
func (x *ledgerIndex) user(u uint32) *ledger.UserHistory {
	if x.hist != nil {
		return &x.hist.Users[u]
	}
	uh := &ledger.UserHistory{User: u, Name: x.names[u]}
	pws := make([]packedWrite, 0, (x.off[u+1]-x.off[u])/20+1)
	eachPacked(x.packed[x.off[u]:x.off[u+1]], func(pw packedWrite) { pws = append(pws, pw) })
	if len(pws) == 0 {
		return uh
	}
	// Group by item keeping append order within each item; the writes of all
	// items share one backing array.
	slices.SortStableFunc(pws, func(a, b packedWrite) int { return cmp.Compare(a.item, b.item) })
	writes := make([]ledger.Write, len(pws))
	for i, pw := range pws {
		writes[i] = pw.w
	}
	for i := 0; i < len(pws); {
		j := i + 1
		for j < len(pws) && pws[j].item == pws[i].item {
			j++
		}
		uh.Items = append(uh.Items, ledger.ItemHistory{Item: pws[i].item, Key: x.l.ItemKey(pws[i].item), Kind: pws[i].kind, Writes: writes[i:j:j]})
		i = j
	}
	slices.SortFunc(uh.Items, func(a, b ledger.ItemHistory) int { return cmp.Compare(a.Key, b.Key) })
	return uh
}

// memoryBytes is the index's own heap, for benchmarks.
func (x *ledgerIndex) memoryBytes() int {
	return cap(x.packed) + 8*cap(x.off) + cap(x.wrote) + 48*len(x.byName)
}
