package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/firedrill/firedrill/harness/ledger"
)

// FuzzOpen feeds arbitrary files to Open: it never panics, and a file it
// accepts reads back every user it announces, without error.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	good, err := os.ReadFile(writeSample(f, dir))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"firedrill_snapshot":1,"server":"x","taken":"2026-01-01T00:00:00Z","users":1}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.snap")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(p, Progress{})
		if err != nil {
			return
		}
		defer s.Close()
		if len(s.Users()) != s.Header.Users {
			t.Fatalf("accepted with %d users, header says %d", len(s.Users()), s.Header.Users)
		}
		s.Each(func(*ledger.UserHistory) bool { return true })
		if err := s.Err(); err != nil {
			t.Fatalf("accepted, then unreadable: %v", err)
		}
	})
}
