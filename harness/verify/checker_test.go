package verify

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
)

// damagedRun is standard(n) with user k missing k of its items (k < 6).
func damagedRun(t *testing.T, n int) (*fixture, Input) {
	f := standard(t, n)
	l := f.load()
	obs := f.observe()
	for k := 1; k < min(n, 6); k++ {
		uo := userObs(&obs, fmt.Sprintf("user%02d", k))
		uo.Items = uo.Items[:len(uo.Items)-k]
	}
	return f, Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now()}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStreamingOrderDoesNotMatter: users fed in any order give the same
// result (but for which users the canary picked).
func TestStreamingOrderDoesNotMatter(t *testing.T) {
	_, in := damagedRun(t, 10)
	want := Check(in)
	want.Canary = nil
	for seed := range uint64(3) {
		users := slices.Clone(in.Observation.Users)
		rand.New(rand.NewPCG(seed, 9)).Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
		c := NewChecker(in)
		for _, uo := range users {
			c.User(uo)
		}
		got := c.Result()
		if got.Canary == nil || got.Canary.Missed() != 0 {
			t.Fatalf("canary %+v", got.Canary)
		}
		got.Canary = nil
		if a, b := jsonOf(t, got), jsonOf(t, want); a != b {
			t.Errorf("order %d:\n got %s\nwant %s", seed, a, b)
		}
	}
}

// TestHistoryAndIndexAgree: a check from a given History and one from the
// checker's own packed index of the ledger give the same result.
func TestHistoryAndIndexAgree(t *testing.T) {
	_, in := damagedRun(t, 8)
	fromIndex := Check(in)
	in.History = in.Ledger.History()
	if a, b := jsonOf(t, Check(in)), jsonOf(t, fromIndex); a != b {
		t.Errorf("History:\n%s\nindex:\n%s", a, b)
	}
}

// TestResultIsBounded: at most Limits.Users users are listed, the most
// damaged first, with at most Limits.Items details per list; the rest are
// counted.
func TestResultIsBounded(t *testing.T) {
	_, in := damagedRun(t, 10)
	in.Limits = Limits{Users: 2, Items: 2, IntactSample: 3}
	res := Check(in)
	if res.Counts.DamagedUsers != 5 || res.Counts.Lost != 1+2+3+4+5 {
		t.Fatalf("counts %+v", res.Counts)
	}
	if len(res.Users) != 2 || res.Users[0].User != "user05" || res.Users[1].User != "user04" || res.MoreUsers != 3 {
		t.Fatalf("listed %d users (%v), %d more; want user05, user04 and 3 more", len(res.Users), res.Users, res.MoreUsers)
	}
	if u := res.Users[0]; len(u.Lost) != 2 || u.Omitted != 3 {
		t.Errorf("user05: %d lost listed, %d omitted; want 2 and 3", len(u.Lost), u.Omitted)
	}
	if !slices.Equal(res.IntactSample, []string{"user00", "user06", "user07"}) {
		t.Errorf("intact sample %q", res.IntactSample)
	}
}

func TestLedgerQueries(t *testing.T) {
	f := standard(t, 2)
	l := f.load()
	f.w.User("nobody") // interned after the load: not in l
	c := NewChecker(Input{Ledger: l, Mode: Latest, RecoveryPoint: f.now()})
	if !c.Wrote("user01") || c.Wrote("mallory") {
		t.Errorf("Wrote: user01 %v, mallory %v", c.Wrote("user01"), c.Wrote("mallory"))
	}
	if got := c.LedgerUsers(); !slices.Equal(got, []string{"user00", "user01"}) {
		t.Errorf("LedgerUsers = %q", got)
	}
	if k, ok := c.KindOf("user00", uuidFor("user00", 3)+".ics"); !ok || k != model.KindEvent {
		t.Errorf("KindOf event = %v %v", k, ok)
	}
	if _, ok := c.KindOf("user00", "nothing.ics"); ok {
		t.Error("KindOf an unknown name found a kind")
	}
}

// TestUndecidedUsers: a stranger or a user listed twice is undecided and
// the result unknown, with the other users still judged.
func TestUndecidedUsers(t *testing.T) {
	f := standard(t, 2)
	l := f.load()
	c := NewChecker(Input{Ledger: l, Mode: Latest, RecoveryPoint: f.now()})
	obs := f.observe()
	if ur := c.User(model.UserObservation{User: "mallory"}); ur.Verdict != Undecided {
		t.Errorf("stranger: %+v", ur)
	}
	c.User(obs.Users[0])
	if ur := c.User(obs.Users[0]); ur.Verdict != Undecided || ur.Reason != "listed more than once in the observation" {
		t.Errorf("twice: %+v", ur)
	}
	c.User(obs.Users[1])
	res := c.Result()
	if res.Status != Unknown || res.FailedAssumption == "" || res.Counts.IntactUsers != 2 || res.Counts.UnknownUsers != 2 {
		t.Errorf("%s (%q): %+v", res.Status, res.FailedAssumption, res.Counts)
	}
}
