package verify

import (
	"fmt"
	"strings"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// Status is the outcome of a check.
type Status string

// The statuses: pass (every user intact), fail (damage found), unknown (the
// check could not decide: a failed assumption, kinds not covered, an
// incomplete ledger).
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Unknown Status = "unknown"
)

// Verdict is the outcome for one user.
type Verdict string

// The per-user verdicts.
const (
	Intact     Verdict = "intact"     // everything expected, nothing else
	Damaged    Verdict = "damaged"    // lost, changed, resurrected, foreign or unreadable items, or a mix of cuts
	Unreadable Verdict = "unreadable" // the account as a whole could not be read
	// NotCovered: nothing wrong in what could be checked, but some of the
	// user's items are of kinds the server does not support.
	NotCovered Verdict = "not_covered"
)

// Result is the verifier's answer for a whole run. It is plain data with
// stable snake_case JSON names: report.json embeds it.
type Result struct {
	Status Status `json:"status"`
	Reason string `json:"reason"`
	Mode   Mode   `json:"mode"`
	// RecoveryPoint is what acknowledged writes are measured against, in ns
	// since the ledger's base time: the recovery point in latest mode, the
	// upper bound in point-in-time mode.
	RecoveryPoint int64  `json:"recovery_point_ns"`
	Lower         int64  `json:"lower_ns,omitempty"`
	Upper         int64  `json:"upper_ns,omitempty"`
	RPO           RPO    `json:"rpo"`
	Counts        Counts `json:"counts"`
	// NotCovered lists the kinds some user's server did not support.
	NotCovered []string     `json:"not_covered,omitempty"`
	Users      []UserResult `json:"users"`
}

// RPO is how much acknowledged data a restore lost: the count of lost
// acknowledged writes (lost items, items rolled back to an older version,
// deletes undone) and the age of the oldest of them, in seconds before the
// recovery point.
type RPO struct {
	LostWrites int     `json:"lost_writes"`
	AgeSeconds float64 `json:"age_seconds"`
}

// Counts totals a run's items by outcome.
type Counts struct {
	Users        int `json:"users"`
	DamagedUsers int `json:"damaged_users"`
	Items        int `json:"items"`       // items checked (of covered kinds)
	Acked        int `json:"acked"`       // acknowledged writes by the recovery point
	Ambiguous    int `json:"ambiguous"`   // items with more than one acceptable state
	NotCovered   int `json:"not_covered"` // items of kinds the server does not support
	Lost         int `json:"lost"`
	Changed      int `json:"changed"`
	Resurrected  int `json:"resurrected"`
	Foreign      int `json:"foreign"`
	Unreadable   int `json:"unreadable"`
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
	Unreadable  []ItemDetail `json:"unreadable,omitempty"`
	NotCovered  []string     `json:"not_covered,omitempty"`
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
	// LastAcked is when the item's last acknowledged write returned, in ns
	// since the ledger's base time; -1 when none was.
	LastAcked int64 `json:"last_acked_ns"`
	// Owner is, for a foreign item, the user who wrote it (empty when no
	// user did), and OwnerKey the key it has there.
	Owner    string   `json:"owner,omitempty"`
	OwnerKey string   `json:"owner_key,omitempty"`
	Detail   string   `json:"detail"`
	Diff     []string `json:"diff,omitempty"`
}

// Damaged returns the users whose verdict is not intact or not covered.
func (r Result) Damaged() []UserResult {
	var out []UserResult
	for _, u := range r.Users {
		if u.Verdict == Damaged || u.Verdict == Unreadable {
			out = append(out, u)
		}
	}
	return out
}

// Problems returns one line per item that differs, for the first users
// (at most maxUsers users, maxItems lines each), e.g.
//
//	user042: lost contact/5f1c.vcf: acknowledged at +12.3s, missing
func (u UserResult) Problems(maxItems int) []string {
	var out []string
	add := func(what string, ds []ItemDetail) {
		for _, d := range ds {
			if len(out) >= maxItems {
				return
			}
			line := fmt.Sprintf("%s: %s %s: %s", u.User, what, d.Key, d.Detail)
			if len(d.Diff) > 0 {
				line += " [" + strings.Join(d.Diff[:min(len(d.Diff), 3)], "; ") + "]"
			}
			out = append(out, line)
		}
	}
	if u.Verdict == Unreadable || (u.Reason != "" && u.Verdict == Damaged) {
		out = append(out, fmt.Sprintf("%s: %s", u.User, u.Reason))
	}
	add("lost", u.Lost)
	add("changed", u.Changed)
	add("resurrected", u.Resurrected)
	add("foreign", u.Foreign)
	add("unreadable", u.Unreadable)
	return out
}

// Summary describes the result in a few lines: its status and reason, and
// the first users and items that differ.
func (r Result) Summary(maxUsers, maxItems int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", r.Status, r.Reason)
	d := r.Damaged()
	for i, u := range d {
		if i == maxUsers {
			fmt.Fprintf(&b, "\n  ... and %d more damaged users", len(d)-maxUsers)
			break
		}
		for _, l := range u.Problems(maxItems) {
			b.WriteString("\n  " + l)
		}
	}
	return b.String()
}
