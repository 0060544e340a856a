package fault_test

import (
	"context"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/moby/moby/client"
)

// TestProcessFaultsStopServiceAndRecoverBringsItBack kills, stops and freezes
// PostgreSQL in turn: while each is in effect queries fail, and after Recover
// the data written before is served again.
func TestProcessFaultsStopServiceAndRecoverBringsItBack(t *testing.T) {
	env := sharedEnv(t)
	mustExec(t, env, "CREATE TABLE IF NOT EXISTS process_faults (n int)", "INSERT INTO process_faults VALUES (1)")
	for _, name := range []string{"kill-9", "graceful-restart", "pause"} {
		t.Run(name, func(t *testing.T) {
			injectRecover(t, env, fault.Spec{Name: name, Target: fault.Postgres}, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				res, err := env.Run.Docker.ContainerInspect(ctx, env.Stack.Postgres.Container.GetContainerID(), client.ContainerInspectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				st := res.Container.State
				switch name {
				case "pause":
					if !st.Paused {
						t.Errorf("after pause the container is not paused: %+v", st)
					}
				default:
					if st.Running {
						t.Errorf("after %s the container still runs", name)
					}
					if name == "kill-9" && st.ExitCode != 137 {
						t.Errorf("after kill-9 the exit code is %d, want 137 (SIGKILL)", st.ExitCode)
					}
				}
				err = query(env, false, 3*time.Second, "SELECT 1")
				mustFail(t, "query during "+name, err, unreachable...)
			})
			n, err := scalar[int64](t, env, "SELECT count(*) FROM process_faults")
			if err != nil || n < 1 {
				t.Fatalf("after recovering from %s: count = %d, %v", name, n, err)
			}
			recorded(t, env, name, fault.Postgres)
		})
	}
}

// TestPartitionCutsTheComponentOffItsNetwork disconnects PostgreSQL from the
// stack network: a client on the network (as syncd is) cannot reach it by its
// alias until Recover reconnects it under the same alias.
func TestPartitionCutsTheComponentOffItsNetwork(t *testing.T) {
	env := sharedEnv(t)
	probe := func() (tools.Result, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return tools.OneShot(ctx, env.Run, tools.Spec{
			Cmd:     []string{"pg_isready", "-h", env.Stack.Postgres.Alias, "-p", "5432", "-t", "3"},
			Network: env.Stack.Network,
		})
	}
	if res, err := probe(); err != nil || res.ExitCode != 0 {
		t.Fatalf("before the partition pg_isready says %+v, %v", res, err)
	}
	f := injectRecover(t, env, fault.Spec{Name: "partition", Target: fault.Postgres}, func() {
		res, err := probe()
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode == 0 {
			t.Errorf("during the partition pg_isready reached %s: %s", env.Stack.Postgres.Alias, res.Stdout)
		}
		err = query(env, false, 3*time.Second, "SELECT 1")
		mustFail(t, "query from the host during the partition", err, unreachable...)
	})
	if res, err := probe(); err != nil || res.ExitCode != 0 {
		t.Fatalf("after the partition pg_isready says %+v, %v", res, err)
	}
	if d := f.(fault.Detailer).Detail(); d == "" {
		t.Error("partition has no detail")
	}
	recorded(t, env, "partition", fault.Postgres)
}
