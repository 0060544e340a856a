// Package verify decides, user by user, whether what a restored service gives
// back is what it acknowledged: a pure function from a ledger and an
// observation to a Result. It imports no container or network code.
//
// The contract (DESIGN.md): every write acknowledged by the recovery point is
// present with identical content (semantic comparison for vCard and
// iCalendar, bytes for files); an ambiguous write may show its old or its new
// version; a deleted item must not come back; no item may appear in an
// account other than its owner's; after a point-in-time restore each user's
// state equals the ledger's state at one cut between the lower and upper
// bound, not a mix.
package verify

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// Mode selects what a restore promises.
type Mode string

// The modes.
const (
	// Latest: every write acknowledged by the recovery point must be present;
	// later writes may or may not be (each item on its own).
	Latest Mode = "latest"
	// PointInTime: each user's state must equal the ledger's state at one cut
	// between Lower and Upper: a consistent prefix, not a mix.
	PointInTime Mode = "point_in_time"
)

// Input is everything Check needs. Times are ns since the ledger's base time.
type Input struct {
	Ledger *ledger.Ledger
	// History optionally gives Ledger.History() already computed, to check
	// several observations against one ledger without regrouping it.
	History     *ledger.History
	Observation model.Observation
	Mode        Mode
	// RecoveryPoint is, in Latest mode, the time by which every acknowledged
	// write must be present.
	RecoveryPoint int64
	// Lower and Upper bound the cut in PointInTime mode: typically the end of
	// the base backup and the recovery target.
	Lower, Upper int64
	// Bodies optionally returns an item body by its digest (canonical text for
	// semantic kinds), so that a changed item is explained property by
	// property.
	Bodies func(model.Digest) ([]byte, bool)
}

// maxNamed is how many users or items a reason names before "...".
const maxNamed = 5

// Check compares an observation with a ledger and returns the verdict for
// every observed user. A failed assumption (no ledger, a bad mode, users the
// ledger never wrote for, ledger users missing from the observation, bad or
// duplicate item keys) yields Unknown with the reason and stops the check.
func Check(in Input) Result {
	res := Result{Mode: in.Mode, Users: []UserResult{}}
	unknown := func(format string, args ...any) Result {
		res.Status, res.Reason = Unknown, fmt.Sprintf(format, args...)
		return res
	}
	if in.Ledger == nil && in.History == nil {
		return unknown("no ledger to check against")
	}
	switch in.Mode {
	case Latest:
		if in.RecoveryPoint < 0 {
			return unknown("recovery point %d is before the ledger's base time", in.RecoveryPoint)
		}
		res.RecoveryPoint = in.RecoveryPoint
	case PointInTime:
		if in.Lower < 0 || in.Upper < in.Lower {
			return unknown("point-in-time bounds [%d, %d]: want 0 <= lower <= upper", in.Lower, in.Upper)
		}
		res.RecoveryPoint, res.Lower, res.Upper = in.Upper, in.Lower, in.Upper
	default:
		return unknown("mode %q: want %q or %q", in.Mode, Latest, PointInTime)
	}
	hist := in.History
	if hist == nil {
		hist = in.Ledger.History()
	}
	if msg := checkAssumptions(hist, in.Observation); msg != "" {
		return unknown("%s", msg)
	}

	c := &checker{in: in, hist: hist, res: &res, r: res.RecoveryPoint, oldestLost: math.MaxInt64}
	byName := make(map[string]*ledger.UserHistory, len(hist.Users))
	for i := range hist.Users {
		byName[hist.Users[i].Name] = &hist.Users[i]
	}
	users := slices.Clone(in.Observation.Users)
	slices.SortFunc(users, func(a, b model.UserObservation) int { return cmp.Compare(a.User, b.User) })
	notCovered := map[model.Kind]bool{}
	for i := range users {
		ur := c.user(&users[i], byName[users[i].User])
		for _, k := range users[i].NotCovered {
			notCovered[k] = true
		}
		res.Counts.Users++
		if ur.Verdict == Damaged || ur.Verdict == Unreadable {
			res.Counts.DamagedUsers++
		}
		res.Users = append(res.Users, ur)
	}
	for _, k := range model.Kinds {
		if notCovered[k] {
			res.NotCovered = append(res.NotCovered, k.String())
		}
	}
	if res.RPO.LostWrites > 0 {
		res.RPO.AgeSeconds = float64(res.RecoveryPoint-c.oldestLost) / 1e9
	}
	c.conclude()
	return res
}

// checkAssumptions returns why an observation cannot be checked against a
// ledger, or "".
func checkAssumptions(hist *ledger.History, obs model.Observation) string {
	inLedger := make(map[string]bool, len(hist.Users))
	for _, u := range hist.Users {
		inLedger[u.Name] = true
	}
	seen := make(map[string]bool, len(obs.Users))
	var strangers, dups, badKeys []string
	for _, uo := range obs.Users {
		if seen[uo.User] {
			dups = append(dups, uo.User)
		}
		seen[uo.User] = true
		if !inLedger[uo.User] {
			strangers = append(strangers, uo.User)
		}
		keys := make(map[string]bool, len(uo.Items))
		for _, it := range uo.Items {
			if _, _, err := model.SplitItemKey(it.Key); err != nil || keys[it.Key] {
				badKeys = append(badKeys, uo.User+":"+it.Key)
			}
			keys[it.Key] = true
		}
	}
	var missing []string
	for _, u := range hist.Users {
		if len(u.Items) > 0 && !seen[u.Name] {
			missing = append(missing, u.Name)
		}
	}
	switch {
	case len(dups) > 0:
		return fmt.Sprintf("observation lists %d users more than once (%s): observer bug", len(dups), names(dups))
	case len(strangers) > 0:
		return fmt.Sprintf("observation has %d users the ledger never wrote for (%s): wrong ledger, or wrong server?", len(strangers), names(strangers))
	case len(missing) > 0:
		return fmt.Sprintf("observation lacks %d users the ledger wrote for (%s): the observer must report every ledger user, unreadable if need be", len(missing), names(missing))
	case len(badKeys) > 0:
		return fmt.Sprintf("observation has %d invalid or duplicate item keys (%s): want unique <kind>/<name> keys", len(badKeys), names(badKeys))
	}
	return ""
}

// names lists the first few of a set of names.
func names(s []string) string {
	if len(s) <= maxNamed {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:maxNamed], ", ") + ", ..."
}

// checker carries one Check's state.
type checker struct {
	in         Input
	hist       *ledger.History
	res        *Result
	r          int64 // the recovery point
	oldestLost int64 // Return of the oldest lost acknowledged write

	owners   map[string][]int           // item key -> indexes of users who wrote it
	byDigest map[model.Digest]ownedItem // content -> one user and key that wrote it
}

// ownedItem names an item of a user.
type ownedItem struct {
	user int
	key  string
}

// observed is one item's state as the observer saw it.
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

// possible returns the states an item may rightly be in, by mode.
func (c *checker) possible(h *ledger.ItemHistory) []ledger.State {
	if c.in.Mode == PointInTime {
		return h.PossibleBetween(c.in.Lower, c.in.Upper)
	}
	return h.PossibleFrom(c.r)
}

// user checks one user.
func (c *checker) user(uo *model.UserObservation, uh *ledger.UserHistory) UserResult {
	ur := UserResult{User: uo.User, Verdict: Intact}
	if uh == nil {
		uh = &ledger.UserHistory{Name: uo.User}
	}
	notCovered := map[model.Kind]bool{}
	for _, k := range uo.NotCovered {
		notCovered[k] = true
	}
	if uo.Unreadable != "" {
		ur.Verdict, ur.Reason = Unreadable, "account unreadable: "+uo.Unreadable
		for i := range uh.Items {
			h := &uh.Items[i]
			if notCovered[h.Kind] {
				continue
			}
			poss := c.possible(h)
			if acceptable(poss, ledger.Absent) {
				continue
			}
			ur.Unreadable = append(ur.Unreadable, ItemDetail{Key: h.Key, Expected: poss, LastAcked: c.lastAcked(h, c.r), Detail: "account unreadable"})
			c.res.Counts.Unreadable++
		}
		return ur
	}
	obs := make(map[string]*model.ObservedItem, len(uo.Items))
	for i := range uo.Items {
		obs[uo.Items[i].Key] = &uo.Items[i]
	}
	var passed []passedItem
	for i := range uh.Items {
		h := &uh.Items[i]
		if notCovered[h.Kind] {
			c.res.Counts.NotCovered++
			ur.addNotCovered(h.Kind)
			continue
		}
		o := obs[h.Key]
		delete(obs, h.Key)
		ur.Items++
		acked := h.Acked(c.r)
		ur.Acked += acked
		c.res.Counts.Items++
		c.res.Counts.Acked += acked
		poss := c.possible(h)
		if len(poss) > 1 {
			c.res.Counts.Ambiguous++
		}
		if o != nil && o.Unreadable != "" {
			ur.Unreadable = append(ur.Unreadable, ItemDetail{Key: h.Key, Expected: poss, GotSize: o.Size, LastAcked: c.lastAcked(h, c.r), Detail: "unreadable: " + o.Unreadable})
			c.res.Counts.Unreadable++
			continue
		}
		s := observedState(o)
		if acceptable(poss, s) {
			passed = append(passed, passedItem{h: h, state: s})
			continue
		}
		c.classify(&ur, h, o, poss, c.r, "")
	}
	c.foreign(&ur, uo, obs, notCovered)
	damaged := ur.damaged()
	if c.in.Mode == PointInTime && !damaged {
		c.consistentCut(&ur, passed, obs)
		damaged = ur.damaged()
	}
	switch {
	case damaged:
		ur.Verdict = Damaged
	case len(ur.NotCovered) > 0:
		ur.Verdict = NotCovered
	}
	return ur
}

// passedItem is an item whose observed state is acceptable on its own.
type passedItem struct {
	h     *ledger.ItemHistory
	state ledger.State
}

func (ur *UserResult) addNotCovered(k model.Kind) {
	if !slices.Contains(ur.NotCovered, k.String()) {
		ur.NotCovered = append(ur.NotCovered, k.String())
	}
}

func (ur *UserResult) damaged() bool {
	return len(ur.Lost)+len(ur.Changed)+len(ur.Resurrected)+len(ur.Foreign)+len(ur.Unreadable) > 0 || ur.Reason != ""
}

// lastAcked returns the Return of the item's last write acknowledged by t,
// or -1.
func (c *checker) lastAcked(h *ledger.ItemHistory, t int64) int64 {
	if w, ok := h.LastAcked(t); ok {
		return w.Return
	}
	return -1
}

// classify records an item whose observed state is not among the possible
// ones as lost, changed or resurrected. r is the time acknowledged writes are
// measured against; note prefixes the detail.
func (c *checker) classify(ur *UserResult, h *ledger.ItemHistory, o *model.ObservedItem, poss []ledger.State, r int64, note string) {
	d := ItemDetail{Key: h.Key, Expected: poss, LastAcked: c.lastAcked(h, r)}
	s := observedState(o)
	if o != nil {
		d.GotDigest, d.GotSize = &o.Digest, o.Size
	}
	lostN, oldest := lostWrites(h, s, r)
	var list *[]ItemDetail
	switch {
	case o == nil:
		list = &ur.Lost
		d.Detail = fmt.Sprintf("missing; last acknowledged write returned at %s", at(d.LastAcked))
		c.res.Counts.Lost++
	case !anyPresent(poss):
		if del, ok := lastAckedDelete(h, r); ok {
			list = &ur.Resurrected
			d.Detail = fmt.Sprintf("deleted (acknowledged at %s) but present", at(del.Return))
			if v, ok := version(h, o.Digest); ok {
				d.Detail += fmt.Sprintf(", showing the version written at %s", at(v.Return))
			}
			c.res.Counts.Resurrected++
		} else {
			list = &ur.Changed
			d.Detail = "present, but no write to it had taken effect by then"
			if v, ok := version(h, o.Digest); ok && v.Outcome == ledger.Failed {
				d.Detail = fmt.Sprintf("present with the content of a write that failed (called at %s)", at(v.Call))
			}
			c.res.Counts.Changed++
		}
	default:
		list = &ur.Changed
		if v, ok := version(h, o.Digest); ok && v.Outcome != ledger.Failed {
			d.Detail = fmt.Sprintf("stale: shows the version written at %s; %d newer acknowledged writes lost", at(v.Return), lostN)
		} else if ok {
			d.Detail = fmt.Sprintf("shows the content of a write that failed (called at %s)", at(v.Call))
		} else {
			d.Detail = "content differs from every version written"
		}
		if want := expectedPresent(h, poss, r); want != nil {
			d.Diff = c.diff(h.Kind, *want, o)
			if !h.Kind.Semantic() {
				d.Detail += fmt.Sprintf(" (size %d -> %d)", want.Size, o.Size)
			}
		}
		c.res.Counts.Changed++
	}
	if note != "" {
		d.Detail = note + ": " + d.Detail
	}
	*list = append(*list, d)
	if lostN > 0 && r == c.r {
		c.res.RPO.LostWrites += lostN
		c.oldestLost = min(c.oldestLost, oldest)
	}
}

// anyPresent reports whether a set of states includes a present one.
func anyPresent(states []ledger.State) bool {
	return slices.ContainsFunc(states, func(s ledger.State) bool { return s.Present })
}

// lastAckedDelete returns the item's last acknowledged delete by r.
func lastAckedDelete(h *ledger.ItemHistory, r int64) (ledger.Write, bool) {
	var last ledger.Write
	found := false
	for _, w := range h.Writes {
		if w.Op == ledger.OpDelete && w.Outcome == ledger.OK && w.Return <= r && (!found || w.Return > last.Return) {
			last, found = w, true
		}
	}
	return last, found
}

// version returns the latest put of the item with digest d, preferring one
// that did not fail.
func version(h *ledger.ItemHistory, d model.Digest) (ledger.Write, bool) {
	var best ledger.Write
	found := false
	for _, w := range h.Writes {
		if w.Op != ledger.OpPut || w.Digest != d {
			continue
		}
		better := !found || (best.Outcome == ledger.Failed && w.Outcome != ledger.Failed) ||
			((best.Outcome == ledger.Failed) == (w.Outcome == ledger.Failed) && w.Return > best.Return)
		if better {
			best, found = w, true
		}
	}
	return best, found
}

// expectedPresent picks the present state to explain a change against: the
// last acknowledged version when it is possible, else the first possible
// present state.
func expectedPresent(h *ledger.ItemHistory, poss []ledger.State, r int64) *ledger.State {
	if w, ok := h.LastAcked(r); ok && w.Op == ledger.OpPut && acceptable(poss, w.State()) {
		s := w.State()
		return &s
	}
	for _, p := range poss {
		if p.Present {
			return &p
		}
	}
	return nil
}

// lostWrites counts the writes acknowledged by r that are newer than the
// observed state (the last acknowledged write that produced it, or the
// item's start for an absent item), and the Return of the oldest. An
// observed content the item never had is corruption, not loss: zero.
func lostWrites(h *ledger.ItemHistory, s ledger.State, r int64) (int, int64) {
	match := int64(math.MinInt64)
	found := !s.Present
	for _, w := range h.Writes {
		if w.Outcome == ledger.OK && w.Return <= r && acceptable([]ledger.State{w.State()}, s) {
			match, found = max(match, w.Return), true
		}
	}
	if !found {
		return 0, 0
	}
	n, oldest := 0, int64(math.MaxInt64)
	for _, w := range h.Writes {
		if w.Outcome == ledger.OK && w.Return <= r && w.Return > match {
			n++
			oldest = min(oldest, w.Return)
		}
	}
	return n, oldest
}

// diff explains a changed item with canon.Diff when both bodies are at hand.
func (c *checker) diff(kind model.Kind, want ledger.State, o *model.ObservedItem) []string {
	if c.in.Bodies == nil {
		return nil
	}
	wb, ok := c.in.Bodies(want.Digest)
	if !ok {
		return nil
	}
	gb := o.Body
	if len(gb) == 0 {
		if gb, ok = c.in.Bodies(o.Digest); !ok {
			return []string{"(observed body not available)"}
		}
	}
	return canon.Diff(kind, wb, gb)
}

// foreign reports the observed items the user never wrote, naming the user
// who did when the key or the content identifies one.
func (c *checker) foreign(ur *UserResult, uo *model.UserObservation, rest map[string]*model.ObservedItem, notCovered map[model.Kind]bool) {
	keys := make([]string, 0, len(rest))
	for k := range rest {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		o := rest[key]
		kind, _, _ := model.SplitItemKey(key)
		if notCovered[kind] {
			continue
		}
		d := ItemDetail{Key: key, LastAcked: -1, GotSize: o.Size}
		if o.Unreadable == "" {
			d.GotDigest = &o.Digest
		}
		owner, ownerKey := c.ownerOf(key, o, uo.User)
		switch {
		case owner != "":
			d.Owner, d.OwnerKey = owner, ownerKey
			d.Detail = fmt.Sprintf("belongs to %s (%s), which wrote it; %s never did", owner, ownerKey, uo.User)
		default:
			d.Detail = "no user wrote this item"
		}
		if o.Unreadable != "" {
			d.Detail += "; unreadable: " + o.Unreadable
		}
		ur.Foreign = append(ur.Foreign, d)
		c.res.Counts.Foreign++
	}
}

// ownerOf finds who wrote a foreign item: another user who wrote the same
// key (preferring one who wrote this content), else any user who wrote
// this content under some key.
func (c *checker) ownerOf(key string, o *model.ObservedItem, self string) (string, string) {
	if c.owners == nil {
		c.owners = map[string][]int{}
		for ui, u := range c.hist.Users {
			for _, h := range u.Items {
				c.owners[h.Key] = append(c.owners[h.Key], ui)
			}
		}
	}
	var cands []int
	for _, ui := range c.owners[key] {
		if c.hist.Users[ui].Name != self {
			cands = append(cands, ui)
		}
	}
	for _, ui := range cands {
		if h := c.hist.Users[ui].Find(key); h != nil && o.Unreadable == "" {
			if _, ok := version(h, o.Digest); ok {
				return c.hist.Users[ui].Name, key
			}
		}
	}
	if len(cands) > 0 {
		return c.hist.Users[cands[0]].Name, key
	}
	if o.Unreadable != "" || o.Digest.IsZero() {
		return "", ""
	}
	if c.byDigest == nil {
		c.byDigest = map[model.Digest]ownedItem{}
		for ui, u := range c.hist.Users {
			for _, h := range u.Items {
				for _, w := range h.Writes {
					if w.Op == ledger.OpPut {
						if _, ok := c.byDigest[w.Digest]; !ok {
							c.byDigest[w.Digest] = ownedItem{user: ui, key: h.Key}
						}
					}
				}
			}
		}
	}
	if oi, ok := c.byDigest[o.Digest]; ok {
		return c.hist.Users[oi.user].Name, oi.key
	}
	return "", ""
}

// consistentCut checks, in point-in-time mode, that one cut in [Lower, Upper]
// explains all of a user's items at once, sets ur.Cut, and counts the writes
// acknowledged after the cut as lost. When no cut does, it reports the items
// that disagree with the cut matching most of them.
func (c *checker) consistentCut(ur *UserResult, passed []passedItem, rest map[string]*model.ObservedItem) {
	lo, hi := c.in.Lower, c.in.Upper
	accepts := make([][]ledger.Interval, len(passed))
	common := []ledger.Interval{{From: lo, To: hi + 1}}
	for i, p := range passed {
		accepts[i] = p.h.Accepts(p.state, lo, hi)
		common = intersect(common, accepts[i])
	}
	if len(common) > 0 {
		cut := common[len(common)-1].To - 1
		ur.Cut = &cut
		for _, p := range passed {
			for _, w := range p.h.Writes {
				if w.Outcome == ledger.OK && w.Return > cut && w.Return <= hi {
					c.res.RPO.LostWrites++
					c.oldestLost = min(c.oldestLost, w.Return)
				}
			}
		}
		return
	}
	// No single cut: find the time that explains the most items.
	best, bestN := lo, 0
	for _, iv := range accepts {
		for _, span := range iv {
			n := 0
			for _, other := range accepts {
				if contains(other, span.From) {
					n++
				}
			}
			if n > bestN || (n == bestN && n > 0 && span.From > best) {
				best, bestN = span.From, n
			}
		}
	}
	ur.Cut = &best
	ur.Reason = fmt.Sprintf("state mixes cuts: no single time in [%s, %s] explains every item; the best, %s, explains %d of %d",
		at(lo), at(hi), at(best), bestN, len(passed))
	for i, p := range passed {
		if contains(accepts[i], best) {
			continue
		}
		var o *model.ObservedItem
		if p.state.Present {
			o = &model.ObservedItem{Key: p.h.Key, Digest: p.state.Digest}
			for _, it := range c.observedUser(ur.User) {
				if it.Key == p.h.Key {
					o = &it
					break
				}
			}
		}
		c.classify(ur, p.h, o, p.h.PossibleAt(best), best, "inconsistent with the cut at "+at(best))
	}
}

// observedUser returns a user's observed items.
func (c *checker) observedUser(name string) []model.ObservedItem {
	for _, uo := range c.in.Observation.Users {
		if uo.User == name {
			return uo.Items
		}
	}
	return nil
}

// intersect returns the intersection of two sorted lists of disjoint intervals.
func intersect(a, b []ledger.Interval) []ledger.Interval {
	var out []ledger.Interval
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		from, to := max(a[i].From, b[j].From), min(a[i].To, b[j].To)
		if from < to {
			out = append(out, ledger.Interval{From: from, To: to})
		}
		if a[i].To < b[j].To {
			i++
		} else {
			j++
		}
	}
	return out
}

// contains reports whether t lies in one of the intervals.
func contains(ivs []ledger.Interval, t int64) bool {
	for _, iv := range ivs {
		if iv.From <= t && t < iv.To {
			return true
		}
	}
	return false
}

// at formats a ledger time for a detail line: seconds since the base time.
func at(ns int64) string {
	if ns < 0 {
		return "never"
	}
	return fmt.Sprintf("+%.3fs", float64(ns)/1e9)
}

// conclude sets the overall status and reason.
func (c *checker) conclude() {
	res := c.res
	n := res.Counts
	torn := c.in.Ledger != nil && c.in.Ledger.Torn != nil
	switch {
	case n.DamagedUsers > 0 && !torn:
		res.Status = Fail
		res.Reason = fmt.Sprintf("%d of %d users damaged: %d lost, %d changed, %d resurrected, %d foreign, %d unreadable items; RPO %d acknowledged writes (%.3fs)",
			n.DamagedUsers, n.Users, n.Lost, n.Changed, n.Resurrected, n.Foreign, n.Unreadable, res.RPO.LostWrites, res.RPO.AgeSeconds)
	case torn:
		res.Status = Unknown
		res.Reason = fmt.Sprintf("the ledger is incomplete (%v); %d of %d users look damaged, but writes after the tear are not on record", c.in.Ledger.Torn, n.DamagedUsers, n.Users)
	case n.NotCovered > 0:
		res.Status = Unknown
		res.Reason = fmt.Sprintf("%d items of kinds the server does not support (%s) were not verified; the other %d items of %d users are intact",
			n.NotCovered, strings.Join(res.NotCovered, ", "), n.Items, n.Users)
	default:
		res.Status = Pass
		res.Reason = fmt.Sprintf("all %d users intact: %d items, %d acknowledged writes, %d ambiguous items", n.Users, n.Items, n.Acked, n.Ambiguous)
	}
}
