package drill

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/verify"
)

// ProofObservationFile is where a prove-backup step saves what it read from
// the side stack, in the run directory.
const ProofObservationFile = "proof-observation.jsonl"

// Proof is what a prove-backup step found: the backup, where it lives, what
// the procedure touches, and, once restored into a side stack, the verdict of
// every user on it and how long the restore took (the RTO of the way back).
type Proof struct {
	Backup  string       `json:"backup,omitempty"` // the newest backup's id
	Volume  stack.Volume `json:"volume"`           // where the backups live
	Touched []string     `json:"touched"`          // what the procedure touches: volumes and failure domains
	// Refusal says why the backup is not proven; "" when it is.
	Refusal string `json:"refusal,omitempty"`
	// Restored is the restore into the side stack; nil when none was made.
	Restored *backup.Restored `json:"restored,omitempty"`
	RTO      backup.RTO       `json:"rto"`
	Result   *verify.Result   `json:"result,omitempty"`
	// Damaged names the users not intact on the side stack.
	Damaged []string `json:"damaged,omitempty"`
	// ServerOwn, when set, says the side stack's damage was all the
	// server's own: every damaged item was damaged the same way at a check
	// before the backup (a third-party server's defects), so the backup
	// brought back what the primary held and is proven.
	ServerOwn *ServerOwn `json:"server_own,omitempty"`
	// Removed is what tearing the side stack down removed.
	Removed stack.Counts `json:"removed"`
}

// Proven reports whether the backup was restored and every user on it is
// intact, or damaged only as the server itself had damaged them before the
// backup (ServerOwn).
func (p *Proof) Proven() bool {
	return p != nil && p.Refusal == "" && p.Result != nil && (p.Result.Status == verify.Pass || p.ServerOwn.allOfIt())
}

// RefusedError stops a run whose backup is not proven: no verified backup
// outside the storage the procedure touches exists, so nothing may call the
// procedure safe.
type RefusedError struct {
	Reason string
}

// Error says what is missing and what to do.
func (e *RefusedError) Error() string { return "refused: " + e.Reason }

// prove proves that the newest backup restores and holds every user's data,
// without replacing the primary (see ProveBackup).
func (d *runner) prove(ctx context.Context, touches []string) (string, error) {
	p := &Proof{}
	d.proof = p
	refuse := func(format string, args ...any) (string, error) {
		p.Refusal = fmt.Sprintf(format, args...)
		return "", &RefusedError{Reason: p.Refusal}
	}
	cat := d.backups.session.Catalog()
	p.Volume = cat.Volume
	newest := cat.NewestFirst()
	if len(newest) == 0 {
		return refuse("no backup was taken before the procedure: take one (a base-backup step) and rehearse again")
	}
	p.Backup = newest[0].ID
	vols, domains := d.touched(touches, cat.Volume)
	for v := range vols {
		p.Touched = append(p.Touched, "volume "+v)
	}
	for dm := range domains {
		p.Touched = append(p.Touched, "failure domain "+dm)
	}
	sort.Strings(p.Touched)
	if vols[cat.Volume.Name] || domains[cat.Volume.Domain] {
		which := "the only backup is"
		if len(newest) > 1 {
			which = fmt.Sprintf("all %d backups are", len(newest))
		}
		return refuse("no verified backup outside the storage the procedure touches: %s on volume %s (failure domain %s), which the procedure touches (%s); take a backup to another failure domain (--backup continuous streams base backups and WAL to san-b) and rehearse again",
			which, cat.Volume.Name, cat.Volume.Domain, strings.Join(p.Touched, ", "))
	}

	_, users, err := d.writersSoFar(d.phones.all)
	if err != nil {
		return "", err
	}
	point := d.phones.ledger.Now()
	if len(users) == 0 {
		return refuse("nothing to prove the backup with: no user has written yet; load some users (a load step with a users share) before prove-backup")
	}

	restored, err := backup.Restore(ctx, d.sys.run, cat, backup.Latest(), backup.WithTimeline(d.tl), backup.WithRestoreName("proof"), backup.WithStack(d.def))
	if restored != nil && restored.Stack != nil {
		defer func() {
			n, rerr := d.sys.run.RemoveStack(context.WithoutCancel(ctx), restored.Stack)
			p.Removed = n
			if rerr != nil {
				d.say.Say("removing the side stack reported: %v (the run's cleanup removes what is left)", rerr)
			}
		}()
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		if errors.Is(err, backup.ErrNothingToRestore) || errors.Is(err, backup.ErrNoUsableBackup) {
			return refuse("the backup cannot be proven: %v", err)
		}
		return refuse("the backup could not be restored into a side stack: %v", err)
	}
	p.Restored = restored
	attr := &attribution{b: d.found.before, classes: map[string]int{}}
	res, err := d.verifySide(ctx, restored, users, point, attr.add)
	p.RTO = restored.RTO()
	if err != nil {
		return "", err
	}
	p.Result = &res
	for _, u := range res.Users {
		if u.Verdict != verify.Intact && u.Verdict != verify.Rewritten {
			p.Damaged = append(p.Damaged, u.User+" ("+string(u.Verdict)+")")
		}
	}
	if own := attr.result(); res.Status == verify.Fail && own.allOfIt() {
		// The side stack holds what the primary held: the damage is the
		// server's own, found at the check before the backup, not the
		// backup's.
		p.ServerOwn = own
	} else if res.Status != verify.Pass {
		who := ""
		if len(p.Damaged) > 0 {
			who = "; not intact: " + strings.Join(first(p.Damaged, 10), ", ")
		}
		return refuse("backup %s restores, but it does not bring every user back: %s%s; the way back is not proven: fix the backups and rehearse again", p.Backup, res.Reason, who)
	}
	// Whatever the procedure does to the primary must never reach the
	// proven archive (a botched primary would go on archiving into it).
	if err := d.backups.session.Stop(ctx); err != nil {
		d.say.Say("stopping the backup agents reported: %v", err)
	}
	found := res.Summary(3, 2)
	if p.ServerOwn != nil {
		found = fmt.Sprintf("every user as the primary held them: the %d damaged items were damaged the same way at the check before the backup (the server's own doing, not the backup's)", p.ServerOwn.After)
	}
	return fmt.Sprintf("backup %s on volume %s (failure domain %s), outside what the procedure touches (%s), restored into a side stack in %s: %s; side stack removed, backup agents stopped",
		p.Backup, cat.Volume.Name, cat.Volume.Domain, strings.Join(p.Touched, ", "), p.RTO.Total.Round(100*time.Millisecond), found), nil
}

// touched resolves what a procedure touches into volume names and failure
// domains: touching a volume touches its failure domain too (a SAN migration
// moves everything on the SAN).
func (d *runner) touched(touches []string, backupVolume stack.Volume) (vols, domains map[string]bool) {
	vols, domains = map[string]bool{}, map[string]bool{}
	if len(touches) == 0 {
		touches = []string{TouchesData}
	}
	for _, t := range slices.Compact(slices.Sorted(slices.Values(touches))) {
		switch t {
		case TouchesData:
			if pg := d.sys.primary.CurrentPostgres(); pg != nil {
				vols[pg.Data.Name], domains[pg.Data.Domain] = true, true
			}
		case TouchesBackup:
			vols[backupVolume.Name], domains[backupVolume.Domain] = true, true
		default:
			domains[t] = true
		}
	}
	return vols, domains
}

// verifySide reads the users back from the side stack and checks them
// against the ledger as it was when the backup was proven.
func (d *runner) verifySide(ctx context.Context, restored *backup.Restored, users []accounts.Account, point int64, each func(verify.UserResult)) (verify.Result, error) {
	end := restored.Begin(backup.PhaseVerified)
	url, err := restored.Stack.URL(ctx)
	if err != nil {
		end("failed")
		return verify.Result{}, err
	}
	l, err := d.ledgerNow()
	if err != nil {
		end("failed")
		return verify.Result{}, err
	}
	saver, err := NewSaver(l, VerifyInput{Mode: verify.Latest, RecoveryPoint: point}, filepath.Join(d.dir.Path, ProofObservationFile))
	if err != nil {
		end("failed")
		return verify.Result{}, err
	}
	res, err := d.observeAndCheck(ctx, url, users, saver, func(_ model.UserObservation, ur verify.UserResult) { each(ur) })
	if err != nil {
		end("failed")
		return verify.Result{}, fmt.Errorf("observe the side stack: %w", err)
	}
	end(string(res.Status))
	return res, nil
}
