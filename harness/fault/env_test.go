package fault_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/mount"
)

// testSeed is the seed of every fault in these tests.
const testSeed = 20091002

var (
	proxyOnce sync.Once
	sharedPx  *stack.Proxy
	proxyErr  error
)

// sharedEnv returns an environment around the test binary's shared PostgreSQL,
// with a fault proxy on its network whose syncd-postgres link leads to it, and a
// fresh timeline.
func sharedEnv(t *testing.T) *fault.Env {
	t.Helper()
	run := stacktest.Run(t)
	pg := stacktest.SharedPostgres(t)
	proxyOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sharedPx, proxyErr = stack.RunProxy(ctx, run, pg.Network, stack.WithProxyPostgresUpstream(pg.Alias+":5432"))
	})
	if proxyErr != nil {
		t.Fatalf("start the fault proxy: %v", proxyErr)
	}
	return &fault.Env{
		Run:         run,
		Stack:       &stack.Stack{Run: run, Network: pg.Network, Postgres: pg},
		Proxy:       sharedPx,
		Timeline:    timeline.New(),
		Seed:        testSeed,
		WaitTimeout: time.Minute,
	}
}

// ownPostgres starts a PostgreSQL of the test's own on the shared network (so a
// test may destroy it) and returns an environment around it.
func ownPostgres(t *testing.T, alias string, opts ...stack.PostgresOption) *fault.Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	shared := stacktest.SharedPostgres(t)
	pg, err := stack.RunPostgres(ctx, run, shared.Network, append([]stack.PostgresOption{stack.WithPostgresAlias(alias)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &fault.Env{
		Run:         run,
		Stack:       &stack.Stack{Run: run, Network: shared.Network, Postgres: pg},
		Timeline:    timeline.New(),
		Seed:        testSeed,
		WaitTimeout: 2 * time.Minute,
	}
}

// connect opens a connection to the env's PostgreSQL, directly or through the
// fault proxy's syncd-postgres link (as syncd would).
func connect(ctx context.Context, env *fault.Env, viaProxy bool) (*pgx.Conn, error) {
	dsn, err := env.Stack.Postgres.DSN(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if viaProxy {
		ep, err := env.Proxy.Endpoint(ctx, stack.LinkSyncdPostgres)
		if err != nil {
			return nil, err
		}
		host, port, _ := net.SplitHostPort(ep)
		n, _ := strconv.Atoi(port)
		cfg.Host, cfg.Port = host, uint16(n)
	}
	cfg.ConnectTimeout = 3 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

// query connects and runs one statement within limit, returning its error.
func query(env *fault.Env, viaProxy bool, limit time.Duration, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	conn, err := connect(ctx, env, viaProxy)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// mustExec runs statements on the env's PostgreSQL and fails the test on error.
func mustExec(t *testing.T, env *fault.Env, sqls ...string) {
	t.Helper()
	for _, sql := range sqls {
		if err := query(env, false, time.Minute, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// scalar runs a query returning one value.
func scalar[T any](t *testing.T, env *fault.Env, sql string, args ...any) (T, error) {
	t.Helper()
	var v T
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := connect(ctx, env, false)
	if err != nil {
		return v, err
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(ctx, sql, args...).Scan(&v)
	return v, err
}

// injectRecover injects a fault, runs during while it is in effect, and recovers it.
func injectRecover(t *testing.T, env *fault.Env, spec fault.Spec, during func()) fault.Fault {
	t.Helper()
	f, err := fault.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, err := fault.Inject(ctx, env, f)
	if err != nil {
		t.Fatal(err)
	}
	// Recover also when during fails the test, so that later tests find the stack whole.
	defer func() {
		if err := a.Recover(ctx); err != nil {
			t.Fatal(err)
		}
	}()
	if during != nil {
		during()
	}
	return f
}

// recorded checks that the timeline holds one closed span of the fault on target.
func recorded(t *testing.T, env *fault.Env, name, target string) timeline.Entry {
	t.Helper()
	var found []timeline.Entry
	for _, e := range env.Timeline.Entries() {
		if e.Category == timeline.Fault && e.Name == name && e.Target == target {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("timeline holds %d spans of %s on %s, want 1: %+v", len(found), name, target, env.Timeline.Entries())
	}
	if found[0].End.IsZero() || found[0].End.Before(found[0].Start) {
		t.Errorf("span of %s on %s is not closed properly: %+v", name, target, found[0])
	}
	return found[0]
}

// bash runs a script in a helper container with volumes mounted.
func bash(t *testing.T, env *fault.Env, mounts []mount.Mount, script string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return tools.Bash(ctx, env.Run, mounts, script, args...)
}

// pgChecksums runs pg_checksums --check on the (stopped) cluster of a data volume.
func pgChecksums(t *testing.T, env *fault.Env, vol stack.Volume) (string, error) {
	t.Helper()
	return bash(t, env, []mount.Mount{vol.Mount(stack.DataDir, false)},
		`setpriv --reuid=postgres --regid=postgres --init-groups pg_checksums --check -D "$1" 2>&1`, stack.PGData)
}

// mustFail checks that err is an error mentioning one of the wanted phrases.
func mustFail(t *testing.T, what string, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, w := range wants {
		if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w)) {
			return
		}
	}
	t.Fatalf("%s: error %q mentions none of %q", what, err, wants)
}

// unreachable are the ways a query fails when its server is gone: refused,
// timed out, cut, or (for a stopped container) no published port at all.
var unreachable = []string{"connect", "refused", "timeout", "deadline", "EOF", "reset", "closed", "port \"5432/tcp\" not found"}
