package ledger

import (
	"fmt"
	"iter"
	"sort"
	"time"

	"github.com/firedrill/firedrill/harness/model"
)

// Ledger is a loaded ledger: the run's base time and meta, its users and
// their items, and every write, packed user by user (see stream.go) so that
// a ledger of mostly resting items takes under 32 bytes an item. Records,
// UserHistory, Histories and History decode it.
type Ledger struct {
	Base time.Time
	Meta Meta
	// Torn is set when the file's last frame is torn (a crash while writing
	// it): the ledger holds what came before.
	Torn *TornError
	// CutShort is set when the file has no trailer (always when Torn is):
	// the run never closed the ledger. Its attempts without an outcome are
	// ambiguous (Record.Pending).
	CutShort *CutShortError

	names     []byte   // user names back to back
	nameEnd   []uint32 // end of each user's name in names
	streamEnd []int64  // end of each user's stream in arena; it starts where the previous one ends
	itemBase  []uint32 // the number of each user's first item
	arena     []byte
	patterns  []pattern
	batches   []batchTiming
	records   int
	items     int
	pending   int
	lastTime  int64 // the latest call or return on record
}

// batchTiming is an import batch's call, return and outcome (0: pending).
type batchTiming struct {
	call, ret int64
	outcome   Outcome
}

// finish takes the tables of the builder's first pass and sizes the arena.
func (l *Ledger) finish(b *builder) {
	for _, a := range b.attempts {
		l.records += int(a.n)
		if a.outcome == 0 {
			l.pending += int(a.n)
		}
		l.lastTime = max(l.lastTime, a.call, a.ret)
		if a.batch {
			l.batches = append(l.batches, batchTiming{call: a.call, ret: a.ret, outcome: a.outcome})
		}
	}
	l.streamEnd = make([]int64, len(b.size))
	l.itemBase = make([]uint32, len(b.size))
	var end int64
	for u, n := range b.size {
		end += n
		l.streamEnd[u] = end
		l.itemBase[u] = uint32(l.items)
		l.items += int(b.items[u])
	}
	l.arena = make([]byte, end)
	l.names = append([]byte(nil), l.names...)
	l.nameEnd = append([]uint32(nil), l.nameEnd...)
	l.patterns = append([]pattern(nil), l.patterns...)
}

// Len returns the number of writes: attempts, with every item of an import
// batch counted.
func (l *Ledger) Len() int { return l.records }

// Pending returns the number of writes without a recorded outcome.
func (l *Ledger) Pending() int { return l.pending }

// NumUsers returns the number of users.
func (l *Ledger) NumUsers() int { return len(l.nameEnd) }

// User returns the name of user i.
func (l *Ledger) User(i uint32) string {
	start := uint32(0)
	if i > 0 {
		start = l.nameEnd[i-1]
	}
	return string(l.names[start:l.nameEnd[i]])
}

// Users returns every user's name, indexed by Record.User. It makes the
// slice on each call.
func (l *Ledger) Users() []string {
	out := make([]string, l.NumUsers())
	for i := range out {
		out[i] = l.User(uint32(i))
	}
	return out
}

// NumItems returns the number of items (a user's item is numbered once per
// collection it was interned with, and once per import).
func (l *Ledger) NumItems() int { return l.items }

func (l *Ledger) streamStart(u uint32) int64 {
	if u == 0 {
		return 0
	}
	return l.streamEnd[u-1]
}

// stream returns user u's packed writes.
func (l *Ledger) stream(u uint32) []byte { return l.arena[l.streamStart(u):l.streamEnd[u]] }

// owner returns the user item i belongs to.
func (l *Ledger) owner(i uint32) uint32 {
	return uint32(sort.Search(len(l.itemBase), func(u int) bool { return l.itemBase[u] > i }) - 1)
}

// ItemKey returns item i's key (model.ItemKey form). It reads the owner's
// writes up to the item's first: to go through many items, use UserHistory.
func (l *Ledger) ItemKey(i uint32) string {
	key, _ := l.item(i)
	return key
}

// ItemCollection returns the URL path of the collection item i was written
// to, "" when it was not recorded.
func (l *Ledger) ItemCollection(i uint32) string {
	_, coll := l.item(i)
	return coll
}

func (l *Ledger) item(i uint32) (key, collection string) {
	if int(i) >= l.items {
		panic(fmt.Sprintf("ledger: item %d of %d", i, l.items))
	}
	u := l.owner(i)
	s := newStreamReader(l.stream(u))
	for s.next() {
		if s.e.tag&memNewItem != 0 && s.curLocal == i-l.itemBase[u] {
			name := l.User(u)
			return l.itemKey(name, &s.e), l.patterns[s.e.pattern].path(name)
		}
	}
	panic(fmt.Sprintf("ledger: item %d is not in its user's stream", i))
}

// itemKey decodes the key of the item an entry defines, for its user.
func (l *Ledger) itemKey(user string, e *memEntry) string {
	if e.tag&memDerived == 0 {
		return decodeKey(e.key)
	}
	var buf [64]byte
	return string(appendDerivedKey(buf[:0], l.Meta.Seed, user, model.Kind(e.keyByte>>5), int(e.index), int(e.keyByte>>2&7)))
}

// entryKind returns the kind of the item an entry defines.
func entryKind(e *memEntry) model.Kind {
	if e.tag&memDerived != 0 {
		return model.Kind(e.keyByte >> 5)
	}
	return model.Kind(e.key[0] >> 5)
}

// write resolves the times and outcome of the entry s decoded last.
func (l *Ledger) write(s *streamReader) Write {
	e := &s.e
	w := Write{Digest: e.digest, Size: e.size, Op: OpPut}
	if e.tag&memDelete != 0 {
		w.Op = OpDelete
	}
	if e.tag&memBatch != 0 {
		bt := &l.batches[s.curBatch]
		w.Call, w.Return, w.Outcome = bt.call, bt.ret, bt.outcome
	} else {
		w.Call, w.Outcome = s.curCall, Outcome(e.tag&memOutcome)
		w.Return = w.Call + int64(e.dur)
	}
	if w.Outcome == 0 {
		w.Outcome, w.Pending, w.Return = Ambiguous, true, max(w.Call, l.lastTime)
	}
	return w
}

// Records yields every write with its position: user by user (in user index
// order), each user's in append order.
func (l *Ledger) Records() iter.Seq2[int, Record] {
	return func(yield func(int, Record) bool) {
		var kinds []model.Kind
		i := 0
		for u := range uint32(l.NumUsers()) {
			kinds = kinds[:0]
			s := newStreamReader(l.stream(u))
			for s.next() {
				if s.e.tag&memNewItem != 0 {
					kinds = append(kinds, entryKind(&s.e))
				}
				w := l.write(s)
				r := Record{Call: w.Call, Return: w.Return, User: u, Item: l.itemBase[u] + s.curLocal, Digest: w.Digest, Size: w.Size,
					Kind: kinds[s.curLocal], Op: w.Op, Outcome: w.Outcome, Pending: w.Pending}
				if !yield(i, r) {
					return
				}
				i++
			}
		}
	}
}

// MemoryBytes returns the bytes the loaded ledger holds on the heap for its
// users, items and writes (excluding the small fixed-size header).
func (l *Ledger) MemoryBytes() int {
	n := cap(l.names) + 4*cap(l.nameEnd) + 8*cap(l.streamEnd) + 4*cap(l.itemBase) + cap(l.arena) + 24*cap(l.batches)
	for _, p := range l.patterns {
		n += 40 + len(p.prefix) + len(p.suffix)
	}
	return n
}
