package peers_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/peers"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

var baselines atomic.Int64

// TestReferenceLoadBaseline loads the drills' data into the reference stack
// (syncd on PostgreSQL), so that the third-party servers' load rates and CPU
// per write have a baseline measured beside them on the same machine.
func TestReferenceLoadBaseline(t *testing.T) {
	run := needDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	prof, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	users := accounts.Generate(prof.Users, drillSeed)
	st, err := stack.Start(ctx, run, stack.WithName(fmt.Sprintf("peers-reference-%d", baselines.Add(1))))
	if err != nil {
		t.Fatalf("start the reference stack: %v", err)
	}
	url, err := st.URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("syncd: ready at %s in %s", url, st.StartupTime.Round(time.Millisecond))
	if err := accounts.Provision(ctx, nil, url, st.Server.AdminToken, users, 4); err != nil {
		t.Fatal(err)
	}
	ids := []string{st.Postgres.Container.GetContainerID(), st.Server.Container.GetContainerID()}
	cpu0, err := peers.ContainersCPUTime(ctx, run, ids...)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := loadProfile(t, "syncd", url, users, prof, "", "")
	cpu1, err := peers.ContainersCPUTime(ctx, run, ids...)
	if err != nil {
		t.Fatal(err)
	}
	logCost(t, "syncd", sum, cpu1-cpu0)
	if sum.OK == 0 || len(sum.UserErrors) > 0 || len(sum.NotCovered) > 0 {
		t.Errorf("the reference load is no baseline: %d acknowledged, user errors %v, not covered %v", sum.OK, sum.UserErrors, sum.NotCovered)
	}
}
