package drill

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
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
