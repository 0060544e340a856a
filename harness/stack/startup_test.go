package stack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/retry"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
)

// TestStartServesHealthyStack starts the whole reference stack and checks that
// syncd answers healthy through its published port, then that stopping PostgreSQL
// turns /healthz to 503: readiness is real, not an open port.
func TestStartServesHealthyStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	// A name of its own per run of the test: -count=N shares one stack.Run.
	s, err := stack.Start(ctx, run, stack.WithName(fmt.Sprintf("startup%d", startups.Add(1))))
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Logf("stack started in %s", s.StartupTime.Round(time.Millisecond))
	url, err := s.URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if code := get(t, url+"/healthz"); code != http.StatusOK {
		t.Fatalf("GET /healthz = %d, want 200", code)
	}
	timeout := 10 * time.Second
	if err := s.Postgres.Container.Stop(ctx, &timeout); err != nil {
		t.Fatal(err)
	}
	// /healthz checks the database on every call, so it turns 503 once the
	// stop has taken effect; the test's context bounds the wait generously.
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer wcancel()
	if err := retry.Until(wctx, 200*time.Millisecond, func(context.Context) (bool, error) {
		return get(t, url+"/healthz") == http.StatusServiceUnavailable, nil
	}); err != nil {
		t.Fatalf("/healthz did not turn 503 with PostgreSQL stopped: %v", err)
	}
}

var startups atomic.Int64

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
