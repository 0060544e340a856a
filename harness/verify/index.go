package verify

import (
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// kindSlots sizes arrays indexed by model.Kind (kinds are small integers).
const kindSlots = 8

// ledgerIndex gives one user's history at a time. Built from a ledger, it
// asks the ledger for one user's history when that user is checked (the
// ledger keeps every user's writes packed), and keeps only per-kind totals
// and a byte per user of its own, so that a million users' histories never
// exist at once. Built from a History, it uses it as is.
type ledgerIndex struct {
	l      *ledger.Ledger
	hist   *ledger.History
	base   Expected
	names  []string
	byName map[string]uint32
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

// newIndex indexes a baseline, or a ledger (or takes a History as is); r is
// the time writes count as acknowledged by.
func newIndex(l *ledger.Ledger, hist *ledger.History, base Expected, r int64) *ledgerIndex {
	x := &ledgerIndex{l: l, hist: hist, base: base}
	if base != nil {
		x.names = base.Users()
		x.wrote = make([]uint8, len(x.names))
		base.Each(func(uh *ledger.UserHistory) bool {
			for _, h := range uh.Items {
				for _, w := range h.Writes {
					x.note(uh.User, h.Kind, w, r)
				}
			}
			return true
		})
	} else if hist != nil {
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
		x.count(r)
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

// count makes one pass over the ledger's records for the per-kind totals and
// which users wrote what.
func (x *ledgerIndex) count(r int64) {
	x.names = x.l.Users()
	x.wrote = make([]uint8, len(x.names))
	for _, rec := range x.l.Records() {
		x.note(rec.User, rec.Kind, ledger.Write{Call: rec.Call, Return: rec.Return, Op: rec.Op, Outcome: rec.Outcome}, r)
	}
}

// users returns the number of users the ledger knows.
func (x *ledgerIndex) users() int { return len(x.names) }

// hasWrites reports whether user u has any record.
func (x *ledgerIndex) hasWrites(u uint32) bool { return x.wrote[u] != 0 }

// user returns user u's history: the History's own, or the ledger's, built
// for this call alone.
func (x *ledgerIndex) user(u uint32) *ledger.UserHistory {
	if x.base != nil {
		return x.base.UserHistory(u)
	}
	if x.hist != nil {
		return &x.hist.Users[u]
	}
	return x.l.UserHistory(u)
}

// memoryBytes is the index's own heap, for benchmarks.
func (x *ledgerIndex) memoryBytes() int {
	return cap(x.wrote) + 48*len(x.byName)
}
