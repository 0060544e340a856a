package drill

import (
	"errors"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/workload"
)

func TestJudgeDecidesByExpectation(t *testing.T) {
	pass := &verify.Result{Status: verify.Pass, Reason: "all intact"}
	fail := &verify.Result{Status: verify.Fail, Reason: "3 users damaged"}
	unknown := &verify.Result{Status: verify.Unknown, Reason: "photo not covered"}
	intact := Scenario{Expect: report.ExpectIntact}
	loss := Scenario{Expect: report.ExpectLossDetected}
	cases := []struct {
		name string
		sc   Scenario
		res  *verify.Result
		err  error
		want report.Verdict
	}{
		{"intact as expected", intact, pass, nil, report.Pass},
		{"damage where intact was expected", intact, fail, nil, report.Fail},
		{"loss found as expected", loss, fail, nil, report.Pass},
		{"loss expected but missed", loss, pass, nil, report.Fail},
		{"verifier undecided", intact, unknown, nil, report.Error},
		{"stage failed", intact, nil, errors.New("restore: boom"), report.Error},
		{"no verification", intact, nil, nil, report.Error},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _, reason := judge(c.sc, c.res, c.err, &report.Report{})
			if got != c.want {
				t.Errorf("verdict = %s (%s), want %s", got, reason, c.want)
			}
		})
	}
}

func TestJudgeFailsIntactRunOverBudget(t *testing.T) {
	r := &report.Report{Budgets: []report.Budget{report.NewBudget("rto", "s", 10, 30)}}
	got, _, reason := judge(Scenario{Expect: report.ExpectIntact}, &verify.Result{Status: verify.Pass}, nil, r)
	if got != report.Fail || !strings.Contains(reason, "rto") {
		t.Errorf("verdict = %s (%s), want fail naming the rto budget", got, reason)
	}
}

func TestValidateNamesWhatIsWrong(t *testing.T) {
	good := Scenario{Name: "x", Profile: "tiny", Backup: "continuous", Expect: report.ExpectIntact,
		Steps: []Step{{Do: Load}, {Do: RestorePoint, Name: "p"}, {Do: Restore, Name: "p"}, {Do: Verify}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid scenario refused: %v", err)
	}
	cases := []struct {
		name   string
		change func(*Scenario)
		want   string
	}{
		{"bad name", func(s *Scenario) { s.Name = "Bad Name" }, "kebab-case"},
		{"unknown profile", func(s *Scenario) { s.Profile = "huge" }, "profile"},
		{"unknown strategy", func(s *Scenario) { s.Backup = "tape" }, "backup"},
		{"unknown expectation", func(s *Scenario) { s.Expect = "fine" }, "expect"},
		{"no verify last", func(s *Scenario) { s.Steps = s.Steps[:3] }, "verify"},
		{"unknown restore point", func(s *Scenario) { s.Steps[2].Name = "q" }, `restore point "q"`},
		{"bad fault", func(s *Scenario) { s.Steps[0].Faults = []fault.Spec{{Name: "meteor"}} }, "meteor"},
		{"two loads", func(s *Scenario) { s.Steps = append([]Step{{Do: Load}}, s.Steps...) }, "overlaps an earlier load"},
		{"bad share", func(s *Scenario) { s.Steps[0].Users = Share{From: 0.5, To: 0.2} }, "users share"},
		{"touches elsewhere", func(s *Scenario) { s.Steps[0].Touches = []string{"data"} }, "only a prove-backup step"},
		{"resync before load", func(s *Scenario) { s.Steps = append([]Step{{Do: ResyncPhones}}, s.Steps...) }, "nothing to reset"},
		{"unknown action", func(s *Scenario) { s.Steps[0].Do = "pray" }, "unknown action"},
		{"check before load", func(s *Scenario) { s.Steps = append([]Step{{Do: Check}}, s.Steps...) }, "nothing to check"},
		{"check after a fault", func(s *Scenario) {
			s.Steps = append([]Step{{Do: Load}, {Do: Inject, Faults: []fault.Spec{{Name: "kill-9", Target: "syncd"}}}, {Do: Check}}, s.Steps[1:]...)
		}, "before the first fault"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := good
			s.Steps = append([]Step(nil), good.Steps...)
			c.change(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v, want an error mentioning %q", err, c.want)
			}
		})
	}
}

func TestComparePhonesReportsOnlyPhonesThatDiffer(t *testing.T) {
	d1, d2 := model.Digest{1}, model.Digest{2}
	obs := model.Observation{Users: []model.UserObservation{{User: "ann", Items: []model.ObservedItem{
		{Key: "contact/a.vcf", Digest: d1}, {Key: "note/b.ics", Digest: d2},
	}}}}
	full := workload.DeviceStore{ID: "ann/1", User: "ann", Items: []workload.StoredItem{{Key: "contact/a.vcf", Digest: d1}, {Key: "note/b.ics", Digest: d2}}}
	partial := workload.DeviceStore{ID: "ann/2", User: "ann", Items: []workload.StoredItem{{Key: "contact/a.vcf", Digest: d1}}}
	got := comparePhones([]workload.DeviceStore{full, partial}, obs.Users[0])
	if len(got) != 1 || !strings.HasPrefix(got[0], "ann/2:") || !strings.Contains(got[0], "note/b.ics") {
		t.Fatalf("comparePhones = %q, want one line for ann/2 naming note/b.ics", got)
	}
}

func TestValidateRefusesFaultsItsEnvironmentCannotServe(t *testing.T) {
	base := Scenario{Name: "x", Profile: "tiny", Backup: "continuous", Expect: report.ExpectIntact}
	cases := []struct {
		name string
		sc   func(Scenario) Scenario
		want string // "" when valid
	}{
		{"link fault without the proxy", func(s Scenario) Scenario {
			s.Steps = []Step{{Do: Load, Faults: []fault.Spec{{Name: "latency", Target: "phones-syncd"}}}, {Do: Verify}}
			return s
		}, "fault latency needs the fault proxy"},
		{"link fault with the proxy", func(s Scenario) Scenario {
			s.Proxy = true
			s.Steps = []Step{{Do: Load, Faults: []fault.Spec{{Name: "latency", Target: "phones-syncd"}}}, {Do: Verify}}
			return s
		}, ""},
		{"device reset before any phones", func(s Scenario) Scenario {
			s.Steps = []Step{{Do: Inject, Faults: []fault.Spec{{Name: "device-reset"}}}, {Do: Load}, {Do: Verify}}
			return s
		}, "fault device-reset needs the phones of a load"},
		{"device reset during the load", func(s Scenario) Scenario {
			s.Steps = []Step{{Do: Load, Faults: []fault.Spec{{Name: "device-reset"}}}, {Do: Verify}}
			return s
		}, ""},
		{"device reset after the load", func(s Scenario) Scenario {
			s.Steps = []Step{{Do: Load}, {Do: Inject, Faults: []fault.Spec{{Name: "device-reset"}}}, {Do: Recover}, {Do: Verify}}
			return s
		}, ""},
		{"disk-full without a sized volume", func(s Scenario) Scenario {
			s.Steps = []Step{{Do: Load, Faults: []fault.Spec{{Name: "disk-full"}}}, {Do: Verify}}
			return s
		}, "size-limited database volume"},
		{"backup damage without a backup volume", func(s Scenario) Scenario {
			s.Backup = "dump-same-volume"
			s.Steps = []Step{{Do: Load}, {Do: Inject, Faults: []fault.Spec{{Name: "archive-gap"}}}, {Do: Verify}}
			return s
		}, "backup volume"},
		{"negative RPO budget", func(s Scenario) Scenario {
			n := -1
			s.Budgets.LostWrites = &n
			s.Steps = []Step{{Do: Load}, {Do: Verify}}
			return s
		}, "lost writes -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.sc(base).Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("Validate() = %v, want it valid", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("Validate() = %v, want an error mentioning %q", err, c.want)
			}
		})
	}
}

func TestScenariosThatActOnPhonesKeepThem(t *testing.T) {
	for _, c := range []struct {
		steps []Step
		want  bool
	}{
		{[]Step{{Do: Load}, {Do: Verify}}, false},
		{[]Step{{Do: Load}, {Do: ResetPhones}, {Do: Verify}}, true},
		{[]Step{{Do: Load, Faults: []fault.Spec{{Name: "device-reset"}}}, {Do: Verify}}, true},
		{[]Step{{Do: Load, Faults: []fault.Spec{{Name: "kill-9", Target: "syncd"}}}, {Do: Verify}}, false},
	} {
		if got := (Scenario{Steps: c.steps}).keepsPhones(); got != c.want {
			t.Errorf("keepsPhones(%+v) = %v, want %v", c.steps, got, c.want)
		}
	}
}

func TestEveryActionIsNarrated(t *testing.T) {
	sc := Scenario{Profile: "tiny", Backup: "continuous"}
	for _, a := range Actions {
		title, what := Step{Do: a, Name: "p", Faults: []fault.Spec{{Name: "kill-9", Target: "syncd"}}}.narration(sc)
		if title == "" || what == "" {
			t.Errorf("action %s has no narration (%q, %q)", a, title, what)
		}
	}
	if _, what := (Step{Do: Verify, Say: "Check it all."}).narration(sc); what != "Check it all." {
		t.Errorf("a step's own words are not used: %q", what)
	}
}

func TestLoadFaultsStrikeInTheirShareOfThePlannedWrites(t *testing.T) {
	plan := loadPlan([]fault.Spec{{Name: "kill-9", Target: "postgres"}, {Name: "kill-9", Target: "syncd"}})
	sched, err := fault.NewSchedule(42, plan, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range sched.Events {
		if !ev.OnWrites || ev.Writes < 200 || ev.Writes >= 600 || ev.Hold < loadHoldMin || ev.Hold > loadHoldMax {
			t.Errorf("event %+v: want a write trigger in [200, 600) held 2-5 s", ev)
		}
	}
	line := faultSummary([]fault.Result{{Event: sched.Events[0]}})
	if !strings.Contains(line, "after ") || !strings.Contains(line, "planned writes") {
		t.Errorf("fault summary %q", line)
	}
	if faultSummary(nil) != "" {
		t.Error("a load without faults has a fault summary")
	}
}

func TestLoadSummaryNamesKindsNotCovered(t *testing.T) {
	s := workload.Summary{OK: 10, Users: 2, NotCovered: map[model.Kind]string{model.KindPhoto: "no photos collection", model.KindAppData: "no apps"}}
	line := loadSummary(s)
	if !strings.Contains(line, "10 writes acknowledged") || !strings.Contains(line, "not covered: appdata (no apps), photo (no photos collection)") {
		t.Errorf("load summary %q", line)
	}
}

func TestSampleAccountsIsSeededAndBounded(t *testing.T) {
	accts := accounts.Generate(50, 1)
	a := sampleAccounts(accts, 10, 7)
	b := sampleAccounts(accts, 10, 7)
	if len(a) != 10 || a[0] != b[0] || a[9] != b[9] {
		t.Fatalf("sample of 10 from 50: %d, not the same twice", len(a))
	}
	if got := sampleAccounts(accts, 100, 7); len(got) != 50 {
		t.Errorf("a sample larger than the users has %d, want all 50", len(got))
	}
	h := &ledger.History{Users: []ledger.UserHistory{{Name: a[0].Username}, {Name: "someone-else"}}}
	if got := historyOf(h, a); len(got.Users) != 1 || got.Users[0].Name != a[0].Username {
		t.Errorf("historyOf kept %+v, want only the sampled user", got.Users)
	}
}

func TestSmallHelpers(t *testing.T) {
	for n, want := range map[int64]string{12: "12 B", 2048: "2.0 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := first([]string{"a", "b", "c"}, 2); len(got) != 3 || got[2] != "and 1 more" {
		t.Errorf("first = %q", got)
	}
}

func TestKeepBodiesToExplainKeepsOnlyWhatADiffNeeds(t *testing.T) {
	uo := model.UserObservation{User: "ann", Items: []model.ObservedItem{
		{Key: "contact/a.vcf", Body: []byte("BEGIN:VCARD")}, {Key: "contact/b.vcf", Body: []byte("BEGIN:VCARD")}, {Key: "event/c.ics", Body: []byte("BEGIN:VCALENDAR")},
	}}
	ur := verify.UserResult{User: "ann", Changed: []verify.ItemDetail{{Key: "contact/b.vcf"}}, Rewritten: []verify.ItemDetail{{Key: "event/c.ics"}}}
	got := KeepBodiesToExplain(uo, ur)
	if got.Items[0].Body != nil || got.Items[1].Body == nil || got.Items[2].Body == nil {
		t.Errorf("bodies kept: %q %q %q, want only the changed and the rewritten item's", got.Items[0].Body, got.Items[1].Body, got.Items[2].Body)
	}
	if uo.Items[0].Body == nil {
		t.Error("KeepBodiesToExplain changed its argument")
	}
}
