package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/fixtures/profiles"
	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// runCLI runs firedrill in-process and returns its exit status and output.
func runCLI(t *testing.T, environ map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return environ[k] }}
	// Stop a little before the test binary's deadline, so a stuck run fails with
	// its output rather than a panic.
	deadline := time.Now().Add(30 * time.Minute)
	if d, ok := t.Deadline(); ok {
		deadline = d.Add(-30 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	st := run(ctx, e, args)
	return st, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestUsage(t *testing.T) {
	if st, _, _ := runCLI(t, nil); st != exitUsage {
		t.Errorf("no arguments: exit %d, want %d", st, exitUsage)
	}
	if st, _, errOut := runCLI(t, nil, "frobnicate"); st != exitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %q", st, errOut)
	}
	if st, _, errOut := runCLI(t, nil, "help"); st != exitOK || !strings.Contains(errOut, "load") || !strings.Contains(errOut, "verify") {
		t.Errorf("help: exit %d, %q", st, errOut)
	}
	if st, _, errOut := runCLI(t, nil, "load", "--server", "http://x"); st != exitUsage || !strings.Contains(errOut, "missing --ledger, --users") {
		t.Errorf("load without flags: exit %d, %q", st, errOut)
	}
	if st, _, errOut := runCLI(t, nil, "verify", "--bogus"); st != exitUsage || !strings.Contains(errOut, "bogus") {
		t.Errorf("verify with an unknown flag: exit %d, %q", st, errOut)
	}
}

func TestMalformedUsersFile(t *testing.T) {
	users := writeFile(t, "users.csv", "username,password\nalice,secret\nbob\n")
	led := filepath.Join(t.TempDir(), "run.ledger")
	st, _, errOut := runCLI(t, nil, "load", "--server", "http://127.0.0.1:1", "--users", users, "--ledger", led, "--profile", "tiny", "--seed", "1")
	if st != exitUsage || !strings.Contains(errOut, "users.csv: line 3: 1 fields, want 2 (username,password)") {
		t.Errorf("exit %d, stderr %q", st, errOut)
	}
}

func TestBadSeedAndProfile(t *testing.T) {
	users := writeFile(t, "users.csv", "alice,secret\n")
	led := filepath.Join(t.TempDir(), "run.ledger")
	st, _, errOut := runCLI(t, map[string]string{"FIREDRILL_SEED": "abc"}, "load", "--server", "http://127.0.0.1:1", "--users", users, "--ledger", led)
	if st != exitUsage || !strings.Contains(errOut, `FIREDRILL_SEED="abc": want an integer`) {
		t.Errorf("bad FIREDRILL_SEED: exit %d, %q", st, errOut)
	}
	st, _, errOut = runCLI(t, nil, "load", "--server", "http://127.0.0.1:1", "--users", users, "--ledger", led, "--profile", "huge")
	if st != exitUsage || !strings.Contains(errOut, `no such profile; want one of large, medium, sidekick, small, tiny`) {
		t.Errorf("unknown profile: exit %d, %q", st, errOut)
	}
	st, _, errOut = runCLI(t, nil, "load", "--server", "localhost:8080", "--users", users, "--ledger", led)
	if st != exitUsage || !strings.Contains(errOut, "want http://host[:port]") {
		t.Errorf("server without scheme: exit %d, %q", st, errOut)
	}
}

func TestUnreachableServer(t *testing.T) {
	users := writeFile(t, "users.csv", "alice,secret\n")
	led := filepath.Join(t.TempDir(), "run.ledger")
	server := deadURL(t)
	st, _, errOut := runCLI(t, map[string]string{"FIREDRILL_SEED": "42"}, "load", "--server", server, "--users", users, "--ledger", led, "--profile", "tiny")
	if st != exitFail || !strings.Contains(errOut, "nothing answers there") {
		t.Errorf("load: exit %d, stderr %q", st, errOut)
	}
	if !strings.Contains(errOut, "seed 42 (FIREDRILL_SEED)") {
		t.Errorf("load does not print the seed it took from FIREDRILL_SEED: %q", errOut)
	}
	writeLedger(t, led, "alice")
	st, _, errOut = runCLI(t, nil, "verify", "--server", server, "--users", users, "--ledger", led)
	if st != exitUsage || !strings.Contains(errOut, "nothing answers there") {
		t.Errorf("verify: exit %d, stderr %q", st, errOut)
	}
}

func TestWrongPassword(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); ok || r.Method != http.MethodOptions {
			http.Error(w, "who are you", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	users := writeFile(t, "users.csv", "alice,wrong\n")
	led := filepath.Join(t.TempDir(), "run.ledger")
	st, _, errOut := runCLI(t, nil, "load", "--server", srv.URL, "--users", users, "--ledger", led, "--profile", "tiny", "--seed", "3")
	if st != exitFail || !strings.Contains(errOut, "user alice") || !strings.Contains(errOut, "login refused") {
		t.Errorf("load: exit %d, stderr %q", st, errOut)
	}
	writeLedger(t, led, "alice")
	st, out, _ := runCLI(t, nil, "verify", "--server", srv.URL, "--users", users, "--ledger", led)
	if st != exitFail || !strings.Contains(out, "alice: ") || !strings.Contains(out, "login refused") {
		t.Errorf("verify: exit %d, stdout %q", st, out)
	}
}

// TestGarbageServer points verify at a server that answers every request with
// broken XML: the user is unreadable, and verify neither crashes nor passes.
func TestGarbageServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>/dav/</d:hr`)
	}))
	defer srv.Close()
	users := writeFile(t, "users.csv", "alice,secret\nbob,secret\n")
	led := filepath.Join(t.TempDir(), "run.ledger")
	writeLedger(t, led, "alice")
	out := filepath.Join(t.TempDir(), "out.json")
	st, stdout, errOut := runCLI(t, nil, "verify", "--server", srv.URL, "--users", users, "--ledger", led, "--json", out)
	if st != exitFail || !strings.Contains(stdout, "unreadable") || !strings.Contains(stdout, "garbage") {
		t.Errorf("exit %d, stdout %q", st, stdout)
	}
	if !strings.Contains(errOut, "1 users of") || !strings.Contains(errOut, "(bob)") {
		t.Errorf("verify does not say bob has no writes in the ledger: %q", errOut)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), `"verdict": "unreadable"`) {
		t.Errorf("JSON result: %v %s", err, b)
	}
}

func TestVerifyUsersMissingFromFile(t *testing.T) {
	led := filepath.Join(t.TempDir(), "run.ledger")
	writeLedger(t, led, "alice")
	users := writeFile(t, "users.csv", "carol,x\n")
	st, _, errOut := runCLI(t, nil, "verify", "--server", "http://127.0.0.1:1", "--users", users, "--ledger", led)
	if st != exitUsage || !strings.Contains(errOut, "writes for 1 users missing from") || !strings.Contains(errOut, "(alice)") {
		t.Errorf("exit %d, stderr %q", st, errOut)
	}
}

// writeLedger writes a ledger with one acknowledged app data write for user.
func writeLedger(t *testing.T, path, user string) {
	t.Helper()
	w, err := ledger.Create(path, time.Now(), ledger.Meta{Seed: 9, Profile: "tiny", Server: "http://test"})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"scores":[]}`)
	d, err := canon.Digest(model.KindAppData, body)
	if err != nil {
		t.Fatal(err)
	}
	call := w.Now()
	r := ledger.Record{Call: call, Return: w.Now(), User: w.User(user), Item: w.Item(w.User(user), "appdata/tetris/highscores.json", ""),
		Digest: d, Size: uint32(len(body)), Kind: model.KindAppData, Op: ledger.OpPut, Outcome: ledger.OK}
	if err := w.Append(r); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// hugeProfile writes a profile whose phones alone would need hundreds of GiB
// of memory: 1,024 users at once, 8 phones each, 100,000 contacts per user.
func hugeProfile(t *testing.T) string {
	t.Helper()
	small, err := fs.ReadFile(profiles.FS, "small.json")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(small, &p); err != nil {
		t.Fatal(err)
	}
	p["name"], p["concurrency"] = "huge", 1024
	p["devices"] = map[string]int{"min": 8, "max": 8}
	p["items"].(map[string]any)["contact"] = map[string]int{"min": 100000, "max": 100000}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "huge.json", string(b))
}

func TestAProfileTooLargeForTheMachineIsRefusedBeforeAnythingStarts(t *testing.T) {
	huge := hugeProfile(t)
	users := writeFile(t, "users.csv", "alice,secret\n")
	led := filepath.Join(t.TempDir(), "run.ledger")
	st, _, errOut := runCLI(t, nil, "load", "--server", "http://127.0.0.1:1", "--users", users, "--ledger", led, "--profile", huge)
	if st != exitUsage || !strings.Contains(errOut, "refuse profile huge") || !strings.Contains(errOut, "of memory") {
		t.Errorf("load: exit %d, stderr %q", st, errOut)
	}
	if _, err := os.Stat(led); err == nil {
		t.Errorf("the refused load created its ledger")
	}
	reports := t.TempDir()
	st, _, errOut = runCLI(t, nil, "run", "crash-mid-sync", "--profile", huge, "--reports", reports)
	if st != exitUsage || !strings.Contains(errOut, "refuse profile huge") || !strings.Contains(errOut, "of memory") {
		t.Errorf("run: exit %d, stderr %q", st, errOut)
	}
	if entries, _ := os.ReadDir(reports); len(entries) > 0 {
		t.Errorf("the refused run left %d entries in its reports directory", len(entries))
	}
}
