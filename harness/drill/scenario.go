// Package drill runs scenarios: it composes the stages of firedrill's data flow
// (stack, workload and ledger, faults, backup and restore, verify, report) in the
// order a scenario lists them, narrates each stage for people watching, and writes
// the run directory. The Ginkgo suite and the CLI both run scenarios through it.
//
// The package is split by what each part does: scenario.go says what a
// scenario is and checks it; runner.go runs one (provisioning, the step loop,
// cleanup on every path); steps.go, load.go, look.go and verifystep.go are the
// steps; verdict.go decides pass, fail or error from what the steps found (pure,
// table-tested); reverify.go re-checks a saved run offline.
package drill

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// Scenario is one rehearsal, as data: what it sets up, what happens in which order,
// and what the harness must find.
type Scenario struct {
	Name    string   // kebab-case, e.g. "sidekick-san-migration"
	Summary string   // one sentence: what it rehearses
	Labels  []string // smoke, nightly, migration, gameday, slow
	Profile string   // data profile (tiny, small, medium, large, sidekick)
	Backup  string   // backup strategy name (continuous, base-only, dump-same-volume)
	// Stack names the stack definition the scenario runs against: a built-in
	// one (stackdef.Names) or a file; "" is the reference stack, syncd's.
	// Options.Stack (--stack) overrides it.
	Stack string
	// Proxy puts Toxiproxy between the phones and the server and between the
	// server and PostgreSQL, for network faults.
	Proxy bool
	// DataVolumeSize limits the primary's data volume to this many bytes (at
	// least stack.MinVolumeSize), so that disk-full can fill it; 0 is unlimited.
	DataVolumeSize int64
	Steps          []Step
	// Expect is what the verifier must conclude: every user intact, or loss
	// detected (the run fails when the harness misses the loss).
	Expect report.Expectation
	// Budgets are limits the run must keep on top of its expectation.
	Budgets Budgets
	// Source is the scenario file it was loaded from; "" for a built-in one.
	Source string
}

// Budgets are the RPO and RTO limits a run must keep.
type Budgets struct {
	// LostWrites is how many acknowledged writes the restore may lose; nil
	// sets no RPO budget. NoLoss() is the strictest.
	LostWrites *int
	// RTO is the longest the restore may take, from provisioning to the
	// verified service; 0 sets no RTO budget.
	RTO time.Duration
}

// NoLoss returns the strictest RPO budget: not one acknowledged write lost.
func NoLoss() *int { n := 0; return &n }

// Action is what a step does.
type Action string

// The actions a scenario's steps take.
const (
	// Populate imports the data of the users at rest (those beyond the
	// profile's active share) in bulk, through syncd's import, before the
	// live load: every item an acknowledged write in the ledger at the commit
	// of its batch. With every user active it has nothing to do, and says so.
	Populate Action = "populate"
	// Load has every user's phones carry out their planned operations, with
	// Faults injected during the load, each once a seeded share of the planned
	// writes has completed.
	Load Action = "load"
	// BaseBackup takes a backup now with the scenario's strategy.
	BaseBackup Action = "base-backup"
	// RestorePoint names the current moment in the WAL (pg_create_restore_point).
	RestorePoint Action = "restore-point"
	// Inject injects Faults and leaves them in effect.
	Inject Action = "inject"
	// Recover recovers every fault still in effect.
	Recover Action = "recover"
	// Check verifies, before any fault, every user whose phones wrote so far
	// against the ledger and remembers what is already damaged: the server's
	// own doing (a third-party server's defects), which the verdict then
	// names as such. It does not decide the verdict.
	Check Action = "check"
	// Observe reads the primary back and reports what users see now; it does not
	// decide the verdict (the service may be down or serve damaged data).
	Observe Action = "observe"
	// Disaster declares the primary's storage lost: every volume in the failure
	// domains its Faults name (lose-domain; san-a when none) is destroyed, as in
	// the Sidekick outage.
	Disaster Action = "disaster"
	// Restore restores the backups into a fresh stack, to the latest point or to
	// the restore point Name.
	Restore Action = "restore"
	// ResetPhones wipes every phone's local store, as users who factory-reset
	// their phones during an outage did; it needs no server.
	ResetPhones Action = "reset-phones"
	// ResyncPhones has every phone sync everything from the current stack again.
	// Verify then checks that each phone holds what the server holds.
	ResyncPhones Action = "resync-phones"
	// Verify reads every user back from the current stack (the restored one
	// after Restore) and checks it against the ledger: the verdict.
	Verify Action = "verify"
	// ProveBackup proves that the newest backup restores, before a procedure
	// runs: it refuses (RefusedError) when the backup lives on storage the
	// procedure Touches, restores it into a fresh side stack, verifies every
	// user who has written so far against the ledger, removes the side stack
	// and refuses when any user is not intact. The primary keeps serving. Then
	// it stops the backup agents, so that whatever the procedure does to the
	// primary never reaches the proven archive.
	ProveBackup Action = "prove-backup"
)

// Actions lists every action, in the order a scenario usually uses them.
var Actions = []Action{Populate, Load, Check, BaseBackup, RestorePoint, Inject, Recover, Observe, Disaster, Restore, ResetPhones, ResyncPhones, ProveBackup, Verify}

// Step is one stage of a scenario.
type Step struct {
	Do     Action
	Say    string       // plain words for the narration; a default per action otherwise
	Faults []fault.Spec // Inject, Disaster, or Load: the faults to inject
	Name   string       // RestorePoint: its name; Restore: the restore point to recover to ("" = latest)
	// Users, for Load: which users' phones load, as a share of the accounts in
	// their order; the zero Share is all of them. Loads of disjoint shares let
	// a scenario load some users before a procedure and the others while it
	// runs; each user's phones still carry out their plan once.
	Users Share
	// Touches, for ProveBackup: the storage the procedure acts on: "data" (the
	// database's data volume and so its failure domain), "backup" (the backup
	// volume) or a failure domain by name (san-a); none is "data".
	Touches []string
}

// Share is a part of the accounts, in their order: from From (inclusive) to To
// (exclusive), each between 0 and 1. The zero Share is every account.
type Share struct {
	From, To float64
}

// all reports whether the share is every account.
func (s Share) all() bool { return s == Share{} || (s.From == 0 && s.To == 1) }

// bounds returns the share's range, the zero Share being [0, 1).
func (s Share) bounds() (float64, float64) {
	if s == (Share{}) {
		return 0, 1
	}
	return s.From, s.To
}

// Of returns the accounts' indexes [i, j) the share covers.
func (s Share) Of(n int) (int, int) {
	from, to := s.bounds()
	return int(from * float64(n)), int(to * float64(n))
}

// The storage ProveBackup's Touches may name besides a failure domain.
const (
	TouchesData   = "data"
	TouchesBackup = "backup"
)

// keepsPhones reports whether the scenario acts on the phones after the load
// (a device fault, a reset or a resync), which keeps every phone's local store
// for the whole run.
func (s Scenario) keepsPhones() bool {
	for _, st := range s.Steps {
		if st.Do == ResetPhones || st.Do == ResyncPhones {
			return true
		}
		for _, f := range st.Faults {
			if e, ok := fault.Lookup(f.Name); ok && slices.Contains(e.Needs, fault.NeedsDevices) {
				return true
			}
		}
	}
	return false
}

// offers returns what the scenario's environment offers its faults before and
// after the load has made phones.
func (s Scenario) offers(phones bool) map[fault.Need]bool {
	out := map[fault.Need]bool{fault.NeedsDevices: phones}
	out[fault.NeedsProxy] = s.Proxy
	out[fault.NeedsSizedVolume] = s.DataVolumeSize > 0
	if st, err := backup.Lookup(s.Backup); err == nil {
		out[fault.NeedsBackupVolume] = st.Method == backup.MethodBase && !st.SameVolume
	}
	return out
}

// Problem is one thing wrong with a scenario: where (the scenario's own field,
// or a step's) and what to write instead. A scenario file maps it to its line.
type Problem struct {
	Step  int    // 1-based step number; 0 for the scenario's own fields
	Field string // e.g. "profile", "budgets.rto", "do", "faults", "name"
	Fault int    // for Field "faults": the fault's index in the step
	Msg   string
}

// Error says where the problem is and what is wrong.
func (p Problem) Error() string { return p.Msg }

// Validate reports what is wrong with a scenario, naming the field and the fix.
// It refuses a fault its environment cannot serve (a link fault without the
// proxy, a device fault before there are phones), naming what is missing.
func (s Scenario) Validate() error {
	probs := s.Problems()
	if len(probs) == 0 {
		return nil
	}
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = p
	}
	return fmt.Errorf("scenario %s: %w", s.Name, errors.Join(errs...))
}

// Problems lists what Validate finds wrong, each with where it is.
func (s Scenario) Problems() []Problem {
	var out []Problem
	bad := func(field, format string, args ...any) {
		out = append(out, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if s.Name == "" || strings.ToLower(s.Name) != s.Name || strings.ContainsAny(s.Name, " _/") {
		bad("name", "name %q: want kebab-case, e.g. sidekick-san-migration", s.Name)
	}
	prof, err := profile.Load(s.Profile)
	if err != nil {
		bad("profile", "profile: %v", err)
	}
	if _, err := backup.Lookup(s.Backup); err != nil {
		bad("backup", "backup: %v", err)
	}
	if s.DataVolumeSize != 0 && s.DataVolumeSize < stack.MinVolumeSize {
		bad("data_volume_size", "data volume size %d: want 0 (unlimited) or at least %d bytes", s.DataVolumeSize, stack.MinVolumeSize)
	}
	if s.Expect != report.ExpectIntact && s.Expect != report.ExpectLossDetected {
		bad("expect", "expect %q: want %q or %q", s.Expect, report.ExpectIntact, report.ExpectLossDetected)
	}
	if b := s.Budgets.LostWrites; b != nil && *b < 0 {
		bad("budgets.lost_writes", "budgets: lost writes %d: want 0 or more (or no RPO budget at all)", *b)
	}
	if s.Budgets.RTO < 0 {
		bad("budgets.rto", "budgets: RTO %s: want a positive duration (or no RTO budget at all)", s.Budgets.RTO)
	}
	verify, loads, populates, restorePoints := 0, 0, 0, map[string]bool{}
	faulted := false // a fault was injected by an earlier step
	var shares []Share
	for i, st := range s.Steps {
		where := fmt.Sprintf("step %d (%s)", i+1, st.Do)
		stepBad := func(field string, fault int, format string, args ...any) {
			out = append(out, Problem{Step: i + 1, Field: field, Fault: fault, Msg: where + ": " + fmt.Sprintf(format, args...)})
		}
		if st.Do != ProveBackup && len(st.Touches) > 0 {
			stepBad("touches", 0, "only a prove-backup step takes touches")
		}
		switch st.Do {
		case Load, Inject, Disaster:
			if st.Do == Load {
				loads++
				if from, to := st.Users.bounds(); from < 0 || to > 1 || from >= to {
					stepBad("users", 0, "users share [%g, %g): want 0 <= from < to <= 1, or none for every user", from, to)
				} else {
					for _, o := range shares {
						if of, ot := o.bounds(); from < ot && of < to {
							stepBad("users", 0, "users share [%g, %g) overlaps an earlier load's [%g, %g): each user's phones load once", from, to, of, ot)
						}
					}
					shares = append(shares, st.Users)
				}
			} else if st.Users != (Share{}) {
				stepBad("users", 0, "only a load step takes a users share")
			}
			offered := s.offers(loads > 0)
			for j, spec := range st.Faults {
				spec = placeholderFree(spec)
				if _, err := fault.New(spec); err != nil {
					stepBad("faults", j, "fault %s: %v", spec.Name, err)
					continue
				}
				e, _ := fault.Lookup(spec.Name)
				for _, need := range e.Needs {
					if !offered[need] {
						stepBad("faults", j, "fault %s needs %s", spec.Name, need.Explain())
					}
				}
			}
			if st.Do == Inject && len(st.Faults) == 0 {
				stepBad("faults", 0, "no faults to inject")
			}
			faulted = faulted || st.Do != Load || len(st.Faults) > 0
		case RestorePoint:
			if st.Name == "" {
				stepBad("name", 0, "a restore point needs a name")
			}
			restorePoints[st.Name] = true
		case Restore:
			if st.Name != "" && !restorePoints[st.Name] {
				stepBad("name", 0, "restore point %q is not created by an earlier step", st.Name)
			}
		case Verify:
			verify++
		case Populate:
			populates++
			if loads > 0 {
				stepBad("do", 0, "populate after the load: the resting data is there before the phones start; move it before the load step")
			}
		case ResetPhones, ResyncPhones:
			if loads == 0 {
				stepBad("do", 0, "the phones have nothing to reset or resync before a load")
			}
		case ProveBackup:
			for _, t := range st.Touches {
				if t != TouchesData && t != TouchesBackup && !strings.HasPrefix(t, "san-") {
					stepBad("touches", 0, "touches %q: want data, backup or a failure domain such as san-a", t)
				}
			}
		case Check:
			if loads == 0 {
				stepBad("do", 0, "a check before any load has nothing to check; put it after a load step")
			}
			if faulted {
				stepBad("do", 0, "a check after a fault cannot tell the server's own damage from the fault's; put it before the first fault")
			}
		case BaseBackup, Recover, Observe:
		default:
			names := make([]string, len(Actions))
			for i, a := range Actions {
				names[i] = string(a)
			}
			stepBad("do", 0, "unknown action; want one of %s", strings.Join(names, ", "))
		}
	}
	if loads > 1 && s.keepsPhones() {
		bad("steps", "steps: a scenario that acts on the phones after the load wants one load of every user")
	}
	if populates > 1 {
		bad("steps", "steps: want at most one populate step (each user at rest is imported once)")
	}
	if prof != nil && prof.Resting() && populates == 0 {
		bad("steps", "steps: profile %s keeps %d of its %d users at rest (active_share %v): add a populate step before the load, which imports their data in bulk",
			prof.Name, prof.Users-prof.Active(prof.Users), prof.Users, prof.ActiveShare)
	}
	if verify != 1 || len(s.Steps) == 0 || s.Steps[len(s.Steps)-1].Do != Verify {
		bad("steps", "steps: want exactly one verify step, and last")
	}
	return out
}

// placeholderFree returns spec with the run-time placeholders of fault parameters
// (see runner.resolve) replaced by a plausible value, so that it can be checked.
func placeholderFree(spec fault.Spec) fault.Spec {
	out := spec
	out.Params = map[string]string{}
	for k, v := range spec.Params {
		v = strings.ReplaceAll(v, RunDirPlaceholder, "/run-dir")
		v = strings.ReplaceAll(v, "{newest-backup}", "base/checked")
		out.Params[k] = strings.ReplaceAll(v, "{oldest-backup}", "base/checked")
	}
	return out
}

// RunDirPlaceholder, in a fault parameter, stands for the run's directory (e.g.
// where a procedure saves its output).
const RunDirPlaceholder = "{run-dir}"

// HasLabel reports whether the scenario carries label.
func (s Scenario) HasLabel(label string) bool { return slices.Contains(s.Labels, label) }
