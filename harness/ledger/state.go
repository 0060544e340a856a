package ledger

import (
	"cmp"
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
}

// State returns the item's state right after the write took effect.
func (w Write) State() State {
	if w.Op == OpDelete {
		return Absent
	}
	return State{Present: true, Digest: w.Digest, Size: w.Size}
}

// ItemHistory is every write one user made to one item, in append order.
type ItemHistory struct {
	Item   uint32 // index of the key in the ledger
	Key    string // model.ItemKey form
	Kind   model.Kind
	Writes []Write
}

// UserHistory is one user's item histories, sorted by key.
type UserHistory struct {
	User  uint32
	Name  string
	Items []ItemHistory
}

// Find returns the history of the item with the given key, or nil.
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

// History groups the ledger's records by user and item. Every interned user
// appears, even one without records.
func (l *Ledger) History() *History {
	h := &History{Users: make([]UserHistory, len(l.users))}
	for i, name := range l.users {
		h.Users[i] = UserHistory{User: uint32(i), Name: name}
	}
	slot := make(map[uint64]int32, l.n)
	for _, r := range l.Records() {
		u := &h.Users[r.User]
		k := uint64(r.User)<<32 | uint64(r.Item)
		i, ok := slot[k]
		if !ok {
			i = int32(len(u.Items))
			slot[k] = i
			u.Items = append(u.Items, ItemHistory{Item: r.Item, Key: l.ItemKey(r.Item), Kind: r.Kind})
		}
		it := &u.Items[i]
		it.Writes = append(it.Writes, Write{Call: r.Call, Return: r.Return, Digest: r.Digest, Size: r.Size, Op: r.Op, Outcome: r.Outcome})
	}
	for i := range h.Users {
		slices.SortFunc(h.Users[i].Items, func(a, b ItemHistory) int { return cmp.Compare(a.Key, b.Key) })
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
	Key      string     `json:"key"`
	Kind     model.Kind `json:"kind"`
	Possible []State    `json:"possible"`
	// Acked counts the item's writes acknowledged by the cut; LastAcked is
	// the Return of the last of them, -1 when there is none.
	Acked     int   `json:"acked"`
	LastAcked int64 `json:"last_acked"`
}

// Expected returns every user's expected items at cut: for each item the
// user ever wrote, the states it may be in (see ItemHistory.PossibleAt).
func (l *Ledger) Expected(cut int64) *Expectation {
	return l.History().Expected(cut)
}

// Expected returns every user's expected items at cut.
func (h *History) Expected(cut int64) *Expectation {
	e := &Expectation{Cut: cut, Users: make([]UserExpectation, len(h.Users))}
	for i, u := range h.Users {
		ue := UserExpectation{User: u.Name, Items: make([]ItemExpectation, len(u.Items))}
		for j := range u.Items {
			it := &u.Items[j]
			last := int64(-1)
			if w, ok := it.LastAcked(cut); ok {
				last = w.Return
			}
			ue.Items[j] = ItemExpectation{Key: it.Key, Kind: it.Kind, Possible: it.PossibleAt(cut), Acked: it.Acked(cut), LastAcked: last}
		}
		e.Users[i] = ue
	}
	return e
}
