// Package verify decides, user by user, whether what a restored service gives
// back is what it acknowledged: a pure function from a ledger and an
// observation to a Result. It imports no container or network code.
//
// The contract (DESIGN.md): every write acknowledged by the recovery point is
// present with identical content (semantic comparison for vCard and
// iCalendar, bytes for files) in the collection it was written to, once; an
// ambiguous write may show its old or its new version; a deleted item must
// not come back; no item may appear in an account other than its owner's;
// after a point-in-time restore each user's state equals the ledger's state
// at one cut between the lower and upper bound, not a mix.
//
// What is covered is decided from the load, never from the read: a kind the
// ledger holds acknowledged writes of is checked item by item, and when the
// server no longer offers it those items are lost; a kind the load tried but
// the server never acknowledged is not covered, with the ledger's reason.
// Nothing verified is unknown, never a pass. A server's rewrite that the RFCs
// allow is its own class (rewritten): reported and counted, not damage.
//
// A Checker goes user by user, so a million users fit in memory: per user it
// decodes only that user's history from a compact index of the ledger, and it
// keeps counts, the RPO, the most damaged users (bounded) and a small sample
// of intact ones. Before trusting itself it plants one instance of each kind
// of damage into copies of the first users' observations (the canary); damage
// it does not catch makes the result an error.
package verify

import (
	"fmt"

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

// Input is everything a check needs. Times are ns since the ledger's base time.
type Input struct {
	Ledger *ledger.Ledger
	// Baseline, when set, replaces Ledger and History: the expected state is
	// what a server held when a snapshot of it was taken (package snapshot),
	// each item one acknowledged put at time 0. Items the snapshot did not
	// hold, whose content no other user held either, are then new since the
	// snapshot (counted and sampled, not damage); an item whose meaning is
	// the same but whose bytes differ is intact and counted as re-serialised.
	// Use Mode Latest with RecoveryPoint 0.
	Baseline Expected
	// History optionally gives Ledger.History() already computed; without it
	// the checker indexes the ledger compactly itself, which is what a large
	// run wants.
	History *ledger.History
	// Observation is what Check verifies; a Checker takes users one by one
	// instead and ignores it.
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
	// Written optionally returns the body of a version the user wrote to an
	// item (canonical text for semantic kinds, bytes otherwise), e.g.
	// regenerated from the run's seeded generator (package verify/regen).
	Written func(user, key string, d model.Digest) ([]byte, bool)
	// Explain optionally compares the body the device wrote with the one the
	// server returned and tells rewrites the RFCs allow (listed) from damage.
	// Without it, every content difference is damage, explained by
	// canon.Diff.
	Explain func(kind model.Kind, want, got []byte) Comparison
	// Collection optionally returns the collection (URL path) the ledger
	// recorded for a user's item; "" when it recorded none. Without it an
	// item moved to another collection of its user cannot be seen, and the
	// result says so in its Notes.
	Collection func(user, key string) string
	// Planned optionally lists the kinds the load meant to write (from its
	// profile). A planned kind of which the ledger holds no write at all (the
	// server offered no collection for it and refused to make one) is not
	// covered, never silently absent from the verdict.
	Planned []model.Kind
	// Limits bound what the result lists; zero fields take the defaults.
	Limits Limits
}

// Expected is an expected state recorded from a server rather than by a
// ledger: every user's items, each present with one content. Users are
// numbered from 0 in the order Users gives them. Implementations must be
// safe for concurrent use (Checker.KindOf may run beside Checker.User).
type Expected interface {
	// Users returns every user's name.
	Users() []string
	// UserHistory returns user u's items, each as one acknowledged put at
	// time 0, sorted by key and collection (Item numbers them within the
	// user).
	UserHistory(u uint32) *ledger.UserHistory
	// Each yields every user's history in order until f returns false.
	Each(f func(*ledger.UserHistory) bool)
	// ByteDigest returns the digest of the bytes user u's item was served
	// with when the state was recorded (model.ObservedItem.Bytes), if known.
	ByteDigest(u uint32, key, collection string) (model.Digest, bool)
}

// Comparison is an explainer's answer for a body that differs from what was
// written: the server's rewrites that the RFCs allow, and the differences
// that are damage. Only when Damage is empty and Rewrites is not is the item
// rewritten rather than changed.
type Comparison struct {
	Rewrites []string
	Damage   []string
}

// onlyRewrites reports whether the comparison found rewrites and no damage.
func (c Comparison) onlyRewrites() bool { return len(c.Damage) == 0 && len(c.Rewrites) > 0 }

// Limits bound the size of a Result, whatever the number of users.
type Limits struct {
	Users        int // users not intact listed in Result.Users (default 1000)
	Items        int // item details kept per list of a listed user (default 100)
	IntactSample int // intact users named in Result.IntactSample (default 20)
}

func (l Limits) withDefaults() Limits {
	if l.Users <= 0 {
		l.Users = 1000
	}
	if l.Items <= 0 {
		l.Items = 100
	}
	if l.IntactSample <= 0 {
		l.IntactSample = 20
	}
	return l
}

// maxNamed is how many users or items a reason names before "...".
const maxNamed = 5

// validate returns why the input cannot be checked at all, or "", and the
// time acknowledged writes are measured against.
func (in *Input) validate() (string, int64) {
	if in.Ledger == nil && in.History == nil && in.Baseline == nil {
		return "no ledger or snapshot to check against", 0
	}
	if in.Baseline != nil && in.Mode != Latest {
		return fmt.Sprintf("mode %q with a baseline: a snapshot holds one state per item, check it in mode %q", in.Mode, Latest), 0
	}
	switch in.Mode {
	case Latest:
		if in.RecoveryPoint < 0 {
			return fmt.Sprintf("recovery point %d is before the ledger's base time", in.RecoveryPoint), 0
		}
		return "", in.RecoveryPoint
	case PointInTime:
		if in.Lower < 0 || in.Upper < in.Lower {
			return fmt.Sprintf("point-in-time bounds [%d, %d]: want 0 <= lower <= upper", in.Lower, in.Upper), 0
		}
		return "", in.Upper
	}
	return fmt.Sprintf("mode %q: want %q or %q", in.Mode, Latest, PointInTime), 0
}
