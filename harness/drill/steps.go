package drill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/workload/fleetdev"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// step runs one step and returns a line saying what happened.
func (d *runner) step(ctx context.Context, st Step) (string, error) {
	switch st.Do {
	case Populate:
		return d.populate(ctx)
	case Load:
		return d.load(ctx, st.Faults, st.Users)
	case ProveBackup:
		return d.prove(ctx, st.Touches)
	case BaseBackup:
		e, err := d.backups.session.Backup(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("backup %s taken (%s, %s)", e.ID, e.Method, humanBytes(e.Size)), nil
	case RestorePoint:
		lower := d.phones.ledger.Now()
		rp, err := d.backups.session.RestorePoint(ctx, st.Name)
		if err != nil {
			return "", err
		}
		d.backups.points[st.Name] = [2]int64{lower, d.phones.ledger.Now()}
		return fmt.Sprintf("restore point %q at WAL position %s", rp.Name, rp.LSN), nil
	case Inject:
		return d.inject(ctx, st.Faults)
	case Recover:
		return d.recoverAll(ctx)
	case Observe:
		return d.look(ctx)
	case Check:
		return d.check(ctx)
	case Disaster:
		if err := d.phones.ledger.Sync(); err != nil {
			return "", fmt.Errorf("save ledger: %w", err)
		}
		d.found.target = VerifyInput{Mode: verify.Latest, RecoveryPoint: d.phones.ledger.Now()}
		specs := st.Faults
		if len(specs) == 0 {
			specs = []fault.Spec{{Name: "lose-domain", Target: stack.DomainSANA}}
		}
		return d.inject(ctx, specs)
	case Restore:
		return d.restore(ctx, st.Name)
	case ResetPhones:
		return d.phonesDo(ctx, "wiped", func(ctx context.Context, dev fault.Device) error { return dev.Reset(ctx) })
	case ResyncPhones:
		url, err := d.sys.current.URL(ctx)
		if err != nil {
			return "", err
		}
		if err := d.phones.fleet.SetServer(url); err != nil {
			return "", err
		}
		said, err := d.phonesDo(ctx, "resynced", func(ctx context.Context, dev fault.Device) error { return dev.Resync(ctx) })
		d.found.resynced = err == nil
		return said, err
	case Verify:
		return d.verify(ctx)
	}
	return "", fmt.Errorf("unknown action %q", st.Do)
}

// phonesDo does one thing to every phone through the same device interface the
// device-reset fault uses, and says how many items they hold afterwards.
func (d *runner) phonesDo(ctx context.Context, did string, do func(context.Context, fault.Device) error) (string, error) {
	devs, err := fleetdev.Of(d.phones.fleet).Devices("all")
	if err != nil {
		return "", err
	}
	var errs []error
	for _, dev := range devs {
		if err := do(ctx, dev); err != nil {
			errs = append(errs, fmt.Errorf("phone %s: %w", dev.ID(), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	items := 0
	for _, st := range d.phones.fleet.Stores() {
		items += len(st.Items)
	}
	return fmt.Sprintf("%d phones %s; they hold %d items", len(devs), did, items), nil
}

// inject injects faults and leaves them in effect, after saving the ledger.
func (d *runner) inject(ctx context.Context, specs []fault.Spec) (string, error) {
	if err := d.phones.ledger.Sync(); err != nil {
		return "", fmt.Errorf("save ledger: %w", err)
	}
	var done []string
	for _, spec := range specs {
		spec, err := d.resolve(spec)
		if err != nil {
			return "", err
		}
		f, err := fault.New(spec)
		if err != nil {
			return "", err
		}
		a, err := fault.Inject(ctx, d.faultEnv(), f)
		if err != nil {
			return "", fmt.Errorf("inject %s: %w", spec, err)
		}
		d.faults = append(d.faults, a)
		line := spec.String()
		if det, ok := f.(fault.Detailer); ok {
			line += ": " + d.detail(spec, det.Detail())
		}
		done = append(done, line)
	}
	return strings.Join(done, "; "), nil
}

// maxDetail is the longest fault detail said in the narration; a longer one
// (every flipped offset of a migration) goes to a file in the run directory.
const maxDetail = 400

// detail returns a fault's detail for the narration: itself when short, else
// its start and the file in the run directory that holds all of it.
func (d *runner) detail(spec fault.Spec, detail string) string {
	if len(detail) <= maxDetail {
		return detail
	}
	name := fmt.Sprintf("fault-%d-%s.txt", len(d.faults), spec.Name)
	if err := os.WriteFile(filepath.Join(d.dir.Path, name), []byte(detail+"\n"), 0o644); err != nil {
		return detail[:maxDetail] + "... (the rest could not be saved: " + err.Error() + ")"
	}
	return detail[:maxDetail] + "... (all of it in " + name + ")"
}

// resolve replaces the placeholders a scenario may use in fault parameters with
// what they name in this run: {newest-backup} and {oldest-backup} become the path
// of that base backup on the backup volume, {run-dir} the run directory.
func (d *runner) resolve(spec fault.Spec) (fault.Spec, error) {
	out := spec
	out.Params = map[string]string{}
	for k, v := range spec.Params {
		v = strings.ReplaceAll(v, RunDirPlaceholder, d.dir.Path)
		for _, ph := range []string{"{newest-backup}", "{oldest-backup}"} {
			if !strings.Contains(v, ph) {
				continue
			}
			backups := d.backups.session.Catalog().NewestFirst()
			if len(backups) == 0 {
				return spec, fmt.Errorf("fault %s: %s names a backup, but none was taken yet", spec, ph)
			}
			b := backups[0]
			if ph == "{oldest-backup}" {
				b = backups[len(backups)-1]
			}
			v = strings.ReplaceAll(v, ph, b.Path)
		}
		out.Params[k] = v
	}
	return out, nil
}

// recoverAll recovers every fault still in effect.
func (d *runner) recoverAll(ctx context.Context) (string, error) {
	var errs []error
	n := len(d.faults)
	for _, a := range d.faults {
		if err := a.Recover(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	d.faults = nil
	return fmt.Sprintf("%d faults recovered", n), errors.Join(errs...)
}

// restore stops the backup agents, restores into a fresh stack and makes it
// the current one. When there is nothing to restore from, the service comes
// back empty, as the operators would bring it back, so that the loss is
// reported user by user.
func (d *runner) restore(ctx context.Context, point string) (string, error) {
	if err := d.phones.ledger.Sync(); err != nil {
		return "", fmt.Errorf("save ledger: %w", err)
	}
	if d.found.target.Mode == "" {
		d.found.target = VerifyInput{Mode: verify.Latest, RecoveryPoint: d.phones.ledger.Now()}
	}
	target := backup.Latest()
	if point != "" {
		target = backup.AtRestorePoint(point)
		b := d.backups.points[point]
		d.found.target = VerifyInput{Mode: verify.PointInTime, Lower: b[0], Upper: b[1]}
	}
	// The archive must be complete before it is read: stop streaming first.
	if err := d.backups.session.Stop(ctx); err != nil {
		d.say.Say("stopping the backup agents reported: %v", err)
	}
	restored, err := backup.Restore(ctx, d.sys.run, d.backups.session.Catalog(), target, backup.WithTimeline(d.tl), backup.WithStack(d.def))
	if errors.Is(err, backup.ErrNothingToRestore) || errors.Is(err, backup.ErrNoUsableBackup) {
		d.backups.nothing = err
		d.say.Say("NOTHING TO RESTORE FROM: %v", err)
		d.say.Say("the service comes back empty; users sign in again and find their data gone")
		empty, serr := stack.Start(ctx, d.sys.run, stack.WithName("empty"), stack.WithDefinition(d.def))
		if serr != nil {
			return "", serr
		}
		d.sys.current = empty
		if err := d.createAccounts(ctx, empty, d.phones.all, "empty-accounts"); err != nil {
			return "", err
		}
		return "no usable backup: " + err.Error(), nil
	}
	if err != nil {
		return "", err
	}
	d.backups.restored = restored
	d.sys.current = restored.Stack
	return fmt.Sprintf("restored from backup %s, recovery point %s, in %s; tried: %s", restored.Backup.ID, restored.Point.LSN,
		restored.RTO().Total.Round(100*time.Millisecond), attempts(restored)), nil
}

// attempts says which backups a restore tried, newest first, and how each went.
func attempts(r *backup.Restored) string {
	var tried []string
	for _, a := range r.Attempts {
		s := a.Backup + " " + string(a.Status)
		if a.Reason != "" {
			s += " (" + a.Reason + ")"
		}
		tried = append(tried, s)
	}
	return strings.Join(tried, "; ")
}

// humanBytes formats a size of n bytes for the narration, as profile.Bytes does.
func humanBytes(n int64) string { return profile.Bytes(float64(n)) }
