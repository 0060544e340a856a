package fault_test

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestDiskFullMakesWritesFailAndRecoverFreesTheSpace fills PostgreSQL's
// size-limited data volume: a write that needs space fails with "No space left
// on device"; after Recover the server is back, the rows committed before are
// there, and writes succeed again.
func TestDiskFullMakesWritesFailAndRecoverFreesTheSpace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	vol, err := run.CreateSizedVolume(ctx, "diskfull-postgres-data", stack.DomainSANA, 128<<20)
	if err != nil {
		t.Fatal(err)
	}
	env := ownPostgres(t, "diskfull", stack.WithDataVolume(vol))
	mustExec(t, env, "CREATE TABLE filler (payload text)", "INSERT INTO filler SELECT 'committed before' FROM generate_series(1, 100)")

	injectRecover(t, env, fault.Spec{Name: "disk-full"}, func() {
		// 64 MiB of rows need new relation pages and WAL segments: no room.
		err := query(env, false, time.Minute, "INSERT INTO filler SELECT repeat(md5(i::text), 64) FROM generate_series(1, 32768) i")
		mustFail(t, "a big insert on a full disk", err, "No space left on device", "could not extend", "could not write", "terminating connection", "unexpected EOF", "server closed", "conn closed")
	})
	n, err := scalar[int64](t, env, "SELECT count(*) FROM filler WHERE payload = 'committed before'")
	if err != nil || n != 100 {
		t.Fatalf("after recovery: %d rows committed before the disk filled, %v; want 100", n, err)
	}
	mustExec(t, env, "INSERT INTO filler SELECT repeat(md5(i::text), 64) FROM generate_series(1, 32768) i")
	e := recorded(t, env, "disk-full", fault.Postgres)
	if !strings.Contains(e.Detail, "filled") {
		t.Errorf("detail %q does not say what was filled", e.Detail)
	}

	// A volume without a size limit shares the host's disk: refused.
	shared := sharedEnv(t)
	f, _ := fault.New(fault.Spec{Name: "disk-full"})
	_, err = fault.Inject(ctx, shared, f)
	mustFail(t, "disk-full on a plain volume", err, "no size limit")
}

// TestCorruptFileIsNoticedByPostgreSQL damages one table's file in each of the
// four ways, with the server stopped or running, and checks that PostgreSQL
// notices or loses rows: pg_checksums and reads report flipped bytes, a
// truncated file silently loses rows, a deleted file cannot be opened.
func TestCorruptFileIsNoticedByPostgreSQL(t *testing.T) {
	env := ownPostgres(t, "corrupt")
	table := func(t *testing.T, name string) string {
		t.Helper()
		mustExec(t, env,
			fmt.Sprintf("CREATE TABLE %s (n int, pad text)", name),
			fmt.Sprintf("INSERT INTO %s SELECT i, repeat('p', 200) FROM generate_series(1, 4000) i", name),
			fmt.Sprintf("VACUUM FREEZE %s", name),
			"CHECKPOINT")
		rel, err := scalar[string](t, env, "SELECT pg_relation_filepath($1)", name)
		if err != nil {
			t.Fatal(err)
		}
		return path.Join(path.Base(stack.PGData), rel)
	}

	t.Run("flip stopped", func(t *testing.T) {
		file := table(t, "flip_stopped")
		f := injectRecover(t, env, fault.Spec{Name: "corrupt-file", Params: map[string]string{"path": file, "stopped": "true", "bytes": "8"}}, func() {
			out, err := pgChecksums(t, env, env.Stack.Postgres.Data)
			if err == nil || !strings.Contains(out, "checksum verification failed") {
				t.Errorf("pg_checksums on the stopped cluster: %v\n%s", err, out)
			}
		})
		if got := f.(*fault.CorruptFile).Paths(); len(got) != 1 || got[0] != file {
			t.Errorf("corrupted %v, want %s", got, file)
		}
		_, err := scalar[int64](t, env, "SELECT sum(n) FROM flip_stopped")
		mustFail(t, "reading a table with flipped bytes", err, "invalid page", "checksum")
	})
	t.Run("flip running", func(t *testing.T) {
		file := table(t, "flip_running")
		injectRecover(t, env, fault.Spec{Name: "corrupt-file", Params: map[string]string{"path": file, "bytes": "8"}}, nil)
		// The pages are clean in shared buffers; a restart makes the server read the disk.
		injectRecover(t, env, fault.Spec{Name: "graceful-restart", Target: fault.Postgres}, nil)
		_, err := scalar[int64](t, env, "SELECT sum(n) FROM flip_running")
		mustFail(t, "reading a table whose file was flipped under the running server", err, "invalid page", "checksum")
	})
	t.Run("truncate", func(t *testing.T) {
		file := table(t, "truncated")
		injectRecover(t, env, fault.Spec{Name: "corrupt-file", Params: map[string]string{"path": file, "op": "truncate", "stopped": "true"}}, nil)
		n, err := scalar[int64](t, env, "SELECT count(*) FROM truncated")
		if err == nil && n >= 4000 {
			t.Errorf("after truncating its file the table still has %d of 4000 rows", n)
		}
		t.Logf("after truncation: %d rows, %v", n, err)
	})
	t.Run("delete", func(t *testing.T) {
		file := table(t, "deleted")
		injectRecover(t, env, fault.Spec{Name: "corrupt-file", Params: map[string]string{"path": file, "op": "delete", "stopped": "true"}}, nil)
		_, err := scalar[int64](t, env, "SELECT count(*) FROM deleted")
		mustFail(t, "reading a table whose file was deleted", err, "could not open file", "No such file")
	})
	spans := 0
	for _, e := range env.Timeline.Entries() {
		if e.Name == "corrupt-file" {
			spans++
			if !strings.HasPrefix(e.Detail, "permanent") {
				t.Errorf("corrupt-file span detail %q does not say the damage is permanent", e.Detail)
			}
		}
	}
	if spans != 4 {
		t.Errorf("timeline holds %d corrupt-file spans, want 4", spans)
	}
}

// TestLoseDomainDestroysEveryVolumeInIt starts a run of its own with PostgreSQL
// in san-a, a sized volume in san-a and a volume in san-b; losing san-a removes
// the database and its keeper and every san-a volume, and leaves san-b. A
// container of no run that mounts a san-a volume makes it refuse to start.
func TestLoseDomainDestroysEveryVolumeInIt(t *testing.T) {
	stacktest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := stack.NewRun(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close(context.Background())
	nw, err := run.CreateNetwork(ctx, "losedomain")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := stack.RunPostgres(ctx, run, nw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.CreateSizedVolume(ctx, "scratch", stack.DomainSANA, 64<<20); err != nil {
		t.Fatal(err)
	}
	backup, err := run.CreateVolume(ctx, "backup", stack.DomainSANB)
	if err != nil {
		t.Fatal(err)
	}
	env := &fault.Env{Run: run, Stack: &stack.Stack{Run: run, Network: nw, Postgres: pg}, Timeline: timeline.New(), Seed: testSeed}

	// A container outside any run mounting the data volume: refused, nothing removed.
	decoy := startDecoy(t, nil, "", pg.Data.Name)
	f, _ := fault.New(fault.Spec{Name: "lose-domain"})
	if _, err := fault.Inject(ctx, env, f); !errors.Is(err, fault.ErrNotOwned) {
		t.Fatalf("lose-domain with a foreign user of a san-a volume: err = %v, want ErrNotOwned", err)
	}
	if vols, _ := run.Volumes(ctx, stack.DomainSANA); len(vols) != 2 {
		t.Fatalf("after a refused lose-domain %d san-a volumes remain, want 2", len(vols))
	}
	removeDecoy(t, decoy)
	if es := env.Timeline.Entries(); len(es) != 1 || !strings.HasPrefix(es[0].Detail, "inject failed") {
		t.Errorf("the refused attempt is not recorded as failed: %+v", es)
	}

	env.Timeline = timeline.New()
	f, _ = fault.New(fault.Spec{Name: "lose-domain"})
	a, err := fault.Inject(ctx, env, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if vols, _ := run.Volumes(ctx, stack.DomainSANA); len(vols) != 0 {
		t.Errorf("after losing san-a these volumes remain: %v", vols)
	}
	if vols, _ := run.Volumes(ctx, stack.DomainSANB); len(vols) != 1 || vols[0].Name != backup.Name {
		t.Errorf("san-b volumes after losing san-a: %v, want %s", vols, backup.Name)
	}
	if _, err := run.Docker.ContainerInspect(ctx, pg.Container.GetContainerID(), client.ContainerInspectOptions{}); err == nil {
		t.Error("the database container survived the loss of its volume's domain")
	}
	cs, _ := run.Docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", stack.LabelRun+"="+run.ID).Add("label", stack.LabelRole+"="+stack.RoleKeeper)})
	if len(cs.Items) != 0 {
		t.Errorf("%d keepers of san-a volumes remain", len(cs.Items))
	}
	if got := f.(*fault.LoseDomain).Removed(); len(got) != 2 {
		t.Errorf("Removed() = %v, want the two san-a volumes", got)
	}
	recorded(t, env, "lose-domain", stack.DomainSANA)
}

// startDecoy starts a container of no run (labels nil) or with the given labels,
// on the network ("" for none), mounting the named volumes at /decoy/<i>, that
// sleeps until removed.
func startDecoy(t *testing.T, labels map[string]string, network string, volumes ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	ref := stacktest.SharedPostgres(t).Container.Image
	hc := &container.HostConfig{NetworkMode: "none"}
	if network != "" {
		hc.NetworkMode = container.NetworkMode(network)
	}
	for i, v := range volumes {
		hc.Binds = append(hc.Binds, fmt.Sprintf("%s:/decoy/%d", v, i))
	}
	created, err := run.Docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       fmt.Sprintf("fd-decoy-%d", time.Now().UnixNano()),
		Config:     &container.Config{Image: ref, Cmd: []string{"sleep", "infinity"}, Labels: labels},
		HostConfig: hc,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeDecoy(t, created.ID) })
	if _, err := run.Docker.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	return created.ID
}

func removeDecoy(t *testing.T, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = stacktest.Run(t).Docker.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
}
