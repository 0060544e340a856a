package stack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/stackdef"
)

// TestDavicalStartsFromItsDefinition starts the built-in davical definition:
// the set-up SQL makes DAViCal's roles, the server is ready when an
// unauthenticated PROPFIND asks for a login, and provisioning by CSV and
// command makes users who can then read their home.
func TestDavicalStartsFromItsDefinition(t *testing.T) {
	stacktest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	def, err := stackdef.Load("davical")
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.Start(ctx, stacktest.Run(t), stack.WithName("def-davical"), stack.WithDefinition(def))
	if err != nil {
		t.Fatalf("start davical: %v", err)
	}
	if st.Server.Name() != "davical" || st.Postgres.Alias != "davical-db" {
		t.Errorf("roles: server %s, database %s", st.Server.Name(), st.Postgres.Alias)
	}
	users := accounts.Generate(2, 7)
	if err := st.Server.Provision(ctx, users); err != nil {
		t.Fatalf("provision: %v", err)
	}
	url, err := st.URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		req, _ := http.NewRequestWithContext(ctx, "PROPFIND", url+"/caldav.php/"+u.Username+"/", nil)
		req.SetBasicAuth(u.Username, u.Password)
		req.Header.Set("Depth", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMultiStatus {
			t.Errorf("PROPFIND of %s's home as %s: %s, want 207", u.Username, u.Username, resp.Status)
		}
	}
	if err := st.Server.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
}

// TestADefinitionThatFailsSaysWhereWithoutItsSecrets starts definitions whose
// set-up SQL and provisioning command fail: the errors name the statement by
// its place (it may hold a secret) and the command with its exit status.
func TestADefinitionThatFailsSaysWhereWithoutItsSecrets(t *testing.T) {
	stacktest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	bad, err := stackdef.Parse("bad.yaml", []byte(`name: bad
database:
  setup:
    - CREATE ROLE x LOGIN PASSWORD '${secret.x}'
    - CREATE ROLE x LOGIN PASSWORD '${secret.x}'
server: {image: firedrill/syncd:latest, port: 8080, env: {SYNCD_DATABASE_URL: "${database.url}", SYNCD_LISTEN: ":8080"}, ready: {path: /healthz}}
users: {provision: csv-exec, csv: /tmp/users.csv, command: [/nonexistent]}
files: {none: "a test"}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = stack.Start(ctx, run, stack.WithName("def-bad-sql"), stack.WithDefinition(bad))
	if err == nil || !strings.Contains(err.Error(), "database.setup[1]") || strings.Contains(err.Error(), run.Secret("x")) {
		t.Fatalf("start: %v, want database.setup[1] named and the secret kept out", err)
	}
	bad.Database.Setup = nil
	st, err := stack.Start(ctx, run, stack.WithName("def-bad-provision"), stack.WithDefinition(bad))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	err = st.Server.Provision(ctx, accounts.Generate(1, 1))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent") {
		t.Fatalf("provision: %v, want the command named", err)
	}
}
