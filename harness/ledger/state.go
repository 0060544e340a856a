package ledger

import (
	"cmp"
	"iter"
	"math"
	"slices"

	"github.com/firedrill/firedrill/harness/model"
)

// State is an item's content at a point in time: absent, or present with a
// digest and size.
type State struct {
	Present bool         `json:"present"`
	Digest  model.Digest `json:"digest"`
	Size    uint32       `json:"size"`
}

// Absent is the state of an item that does not exist.
var Absent = State{}

// Same reports whether two states are the same content: both absent, or both
// present with equal digests. Sizes do not count: a server may serve a
// semantic item re-serialised, with another size but the same meaning.
func (s State) Same(o State) bool {
	return s.Present == o.Present && (!s.Present || s.Digest == o.Digest)
}

// Write is one record in an item's history, without the user and item it
// belongs to.
type Write struct {
	Call    int64
	Return  int64
	Digest  model.Digest
	Size    uint32
	Op      Op
	Outcome Outcome
	// Pending: the attempt's outcome was never recorded (the ledger was cut
	// short); Outcome is Ambiguous and Return the last time the ledger knew of.
	Pending bool
}

// State returns the item's state right after the write took effect.
func (w Write) State() State {
	if w.Op == OpDelete {
		return Absent
	}
	return State{Present: true, Digest: w.Digest, Size: w.Size}
}

// ItemHistory is every write one user made to one item in one collection,
// in append order.
type ItemHistory struct {
	Item uint32 // index of the item in the ledger (its first, if imported and written live)
	Key  string // model.ItemKey form
	// Collection is the URL path of the collection the item was written to
	// (e.g. "/dav/u1/contacts/"), "" when the writer did not record it. The
	// same key in two collections is two items.
	Collection string
	Kind       model.Kind
	Writes     []Write
}

// UserHistory is one user's item histories, sorted by key and collection.
type UserHistory struct {
	User  uint32
	Name  string
	Items []ItemHistory
}

// Find returns the history of the item with the given key (the first, if the
// user wrote it to more than one collection), or nil.
func (u *UserHistory) Find(key string) *ItemHistory {
	i, ok := slices.BinarySearchFunc(u.Items, key, func(h ItemHistory, k string) int { return cmp.Compare(h.Key, k) })
	if !ok {
		return nil
	}
	return &u.Items[i]
}

// History is a ledger's writes grouped by user (in user index order) and item.
type History struct {
	Users []UserHistory
}

// History groups the ledger's writes by user and item: every user's history
// at once (see Histories to go user by user). Every user appears, even one
// without writes.
func (l *Ledger) History() *History {
	h := &History{Users: make([]UserHistory, 0, l.NumUsers())}
	for uh := range l.Histories() {
		h.Users = append(h.Users, *uh)
	}
	return h
}

// Histories yields every user's history in user index order, building each
// when it is reached: a verifier that checks user by user holds one user's
// histories at a time, whatever the number of users.
func (l *Ledger) Histories() iter.Seq[*UserHistory] {
	return func(yield func(*UserHistory) bool) {
		for u := range uint32(l.NumUsers()) {
			if !yield(l.UserHistory(u)) {
				return
			}
		}
	}
}

// UserHistory builds user u's history from the packed writes.
func (l *Ledger) UserHistory(u uint32) *UserHistory {
	name := l.User(u)
	h := &UserHistory{User: u, Name: name}
	type def struct {
		key, coll string
		kind      model.Kind
		writes    int
	}
	var defs []def
	var colls []struct {
		pattern uint32
		path    string
	}
	collection := func(p uint32) string {
		for _, c := range colls {
			if c.pattern == p {
				return c.path
			}
		}
		path := l.patterns[p].path(name)
		colls = append(colls, struct {
			pattern uint32
			path    string
		}{p, path})
		return path
	}
	stream := l.stream(u)
	s := newStreamReader(stream)
	for s.next() {
		if s.e.tag&memNewItem != 0 {
			defs = append(defs, def{key: l.itemKey(name, &s.e), coll: collection(s.e.pattern), kind: entryKind(&s.e)})
		}
		defs[s.curLocal].writes++
	}
	if len(defs) == 0 {
		return h
	}
	// One history per (key, collection): an item imported and then written
	// live, or imported twice, is defined more than once.
	order := make([]int, len(defs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(defs[a].key, defs[b].key), cmp.Compare(defs[a].coll, defs[b].coll))
	})
	slot := make([]int32, len(defs))
	counts := make([]int, 0, len(defs))
	for _, i := range order {
		d := &defs[i]
		if n := len(h.Items); n > 0 && h.Items[n-1].Key == d.key && h.Items[n-1].Collection == d.coll {
			slot[i] = int32(n - 1)
			counts[n-1] += d.writes
			continue
		}
		slot[i] = int32(len(h.Items))
		counts = append(counts, d.writes)
		h.Items = append(h.Items, ItemHistory{Item: l.itemBase[u] + uint32(i), Key: d.key, Collection: d.coll, Kind: d.kind})
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	writes := make([]Write, total)
	for i, n := range counts {
		h.Items[i].Writes, writes = writes[:0:n], writes[n:]
	}
	s = newStreamReader(stream)
	for s.next() {
		it := &h.Items[slot[s.curLocal]]
		it.Writes = append(it.Writes, l.write(s))
	}
	return h
}

// PossibleAt returns the states the item may be in at time cut, sorted with
// Absent first. A write is certain once its acknowledgement returned (OK and
// Return <= cut); an OK write in flight at the cut (Call <= cut < Return) and
// an ambiguous write called by the cut may or may not have taken effect; a
// failed write never did. A certain write can be the last one unless another
// certain write started after it returned; an uncertain one always can.
// Absent is possible while no write is certain.
func (h *ItemHistory) PossibleAt(cut int64) []State {
	maxCall := int64(math.MinInt64)
	certain := false
	for _, w := range h.Writes {
		if w.Outcome == OK && w.Return <= cut {
			certain = true
			maxCall = max(maxCall, w.Call)
		}
	}
	var out []State
	if !certain {
		out = append(out, Absent)
	}
	for _, w := range h.Writes {
		switch {
		case w.Outcome == OK && w.Return <= cut && w.Return >= maxCall,
			w.Outcome == OK && w.Call <= cut && cut < w.Return,
			w.Outcome == Ambiguous && w.Call <= cut:
			out = addState(out, w.State())
		}
	}
	return sortStates(out)
}

// PossibleFrom returns the states the item may be in at cut or at any time
// after it: the states a restore that lost nothing acknowledged by cut may
// show.
func (h *ItemHistory) PossibleFrom(cut int64) []State {
	out := h.PossibleAt(cut)
	for _, t := range h.events(cut, math.MaxInt64) {
		for _, s := range h.PossibleAt(t) {
			out = addState(out, s)
		}
	}
	return sortStates(out)
}

// PossibleBetween returns the states the item may be in at some time in
// [lo, hi].
func (h *ItemHistory) PossibleBetween(lo, hi int64) []State {
	out := h.PossibleAt(lo)
	for _, t := range h.events(lo, hi) {
		for _, s := range h.PossibleAt(t) {
			out = addState(out, s)
		}
	}
	return sortStates(out)
}

// Interval is a half-open span of ledger time [From, To).
type Interval struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Accepts returns the times in [lo, hi] at which the item may be in state s
// (compared with State.Same), as sorted, disjoint intervals (the last one
// ends at hi+1).
func (h *ItemHistory) Accepts(s State, lo, hi int64) []Interval {
	points := append([]int64{lo}, h.events(lo, hi)...)
	var out []Interval
	for i, p := range points {
		end := hi + 1
		if i+1 < len(points) {
			end = points[i+1]
		}
		if !slices.ContainsFunc(h.PossibleAt(p), s.Same) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].To == p {
			out[n-1].To = end
		} else {
			out = append(out, Interval{From: p, To: end})
		}
	}
	return out
}

// events returns the sorted distinct times in (lo, hi] at which the item's
// possible states can change: the calls and returns of its writes.
func (h *ItemHistory) events(lo, hi int64) []int64 {
	var ts []int64
	for _, w := range h.Writes {
		if w.Outcome == Failed {
			continue
		}
		for _, t := range [2]int64{w.Call, w.Return} {
			if t > lo && t <= hi {
				ts = append(ts, t)
			}
		}
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// LastAcked returns the last write acknowledged by cut (the OK write with the
// latest Return <= cut), if any.
func (h *ItemHistory) LastAcked(cut int64) (Write, bool) {
	var last Write
	found := false
	for _, w := range h.Writes {
		if w.Outcome == OK && w.Return <= cut && (!found || w.Return > last.Return) {
			last, found = w, true
		}
	}
	return last, found
}

// Acked returns the number of writes acknowledged by cut.
func (h *ItemHistory) Acked(cut int64) int {
	n := 0
	for _, w := range h.Writes {
		if w.Outcome == OK && w.Return <= cut {
			n++
		}
	}
	return n
}

// addState adds s to a small set of states.
func addState(set []State, s State) []State {
	if slices.Contains(set, s) {
		return set
	}
	return append(set, s)
}

// sortStates orders states: Absent first, then by digest.
func sortStates(set []State) []State {
	slices.SortFunc(set, func(a, b State) int {
		if a.Present != b.Present {
			if !a.Present {
				return -1
			}
			return 1
		}
		if c := slices.Compare(a.Digest[:], b.Digest[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.Size, b.Size)
	})
	return set
}

// Expectation is every user's expected items at one cut.
type Expectation struct {
	Cut   int64             `json:"cut"`
	Users []UserExpectation `json:"users"`
}

// UserExpectation is one user's expected items at the cut.
type UserExpectation struct {
	User  string            `json:"user"`
	Items []ItemExpectation `json:"items"`
}

// ItemExpectation is what one item may be at the cut. An item with more than
// one possible state involves an ambiguous or in-flight write.
type ItemExpectation struct {
	Key        string     `json:"key"`
	Collection string     `json:"collection,omitempty"`
	Kind       model.Kind `json:"kind"`
	Possible   []State    `json:"possible"`
	// Acked counts the item's writes acknowledged by the cut; LastAcked is
	// the Return of the last of them, -1 when there is none.
	Acked     int   `json:"acked"`
	LastAcked int64 `json:"last_acked"`
}

// Expected returns every user's expected items at cut: for each item the
// user ever wrote, the states it may be in (see ItemHistory.PossibleAt). It
// builds one user's history at a time.
func (l *Ledger) Expected(cut int64) *Expectation {
	e := &Expectation{Cut: cut, Users: make([]UserExpectation, 0, l.NumUsers())}
	for uh := range l.Histories() {
		e.Users = append(e.Users, uh.expected(cut))
	}
	return e
}

// Expected returns every user's expected items at cut.
func (h *History) Expected(cut int64) *Expectation {
	e := &Expectation{Cut: cut, Users: make([]UserExpectation, len(h.Users))}
	for i := range h.Users {
		e.Users[i] = h.Users[i].expected(cut)
	}
	return e
}

// expected returns the user's expected items at cut.
func (u *UserHistory) expected(cut int64) UserExpectation {
	ue := UserExpectation{User: u.Name, Items: make([]ItemExpectation, len(u.Items))}
	for j := range u.Items {
		it := &u.Items[j]
		last := int64(-1)
		if w, ok := it.LastAcked(cut); ok {
			last = w.Return
		}
		ue.Items[j] = ItemExpectation{Key: it.Key, Collection: it.Collection, Kind: it.Kind, Possible: it.PossibleAt(cut), Acked: it.Acked(cut), LastAcked: last}
	}
	return ue
}
