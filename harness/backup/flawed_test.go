package backup_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/timeline"
)

// TestSameVolumeDumpDiesWithItsDatabase runs the Sidekick set-up, a pg_dump onto
// the database's own volume, beside base-only backups in another failure domain
// on the same primary. The dump restores while its volume lives; once san-a is
// lost it is gone with the database and the restore says there is nothing to
// restore from, while the base-only backup still restores, as of its own end.
func TestSameVolumeDumpDiesWithItsDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	tl := timeline.New()
	pg := startPrimary(ctx, t, run, "flawed")
	dump, err := backup.DumpSameVolume.Setup(ctx, run, pg, backup.WithTimeline(tl))
	if err != nil {
		t.Fatal(err)
	}
	defer dump.Stop(context.WithoutCancel(ctx))
	base, err := backup.BaseOnly.Setup(ctx, run, pg, backup.WithTimeline(tl), backup.WithVerifyEachBackup())
	if err != nil {
		t.Fatal(err)
	}
	defer base.Stop(context.WithoutCancel(ctx))

	batch1 := insertBatch(ctx, t, pg, 1, 1, 300)
	d1, err := dump.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b1, err := base.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b1.Verification.Status != backup.Good || !b1.WALIncluded {
		t.Fatalf("base-only backup %+v: want verified good, with its own WAL", b1)
	}
	insertBatch(ctx, t, pg, 2, 301, 400) // in no backup
	if v, err := dump.Verify(ctx, d1.ID); err != nil || v.Status != backup.Good {
		t.Fatalf("verify dump %s: %+v, %v", d1.ID, v, err)
	}
	dumpCat := dump.Catalog()
	if dumpCat.Volume.Name != pg.Data.Name || dumpCat.Backups[0].Verification.Status != backup.Good {
		t.Fatalf("dump catalogue %+v: want the dump on the database's own volume %s, verified", dumpCat, pg.Data.Name)
	}

	t.Run("the dump restores while its volume exists", func(t *testing.T) {
		r, err := backup.Restore(ctx, run, dumpCat, backup.Latest(), restoreOptions(ctx, t, run, tl)...)
		if err != nil {
			t.Fatal(err)
		}
		defer dropStack(ctx, r.Stack)
		if r.Backup.ID != d1.ID || r.Point.Exact {
			t.Errorf("restored from %s (exact %v), want %s, not exact", r.Backup.ID, r.Point.Exact, d1.ID)
		}
		checkRows(t, readRows(ctx, t, r.Stack.Postgres), batch1, nil)
		if r.RTO().Phase(backup.PhaseCopy) <= 0 {
			t.Errorf("no copy phase timed: %+v", r.RTO())
		}
	})

	loseStorage(ctx, t, run, domainVolumes(ctx, t, run, stack.DomainSANA, pg.Network)...)

	t.Run("dump-same-volume has nothing to restore from after losing san-a", func(t *testing.T) {
		r, err := backup.Restore(ctx, run, dumpCat, backup.Latest(), backup.WithoutServer())
		var nothing *backup.NothingToRestoreError
		if !errors.Is(err, backup.ErrNothingToRestore) || !errors.As(err, &nothing) {
			t.Fatalf("restore after losing san-a: %v, want ErrNothingToRestore", err)
		}
		if !strings.Contains(err.Error(), pg.Data.Name) || !strings.Contains(err.Error(), "database's own volume") {
			t.Errorf("the error does not say plainly why: %v", err)
		}
		if r != nil && r.Stack != nil {
			t.Errorf("a stack was started: %+v", r.Stack)
		}
		t.Log(err)
	})

	t.Run("base-only restores its newest backup and loses what came after", func(t *testing.T) {
		r, err := backup.Restore(ctx, run, base.Catalog(), backup.Latest(), backup.WithoutServer())
		if err != nil {
			t.Fatal(err)
		}
		defer dropStack(ctx, r.Stack)
		if r.Point.Exact {
			t.Errorf("base-only claims to reach the latest point exactly: %+v", r.Point)
		}
		checkRows(t, readRows(ctx, t, r.Stack.Postgres), batch1, nil)
	})

	t.Run("base-only has nothing before its first backup", func(t *testing.T) {
		_, err := backup.Restore(ctx, run, base.Catalog(), backup.AtTime(b1.Start.Add(-time.Second)), backup.WithoutServer())
		if !errors.Is(err, backup.ErrNothingToRestore) {
			t.Fatalf("restore to before the first backup: %v, want ErrNothingToRestore", err)
		}
	})
}
