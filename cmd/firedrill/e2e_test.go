package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
)

func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }

var (
	refMu    sync.Mutex
	refStack *stack.Stack
	refURL   string
)

// referenceStack starts the reference stack (PostgreSQL and syncd in containers)
// once per test binary and returns syncd's URL and admin token; the containers
// go when the binary's tests end.
func referenceStack(t testing.TB) (url, token string) {
	t.Helper()
	st, url := startReference(t)
	return url, st.Server.AdminToken
}

func startReference(t testing.TB) (*stack.Stack, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the reference stack in containers")
	}
	refMu.Lock()
	defer refMu.Unlock()
	if refStack != nil {
		return refStack, refURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stacktest.Run(t), stack.WithName("cli-e2e"))
	if err != nil {
		t.Fatalf("start reference stack: %v", err)
	}
	u, err := st.URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	refStack, refURL = st, u
	return refStack, refURL
}

// accountSets counts namedAccounts' calls, so that every call names fresh
// accounts on the shared reference stack, also when -count runs a test again.
var accountSets atomic.Int64

// namedAccounts returns n generated accounts whose names start with prefix and
// a number of their own: two calls never share an account.
func namedAccounts(prefix string, n int, seed int64) []accounts.Account {
	out := accounts.Generate(n, seed)
	set := accountSets.Add(1)
	for i := range out {
		out[i].Username = fmt.Sprintf("%s%d-%s", prefix, set, strings.TrimPrefix(out[i].Username, "user"))
	}
	return out
}

// TestLoadVerifySmall is the end-to-end check: firedrill load with profile
// small, then firedrill verify: all 1,000 users intact.
func TestLoadVerifySmall(t *testing.T) {
	server, token := referenceStack(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users.csv")
	if err := accounts.WriteFile(users, namedAccounts("small", 1000, 2009)); err != nil {
		t.Fatal(err)
	}
	led := filepath.Join(dir, "run.ledger")
	start := time.Now()
	st, out, errOut := runCLI(t, map[string]string{"FIREDRILL_SEED": "2009"}, "load", "--server", server, "--users", users,
		"--profile", "small", "--ledger", led, "--admin-token", token)
	t.Logf("load took %s:\n%s", time.Since(start).Round(time.Second), out)
	if st != exitOK {
		t.Fatalf("load: exit %d\n%s", st, tail(errOut, 20))
	}
	if !strings.Contains(out, "1000 of 1000 users done") || !strings.Contains(out, " 0 failed, 0 ambiguous") {
		t.Errorf("load summary: %s", out)
	}
	start = time.Now()
	st, out, errOut = runCLI(t, nil, "verify", "--server", server, "--users", users, "--ledger", led, "--json", filepath.Join(dir, "out.json"))
	t.Logf("verify took %s:\n%s", time.Since(start).Round(time.Second), out)
	if st != exitOK {
		t.Fatalf("verify: exit %d\n%s\n%s", st, out, tail(errOut, 20))
	}
	if !strings.Contains(out, "pass: all 1000 users intact") {
		t.Errorf("verify: %s", out)
	}
	if !strings.Contains(errOut, "ledger seed 2009") {
		t.Errorf("verify does not print the ledger's seed: %s", tail(errOut, 5))
	}
}

// TestVerifyFindsDamage loads a few users, damages them through the protocol
// (a changed contact property, a deleted photo, a wrong password) and checks
// that verify names exactly those users and items.
func TestVerifyFindsDamage(t *testing.T) {
	server, token := referenceStack(t)
	dir := t.TempDir()
	accts := namedAccounts("dmg", 4, 7)
	users := filepath.Join(dir, "users.csv")
	if err := accounts.WriteFile(users, accts); err != nil {
		t.Fatal(err)
	}
	led := filepath.Join(dir, "run.ledger")
	if st, out, errOut := runCLI(t, nil, "load", "--server", server, "--users", users, "--profile", "tiny",
		"--seed", "7", "--ledger", led, "--admin-token", token); st != exitOK {
		t.Fatalf("load: exit %d\n%s\n%s", st, out, tail(errOut, 20))
	}
	if st, out, _ := runCLI(t, nil, "verify", "--server", server, "--users", users, "--ledger", led); st != exitOK {
		t.Fatalf("verify before damage: exit %d\n%s", st, out)
	}

	l, err := ledger.Load(led)
	if err != nil {
		t.Fatal(err)
	}
	present := presentKeys(l)
	contact := firstKey(present[accts[0].Username], "contact/")
	photo := firstKey(present[accts[1].Username], "photo/")
	if contact == "" || photo == "" {
		t.Fatalf("no contact for %s or photo for %s in the ledger", accts[0].Username, accts[1].Username)
	}
	cURL := fmt.Sprintf("%s/dav/%s/contacts/default/%s", server, accts[0].Username, strings.TrimPrefix(contact, "contact/"))
	body := httpDo(t, "GET", cURL, accts[0], nil, http.StatusOK)
	changed := regexp.MustCompile(`(?m)^FN:[^\r\n]*`).ReplaceAllString(string(body), "FN:Somebody Else")
	httpDo(t, "PUT", cURL, accts[0], []byte(changed), http.StatusNoContent, http.StatusCreated, http.StatusOK)
	httpDo(t, "DELETE", fmt.Sprintf("%s/dav/%s/photos/%s", server, accts[1].Username, strings.TrimPrefix(photo, "photo/")),
		accts[1], nil, http.StatusNoContent, http.StatusOK)
	accts[2].Password = "not-the-password"
	if err := accounts.WriteFile(users, accts); err != nil {
		t.Fatal(err)
	}

	st, out, _ := runCLI(t, nil, "verify", "--server", server, "--users", users, "--ledger", led)
	if st != exitFail {
		t.Fatalf("verify after damage: exit %d, want %d\n%s", st, exitFail, out)
	}
	for _, want := range []string{
		"intact              1",
		"damaged             2",
		"unreadable          1",
		accts[0].Username + ": changed " + contact,
		`FN: `,
		`-> "Somebody Else"`,
		accts[1].Username + ": lost " + photo,
		accts[2].Username + ": account unreadable",
		"401 Unauthorized",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, accts[3].Username+":") {
		t.Errorf("verify blames the intact user %s:\n%s", accts[3].Username, out)
	}
}

// presentKeys returns, per user, the keys whose last acknowledged write is a put.
func presentKeys(l *ledger.Ledger) map[string][]string {
	last := map[string]map[string]ledger.Op{}
	for _, r := range l.Records() {
		if r.Outcome != ledger.OK {
			continue
		}
		u := l.User(r.User)
		if last[u] == nil {
			last[u] = map[string]ledger.Op{}
		}
		last[u][l.ItemKey(r.Item)] = r.Op
	}
	out := map[string][]string{}
	for u, m := range last {
		for k, op := range m {
			if op == ledger.OpPut {
				out[u] = append(out[u], k)
			}
		}
	}
	return out
}

func firstKey(keys []string, prefix string) string {
	best := ""
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) && (best == "" || k < best) {
			best = k
		}
	}
	return best
}

func httpDo(t *testing.T, method, url string, a accounts.Account, body []byte, want ...int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(a.Username, a.Password)
	if body != nil {
		req.Header.Set("Content-Type", "text/vcard; charset=utf-8")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, w := range want {
		if resp.StatusCode == w {
			return b
		}
	}
	t.Fatalf("%s %s: %s, want %v", method, url, resp.Status, want)
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestLoadPopulateThroughTheProtocol loads a profile with users at rest
// against the reference stack as against a server without a bulk import:
// the users at rest get every item of their plans once, through the protocol,
// then the active users their whole plans; verify finds every user intact.
func TestLoadPopulateThroughTheProtocol(t *testing.T) {
	server, token := referenceStack(t)
	dir := t.TempDir()
	accts := namedAccounts("pop", 20, 31)
	users := filepath.Join(dir, "users.csv")
	if err := accounts.WriteFile(users, accts); err != nil {
		t.Fatal(err)
	}
	led := filepath.Join(dir, "run.ledger")
	prof := filepath.Join("testdata", "resting.json") // 20% of the users active
	st, out, errOut := runCLI(t, nil, "load", "--server", server, "--users", users, "--profile", prof,
		"--seed", "31", "--ledger", led, "--admin-token", token, "--populate")
	if st != exitOK {
		t.Fatalf("load --populate: exit %d\n%s\n%s", st, out, tail(errOut, 20))
	}
	for _, want := range []string{"populate: 16 of 16 users done", "load: 4 of 4 users done"} {
		if !strings.Contains(out, want) {
			t.Errorf("load --populate does not say %q:\n%s", want, out)
		}
	}
	l, err := ledger.Load(led)
	if err != nil {
		t.Fatal(err)
	}
	// Users at rest wrote each item once: puts only, one per item.
	active := map[string]bool{}
	act, _ := accounts.SplitActive(accts, 4, 31)
	for _, a := range act {
		active[a.Username] = true
	}
	updatesOfResting := 0
	for _, u := range l.History().Users {
		if active[u.Name] {
			continue
		}
		for _, it := range u.Items {
			updatesOfResting += len(it.Writes) - 1
		}
	}
	if updatesOfResting != 0 {
		t.Errorf("users at rest wrote %d updates or deletes; want every item written once", updatesOfResting)
	}
	st, out, errOut = runCLI(t, nil, "verify", "--server", server, "--users", users, "--ledger", led)
	if st != exitOK || !strings.Contains(out, "pass: all 20 users intact") {
		t.Fatalf("verify: exit %d\n%s\n%s", st, out, tail(errOut, 20))
	}

	// A profile with every user active has nobody at rest to populate.
	st, _, errOut = runCLI(t, nil, "load", "--server", server, "--users", users, "--profile", "tiny",
		"--seed", "31", "--ledger", filepath.Join(dir, "again.ledger"), "--populate")
	if st != exitUsage || !strings.Contains(errOut, "keeps no user at rest") {
		t.Errorf("load --populate with tiny: exit %d, %s", st, tail(errOut, 5))
	}
}
