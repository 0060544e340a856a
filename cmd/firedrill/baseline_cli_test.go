package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/snapshot"
)

// writeSnapshot writes a valid snapshot of users, each with one app data
// file.
func writeSnapshot(t *testing.T, users ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "before.snap")
	w, err := snapshot.Create(path, "http://test", time.Now(), len(users))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		it := snapshot.Item{Key: "appdata/tetris/highscores.json", Collection: "/dav/" + u + "/apps/tetris/", Canon: model.Digest{1}, Bytes: model.Digest{1}, Size: 13}
		if err := w.Write(snapshot.User{User: u, Items: []snapshot.Item{it}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyBaselineFlags(t *testing.T) {
	users := writeFile(t, "users.csv", "alice,secret\n")
	snap := writeSnapshot(t, "alice")
	led := filepath.Join(t.TempDir(), "run.ledger")
	writeLedger(t, led, "alice")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"both", []string{"--ledger", led, "--baseline", snap}, "--ledger and --baseline exclude each other"},
		{"neither", nil, "missing --ledger or --baseline"},
		{"kinds without a baseline", []string{"--ledger", led, "--kinds", "contact"}, "--kinds goes with --baseline"},
		{"unknown kind", []string{"--baseline", snap, "--kinds", "contact,fax"}, `parse kind "fax"`},
		{"no such file", []string{"--baseline", filepath.Join(t.TempDir(), "nope.snap")}, "nope.snap: no such file"},
		{"a ledger given as a snapshot", []string{"--baseline", led}, "not a snapshot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"verify", "--server", "http://127.0.0.1:1", "--users", users}, c.args...)
			st, _, errOut := runCLI(t, nil, args...)
			if st != exitUsage || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", st, exitUsage, c.want, errOut)
			}
		})
	}
}

// TestVerifyBaselineBadFile: a snapshot cut short or changed is refused with
// exit 2 before any server is asked.
func TestVerifyBaselineBadFile(t *testing.T) {
	users := writeFile(t, "users.csv", "alice,secret\n")
	full, err := os.ReadFile(writeSnapshot(t, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), full...)
	flipped[len(full)/2] ^= 1
	for _, c := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"cut", full[:len(full)-10], "cut short"},
		{"flipped", flipped, "take the snapshot again"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.snap")
			if err := os.WriteFile(p, c.content, 0o644); err != nil {
				t.Fatal(err)
			}
			st, out, errOut := runCLI(t, nil, "verify", "--server", "http://127.0.0.1:1", "--users", users, "--baseline", p)
			if st != exitUsage || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, p) {
				t.Errorf("exit %d, stderr lacks %q:\n%s", st, c.want, errOut)
			}
			if out != "" {
				t.Errorf("a verdict printed for a bad snapshot:\n%s", out)
			}
		})
	}
}

func TestVerifyBaselineUsersMissingFromFile(t *testing.T) {
	users := writeFile(t, "users.csv", "carol,x\n")
	st, _, errOut := runCLI(t, nil, "verify", "--server", "http://127.0.0.1:1", "--users", users, "--baseline", writeSnapshot(t, "alice"))
	if st != exitUsage || !strings.Contains(errOut, "the snapshot holds 1 users missing from") || !strings.Contains(errOut, "(alice)") {
		t.Errorf("exit %d, stderr %q", st, errOut)
	}
}

// TestSnapshotRefusesHoles: a user the server will not serve leaves no
// snapshot behind, and the command says who and why.
func TestSnapshotRefusesHoles(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); ok || r.Method != http.MethodOptions {
			http.Error(w, "who are you", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	users := writeFile(t, "users.csv", "alice,wrong\n")
	out := filepath.Join(t.TempDir(), "before.snap")
	st, _, errOut := runCLI(t, nil, "snapshot", "--server", srv.URL, "--users", users, "--out", out)
	if st != exitFail || !strings.Contains(errOut, "1 of 1 users could not be read in full") || !strings.Contains(errOut, "alice") {
		t.Errorf("exit %d, stderr %q", st, errOut)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	if st, _, errOut := runCLI(t, nil, "snapshot", "--server", srv.URL); st != exitUsage || !strings.Contains(errOut, "missing --out, --users") {
		t.Errorf("snapshot without flags: exit %d, %q", st, errOut)
	}
	if st, _, errOut := runCLI(t, nil, "snapshot", "--server", deadURL(t), "--users", users, "--out", out); st != exitUsage || !strings.Contains(errOut, "nothing answers there") {
		t.Errorf("snapshot of a dead server: exit %d, %q", st, errOut)
	}
}
