package verify

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// tally is what checking one user adds to the run's totals. The canary's
// checks make tallies too, and throw them away.
type tally struct {
	kinds                [kindSlots]Counts // item counts by kind
	lostWrites           int
	oldestLost           int64
	collectionsUnchecked int
	badKeys              []string
}

// userCheck is one check of one user's observation against that user's
// history alone.
type userCheck struct {
	c        *Checker
	self     uint32 // the user's index in the ledger
	uo       *model.UserObservation
	uh       *ledger.UserHistory
	ur       UserResult
	t        tally
	recorded func(key string) string
	// recordedItem is recorded for one item of the history: against a
	// baseline, the item's own collection.
	recordedItem func(h *ledger.ItemHistory) string
	// uncovered gives, for kinds the load tried but the server never
	// acknowledged, why they are not covered; notOffered holds the kinds the
	// observer found no collection for.
	uncovered  map[model.Kind]string
	notOffered map[model.Kind]bool
	passed     []passedItem
	mixedCut   bool
}

// passedItem is an item whose observed state is acceptable on its own.
type passedItem struct {
	h     *ledger.ItemHistory
	o     *model.ObservedItem // nil when absent
	state ledger.State
	poss  []ledger.State
}

// checkUser checks one user; overlay, when set, overrides the recorded
// collection of some keys (the canary's planted moves).
func (c *Checker) checkUser(self uint32, uo *model.UserObservation, uh *ledger.UserHistory, overlay map[string]string) *userCheck {
	u := &userCheck{c: c, self: self, uo: uo, uh: uh, ur: UserResult{User: uo.User, Verdict: Intact}}
	u.t.oldestLost = math.MaxInt64
	u.recorded = func(key string) string {
		if col, ok := overlay[key]; ok {
			return col
		}
		if c.in.Collection != nil {
			return c.in.Collection(uo.User, key)
		}
		if h := uh.Find(key); h != nil {
			return h.Collection
		}
		return ""
	}
	u.recordedItem = func(h *ledger.ItemHistory) string {
		if _, ok := overlay[h.Key]; ok || c.in.Baseline == nil {
			return u.recorded(h.Key)
		}
		return h.Collection // a baseline may hold one key in two collections
	}
	byKey, bad := groupByKey(uo)
	if len(bad) > 0 {
		u.t.badKeys = bad
		u.ur.Verdict = Undecided
		u.ur.Reason = fmt.Sprintf("%d invalid or duplicate item keys (%s): want unique <kind>/<name> keys, one per collection", len(bad), names(bad))
		return u
	}
	u.coverage()
	if uo.Unreadable != "" {
		u.unreadableAccount()
		return u
	}
	var twins map[int][]*model.ObservedItem
	if c.in.Baseline != nil {
		twins = pairTwins(uh, byKey)
	}
	for i := range uh.Items {
		h := &uh.Items[i]
		copies, twin := twins[i]
		if !twin {
			copies = byKey[h.Key]
			delete(byKey, h.Key)
		}
		u.item(h, copies)
	}
	u.foreign(byKey)
	if c.in.Mode == PointInTime && !u.damaged() {
		u.consistentCut()
	}
	u.conclude()
	return u
}

// pairTwins hands out the observed copies of the keys a baseline user holds
// in more than one collection (two calendars, each with its x.ics): to each
// item the copies in its own collection, then to each item left without one
// a copy from another collection (to be judged moved). It returns the copies
// by item index and takes them out of byKey; copies left over stay there.
func pairTwins(uh *ledger.UserHistory, byKey map[string][]*model.ObservedItem) map[int][]*model.ObservedItem {
	var idx []int // the items whose key another item shares, in order
	for i := range uh.Items {
		if (i > 0 && uh.Items[i].Key == uh.Items[i-1].Key) || (i+1 < len(uh.Items) && uh.Items[i].Key == uh.Items[i+1].Key) {
			idx = append(idx, i)
		}
	}
	if idx == nil {
		return nil
	}
	out := make(map[int][]*model.ObservedItem, len(idx))
	for _, exact := range []bool{true, false} {
		for _, i := range idx {
			h := &uh.Items[i]
			rest := byKey[h.Key]
			if !exact && len(out[i]) > 0 {
				continue
			}
			kept := rest[:0:0]
			for _, o := range rest {
				switch {
				case exact && sameCollection(o.Collection, h.Collection), !exact && len(out[i]) == 0:
					out[i] = append(out[i], o)
				default:
					kept = append(kept, o)
				}
			}
			if len(kept) == 0 {
				delete(byKey, h.Key)
			} else {
				byKey[h.Key] = kept
			}
			if _, ok := out[i]; !ok {
				out[i] = nil
			}
		}
	}
	return out
}

// groupByKey groups a user's observed items by key. A key twice in one
// collection (or twice with no collection recorded) is an observer bug.
func groupByKey(uo *model.UserObservation) (map[string][]*model.ObservedItem, []string) {
	byKey := make(map[string][]*model.ObservedItem, len(uo.Items))
	var bad []string
	for i := range uo.Items {
		it := &uo.Items[i]
		if _, _, err := model.SplitItemKey(it.Key); err != nil {
			bad = append(bad, uo.User+":"+it.Key)
			continue
		}
		prev := byKey[it.Key]
		for _, p := range prev {
			if p.Collection == "" || it.Collection == "" || sameCollection(p.Collection, it.Collection) {
				bad = append(bad, uo.User+":"+it.Key)
				break
			}
		}
		byKey[it.Key] = append(prev, it)
	}
	return byKey, bad
}

// coverage decides, from the load, which of the user's kinds are not
// covered: tried, but never acknowledged by the server for any user.
func (u *userCheck) coverage() {
	u.notOffered = map[model.Kind]bool{}
	for _, k := range u.uo.NotCovered {
		u.notOffered[k] = true
	}
	var mine [kindSlots]kindWrites
	for _, h := range u.uh.Items {
		if int(h.Kind) >= kindSlots {
			continue
		}
		for _, w := range h.Writes {
			mine[h.Kind].count(w, u.c.r)
		}
	}
	for _, k := range model.Kinds {
		m, all := mine[k], u.c.idx.kinds[k]
		if m.writes == 0 || m.acked > 0 || all.acked > 0 {
			continue
		}
		if u.uncovered == nil {
			u.uncovered = map[model.Kind]string{}
		}
		reason := fmt.Sprintf("%s: %s, none acknowledged in the whole load", k, writeOutcomes(all))
		if u.notOffered[k] {
			reason += fmt.Sprintf("; the server offers no %s collection", k)
		}
		u.uncovered[k] = reason
		u.ur.NotCovered = append(u.ur.NotCovered, k.String())
	}
}

// writeOutcomes says what became of a kind's writes, e.g. "12 writes
// refused" or "3 writes: 2 refused, 1 ambiguous".
func writeOutcomes(k kindWrites) string {
	switch {
	case k.refused == k.writes:
		return fmt.Sprintf("%d writes refused", k.writes)
	case k.ambiguous == k.writes:
		return fmt.Sprintf("%d writes ambiguous", k.writes)
	}
	return fmt.Sprintf("%d writes: %d refused, %d ambiguous", k.writes, k.refused, k.ambiguous)
}

// unreadableAccount reports every item that must be present as unreadable.
func (u *userCheck) unreadableAccount() {
	u.ur.Verdict, u.ur.Reason = Unreadable, "account unreadable: "+u.uo.Unreadable
	for i := range u.uh.Items {
		h := &u.uh.Items[i]
		if u.uncovered[h.Kind] != "" {
			u.t.kinds[h.Kind].NotCovered++
			continue
		}
		poss := u.c.possible(h)
		if acceptable(poss, ledger.Absent) {
			continue
		}
		u.add(ClassUnreadable, h.Kind, ItemDetail{Key: h.Key, Expected: poss, LastAcked: lastAcked(h, u.c.r), Detail: "account unreadable"})
	}
}

// add files an item detail under a class, unless a test disabled the class.
func (u *userCheck) add(class string, k model.Kind, d ItemDetail) bool {
	if u.c.disabled == class {
		return false
	}
	l := u.ur.list(class)
	*l = append(*l, d)
	if int(k) < kindSlots {
		u.t.kinds[k].bump(class)
	}
	return true
}

// item checks one item of the user's history against its observed copies.
func (u *userCheck) item(h *ledger.ItemHistory, copies []*model.ObservedItem) {
	c := u.c
	kc := &u.t.kinds[h.Kind]
	acked := h.Acked(c.r)
	if u.uncovered[h.Kind] != "" {
		kc.NotCovered++
	} else {
		u.ur.Items++
		u.ur.Acked += acked
		kc.Items++
		kc.Acked += acked
	}
	poss := c.possible(h)
	if len(poss) > 1 && u.uncovered[h.Kind] == "" {
		kc.Ambiguous++
	}
	recorded := u.recordedItem(h)
	o, extra := pickCopy(copies, recorded, poss)
	if o != nil && o.Unreadable != "" {
		u.add(ClassUnreadable, h.Kind, ItemDetail{Key: h.Key, Expected: poss, GotSize: o.Size, LastAcked: lastAcked(h, c.r),
			GotCollections: collectionsOf(copies), Detail: "unreadable: " + o.Unreadable})
		return
	}
	s := observedState(o)
	if !acceptable(poss, s) {
		note := ""
		if len(extra) > 0 {
			note = fmt.Sprintf("in %d collections (%s)", len(copies), strings.Join(collectionsOf(copies), ", "))
		}
		u.classify(h, o, poss, c.r, note)
		return
	}
	if len(extra) > 0 {
		u.add(ClassDuplicate, h.Kind, ItemDetail{Key: h.Key, Expected: poss, GotDigest: &o.Digest, GotSize: o.Size, LastAcked: lastAcked(h, c.r),
			WantCollection: recorded, GotCollections: collectionsOf(copies),
			Detail: fmt.Sprintf("the same item in %d collections (%s): the server duplicated it", len(copies), strings.Join(collectionsOf(copies), ", "))})
		return
	}
	if o != nil && c.in.Baseline != nil && h.Kind.Semantic() && !o.Bytes.IsZero() {
		if b, ok := c.in.Baseline.ByteDigest(u.self, h.Key, h.Collection); ok && b != o.Bytes {
			kc.Reserialised++
		}
	}
	if o != nil {
		switch {
		case recorded == "" || o.Collection == "":
			u.t.collectionsUnchecked++
		case !sameCollection(recorded, o.Collection):
			where := "where it was written"
			if c.in.Baseline != nil {
				where = "where the snapshot found it"
			}
			u.add(ClassMoved, h.Kind, ItemDetail{Key: h.Key, Expected: poss, GotDigest: &o.Digest, GotSize: o.Size, LastAcked: lastAcked(h, c.r),
				WantCollection: recorded, GotCollections: []string{o.Collection},
				Detail: fmt.Sprintf("present with the right content, but in %s instead of %s, %s", o.Collection, recorded, where)})
			return
		}
	}
	u.passed = append(u.passed, passedItem{h: h, o: o, state: s, poss: poss})
}

// foreign reports the observed items the user never wrote, naming the user
// who did when the key or the content identifies one.
func (u *userCheck) foreign(rest map[string][]*model.ObservedItem) {
	keys := make([]string, 0, len(rest))
	for k := range rest {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		copies := rest[key]
		o := copies[0]
		kind, _, _ := model.SplitItemKey(key)
		d := ItemDetail{Key: key, LastAcked: -1, GotSize: o.Size}
		if len(copies) > 1 || o.Collection != "" {
			d.GotCollections = collectionsOf(copies)
		}
		if o.Unreadable == "" {
			d.GotDigest = &o.Digest
		}
		owner, ownerKey := u.c.own.lookup(u.self, key, o.Digest, o.Unreadable == "")
		if owner == "" && u.c.in.Baseline != nil {
			d.Detail = "new since the snapshot: it did not hold this item, and no user held its content"
			if o.Unreadable != "" {
				d.Detail += "; unreadable: " + o.Unreadable
			}
			u.add(ClassNew, kind, d)
			continue
		}
		if owner != "" && u.c.in.Baseline != nil {
			d.Owner, d.OwnerKey = owner, ownerKey
			d.Detail = fmt.Sprintf("belongs to %s (%s), whose account held it in the snapshot; %s's did not", owner, ownerKey, u.uo.User)
		} else if owner != "" {
			d.Owner, d.OwnerKey = owner, ownerKey
			d.Detail = fmt.Sprintf("belongs to %s (%s), which wrote it; %s never did", owner, ownerKey, u.uo.User)
		} else {
			d.Detail = "no user wrote this item"
		}
		if len(copies) > 1 {
			d.Detail += fmt.Sprintf("; in %d collections", len(copies))
		}
		if o.Unreadable != "" {
			d.Detail += "; unreadable: " + o.Unreadable
		}
		u.add(ClassForeign, kind, d)
	}
}

// damaged reports whether the user has any damage so far.
func (u *userCheck) damaged() bool { return u.ur.damagedItems() > 0 || u.mixedCut }

// conclude sets the user's verdict.
func (u *userCheck) conclude() {
	ur := &u.ur
	var reasons []string
	for _, k := range model.Kinds {
		if r := u.uncovered[k]; r != "" {
			reasons = append(reasons, r)
		}
	}
	var lostOffered []string
	for _, k := range model.Kinds {
		if u.notOffered[k] && u.uncovered[k] == "" && u.t.kinds[k].Lost > 0 {
			lostOffered = append(lostOffered, fmt.Sprintf("the server no longer offers %s, of which %d acknowledged items are lost", k, u.t.kinds[k].Lost))
		}
	}
	switch {
	case u.damaged():
		ur.Verdict = Damaged
		if ur.Reason != "" {
			lostOffered = append(lostOffered, ur.Reason)
		}
		ur.Reason = strings.Join(lostOffered, "; ")
	case len(reasons) > 0:
		ur.Verdict, ur.Reason = NotCovered, "not covered: "+strings.Join(reasons, "; ")
	case ur.Acked == 0:
		ur.Verdict = NotCovered
		if len(u.uh.Items) == 0 && u.c.in.Baseline != nil {
			ur.Reason = "nothing verified: the snapshot holds no item for this user"
		} else if len(u.uh.Items) == 0 {
			ur.Reason = "nothing verified: the ledger holds no write for this user"
		} else {
			ur.Reason = fmt.Sprintf("nothing verified: none of the user's writes to %d items was acknowledged by the recovery point", len(u.uh.Items))
		}
	case len(ur.Rewritten) > 0:
		ur.Verdict = Rewritten
	}
}

// possible returns the states an item may rightly be in, by mode.
func (c *Checker) possible(h *ledger.ItemHistory) []ledger.State {
	if c.in.Mode == PointInTime {
		return h.PossibleBetween(c.in.Lower, c.in.Upper)
	}
	return h.PossibleFrom(c.r)
}

// observedState is one item's state as the observer saw it.
func observedState(o *model.ObservedItem) ledger.State {
	if o == nil {
		return ledger.Absent
	}
	return ledger.State{Present: true, Digest: o.Digest}
}

// acceptable reports whether an observed state is one of the possible ones.
// Present states compare by digest alone: a server may serve a semantic item
// with another size.
func acceptable(possible []ledger.State, s ledger.State) bool {
	return slices.ContainsFunc(possible, s.Same)
}

// lastAcked returns the Return of the item's last write acknowledged by t,
// or -1.
func lastAcked(h *ledger.ItemHistory, t int64) int64 {
	if w, ok := h.LastAcked(t); ok {
		return w.Return
	}
	return -1
}

// names lists the first few of a set of names.
func names(s []string) string {
	if len(s) <= maxNamed {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:maxNamed], ", ") + ", ..."
}

// at formats a ledger time for a detail line: seconds since the base time.
func at(ns int64) string {
	if ns < 0 {
		return "never"
	}
	return fmt.Sprintf("+%.3fs", float64(ns)/1e9)
}
