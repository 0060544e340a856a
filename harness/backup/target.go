package backup

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/backup/wal"
)

// Target is the point a restore recovers to: the latest the backups reach, a
// time, or a named restore point. The zero value is Latest.
type Target struct {
	Time time.Time `json:"time,omitzero"`
	Name string    `json:"name,omitempty"`
}

// Latest recovers as far as the backups reach: with a WAL archive, the last
// commit it holds (the disaster); without, the newest good backup.
func Latest() Target { return Target{} }

// AtTime recovers to the state at t: every transaction that ended at or before t,
// none after.
func AtTime(t time.Time) Target { return Target{Time: t.UTC()} }

// AtRestorePoint recovers to a restore point made with Session.RestorePoint.
func AtRestorePoint(name string) Target { return Target{Name: name} }

// IsLatest reports whether the target is Latest.
func (t Target) IsLatest() bool { return t.Name == "" && t.Time.IsZero() }

// String describes the target, e.g. "latest", "time 2026-...", "restore point before-migration".
func (t Target) String() string {
	switch {
	case t.Name != "":
		return "restore point " + t.Name
	case !t.Time.IsZero():
		return "time " + t.Time.UTC().Format(time.RFC3339Nano)
	}
	return "latest"
}

func (t Target) validate() error {
	if t.Name != "" && !t.Time.IsZero() {
		return fmt.Errorf("target: a time and a restore point name at once; choose one")
	}
	return nil
}

// ErrNothingToRestore is matched (errors.Is) by a restore that found no backup to
// restore from at all: none was taken, or the storage holding them is gone.
var ErrNothingToRestore = errors.New("nothing to restore from")

// NothingToRestoreError says why there is nothing to restore from.
type NothingToRestoreError struct {
	Strategy string
	Reason   string
}

func (e *NothingToRestoreError) Error() string {
	return fmt.Sprintf("restore %s: nothing to restore from: %s", e.Strategy, e.Reason)
}

// Is makes errors.Is(err, ErrNothingToRestore) true.
func (e *NothingToRestoreError) Is(target error) bool { return target == ErrNothingToRestore }

// ErrNoUsableBackup is matched by a restore whose every candidate backup failed
// verification.
var ErrNoUsableBackup = errors.New("no usable backup")

// NoUsableBackupError lists the backups tried and why each was refused.
type NoUsableBackupError struct {
	Strategy string
	Target   Target
	Attempts []Attempt
}

func (e *NoUsableBackupError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "restore %s to %s: every candidate backup failed verification", e.Strategy, e.Target)
	for _, a := range e.Attempts {
		fmt.Fprintf(&b, "; %s: %s", a.Backup, a.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNoUsableBackup) true.
func (e *NoUsableBackupError) Is(target error) bool { return target == ErrNoUsableBackup }

// Attempt is one backup a restore considered, with the verification outcome.
type Attempt struct {
	Backup string `json:"backup"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// candidates returns the backups a restore to t may start from, newest first: a
// backup must be consistent before the target (a base backup's end, a dump's
// snapshot at its start, before the time or restore point).
func candidates(cat Catalog, t Target) ([]Entry, error) {
	if len(cat.Backups) == 0 {
		return nil, &NothingToRestoreError{Strategy: cat.Strategy.Name, Reason: "the catalogue lists no backup: none was ever taken"}
	}
	var limitLSN wal.LSN
	var limitTime time.Time
	switch {
	case t.Name != "":
		rp, ok := cat.FindRestorePoint(t.Name)
		if !ok {
			var names []string
			for _, r := range cat.RestorePoints {
				names = append(names, r.Name)
			}
			return nil, fmt.Errorf("restore %s: restore point %q is not in the catalogue (it has: %s)", cat.Strategy.Name, t.Name, strings.Join(names, ", "))
		}
		limitLSN, limitTime = rp.LSN, rp.Time
	case !t.Time.IsZero():
		limitTime = t.Time
	}
	var out []Entry
	for _, e := range cat.Backups {
		consistent := e.Stop
		if e.Method == MethodDump {
			consistent = e.Start // pg_dump's snapshot is taken when it starts
		}
		if !limitTime.IsZero() && consistent.After(limitTime) {
			continue
		}
		if limitLSN != 0 && e.Method == MethodBase && e.StopLSN > limitLSN {
			continue
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Stop.After(out[j].Stop) })
	if len(out) == 0 {
		return nil, &NothingToRestoreError{Strategy: cat.Strategy.Name, Reason: fmt.Sprintf("no backup was complete before %s (the oldest, %s, ended %s)",
			t, cat.NewestFirst()[len(cat.Backups)-1].ID, cat.NewestFirst()[len(cat.Backups)-1].Stop.Format(time.RFC3339Nano))}
	}
	return out, nil
}

// plan is how recovery from one base backup reaches the target.
type plan struct {
	settings map[string]string // recovery_target_* settings
	exact    bool              // the target itself is reached
	note     string
}

// planWAL decides the recovery settings for a target, given the scan of the
// archive from the backup's start.
func planWAL(e Entry, scan *wal.Scan, t Target) (plan, error) {
	switch {
	case t.Name != "":
		rp, ok := scan.FindRestorePoint(t.Name)
		if !ok {
			return plan{}, fmt.Errorf("restore point %q is not in the archived WAL from %s to %s", t.Name, scan.Start, scan.End)
		}
		if rp.LSN < e.StopLSN {
			return plan{}, fmt.Errorf("restore point %q at %s lies before the backup's end %s", t.Name, rp.LSN, e.StopLSN)
		}
		return plan{settings: map[string]string{"recovery_target_name": t.Name}, exact: true,
			note: fmt.Sprintf("to restore point %s at %s", t.Name, rp.LSN)}, nil
	case !t.Time.IsZero():
		if c, ok := scan.FirstCommitAfter(t.Time); ok {
			return plan{settings: map[string]string{"recovery_target_time": pgTime(t.Time)}, exact: true,
				note: fmt.Sprintf("to %s, stopping before the transaction that ended at %s (%s)", pgTime(t.Time), c.LSN, c.Time.Format(time.RFC3339Nano))}, nil
		}
		// No transaction ended after the target: the state at the target is the
		// archive's end, and PostgreSQL refuses a time target it never passes.
		return plan{settings: map[string]string{}, exact: true,
			note: fmt.Sprintf("to the archive's end at %s: no transaction ended after %s", scan.End, pgTime(t.Time))}, nil
	}
	return plan{settings: map[string]string{}, exact: true, note: fmt.Sprintf("to the archive's end at %s", scan.End)}, nil
}

// pgTime formats t for recovery_target_time.
func pgTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999") + "+00" }
