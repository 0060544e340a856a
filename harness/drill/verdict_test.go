package drill

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/firedrill/firedrill/harness/verify"
)

// restoreSpans returns timeline entries of a restore whose phases take the
// given seconds one after the other, starting at t0.
func restoreSpans(t0 time.Time, secs ...float64) []timeline.Entry {
	var out []timeline.Entry
	at := t0
	for i, s := range secs {
		end := at.Add(time.Duration(s * float64(time.Second)))
		out = append(out, timeline.Entry{Category: timeline.Restore, Name: []string{"provision", "copy", "wal-replay", "verified"}[i], Start: at, End: end})
		at = end
	}
	return out
}

func TestFillDecidesTheVerdictFromTheFacts(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	intact := Scenario{Name: "x", Expect: report.ExpectIntact, Budgets: Budgets{LostWrites: NoLoss(), RTO: 10 * time.Second}}
	loss := Scenario{Name: "y", Expect: report.ExpectLossDetected}
	pass := &verify.Result{Status: verify.Pass, Reason: "all 3 users intact"}
	lost := &verify.Result{Status: verify.Fail, Reason: "1 of 3 users damaged", RPO: verify.RPO{LostWrites: 2}}
	undecided := &verify.Result{Status: verify.Unknown, Reason: "the ledger is incomplete"}
	cases := []struct {
		name       string
		f          facts
		runErr     error
		verdict    report.Verdict
		reason     string // a part of the reason
		budgetsMet bool
	}{
		{"intact within budgets", facts{scenario: intact, result: pass, timeline: restoreSpans(t0, 1, 2, 3)}, nil, report.Pass, "intact", true},
		{"intact but the restore too slow", facts{scenario: intact, result: pass, timeline: restoreSpans(t0, 4, 4, 4)}, nil, report.Fail, "rto 12.0 s over the limit of 10.0", false},
		{"acked writes lost", facts{scenario: intact, result: lost, timeline: restoreSpans(t0, 1)}, nil, report.Fail, "damaged", false},
		{"loss expected and found", facts{scenario: loss, result: lost}, nil, report.Pass, "loss detected as expected", true},
		{"loss expected, none found", facts{scenario: loss, result: pass}, nil, report.Fail, "did not damage", true},
		{"verifier undecided", facts{scenario: intact, result: undecided}, nil, report.Error, "could not decide", true},
		{"a stage failed", facts{scenario: intact, result: pass}, errors.New("restore: no space left"), report.Error, "no space left", true},
		{"never verified", facts{scenario: intact}, nil, report.Error, "before verification", true},
		{"phones differ after resync", facts{scenario: intact, result: pass, phones: []string{"ann/1: 2 items missing"}}, nil, report.Fail, "phones differ", true},
		{"all of the damage the server's own", facts{scenario: intact, result: lost, timeline: restoreSpans(t0, 1),
			serverOwn: &ServerOwn{Users: 3, Before: 2, After: 2, Same: 2, Complete: true}}, nil, report.Fail, "already so at the check before any fault", false},
		{"damage after the check is not the server's", facts{scenario: intact, result: lost, timeline: restoreSpans(t0, 1),
			serverOwn: &ServerOwn{Users: 3, Before: 2, After: 3, Same: 2, Complete: true}}, nil, report.Fail, "1 of 3 users damaged", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &report.Report{}
			if c.f.result != nil {
				r.RPO.LostAckedWrites = c.f.result.RPO.LostWrites
			}
			if err := fill(r, c.f, c.runErr); err != nil {
				t.Fatal(err)
			}
			if r.Verdict != c.verdict || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("verdict %s (%s), want %s mentioning %q", r.Verdict, r.Reason, c.verdict, c.reason)
			}
			if r.BudgetsMet() != c.budgetsMet {
				t.Errorf("budgets %+v met = %v, want %v", r.Budgets, r.BudgetsMet(), c.budgetsMet)
			}
		})
	}
}

// TestTheRTOHasOneSource checks that the report's RTO is the timeline's
// restore phases and nothing else.
func TestTheRTOHasOneSource(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := &report.Report{}
	f := facts{scenario: Scenario{Expect: report.ExpectIntact}, result: &verify.Result{Status: verify.Pass}, timeline: restoreSpans(t0, 0.5, 1.5, 2), restoredFrom: "restored from base-001"}
	if err := fill(r, f, nil); err != nil {
		t.Fatal(err)
	}
	if len(r.RTO.Phases) != 3 || r.RTO.Seconds != 4 {
		t.Fatalf("RTO = %+v, want 3 phases and 4 s from the timeline", r.RTO)
	}
	if !r.Backup.Verified || r.Backup.Detail != "restored from base-001" {
		t.Errorf("backup = %+v, want verified with the restore's detail", r.Backup)
	}
}

func TestNothingToRestoreIsSaidInTheReport(t *testing.T) {
	r := &report.Report{}
	_ = fill(r, facts{scenario: Scenario{Expect: report.ExpectLossDetected}, nothing: errors.New("its dumps were on san-a"), result: &verify.Result{Status: verify.Fail}}, nil)
	if r.Backup.Verified || !strings.Contains(r.Backup.Detail, "nothing to restore from: its dumps were on san-a") {
		t.Errorf("backup = %+v", r.Backup)
	}
}

func TestBudgetsAppearOnlyWhereTheyApply(t *testing.T) {
	b := Budgets{LostWrites: NoLoss(), RTO: time.Minute}
	if got := budgets(b, false, &report.Report{}); len(got) != 0 {
		t.Errorf("unverified, unrestored run has budgets %+v", got)
	}
	r := &report.Report{RPO: report.RPO{LostAckedWrites: 3}, RTO: report.RTO{Seconds: 30}}
	got := budgets(b, true, r)
	if len(got) != 2 || got[0].Met || !got[1].Met {
		t.Errorf("budgets = %+v, want the RPO budget broken and the RTO budget met", got)
	}
	if got := budgets(Budgets{}, true, r); len(got) != 0 {
		t.Errorf("a scenario without budgets got %+v", got)
	}
}

func TestFillReportsThroughputFromTheLedger(t *testing.T) {
	dir := t.TempDir()
	base := time.Now()
	w, err := ledger.Create(filepath.Join(dir, "ledger.bin"), base, ledger.Meta{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	u := w.User("ann")
	it := w.Item(u, "contact/a.vcf", "/dav/ann/contacts/")
	for i := range 5 {
		rec := ledger.Record{User: u, Item: it, Kind: model.KindContact, Op: ledger.OpPut, Outcome: ledger.OK, Digest: model.Digest{byte(i + 1)}, Size: 10,
			Call: int64(i) * int64(time.Second), Return: int64(i)*int64(time.Second) + 1000}
		if err := w.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Load(filepath.Join(dir, "ledger.bin"))
	if err != nil {
		t.Fatal(err)
	}
	r := &report.Report{Started: base}
	if err := fill(r, facts{scenario: Scenario{Expect: report.ExpectIntact}, ledger: l}, nil); err != nil {
		t.Fatal(err)
	}
	acked := 0.0
	for _, s := range r.Throughput {
		acked += s.Acked
	}
	if acked != 5 {
		t.Errorf("throughput counts %.0f acked writes, want 5: %+v", acked, r.Throughput)
	}
}

func TestReverifyRechecksASavedRun(t *testing.T) {
	root := t.TempDir()
	dir, err := report.NewRunDir(root, "x-1")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now()
	w, err := ledger.Create(dir.LedgerPath(), base, ledger.Meta{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	u := w.User("ann")
	it := w.Item(u, "contact/a.vcf", "/dav/ann/contacts/")
	d := model.Digest{7}
	if err := w.Append(ledger.Record{User: u, Item: it, Kind: model.KindContact, Op: ledger.OpPut, Outcome: ledger.OK, Digest: d, Size: 3, Call: 1, Return: 2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := dir.Write(&report.Report{Schema: report.SchemaVersion, RunID: "x-1", Scenario: "x", Expected: report.ExpectIntact, Started: base, Finished: base.Add(time.Second), Verdict: report.Error, Reason: "not verified yet"}); err != nil {
		t.Fatal(err)
	}
	in := VerifyInput{Mode: verify.Latest, RecoveryPoint: 10}
	if err := writeJSON(filepath.Join(dir.Path, VerifyInputFile), in); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		items   []model.ObservedItem
		verdict report.Verdict
	}{
		{"intact", []model.ObservedItem{{Key: "contact/a.vcf", Digest: d}}, report.Pass},
		{"lost", nil, report.Fail},
	} {
		obs := model.Observation{Users: []model.UserObservation{{User: "ann", Items: c.items}}}
		if err := writeJSON(dir.ObservationPath(), obs); err != nil {
			t.Fatal(err)
		}
		r, err := Reverify(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != c.verdict {
			t.Errorf("%s: verdict %s (%s), want %s", c.name, r.Verdict, r.Reason, c.verdict)
		}
	}
	if err := os.Remove(dir.ObservationPath()); err != nil {
		t.Fatal(err)
	}
	if _, err := Reverify(dir, nil); err == nil || !strings.Contains(err.Error(), "ended before verification") {
		t.Errorf("Reverify without an observation: err = %v", err)
	}
}

// TestTheServersOwnDamageIsNamedOnlyWhenAllOfItWasThere checks that the
// reason credits the server with the damage only when every damaged item was
// damaged the same way before any fault, and the lists were complete.
func TestTheServersOwnDamageIsNamedOnlyWhenAllOfItWasThere(t *testing.T) {
	lost := &verify.Result{Status: verify.Fail, Reason: "1 of 3 users damaged", RPO: verify.RPO{LostWrites: 2}}
	sc := Scenario{Name: "x", Expect: report.ExpectIntact}
	for _, own := range []*ServerOwn{
		{Before: 2, After: 3, Same: 2, Complete: true},
		{Before: 2, After: 2, Same: 2, Complete: false},
		{Before: 0, After: 0, Same: 0, Complete: true},
	} {
		r := &report.Report{}
		if err := fill(r, facts{scenario: sc, result: lost, serverOwn: own}, nil); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(r.Reason, "server's own") {
			t.Errorf("%+v: reason %q credits the server", *own, r.Reason)
		}
	}
}
