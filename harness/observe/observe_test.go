package observe

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// fixture builds a server with n users holding two items of every kind each,
// and the digests their items must observe as.
func fixture(t *testing.T, n int) (*scripted, []accounts.Account, map[string]map[string]model.Digest) {
	t.Helper()
	p, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	g := gen.New(5, p)
	s := newScripted()
	t.Cleanup(func() { close(s.stalledCh) })
	accts := accounts.Generate(n, 5)
	want := map[string]map[string]model.Digest{}
	for _, a := range accts {
		s.pass[a.Username] = a.Password
		want[a.Username] = map[string]model.Digest{}
		home := "/dav/" + a.Username + "/"
		for _, k := range model.Kinds {
			for i := 0; i < 2; i++ {
				it := g.Item(a.Username, k, i, 0)
				s.files[home+collectionOf(k)+it.Name] = it.Body
				d, err := canon.Digest(k, it.Body)
				if err != nil {
					t.Fatal(err)
				}
				want[a.Username][it.Key()] = d
			}
		}
	}
	return s, accts, want
}

// collectionOf is where the scripted server keeps a kind, below a user's home.
func collectionOf(k model.Kind) string {
	return map[model.Kind]string{model.KindContact: "contacts/default/", model.KindEvent: "calendars/default/",
		model.KindTodo: "calendars/default/", model.KindNote: "calendars/default/", model.KindPhoto: "photos/",
		model.KindAppData: "apps/"}[k]
}

func observeWith(t *testing.T, s *scripted, accts []accounts.Account, opts Options) *model.Observation {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	opts.Server, opts.Accounts = srv.URL, accts
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obs, err := Observe(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

// checkIntact fails unless every user was read whole with the digests wanted.
func checkIntact(t *testing.T, obs *model.Observation, accts []accounts.Account, want map[string]map[string]model.Digest) {
	t.Helper()
	if len(obs.Users) != len(accts) {
		t.Fatalf("%d users observed, want %d", len(obs.Users), len(accts))
	}
	for i, uo := range obs.Users {
		if uo.User != accts[i].Username || uo.Unreadable != "" || len(uo.NotCovered) != 0 {
			t.Fatalf("user %d: %s unreadable %q not covered %v", i, uo.User, uo.Unreadable, uo.NotCovered)
		}
		got := map[string]model.Digest{}
		for _, it := range uo.Items {
			if it.Unreadable != "" {
				t.Errorf("%s %s unreadable: %s", uo.User, it.Key, it.Unreadable)
			}
			got[it.Key] = it.Digest
		}
		if len(got) != len(want[uo.User]) {
			t.Errorf("%s: %d items, want %d: %v", uo.User, len(got), len(want[uo.User]), got)
		}
		for key, d := range want[uo.User] {
			if got[key] != d {
				t.Errorf("%s %s: digest %v, want %v", uo.User, key, got[key], d)
			}
		}
	}
}

func TestObserveIntact(t *testing.T) {
	s, accts, want := fixture(t, 5)
	obs := observeWith(t, s, accts, Options{KeepBodies: true, BatchSize: 3, Concurrency: 2})
	checkIntact(t, obs, accts, want)
	for _, uo := range obs.Users {
		for _, it := range uo.Items {
			k, _, _ := model.SplitItemKey(it.Key)
			if k.Semantic() != (len(it.Body) > 0) {
				t.Errorf("%s %s: kept body of %d bytes", uo.User, it.Key, len(it.Body))
			}
			// Collections are named by their paths, an app's files by the app's.
			wantColl := "/dav/" + uo.User + "/" + collectionOf(k)
			if k == model.KindAppData {
				wantColl += strings.Split(strings.TrimPrefix(it.Key, "appdata/"), "/")[0] + "/"
			}
			if it.Collection != wantColl {
				t.Errorf("%s %s: collection %q, want %q", uo.User, it.Key, it.Collection, wantColl)
			}
		}
	}
}

func TestObservePagedSync(t *testing.T) {
	s, accts, want := fixture(t, 2)
	s.fault["paged"] = "*"
	checkIntact(t, observeWith(t, s, accts, Options{}), accts, want)
	s.fault["inline-data"] = "*"
	checkIntact(t, observeWith(t, s, accts, Options{}), accts, want)
}

func unreadableItems(uo model.UserObservation) []string {
	var out []string
	for _, it := range uo.Items {
		if it.Unreadable != "" {
			out = append(out, it.Key)
		}
	}
	return out
}

func TestObserveGarbage(t *testing.T) {
	s, accts, want := fixture(t, 7)
	u := func(i int) string { return accts[i].Username }
	s.fault["listing-garbage"] = u(0)
	s.fault["photo-truncated"] = u(2)
	s.fault["principal-garbage"] = u(3)
	s.fault["no-caldav"] = u(4)
	s.fault["no-photos"] = u(4)
	// user 1: multiget and GET both cut short; user 6: multiget alone.
	s.fault["multiget-truncated"] = "*"
	s.fault["get-truncated"] = u(1)
	// user 5: a contact that is not a vCard.
	for _, f := range sortedKeys(s.files) {
		if strings.HasPrefix(f, "/dav/"+u(5)+"/contacts/") {
			s.files[f] = []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:half a card")
			break
		}
	}
	// The hint, as verify gives it from the ledger, names the kind of calendar
	// objects whose bodies could not be read.
	hint := func(user, name string) (model.Kind, bool) {
		for key := range want[user] {
			if k, n, _ := model.SplitItemKey(key); n == name {
				return k, true
			}
		}
		return 0, false
	}
	obs := observeWith(t, s, accts, Options{KindHint: hint, Attempts: 2})
	by := map[string]model.UserObservation{}
	for _, uo := range obs.Users {
		by[uo.User] = uo
	}
	if uo := by[u(0)]; !strings.Contains(uo.Unreadable, "garbage") {
		t.Errorf("garbage listing: user unreadable = %q", uo.Unreadable)
	}
	if uo := by[u(1)]; len(unreadableItems(uo)) != 8 {
		t.Errorf("truncated multiget and GET: unreadable items %v, want every contact and calendar object", unreadableItems(uo))
	} else {
		for _, it := range uo.Items {
			if _, ok := want[u(1)][it.Key]; !ok {
				t.Errorf("truncated multiget: item %s is not one of the user's keys", it.Key)
			}
			if it.Unreadable != "" && (!strings.Contains(it.Unreadable, "multiget: ") || !strings.Contains(it.Unreadable, "GET: ") ||
				!strings.Contains(it.Unreadable, "truncated body")) {
				t.Errorf("truncated multiget: %s unreadable %q", it.Key, it.Unreadable)
			}
		}
	}
	if uo := by[u(2)]; len(unreadableItems(uo)) != 2 || !strings.HasPrefix(unreadableItems(uo)[0], "photo/") {
		t.Errorf("truncated photos: unreadable items %v", unreadableItems(uo))
	}
	if uo := by[u(3)]; uo.Unreadable == "" || len(uo.Items) != 0 {
		t.Errorf("garbage principal: unreadable %q with %d items", uo.Unreadable, len(uo.Items))
	}
	if uo := by[u(4)]; fmt.Sprint(uo.NotCovered) != "[event todo note photo]" || uo.Unreadable != "" {
		t.Errorf("no CalDAV, no photos: not covered %v, unreadable %q", uo.NotCovered, uo.Unreadable)
	}
	if uo := by[u(5)]; len(unreadableItems(uo)) != 1 || !strings.HasPrefix(unreadableItems(uo)[0], "contact/") {
		t.Errorf("half a vCard: unreadable items %v", unreadableItems(uo))
	}
	if n := len(by[u(5)].Items); n != len(want[u(5)]) {
		t.Errorf("half a vCard: %d items, want %d", n, len(want[u(5)]))
	}
	// A multiget cut short does not make objects unreadable that GET serves.
	if uo := by[u(6)]; uo.Unreadable != "" || len(unreadableItems(uo)) != 0 || len(uo.Items) != len(want[u(6)]) {
		t.Errorf("truncated multiget, GET fine: unreadable %q, items %v", uo.Unreadable, unreadableItems(uo))
	}
}

func TestObserveWrongPassword(t *testing.T) {
	s, accts, _ := fixture(t, 2)
	accts[1].Password = "wrong"
	obs := observeWith(t, s, accts, Options{})
	if obs.Users[0].Unreadable != "" {
		t.Errorf("right password: unreadable %q", obs.Users[0].Unreadable)
	}
	if got := obs.Users[1].Unreadable; !strings.Contains(got, "login refused") || !strings.Contains(got, "401") {
		t.Errorf("wrong password: unreadable %q, want a refused login", got)
	}
}
