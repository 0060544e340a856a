package verify

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/firedrill/firedrill/harness/model"
)

// Checker checks a run user by user, as an observer produces them:
//
//	c := verify.NewChecker(in)
//	for each user read back: ur := c.User(uo)
//	res := c.Result()
//
// Per user it uses only that user's history; across users it keeps counts,
// the RPO, the most damaged users (bounded by in.Limits) and a small sample
// of intact ones, so its memory does not grow with the observation. A
// Checker is not safe for concurrent use, except KindOf, Knows, Wrote and
// LedgerUsers.
type Checker struct {
	in     Input
	limits Limits
	r      int64 // the time acknowledged writes are measured against
	fatal  string
	idx    *ledgerIndex
	own    owners
	canary *canary
	// disabled names a damage class the checker ignores: a test hook, to
	// see the canary catch a broken checker.
	disabled string

	counts     Counts
	kinds      [kindSlots]Counts
	notOffered [kindSlots]int
	lostWrites int
	oldestLost int64
	unchecked  int // present items whose collection could not be compared

	seen       []uint64 // bit per ledger user
	strangers  map[string]bool
	strangeN   int
	dupUsers   []string
	dupN       int
	badKeys    []string
	badKeysN   int
	listed     *bounded[UserResult]
	intactSeen *bounded[string]
	newSeen    *bounded[string]
}

// maxStrangersTracked bounds the memory spent remembering users the ledger
// does not know (to tell them apart from users listed twice).
const maxStrangersTracked = 10_000

// NewChecker prepares a check: it validates the input and indexes the
// ledger. A failed assumption here (no ledger, a bad mode) makes every user
// undecided and the result unknown.
func NewChecker(in Input) *Checker {
	c := &Checker{in: in, limits: in.Limits.withDefaults(), oldestLost: math.MaxInt64, strangers: map[string]bool{}}
	c.fatal, c.r = in.validate()
	c.listed = newBounded(c.limits.Users, moreSevere)
	c.intactSeen = newBounded(c.limits.IntactSample, cmp.Less[string])
	c.newSeen = newBounded(c.limits.IntactSample, cmp.Less[string])
	if c.fatal != "" {
		return c
	}
	c.idx = newIndex(in.Ledger, in.History, in.Baseline, c.r)
	c.own = owners{x: c.idx, contentOnly: in.Baseline != nil}
	c.seen = make([]uint64, (c.idx.users()+63)/64)
	c.canary = newCanary(c)
	for _, k := range model.Kinds {
		c.counts.Refused += c.idx.kinds[k].refused
	}
	return c
}

// Wrote reports whether the ledger holds any write for user: the users an
// observer must read back.
func (c *Checker) Wrote(user string) bool {
	if c.idx == nil {
		return false
	}
	u, ok := c.idx.byName[user]
	return ok && c.idx.hasWrites(u)
}

// Knows reports whether the ledger knows user at all, with writes or not: a
// user it knows without writes is one the load wrote nothing for, whom a
// check reports as nothing verified.
func (c *Checker) Knows(user string) bool {
	if c.idx == nil {
		return false
	}
	_, ok := c.idx.byName[user]
	return ok
}

// LedgerUsers returns the names of the users the ledger holds writes for,
// in ledger order.
func (c *Checker) LedgerUsers() []string {
	if c.idx == nil {
		return nil
	}
	var out []string
	for u, n := range c.idx.names {
		if c.idx.hasWrites(uint32(u)) {
			out = append(out, n)
		}
	}
	return out
}

// KindOf returns the kind the user's item name had when written, for an
// observer that cannot tell from an unreadable body (observe.Options.KindHint).
func (c *Checker) KindOf(user, name string) (model.Kind, bool) {
	if c.idx == nil {
		return 0, false
	}
	u, ok := c.idx.byName[user]
	if !ok {
		return 0, false
	}
	for _, h := range c.idx.user(u).Items {
		if _, n, err := model.SplitItemKey(h.Key); err == nil && n == name {
			return h.Kind, true
		}
	}
	return 0, false
}

// User checks one user's observation and returns its verdict. Each ledger
// user must come exactly once; the order does not matter.
func (c *Checker) User(uo model.UserObservation) UserResult {
	if c.fatal != "" {
		return UserResult{User: uo.User, Verdict: Undecided, Reason: c.fatal}
	}
	u, ok := c.idx.byName[uo.User]
	if !ok {
		c.strangeN++
		if len(c.strangers) < maxStrangersTracked {
			c.strangers[uo.User] = true
		}
		if c.in.Baseline != nil {
			return c.undecided(uo.User, "the snapshot does not hold this user")
		}
		return c.undecided(uo.User, "the ledger never wrote for this user")
	}
	if c.seen[u/64]&(1<<(u%64)) != 0 {
		c.dupN++
		if len(c.dupUsers) < maxNamed+1 {
			c.dupUsers = append(c.dupUsers, uo.User)
		}
		return c.undecided(uo.User, "listed more than once in the observation")
	}
	c.seen[u/64] |= 1 << (u % 64)
	uh := c.idx.user(u)
	uc := c.checkUser(u, &uo, uh, nil)
	c.take(uc)
	c.canary.consider(uc)
	return uc.ur
}

// undecided counts and lists a user that cannot be judged.
func (c *Checker) undecided(user, reason string) UserResult {
	ur := UserResult{User: user, Verdict: Undecided, Reason: reason}
	c.counts.Users++
	c.counts.UnknownUsers++
	c.listed.offer(ur)
	return ur
}

// take adds a user's check to the run's totals.
func (c *Checker) take(uc *userCheck) {
	ur := uc.ur
	n := &c.counts
	n.Users++
	switch ur.Verdict {
	case Intact:
		n.IntactUsers++
		c.intactSeen.offer(ur.User)
	case Damaged:
		n.DamagedUsers++
	case Unreadable:
		n.DamagedUsers++
		n.UnreadableUsers++
	case NotCovered:
		n.NotCoveredUsers++
	case Rewritten:
		n.RewrittenUsers++
	case Undecided:
		n.UnknownUsers++
	}
	if ur.Verdict != Intact {
		c.listed.offer(trimmed(ur, c.limits.Items))
	}
	for _, d := range ur.New {
		c.newSeen.offer(ur.User + " " + d.Key)
	}
	for k := range uc.t.kinds {
		c.kinds[k].add(uc.t.kinds[k])
		n.add(uc.t.kinds[k])
	}
	for _, k := range uc.uo.NotCovered {
		if int(k) < kindSlots {
			c.notOffered[k]++
		}
	}
	c.lostWrites += uc.t.lostWrites
	c.oldestLost = min(c.oldestLost, uc.t.oldestLost)
	c.unchecked += uc.t.collectionsUnchecked
	if len(uc.t.badKeys) > 0 {
		c.badKeysN += len(uc.t.badKeys)
		if len(c.badKeys) <= maxNamed {
			c.badKeys = append(c.badKeys, uc.t.badKeys...)
		}
	}
}

// Result returns the verdict for the run: the totals of every user checked
// so far, with the listed users, the canary and the status.
func (c *Checker) Result() Result {
	res := Result{Mode: c.in.Mode, Users: []UserResult{}}
	if c.fatal != "" {
		res.Status, res.Reason, res.FailedAssumption = Unknown, c.fatal, c.fatal
		return res
	}
	switch c.in.Mode {
	case Latest:
		res.RecoveryPoint = c.in.RecoveryPoint
	case PointInTime:
		res.RecoveryPoint, res.Lower, res.Upper = c.in.Upper, c.in.Lower, c.in.Upper
	}
	res.Counts = c.counts
	res.RPO.LostWrites = c.lostWrites
	if c.lostWrites > 0 {
		res.RPO.AgeSeconds = float64(res.RecoveryPoint-c.oldestLost) / 1e9
	}
	res.Users = c.listed.sorted()
	res.MoreUsers = c.listed.over
	res.IntactSample = c.intactSeen.sorted()
	res.NewSample = c.newSeen.sorted()
	res.Kinds, res.NotCovered = c.kindSummaries()
	res.Notes = c.notes()
	res.Canary = c.canary.result()
	res.FailedAssumption = c.assumptions()
	c.conclude(&res)
	return res
}

// kindSummaries summarises every kind the ledger or the check touched.
func (c *Checker) kindSummaries() ([]KindSummary, []string) {
	var out []KindSummary
	var notCovered []string
	for _, k := range model.Kinds {
		w, n := c.idx.kinds[k], c.kinds[k]
		planned := slices.Contains(c.in.Planned, k)
		if w.writes == 0 && n == (Counts{}) && c.notOffered[k] == 0 && !planned {
			continue
		}
		s := KindSummary{
			Kind: k.String(), Covered: (w.writes == 0 && !planned) || w.acked > 0,
			Users: w.users, Writes: w.writes, AckedWrites: w.acked, Refused: w.refused, AmbiguousWrites: w.ambiguous,
			NotOfferedUsers: c.notOffered[k],
			Items:           n.Items, NotCovered: n.NotCovered, Lost: n.Lost, Changed: n.Changed, Resurrected: n.Resurrected,
			Foreign: n.Foreign, Moved: n.Moved, Duplicate: n.Duplicate, Unreadable: n.Unreadable, Rewritten: n.Rewritten,
		}
		switch {
		case !s.Covered && w.writes == 0 && c.in.Baseline != nil:
			s.Reason = fmt.Sprintf("the snapshot holds no %s of any user: nothing to compare with (snapshot a server that keeps them, or leave the kind out of the check)", k)
			notCovered = append(notCovered, k.String())
		case !s.Covered && w.writes == 0:
			s.Reason = fmt.Sprintf("the load planned %ss but made no write of them: the server offers no %s collection, or refused to make one", k, k)
			notCovered = append(notCovered, k.String())
		case !s.Covered:
			s.Reason = fmt.Sprintf("%s, none acknowledged", writeOutcomes(w))
			if c.notOffered[k] > 0 {
				s.Reason += fmt.Sprintf("; %d users' servers offer no %s collection", c.notOffered[k], k)
			}
			notCovered = append(notCovered, k.String())
		case w.writes == 0 && c.notOffered[k] > 0:
			s.Reason = fmt.Sprintf("the load wrote none; %d users' servers offer no %s collection", c.notOffered[k], k)
		}
		out = append(out, s)
	}
	return out, notCovered
}

// notes says what the check could not look at.
func (c *Checker) notes() []string {
	var out []string
	if c.unchecked > 0 {
		why := "the ledger records no collection for them"
		if c.in.Collection != nil {
			why = "the ledger or the observer recorded no collection for them"
		}
		out = append(out, fmt.Sprintf("collections not compared for %d present items: %s, so an item moved to another collection of its user would not be seen", c.unchecked, why))
	}
	return append(out, c.canary.notes()...)
}

// assumptions returns why the observation as a whole cannot be checked
// against the ledger, or "".
func (c *Checker) assumptions() string {
	var missing []string
	nMissing := 0
	for u := range c.idx.users() {
		if c.seen[u/64]&(1<<(u%64)) == 0 && c.idx.hasWrites(uint32(u)) {
			nMissing++
			if len(missing) <= maxNamed {
				missing = append(missing, c.idx.names[u])
			}
		}
	}
	var strangers []string
	for s := range c.strangers {
		strangers = append(strangers, s)
	}
	slices.Sort(strangers)
	switch {
	case c.dupN > 0:
		return fmt.Sprintf("observation lists %d users more than once (%s): observer bug", c.dupN, names(c.dupUsers))
	case c.strangeN > 0:
		return fmt.Sprintf("observation has %d users the ledger never wrote for (%s): wrong ledger, or wrong server?", c.strangeN, names(strangers))
	case nMissing > 0:
		return fmt.Sprintf("observation lacks %d users the ledger wrote for (%s): the observer must report every ledger user, unreadable if need be", nMissing, names(missing))
	case c.badKeysN > 0:
		return fmt.Sprintf("observation has %d invalid or duplicate item keys (%s): want unique <kind>/<name> keys, one per collection", c.badKeysN, names(c.badKeys))
	}
	return ""
}

// conclude sets the overall status and reason. A failed assumption comes
// first, then a broken verifier (canary not caught), then an incomplete
// ledger, then damage, then what could not be verified; only then a pass.
func (c *Checker) conclude(res *Result) {
	n := res.Counts
	torn := c.in.Ledger != nil && c.in.Ledger.Torn != nil
	switch {
	case res.FailedAssumption != "":
		res.Status, res.Reason = Unknown, res.FailedAssumption
	case res.Canary != nil && res.Canary.Missed() > 0:
		res.Status = Error
		res.Reason = "the verifier is broken, its verdicts cannot be trusted: " + res.Canary.missedLine()
	case torn:
		res.Status = Unknown
		res.Reason = fmt.Sprintf("the ledger is incomplete (%v); %d of %d users look damaged, but writes after the tear are not on record", c.in.Ledger.Torn, n.DamagedUsers, n.Users)
	case n.DamagedUsers > 0 && c.in.Baseline != nil:
		res.Status = Fail
		res.Reason = fmt.Sprintf("%s against the snapshot: %s%s", usersNotIntact(n), damageLine(n), baselineExtras(n))
	case n.DamagedUsers > 0:
		res.Status = Fail
		res.Reason = fmt.Sprintf("%s: %s; RPO %d acknowledged writes (%.3fs)",
			usersNotIntact(n), damageLine(n), res.RPO.LostWrites, res.RPO.AgeSeconds)
	case n.Acked == 0 && c.in.Baseline != nil:
		res.Status = Unknown
		res.Reason = fmt.Sprintf("nothing verified: the snapshot holds no item to check among %d users", n.Users)
	case n.Acked == 0:
		res.Status = Unknown
		res.Reason = fmt.Sprintf("nothing verified: the ledger holds no acknowledged write to check among %d users (%d items of kinds not covered)", n.Users, n.NotCovered)
	case n.NotCovered > 0 || n.NotCoveredUsers > 0 || len(res.NotCovered) > 0:
		res.Status = Unknown
		what := fmt.Sprintf("%s could not be verified in full", countOf(n.NotCoveredUsers, "user", "users"))
		for _, u := range res.Users {
			if u.Verdict == NotCovered {
				what += fmt.Sprintf(" (first: %s: %s)", u.User, u.Reason)
				break
			}
		}
		if len(res.NotCovered) > 0 && n.NotCovered > 0 {
			what = fmt.Sprintf("%d items of kinds the server acknowledged no write of (%s) were not verified", n.NotCovered, c.notCoveredReasons(res))
		} else if len(res.NotCovered) > 0 {
			what = fmt.Sprintf("kinds not covered: %s", c.notCoveredReasons(res))
		}
		res.Reason = fmt.Sprintf("%s; the other %d items of %d users are intact", what, n.Items, n.Users)
	case c.in.Baseline != nil:
		res.Status = Pass
		res.Reason = fmt.Sprintf("all %d users intact against the snapshot: %d items%s", n.Users, n.Items, baselineExtras(n))
	case n.RewrittenUsers > 0:
		res.Status = Pass
		res.Reason = fmt.Sprintf("%d of %d users intact and %d with items rewritten by the server in ways the RFCs allow (%d items, listed): %d items, %d acknowledged writes, %d ambiguous items",
			n.IntactUsers, n.Users, n.RewrittenUsers, n.Rewritten, n.Items, n.Acked, n.Ambiguous)
	default:
		res.Status = Pass
		res.Reason = fmt.Sprintf("all %d users intact: %d items, %d acknowledged writes, %d ambiguous items", n.Users, n.Items, n.Acked, n.Ambiguous)
	}
}

// baselineExtras says what a check against a snapshot found that is not
// damage, e.g. "; 2 items new since the snapshot (not damage)".
func baselineExtras(n Counts) string {
	s := ""
	if n.Reserialised > 0 {
		s += fmt.Sprintf("; %d re-serialised by the server (same meaning, other bytes: intact)", n.Reserialised)
	}
	if n.New > 0 {
		s += fmt.Sprintf("; %d items new since the snapshot (not damage)", n.New)
	}
	return s
}

// usersNotIntact says how many users are damaged and how many unreadable as a
// whole, in the words the verdict table uses, e.g. "10 of 10 users unreadable"
// or "3 of 10 users damaged, 1 unreadable".
func usersNotIntact(n Counts) string {
	damaged := n.DamagedUsers - n.UnreadableUsers
	switch {
	case n.UnreadableUsers == 0:
		return fmt.Sprintf("%d of %d users damaged", damaged, n.Users)
	case damaged == 0:
		return fmt.Sprintf("%d of %d users unreadable", n.UnreadableUsers, n.Users)
	}
	return fmt.Sprintf("%d of %d users damaged, %d unreadable", damaged, n.Users, n.UnreadableUsers)
}

// countOf says how many: "1 user", "3 users".
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// damageLine lists the damage counts that are not zero, e.g. "3 lost, 1 moved items".
func damageLine(n Counts) string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{n.Lost, "lost"}, {n.Changed, "changed"}, {n.Resurrected, "resurrected"}, {n.Foreign, "foreign"},
		{n.Moved, "moved"}, {n.Duplicate, "duplicate"}, {n.Unreadable, "unreadable"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		return "no items, only the mix of cuts"
	}
	return strings.Join(parts, ", ") + " items"
}

func (c *Checker) notCoveredReasons(res *Result) string {
	var out []string
	for _, k := range res.Kinds {
		if !k.Covered {
			out = append(out, k.Kind+": "+k.Reason)
		}
	}
	return strings.Join(out, "; ")
}

// Check verifies a whole observation at once: a Checker fed every user in
// name order. A failed assumption (no ledger, a bad mode, users the ledger
// never wrote for, ledger users missing from the observation, bad or
// duplicate item keys) yields Unknown with the reason.
func Check(in Input) Result {
	c := NewChecker(in)
	users := slices.Clone(in.Observation.Users)
	slices.SortStableFunc(users, func(a, b model.UserObservation) int { return cmp.Compare(a.User, b.User) })
	for _, uo := range users {
		c.User(uo)
	}
	return c.Result()
}
