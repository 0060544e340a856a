package workload_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/workload"
	"github.com/firedrill/firedrill/harness/workload/fleetdev"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }

var stackRuns atomic.Int64

// observeUsers reads every user back from server, failing the test on any
// unreadable user.
func observeUsers(t *testing.T, ctx context.Context, server string, accts []accounts.Account) map[string]model.UserObservation {
	t.Helper()
	obs, err := observe.Observe(ctx, observe.Options{Server: server, Accounts: accts})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]model.UserObservation{}
	for _, u := range obs.Users {
		if u.Unreadable != "" || len(u.NotCovered) > 0 {
			t.Fatalf("observe %s: unreadable %q, not covered %v", u.User, u.Unreadable, u.NotCovered)
		}
		out[u.User] = u
	}
	return out
}

// phonesMatch checks that every phone holds exactly its user's items on the
// server, and returns how many items the phones hold in all.
func phonesMatch(t *testing.T, f *workload.Fleet, obs map[string]model.UserObservation) int {
	t.Helper()
	held := 0
	for _, s := range f.Stores() {
		if d := workload.CompareStore(s, obs[s.User]); !d.Empty() {
			t.Errorf("phone %s: %s", s.ID, d)
		}
		if len(s.Items) == 0 {
			t.Errorf("phone %s holds nothing", s.ID)
		}
		held += len(s.Items)
	}
	return held
}

// TestFleetAgainstReferenceStack is the device-reset-during-outage story
// against the real reference stack, profile tiny: load the fleet; every phone
// holds its user's items; reset every phone; with syncd stopped, resyncing
// fails cleanly and leaves the phones empty; with syncd started again (at a new
// port) and the fleet pointed at it, every phone resyncs and holds its user's
// items again.
func TestFleetAgainstReferenceStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the reference stack in containers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	begin := time.Now()
	// A stack of its own per run of the test (go test -count=N shares one Run).
	s, err := stack.Start(ctx, stacktest.Run(t), stack.WithName(fmt.Sprintf("fleet%d", stackRuns.Add(1))))
	if err != nil {
		t.Fatalf("start reference stack: %v", err)
	}
	server, err := s.URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stack up in %s", time.Since(begin).Round(time.Millisecond))

	prof, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	const seed = 2009
	accts := accounts.Generate(prof.Users, seed)
	hc := dav.NewHTTPClient(8)
	if err := accounts.Provision(ctx, hc, server, s.Server.AdminToken, accts, 4); err != nil {
		t.Fatal(err)
	}
	lw, err := ledger.Create(filepath.Join(t.TempDir(), "run.ledger"), time.Now(), ledger.Meta{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer lw.Close()
	fleet, err := workload.NewFleet(workload.Config{Server: server, Accounts: accts, Profile: prof, Seed: seed, Ledger: lw})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sum, err := fleet.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.UsersDone != len(accts) || sum.Failed+sum.Ambiguous+sum.ReadErrors != 0 {
		t.Fatalf("load: %+v", sum)
	}
	t.Logf("load: %d users, %d phones, %d writes acked in %s", sum.Users, len(fleet.Stores()), sum.OK, time.Since(start).Round(time.Millisecond))

	held := phonesMatch(t, fleet, observeUsers(t, ctx, server, accts))
	t.Logf("after the load the phones hold %d items", held)

	devs, err := fleetdev.Of(fleet).Devices("all")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if err := d.Reset(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range fleet.Stores() {
		if len(st.Items) != 0 || st.Tokens != 0 {
			t.Fatalf("phone %s holds %d items and %d tokens after its reset", st.ID, len(st.Items), st.Tokens)
		}
	}

	stop := 10 * time.Second
	if err := s.Server.Container.Stop(ctx, &stop); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	err = devs[0].Resync(ctx)
	if err == nil || !strings.Contains(err.Error(), devs[0].ID()) {
		t.Errorf("resync with syncd down: %v", err)
	}
	t.Logf("resync with syncd down failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if err := fleet.ResyncDevices(ctx, "all"); err == nil || !strings.Contains(err.Error(), "resync") {
		t.Errorf("resync of all phones with syncd down: %v", err)
	}
	for _, st := range fleet.Stores() {
		if len(st.Items) != 0 {
			t.Errorf("phone %s holds %d items after a failed resync", st.ID, len(st.Items))
		}
	}

	if err := s.Server.Container.Start(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := s.URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fleet.SetServer(again); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := fleet.ResyncDevices(ctx, "all"); err != nil {
		t.Fatal(err)
	}
	t.Logf("resync of %d phones from %s took %s", len(devs), again, time.Since(start).Round(time.Millisecond))
	if got := phonesMatch(t, fleet, observeUsers(t, ctx, again, accts)); got != held {
		t.Errorf("after resync the phones hold %d items, before the reset %d", got, held)
	}
	t.Logf("whole test %s", time.Since(begin).Round(time.Millisecond))
}
