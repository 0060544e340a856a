package backup_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// benchMB is the size of the data loaded for BenchmarkRestore, about what
// profile small leaves in PostgreSQL (1,000 users, ~50 items each, a photo every
// other user); FIREDRILL_BENCH_MB overrides it.
func benchMB(b *testing.B) int {
	mb := 160
	if s := os.Getenv("FIREDRILL_BENCH_MB"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("FIREDRILL_BENCH_MB=%q: want a positive number of MiB", s)
		}
		mb = n
	}
	return mb
}

// loadData writes about mb MiB shaped like a sync server's data: many small
// rows of text (contacts, events, notes) and fewer large incompressible blobs
// (photos), a quarter and three quarters of the bytes.
func loadData(ctx context.Context, b *testing.B, pg *stack.Postgres, mb int) {
	b.Helper()
	exec(ctx, b, pg, `CREATE TABLE bench_items (id bigint PRIMARY KEY, owner int, body text)`)
	exec(ctx, b, pg, `CREATE TABLE bench_photos (id bigint PRIMARY KEY, owner int, data bytea)`)
	exec(ctx, b, pg, `ALTER TABLE bench_photos ALTER COLUMN data SET STORAGE EXTERNAL`)
	items := mb << 20 / 4 / 1024 // ~1 KiB rows
	exec(ctx, b, pg, `INSERT INTO bench_items SELECT g, g % 1000, (SELECT string_agg(md5(g::text || i::text), ' ') FROM generate_series(1, 30) i) FROM generate_series(1, $1::int) g`, items)
	photos := mb << 20 * 3 / 4 / (100 << 10) // 100 KiB blobs
	for done := 0; done < photos; done += 100 {
		exec(ctx, b, pg, `INSERT INTO bench_photos SELECT g, g % 1000, (SELECT decode(string_agg(lpad(to_hex((random() * 4294967295)::bigint), 8, '0'), ''), 'hex') FROM generate_series(1, 25600) WHERE g > 0) FROM generate_series($1::int, $2::int) g`, done+1, min(done+100, photos))
	}
	exec(ctx, b, pg, `CHECKPOINT`)
}

// benchFixture is the database BenchmarkRestore restores, built once per test
// binary: testing calls a benchmark function several times.
type benchFixture struct {
	run   *stack.Run
	cat   backup.Catalog
	base  backup.Entry
	acked []row
	cp    *testcontainers.DockerContainer // mounts the backup volume and a scratch volume
}

var (
	fixtureOnce sync.Once
	fixture     *benchFixture
	fixtureErr  string
)

func restoreFixture(b *testing.B) *benchFixture {
	fixtureOnce.Do(func() {
		// A failed build must not be retried by the next call: record why.
		ok := false
		defer func() {
			if !ok && fixtureErr == "" {
				fixtureErr = "building the fixture failed (see above)"
			}
		}()
		ctx := context.Background()
		run := stacktest.Run(b)
		pg := startPrimary(ctx, b, run, "bench", backup.Continuous.PrimaryOptions()...)
		loadData(ctx, b, pg, benchMB(b))
		sess, err := backup.Continuous.Setup(ctx, run, pg)
		if err != nil {
			b.Fatal(err)
		}
		base, err := sess.Backup(ctx)
		if err != nil {
			b.Fatal(err)
		}
		// Writes after the backup, for the restore to replay: about 40 MiB of WAL.
		exec(ctx, b, pg, `UPDATE bench_items SET body = upper(body) WHERE id % 4 = 0`)
		acked := insertBatch(ctx, b, pg, 1, 1, 1000)
		cat := sess.Catalog()
		scratch, err := run.CreateVolume(ctx, "bench-scratch", stack.DomainSANA)
		if err != nil {
			b.Fatal(err)
		}
		cp := helperContainer(ctx, b, run, cat.Volume.Mount("/backup", true), scratch.Mount("/scratch", false))
		fixture = &benchFixture{run: run, cat: cat, base: base, acked: acked, cp: cp}
		ok = true
	})
	if fixture == nil {
		b.Fatal(fixtureErr)
	}
	return fixture
}

// BenchmarkRestore measures a continuous restore to the latest point of a
// database of benchMB MiB (a base backup plus WAL written after it), and a plain
// `cp -a` of the same base backup files between the same kinds of volume, in the
// same run. Metrics: restore-s (the whole RTO without the caller's check), one
// <phase>-s per phase, restore-MB/s (backup size over the RTO), copy-phase-MB/s,
// plain-cp-MB/s, and restore/plain (the RTO's throughput as a share of the plain
// copy's).
func BenchmarkRestore(b *testing.B) {
	ctx := context.Background()
	f := restoreFixture(b)
	run, cat, base, acked, cp := f.run, f.cat, f.base, f.acked, f.cp
	opts := restoreOptions(ctx, b, run, nil)

	var restore, plain time.Duration
	phases := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := backup.Restore(ctx, run, cat, backup.Latest(), opts...)
		if err != nil {
			b.Fatal(err)
		}
		rto := r.RTO()
		restore += rto.Total
		for _, p := range rto.Phases {
			phases[p.Name] += p.Duration()
		}
		b.StopTimer()
		checkRows(b, readRows(ctx, b, r.Stack.Postgres), acked, nil)
		dropStack(ctx, r.Stack)
		if _, err := run.Docker.VolumeRemove(ctx, r.Stack.Postgres.Data.Name, client.VolumeRemoveOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		shell(ctx, b, cp, `rm -rf /scratch/copy && cp -a "/backup/$1" /scratch/copy`, base.Path)
		plain += time.Since(start)
		shell(ctx, b, cp, `rm -rf /scratch/copy`)
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	size := float64(base.Size) / (1 << 20)
	b.ReportMetric(size, "backup-MB")
	b.ReportMetric(restore.Seconds()/n, "restore-s")
	for name, d := range phases {
		b.ReportMetric(d.Seconds()/n, name+"-s")
	}
	b.ReportMetric(size/(phases[backup.PhaseCopy].Seconds()/n), "copy-phase-MB/s")
	b.ReportMetric(size/(restore.Seconds()/n), "restore-MB/s")
	b.ReportMetric(size/(plain.Seconds()/n), "plain-cp-MB/s")
	b.ReportMetric(plain.Seconds()/restore.Seconds(), "restore/plain")
}
