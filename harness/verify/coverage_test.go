package verify

import (
	"slices"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

func noteBody(uid, text string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VJOURNAL\r\nUID:" + uid + "\r\nDTSTAMP:20240101T000000Z\r\nDESCRIPTION:" + text + "\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n")
}

// userResult checks obs with a Checker and returns the result and each user's verdict.
func userResults(in Input) (Result, map[string]UserResult) {
	c := NewChecker(in)
	out := map[string]UserResult{}
	users := slices.Clone(in.Observation.Users)
	slices.SortFunc(users, func(a, b model.UserObservation) int { return strings.Compare(a.User, b.User) })
	for _, uo := range users {
		out[uo.User] = c.User(uo)
	}
	return c.Result(), out
}

// TestCoverageIsDecidedFromTheLoad: what the ledger acknowledged is checked
// whatever the observer says; what the server never acknowledged is not
// covered, with the ledger's reason; nothing verified is never a pass.
func TestCoverageIsDecidedFromTheLoad(t *testing.T) {
	type want struct {
		status  Status
		reason  string             // substring of the result's reason
		users   map[string]Verdict // verdicts of some users
		ureason map[string]string  // substrings of some users' reasons
		counts  func(Counts) bool
	}
	cases := []struct {
		name  string
		build func(t *testing.T) (*fixture, model.Observation)
		want  want
	}{
		{"acknowledged kind whose collection vanished is lost, item by item", func(t *testing.T) (*fixture, model.Observation) {
			f := standard(t, 3)
			obs := f.observe()
			uo := userObs(&obs, "user01")
			uo.NotCovered = []model.Kind{model.KindContact}
			uo.Items = slices.DeleteFunc(uo.Items, func(it model.ObservedItem) bool { return strings.HasPrefix(it.Key, "contact/") })
			return f, obs
		}, want{Fail, "1 of 3 users damaged: 2 lost items",
			map[string]Verdict{"user00": Intact, "user01": Damaged},
			map[string]string{"user01": "the server no longer offers contact, of which 2 acknowledged items are lost"},
			func(c Counts) bool { return c.Lost == 2 && c.NotCovered == 0 }}},
		{"a kind refused for every user is not covered", func(t *testing.T) (*fixture, model.Observation) {
			f := standard(t, 2)
			for _, u := range []string{"user00", "user01"} {
				for i := range 6 {
					f.put(u, "note/"+uuidFor(u, 20+i)+".ics", noteBody(uuidFor(u, 20+i), "n"), ledger.Failed, false)
				}
			}
			obs := f.observe()
			for i := range obs.Users {
				obs.Users[i].NotCovered = []model.Kind{model.KindNote}
			}
			return f, obs
		}, want{Unknown, "12 items of kinds the server acknowledged no write of (note: 12 writes refused, none acknowledged; 2 users' servers offer no note collection) were not verified",
			map[string]Verdict{"user00": NotCovered, "user01": NotCovered},
			map[string]string{"user00": "note: 12 writes refused, none acknowledged in the whole load; the server offers no note collection"},
			func(c Counts) bool { return c.NotCovered == 12 && c.NotCoveredUsers == 2 && c.Items == 14 }}},
		{"a kind only ambiguous everywhere is not covered", func(t *testing.T) (*fixture, model.Observation) {
			f := standard(t, 2)
			f.put("user00", "note/n1.ics", noteBody("n1", "maybe"), ledger.Ambiguous, true)
			return f, f.observe()
		}, want{Unknown, "note: 1 writes ambiguous, none acknowledged",
			map[string]Verdict{"user00": NotCovered, "user01": Intact}, nil,
			func(c Counts) bool { return c.NotCovered == 1 }}},
		{"a kind refused for one user but acknowledged for another is covered", func(t *testing.T) (*fixture, model.Observation) {
			f := standard(t, 2)
			f.put("user00", "note/n1.ics", noteBody("n1", "refused"), ledger.Failed, false)
			f.put("user01", "note/n2.ics", noteBody("n2", "kept"), ledger.OK, true)
			return f, f.observe()
		}, want{Pass, "all 2 users intact",
			map[string]Verdict{"user00": Intact, "user01": Intact}, nil,
			func(c Counts) bool { return c.NotCovered == 0 && c.Items == 16 }}},
		{"a refused write that shows anyway is damage even when not covered", func(t *testing.T) (*fixture, model.Observation) {
			f := standard(t, 1)
			f.put("user00", "note/n1.ics", noteBody("n1", "refused"), ledger.Failed, false)
			obs := f.observe()
			uo := userObs(&obs, "user00")
			uo.Items = append(uo.Items, observeItem("note/n1.ics", noteBody("n1", "refused")))
			return f, obs
		}, want{Fail, "1 changed items",
			map[string]Verdict{"user00": Damaged}, nil,
			func(c Counts) bool { return c.Changed == 1 }}},
		{"a user whose only writes are ambiguous has nothing verified", func(t *testing.T) (*fixture, model.Observation) {
			f := standard(t, 1)
			f.put("ann", "contact/a.vcf", vcardBody("a", "Ann Smith", "+1 555 1234"), ledger.Ambiguous, false)
			return f, f.observe()
		}, want{Unknown, "1 user could not be verified in full",
			map[string]Verdict{"user00": Intact, "ann": NotCovered},
			map[string]string{"ann": "nothing verified: none of the user's writes to 1 items was acknowledged"},
			func(c Counts) bool { return c.NotCoveredUsers == 1 }}},
		{"a fresh account with no collections: the load wrote nothing", func(t *testing.T) (*fixture, model.Observation) {
			f := newFixture(t)
			var obs model.Observation
			for _, u := range []string{"ann", "bob"} {
				f.w.User(u)
				obs.Users = append(obs.Users, model.UserObservation{User: u, NotCovered: slices.Clone(model.Kinds)})
			}
			return f, obs
		}, want{Unknown, "nothing verified",
			map[string]Verdict{"ann": NotCovered, "bob": NotCovered},
			map[string]string{"ann": "nothing verified: the ledger holds no write for this user"},
			func(c Counts) bool { return c.Items == 0 && c.Acked == 0 && c.IntactUsers == 0 }}},
		{"every write refused: nothing verified", func(t *testing.T) (*fixture, model.Observation) {
			f := newFixture(t)
			for i := range 20 {
				f.put("ann", "contact/"+uuidFor("ann", i)+".vcf", vcardBody(uuidFor("ann", i), "Ann Smith", "+1 555 1234"), ledger.Failed, false)
			}
			return f, f.observe()
		}, want{Unknown, "nothing verified",
			map[string]Verdict{"ann": NotCovered},
			map[string]string{"ann": "contact: 20 writes refused, none acknowledged"},
			func(c Counts) bool { return c.NotCovered == 20 && c.Items == 0 }}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, obs := tc.build(t)
			l := f.load()
			res, users := userResults(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now()})
			if res.Status != tc.want.status || !strings.Contains(res.Reason, tc.want.reason) {
				t.Errorf("%s: %s; want %s containing %q", res.Status, res.Reason, tc.want.status, tc.want.reason)
			}
			for u, v := range tc.want.users {
				if users[u].Verdict != v {
					t.Errorf("%s: verdict %s (%s), want %s", u, users[u].Verdict, users[u].Reason, v)
				}
			}
			for u, r := range tc.want.ureason {
				if !strings.Contains(users[u].Reason, r) {
					t.Errorf("%s: reason %q, want it to contain %q", u, users[u].Reason, r)
				}
			}
			if !tc.want.counts(res.Counts) {
				t.Errorf("counts %+v", res.Counts)
			}
		})
	}
}

// TestKindSummaries: the per-kind summary carries the ledger's figures and
// what was found.
func TestKindSummaries(t *testing.T) {
	f := standard(t, 2)
	f.put("user00", "note/n1.ics", noteBody("n1", "x"), ledger.Failed, false)
	l := f.load()
	obs := f.observe()
	removeItem(userObs(&obs, "user01"), "photo/IMG_0001.jpg")
	res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now()})
	byKind := map[string]KindSummary{}
	for _, k := range res.Kinds {
		byKind[k.Kind] = k
	}
	if p := byKind["photo"]; !p.Covered || p.Writes != 2 || p.AckedWrites != 2 || p.Items != 2 || p.Lost != 1 || p.Users != 2 {
		t.Errorf("photo summary %+v", p)
	}
	if n := byKind["note"]; n.Covered || n.Refused != 1 || n.Reason != "1 writes refused, none acknowledged" || n.NotCovered != 1 {
		t.Errorf("note summary %+v", n)
	}
	if !slices.Equal(res.NotCovered, []string{"note"}) || res.Counts.Refused != 1 {
		t.Errorf("not covered %q, refused %d", res.NotCovered, res.Counts.Refused)
	}
}

// TestAPlannedKindNeverWrittenIsNotCovered: a server that offered no photo
// collection (and refused to make one) leaves the ledger without a single
// photo write; the kinds the load planned say that photos were not covered,
// and the run is not a pass.
func TestAPlannedKindNeverWrittenIsNotCovered(t *testing.T) {
	f := newFixture(t)
	f.put("ann", "note/a.ics", noteBody("a", "x"), ledger.OK, true)
	in := Input{Ledger: f.load(), Observation: f.observe(), Mode: Latest, RecoveryPoint: f.now(), Planned: []model.Kind{model.KindNote, model.KindPhoto}}
	res := Check(in)
	if res.Status != Unknown || !slices.Contains(res.NotCovered, "photo") || !strings.Contains(res.Reason, "planned photos but made no write") {
		t.Fatalf("status %s, not covered %v: %s; want unknown with photos not covered", res.Status, res.NotCovered, res.Reason)
	}
	in.Planned = []model.Kind{model.KindNote}
	if res := Check(in); res.Status != Pass {
		t.Errorf("with only notes planned: status %s (%s), want pass", res.Status, res.Reason)
	}
}

func TestTheReasonCountsUsersAsTheTableDoes(t *testing.T) {
	for _, c := range []struct {
		n    Counts
		want string
	}{
		{Counts{Users: 10, DamagedUsers: 10, UnreadableUsers: 10}, "10 of 10 users unreadable"},
		{Counts{Users: 10, DamagedUsers: 3}, "3 of 10 users damaged"},
		{Counts{Users: 10, DamagedUsers: 4, UnreadableUsers: 1}, "3 of 10 users damaged, 1 unreadable"},
	} {
		if got := usersNotIntact(c.n); got != c.want {
			t.Errorf("usersNotIntact(%+v) = %q, want %q", c.n, got, c.want)
		}
	}
}
