package workload

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// The behaviours of third-party servers that phones must survive, each
// reproduced by memDAV.

// loadAgainst loads users of profile tiny (fast retries) into a memDAV set up
// by configure, and returns the summary.
func loadAgainst(t *testing.T, users int, configure func(mem *memDAV, accts []accounts.Account)) (Summary, *memDAV, string, []accounts.Account) {
	t.Helper()
	p, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	p.PhotoSizes = []profile.Bucket{{Min: 20 << 10, Max: 30 << 10, Weight: 1}}
	p.Retry.Base, p.Retry.Max = profile.Duration(time.Millisecond), profile.Duration(5*time.Millisecond)
	p.Timeout = profile.Duration(10 * time.Second)
	accts := accounts.Generate(users, fleetSeed)
	pass := map[string]string{}
	for _, a := range accts {
		pass[a.Username] = a.Password
	}
	mem := newMemDAV(pass)
	configure(mem, accts)
	srv := httptest.NewServer(mem)
	t.Cleanup(srv.Close)
	lw, err := ledger.Create(filepath.Join(t.TempDir(), "run.ledger"), time.Now(), ledger.Meta{Seed: fleetSeed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lw.Close() })
	sum, err := Load(context.Background(), Config{Server: srv.URL, Accounts: accts, Profile: p, Seed: fleetSeed, Ledger: lw})
	if err != nil {
		t.Fatal(err)
	}
	return sum, mem, srv.URL, accts
}

// everyKindWritten fails unless every kind but those in except had writes
// and all of them were acknowledged.
func everyKindWritten(t *testing.T, sum Summary, except ...model.Kind) {
	t.Helper()
	skip := map[model.Kind]bool{}
	for _, k := range except {
		skip[k] = true
	}
	for _, k := range model.Kinds {
		ks := sum.Kinds[k]
		if skip[k] {
			continue
		}
		if ks.Writes == 0 || ks.Acked != ks.Writes {
			t.Errorf("%s: %+v", k, ks)
		}
	}
	if sum.UsersDone != sum.Users {
		t.Errorf("%d of %d users done: %v", sum.UsersDone, sum.Users, sum.UserErrors)
	}
}

// TestLoadFreshAccount is Radicale: a fresh account has no address book and no
// calendar. The phones make them (extended MKCOL, MKCALENDAR) and write.
func TestLoadFreshAccount(t *testing.T) {
	sum, mem, server, accts := loadAgainst(t, 3, func(mem *memDAV, _ []accounts.Account) { mem.fresh = true })
	everyKindWritten(t, sum)
	if len(sum.NotCovered) != 0 || len(sum.Problems()) != 0 {
		t.Errorf("not covered %v, problems %v", sum.NotCovered, sum.Problems())
	}
	for _, a := range accts {
		home := "/dav/" + a.Username + "/"
		if mem.books[home+"contacts/default/"] != "addressbook" || mem.books[home+"calendars/default/"] != "calendar" {
			t.Errorf("%s: collections made %v", a.Username, mem.books)
		}
	}
	obs, err := observe.Observe(context.Background(), observe.Options{Server: server, Accounts: accts})
	if err != nil {
		t.Fatal(err)
	}
	for _, uo := range obs.Users {
		if uo.Unreadable != "" || len(uo.NotCovered) != 0 || len(uo.Items) == 0 {
			t.Errorf("%s read back: %d items, unreadable %q, not covered %v", uo.User, len(uo.Items), uo.Unreadable, uo.NotCovered)
		}
	}
}

// TestLoadFreshAccountOneComponentPerCalendar is a server that keeps one kind
// of component per calendar and no journals: the phones make a calendar per
// component; notes are not covered, with the server's answer.
func TestLoadFreshAccountOneComponentPerCalendar(t *testing.T) {
	sum, mem, _, accts := loadAgainst(t, 2, func(mem *memDAV, _ []accounts.Account) { mem.fresh, mem.comps = true, "VEVENT VTODO" })
	everyKindWritten(t, sum, model.KindEvent, model.KindTodo, model.KindNote)
	why := sum.NotCovered[model.KindNote]
	if !strings.Contains(why, "VJOURNAL") || !strings.Contains(why, "403") {
		t.Errorf("notes not covered because %q", why)
	}
	if len(sum.Problems()) != 0 {
		t.Errorf("problems %v", sum.Problems())
	}
	// The calendar of all three was refused, so events and tasks got their own.
	home := "/dav/" + accts[0].Username + "/calendars/"
	if mem.books[home+"events/"] != "calendar" || mem.books[home+"tasks/"] != "calendar" || mem.books[home+"default/"] != "" {
		t.Errorf("calendars made %v", mem.books)
	}
	for _, k := range []model.Kind{model.KindEvent, model.KindTodo} {
		if ks := sum.Kinds[k]; ks.Acked == 0 || ks.Acked != ks.Writes {
			t.Errorf("%s: %+v", k, ks)
		}
	}
}

// TestLoadMissingCollectionAs207 is Xandikos and Cyrus: a PROPFIND on a missing
// photo collection answers 207 with an inner 404 and a mangled href. That is a
// missing collection: the phones make it and their photos are written.
func TestLoadMissingCollectionAs207(t *testing.T) {
	sum, _, _, _ := loadAgainst(t, 3, func(mem *memDAV, _ []accounts.Account) { mem.missing207 = true })
	everyKindWritten(t, sum)
	if len(sum.NotCovered) != 0 {
		t.Errorf("not covered %v", sum.NotCovered)
	}
}

// TestLoadMkcolRefused is a server without plain WebDAV collections (Radicale):
// MKCOL of the photo collection gets 405. Photos are not covered, saying why;
// the other kinds are written and the load is no failure.
func TestLoadMkcolRefused(t *testing.T) {
	sum, _, _, _ := loadAgainst(t, 2, func(mem *memDAV, accts []accounts.Account) {
		for _, a := range accts {
			mem.refuseMkcol["/dav/"+a.Username+"/photos/"] = 405
		}
	})
	everyKindWritten(t, sum, model.KindPhoto)
	if why := sum.NotCovered[model.KindPhoto]; !strings.Contains(why, "405") || !strings.Contains(why, "/photos/") {
		t.Errorf("photos not covered because %q", why)
	}
	if ks := sum.Kinds[model.KindPhoto]; ks.Writes != 0 {
		t.Errorf("photos: %+v", ks)
	}
	if len(sum.Problems()) != 0 {
		t.Errorf("problems %v", sum.Problems())
	}
}

// TestLoadEOFDuringDiscovery is syncd killed mid-request: the first PROPFIND of
// the principal and of the app data collection get EOF. The phones retry; app
// data is written, never "not covered".
func TestLoadEOFDuringDiscovery(t *testing.T) {
	sum, _, _, _ := loadAgainst(t, 3, func(mem *memDAV, accts []accounts.Account) {
		for _, a := range accts {
			mem.dropOnce["/dav/principals/"+a.Username+"/"] = true
			mem.dropOnce["/dav/"+a.Username+"/apps/"] = true
		}
	})
	everyKindWritten(t, sum)
	if len(sum.NotCovered) != 0 || sum.Retries < 6 {
		t.Errorf("not covered %v; %d retries", sum.NotCovered, sum.Retries)
	}
}

// TestLoadPutRefusedThroughout is a server that answers 500 to every photo PUT
// (DAViCal with binary bodies): each is retried, none is acknowledged, and the
// load says photos were refused throughout.
func TestLoadPutRefusedThroughout(t *testing.T) {
	sum, mem, _, _ := loadAgainst(t, 2, func(mem *memDAV, _ []accounts.Account) {
		mem.putStatus = func(p string) (int, string) {
			if strings.HasSuffix(p, ".jpg") {
				return 500, ""
			}
			return 0, ""
		}
	})
	everyKindWritten(t, sum, model.KindPhoto)
	ks := sum.Kinds[model.KindPhoto]
	if ks.Writes == 0 || ks.Acked != 0 || ks.Ambiguous != ks.Writes || !strings.Contains(ks.Why, "500") {
		t.Errorf("photos: %+v", ks)
	}
	tries := 0
	for p, times := range mem.putTimes {
		if strings.HasSuffix(p, ".jpg") {
			tries += len(times)
		}
	}
	if want := int(ks.Writes) * 4; tries != want { // profile tiny: 4 attempts
		t.Errorf("%d photo PUTs for %d writes, want %d", tries, ks.Writes, want)
	}
	problems := strings.Join(sum.Problems(), "\n")
	if !strings.Contains(problems, "photo refused throughout") || !strings.Contains(problems, "500") {
		t.Errorf("problems %q", problems)
	}
}

// TestLoadRetryAfter is a server that sheds load: the first PUT of each contact
// gets 503 with Retry-After: 1. The phone waits at least that long before it
// tries again, and the write is acknowledged.
func TestLoadRetryAfter(t *testing.T) {
	var first string
	sum, mem, _, _ := loadAgainst(t, 1, func(mem *memDAV, _ []accounts.Account) {
		mem.putStatus = func(p string) (int, string) {
			if first == "" && strings.HasSuffix(p, ".vcf") {
				first = p
			}
			if p == first && len(mem.putTimes[p]) == 1 {
				return 503, "1"
			}
			return 0, ""
		}
	})
	everyKindWritten(t, sum)
	times := mem.putTimes[first]
	if len(times) < 2 || times[1].Sub(times[0]) < time.Second {
		t.Errorf("PUTs of %s at %v: the retry did not wait for Retry-After", first, times)
	}
}

func TestProblems(t *testing.T) {
	if p := (Summary{}).Problems(); len(p) != 1 || !strings.Contains(p[0], "nothing was written") {
		t.Errorf("empty load: %v", p)
	}
	s := Summary{OK: 3, Attempts: 9, Kinds: map[model.Kind]KindStats{
		model.KindContact: {Writes: 3, Acked: 3},
		model.KindPhoto:   {Writes: 2, Refused: 1, Ambiguous: 1, Why: "PUT x: 403 Forbidden"},
		model.KindNote:    {Writes: 2, Acked: 1, Refused: 1},
	}}
	if p := s.Problems(); len(p) != 1 || !strings.HasPrefix(p[0], "photo refused throughout: none of its 2 writes") || !strings.Contains(p[0], "403") {
		t.Errorf("problems %v", p)
	}
	s.OK, s.Attempts = 0, 4
	if p := s.Problems(); len(p) != 2 || !strings.Contains(p[0], "none of 4 write attempts") {
		t.Errorf("problems %v", p)
	}
}
