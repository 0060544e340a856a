package backup_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/backup/wal"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/timeline"
)

// TestContinuous drives the continuous strategy through a whole drill: writes,
// two base backups, a restore point, writers cut off by killing the primary, the
// loss of the primary's storage (san-a), and then restores into fresh stacks to
// the latest point, to the restore point, to a time, from an older base backup
// once the newest has been corrupted, and not at all once the archive has a gap.
func TestContinuous(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	tl := timeline.New()
	pg := startPrimary(ctx, t, run, "cont", backup.Continuous.PrimaryOptions()...)
	sess, err := backup.Continuous.Setup(ctx, run, pg, backup.WithTimeline(tl), backup.WithVerifyEachBackup())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Stop(context.WithoutCancel(ctx))
	if state, err := sess.SyncState(ctx); err != nil || state != "sync" {
		t.Fatalf("the archive's sync state = %q, %v; want sync", state, err)
	}
	if got := sess.Catalog().Volume.Domain; got != stack.DomainSANB {
		t.Fatalf("backup volume in %q, want %s", got, stack.DomainSANB)
	}

	batch1 := insertBatch(ctx, t, pg, 1, 1, 200)
	b1, err := sess.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b1.Verification.Status != backup.Good {
		t.Fatalf("fresh backup %s verified %s: %s", b1.ID, b1.Verification.Status, b1.Verification.Reason)
	}
	batch2 := insertBatch(ctx, t, pg, 2, 201, 400)
	if _, err := sess.RestorePoint(ctx, "before-batch-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.RestorePoint(ctx, "before-batch-3"); err == nil {
		t.Error("a second restore point of the same name was accepted")
	}
	batch3 := insertBatch(ctx, t, pg, 3, 401, 600)
	// A time target needs a moment after batch 3's commits and before the
	// next write's on the server's clock: 50 ms either side keeps the commit
	// timestamps clear of the cut (spacing, not ordering: the writes are in
	// order already).
	time.Sleep(50 * time.Millisecond)
	cut := time.Now()
	time.Sleep(50 * time.Millisecond)
	b2, err := sess.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch4 := insertBatch(ctx, t, pg, 4, 601, 800)
	acked, ambiguous := writeUntilKilled(ctx, t, run, pg, 4, 1500*time.Millisecond)
	t.Logf("%d single-row commits acknowledged before the primary was killed, %d cut off", len(acked), len(ambiguous))
	if len(acked) < 20 {
		t.Fatalf("only %d commits acknowledged in 1.5 s: the drill proves nothing", len(acked))
	}
	loseStorage(ctx, t, run, domainVolumes(ctx, t, run, stack.DomainSANA, pg.Network)...)
	if err := sess.Stop(ctx); err != nil {
		t.Fatalf("stop the session after losing the primary: %v", err)
	}
	cat := sess.Catalog()
	if len(cat.Backups) != 2 || len(cat.RestorePoints) != 1 {
		t.Fatalf("catalogue holds %d backups and %d restore points, want 2 and 1", len(cat.Backups), len(cat.RestorePoints))
	}

	all := concat(batch1, batch2, batch3, batch4, acked)

	t.Run("catalogue on the backup volume", func(t *testing.T) {
		onDisk, err := backup.LoadCatalog(ctx, run, cat.Volume, cat.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if onDisk.Password != "" {
			t.Error("the password was written to the backup volume")
		}
		if len(onDisk.Backups) != 2 || onDisk.Backups[1].ID != b2.ID || onDisk.Backups[1].StopLSN != b2.StopLSN ||
			onDisk.Backups[0].Verification.Status != backup.Good || onDisk.RestorePoints[0].Name != "before-batch-3" {
			t.Errorf("catalogue read back = %+v", onDisk)
		}
	})

	t.Run("latest point after losing san-a loses no acknowledged commit", func(t *testing.T) {
		r, err := backup.Restore(ctx, run, cat, backup.Latest(), restoreOptions(ctx, t, run, tl)...)
		if err != nil {
			t.Fatal(err)
		}
		defer dropStack(ctx, r.Stack)
		if r.Backup.ID != b2.ID {
			t.Errorf("restored from %s, want the newest %s", r.Backup.ID, b2.ID)
		}
		checkRows(t, readRows(ctx, t, r.Stack.Postgres), all, ambiguous)
		checkRTO(t, r, tl)
		if r.Stack.Network == pg.Network || r.Stack.Postgres.Data.Name == pg.Data.Name {
			t.Errorf("restored in place: network %s, volume %s", r.Stack.Network, r.Stack.Postgres.Data.Name)
		}
		t.Logf("recovered to %s (%s); RTO %s: %+v", r.Point.LSN, r.Point.Note, r.RTO().Total, r.RTO().Phases)
	})

	t.Run("to a restore point", func(t *testing.T) {
		r, err := backup.Restore(ctx, run, cat, backup.AtRestorePoint("before-batch-3"), backup.WithoutServer())
		if err != nil {
			t.Fatal(err)
		}
		defer dropStack(ctx, r.Stack)
		if r.Backup.ID != b1.ID {
			t.Errorf("restored from %s, want %s, the only backup before the restore point", r.Backup.ID, b1.ID)
		}
		checkRows(t, readRows(ctx, t, r.Stack.Postgres), concat(batch1, batch2), nil)
	})

	t.Run("to a time", func(t *testing.T) {
		r, err := backup.Restore(ctx, run, cat, backup.AtTime(cut), backup.WithoutServer())
		if err != nil {
			t.Fatal(err)
		}
		defer dropStack(ctx, r.Stack)
		checkRows(t, readRows(ctx, t, r.Stack.Postgres), concat(batch1, batch2, batch3), nil)
	})

	t.Run("a corrupted newest base backup is refused and an older one replayed", func(t *testing.T) {
		file := corruptBackup(ctx, t, run, cat.Volume, b2.Path)
		r, err := backup.Restore(ctx, run, cat, backup.Latest(), backup.WithoutServer())
		if err != nil {
			t.Fatal(err)
		}
		defer dropStack(ctx, r.Stack)
		if len(r.Attempts) != 2 || r.Attempts[0].Backup != b2.ID || r.Attempts[0].Status != backup.Bad ||
			!strings.Contains(r.Attempts[0].Reason, "checksum mismatch") || !strings.Contains(r.Attempts[0].Reason, file) {
			t.Errorf("attempts = %+v; want %s refused for a checksum mismatch in %s, then %s", r.Attempts, b2.ID, file, b1.ID)
		}
		if r.Backup.ID != b1.ID {
			t.Errorf("restored from %s, want the older %s", r.Backup.ID, b1.ID)
		}
		checkRows(t, readRows(ctx, t, r.Stack.Postgres), all, ambiguous)
	})

	t.Run("a gap in the WAL archive leaves no usable backup", func(t *testing.T) {
		// The newest backup is corrupted (above); now the archive loses the
		// segment after the older backup's start, so nothing reaches the end.
		seg := wal.SegmentOf(b1.Timeline, b1.StartLSN, b1.SegmentSize)
		seg.No++
		missing := seg.Name(b1.SegmentSize)
		ctr := helperContainer(ctx, t, run, cat.Volume.Mount("/backup", false))
		defer ctr.Terminate(context.WithoutCancel(ctx))
		shell(ctx, t, ctr, `mv "/backup/wal/$1" "/backup/wal/$1.lost"`, missing)
		_, err := backup.Restore(ctx, run, cat, backup.Latest(), backup.WithoutServer())
		var none *backup.NoUsableBackupError
		if !errors.Is(err, backup.ErrNoUsableBackup) || !errors.As(err, &none) {
			t.Fatalf("restore across a gap: %v, want ErrNoUsableBackup", err)
		}
		if len(none.Attempts) != 2 || !strings.Contains(none.Attempts[0].Reason, "checksum mismatch") ||
			!strings.Contains(none.Attempts[1].Reason, missing) {
			t.Errorf("attempts = %+v; want %s refused for its checksum, %s for missing %s", none.Attempts, b2.ID, b1.ID, missing)
		}
		t.Log(err)
	})
}

func concat(parts ...[]row) []row {
	var out []row
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// checkRTO checks that the restore timed its phases in order and put them on the
// timeline, and that the caller can add the verified phase.
func checkRTO(t *testing.T, r *backup.Restored, tl *timeline.Timeline) {
	t.Helper()
	end := r.Begin(backup.PhaseVerified)
	end("rows checked")
	rto := r.RTO()
	want := []string{backup.PhaseProvision, backup.PhaseVerifyBackup, backup.PhaseCopy, backup.PhaseWALReplay}
	if r.Stack.Server != nil {
		want = append(want, backup.PhaseServiceHealthy)
	}
	want = append(want, backup.PhaseVerified)
	var got []string
	var sum time.Duration
	for _, p := range rto.Phases {
		got = append(got, p.Name)
		sum += p.Duration()
		if p.Duration() <= 0 {
			t.Errorf("phase %s lasted %s", p.Name, p.Duration())
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("phases %v, want %v", got, want)
	}
	if rto.Total != sum {
		t.Errorf("total %s, sum of phases %s", rto.Total, sum)
	}
	n := 0
	for _, e := range tl.Entries() {
		if e.Category == timeline.Restore && e.Target == r.Name {
			n++
		}
	}
	if n != len(want) {
		t.Errorf("timeline holds %d restore spans of %s, want %d", n, r.Name, len(want))
	}
}

// corruptBackup overwrites bytes in the middle of the largest data file of a
// base backup, as failing storage would, and returns the file's path within the
// backup.
func corruptBackup(ctx context.Context, t *testing.T, run *stack.Run, vol stack.Volume, backupPath string) string {
	t.Helper()
	ctr := helperContainer(ctx, t, run, vol.Mount("/backup", false))
	defer ctr.Terminate(context.WithoutCancel(ctx))
	return shell(ctx, t, ctr, `cd "/backup/$1"
f=$(find base -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$f" bs=1 seek=8200 conv=notrunc status=none
printf '%s' "$f"`, backupPath)
}
