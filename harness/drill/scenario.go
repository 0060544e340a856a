// Package drill runs scenarios: it composes the stages of firedrill's data flow
// (stack, workload and ledger, faults, backup and restore, verify, report) in the
// order a scenario lists them, narrates each stage for people watching, and writes
// the run directory. The Ginkgo suite and the CLI both run scenarios through it.
package drill

import (
	"errors"
	"fmt"
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
	Profile string   // data profile (tiny, small, large)
	Backup  string   // backup strategy name (continuous, base-only, dump-same-volume)
	// Proxy puts Toxiproxy between the phones and syncd and between syncd and
	// PostgreSQL, for network faults.
	Proxy bool
	// DataVolumeSize limits the primary's data volume to this many bytes (at
	// least stack.MinVolumeSize), so that disk-full can fill it; 0 is unlimited.
	DataVolumeSize int64
	Steps []Step
	// Expect is what the verifier must conclude: every user intact, or loss
	// detected (the run fails when the harness misses the loss).
	Expect report.Expectation
	// MaxLostWrites is the RPO budget in acknowledged writes (-1: no budget).
	MaxLostWrites int
	// MaxRTO is the RTO budget (0: no budget).
	MaxRTO time.Duration
}

// Action is what a step does.
type Action string

// The actions a scenario's steps take.
const (
	// Load has every user's phones carry out their planned operations, with
	// Faults injected at seeded moments during the load.
	Load Action = "load"
	// BaseBackup takes a backup now with the scenario's strategy.
	BaseBackup Action = "base-backup"
	// RestorePoint names the current moment in the WAL (pg_create_restore_point).
	RestorePoint Action = "restore-point"
	// Inject injects Faults and leaves them in effect.
	Inject Action = "inject"
	// Recover recovers every fault still in effect.
	Recover Action = "recover"
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
)

// needsPhones reports whether the scenario acts on the phones after the load,
// which keeps every phone's local store for the whole run.
func (s Scenario) needsPhones() bool {
	for _, st := range s.Steps {
		if st.Do == ResetPhones || st.Do == ResyncPhones {
			return true
		}
	}
	return false
}

// Step is one stage of a scenario.
type Step struct {
	Do     Action
	Say    string       // plain words for the narration; a default per action otherwise
	Faults []fault.Spec // Inject, Disaster, or Load: the faults to inject
	Name   string       // RestorePoint: its name; Restore: the restore point to recover to ("" = latest)
}

// Validate reports what is wrong with a scenario, naming the field and the fix.
func (s Scenario) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Name == "" || strings.ToLower(s.Name) != s.Name || strings.ContainsAny(s.Name, " _/") {
		bad("name %q: want kebab-case, e.g. sidekick-san-migration", s.Name)
	}
	if _, err := profile.Load(s.Profile); err != nil {
		bad("profile: %v", err)
	}
	if _, err := backup.Lookup(s.Backup); err != nil {
		bad("backup: %v", err)
	}
	if s.DataVolumeSize != 0 && s.DataVolumeSize < stack.MinVolumeSize {
		bad("data volume size %d: want 0 (unlimited) or at least %d bytes", s.DataVolumeSize, stack.MinVolumeSize)
	}
	if s.Expect != report.ExpectIntact && s.Expect != report.ExpectLossDetected {
		bad("expect %q: want %q or %q", s.Expect, report.ExpectIntact, report.ExpectLossDetected)
	}
	verify, loads, restorePoints := 0, 0, map[string]bool{}
	for i, st := range s.Steps {
		where := fmt.Sprintf("step %d (%s)", i+1, st.Do)
		switch st.Do {
		case Load, Inject, Disaster:
			if st.Do == Load {
				loads++
			}
			for _, spec := range st.Faults {
				spec = placeholderFree(spec)
				if _, err := fault.New(spec); err != nil {
					bad("%s: fault %s: %v", where, spec.Name, err)
				}
			}
			if st.Do == Inject && len(st.Faults) == 0 {
				bad("%s: no faults to inject", where)
			}
		case RestorePoint:
			if st.Name == "" {
				bad("%s: a restore point needs a name", where)
			}
			restorePoints[st.Name] = true
		case Restore:
			if st.Name != "" && !restorePoints[st.Name] {
				bad("%s: restore point %q is not created by an earlier step", where, st.Name)
			}
		case Verify:
			verify++
		case ResetPhones, ResyncPhones:
			if loads == 0 {
				bad("%s: the phones have nothing to reset or resync before a load", where)
			}
		case BaseBackup, Recover, Observe:
		default:
			bad("%s: unknown action; want one of load, base-backup, restore-point, inject, recover, observe, disaster, restore, reset-phones, resync-phones, verify", where)
		}
	}
	if loads > 1 {
		bad("steps: want at most one load (a phone carries out its plan once)")
	}
	if verify != 1 || len(s.Steps) == 0 || s.Steps[len(s.Steps)-1].Do != Verify {
		bad("steps: want exactly one verify step, and last")
	}
	if len(errs) > 0 {
		return fmt.Errorf("scenario %s: %w", s.Name, errors.Join(errs...))
	}
	return nil
}

// placeholderFree returns spec with the run-time placeholders of fault parameters
// (see drillRun.resolve) replaced by a plausible value, so that it can be checked.
func placeholderFree(spec fault.Spec) fault.Spec {
	out := spec
	out.Params = map[string]string{}
	for k, v := range spec.Params {
		v = strings.ReplaceAll(v, "{newest-backup}", "base/checked")
		out.Params[k] = strings.ReplaceAll(v, "{oldest-backup}", "base/checked")
	}
	return out
}

// HasLabel reports whether the scenario carries label.
func (s Scenario) HasLabel(label string) bool {
	for _, l := range s.Labels {
		if l == label {
			return true
		}
	}
	return false
}

// narration returns what to say before a step.
func (st Step) narration(sc Scenario) (title, what string) {
	var names []string
	for _, f := range st.Faults {
		names = append(names, f.String())
	}
	switch st.Do {
	case Load:
		title = "Phones sync their users' data"
		what = fmt.Sprintf("Every user's phones write contacts, events, to-dos, notes, photos and high scores (profile %s). Each write the service acknowledges goes into the ledger.", sc.Profile)
		if len(names) > 0 {
			what += " During the load: " + strings.Join(names, ", ") + "."
		}
	case BaseBackup:
		title, what = "Take a backup", fmt.Sprintf("The %s strategy takes a backup now.", sc.Backup)
	case RestorePoint:
		title, what = "Mark a restore point", fmt.Sprintf("Name this moment %q in the write-ahead log, so that a restore can stop exactly here.", st.Name)
	case Inject:
		title, what = "Inject the failure", "Now: "+strings.Join(names, ", ")+". The ledger is saved to disk first, so nothing it knows is lost."
	case Recover:
		title, what = "Recover", "Undo what can be undone: restart, reconnect, remove network faults."
	case Observe:
		title, what = "Look at the service", "Read every user's data back from the damaged service, as their phones would now."
	case Disaster:
		domains := []string{}
		for _, f := range st.Faults {
			domains = append(domains, f.Target)
		}
		if len(domains) == 0 {
			domains = []string{"san-a"}
		}
		title = "Declare the disaster"
		what = fmt.Sprintf("The primary's storage (failure domain %s) is declared lost: every volume in it is destroyed, the database and anything kept beside it. The ledger is saved to disk first.", strings.Join(domains, " and "))
	case Restore:
		target := "the latest point the backups reach"
		if st.Name != "" {
			target = fmt.Sprintf("the restore point %q", st.Name)
		}
		title, what = "Restore into a fresh stack", fmt.Sprintf("Build a new network and new volumes, verify the backups, restore the newest good one and replay WAL to %s, then start the sync service on it.", target)
	case ResetPhones:
		title, what = "Users reset their phones", "While the service is down, every user factory-resets their phone: the local copy of their contacts, calendars, notes and photos is wiped. The phones were only caches; the data now lives only in the service and its backups."
	case ResyncPhones:
		title, what = "Phones sync again", "Every phone signs in to the restored service and downloads everything its user has, as a freshly set-up phone does."
	case Verify:
		title, what = "Verify every user", "Read every user's data back through CardDAV, CalDAV and WebDAV, and compare it item by item with the ledger of acknowledged writes."
	}
	if st.Say != "" {
		what = st.Say
	}
	return title, what
}
