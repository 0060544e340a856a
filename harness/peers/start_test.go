package peers_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/engine"
	"github.com/firedrill/firedrill/harness/peers"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/moby/moby/client"
)

func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }

// runFunc starts one kind of server.
type runFunc func(ctx context.Context, run *stack.Run, users []accounts.Account, opts ...peers.Option) (*peers.Server, error)

var servers = []struct {
	name    string
	run     runFunc
	opts    []peers.Option
	defects func(t *testing.T, s *peers.Server, a accounts.Account)
}{
	{"radicale", peers.RunRadicale, []peers.Option{peers.WithHomeCollections()}, radicaleDefects},
	{"xandikos", peers.RunXandikos, nil, xandikosDefects},
	{"davical", peers.RunDavical, nil, davicalDefects},
}

// needDocker skips the test when no Docker Engine answers.
func needDocker(t *testing.T) *stack.Run {
	t.Helper()
	if testing.Short() {
		t.Skip("starts third-party servers in containers (-short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := engine.Configure(ctx); errors.Is(err, engine.ErrUnreachable) {
		t.Skipf("no Docker Engine answers: %v", err)
	}
	return stacktest.Run(t)
}

// propfind sends an authenticated PROPFIND Depth 0 and returns the status.
func propfind(t *testing.T, u string, a accounts.Account) (int, string) {
	t.Helper()
	req, err := http.NewRequest("PROPFIND", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Depth", "0")
	req.SetBasicAuth(a.Username, a.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PROPFIND %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServers starts each server with two users: both log in, a wrong
// password is refused, the server's documented defects are still what
// docs/compatibility.md says (defects_test.go), and Terminate leaves nothing
// of the server behind.
func TestServers(t *testing.T) {
	run := needDocker(t)
	users := accounts.Generate(2, 7)
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			before := runObjects(t, run)
			s, err := srv.run(ctx, run, users, srv.opts...)
			if err != nil {
				t.Fatalf("start %s: %v", srv.name, err)
			}
			t.Cleanup(func() { s.Terminate(context.Background()) })
			if n := runObjects(t, run); n <= before {
				t.Errorf("the running %s shows no Docker objects with the run's label (%d before, %d now)", srv.name, before, n)
			}
			t.Logf("%s ready at %s in %s", srv.name, s.URL, s.StartupTime)
			for _, u := range users {
				if code, body := propfind(t, s.URL+"/", u); code != http.StatusMultiStatus || !strings.Contains(body, u.Username) {
					t.Errorf("PROPFIND / as %s: %d, want 207 naming the user's principal:\n%s", u.Username, code, body)
				}
			}
			bad := accounts.Account{Username: users[0].Username, Password: "wrong"}
			if code, _ := propfind(t, s.URL+"/", bad); code != http.StatusUnauthorized {
				t.Errorf("PROPFIND with a wrong password: %d, want 401", code)
			}
			t.Run("documented defects", func(t *testing.T) { srv.defects(t, s, users[1]) })
			if err := s.Terminate(ctx); err != nil {
				t.Errorf("terminate %s: %v", srv.name, err)
			}
			if n := runObjects(t, run); n != before {
				t.Errorf("after Terminate, the run has %d labelled Docker objects, want the %d it had before %s started", n, before, srv.name)
			}
		})
	}
}

// runObjects counts the containers, networks and volumes labelled with the run.
func runObjects(t *testing.T, run *stack.Run) int {
	t.Helper()
	ctx := context.Background()
	f := make(client.Filters).Add("label", stack.LabelRun+"="+run.ID)
	cs, err := run.Docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := run.Docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := run.Docker.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs.Items) + len(ns.Items) + len(vs.Items)
}

// TestBadUsers checks that every server refuses users it cannot take with an
// error naming the user and what is wrong, before it touches Docker.
func TestBadUsers(t *testing.T) {
	for _, tc := range []struct {
		users []accounts.Account
		want  string
	}{
		{nil, "no users"},
		{[]accounts.Account{{Username: "a/b", Password: "x"}}, `user 1 name "a/b"`},
		{[]accounts.Account{{Username: "a:b", Password: "x"}}, `user 1 name "a:b"`},
		{[]accounts.Account{{Username: "ok", Password: "x"}, {Username: "OK", Password: "y"}}, `user "OK" given twice`},
		{[]accounts.Account{{Username: "ok", Password: ""}}, `"ok" has an empty password`},
		{[]accounts.Account{{Username: "ok", Password: "a\nb"}}, "line break"},
	} {
		for _, srv := range servers {
			_, err := srv.run(context.Background(), nil, tc.users)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "start "+srv.name) {
				t.Errorf("%s with %v: %v, want an error naming %q", srv.name, tc.users, err, tc.want)
			}
		}
	}
}
