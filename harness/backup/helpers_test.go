package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
)

func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }

// startPrimary starts a PostgreSQL primary on a network of its own, with its data
// in san-a, and makes the test table.
func startPrimary(ctx context.Context, t testing.TB, run *stack.Run, name string, opts ...stack.PostgresOption) *stack.Postgres {
	t.Helper()
	nw, err := run.CreateNetwork(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := stack.RunPostgres(ctx, run, nw, opts...)
	if err != nil {
		t.Fatal(err)
	}
	exec(ctx, t, pg, `CREATE TABLE acks (writer int, seq int, batch int, payload text, PRIMARY KEY (writer, seq))`)
	return pg
}

func connect(ctx context.Context, t testing.TB, pg *stack.Postgres) *pgx.Conn {
	t.Helper()
	dsn, err := pg.DSN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func exec(ctx context.Context, t testing.TB, pg *stack.Postgres, sql string, args ...any) {
	t.Helper()
	conn := connect(ctx, t, pg)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// row is one acknowledged write of the test table.
type row struct{ writer, seq int }

// insertBatch commits rows (0, from..to) of batch b in one transaction and
// returns them.
func insertBatch(ctx context.Context, t testing.TB, pg *stack.Postgres, b, from, to int) []row {
	t.Helper()
	exec(ctx, t, pg, `INSERT INTO acks (writer, seq, batch, payload) SELECT 0, g, $1, md5(g::text) FROM generate_series($2::int, $3::int) g`, b, from, to)
	var out []row
	for i := from; i <= to; i++ {
		out = append(out, row{0, i})
	}
	return out
}

// writeUntilKilled runs writers that each commit one row per transaction until
// the primary is killed (after the delay), and returns the acknowledged rows and
// the one row per writer whose commit was cut off (ambiguous).
func writeUntilKilled(ctx context.Context, t testing.TB, run *stack.Run, pg *stack.Postgres, writers int, delay time.Duration) (acked, ambiguous []row) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	started := make(chan struct{}, writers)
	for w := 1; w <= writers; w++ {
		conn := connect(ctx, t, pg)
		wg.Add(1)
		go func(w int, conn *pgx.Conn) {
			defer wg.Done()
			defer conn.Close(context.Background())
			started <- struct{}{}
			for seq := 1; ; seq++ {
				_, err := conn.Exec(ctx, `INSERT INTO acks (writer, seq, batch, payload) VALUES ($1, $2, 99, 'w')`, w, seq)
				mu.Lock()
				if err != nil {
					ambiguous = append(ambiguous, row{w, seq})
					mu.Unlock()
					return
				}
				acked = append(acked, row{w, seq})
				mu.Unlock()
			}
		}(w, conn)
	}
	for range writers {
		<-started
	}
	time.Sleep(delay)
	if _, err := run.Docker.ContainerKill(ctx, pg.Container.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatalf("kill primary: %v", err)
	}
	wg.Wait()
	return acked, ambiguous
}

// loseStorage destroys volumes as a failed SAN would: every container of the run
// using them is removed, then the volumes.
func loseStorage(ctx context.Context, t testing.TB, run *stack.Run, vols ...stack.Volume) {
	t.Helper()
	for _, v := range vols {
		f := make(client.Filters).Add("label", stack.LabelRun+"="+run.ID).Add("volume", v.Name)
		cs, err := run.Docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs.Items {
			if _, err := run.Docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
				t.Fatalf("remove container %s: %v", c.Names, err)
			}
		}
		if _, err := run.Docker.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil {
			t.Fatalf("remove volume %s: %v", v.Name, err)
		}
	}
}

// domainVolumes lists the run's volumes in a domain that belong to one stack
// (by network name prefix).
func domainVolumes(ctx context.Context, t testing.TB, run *stack.Run, domain, network string) []stack.Volume {
	t.Helper()
	all, err := run.Volumes(ctx, domain)
	if err != nil {
		t.Fatal(err)
	}
	var out []stack.Volume
	for _, v := range all {
		if strings.HasPrefix(v.Name, network+"-") {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s volume of %s among %v", domain, network, all)
	}
	return out
}

// readRows returns the rows of the test table in a restored database.
func readRows(ctx context.Context, t testing.TB, pg *stack.Postgres) map[row]bool {
	t.Helper()
	conn := connect(ctx, t, pg)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT writer, seq FROM acks`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[row]bool{}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.writer, &r.seq); err != nil {
			t.Fatal(err)
		}
		out[r] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkExactly fails unless got holds every row of want, and beyond them only
// rows of maybe.
func checkRows(t testing.TB, got map[row]bool, want, maybe []row) {
	t.Helper()
	wantSet := map[row]bool{}
	var lost []string
	for _, r := range want {
		wantSet[r] = true
		if !got[r] {
			lost = append(lost, fmt.Sprint(r))
		}
	}
	maybeSet := map[row]bool{}
	for _, r := range maybe {
		maybeSet[r] = true
	}
	var extra []string
	for r := range got {
		if !wantSet[r] && !maybeSet[r] {
			extra = append(extra, fmt.Sprint(r))
		}
	}
	sort.Strings(lost)
	sort.Strings(extra)
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged rows lost, e.g. %v", len(lost), len(want), lost[:min(len(lost), 10)])
	}
	if len(extra) > 0 {
		t.Errorf("%d rows present that should not be, e.g. %v", len(extra), extra[:min(len(extra), 10)])
	}
}

// restoreOptions restores with syncd when its image is built, else the database
// only, recording phases on tl.
func restoreOptions(ctx context.Context, t testing.TB, run *stack.Run, tl *timeline.Timeline) []backup.Option {
	t.Helper()
	opts := []backup.Option{backup.WithTimeline(tl)}
	missing, err := images.Missing(ctx, run.Docker, images.Syncd)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Logf("syncd image %s is not built: restoring the database only", missing[0])
		opts = append(opts, backup.WithoutServer())
	}
	return opts
}

// dropStack removes a restored stack's containers once checked.
func dropStack(ctx context.Context, st *stack.Stack) {
	if st == nil {
		return
	}
	if st.Server != nil {
		st.Server.Container.Terminate(ctx)
	}
	if st.Postgres != nil {
		st.Postgres.Container.Terminate(ctx)
	}
}

// helperContainer starts an idle container of the PostgreSQL image with the
// mounts, for tests that act on volumes directly.
func helperContainer(ctx context.Context, t testing.TB, run *stack.Run, mounts ...mount.Mount) *testcontainers.DockerContainer {
	t.Helper()
	ctr, err := testcontainers.Run(ctx, images.MustRef(images.Postgres),
		testcontainers.WithLabels(run.Labels("test")),
		testcontainers.WithCmd("bash", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"),
		testcontainers.WithHostConfigModifier(func(h *container.HostConfig) {
			h.Mounts = append(h.Mounts, mounts...)
			h.NetworkMode = "none"
		}),
	)
	if err != nil {
		if ctr != nil {
			ctr.Terminate(context.WithoutCancel(ctx))
		}
		t.Fatal(err)
	}
	return ctr
}

// shell runs a bash script in the container and returns its output.
func shell(ctx context.Context, t testing.TB, ctr *testcontainers.DockerContainer, script string, args ...string) string {
	t.Helper()
	code, out, err := ctr.Exec(ctx, append([]string{"bash", "-c", "set -euo pipefail\n" + script, "test"}, args...), tcexec.Multiplexed())
	var b bytes.Buffer
	if out != nil {
		_, _ = b.ReadFrom(out)
	}
	if err != nil || code != 0 {
		t.Fatalf("%s: exit %d, %v: %s", script, code, err, b.String())
	}
	return strings.TrimSpace(b.String())
}
