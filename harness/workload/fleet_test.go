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
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// fleetSeed gives tinyFleet's users both one and two phones.
const fleetSeed = 3

// tinyFleet loads a fleet of users against an in-memory server with profile
// tiny (small photos, fast retries).
func tinyFleet(t *testing.T, users int) (*Fleet, *memDAV, *httptest.Server, []accounts.Account) {
	t.Helper()
	p, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	p.PhotoSizes = []profile.Bucket{{Min: 50 << 10, Max: 60 << 10, Weight: 1}}
	p.Retry.Base, p.Retry.Max = profile.Duration(time.Millisecond), profile.Duration(5*time.Millisecond)
	p.Timeout = profile.Duration(10 * time.Second)
	accts := accounts.Generate(users, fleetSeed)
	pass := map[string]string{}
	for _, a := range accts {
		pass[a.Username] = a.Password
	}
	mem := newMemDAV(pass)
	srv := httptest.NewServer(mem)
	t.Cleanup(srv.Close)
	lw, err := ledger.Create(filepath.Join(t.TempDir(), "run.ledger"), time.Now(), ledger.Meta{Seed: fleetSeed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lw.Close() })
	f, err := NewFleet(Config{Server: srv.URL, Accounts: accts, Profile: p, Seed: fleetSeed, Ledger: lw})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := f.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.UsersDone != users || sum.Failed+sum.Ambiguous+sum.Conflicts+sum.Refused+sum.ReadErrors != 0 {
		t.Fatalf("load: %+v", sum)
	}
	return f, mem, srv, accts
}

func observeAll(t *testing.T, server string, accts []accounts.Account) map[string]model.UserObservation {
	t.Helper()
	obs, err := observe.Observe(context.Background(), observe.Options{Server: server, Accounts: accts})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]model.UserObservation{}
	for _, u := range obs.Users {
		if u.Unreadable != "" || len(u.NotCovered) > 0 {
			t.Fatalf("observe %s: unreadable %q, not covered %v", u.User, u.Unreadable, u.NotCovered)
		}
		out[u.User] = u
	}
	return out
}

// sameAsServer checks that every phone holds exactly what the server holds for
// its user, and that it holds something.
func sameAsServer(t *testing.T, f *Fleet, obs map[string]model.UserObservation) {
	t.Helper()
	for _, s := range f.Stores() {
		if d := CompareStore(s, obs[s.User]); !d.Empty() {
			t.Errorf("phone %s: %s", s.ID, d)
		}
		if len(s.Items) == 0 || len(s.Items) != len(obs[s.User].Items) {
			t.Errorf("phone %s holds %d items, the server %d", s.ID, len(s.Items), len(obs[s.User].Items))
		}
		for _, it := range s.Items {
			if it.ETag == "" || it.Href == "" || it.Unreadable != "" {
				t.Errorf("phone %s: %+v", s.ID, it)
			}
		}
	}
}

// TestFleetLoadThenEveryPhoneHoldsItsUser loads users with one and two phones:
// afterwards every phone holds all of its user's items, also those its other
// phone wrote, with their ETags and hrefs.
func TestFleetLoadThenEveryPhoneHoldsItsUser(t *testing.T) {
	f, _, srv, accts := tinyFleet(t, 6)
	obs := observeAll(t, srv.URL, accts)
	sameAsServer(t, f, obs)

	// The plan says which phone wrote what: the two-phone users' phones each
	// hold items only the other one wrote.
	g := gen.New(fleetSeed, f.r.prof)
	twoPhones := 0
	for _, a := range accts {
		plan := g.Plan(a.Username)
		if plan.Devices < 2 {
			continue
		}
		twoPhones++
		for n := 0; n < plan.Devices; n++ {
			held := f.byUser[a.Username][n].Store().Digests()
			learned := 0
			for _, op := range plan.Ops {
				if _, ok := held[model.ItemKey(op.Kind, g.Name(a.Username, op.Kind, op.Index))]; ok && op.Op == gen.Create && op.Device != n {
					learned++
				}
			}
			if learned == 0 {
				t.Errorf("phone %s holds nothing its user's other phone wrote", f.byUser[a.Username][n].ID())
			}
		}
	}
	if twoPhones == 0 || twoPhones == len(accts) {
		t.Fatalf("%d of %d users have two phones: pick another seed", twoPhones, len(accts))
	}
	for _, s := range f.Stores() {
		if s.Tokens != 2 {
			t.Errorf("phone %s holds %d sync tokens, want one per address book and calendar (2)", s.ID, s.Tokens)
		}
	}
	if _, err := f.Load(context.Background()); err == nil || !strings.Contains(err.Error(), "loaded already") {
		t.Errorf("a second load: %v", err)
	}
}

// TestFleetResetOutageRestoreResync is the Sidekick story: the server goes down,
// every phone is reset while it is down (no request reaches it), resyncing
// fails cleanly while it is down, the data comes back at a new URL with one item
// lost, and after resync every phone holds what the restored server holds: the
// lost item is gone from the phones too.
func TestFleetResetOutageRestoreResync(t *testing.T) {
	f, mem, srv, accts := tinyFleet(t, 4)
	before := observeAll(t, srv.URL, accts)
	srv.Close()

	n := mem.requests.Load()
	if err := f.ResetDevices(context.Background(), "all"); err != nil {
		t.Fatal(err)
	}
	if got := mem.requests.Load(); got != n {
		t.Errorf("resetting phones made %d requests", got-n)
	}
	for _, s := range f.Stores() {
		if len(s.Items) != 0 || s.Tokens != 0 {
			t.Errorf("phone %s holds %d items and %d tokens after its reset", s.ID, len(s.Items), s.Tokens)
		}
	}

	// A resync against a server that is down fails (it does not hang: the
	// test's own deadline would catch that) and names the phone.
	err := f.ResyncDevices(context.Background(), accts[0].Username)
	if err == nil || !strings.Contains(err.Error(), accts[0].Username+"/1") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("resync while the server is down: %v", err)
	}
	if s := f.byUser[accts[0].Username][0].Store(); len(s.Items) != 0 {
		t.Errorf("a failed resync left %d items", len(s.Items))
	}

	restored := mem.clone()
	lost := before[accts[1].Username].Items[0].Key
	_, name, _ := model.SplitItemKey(lost)
	dir := map[string]string{"contact": "contacts/default/", "event": "calendars/default/", "todo": "calendars/default/",
		"note": "calendars/default/", "photo": "photos/", "appdata": "apps/"}[strings.Split(lost, "/")[0]]
	if !restored.lose("/dav/" + accts[1].Username + "/" + dir + name) {
		t.Fatalf("no file for %s", lost)
	}
	srv2 := httptest.NewServer(restored)
	defer srv2.Close()
	if err := f.SetServer("not a url"); err == nil {
		t.Error("SetServer took a bad URL")
	}
	if err := f.SetServer(srv2.URL); err != nil {
		t.Fatal(err)
	}
	if err := f.ResyncDevices(context.Background(), "all"); err != nil {
		t.Fatal(err)
	}
	after := observeAll(t, srv2.URL, accts)
	sameAsServer(t, f, after)
	for _, s := range f.Stores() {
		d := CompareStore(s, before[s.User])
		want := StoreDiff{}
		if s.User == accts[1].Username {
			want.Missing = []string{lost}
		}
		if d.String() != want.String() {
			t.Errorf("phone %s against the server before the outage: %s, want %s", s.ID, d, want)
		}
	}
}

// TestFleetSyncLearnsChanges has one phone sync again after the server's
// state changed behind its back: it picks up a new, a changed and a deleted
// item from its sync token.
func TestFleetSyncLearnsChanges(t *testing.T) {
	f, mem, srv, accts := tinyFleet(t, 1)
	p := f.phones[0]
	held := p.Store()
	var contact, photo, event StoredItem
	for _, it := range held.Items {
		switch {
		case strings.HasPrefix(it.Key, "contact/") && contact.Key == "":
			contact = it
		case strings.HasPrefix(it.Key, "photo/") && photo.Key == "":
			photo = it
		case strings.HasPrefix(it.Key, "event/") && event.Key == "":
			event = it
		}
	}
	if contact.Key == "" || photo.Key == "" || event.Key == "" {
		t.Fatalf("no contact, photo or event held: %+v", held.Items)
	}
	g := gen.New(fleetSeed, f.r.prof)
	other := g.Item(accts[0].Username, model.KindContact, 0, 7).Body
	mem.mu.Lock()
	mem.seq++
	mem.files[location(contact.Href)] = &memFile{body: other, etag: `"changed"`, seq: mem.seq}
	for _, gone := range []StoredItem{photo, event} {
		mem.seq++
		mem.gone[location(gone.Href)] = mem.seq
		delete(mem.files, location(gone.Href))
	}
	mem.seq++
	extra := "/dav/" + accts[0].Username + "/contacts/default/extra.vcf"
	mem.files[extra] = &memFile{body: g.Item(accts[0].Username, model.KindContact, 99, 0).Body, etag: `"extra"`, seq: mem.seq}
	mem.mu.Unlock()

	d, err := p.device(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.setup(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if errs := d.syncAll(context.Background(), false); len(errs) > 0 {
		t.Fatal(errs)
	}
	if d := CompareStore(p.Store(), observeAll(t, srv.URL, accts)[p.User()]); !d.Empty() {
		t.Errorf("phone %s after its sync: %s", p.ID(), d)
	}
	now := p.Store().Digests()
	if _, ok := now["contact/extra.vcf"]; !ok {
		t.Error("the new contact was not learned")
	}
	for _, gone := range []StoredItem{photo, event} {
		if _, ok := now[gone.Key]; ok {
			t.Errorf("the deleted %s is still held", gone.Key)
		}
	}
	if now[contact.Key] == contact.Digest {
		t.Error("the changed contact still has its old content")
	}
}

func TestPhonesSelector(t *testing.T) {
	p, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	accts := accounts.Generate(5, fleetSeed)
	f, err := NewFleet(Config{Server: "http://127.0.0.1:1", Accounts: accts, Profile: p, Seed: fleetSeed})
	if err != nil {
		t.Fatal(err)
	}
	g := gen.New(fleetSeed, p)
	total := 0
	for _, a := range accts {
		n := g.Devices(a.Username)
		total += n
		got, err := f.Phones(a.Username)
		if err != nil || len(got) != n {
			t.Fatalf("Phones(%s) = %d phones, %v; want %d", a.Username, len(got), err, n)
		}
		for i, ph := range got {
			if ph.ID() != a.Username+"/"+string(rune('1'+i)) || ph.User() != a.Username || ph.Index() != i+1 {
				t.Errorf("phone %d of %s: %s %s %d", i, a.Username, ph.ID(), ph.User(), ph.Index())
			}
		}
	}
	if all, _ := f.Phones("all"); len(all) != total || len(f.Stores()) != total {
		t.Errorf("all: %d phones, %d stores, want %d", len(all), len(f.Stores()), total)
	}
	if one, err := f.Phones(accts[2].Username + "/1"); err != nil || len(one) != 1 || one[0].ID() != accts[2].Username+"/1" {
		t.Errorf("one phone: %v %v", one, err)
	}
	for _, bad := range []string{"nobody", accts[0].Username + "/9", ""} {
		if _, err := f.Phones(bad); err == nil || !strings.Contains(err.Error(), `want "all"`) {
			t.Errorf("Phones(%q): %v", bad, err)
		}
	}
	if _, err := f.Load(context.Background()); err == nil || !strings.Contains(err.Error(), "ledger") {
		t.Errorf("load without a ledger: %v", err)
	}
	if _, err := NewFleet(Config{Server: "http://x", Accounts: append(accts, accts[0]), Profile: p}); err == nil ||
		!strings.Contains(err.Error(), "twice") {
		t.Errorf("a user listed twice: %v", err)
	}
	if _, err := NewFleet(Config{Server: "localhost:8080", Accounts: accts, Profile: p}); err == nil {
		t.Error("NewFleet took a server URL without a scheme")
	}
}

func TestCompareStore(t *testing.T) {
	d1, d2, d3 := model.Digest{1}, model.Digest{2}, model.Digest{3}
	s := DeviceStore{ID: "alice/1", User: "alice", Device: 1, Items: []StoredItem{
		{Key: "contact/a.vcf", Digest: d1}, {Key: "contact/b.vcf", Digest: d2}, {Key: "note/n.ics", Digest: d3},
		{Key: "photo/x.jpg", Unreadable: "truncated"}, {Key: "photo/y.jpg", Unreadable: "truncated"},
	}}
	u := model.UserObservation{User: "alice", Items: []model.ObservedItem{
		{Key: "contact/a.vcf", Digest: d1}, {Key: "contact/b.vcf", Digest: d3}, {Key: "event/e.ics", Digest: d1},
		{Key: "photo/x.jpg", Unreadable: "gone bad"}, {Key: "photo/y.jpg", Digest: d2},
	}}
	d := CompareStore(s, u)
	want := StoreDiff{Missing: []string{"event/e.ics"}, Extra: []string{"note/n.ics"}, Changed: []string{"contact/b.vcf", "photo/y.jpg"}}
	if d.String() != want.String() || d.Empty() {
		t.Errorf("diff %s, want %s", d, want)
	}
	if got := d.String(); got != "1 missing (event/e.ics); 1 extra (note/n.ics); 2 changed (contact/b.vcf, photo/y.jpg)" {
		t.Errorf("String() = %q", got)
	}
	if d := CompareStore(DeviceStore{Items: s.Items[:1]}, model.UserObservation{Items: u.Items[:1]}); !d.Empty() || d.String() != "same items" {
		t.Errorf("equal: %s", d)
	}
}
