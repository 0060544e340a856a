package backup

import (
	"encoding/json"
	"time"

	"github.com/firedrill/firedrill/harness/backup/wal"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/timeline"
)

// The phases of a restore, in order. Restore records all but PhaseVerified, which
// the caller adds (Restored.Begin) around checking the restored data.
const (
	PhaseProvision      = "provision"       // network, data volume, helper container (and, for a dump, an empty server)
	PhaseVerifyBackup   = "verify-backup"   // pg_verifybackup and WAL continuity (or a dump's checksum), falling back to older backups
	PhaseCopy           = "copy"            // base backup copied onto the new volume, or pg_restore of a dump
	PhaseWALReplay      = "wal-replay"      // server start, recovery to the target, promotion
	PhaseServiceHealthy = "service-healthy" // syncd started on the restored database and healthy
	PhaseVerified       = "verified"        // the caller's check of every user's data
)

// RTO is the recovery time, phase by phase. The phases are the restore's
// spans on the timeline (category timeline.Restore, target the restored
// stack's name): the timeline is the one record of them, which reports draw
// and sum the same way.
type RTO struct {
	Phases []timeline.Entry `json:"phases"`
	Total  time.Duration    `json:"total_ns"` // the sum of the phases
}

// Phase returns the duration of the named phase, 0 when it did not run.
func (r RTO) Phase(name string) time.Duration {
	for _, p := range r.Phases {
		if p.Name == name {
			return p.Duration()
		}
	}
	return 0
}

// RecoveryPoint is where the restored database's history ends.
type RecoveryPoint struct {
	// LSN is the last WAL position replayed (the backup's end when none was).
	LSN wal.LSN `json:"lsn"`
	// LastCommit is the time of the last transaction replayed, or of the backup's
	// snapshot; zero when unknown.
	LastCommit time.Time `json:"last_commit,omitzero"`
	// Exact says the target itself was reached; false when the strategy could
	// only return an older backup's state (no WAL archive).
	Exact bool   `json:"exact"`
	Note  string `json:"note,omitempty"`
}

// Restored is a stack restored from backups: the started stack (a new network,
// new volumes), what it was restored from, where its history ends, and the RTO.
type Restored struct {
	Stack    *stack.Stack
	Name     string // the restored stack's name, e.g. restored-1
	Strategy string
	Target   Target
	Backup   Entry     // the backup restored from
	Attempts []Attempt // every backup considered, newest first
	Point    RecoveryPoint

	tl *timeline.Timeline // where the phases are recorded (its own when Restore was given none)
}

// Begin starts a phase of the restore (PhaseVerified, for the caller) and returns
// the function that ends it with a detail; the phase is recorded on the
// timeline given to Restore, and RTO reads it from there.
func (r *Restored) Begin(name string) (end func(detail string)) {
	return r.tl.Begin(timeline.Restore, name, r.Name)
}

// RTO returns the phases recorded so far and their total.
func (r *Restored) RTO() RTO {
	var out RTO
	for _, e := range r.tl.Entries() {
		if e.Category == timeline.Restore && e.Target == r.Name && !e.End.IsZero() {
			out.Phases = append(out.Phases, e)
			out.Total += e.Duration()
		}
	}
	return out
}

// MarshalJSON writes the restore with its RTO, for reports.
func (r *Restored) MarshalJSON() ([]byte, error) {
	type plain struct {
		Name     string        `json:"name"`
		Strategy string        `json:"strategy"`
		Target   Target        `json:"target"`
		Backup   Entry         `json:"backup"`
		Attempts []Attempt     `json:"attempts"`
		Point    RecoveryPoint `json:"recovery_point"`
		RTO      RTO           `json:"rto"`
	}
	return json.Marshal(plain{r.Name, r.Strategy, r.Target, r.Backup, r.Attempts, r.Point, r.RTO()})
}
