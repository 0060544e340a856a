package stack_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"
)

func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }

func TestPostgresHasChecksumsAndReplicationRole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, stacktest.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var checksums string
	if err := conn.QueryRow(ctx, "SHOW data_checksums").Scan(&checksums); err != nil {
		t.Fatal(err)
	}
	if checksums != "on" {
		t.Errorf("data_checksums = %q, want on", checksums)
	}
	var repl bool
	if err := conn.QueryRow(ctx, "SELECT rolreplication FROM pg_roles WHERE rolname = 'replicator'").Scan(&repl); err != nil {
		t.Fatalf("find replication role: %v", err)
	}
	if !repl {
		t.Error("role replicator cannot replicate")
	}
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != "replica" {
		t.Errorf("wal_level = %q, want replica", level)
	}
}

func TestPostgresDataLivesInSANA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	p := stacktest.SharedPostgres(t)
	vols, err := run.Volumes(ctx, stack.DomainSANA)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range vols {
		if v.Name == p.Data.Name {
			found = true
		}
	}
	if !found {
		t.Errorf("data volume %s not among san-a volumes %v", p.Data.Name, vols)
	}
}

// TestRunCloseRemovesEverythingAndOnlyItsOwn starts a second run beside a decoy
// volume of another run and checks that Close removes its own objects only.
func TestRunCloseRemovesEverythingAndOnlyItsOwn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	decoyRun := stacktest.Run(t)
	decoy, err := decoyRun.CreateVolume(ctx, "decoy", stack.DomainSANB)
	if err != nil {
		t.Fatal(err)
	}
	run, err := stack.NewRun(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := run.CreateNetwork(ctx, "closetest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stack.RunPostgres(ctx, run, nw); err != nil {
		t.Fatal(err)
	}
	if err := run.Close(ctx); err != nil {
		t.Fatalf("close run: %v", err)
	}
	f := make(client.Filters).Add("label", stack.LabelRun+"="+run.ID)
	cs, _ := run.Docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	ns, _ := run.Docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	vs, _ := run.Docker.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if len(cs.Items)+len(ns.Items)+len(vs.Items) != 0 {
		t.Errorf("after Close: %d containers, %d networks, %d volumes remain", len(cs.Items), len(ns.Items), len(vs.Items))
	}
	if _, err := run.Docker.VolumeInspect(ctx, decoy.Name, client.VolumeInspectOptions{}); err != nil {
		t.Errorf("Close of one run removed another run's volume %s: %v", decoy.Name, err)
	}
}

// TestSweepRemovesOnlyWhatItCanProveDead makes volumes labelled as firedrill's
// with four owners: a process of this host that has exited (swept), this
// process (alive: left), an owner label that does not parse (left and listed:
// it might be a live run elsewhere) and another host (left and listed).
func TestSweepRemovesOnlyWhatItCanProveDead(t *testing.T) {
	stacktest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	live := stacktest.Run(t)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	owners := map[string]string{
		"dead":      fmt.Sprintf("%s/%d/1", host, cmd.Process.Pid),
		"garbled":   "ci-runner-7",
		"elsewhere": "some-other-host/1/1",
	}
	names := map[string]string{}
	for what, owner := range owners {
		name := "fd-sweeptest-" + what + "-" + suffix
		names[what] = name
		labels := map[string]string{stack.LabelProject: "true", stack.LabelRun: "fd-sweeptest-" + what, stack.LabelOwner: owner, stack.LabelRole: "decoy"}
		if _, err := live.Docker.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, name := range names {
			_, _ = live.Docker.VolumeRemove(context.Background(), name, client.VolumeRemoveOptions{Force: true})
		}
	})
	liveVol, err := live.CreateVolume(ctx, "sweeptest-live", stack.DomainSANB)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := stack.Sweep(ctx, live.Docker)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(name string) bool {
		_, err := live.Docker.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
		return err == nil
	}
	if exists(names["dead"]) {
		t.Errorf("the volume of an exited process of this host was not swept")
	}
	for _, what := range []string{"garbled", "elsewhere"} {
		if !exists(names[what]) {
			t.Errorf("the %s owner's volume was swept, though its owner cannot be proven dead", what)
		}
	}
	if !exists(liveVol.Name) {
		t.Error("a live run's volume was swept")
	}
	line := rep.String()
	for _, want := range []string{"fd-sweeptest-dead", `"ci-runner-7": owner label not host/pid/start`, "some-other-host"} {
		if !strings.Contains(line, want) {
			t.Errorf("sweep report %q lacks %q", line, want)
		}
	}
	if rep.Removed.Volumes < 1 {
		t.Errorf("sweep report counts %+v, want the dead run's volume", rep.Removed)
	}
}

// TestContainerCPUCountsWork checks that a container's cgroup CPU counter grows with work.
func TestContainerCPUCountsWork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	dsn := stacktest.Postgres(t)
	p := stacktest.SharedPostgres(t)
	before, err := stack.ContainerCPU(ctx, run.Docker, p.Container.GetContainerID())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM generate_series(1, 3000000)").Scan(&n); err != nil {
		t.Fatal(err)
	}
	after, err := stack.ContainerCPU(ctx, run.Docker, p.Container.GetContainerID())
	if err != nil {
		t.Fatal(err)
	}
	if before <= 0 || after <= before {
		t.Fatalf("PostgreSQL's CPU counter went from %s to %s over a query counting 3 million rows", before, after)
	}
	if _, err := stack.ContainerCPU(ctx, run.Docker, "no-such-container"); err == nil {
		t.Error("ContainerCPU of a missing container did not fail")
	}
}
