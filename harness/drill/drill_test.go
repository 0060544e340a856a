package drill

import (
	"errors"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/fault"
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
		{"two loads", func(s *Scenario) { s.Steps = append([]Step{{Do: Load}}, s.Steps...) }, "at most one load"},
		{"resync before load", func(s *Scenario) { s.Steps = append([]Step{{Do: ResyncPhones}}, s.Steps...) }, "nothing to reset"},
		{"unknown action", func(s *Scenario) { s.Steps[0].Do = "pray" }, "unknown action"},
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
	got := comparePhones([]workload.DeviceStore{full, partial}, obs)
	if len(got) != 1 || !strings.HasPrefix(got[0], "ann/2:") || !strings.Contains(got[0], "note/b.ics") {
		t.Fatalf("comparePhones = %q, want one line for ann/2 naming note/b.ics", got)
	}
}

func TestKeepBodiesOfChangedKeepsOnlyWhatADiffNeeds(t *testing.T) {
	obs := model.Observation{Users: []model.UserObservation{{User: "ann", Items: []model.ObservedItem{
		{Key: "contact/a.vcf", Body: []byte("BEGIN:VCARD")}, {Key: "contact/b.vcf", Body: []byte("BEGIN:VCARD")},
	}}}}
	res := verify.Result{Users: []verify.UserResult{{User: "ann", Changed: []verify.ItemDetail{{Key: "contact/b.vcf"}}}}}
	keepBodiesOfChanged(&obs, res)
	if obs.Users[0].Items[0].Body != nil || obs.Users[0].Items[1].Body == nil {
		t.Errorf("bodies kept: a=%q b=%q, want only the changed item b's", obs.Users[0].Items[0].Body, obs.Users[0].Items[1].Body)
	}
}
