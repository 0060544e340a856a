package verify

import (
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// Status is the outcome of a check.
type Status string

// The statuses: pass (every user intact, or only rewritten by the server in
// ways the RFCs allow), fail (damage found), unknown (the check could not
// decide: a failed assumption, kinds not covered, nothing verified, an
// incomplete ledger), error (the verifier itself is broken: its canary, damage
// planted into a copy of the observation, was not caught).
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Unknown Status = "unknown"
	Error   Status = "error"
)

// Verdict is the outcome for one user.
type Verdict string

// The per-user verdicts.
const (
	Intact     Verdict = "intact"     // everything expected, nothing else
	Damaged    Verdict = "damaged"    // lost, changed, resurrected, foreign, moved, duplicate or unreadable items, or a mix of cuts
	Unreadable Verdict = "unreadable" // the account as a whole could not be read
	// NotCovered: nothing wrong in what could be checked, but some of the
	// user's writes could not be verified: kinds the server acknowledged no
	// write of, or no acknowledged write at all (nothing verified).
	NotCovered Verdict = "not_covered"
	// Rewritten: everything came back, but the server rewrote some items in
	// ways the RFCs allow (listed in UserResult.Rewritten): not damage, never
	// silent.
	Rewritten Verdict = "rewritten"
	// Undecided: the user could not be judged at all (not in the ledger,
	// listed twice, invalid item keys): a failed assumption.
	Undecided Verdict = "unknown"
)

// The damage classes of an item, as UserResult lists them.
const (
	ClassLost        = "lost"
	ClassChanged     = "changed"
	ClassResurrected = "resurrected"
	ClassForeign     = "foreign"
	ClassMoved       = "moved"
	ClassDuplicate   = "duplicate"
	ClassUnreadable  = "unreadable"
	ClassRewritten   = "rewritten" // not damage: the server's allowed rewrites
	// ClassNew is, against a baseline, an item the snapshot did not hold and
	// whose content no other user held: new since the snapshot, not damage.
	ClassNew = "new"
)

// Result is the verifier's answer for a whole run. It is plain data with
// stable snake_case JSON names: report.json embeds it. It stays small at any
// number of users: intact users are counted, not listed.
type Result struct {
	Status Status `json:"status"`
	Reason string `json:"reason"`
	Mode   Mode   `json:"mode"`
	// FailedAssumption says why the observation could not be checked against
	// the ledger at all (wrong ledger, wrong users, observer bug); "" when
	// every assumption held. When set, Status is unknown.
	FailedAssumption string `json:"failed_assumption,omitempty"`
	// RecoveryPoint is what acknowledged writes are measured against, in ns
	// since the ledger's base time: the recovery point in latest mode, the
	// upper bound in point-in-time mode.
	RecoveryPoint int64  `json:"recovery_point_ns"`
	Lower         int64  `json:"lower_ns,omitempty"`
	Upper         int64  `json:"upper_ns,omitempty"`
	RPO           RPO    `json:"rpo"`
	Counts        Counts `json:"counts"`
	// NotCovered lists the kinds the server acknowledged no write of in the
	// whole load, though the load tried: they could not be verified.
	NotCovered []string `json:"not_covered,omitempty"`
	// Kinds summarises the run kind by kind: what the load wrote, what was
	// checked and what was found.
	Kinds []KindSummary `json:"kinds,omitempty"`
	// Notes say what the check could not look at, e.g. collections the ledger
	// does not record: never a pass by omission.
	Notes []string `json:"notes,omitempty"`
	// Canary is the result of the damage planted into copies of some users'
	// observation before judging; nil when no user was checked.
	Canary *CanaryResult `json:"canary,omitempty"`
	// Users lists the users that are not intact, the most damaged first, at
	// most Limits.Users of them; MoreUsers counts the rest.
	Users     []UserResult `json:"users"`
	MoreUsers int          `json:"more_users,omitempty"`
	// IntactSample names a few intact users (the first by name), so a
	// reader can spot-check them; the others are counted in Counts.
	IntactSample []string `json:"intact_sample,omitempty"`
	// NewSample names a few items new since the snapshot ("user key", the
	// first by name) when the check was against a baseline; Counts.New
	// counts them all.
	NewSample []string `json:"new_sample,omitempty"`
	// Baseline names the snapshot a check against a baseline compared with
	// (set by its caller); nil for a check against a ledger.
	Baseline *BaselineInfo `json:"baseline,omitempty"`
}

// BaselineInfo describes a snapshot: its file, the server it was taken
// from, when, and what it holds.
type BaselineInfo struct {
	File   string    `json:"file"`
	Server string    `json:"server"`
	Taken  time.Time `json:"taken"`
	Users  int       `json:"users"`
	Items  int       `json:"items"`
}

// RPO is how much acknowledged data a restore lost: the count of lost
// acknowledged writes (lost items, items rolled back to an older version,
// deletes undone) and the age of the oldest of them, in seconds before the
// recovery point.
type RPO struct {
	LostWrites int     `json:"lost_writes"`
	AgeSeconds float64 `json:"age_seconds"`
}

// Counts totals a run's users by verdict and items by outcome.
type Counts struct {
	Users           int `json:"users"`
	DamagedUsers    int `json:"damaged_users"` // damaged or unreadable
	IntactUsers     int `json:"intact_users"`
	UnreadableUsers int `json:"unreadable_users,omitempty"`
	NotCoveredUsers int `json:"not_covered_users,omitempty"`
	RewrittenUsers  int `json:"rewritten_users,omitempty"`
	UnknownUsers    int `json:"unknown_users,omitempty"`

	Items       int `json:"items"`       // items checked (of covered kinds)
	Acked       int `json:"acked"`       // acknowledged writes by the recovery point, of checked items
	Ambiguous   int `json:"ambiguous"`   // items with more than one acceptable state
	NotCovered  int `json:"not_covered"` // items of kinds the server acknowledged no write of
	Refused     int `json:"refused"`     // writes the server refused for sure, in the whole ledger
	Lost        int `json:"lost"`
	Changed     int `json:"changed"`
	Resurrected int `json:"resurrected"`
	Foreign     int `json:"foreign"`
	Moved       int `json:"moved"`
	Duplicate   int `json:"duplicate"`
	Unreadable  int `json:"unreadable"`
	Rewritten   int `json:"rewritten"` // not damage: allowed server rewrites
	// New counts, against a baseline, the items the snapshot did not hold
	// (not damage); Reserialised the intact items whose meaning is the
	// snapshot's but whose bytes are not (not damage).
	New          int `json:"new,omitempty"`
	Reserialised int `json:"reserialised,omitempty"`
}

// DamagedItems returns the number of items with any damage (rewrites are not damage).
func (c Counts) DamagedItems() int {
	return c.Lost + c.Changed + c.Resurrected + c.Foreign + c.Moved + c.Duplicate + c.Unreadable
}

// add adds o's item counts to c.
func (c *Counts) add(o Counts) {
	c.Items += o.Items
	c.Acked += o.Acked
	c.Ambiguous += o.Ambiguous
	c.NotCovered += o.NotCovered
	c.Lost += o.Lost
	c.Changed += o.Changed
	c.Resurrected += o.Resurrected
	c.Foreign += o.Foreign
	c.Moved += o.Moved
	c.Duplicate += o.Duplicate
	c.Unreadable += o.Unreadable
	c.Rewritten += o.Rewritten
	c.New += o.New
	c.Reserialised += o.Reserialised
}

// bump adds one to the item count of a class.
func (c *Counts) bump(class string) {
	switch class {
	case ClassLost:
		c.Lost++
	case ClassChanged:
		c.Changed++
	case ClassResurrected:
		c.Resurrected++
	case ClassForeign:
		c.Foreign++
	case ClassMoved:
		c.Moved++
	case ClassDuplicate:
		c.Duplicate++
	case ClassUnreadable:
		c.Unreadable++
	case ClassRewritten:
		c.Rewritten++
	case ClassNew:
		c.New++
	}
}

// KindSummary is one kind of item across the run: what the ledger holds of
// it, whether it is covered, and what the check found.
type KindSummary struct {
	Kind string `json:"kind"`
	// Covered is false when the load tried to write this kind but the server
	// acknowledged none of it: its items could not be verified. Reason says
	// why, from the ledger.
	Covered bool   `json:"covered"`
	Reason  string `json:"reason,omitempty"`
	// Users counts the users who tried to write the kind; Writes, AckedWrites,
	// Refused and AmbiguousWrites count the ledger's writes of it.
	Users           int `json:"users"`
	Writes          int `json:"writes"`
	AckedWrites     int `json:"acked_writes"`
	Refused         int `json:"refused"`
	AmbiguousWrites int `json:"ambiguous_writes"`
	// NotOfferedUsers counts users for whom the observer found no collection
	// of this kind.
	NotOfferedUsers int `json:"not_offered_users,omitempty"`

	Items       int `json:"items"`
	NotCovered  int `json:"not_covered,omitempty"`
	Lost        int `json:"lost"`
	Changed     int `json:"changed"`
	Resurrected int `json:"resurrected"`
	Foreign     int `json:"foreign"`
	Moved       int `json:"moved"`
	Duplicate   int `json:"duplicate"`
	Unreadable  int `json:"unreadable"`
	Rewritten   int `json:"rewritten"`
}

// UserResult is the verdict for one user with the items that differ.
type UserResult struct {
	User    string  `json:"user"`
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason,omitempty"`
	Items   int     `json:"items"`
	Acked   int     `json:"acked"`
	// Cut is, in point-in-time mode, the latest ledger time whose state the
	// user's data matches (or, for a mix of cuts, the time matching most
	// items).
	Cut         *int64       `json:"cut_ns,omitempty"`
	Lost        []ItemDetail `json:"lost,omitempty"`
	Changed     []ItemDetail `json:"changed,omitempty"`
	Resurrected []ItemDetail `json:"resurrected,omitempty"`
	Foreign     []ItemDetail `json:"foreign,omitempty"`
	Moved       []ItemDetail `json:"moved,omitempty"`
	Duplicate   []ItemDetail `json:"duplicate,omitempty"`
	Unreadable  []ItemDetail `json:"unreadable,omitempty"`
	Rewritten   []ItemDetail `json:"rewritten,omitempty"`
	// New lists, against a baseline, the items new since the snapshot: not
	// damage, listed for a user listed anyway.
	New []ItemDetail `json:"new,omitempty"`
	// NotCovered lists the kinds of the user's items that could not be
	// verified; Reason says why.
	NotCovered []string `json:"not_covered,omitempty"`
	// Omitted counts item details left out of the lists above to keep the
	// result small (see Limits.Items); they are counted in Counts.
	Omitted int `json:"omitted_items,omitempty"`
}

// ItemDetail says what is wrong with one item.
type ItemDetail struct {
	Key string `json:"key"`
	// Expected lists the states the item could rightly be in.
	Expected []ledger.State `json:"expected,omitempty"`
	// GotDigest and GotSize describe the item as observed; both are absent
	// when the item was not there.
	GotDigest *model.Digest `json:"got_digest,omitempty"`
	GotSize   int64         `json:"got_size,omitempty"`
	// WantCollection is the collection the ledger recorded for the item, and
	// GotCollections the ones it was found in (several for a duplicate).
	WantCollection string   `json:"want_collection,omitempty"`
	GotCollections []string `json:"got_collections,omitempty"`
	// LastAcked is when the item's last acknowledged write returned, in ns
	// since the ledger's base time; -1 when none was.
	LastAcked int64 `json:"last_acked_ns"`
	// Owner is, for a foreign item, the user who wrote it (empty when no
	// user did), and OwnerKey the key it has there.
	Owner    string `json:"owner,omitempty"`
	OwnerKey string `json:"owner_key,omitempty"`
	Detail   string `json:"detail"`
	// Diff explains a changed item property by property; Rewrites lists the
	// server's allowed rewrites of a rewritten item.
	Diff     []string `json:"diff,omitempty"`
	Rewrites []string `json:"rewrites,omitempty"`
}

// lists returns the user's item lists by class, damage first, in report order.
func (u *UserResult) lists() []classList {
	return []classList{
		{ClassLost, &u.Lost}, {ClassChanged, &u.Changed}, {ClassResurrected, &u.Resurrected},
		{ClassForeign, &u.Foreign}, {ClassMoved, &u.Moved}, {ClassDuplicate, &u.Duplicate},
		{ClassUnreadable, &u.Unreadable}, {ClassRewritten, &u.Rewritten}, {ClassNew, &u.New},
	}
}

// classList is one of a user's item lists with its class.
type classList struct {
	class string
	items *[]ItemDetail
}

// list returns the user's item list of a class.
func (u *UserResult) list(class string) *[]ItemDetail {
	for _, l := range u.lists() {
		if l.class == class {
			return l.items
		}
	}
	panic("verify: no item list for class " + class)
}

// damagedItems returns how many damaged items the user's lists hold.
func (u *UserResult) damagedItems() int {
	n := 0
	for _, l := range u.lists() {
		if l.class != ClassRewritten && l.class != ClassNew {
			n += len(*l.items)
		}
	}
	return n
}

// Damaged returns the listed users whose verdict is damaged or unreadable.
func (r Result) Damaged() []UserResult {
	var out []UserResult
	for _, u := range r.Users {
		if u.Verdict == Damaged || u.Verdict == Unreadable {
			out = append(out, u)
		}
	}
	return out
}

// Problems returns one line per item that differs, at most maxItems, e.g.
//
//	user042: lost contact/5f1c.vcf: acknowledged at +12.3s, missing
func (u UserResult) Problems(maxItems int) []string {
	var out []string
	if u.Reason != "" && u.Verdict != Intact {
		out = append(out, fmt.Sprintf("%s: %s", u.User, u.Reason))
	}
	for _, l := range u.lists() {
		for _, d := range *l.items {
			if len(out) >= maxItems {
				return out
			}
			line := fmt.Sprintf("%s: %s %s: %s", u.User, l.class, d.Key, d.Detail)
			if len(d.Diff) > 0 {
				line += " [" + strings.Join(d.Diff[:min(len(d.Diff), 3)], "; ") + "]"
			}
			if len(d.Rewrites) > 0 {
				line += " [" + strings.Join(d.Rewrites[:min(len(d.Rewrites), 3)], "; ") + "]"
			}
			out = append(out, line)
		}
	}
	return out
}

// Summary describes the result in a few lines: its status and reason, the
// canary when it failed, and the first users and items that differ.
func (r Result) Summary(maxUsers, maxItems int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", r.Status, r.Reason)
	shown := 0
	for _, u := range r.Users {
		if u.Verdict == Intact {
			continue
		}
		if shown == maxUsers {
			fmt.Fprintf(&b, "\n  ... and %d more users not intact", r.notIntactListed()-maxUsers+r.MoreUsers)
			break
		}
		shown++
		for _, l := range u.Problems(maxItems) {
			b.WriteString("\n  " + l)
		}
	}
	return b.String()
}

func (r Result) notIntactListed() int {
	n := 0
	for _, u := range r.Users {
		if u.Verdict != Intact {
			n++
		}
	}
	return n
}
