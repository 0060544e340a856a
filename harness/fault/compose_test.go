package fault_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// TestFaultsComposeOnASchedule runs a schedule with latency on the
// syncd-postgres link and, inside its window, a kill -9 of PostgreSQL: the
// kill's span lies inside the latency's on the timeline (both were in effect at
// once), and afterwards the link carries no toxic and the database serves. The
// latency is held long enough (30 s) that a slow restart of PostgreSQL on a
// loaded machine still ends inside it; nothing here depends on how fast the
// machine is.
func TestFaultsComposeOnASchedule(t *testing.T) {
	env := sharedEnv(t)
	sched, err := fault.NewSchedule(testSeed, []fault.Planned{
		{Spec: fault.Spec{Name: "latency", Target: stack.LinkSyncdPostgres, Params: map[string]string{"latency": "300ms"}}, MinHold: 30 * time.Second},
		{Spec: fault.Spec{Name: "kill-9", Target: fault.Postgres}, After: time.Second, Before: 2 * time.Second, MinHold: 3 * time.Second},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	results, err := sched.Run(ctx, env, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Err != nil || results[1].Err != nil {
		t.Errorf("results: %+v", results)
	}
	lat := recorded(t, env, "latency", stack.LinkSyncdPostgres)
	kill := recorded(t, env, "kill-9", fault.Postgres)
	if !(lat.Start.Before(kill.Start) && kill.End.Before(lat.End)) {
		t.Errorf("the kill's span %v..%v is not inside the latency's %v..%v", kill.Start, kill.End, lat.Start, lat.End)
	}
	if toxics, err := env.Proxy.Toxics(ctx, stack.LinkSyncdPostgres); err != nil || len(toxics) != 0 {
		t.Errorf("after the schedule the link carries toxics %+v (%v), want none", toxics, err)
	}
	if _, err := roundTrip(t, env, "SELECT 'x'"); err != nil {
		t.Errorf("after the schedule a query through the link failed: %v", err)
	}
}

// tableDevice is a minimal phone whose server is PostgreSQL: its local store is
// a map of the user's notes, Resync reads them all from the server, and Reset
// wipes the map, noting whether the server was reachable at that moment.
type tableDevice struct {
	id, user string
	env      *fault.Env
	mu       sync.Mutex
	local    map[int]string
	// serverUpAtReset records whether a query reached the server during Reset.
	serverUpAtReset bool
}

func (d *tableDevice) ID() string { return d.id }

func (d *tableDevice) Reset(ctx context.Context) error {
	up := query(d.env, false, 2*time.Second, "SELECT 1") == nil
	d.mu.Lock()
	defer d.mu.Unlock()
	d.serverUpAtReset = up
	d.local = map[int]string{}
	return nil
}

func (d *tableDevice) Resync(ctx context.Context) error {
	conn, err := connect(ctx, d.env, false)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT id, body FROM device_notes WHERE owner = $1", d.user)
	if err != nil {
		return err
	}
	got := map[int]string{}
	var id int
	var body string
	_, err = pgx.ForEachRow(rows, []any{&id, &body}, func() error { got[id] = body; return nil })
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.local = got
	d.mu.Unlock()
	return nil
}

type deviceSet []*tableDevice

func (s deviceSet) Devices(selector string) ([]fault.Device, error) {
	var out []fault.Device
	for _, d := range s {
		if selector == "all" || selector == d.user || selector == d.id {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no device matches %q", selector)
	}
	return out, nil
}

// TestDeviceResetWhileServerDownLosesLocalOnlyData resets alice's phones while
// the server is down: each reset happens with the server unreachable, local
// items the server never got are gone, and after the resync each of alice's
// phones holds exactly what the server holds; bob's phone is untouched.
func TestDeviceResetWhileServerDownLosesLocalOnlyData(t *testing.T) {
	env := sharedEnv(t)
	mustExec(t, env, "CREATE TABLE device_notes (owner text, id int, body text)",
		"INSERT INTO device_notes VALUES ('alice', 1, 'on the server'), ('alice', 2, 'also on the server'), ('bob', 1, 'bob''s')")
	devs := deviceSet{
		{id: "alice/1", user: "alice", env: env}, {id: "alice/2", user: "alice", env: env}, {id: "bob/1", user: "bob", env: env},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, d := range devs {
		if err := d.Resync(ctx); err != nil {
			t.Fatal(err)
		}
		d.local[99] = "written offline, never synced"
	}
	env.Devices = devs
	f := injectRecover(t, env, fault.Spec{Name: "device-reset", Target: "alice", Params: map[string]string{"server": fault.Postgres}}, nil)
	for _, d := range devs[:2] {
		if d.serverUpAtReset {
			t.Errorf("%s was reset while the server was up", d.id)
		}
		if _, ok := d.local[99]; ok || len(d.local) != 2 || d.local[1] != "on the server" {
			t.Errorf("%s after reset and resync holds %v, want exactly the server's two notes", d.id, d.local)
		}
	}
	if _, ok := devs[2].local[99]; !ok {
		t.Errorf("bob's phone was reset too: %v", devs[2].local)
	}
	e := recorded(t, env, "device-reset", "devices:alice")
	if !strings.Contains(e.Detail, "alice/1 alice/2") || !strings.Contains(e.Detail, "resynced 2") {
		t.Errorf("detail %q does not name the reset devices", e.Detail)
	}
	if got := f.(*fault.DeviceReset).Detail(); got != e.Detail {
		t.Errorf("detail %q differs from the timeline's %q", got, e.Detail)
	}
}

// TestFaultsRefuseWhatTheRunDoesNotOwn aims every fault that targets a
// container or a volume at decoys, a container and a volume with no firedrill
// labels and another pair labelled with another run: each refuses with
// ErrNotOwned, and the decoys are untouched (still running, not paused, not
// restarted, still on their network, their files unchanged).
func TestFaultsRefuseWhatTheRunDoesNotOwn(t *testing.T) {
	env := sharedEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cli := env.Run.Docker
	other := map[string]string{stack.LabelProject: "true", stack.LabelRun: "fd-someone-else", stack.LabelRole: "postgres", stack.LabelDomain: stack.DomainSANA}
	type decoy struct {
		what      string
		container string
		volume    string
		started   string
	}
	var decoys []decoy
	for i, labels := range []map[string]string{nil, other} {
		vname := fmt.Sprintf("fd-decoy-vol-%d-%d", i, time.Now().UnixNano())
		if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: vname, Labels: labels}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cctx, c := context.WithTimeout(context.Background(), time.Minute)
			defer c()
			_, _ = cli.VolumeRemove(cctx, vname, client.VolumeRemoveOptions{Force: true})
		})
		// On the stack network, so that a partition would have something to cut.
		id := startDecoy(t, labels, env.Stack.Network, vname)
		res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if out, err := dockerExec(ctx, env, id, "sh", "-c", "echo precious > /decoy/0/marker && cat /decoy/0/marker"); err != nil || !strings.Contains(out, "precious") {
			t.Fatalf("write the decoy's marker: %v %s", err, out)
		}
		decoys = append(decoys, decoy{what: []string{"unlabelled", "another run's"}[i], container: id, volume: vname, started: res.Container.State.StartedAt})
	}

	env.Devices = deviceSet{{id: "alice/1", user: "alice", env: env}}
	for _, d := range decoys {
		specs := []fault.Spec{
			{Name: "kill-9", Target: d.container},
			{Name: "graceful-restart", Target: d.container},
			{Name: "pause", Target: d.container},
			{Name: "partition", Target: d.container},
			{Name: "device-reset", Target: "all", Params: map[string]string{"server": d.container}},
			{Name: "disk-full", Target: d.volume},
			{Name: "corrupt-file", Target: d.volume, Params: map[string]string{"path": "**"}},
			{Name: "corrupt-backup-file", Target: d.volume, Params: map[string]string{"path": "**"}},
			{Name: "delete-backup-file", Target: d.volume, Params: map[string]string{"path": "**"}},
			{Name: "corrupt-wal-segment", Target: d.volume},
			{Name: "delete-wal-segment", Target: d.volume},
			{Name: "empty-backup", Target: d.volume},
			{Name: "archive-gap", Target: d.volume},
		}
		// By name as well as by id.
		name := decoyName(ctx, t, env, d.container)
		specs = append(specs, fault.Spec{Name: "kill-9", Target: name}, fault.Spec{Name: "pause", Target: name})
		for _, spec := range specs {
			f, err := fault.New(spec)
			if err != nil {
				t.Fatalf("%s: %v", spec, err)
			}
			_, err = fault.Inject(ctx, env, f)
			if !errors.Is(err, fault.ErrNotOwned) {
				t.Errorf("%s on the %s decoy: err = %v, want ErrNotOwned", spec.Name, d.what, err)
			}
		}
		res, err := cli.ContainerInspect(ctx, d.container, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatalf("the %s decoy is gone: %v", d.what, err)
		}
		st := res.Container.State
		if !st.Running || st.Paused || st.StartedAt != d.started || res.Container.RestartCount != 0 {
			t.Errorf("the %s decoy was touched: %+v", d.what, st)
		}
		if res.Container.NetworkSettings.Networks[env.Stack.Network] == nil {
			t.Errorf("the %s decoy was cut off the network", d.what)
		}
		if out, err := dockerExec(ctx, env, d.container, "sh", "-c", "ls -A /decoy/0; cat /decoy/0/marker"); err != nil || strings.TrimSpace(out) != "marker\nprecious" {
			t.Errorf("the %s decoy's volume changed: %q %v", d.what, out, err)
		}
	}
	for _, e := range env.Timeline.Entries() {
		if !strings.HasPrefix(e.Detail, "inject failed") {
			t.Errorf("a refused fault was recorded as done: %+v", e)
		}
	}
	// Each volume fault looked at the decoys before refusing; nothing of the
	// decoys' shows up among the run's volumes either.
	vols, _ := env.Run.Volumes(ctx, "")
	var names []string
	for _, v := range vols {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	for _, d := range decoys {
		for _, n := range names {
			if n == d.volume {
				t.Errorf("the run lists the %s decoy's volume as its own", d.what)
			}
		}
	}
}

func decoyName(ctx context.Context, t *testing.T, env *fault.Env, id string) string {
	t.Helper()
	res, err := env.Run.Docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(res.Container.Name, "/")
}

// dockerExec runs a command in a container and returns its standard output.
func dockerExec(ctx context.Context, env *fault.Env, id string, cmd ...string) (string, error) {
	cli := env.Run.Docker
	ex, err := cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", err
	}
	att, err := cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", err
	}
	defer att.Close()
	var out, errOut strings.Builder
	if _, err := stdcopy.StdCopy(&out, &errOut, att.Reader); err != nil {
		return out.String(), err
	}
	if errOut.Len() > 0 {
		return out.String(), errors.New(errOut.String())
	}
	return out.String(), nil
}
