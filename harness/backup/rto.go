package backup

import (
	"encoding/json"
	"sync"
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

// Phase is one timed step of a restore.
type Phase struct {
	Name     string        `json:"name"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	Detail   string        `json:"detail,omitempty"`
}

// RTO is the recovery time, phase by phase.
type RTO struct {
	Phases []Phase       `json:"phases"`
	Total  time.Duration `json:"total_ns"` // the sum of the phases
}

// Phase returns the duration of the named phase, 0 when it did not run.
func (r RTO) Phase(name string) time.Duration {
	for _, p := range r.Phases {
		if p.Name == name {
			return p.Duration
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

	mu  sync.Mutex
	rto RTO
	tl  *timeline.Timeline
}

// Begin starts a phase of the restore (PhaseVerified, for the caller) and returns
// the function that ends it with a detail; the phase goes into the RTO and onto
// the timeline given to Restore.
func (r *Restored) Begin(name string) (end func(detail string)) {
	start := time.Now()
	endTL := r.tl.Begin(timeline.Restore, name, r.Name)
	var once sync.Once
	return func(detail string) {
		once.Do(func() {
			d := time.Since(start)
			endTL(detail)
			r.mu.Lock()
			defer r.mu.Unlock()
			r.rto.Phases = append(r.rto.Phases, Phase{Name: name, Start: start, Duration: d, Detail: detail})
			r.rto.Total += d
		})
	}
}

// RTO returns the phases recorded so far and their total.
func (r *Restored) RTO() RTO {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.rto
	out.Phases = append([]Phase(nil), r.rto.Phases...)
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
