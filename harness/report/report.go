// Package report writes and reads a drill's run directory: report.json (the
// Report), index.html (a self-contained page for people), junit.xml (for CI), the
// ledger, the observation and container logs. A Report is plain data that the
// scenario runner fills from the verifier's result; it imports no stage of the
// drill but the timeline, so any saved report can be loaded back and re-rendered
// offline.
package report

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/firedrill/firedrill/harness/timeline"
)

// SchemaVersion is the version of report.json this package writes. Load accepts
// this version and older ones. Version 2 added the kinds, the canary, notes,
// the moved, duplicate and rewritten classes, and a bounded list of users
// (MoreUserVerdicts counts the users left out).
const SchemaVersion = 2

// Verdict is the outcome of a run.
type Verdict string

// The verdicts of a run.
const (
	// Pass: the run ended as expected (every user intact, or the loss detected
	// when loss was expected) and every budget was met.
	Pass Verdict = "pass"
	// Fail: the run ended, and the outcome or a budget is not what was expected.
	Fail Verdict = "fail"
	// Error: the run could not be completed or judged (a container did not
	// start, the observer could not read back); nothing is known about the data.
	Error Verdict = "error"
)

// Expectation is what a scenario expects the verifier to find.
type Expectation string

// The expectations of a scenario, and what the verifier found (Report.Actual).
const (
	ExpectIntact       Expectation = "intact"        // every user's data came back unchanged
	ExpectLossDetected Expectation = "loss-detected" // the harness must find and report damage
	// FoundUnknown is only an actual outcome: the data could not be judged.
	FoundUnknown Expectation = "unknown"
)

// The statuses of a user.
const (
	StatusIntact     = "intact"
	StatusDamaged    = "damaged"
	StatusUnreadable = "unreadable" // the account as a whole could not be read
	// StatusNotCovered: nothing wrong in what could be checked, but some of the
	// user's writes could not be verified (kinds the server acknowledged no
	// write of, or nothing acknowledged at all); the verdict's Reason says why.
	StatusNotCovered = "not_covered"
	// StatusRewritten: everything came back, some items rewritten by the
	// server in ways the RFCs allow: not damage, listed.
	StatusRewritten = "rewritten"
	// StatusUnknown: the user could not be judged (not in the ledger, listed
	// twice, invalid item keys).
	StatusUnknown = "unknown"
)

// The problems an item can have, as the verifier names them.
const (
	ProblemLost        = "lost"
	ProblemChanged     = "changed"
	ProblemResurrected = "resurrected"
	ProblemForeign     = "foreign"
	ProblemMoved       = "moved"     // in another collection of its user than it was written to
	ProblemDuplicate   = "duplicate" // in more than one collection
	ProblemUnreadable  = "unreadable"
	// ProblemRewritten is not damage: the server rewrote the item in ways the
	// RFCs allow; its Detail lists the rewrites.
	ProblemRewritten = "rewritten"
)

// Problems lists the item problems in the order reports show them.
var Problems = []string{ProblemLost, ProblemChanged, ProblemResurrected, ProblemForeign, ProblemMoved, ProblemDuplicate, ProblemUnreadable, ProblemRewritten}

// Report is everything a run found, as saved in report.json.
type Report struct {
	Schema      int               `json:"schema"`
	RunID       string            `json:"run_id"`
	Scenario    string            `json:"scenario"`
	Description string            `json:"description,omitempty"` // one sentence on what the scenario rehearses
	Labels      []string          `json:"labels,omitempty"`
	Profile     string            `json:"profile"`
	Seed        int64             `json:"seed"`
	Command     string            `json:"command"` // the exact command line that replays the run
	Server      string            `json:"server,omitempty"`
	Environment map[string]string `json:"environment,omitempty"` // e.g. go version, docker version, host

	Verdict  Verdict     `json:"verdict"`
	Reason   string      `json:"reason"`
	Expected Expectation `json:"expected"`
	Actual   Expectation `json:"actual"` // intact, loss-detected or unknown

	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`

	Users   UserCounts `json:"users"`
	Items   ItemCounts `json:"items"`
	RPO     RPO        `json:"rpo"`
	RTO     RTO        `json:"rto"`
	Backup  Backup     `json:"backup"`
	Budgets []Budget   `json:"budgets,omitempty"`

	// Faults are the failures injected, from the timeline's fault entries.
	Faults []timeline.Entry `json:"faults"`
	// Spans are the other timeline entries (backups, stages) for the chart.
	Spans []timeline.Entry `json:"spans,omitempty"`
	// Throughput samples the workload for the timeline chart.
	Throughput []Sample `json:"throughput,omitempty"`

	// UserVerdicts holds the users that are not intact, the most damaged
	// first, at most MaxUserVerdicts of them; MoreUserVerdicts counts those
	// left out. Intact users are counted in Users, not listed, but for a
	// small sample in IntactSample.
	UserVerdicts     []UserVerdict `json:"user_verdicts"`
	MoreUserVerdicts int           `json:"more_user_verdicts,omitempty"`
	IntactSample     []string      `json:"intact_sample,omitempty"`
	// NotCovered lists the kinds of item that could not be verified because the
	// server acknowledged none of them: they are neither passed nor failed.
	NotCovered []string `json:"not_covered,omitempty"`
	// Kinds summarises the run kind by kind.
	Kinds []KindSummary `json:"kinds,omitempty"`
	// Canary is the damage planted into copies of some users' observation to
	// prove the verifier catches it; nil for a run that verified nothing.
	Canary *Canary `json:"canary,omitempty"`
	// Notes say what the verifier could not look at, and, after a check step,
	// which damage was the server's own before any fault.
	Notes []string `json:"notes,omitempty"`

	// Artifacts are the files of the run directory, filled in when it is written.
	Artifacts []Artifact `json:"artifacts,omitempty"`
}

// UserCounts counts users by verdict.
type UserCounts struct {
	Total   int `json:"total"`
	Intact  int `json:"intact"`
	Damaged int `json:"damaged"` // including users that could not be read
	// NotCovered counts users with nothing wrong where checked but writes
	// that could not be verified: neither intact nor damaged.
	NotCovered int `json:"not_covered,omitempty"`
	// Rewritten counts users whose items all came back, some rewritten by the
	// server in allowed ways; Unknown counts users that could not be judged.
	Rewritten int `json:"rewritten,omitempty"`
	Unknown   int `json:"unknown,omitempty"`
}

// ItemCounts counts items and writes by what the verifier found.
type ItemCounts struct {
	Checked     int `json:"checked"`               // items compared with the ledger
	Acked       int `json:"acked"`                 // acknowledged writes in the ledger
	NotCovered  int `json:"not_covered,omitempty"` // items of kinds the server does not support
	Ambiguous   int `json:"ambiguous"`             // writes whose outcome the device could not know
	Failed      int `json:"failed"`                // writes the server refused for sure
	Lost        int `json:"lost"`
	Changed     int `json:"changed"`
	Resurrected int `json:"resurrected"`
	Foreign     int `json:"foreign"`
	Moved       int `json:"moved"`
	Duplicate   int `json:"duplicate"`
	Unreadable  int `json:"unreadable"`
	Rewritten   int `json:"rewritten"` // not damage
}

// Damaged returns the number of items with any damage (rewrites are not damage).
func (c ItemCounts) Damaged() int {
	return c.Lost + c.Changed + c.Resurrected + c.Foreign + c.Moved + c.Duplicate + c.Unreadable
}

// KindSummary is one kind of item across the run: what the ledger holds of
// it, whether it could be verified, and what was found.
type KindSummary struct {
	Kind    string `json:"kind"`
	Covered bool   `json:"covered"`
	Reason  string `json:"reason,omitempty"` // why not covered, from the ledger
	// Users tried to write it; Writes, AckedWrites, Refused and
	// AmbiguousWrites count the ledger's writes of it.
	Users           int `json:"users"`
	Writes          int `json:"writes"`
	AckedWrites     int `json:"acked_writes"`
	Refused         int `json:"refused"`
	AmbiguousWrites int `json:"ambiguous_writes"`
	NotOfferedUsers int `json:"not_offered_users,omitempty"`
	Items           int `json:"items"` // items checked
	NotCovered      int `json:"not_covered,omitempty"`
	Lost            int `json:"lost"`
	Changed         int `json:"changed"`
	Resurrected     int `json:"resurrected"`
	Foreign         int `json:"foreign"`
	Moved           int `json:"moved"`
	Duplicate       int `json:"duplicate"`
	Unreadable      int `json:"unreadable"`
	Rewritten       int `json:"rewritten"`
}

// Problem returns the count of one problem for the kind.
func (k KindSummary) Problem(p string) int {
	switch p {
	case ProblemLost:
		return k.Lost
	case ProblemChanged:
		return k.Changed
	case ProblemResurrected:
		return k.Resurrected
	case ProblemForeign:
		return k.Foreign
	case ProblemMoved:
		return k.Moved
	case ProblemDuplicate:
		return k.Duplicate
	case ProblemUnreadable:
		return k.Unreadable
	case ProblemRewritten:
		return k.Rewritten
	}
	return 0
}

// Canary is the damage the verifier planted into copies of some users'
// observations before judging, and whether it caught each instance. A missed
// instance makes the run an error: the verifier is broken.
type Canary struct {
	Planted int           `json:"planted"`
	Caught  int           `json:"caught"`
	Plants  []CanaryPlant `json:"plants"`
}

// CanaryPlant is one instance of planted damage.
type CanaryPlant struct {
	Damage  string `json:"damage"` // lost, changed_property, changed_byte, resurrected, foreign, moved, duplicate
	Class   string `json:"class"`  // what the verifier had to report
	User    string `json:"user,omitempty"`
	Key     string `json:"key,omitempty"`
	Planted bool   `json:"planted"`
	Caught  bool   `json:"caught"`
	Detail  string `json:"detail"`
}

// Missed returns how many planted instances were not caught.
func (c *Canary) Missed() int {
	if c == nil {
		return 0
	}
	return c.Planted - c.Caught
}

// RPO is the recovery point: the acknowledged writes that did not come back.
type RPO struct {
	LostAckedWrites int     `json:"lost_acked_writes"`
	Seconds         float64 `json:"seconds"` // age of the oldest lost acknowledged write at the disaster
}

// RTO is the recovery time and its phases.
type RTO struct {
	Seconds float64 `json:"seconds"`
	Phases  []Phase `json:"phases"`
}

// Phase is one timed phase of the restore.
type Phase struct {
	Name    string    `json:"name"`
	Seconds float64   `json:"seconds"`
	Start   time.Time `json:"start,omitzero"`
	End     time.Time `json:"end,omitzero"`
	Detail  string    `json:"detail,omitempty"`
}

// Backup says how the data was backed up and whether the backup checked out.
type Backup struct {
	Strategy string `json:"strategy"`
	Verified bool   `json:"verified"`
	Detail   string `json:"detail,omitempty"`
}

// Budget is a limit a scenario sets on RPO or RTO and whether the run kept it.
type Budget struct {
	Name   string  `json:"name"`  // "rpo" or "rto"
	Unit   string  `json:"unit"`  // e.g. "acked writes", "s"
	Limit  float64 `json:"limit"` // the most allowed
	Actual float64 `json:"actual"`
	Met    bool    `json:"met"`
}

// NewBudget returns a budget that is met when actual is at most limit.
func NewBudget(name, unit string, limit, actual float64) Budget {
	return Budget{Name: name, Unit: unit, Limit: limit, Actual: actual, Met: actual <= limit}
}

// Sample is the workload's throughput over one interval, for the chart.
type Sample struct {
	T         float64 `json:"t"`               // seconds from Report.Started to the interval's start
	Acked     float64 `json:"acked_per_s"`     // acknowledged writes per second
	Failed    float64 `json:"failed_per_s"`    // refused writes per second
	Ambiguous float64 `json:"ambiguous_per_s"` // ambiguous writes per second
}

// UserVerdict is the verdict for one user and the items that differ.
type UserVerdict struct {
	User   string        `json:"user"`
	Status string        `json:"status"`           // intact, damaged, unreadable, not_covered, rewritten or unknown
	Reason string        `json:"reason,omitempty"` // e.g. why the account could not be read
	Items  []ItemProblem `json:"items,omitempty"`
	// Checked counts the user's items that were compared with the ledger.
	Checked int `json:"checked,omitempty"`
	// NotCovered lists the kinds of the user's items that could not be verified.
	NotCovered []string `json:"not_covered,omitempty"`
	// MoreItems counts damaged items left out of Items to keep the report small.
	MoreItems int `json:"more_items,omitempty"`
}

// ItemProblem is one item of a user that did not come back as acknowledged.
type ItemProblem struct {
	Kind    string `json:"kind"`    // contact, event, todo, note, photo, appdata
	Key     string `json:"key"`     // "<kind>/<name>"
	Problem string `json:"problem"` // lost, changed, resurrected, foreign, moved, duplicate, unreadable, rewritten
	// Expected lists the states the ledger allows (more than one after an
	// ambiguous write); empty when the item should not exist at all.
	Expected []Version `json:"expected,omitempty"`
	Got      *Version  `json:"got,omitempty"` // what the server returned (nil: absent)
	// AckedAt is when the item's last acknowledged write returned.
	AckedAt  time.Time `json:"acked_at,omitzero"`
	Owner    string    `json:"owner,omitempty"`     // for a foreign item: whose it is
	OwnerKey string    `json:"owner_key,omitempty"` // and its key there
	// WantCollection is where the item was written; GotCollections where the
	// server had it (two or more for a duplicate).
	WantCollection string   `json:"want_collection,omitempty"`
	GotCollections []string `json:"got_collections,omitempty"`
	Detail         []string `json:"detail,omitempty"` // e.g. property-level differences, or the rewrites
}

// Version is one state of an item: its content, or its absence.
type Version struct {
	Absent bool   `json:"absent,omitempty"` // the item does not exist (never written, or deleted)
	Digest string `json:"digest,omitempty"` // hex, as model.Digest prints
	Size   int64  `json:"size,omitempty"`
}

// Artifact is one file of the run directory.
type Artifact struct {
	Name  string `json:"name"` // e.g. "Ledger"
	Path  string `json:"path"` // relative to the run directory, slash-separated
	Bytes int64  `json:"bytes"`
}

// Duration returns how long the run took.
func (r *Report) Duration() time.Duration {
	if r.Started.IsZero() || r.Finished.Before(r.Started) {
		return 0
	}
	return r.Finished.Sub(r.Started)
}

// BudgetsMet reports whether every budget was kept.
func (r *Report) BudgetsMet() bool {
	for _, b := range r.Budgets {
		if !b.Met {
			return false
		}
	}
	return true
}

// SetTimeline files a drill's timeline entries into the report: fault entries
// become Faults, restore entries become the RTO's phases, the rest become Spans.
// When RTO.Seconds is unset it becomes the time from the first restore phase's
// start to the last one's end.
func (r *Report) SetTimeline(entries []timeline.Entry) {
	r.Faults, r.Spans, r.RTO.Phases = nil, nil, nil
	var first, last time.Time
	for _, e := range entries {
		switch e.Category {
		case timeline.Fault:
			r.Faults = append(r.Faults, e)
		case timeline.Restore:
			r.RTO.Phases = append(r.RTO.Phases, Phase{
				Name: e.Name, Seconds: e.Duration().Seconds(), Start: e.Start, End: e.End, Detail: e.Detail,
			})
			if first.IsZero() || e.Start.Before(first) {
				first = e.Start
			}
			if e.End.After(last) {
				last = e.End
			}
		default:
			r.Spans = append(r.Spans, e)
		}
	}
	if r.RTO.Seconds == 0 && !first.IsZero() && last.After(first) {
		r.RTO.Seconds = last.Sub(first).Seconds()
	}
}

// SortUserVerdicts orders the verdicts for reading: damaged users first, the
// most damaged before the less, then by name.
func (r *Report) SortUserVerdicts() {
	rank := func(u UserVerdict) int {
		switch u.Status {
		case StatusUnreadable:
			return 0
		case StatusUnknown:
			return 2
		case StatusNotCovered:
			return 3
		case StatusRewritten:
			return 4
		case StatusIntact:
			return 5
		}
		return 1
	}
	sort.SliceStable(r.UserVerdicts, func(i, j int) bool {
		a, b := r.UserVerdicts[i], r.UserVerdicts[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if na, nb := len(a.Items)+a.MoreItems, len(b.Items)+b.MoreItems; na != nb {
			return na > nb
		}
		return a.User < b.User
	})
}

// The most user verdicts, and items per user, that Write keeps in report.json.
// The ledger and the observation in the run directory keep everything, so a
// run can be re-verified in full.
const (
	MaxUserVerdicts = 10_000
	MaxItemsPerUser = 100
)

// Limit keeps at most users verdicts, damaged users first, with at most items
// items each. Left-out items are counted in each verdict's MoreItems; left-out
// users stay counted in Users.
func (r *Report) Limit(users, items int) {
	r.SortUserVerdicts()
	if len(r.UserVerdicts) > users {
		for _, u := range r.UserVerdicts[users:] {
			if u.Status != StatusIntact {
				r.MoreUserVerdicts++
			}
		}
		r.UserVerdicts = r.UserVerdicts[:users]
	}
	for i := range r.UserVerdicts {
		u := &r.UserVerdicts[i]
		if len(u.Items) > items {
			u.MoreItems += len(u.Items) - items
			u.Items = u.Items[:items]
		}
	}
}

// Validate checks that the report can be rendered and judged: it names a
// scenario and carries a known verdict and expectation.
func (r *Report) Validate() error {
	var errs []error
	if r.Scenario == "" {
		errs = append(errs, errors.New("scenario is empty: set Report.Scenario to the scenario's name"))
	}
	if !slices.Contains([]Verdict{Pass, Fail, Error}, r.Verdict) {
		errs = append(errs, fmt.Errorf("verdict %q is not one of pass, fail, error", r.Verdict))
	}
	if r.Verdict != Pass && r.Reason == "" {
		errs = append(errs, fmt.Errorf("verdict %s has no reason: say why in Report.Reason", r.Verdict))
	}
	if !slices.Contains([]Expectation{ExpectIntact, ExpectLossDetected}, r.Expected) {
		errs = append(errs, fmt.Errorf("expected %q is not one of intact, loss-detected", r.Expected))
	}
	if r.Actual != "" && !slices.Contains([]Expectation{ExpectIntact, ExpectLossDetected, FoundUnknown}, r.Actual) {
		errs = append(errs, fmt.Errorf("actual %q is not one of intact, loss-detected, unknown", r.Actual))
	}
	if r.Schema > SchemaVersion {
		errs = append(errs, fmt.Errorf("schema %d is newer than this firedrill understands (%d): use a newer firedrill", r.Schema, SchemaVersion))
	}
	for i, u := range r.UserVerdicts {
		if u.User == "" {
			errs = append(errs, fmt.Errorf("user verdict %d has no user name", i))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validate report: %w", err)
	}
	return nil
}
