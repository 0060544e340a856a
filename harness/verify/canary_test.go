package verify

import (
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// run feeds every user of in.Observation to a checker, broken on purpose
// when disabled names a class, and returns the result.
func run(in Input, disabled string) Result {
	c := NewChecker(in)
	c.disabled = disabled
	for _, uo := range in.Observation.Users {
		c.User(uo)
	}
	return c.Result()
}

func TestCanaryCatchesEveryDamage(t *testing.T) {
	for _, withCollections := range []bool{false, true} {
		f := standard(t, 4)
		f.collections = withCollections
		l := f.load()
		for _, mode := range []Mode{Latest, PointInTime} {
			in := Input{Ledger: l, Observation: f.observe(), Mode: mode, RecoveryPoint: f.now(), Lower: f.now(), Upper: f.now(), Written: f.writtenBy}
			if withCollections {
				in.Collection = f.collectionOf
			}
			res := run(in, "")
			if res.Status != Pass {
				t.Fatalf("collections=%v %s: %s", withCollections, mode, res.Summary(3, 3))
			}
			k := res.Canary
			if k == nil || k.Planted != 7 || k.Caught != 7 {
				t.Fatalf("collections=%v %s: canary %+v", withCollections, mode, k)
			}
			for _, p := range k.Plants {
				if p.User == "" || p.Key == "" || !strings.Contains(p.Detail, "caught: ") {
					t.Errorf("plant %+v: want its user, key and what the checker said", p)
				}
				if p.Damage == PlantForeign && !strings.Contains(p.Detail, "belongs to ") {
					t.Errorf("foreign plant %+v: the owner must be named", p)
				}
				if p.Damage == PlantChangedProperty && !strings.Contains(p.Detail, "changed FN of contact/") {
					t.Errorf("property plant %+v", p)
				}
			}
			// The canary's copies are not counted.
			if c := res.Counts; c.Users != 4 || c.DamagedItems() != 0 || c.IntactUsers != 4 || res.RPO.LostWrites != 0 {
				t.Errorf("counts %+v, RPO %+v: the canary leaked into the totals", c, res.RPO)
			}
		}
	}
}

// TestBrokenCheckerFailsTheRun breaks the checker one class at a time, as a
// bug would, and expects the canary to turn the run into an error naming
// what was missed, never a pass.
func TestBrokenCheckerFailsTheRun(t *testing.T) {
	f := standard(t, 4)
	f.collections = true
	l := f.load()
	in := Input{Ledger: l, Observation: f.observe(), Mode: Latest, RecoveryPoint: f.now(), Written: f.writtenBy, Collection: f.collectionOf}
	for class, damages := range map[string][]string{
		ClassLost:        {PlantLost},
		ClassChanged:     {PlantChangedProperty, PlantChangedByte},
		ClassResurrected: {PlantResurrected},
		ClassForeign:     {PlantForeign},
		ClassMoved:       {PlantMoved},
		ClassDuplicate:   {PlantDuplicate},
	} {
		res := run(in, class)
		if res.Status != Error || !strings.Contains(res.Reason, "the verifier is broken") {
			t.Errorf("checker blind to %s: %s: %s", class, res.Status, res.Reason)
			continue
		}
		if res.Canary.Missed() != len(damages) {
			t.Errorf("checker blind to %s: %d missed, want %d: %+v", class, res.Canary.Missed(), len(damages), res.Canary.Plants)
		}
		for _, d := range damages {
			if !strings.Contains(res.Reason, "canary "+d+" planted in ") {
				t.Errorf("checker blind to %s: reason %q does not name %s", class, res.Reason, d)
			}
		}
	}
	// Real damage found by a broken checker is still an error: its verdicts
	// cannot be trusted either way.
	obs := cloneObs(in.Observation)
	removeItem(userObs(&obs, "user02"), "photo/IMG_0001.jpg")
	in.Observation = obs
	if res := run(in, ClassMoved); res.Status != Error {
		t.Errorf("damaged run, broken checker: %s", res.Summary(3, 3))
	}
}

// TestCanaryOnDamagedUsers: when the first users are damaged, the canary
// plants into what did pass, and the run fails for its real damage.
func TestCanaryOnDamagedUsers(t *testing.T) {
	f := standard(t, 3)
	l := f.load()
	obs := f.observe()
	for _, u := range []string{"user00", "user01"} {
		uo := userObs(&obs, u)
		uo.Items = uo.Items[:0] // everything lost
	}
	res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now(), Written: f.writtenBy})
	if res.Status != Fail || res.Counts.DamagedUsers != 2 {
		t.Fatalf("%s", res.Summary(3, 3))
	}
	if k := res.Canary; k.Planted != 7 || k.Caught != 7 {
		t.Fatalf("canary %+v", k)
	}
	for _, p := range res.Canary.Plants {
		// Nothing present to damage in user00 and user01; a deleted item to
		// bring back and a foreign item to add, yes. The rest goes into the
		// state the ledger expects for user00.
		if p.Damage != PlantResurrected && p.Damage != PlantForeign && !strings.Contains(p.Detail, "planted into the state the ledger expects") {
			t.Errorf("plant %s into %s: %s", p.Damage, p.User, p.Detail)
		}
	}
}

// TestCanaryInATotalLoss: when every user lost everything, the canary still
// proves every kind of damage on the state the ledger expects.
func TestCanaryInATotalLoss(t *testing.T) {
	f := standard(t, 3)
	f.collections = true
	l := f.load()
	obs := f.observe()
	for i := range obs.Users {
		obs.Users[i].Items = nil
	}
	for _, mode := range []Mode{Latest, PointInTime} {
		in := Input{Ledger: l, Observation: obs, Mode: mode, RecoveryPoint: f.now(), Lower: f.now(), Upper: f.now(), Written: f.writtenBy, Collection: f.collectionOf}
		res := run(in, "")
		if res.Status != Fail || res.Counts.IntactUsers != 0 {
			t.Fatalf("%s: %s", mode, res.Summary(2, 2))
		}
		if k := res.Canary; k.Planted != 7 || k.Caught != 7 {
			t.Errorf("%s: canary %+v", mode, k)
		}
		if res := run(in, ClassMoved); res.Status != Error {
			t.Errorf("%s: a checker blind to moves passed the canary in a total loss: %s", mode, res.Reason)
		}
	}
}

// TestCanaryNotPlantableIsSaid: a ledger without deletes offers nothing to
// resurrect; the canary says so and the run is judged on the rest.
func TestCanaryNotPlantableIsSaid(t *testing.T) {
	f := newFixture(t)
	for i := range 3 {
		f.put("ann", "contact/"+uuidFor("ann", i)+".vcf", vcardBody(uuidFor("ann", i), "Ann Smith", "+1 555 1234"), ledger.OK, true)
	}
	l := f.load()
	res := Check(Input{Ledger: l, Observation: f.observe(), Mode: Latest, RecoveryPoint: f.now()})
	if res.Status != Pass || res.Canary.Planted != 6 || res.Canary.Caught != 6 {
		t.Fatalf("%s; canary %+v", res.Summary(3, 3), res.Canary)
	}
	found := false
	for _, n := range res.Notes {
		found = found || strings.Contains(n, "canary: resurrected not planted: no user had an item deleted")
	}
	if !found {
		t.Errorf("notes %q do not say the resurrection canary was not planted", res.Notes)
	}
	// The single user's foreign plant is an item nobody wrote.
	for _, p := range res.Canary.Plants {
		if p.Damage == PlantForeign && !strings.Contains(p.Detail, "which nobody wrote") {
			t.Errorf("foreign plant %+v", p)
		}
	}
}

// TestCanaryUsesBodiesWhenAtHand: without bodies the property plant is not
// made (said), the others are.
func TestCanaryWithoutBodies(t *testing.T) {
	f := standard(t, 2)
	l := f.load()
	obs := f.observe()
	for i := range obs.Users {
		for j := range obs.Users[i].Items {
			obs.Users[i].Items[j].Body = nil
		}
	}
	res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now()})
	if res.Status != Pass || res.Canary.Planted != 6 || res.Canary.Missed() != 0 {
		t.Fatalf("%s; canary %+v", res.Summary(3, 3), res.Canary)
	}
	for _, p := range res.Canary.Plants {
		if p.Damage == PlantChangedProperty && (p.Planted || !strings.Contains(p.Detail, "whose body was at hand")) {
			t.Errorf("property plant %+v", p)
		}
	}
	_ = model.KindContact
}
