package fault_test

import (
	"context"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/stack"
)

// roundTrip times one query through the proxy's syncd-postgres link, as syncd
// would make it, over an open connection.
func roundTrip(t *testing.T, env *fault.Env, sql string) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connect(ctx, env, true)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	start := time.Now()
	var s string
	err = conn.QueryRow(ctx, sql).Scan(&s)
	return time.Since(start), err
}

// TestLinkFaultsDegradeTheLinkAndRecoverRestoresIt puts each network fault on
// the syncd-postgres link in turn and measures its effect on real queries
// through the proxy: latency and bandwidth slow them by at least what was set,
// resets, timeouts and a downed link make them fail; after Recover the link
// carries no toxic and queries work again. Slowness is asserted only as a
// lower bound (what a toxic adds), never as an upper bound on a shared machine.
func TestLinkFaultsDegradeTheLinkAndRecoverRestoresIt(t *testing.T) {
	env := sharedEnv(t)
	link := stack.LinkSyncdPostgres
	if _, err := roundTrip(t, env, "SELECT 'x'"); err != nil {
		t.Fatalf("query through the proxy before any fault: %v", err)
	}
	check := func(t *testing.T) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if toxics, err := env.Proxy.Toxics(ctx, link); err != nil || len(toxics) != 0 {
			t.Errorf("after recovery the link carries toxics %+v (%v), want none", toxics, err)
		}
		if _, err := roundTrip(t, env, "SELECT 'x'"); err != nil {
			t.Errorf("after recovery the query failed: %v", err)
		}
	}

	t.Run("latency", func(t *testing.T) {
		injectRecover(t, env, fault.Spec{Name: "latency", Target: link, Params: map[string]string{"latency": "400ms"}}, func() {
			d, err := roundTrip(t, env, "SELECT 'x'")
			if err != nil || d < 400*time.Millisecond {
				t.Errorf("with 400ms latency the query took %v (%v)", d, err)
			}
		})
		check(t)
		recorded(t, env, "latency", link)
	})
	t.Run("bandwidth", func(t *testing.T) {
		// 96 KiB at 32 KB/s take about three seconds.
		const big = "SELECT repeat('x', 96*1024)"
		injectRecover(t, env, fault.Spec{Name: "bandwidth", Target: link, Params: map[string]string{"rate": "32"}}, func() {
			d, err := roundTrip(t, env, big)
			if err != nil || d < 2*time.Second {
				t.Errorf("96 KiB at 32 KB/s took %v (%v), want at least 2s", d, err)
			}
		})
		check(t)
		if _, err := roundTrip(t, env, big); err != nil {
			t.Errorf("after recovery 96 KiB failed: %v", err)
		}
		recorded(t, env, "bandwidth", link)
	})
	t.Run("connection-reset", func(t *testing.T) {
		injectRecover(t, env, fault.Spec{Name: "connection-reset", Target: link}, func() {
			_, err := roundTrip(t, env, "SELECT 'x'")
			mustFail(t, "query while connections are reset", err, "reset", "EOF", "closed", "broken pipe", "unexpected")
		})
		check(t)
		recorded(t, env, "connection-reset", link)
	})
	t.Run("timeout", func(t *testing.T) {
		injectRecover(t, env, fault.Spec{Name: "timeout", Target: link}, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			conn, err := connect(ctx, env, true)
			if err == nil {
				conn.Close(context.Background())
			}
			if err == nil || time.Since(start) < 1500*time.Millisecond {
				t.Errorf("connecting through a black-holed link: err %v after %v, want a timeout", err, time.Since(start))
			}
		})
		check(t)
		recorded(t, env, "timeout", link)
	})
	t.Run("link-down", func(t *testing.T) {
		injectRecover(t, env, fault.Spec{Name: "link-down", Target: link}, func() {
			_, err := roundTrip(t, env, "SELECT 'x'")
			mustFail(t, "query through a link that is down", err, unreachable...)
		})
		check(t)
		recorded(t, env, "link-down", link)
	})
	t.Run("without a proxy", func(t *testing.T) {
		noProxy := *env
		noProxy.Proxy = nil
		f, _ := fault.New(fault.Spec{Name: "latency", Target: link})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := fault.Inject(ctx, &noProxy, f)
		mustFail(t, "latency without a proxy", err, "WithProxy")
	})
}
