package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/fixtures/profiles"
	"github.com/firedrill/firedrill/harness/engine"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/workload/profile"
	"github.com/moby/moby/client"
)

// TestExecuteRunsEveryKindOfStep runs one tiny scenario that uses every action
// against the reference stack: a fault on the schedule during the load, a
// fault injected and recovered, a bounded look, the disaster, phones reset while
// the service is down, a point-in-time restore and the phones' resync. Every
// user must come back intact and every phone must hold what the service holds.
func TestExecuteRunsEveryKindOfStep(t *testing.T) {
	stacktest.RequireDocker(t)
	sc := Scenario{
		Name: "every-step", Summary: "every action once", Profile: "tiny", Backup: "continuous", Proxy: true,
		Steps: []Step{
			{Do: BaseBackup},
			{Do: Load, Faults: []fault.Spec{{Name: "latency", Target: "phones-syncd", Params: map[string]string{"latency": "50ms"}}}},
			{Do: RestorePoint, Name: "after-load"},
			{Do: Inject, Faults: []fault.Spec{{Name: "kill-9", Target: "syncd"}}},
			{Do: Recover},
			{Do: Observe},
			{Do: Disaster},
			{Do: ResetPhones},
			{Do: Restore, Name: "after-load"},
			{Do: ResyncPhones},
			{Do: Verify},
		},
		Expect:  report.ExpectIntact,
		Budgets: Budgets{LostWrites: NoLoss()},
	}
	var narration strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := Execute(ctx, sc, Options{Seed: 11, Reports: t.TempDir(), Out: &narration})
	if err != nil {
		t.Fatalf("execute: %v\n%s", err, narration.String())
	}
	if out.Report.Verdict != report.Pass {
		t.Fatalf("verdict %s: %s\n%s", out.Report.Verdict, out.Report.Reason, narration.String())
	}
	for _, want := range []string{"faults: latency@phones-syncd", "after ", "planned writes", "users see", "phones wiped", "phones resynced", "all ", "phones hold exactly what the service holds"} {
		if !strings.Contains(narration.String(), want) {
			t.Errorf("narration lacks %q:\n%s", want, narration.String())
		}
	}
	if len(out.Report.RTO.Phases) == 0 || out.Report.RTO.Seconds <= 0 {
		t.Errorf("RTO = %+v, want the restore's phases", out.Report.RTO)
	}
}

// TestExecuteRefusesAnInvalidScenarioBeforeStarting checks that nothing
// starts for a scenario Validate refuses.
func TestExecuteRefusesAnInvalidScenarioBeforeStarting(t *testing.T) {
	_, err := Execute(context.Background(), Scenario{Name: "Bad"}, Options{Reports: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "kebab-case") {
		t.Fatalf("Execute(bad scenario) = %v, want the validation error", err)
	}
}

// TestExecuteRefusesAProfileTooLargeForTheMachine checks that a profile the
// machine cannot hold is refused with the figures before anything starts: no
// container, no run directory.
func TestExecuteRefusesAProfileTooLargeForTheMachine(t *testing.T) {
	small, err := fs.ReadFile(profiles.FS, "small.json")
	if err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(t.TempDir(), "huge.json")
	if err := os.WriteFile(huge, bytes.Replace(small, []byte(`"users": 1000,`), []byte(`"users": 5000000,`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	sc := Scenario{Name: "too-large", Profile: "tiny", Backup: "continuous",
		Steps: []Step{{Do: Load}, {Do: Verify}}, Expect: report.ExpectIntact}
	room := profile.Room{Disk: 60 << 30, Memory: 20 << 30, DiskAt: "/var/lib/docker"}
	_, err = Execute(context.Background(), sc, Options{Reports: reports, Profile: huge, Room: &room})
	if err == nil {
		t.Fatal("5 million users of profile small fit 60 GiB of disk")
	}
	for _, want := range []string{"refuse profile small", "5000000 users", "of disk", "60.0 GiB free"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if entries, _ := os.ReadDir(reports); len(entries) > 0 {
		t.Errorf("the refused run left %d entries in its reports directory", len(entries))
	}
}

// cancelOn is a narration writer that cancels the run once a line contains
// its trigger, as a person pressing Ctrl-C at that stage would.
type cancelOn struct {
	trigger string
	cancel  context.CancelFunc
	mu      sync.Mutex
	b       strings.Builder
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b.Write(p)
	if strings.Contains(c.b.String(), c.trigger) {
		c.cancel()
	}
	return len(p), nil
}

// TestAnInterruptedRunSaysWhereAndLeavesNothing cancels a drill while its
// phones load, and checks that it ends with one line naming the stage and what
// was removed, that the report says error, and that no container, network or
// volume of the run remains.
func TestAnInterruptedRunSaysWhereAndLeavesNothing(t *testing.T) {
	stacktest.RequireDocker(t)
	sc := Scenario{Name: "interrupted", Profile: "tiny", Backup: "continuous",
		Steps: []Step{{Do: BaseBackup}, {Do: Load}, {Do: Verify}}, Expect: report.ExpectIntact}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := &cancelOn{trigger: "Phones sync their users' data", cancel: cancel}
	res, err := Execute(ctx, sc, Options{Seed: 3, Reports: t.TempDir(), Out: out})
	t.Logf("narration:\n%s", out.b.String())
	var ie *InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an InterruptedError", err)
	}
	if ie.Stage != "Phones sync their users' data" || ie.Removed.Total() == 0 || strings.Contains(ie.Error(), "context canceled") {
		t.Errorf("interrupted error %q (stage %q, removed %+v): want the load stage and what cleanup removed, in one line", ie.Error(), ie.Stage, ie.Removed)
	}
	if res == nil || res.Report.Verdict != report.Error {
		t.Fatalf("outcome %+v, want a report with verdict error", res)
	}
	cli, cerr := engine.Client(context.Background())
	if cerr != nil {
		t.Fatal(cerr)
	}
	f := make(client.Filters).Add("label", stack.LabelRun+"="+res.Report.Environment["docker_run"])
	cs, _ := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
	vs, _ := cli.VolumeList(context.Background(), client.VolumeListOptions{Filters: f})
	ns, _ := cli.NetworkList(context.Background(), client.NetworkListOptions{Filters: f})
	if n := len(cs.Items) + len(vs.Items) + len(ns.Items); n != 0 {
		t.Errorf("%d objects of the interrupted run remain", n)
	}
}

// TestTheSameSeedReplaysTheWritesBeforeEachFault runs a crash under load twice
// with one seed and compares the writes acknowledged before the first fault
// struck: user, item and content must be the same set in both runs (the fault
// waits at a gate in the phones' write order, see package gate). What happens
// after the fault depends on timing and is not compared.
func TestTheSameSeedReplaysTheWritesBeforeEachFault(t *testing.T) {
	stacktest.RequireDocker(t)
	sc := Scenario{Name: "replay", Profile: "tiny", Backup: "continuous",
		Steps:  []Step{{Do: Load, Faults: []fault.Spec{{Name: "kill-9", Target: "postgres"}}}, {Do: Verify}},
		Expect: report.ExpectIntact}
	var sets [2]map[string]bool
	for i := range sets {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		out, err := Execute(ctx, sc, Options{Seed: 42, Reports: t.TempDir()})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Report.Faults) == 0 {
			t.Fatalf("run %d: no fault on the timeline", i+1)
		}
		l, err := ledger.Load(out.Dir.LedgerPath())
		if err != nil {
			t.Fatal(err)
		}
		struck := out.Report.Faults[0].Start.Sub(l.Base).Nanoseconds()
		sets[i] = map[string]bool{}
		for _, r := range l.Records() {
			if r.Outcome == ledger.OK && r.Return < struck {
				sets[i][fmt.Sprintf("%s %s %s", l.User(r.User), l.ItemKey(r.Item), r.Digest)] = true
			}
		}
	}
	if len(sets[0]) == 0 {
		t.Fatal("no write was acknowledged before the fault")
	}
	var only []string
	for k := range sets[0] {
		if !sets[1][k] {
			only = append(only, "first run only: "+k)
		}
	}
	for k := range sets[1] {
		if !sets[0][k] {
			only = append(only, "second run only: "+k)
		}
	}
	if len(only) > 0 {
		t.Errorf("the writes acknowledged before the fault differ (%d and %d writes): %s", len(sets[0]), len(sets[1]), strings.Join(first(only, 5), "; "))
	}
	t.Logf("both runs acknowledged the same %d writes before the fault", len(sets[0]))
}

// TestUsersAtRestArePopulatedRestoredAndVerified runs the Sidekick shape at
// the size of a unit test: most users at rest, imported in bulk before a live
// load of the active ones, then the disaster, a restore and the verification
// of every user, those at rest included.
func TestUsersAtRestArePopulatedRestoredAndVerified(t *testing.T) {
	stacktest.RequireDocker(t)
	sc := Scenario{Name: "resting", Profile: filepath.Join("testdata", "resting.json"), Backup: "continuous",
		Steps:  []Step{{Do: Populate}, {Do: BaseBackup}, {Do: Load}, {Do: Disaster}, {Do: Restore}, {Do: Verify}},
		Expect: report.ExpectIntact, Budgets: Budgets{LostWrites: NoLoss()}}
	var narration strings.Builder
	out, err := Execute(context.Background(), sc, Options{Seed: 9, Reports: t.TempDir(), Out: &narration})
	if err != nil {
		t.Fatalf("%v\n%s", err, narration.String())
	}
	r := out.Report
	if r.Verdict != report.Pass || r.Users.Total != 60 || r.Users.Intact != 60 {
		t.Fatalf("verdict %s, users %+v: %s\n%s", r.Verdict, r.Users, r.Reason, narration.String())
	}
	said := strings.Join(strings.Fields(narration.String()), " ") // as read, not as wrapped
	for _, want := range []string{"create the accounts of the 12 active users", "accounts of the 12 active users created in bulk", "at rest come with their data", "48 users at rest imported with", "12 users active", "by 12 users"} {
		if !strings.Contains(said, want) {
			t.Errorf("the narration does not say %q:\n%s", want, narration.String())
		}
	}
	l, err := ledger.Load(out.Dir.LedgerPath())
	if err != nil {
		t.Fatal(err)
	}
	withWrites := 0
	for _, u := range l.History().Users {
		if len(u.Items) > 0 {
			withWrites++
		}
	}
	if withWrites != 60 {
		t.Errorf("the ledger holds writes of %d users, want all 60", withWrites)
	}
}
