package observe

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/model"
)

// The behaviours of third-party servers that the observer must survive, each
// reproduced by the scripted server.

// TestMissingPhotosAs207 is Xandikos: a PROPFIND on a missing photo collection
// answers 207 with an inner 404 under a mangled href. That is "no photos
// collection" (not covered), never "an empty one" (which would pass for lost).
func TestMissingPhotosAs207(t *testing.T) {
	s, accts, _ := fixture(t, 1)
	s.fault["photos-207-404"] = "*"
	uo := observeWith(t, s, accts, Options{}).Users[0]
	if fmt.Sprint(uo.NotCovered) != "[photo]" || uo.Unreadable != "" {
		t.Errorf("not covered %v, unreadable %q; want photos not covered", uo.NotCovered, uo.Unreadable)
	}
}

// TestFreshAccount is Radicale before any client wrote: no address book and no
// calendar. Those kinds are not covered (the verifier decides from the ledger
// whether that loses anything); photos and app data are read.
func TestFreshAccount(t *testing.T) {
	s, accts, _ := fixture(t, 1)
	s.fault["fresh"] = "*"
	uo := observeWith(t, s, accts, Options{}).Users[0]
	if fmt.Sprint(uo.NotCovered) != "[contact event todo note]" || uo.Unreadable != "" || len(uo.Items) != 4 {
		t.Errorf("not covered %v, unreadable %q, %d items", uo.NotCovered, uo.Unreadable, len(uo.Items))
	}
}

// TestEOFDuringDiscovery is syncd killed mid-request: every discovery PROPFIND
// first gets EOF. A phone would retry; so does the observer, and reads it all.
func TestEOFDuringDiscovery(t *testing.T) {
	s, accts, want := fixture(t, 2)
	s.fault["eof-discovery"] = "*"
	checkIntact(t, observeWith(t, s, accts, Options{}), accts, want)
}

// TestMultiget500OneBadItem is Xandikos with one unparseable stored contact:
// every addressbook-multiget that names it answers 500. The others are read
// (the batch is split), the bad one is fetched alone and reported unreadable.
func TestMultiget500OneBadItem(t *testing.T) {
	s, accts, want := fixture(t, 1)
	user := accts[0].Username
	var contacts []string
	for _, f := range sortedKeys(s.files) {
		if strings.Contains(f, "/contacts/") {
			contacts = append(contacts, f)
		}
	}
	// More contacts than one batch holds, one of them bad.
	g := s.files[contacts[0]]
	for i := 0; i < 9; i++ {
		name := fmt.Sprintf("/dav/%s/contacts/default/extra%d.vcf", user, i)
		body := []byte(strings.Replace(string(g), "END:VCARD", fmt.Sprintf("NOTE:extra %d\r\nEND:VCARD", i), 1))
		s.files[name] = body
		d, err := canon.Digest(model.KindContact, body)
		if err != nil {
			t.Fatal(err)
		}
		want[user]["contact/"+strings.TrimPrefix(name, "/dav/"+user+"/contacts/default/")] = d
	}
	s.bad = "/dav/" + user + "/contacts/default/extra4.vcf"
	s.files[s.bad] = []byte("BEGIN:VCARD\r\nthis is not a vCard\r\n")
	obs := observeWith(t, s, accts, Options{BatchSize: 4, Attempts: 1})
	uo := obs.Users[0]
	if uo.Unreadable != "" {
		t.Fatalf("user unreadable: %s", uo.Unreadable)
	}
	bad := unreadableItems(uo)
	if fmt.Sprint(bad) != "[contact/extra4.vcf]" {
		t.Errorf("unreadable items %v, want only the bad contact", bad)
	}
	for _, it := range uo.Items {
		if it.Unreadable == "" && want[user][it.Key] != it.Digest {
			t.Errorf("%s: digest %v, want %v", it.Key, it.Digest, want[user][it.Key])
		}
	}
	if len(uo.Items) != len(want[user]) {
		t.Errorf("%d items, want %d", len(uo.Items), len(want[user]))
	}
}

// TestRetryAfter503 is a server that sheds load: the first requests get 503
// with Retry-After: 1. The observer waits as asked (the server counts
// requests that came sooner) and reads everything.
func TestRetryAfter503(t *testing.T) {
	s, accts, want := fixture(t, 1)
	s.busy[accts[0].Username] = 2
	checkIntact(t, observeWith(t, s, accts, Options{Attempts: 3}), accts, want)
	if s.tooEarly != 0 {
		t.Errorf("%d requests came before the Retry-After", s.tooEarly)
	}
}

// TestStallingPropfind is a server that answers OPTIONS and never PROPFIND:
// each request ends at its time limit, those users are unreadable with the
// reason, and once users in a row got no answer at all the observation stops
// instead of trying every remaining user.
func TestStallingPropfind(t *testing.T) {
	s, accts, _ := fixture(t, 20)
	s.fault["stall-propfind"] = "*"
	obs := observeWith(t, s, accts, Options{Timeout: 50 * time.Millisecond, Attempts: 2, Concurrency: 2})
	timedOut, notRead := 0, 0
	for _, uo := range obs.Users {
		switch {
		case strings.HasPrefix(uo.Unreadable, "not read: the server stopped answering"):
			notRead++
		case strings.Contains(uo.Unreadable, "no answer"):
			timedOut++
		default:
			t.Errorf("%s: unreadable %q", uo.User, uo.Unreadable)
		}
		if len(uo.Items) != 0 {
			t.Errorf("%s: %d items from a server that never answered", uo.User, len(uo.Items))
		}
	}
	if timedOut < 3 || notRead == 0 || timedOut+notRead != len(accts) {
		t.Errorf("%d users timed out, %d not read; want at least 3 and the rest", timedOut, notRead)
	}
}

// TestMaxDuration bounds the whole observation: a server that stalls every
// request for longer than the observation may last leaves users unreadable,
// saying why, and Observe returns.
func TestMaxDuration(t *testing.T) {
	s, accts, _ := fixture(t, 4)
	s.fault["stall-propfind"] = "*"
	obs := observeWith(t, s, accts, Options{Timeout: time.Minute, MaxDuration: 100 * time.Millisecond, Concurrency: 1})
	for _, uo := range obs.Users {
		if !strings.Contains(uo.Unreadable, "time limit of 100ms ran out") {
			t.Errorf("%s: unreadable %q", uo.User, uo.Unreadable)
		}
	}
}

// TestVCardVersions is Cyrus: it stores what was written and serves each
// contact in the version asked, converting (and losing the PHOTO) when that
// is not the stored one; asked nothing, it serves 3.0. With the version each
// contact was written in, every contact is read as written.
func TestVCardVersions(t *testing.T) {
	s, accts, want := fixture(t, 6)
	s.fault["cyrus"] = "*"
	versions := map[string]string{}
	seen := map[string]int{}
	for f, body := range s.files {
		if strings.HasSuffix(f, ".vcf") {
			v := vcardVersion(body)
			versions[f[strings.LastIndex(f, "/")+1:]] = v
			seen[v]++
		}
	}
	if seen["3.0"] == 0 || seen["4.0"] == 0 {
		t.Fatalf("the fixture's contacts are not of both versions: %v", seen)
	}
	hint := func(user, name string) string { return versions[name] }
	s.fault["inline-data"] = "*"
	checkIntact(t, observeWith(t, s, accts, Options{VCardVersion: hint}), accts, want)
	delete(s.fault, "inline-data")
	checkIntact(t, observeWith(t, s, accts, Options{VCardVersion: hint}), accts, want)

	// Without hints every contact is asked in 4.0: those written in 4.0 are
	// intact (the old observer, asking nothing, got conversions of them).
	obs := observeWith(t, s, accts, Options{})
	for _, uo := range obs.Users {
		for _, it := range uo.Items {
			_, name, _ := model.SplitItemKey(it.Key)
			if versions[name] == "4.0" && it.Digest != want[uo.User][it.Key] {
				t.Errorf("%s %s written in 4.0: not read as written", uo.User, it.Key)
			}
		}
	}
}

// TestInlineData is a server that answers sync-collection with the objects'
// data inline (RFC 6578 allows any property): no multiget is needed.
func TestInlineData(t *testing.T) {
	s, accts, want := fixture(t, 3)
	s.fault["inline-data"] = "*"
	checkIntact(t, observeWith(t, s, accts, Options{}), accts, want)
	if n := s.requests["REPORT multiget"]; n != 0 {
		t.Errorf("%d multigets with the data inline", n)
	}
	if n := s.requests["REPORT sync-collection"]; n != 3*3 {
		t.Errorf("%d sync-collection REPORTs, want 3 per user (address book, calendar, app data)", n)
	}
}

// TestSameKeyInTwoCollections: a contact kept in two address books is reported
// twice, once per collection; the verifier decides that it is a duplicate.
func TestSameKeyInTwoCollections(t *testing.T) {
	s, accts, _ := fixture(t, 1)
	user := accts[0].Username
	s.fault["two-books"] = "*"
	var key string
	for _, f := range sortedKeys(s.files) {
		if strings.Contains(f, "/contacts/default/") {
			other := strings.Replace(f, "/default/", "/other/", 1)
			s.files[other] = s.files[f]
			key = "contact/" + f[strings.LastIndex(f, "/")+1:]
			break
		}
	}
	uo := observeWith(t, s, accts, Options{}).Users[0]
	var colls []string
	for _, it := range uo.Items {
		if it.Key == key {
			colls = append(colls, it.Collection)
		}
	}
	if want := fmt.Sprint([]string{"/dav/" + user + "/contacts/default/", "/dav/" + user + "/contacts/other/"}); fmt.Sprint(colls) != want {
		t.Errorf("%s found in %v, want %v", key, colls, want)
	}
}

// TestEachStreams hands users to the callback in account order, one at a
// time, and stops at the callback's error.
func TestEachStreams(t *testing.T) {
	s, accts, _ := fixture(t, 12)
	srv := httptest.NewServer(s)
	defer srv.Close()
	var got []string
	err := Each(context.Background(), Options{Server: srv.URL, Accounts: accts, Concurrency: 3}, func(uo model.UserObservation) error {
		got = append(got, uo.User)
		if len(uo.Items) == 0 || uo.Unreadable != "" {
			t.Errorf("%s: %d items, unreadable %q", uo.User, len(uo.Items), uo.Unreadable)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range accts {
		if i >= len(got) || got[i] != a.Username {
			t.Fatalf("users came as %v", got)
		}
	}
	stop := errors.New("enough")
	n := 0
	err = Each(context.Background(), Options{Server: srv.URL, Accounts: accts, Concurrency: 3}, func(model.UserObservation) error {
		n++
		if n == 4 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 4 {
		t.Errorf("Each after the callback's error: %v, %d calls", err, n)
	}
	if err := Each(context.Background(), Options{Server: srv.URL}, func(model.UserObservation) error { return nil }); !errors.Is(err, ErrNoAccounts) {
		t.Errorf("no accounts: %v", err)
	}
	if err := Each(context.Background(), Options{Server: "localhost:1", Accounts: accts}, func(model.UserObservation) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "want http://") {
		t.Errorf("bad server URL: %v", err)
	}
}
