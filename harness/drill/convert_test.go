package drill

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// generatedRun writes a ledger of profile tiny's plan for a few users, every
// write acknowledged, and returns it with the intact observation (bodies
// kept, as the drill's observer keeps them).
func generatedRun(t *testing.T, users ...string) (*ledger.Ledger, model.Observation, int64) {
	t.Helper()
	p, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	g := gen.New(11, p)
	path := filepath.Join(t.TempDir(), "ledger.bin")
	w, err := ledger.Create(path, time.Now(), ledger.Meta{Seed: 11, Profile: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	var obs model.Observation
	clock := int64(time.Second)
	for _, u := range users {
		server := map[string]model.ObservedItem{}
		for _, op := range g.Plan(u).Ops {
			it := g.Item(u, op.Kind, op.Index, op.Version)
			r := ledger.Record{Call: clock, Return: clock + 1e6, User: w.User(u), Item: w.Item(w.User(u), it.Key(), ""), Kind: op.Kind, Outcome: ledger.OK}
			clock += 2e6
			if op.Op == gen.Delete {
				r.Op = ledger.OpDelete
				delete(server, it.Key())
			} else {
				r.Op, r.Size = ledger.OpPut, uint32(len(it.Body))
				if r.Digest, err = canon.Digest(op.Kind, it.Body); err != nil {
					t.Fatal(err)
				}
				o := model.ObservedItem{Key: it.Key(), Digest: r.Digest, Size: int64(len(it.Body))}
				if op.Kind.Semantic() {
					o.Body, _ = canon.Canonical(op.Kind, it.Body)
				}
				server[it.Key()] = o
			}
			if err := w.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		uo := model.UserObservation{User: u}
		for _, o := range server {
			uo.Items = append(uo.Items, o)
		}
		obs.Users = append(obs.Users, uo)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return l, obs, clock
}

// TestCheckAndSaveExplainsAndReverifies: the drill's check explains a changed
// contact property by property from the regenerated bodies, saves the
// observation as a stream with bodies only where a diff is read, and a
// re-verification of the saved stream gives the same result.
func TestCheckAndSaveExplainsAndReverifies(t *testing.T) {
	l, obs, end := generatedRun(t, "ann", "bob", "cy")
	// Change one contact of bob's: its FN.
	var key string
	for i, it := range obs.Users[1].Items {
		if strings.HasPrefix(it.Key, "contact/") {
			body := strings.Replace(string(it.Body), "\nFN:", "\nFN:Not ", 1)
			d, err := canon.Digest(model.KindContact, []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			obs.Users[1].Items[i].Digest, obs.Users[1].Items[i].Body, key = d, []byte(body), it.Key
			break
		}
	}
	in := VerifyInput{Mode: verify.Latest, RecoveryPoint: end}
	path := filepath.Join(t.TempDir(), report.ObservationFile)
	res, err := CheckAndSave(l, Users(&obs), in, path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != verify.Fail || res.Counts.Changed != 1 || res.Canary.Missed() != 0 || res.Canary.Planted != 7 {
		t.Fatalf("%s; canary %+v", res.Summary(3, 3), res.Canary)
	}
	d := res.Users[0].Changed[0]
	if d.Key != key || len(d.Diff) == 0 || !strings.Contains(strings.Join(d.Diff, "\n"), `FN: "`) {
		t.Errorf("changed %s: diff %q, want one explaining FN", d.Key, d.Diff)
	}
	// The stream keeps bob's changed body and no other.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bodies := 0
	for uo, err := range model.NewObservationReader(f).All() {
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range uo.Items {
			if len(it.Body) > 0 {
				bodies++
				if uo.User != "bob" || it.Key != key {
					t.Errorf("saved body of %s %s, which did not change", uo.User, it.Key)
				}
			}
		}
	}
	if bodies != 1 {
		t.Errorf("saved %d bodies, want 1", bodies)
	}
	again, err := CheckSaved(l, path, in)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(again)
	b, _ := json.Marshal(res)
	if string(a) != string(b) {
		t.Errorf("re-verified offline:\n%s\nat the run:\n%s", a, b)
	}
	// An old run's whole-observation file reads as well.
	old := filepath.Join(t.TempDir(), report.LegacyObservationFile)
	ob, _ := json.Marshal(obs)
	if err := os.WriteFile(old, ob, 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := CheckSaved(l, old, in); err != nil || res.Counts.Changed != 1 {
		t.Errorf("legacy observation: %v, %s", err, res.Summary(2, 2))
	}
	if _, err := CheckSaved(l, filepath.Join(t.TempDir(), "none.jsonl"), in); err == nil || !strings.Contains(err.Error(), "ended before verification") {
		t.Errorf("missing observation: %v", err)
	}
}

// TestFillFromVerifyCarriesEveryClass: the report gets the new classes, kinds,
// canary and notes, and a broken verifier is an error whatever the scenario
// expects.
func TestFillFromVerifyCarriesEveryClass(t *testing.T) {
	l, _, _ := generatedRun(t, "ann")
	res := verify.Result{Status: verify.Error, Reason: "the verifier is broken, its verdicts cannot be trusted: canary moved ...",
		Counts: verify.Counts{Users: 3, IntactUsers: 1, DamagedUsers: 1, RewrittenUsers: 1, Moved: 1, Duplicate: 2, Rewritten: 1},
		Kinds:  []verify.KindSummary{{Kind: "contact", Covered: true, Moved: 1, Duplicate: 2}},
		Notes:  []string{"collections not compared"},
		Canary: &verify.CanaryResult{Planted: 7, Caught: 6, Plants: []verify.CanaryPlant{{Damage: verify.PlantMoved, Class: "moved", Planted: true}}},
		Users: []verify.UserResult{
			{User: "bob", Verdict: verify.Damaged, Moved: []verify.ItemDetail{{Key: "contact/a.vcf", WantCollection: "/a/", GotCollections: []string{"/b/"}, LastAcked: -1}},
				Duplicate: []verify.ItemDetail{{Key: "contact/b.vcf", LastAcked: -1}, {Key: "contact/c.vcf", LastAcked: -1}}, Omitted: 4},
			{User: "cy", Verdict: verify.Rewritten, Rewritten: []verify.ItemDetail{{Key: "event/e.ics", Rewrites: []string{"DURATION: PT60M -> PT1H"}, LastAcked: -1}}},
		},
		MoreUsers: 5, IntactSample: []string{"ann"}}
	r := &report.Report{Scenario: "x", Expected: report.ExpectLossDetected}
	FillFromVerify(r, res, l)
	if r.Users.Rewritten != 1 || r.Items.Moved != 1 || r.Items.Duplicate != 2 || r.Items.Rewritten != 1 || r.MoreUserVerdicts != 5 || r.Canary.Caught != 6 || len(r.Kinds) != 1 || len(r.Notes) != 1 {
		t.Fatalf("report %+v", r)
	}
	if len(r.UserVerdicts) != 2 || r.UserVerdicts[0].User != "bob" || r.UserVerdicts[0].MoreItems != 4 || r.UserVerdicts[0].Items[0].GotCollections[0] != "/b/" {
		t.Errorf("verdicts %+v", r.UserVerdicts)
	}
	if cy := r.UserVerdicts[1]; cy.Status != report.StatusRewritten || !strings.Contains(strings.Join(cy.Items[0].Detail, "\n"), "rewrite: DURATION") {
		t.Errorf("cy %+v", cy)
	}
	for _, sc := range []Scenario{{Expect: report.ExpectLossDetected}, {Expect: report.ExpectIntact}} {
		if v, actual, _ := judge(sc, &res, nil, r); v != report.Error || actual != report.FoundUnknown {
			t.Errorf("expect %s, broken verifier: verdict %s, actual %s; want error", sc.Expect, v, actual)
		}
	}
}
