package verify

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"slices"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// owners finds who wrote a foreign item. A run with a few foreign items (the
// canary plants one in every run) should not pay for an index of every
// write, and one whose accounts got mixed up should not scan the ledger per
// item: the first scanLookups lookups scan the packed writes, later ones use
// sorted indexes built on first need.
type owners struct {
	x *ledgerIndex
	// contentOnly: an owner is named only for content someone held, never
	// for a key alone (a baseline: servers name items alike for all users).
	contentOnly bool
	lookups     int
	byDigest    []ownedWrite // sorted by digest prefix
	byKey       []ownedWrite // sorted by key hash
}

// scanLookups is how many owner lookups scan before the indexes are built.
const scanLookups = 16

// ownedWrite names a user's item by a 64-bit fingerprint (a digest prefix or
// a key hash); candidates are confirmed against the user's history.
type ownedWrite struct {
	print uint64
	user  uint32
	item  uint32
}

func digestPrint(d model.Digest) uint64 { return binary.LittleEndian.Uint64(d[:8]) }

func keyPrint(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// lookup returns who, other than user self, wrote the item: someone who
// wrote this content under this key, else someone who wrote this content
// under another key, else someone who wrote this key.
func (o *owners) lookup(self uint32, key string, d model.Digest, haveDigest bool) (string, string) {
	o.lookups++
	if haveDigest && !d.IsZero() {
		var other *ownedItemRef
		for _, c := range o.digestCandidates(d) {
			if c.user == self {
				continue
			}
			uh := o.x.user(c.user)
			for i := range uh.Items {
				h := &uh.Items[i]
				if h.Item != c.item {
					continue
				}
				if _, ok := version(h, d); !ok {
					continue
				}
				if h.Key == key {
					return uh.Name, key
				}
				if other == nil {
					other = &ownedItemRef{uh.Name, h.Key}
				}
			}
		}
		if other != nil {
			return other.user, other.key
		}
	}
	if o.contentOnly {
		return "", ""
	}
	for _, c := range o.keyCandidates(key) {
		if c.user == self {
			continue
		}
		if uh := o.x.user(c.user); uh.Find(key) != nil {
			return uh.Name, key
		}
	}
	return "", ""
}

type ownedItemRef struct{ user, key string }

// digestCandidates returns users' items that may hold a put of d.
func (o *owners) digestCandidates(d model.Digest) []ownedWrite {
	p := digestPrint(d)
	// A baseline's scan reads the whole snapshot file again: index at once.
	if o.byDigest == nil && (o.lookups > scanLookups || o.x.base != nil) {
		o.byDigest = o.build(func(u uint32, item uint32, key string, w ledger.Write, emit func(uint64)) {
			if w.Op == ledger.OpPut {
				emit(digestPrint(w.Digest))
			}
		})
	}
	if o.byDigest != nil {
		return matching(o.byDigest, p)
	}
	var out []ownedWrite
	o.each(func(u uint32, item uint32, key string, w ledger.Write) {
		if w.Op == ledger.OpPut && w.Digest == d {
			out = append(out, ownedWrite{p, u, item})
		}
	})
	return out
}

// keyCandidates returns users' items that may have this key.
func (o *owners) keyCandidates(key string) []ownedWrite {
	p := keyPrint(key)
	if o.byKey == nil && o.lookups > scanLookups {
		o.byKey = o.buildKeys()
	}
	if o.byKey != nil {
		return matching(o.byKey, p)
	}
	var out []ownedWrite
	seen := map[uint32]bool{}
	o.each(func(u uint32, item uint32, k string, w ledger.Write) {
		if !seen[u] && o.keyOf(item, k) == key {
			seen[u] = true
			out = append(out, ownedWrite{p, u, item})
		}
	})
	return out
}

// keyOf returns an item's key: the History's, or the ledger's interned one.
func (o *owners) keyOf(item uint32, key string) string {
	if o.x.l == nil {
		return key
	}
	return o.x.l.ItemKey(item)
}

// buildKeys indexes every user's items by key hash, hashing each interned
// key once.
func (o *owners) buildKeys() []ownedWrite {
	var prints []uint64
	if o.x.l != nil {
		prints = make([]uint64, o.x.l.NumItems())
		for i := range prints {
			prints[i] = keyPrint(o.x.l.ItemKey(uint32(i)))
		}
	}
	last := map[uint64]bool{}
	return o.build(func(u uint32, item uint32, key string, w ledger.Write, emit func(uint64)) {
		k := uint64(u)<<32 | uint64(item)
		if last[k] {
			return
		}
		last[k] = true
		if prints != nil {
			emit(prints[item])
		} else {
			emit(keyPrint(key))
		}
	})
}

// build collects fingerprints of every write and sorts them.
func (o *owners) build(f func(u uint32, item uint32, key string, w ledger.Write, emit func(uint64))) []ownedWrite {
	out := []ownedWrite{}
	o.each(func(u uint32, item uint32, key string, w ledger.Write) {
		f(u, item, key, w, func(p uint64) { out = append(out, ownedWrite{p, u, item}) })
	})
	slices.SortFunc(out, func(a, b ownedWrite) int { return cmp.Compare(a.print, b.print) })
	return slices.Clip(out)
}

// each visits every write of the ledger with its user and item; key is set
// only for an index built from a History.
func (o *owners) each(f func(u uint32, item uint32, key string, w ledger.Write)) {
	x := o.x
	if x.base != nil {
		x.base.Each(func(uh *ledger.UserHistory) bool {
			for _, h := range uh.Items {
				for _, w := range h.Writes {
					f(uh.User, h.Item, h.Key, w)
				}
			}
			return true
		})
		return
	}
	if x.hist != nil {
		for ui := range x.hist.Users {
			for _, h := range x.hist.Users[ui].Items {
				for _, w := range h.Writes {
					f(uint32(ui), h.Item, h.Key, w)
				}
			}
		}
		return
	}
	for _, r := range x.l.Records() {
		f(r.User, r.Item, "", ledger.Write{Call: r.Call, Return: r.Return, Digest: r.Digest, Size: r.Size, Op: r.Op, Outcome: r.Outcome, Pending: r.Pending})
	}
}

// matching returns the entries of a sorted index with fingerprint p.
func matching(idx []ownedWrite, p uint64) []ownedWrite {
	i, _ := slices.BinarySearchFunc(idx, p, func(e ownedWrite, p uint64) int { return cmp.Compare(e.print, p) })
	j := i
	for j < len(idx) && idx[j].print == p {
		j++
	}
	return idx[i:j]
}
