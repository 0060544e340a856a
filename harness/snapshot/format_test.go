package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

func digest(b byte) model.Digest { return model.Digest{b, 1, 2, 3} }

func sampleUsers() []User {
	return []User{
		{User: "alice", Items: []Item{
			{Key: "photo/IMG_1.jpg", Collection: "/dav/alice/photos/", Canon: digest(3), Bytes: digest(3), Size: 30},
			{Key: "contact/a.vcf", Collection: "/dav/alice/contacts/default/", Canon: digest(1), Bytes: digest(2), Size: 10},
		}},
		{User: "bob", Items: []Item{}, NotOffered: []model.Kind{model.KindPhoto}},
		{User: "carol \"c\"", Items: []Item{
			{Key: "event/e.ics", Collection: "/dav/carol/calendars/default/", Canon: digest(4), Bytes: digest(5), Size: 40},
		}},
	}
}

func writeSample(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "before.snap")
	users := sampleUsers()
	w, err := Create(path, "http://dav.example", time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), len(users))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if err := w.Write(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRoundTrip(t *testing.T) {
	path := writeSample(t, t.TempDir())
	s, err := Open(path, Progress{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Header.Server != "http://dav.example" || s.Header.Users != 3 || s.Header.Format != Version || !s.Header.Taken.Equal(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)) {
		t.Errorf("header %+v", s.Header)
	}
	if got := strings.Join(s.Users(), ","); got != `alice,bob,carol "c"` || s.Items() != 3 {
		t.Errorf("users %q, %d items", got, s.Items())
	}
	want := sampleUsers()
	sortItems(want[0].Items)
	for u := range uint32(3) {
		got, err := s.User(u)
		if err != nil {
			t.Fatal(err)
		}
		if got.User != want[u].User || len(got.Items) != len(want[u].Items) {
			t.Fatalf("user %d: %+v, want %+v", u, got, want[u])
		}
		for i := range got.Items {
			if got.Items[i] != want[u].Items[i] {
				t.Errorf("user %d item %d: %+v, want %+v", u, i, got.Items[i], want[u].Items[i])
			}
		}
	}
	uh := s.UserHistory(0)
	if uh.Name != "alice" || len(uh.Items) != 2 || uh.Items[0].Key != "contact/a.vcf" || uh.Items[0].Kind != model.KindContact {
		t.Fatalf("history %+v", uh)
	}
	w := uh.Items[0].Writes
	if len(w) != 1 || w[0].Op != ledger.OpPut || w[0].Outcome != ledger.OK || w[0].Return != 0 || w[0].Digest != digest(1) {
		t.Errorf("writes %+v: want one acknowledged put at 0", w)
	}
	if uh.Find("photo/IMG_1.jpg") == nil {
		t.Error("Find misses an item of the history")
	}
	if b, ok := s.ByteDigest(0, "contact/a.vcf", "/dav/alice/contacts/default/"); !ok || b != digest(2) {
		t.Errorf("byte digest %v %v", b, ok)
	}
	if _, ok := s.ByteDigest(0, "contact/a.vcf", "/elsewhere/"); ok {
		t.Error("byte digest of an item in another collection")
	}
	if got := s.Kinds(); len(got) != 3 || got[0] != model.KindContact || got[1] != model.KindEvent || got[2] != model.KindPhoto {
		t.Errorf("kinds %v", got)
	}
	if s.Err() != nil {
		t.Error(s.Err())
	}
}

// TestCutAnywhereRefused cuts a snapshot at every offset: every prefix is
// refused, none is read as fewer users or items.
func TestCutAnywhereRefused(t *testing.T) {
	dir := t.TempDir()
	full, err := os.ReadFile(writeSample(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.snap")
	for n := range len(full) {
		if err := os.WriteFile(cut, full[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(cut, Progress{})
		if err == nil {
			s.Close()
			t.Fatalf("cut at %d of %d bytes: accepted", n, len(full))
		}
		if !strings.Contains(err.Error(), cut) {
			t.Errorf("cut at %d: error does not name the file: %v", n, err)
		}
		if n > 0 && n < len(full) && !strings.Contains(err.Error(), "cut short") && !strings.Contains(err.Error(), "damaged") {
			t.Errorf("cut at %d: %v: want it called cut short", n, err)
		}
	}
}

// TestFlipAnywhereRefused changes every byte of a snapshot in three ways
// (the low bit, the ASCII case bit, the high bit): every change is refused.
func TestFlipAnywhereRefused(t *testing.T) {
	dir := t.TempDir()
	full, err := os.ReadFile(writeSample(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "flipped.snap")
	for i := range full {
		for _, mask := range []byte{0x01, 0x20, 0x80} {
			b := append([]byte(nil), full...)
			b[i] ^= mask
			if err := os.WriteFile(bad, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if s, err := Open(bad, Progress{}); err == nil {
				s.Close()
				t.Fatalf("byte %d ^ %#x (%q -> %q): accepted", i, mask, full[i], b[i])
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	full, err := os.ReadFile(writeSample(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(full), "\n")
	cases := []struct{ name, content, want string }{
		{"empty", "", "empty file"},
		{"not a snapshot", "hello\n", "not a snapshot header"},
		{"an observation", `{"firedrill_observation":1}` + "\n", "not a snapshot header"},
		{"newer version", strings.Replace(string(full), `"firedrill_snapshot":1`, `"firedrill_snapshot":2`, 1), "format version 2"},
		{"a user line dropped", lines[0] + lines[2] + lines[3] + lines[4], "the header announces 3 users"},
		{"after the trailer", string(full) + "\n", "bytes after the trailer"},
		{"user twice", lines[0] + lines[1] + lines[1] + lines[3] + lines[4], "listed twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.snap")
			if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(p, Progress{})
			if err == nil {
				s.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
		})
	}
	if _, err := Open(filepath.Join(dir, "absent.snap"), Progress{}); err == nil || !strings.Contains(err.Error(), "absent.snap") {
		t.Errorf("absent file: %v", err)
	}
}

// TestWriterLeavesNothingUnfinished: a snapshot that was not finished (fewer
// users than announced, or aborted) is never put at its path.
func TestWriterLeavesNothingUnfinished(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.snap")
	w, err := Create(path, "http://x", time.Now(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(User{User: "a", Items: []Item{}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "1 of 2 users") {
		t.Errorf("close after 1 of 2 users: %v", err)
	}
	w, err = Create(path, "http://x", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(User{User: "a", Items: []Item{{Key: "bogus", Canon: digest(1)}}}); err == nil {
		t.Error("an invalid item key written")
	}
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	if _, err := Create(path, "http://x", time.Now(), 0); err == nil {
		t.Error("a snapshot of no users created")
	}
}

// TestChangedWhileOpen: a user's line rewritten after Open is noticed when
// read again; the user comes back empty and Err says why.
func TestChangedWhileOpen(t *testing.T) {
	path := writeSample(t, t.TempDir())
	s, err := Open(path, Progress{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, _ := os.ReadFile(path)
	i := strings.Index(string(b), `"size":10`)
	b[i+len(`"size":1`)] = '9'
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if uh := s.UserHistory(0); len(uh.Items) != 0 || uh.Name != "alice" {
		t.Errorf("changed line read as %+v", uh)
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "modified") {
		t.Errorf("Err: %v", err)
	}
}

func TestFromObservation(t *testing.T) {
	uo := model.UserObservation{User: "a", Items: []model.ObservedItem{
		{Key: "event/b.ics", Collection: "/c/", Digest: digest(1), Bytes: digest(2), Size: 5},
		{Key: "contact/a.vcf", Collection: "/b/", Digest: digest(3), Bytes: digest(4), Size: 6},
	}, NotCovered: []model.Kind{model.KindPhoto}}
	u, err := FromObservation(uo)
	if err != nil {
		t.Fatal(err)
	}
	if u.Items[0].Key != "contact/a.vcf" || u.Items[1].Canon != digest(1) || u.Items[1].Bytes != digest(2) || len(u.NotOffered) != 1 {
		t.Errorf("%+v", u)
	}
	uo.Items[1].Unreadable = "GET: 500"
	if _, err := FromObservation(uo); err == nil || !strings.Contains(err.Error(), "contact/a.vcf") {
		t.Errorf("unreadable item: %v", err)
	}
	if _, err := FromObservation(model.UserObservation{User: "a", Unreadable: "401"}); err == nil {
		t.Error("unreadable account taken")
	}
}
