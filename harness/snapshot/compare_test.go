package snapshot

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/verify"
)

// body returns a real item body of a kind for a user, so that the canary can
// change one of its properties.
func body(k model.Kind, user, name, text string) []byte {
	switch k {
	case model.KindContact:
		return []byte("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:" + user + "-" + name + "\r\nFN:" + text + "\r\nEND:VCARD\r\n")
	case model.KindEvent, model.KindTodo, model.KindNote:
		comp := map[model.Kind]string{model.KindEvent: "VEVENT", model.KindTodo: "VTODO", model.KindNote: "VJOURNAL"}[k]
		return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//firedrill//test//EN\r\nBEGIN:" + comp + "\r\nUID:" + user + "-" + name +
			"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nSUMMARY:" + text + "\r\nEND:" + comp + "\r\nEND:VCALENDAR\r\n")
	}
	return []byte(user + "/" + name + ": " + text)
}

var collOf = map[model.Kind]string{
	model.KindContact: "contacts/default/", model.KindEvent: "calendars/default/", model.KindTodo: "calendars/default/",
	model.KindNote: "calendars/default/", model.KindPhoto: "photos/", model.KindAppData: "apps/",
}

// item observes one item as the observer would: canonical digest and text,
// byte digest, the collection of the user.
func item(t *testing.T, user string, k model.Kind, name string, b []byte) model.ObservedItem {
	t.Helper()
	d, err := canon.Digest(k, b)
	if err != nil {
		t.Fatal(err)
	}
	it := model.ObservedItem{Key: model.ItemKey(k, name), Collection: "/dav/" + user + "/" + collOf[k], Digest: d, Size: int64(len(b))}
	sum := sha256.Sum256(b)
	copy(it.Bytes[:], sum[:])
	if k.Semantic() {
		if it.Body, err = canon.Canonical(k, b); err != nil {
			t.Fatal(err)
		}
	}
	return it
}

// state is three users, each with one item of every kind.
func state(t *testing.T) model.Observation {
	var obs model.Observation
	for _, user := range []string{"alice", "bob", "carol"} {
		uo := model.UserObservation{User: user}
		for _, k := range model.Kinds {
			name := fmt.Sprintf("%s-1.%s", k, map[bool]string{true: "txt", false: "bin"}[k.Semantic()])
			uo.Items = append(uo.Items, item(t, user, k, name, body(k, user, name, "v1 of "+user)))
		}
		slices.SortFunc(uo.Items, func(a, b model.ObservedItem) int { return strings.Compare(a.Key, b.Key) })
		obs.Users = append(obs.Users, uo)
	}
	return obs
}

func takeSnapshot(t *testing.T, obs model.Observation, drop ...model.Kind) *Snapshot {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.snap")
	w, err := Create(path, "http://dav.example", time.Now(), len(obs.Users))
	if err != nil {
		t.Fatal(err)
	}
	for _, uo := range obs.Users {
		uo.Items = slices.DeleteFunc(slices.Clone(uo.Items), func(it model.ObservedItem) bool {
			k, _, _ := model.SplitItemKey(it.Key)
			return slices.Contains(drop, k)
		})
		u, err := FromObservation(uo)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Progress{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func userObs(obs *model.Observation, user string) *model.UserObservation {
	for i := range obs.Users {
		if obs.Users[i].User == user {
			return &obs.Users[i]
		}
	}
	panic("no user " + user)
}

func findItem(uo *model.UserObservation, key string) int {
	for i := range uo.Items {
		if uo.Items[i].Key == key {
			return i
		}
	}
	panic("no item " + key)
}

// TestCompareWithBaseline checks the verdict classes against a snapshot, one
// kind of change at a time, with the canary proving the checker each time.
func TestCompareWithBaseline(t *testing.T) {
	const contact, event, photo = "contact/contact-1.txt", "event/event-1.txt", "photo/photo-1.bin"
	cases := []struct {
		name   string
		drop   []model.Kind // kinds the snapshot holds nothing of
		damage func(t *testing.T, obs *model.Observation)
		status verify.Status
		// want maps "user class key" to true for every finding expected.
		want   []string
		items  int                          // damaged items, when not len(want)
		counts func(c verify.Counts) string // "" when the counts are right
	}{
		{name: "unchanged", status: verify.Pass, counts: func(c verify.Counts) string {
			if c.IntactUsers != 3 || c.Items != 18 || c.New != 0 || c.Reserialised != 0 {
				return "want 3 intact users, 18 items"
			}
			return ""
		}},
		{name: "item deleted", status: verify.Fail, want: []string{"alice lost " + contact}, damage: func(t *testing.T, obs *model.Observation) {
			uo := userObs(obs, "alice")
			uo.Items = slices.Delete(uo.Items, findItem(uo, contact), findItem(uo, contact)+1)
		}},
		{name: "content changed", status: verify.Fail, want: []string{"bob changed " + event}, damage: func(t *testing.T, obs *model.Observation) {
			uo := userObs(obs, "bob")
			uo.Items[findItem(uo, event)] = item(t, "bob", model.KindEvent, "event-1.txt", body(model.KindEvent, "bob", "event-1.txt", "v2"))
		}},
		{name: "photo byte flipped", status: verify.Fail, want: []string{"bob changed " + photo}, damage: func(t *testing.T, obs *model.Observation) {
			uo := userObs(obs, "bob")
			b := body(model.KindPhoto, "bob", "photo-1.bin", "v1 of bob")
			b[0] ^= 1
			uo.Items[findItem(uo, photo)] = item(t, "bob", model.KindPhoto, "photo-1.bin", b)
		}},
		{name: "re-serialised, same meaning", status: verify.Pass, damage: func(t *testing.T, obs *model.Observation) {
			uo := userObs(obs, "carol")
			b := strings.Replace(string(body(model.KindContact, "carol", "contact-1.txt", "v1 of carol")), "FN:v1 of carol", "FN:v1 o\r\n f carol", 1)
			uo.Items[findItem(uo, contact)] = item(t, "carol", model.KindContact, "contact-1.txt", []byte(b))
		}, counts: func(c verify.Counts) string {
			if c.Reserialised != 1 || c.IntactUsers != 3 {
				return "want 1 re-serialised item, 3 intact users"
			}
			return ""
		}},
		{name: "moved to another collection", status: verify.Fail, want: []string{"alice moved " + photo}, damage: func(t *testing.T, obs *model.Observation) {
			uo := userObs(obs, "alice")
			uo.Items[findItem(uo, photo)].Collection = "/dav/alice/photos/old/"
		}},
		{name: "in another user's account", status: verify.Fail, want: []string{"carol lost " + contact, "carol foreign contact/from-alice.txt"}, damage: func(t *testing.T, obs *model.Observation) {
			// carol's contact replaced by alice's, under alice's key: the
			// content tells whose it is.
			uo := userObs(obs, "carol")
			i := findItem(uo, contact)
			uo.Items[i] = userObs(obs, "alice").Items[findItem(userObs(obs, "alice"), contact)]
			uo.Items[i].Key = "contact/from-alice.txt"
			uo.Items[i].Collection = "/dav/carol/contacts/default/"
		}},
		{name: "new since the snapshot", status: verify.Pass, damage: func(t *testing.T, obs *model.Observation) {
			uo := userObs(obs, "bob")
			uo.Items = append(uo.Items, item(t, "bob", model.KindContact, "new.vcf", body(model.KindContact, "bob", "new.vcf", "hello")))
		}, counts: func(c verify.Counts) string {
			if c.New != 1 || c.IntactUsers != 3 || c.Foreign != 0 {
				return "want 1 new item, not damage"
			}
			return ""
		}},
		{name: "user unreadable now", status: verify.Fail, want: []string{"bob unreadable " + contact}, items: 6, damage: func(t *testing.T, obs *model.Observation) {
			uo := userObs(obs, "bob")
			uo.Items, uo.Unreadable = nil, "PROPFIND /dav/bob/: 401 Unauthorized"
		}, counts: func(c verify.Counts) string {
			if c.UnreadableUsers != 1 || c.IntactUsers != 2 {
				return "want 1 unreadable user, 2 intact"
			}
			return ""
		}},
		{name: "a kind the snapshot holds nothing of", drop: []model.Kind{model.KindAppData}, status: verify.Unknown, damage: func(t *testing.T, obs *model.Observation) {
			for i := range obs.Users {
				uo := &obs.Users[i]
				uo.Items = slices.DeleteFunc(uo.Items, func(it model.ObservedItem) bool { return strings.HasPrefix(it.Key, "appdata/") })
			}
		}, counts: func(c verify.Counts) string {
			if c.IntactUsers != 3 || c.Items != 15 {
				return "want the other 15 items intact"
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obs := state(t)
			s := takeSnapshot(t, obs, c.drop...)
			if c.damage != nil {
				c.damage(t, &obs)
			}
			res := verify.Check(verify.Input{Baseline: s, Observation: obs, Mode: verify.Latest, Planned: model.Kinds})
			if res.Status != c.status {
				t.Errorf("status %s, want %s: %s", res.Status, c.status, res.Reason)
			}
			var got []string
			for _, u := range res.Users {
				got = append(got, u.Problems(100)...)
			}
			for _, w := range c.want {
				f := strings.SplitN(w, " ", 3)
				prefix := f[0] + ": " + f[1] + " " + f[2] + ":"
				if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, prefix) }) {
					t.Errorf("no %q among the findings:\n%s", prefix, strings.Join(got, "\n"))
				}
			}
			if n := max(c.items, len(c.want)); res.Counts.DamagedItems() != n {
				t.Errorf("%d damaged items, want %d:\n%s", res.Counts.DamagedItems(), n, strings.Join(got, "\n"))
			}
			if c.counts != nil {
				if why := c.counts(res.Counts); why != "" {
					t.Errorf("counts %+v: %s", res.Counts, why)
				}
			}
			if res.Canary == nil || res.Canary.Missed() != 0 || res.Canary.Caught < 5 {
				t.Errorf("canary: %+v", res.Canary)
			}
			if s.Err() != nil {
				t.Error(s.Err())
			}
			t.Logf("%s", res.Summary(3, 3))
		})
	}
}

// TestBaselineWording: what a baseline check says names the snapshot, not a
// ledger: a kind it holds nothing of, a new item, a lost one.
func TestBaselineWording(t *testing.T) {
	obs := state(t)
	s := takeSnapshot(t, obs, model.KindAppData)
	for i := range obs.Users {
		obs.Users[i].Items = slices.DeleteFunc(obs.Users[i].Items, func(it model.ObservedItem) bool { return strings.HasPrefix(it.Key, "appdata/") })
	}
	uo := userObs(&obs, "alice")
	uo.Items = append(uo.Items, item(t, "alice", model.KindPhoto, "new.jpg", []byte("new photo")))
	uo.Items = slices.Delete(uo.Items, 0, 1) // alice's contact
	res := verify.Check(verify.Input{Baseline: s, Observation: obs, Mode: verify.Latest, Planned: model.Kinds})
	text := res.Summary(5, 10)
	for _, want := range []string{"missing: the snapshot holds it", "the snapshot holds no appdata of any user"} {
		if !strings.Contains(text+fmt.Sprint(res.Kinds), want) {
			t.Errorf("result lacks %q:\n%s\n%+v", want, text, res.Kinds)
		}
	}
	if len(res.NewSample) != 1 || res.NewSample[0] != "alice photo/new.jpg" {
		t.Errorf("new sample %q", res.NewSample)
	}
	if strings.Contains(text, "ledger") {
		t.Errorf("a baseline result speaks of a ledger:\n%s", text)
	}
}

// TestBaselineOnlyLatest: a snapshot holds one state per item; a
// point-in-time check against it is a failed assumption, not a verdict.
func TestBaselineOnlyLatest(t *testing.T) {
	obs := state(t)
	res := verify.Check(verify.Input{Baseline: takeSnapshot(t, obs), Observation: obs, Mode: verify.PointInTime, Upper: 1})
	if res.Status != verify.Unknown || !strings.Contains(res.FailedAssumption, "with a baseline") {
		t.Errorf("status %s, assumption %q", res.Status, res.FailedAssumption)
	}
}

// TestSameNameInTwoCollections: a user may hold an item name in two
// collections (two calendars, each with its x.ics); both are checked, each
// in its own collection, and neither is taken for the other.
func TestSameNameInTwoCollections(t *testing.T) {
	obs := state(t)
	uo := userObs(&obs, "alice")
	twin := item(t, "alice", model.KindEvent, "event-1.txt", body(model.KindEvent, "alice", "work-event", "at work"))
	twin.Collection = "/dav/alice/calendars/work/"
	uo.Items = append(uo.Items, twin)
	s := takeSnapshot(t, obs)
	check := func(obs model.Observation) verify.Result {
		return verify.Check(verify.Input{Baseline: s, Observation: obs, Mode: verify.Latest, Planned: model.Kinds})
	}
	if res := check(obs); res.Status != verify.Pass || res.Counts.Items != 19 {
		t.Fatalf("unchanged: %s: %s (%d items)", res.Status, res.Reason, res.Counts.Items)
	}
	// The work calendar's copy is gone: that one is lost, the other intact.
	gone := state(t)
	res := check(gone)
	if res.Status != verify.Fail || res.Counts.Lost != 1 || len(res.Users) != 1 || len(res.Users[0].Lost) != 1 ||
		res.Users[0].Lost[0].WantCollection != "/dav/alice/calendars/work/" {
		t.Errorf("work copy gone: %s", res.Summary(3, 5))
	}
	// Their contents swapped between the calendars: both changed.
	swapped := state(t)
	uo = userObs(&swapped, "alice")
	i := findItem(uo, "event/event-1.txt")
	home := uo.Items[i]
	uo.Items[i].Digest, uo.Items[i].Body = twin.Digest, twin.Body
	other := twin
	other.Digest, other.Body = home.Digest, home.Body
	uo.Items = append(uo.Items, other)
	if res := check(swapped); res.Counts.Changed != 2 || res.Counts.Lost != 0 {
		t.Errorf("swapped: %s", res.Summary(3, 5))
	}
	// The work calendar's copy now lives in a third calendar: moved.
	moved := state(t)
	elsewhere := twin
	elsewhere.Collection = "/dav/alice/calendars/old/"
	userObs(&moved, "alice").Items = append(userObs(&moved, "alice").Items, elsewhere)
	if res := check(moved); res.Counts.Moved != 1 || res.Counts.DamagedItems() != 1 || res.Users[0].Moved[0].WantCollection != twin.Collection {
		t.Errorf("moved: %s", res.Summary(3, 5))
	}
}
