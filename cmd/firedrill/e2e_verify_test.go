package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/jackc/pgx/v5"
)

// TestVerifyNeverPassesSilently points verify at real accounts on the
// reference stack with ledgers that verify nothing: a load that wrote
// nothing (a fresh account, nothing acknowledged) and a load whose every
// photo PUT was refused. Neither may pass; both exit 1 saying why.
func TestVerifyNeverPassesSilently(t *testing.T) {
	server, token := referenceStack(t)
	dir := t.TempDir()
	accts := namedAccounts("quiet", 2, 5)
	users := filepath.Join(dir, "users.csv")
	if err := accounts.WriteFile(users, accts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := accounts.Provision(ctx, dav.NewHTTPClient(2), server, token, accts, 2); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		write func(w *ledger.Writer, user string)
		want  []string
	}{
		{"the load wrote nothing", func(w *ledger.Writer, user string) { w.User(user) },
			[]string{"verify: unknown: nothing verified", "nothing verified: the ledger holds no write for this user", "intact              0"}},
		{"every photo refused", func(w *ledger.Writer, user string) {
			for _, name := range []string{"IMG_0001.jpg", "IMG_0002.jpg"} {
				call := w.Now()
				r := ledger.Record{Call: call, Return: w.Now(), User: w.User(user), Item: w.Item(w.User(user), "photo/"+name, ""),
					Digest: model.Digest{1}, Size: 10, Kind: model.KindPhoto, Op: ledger.OpPut, Outcome: ledger.Failed}
				if err := w.Append(r); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{"verify: unknown: nothing verified", "not covered: photo: 4 writes refused, none acknowledged", "not_covered         2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			led := filepath.Join(t.TempDir(), "run.ledger")
			w, err := ledger.Create(led, time.Now(), ledger.Meta{Seed: 5, Profile: "tiny", Server: server})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range accts {
				c.write(w, a.Username)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			st, out, errOut := runCLI(t, nil, "verify", "--server", server, "--users", users, "--ledger", led)
			if st != exitFail {
				t.Errorf("exit %d, want %d\n%s\n%s", st, exitFail, out, tail(errOut, 5))
			}
			for _, want := range c.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestVerifyAddressBookGone: a user's address book vanishes after the load;
// the ledger proves its contacts were acknowledged, so they are lost, item
// by item, never "not covered". The run's canary is caught, and the saved
// observation holds every user.
func TestVerifyAddressBookGone(t *testing.T) {
	st, server := startReference(t)
	token := st.Server.AdminToken
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	accts := namedAccounts("gone", 3, 13)
	users := filepath.Join(dir, "users.csv")
	if err := accounts.WriteFile(users, accts); err != nil {
		t.Fatal(err)
	}
	led := filepath.Join(dir, "run.ledger")
	if st, out, errOut := runCLI(t, nil, "load", "--server", server, "--users", users, "--profile", "tiny",
		"--seed", "13", "--ledger", led, "--admin-token", token); st != exitOK {
		t.Fatalf("load: exit %d\n%s\n%s", st, out, tail(errOut, 20))
	}
	code, out, _ := runCLI(t, nil, "verify", "--server", server, "--users", users, "--ledger", led)
	if code != exitOK || !strings.Contains(out, "canary: 7 of 7 planted damages caught") {
		t.Fatalf("verify before damage: exit %d\n%s", code, out)
	}
	l, err := ledger.Load(led)
	if err != nil {
		t.Fatal(err)
	}
	victim := accts[1]
	contacts := 0
	for _, k := range presentKeys(l)[victim.Username] {
		if strings.HasPrefix(k, "contact/") {
			contacts++
		}
	}
	// The address book vanishes from the database, as a botched restore of
	// one table would leave it; the server cannot offer it any more.
	dsn, err := st.Postgres.DSN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `DELETE FROM collections WHERE kind = 'addressbook' AND user_id = (SELECT id FROM users WHERE name = $1)`, victim.Username)
	if err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("delete %s's address book: %v (%d rows)", victim.Username, err, tag.RowsAffected())
	}
	saved := filepath.Join(dir, "observation.jsonl")
	code, out, errOut := runCLI(t, nil, "verify", "--server", server, "--users", users, "--ledger", led, "--observation", saved)
	if code != exitFail {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFail, out, tail(errOut, 5))
	}
	for _, want := range []string{
		"damaged             1", "intact              2",
		victim.Username + ": lost contact/",
		"canary: 7 of 7 planted damages caught",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("verify after the address book vanished:\n%s", out)
	if n := strings.Count(out, victim.Username+": lost contact/"); n != min(contacts, 4) {
		t.Errorf("%d lost contacts shown for %s, want %d (of %d)", n, victim.Username, min(contacts, 4), contacts)
	}
	if strings.Contains(out, "not_covered         1") {
		t.Errorf("acknowledged contacts called not covered:\n%s", out)
	}
	b, err := os.ReadFile(saved)
	if err != nil || strings.Count(string(b), "\n") != 1+len(accts) {
		t.Errorf("saved observation: %v, %d lines, want a header and %d users", err, strings.Count(string(b), "\n"), len(accts))
	}
}
