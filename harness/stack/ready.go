package stack

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/firedrill/firedrill/harness/retry"
	"github.com/firedrill/firedrill/harness/stackdef"
	"github.com/testcontainers/testcontainers-go/wait"
)

// WaitForRequest returns a wait strategy that polls, every 100 ms until
// ready.Timeout, until a request of ready.Method to ready.Path on the
// container's port (e.g. "8080/tcp") is answered with one of ready.Status,
// and gives up at once when the container stops. Any method works, PROPFIND
// too, which testcontainers' HTTP wait refuses; prepare, when set, adds to
// each request (headers, a login). who names the server in its error.
func WaitForRequest(ready stackdef.Ready, port, who string, prepare func(*http.Request)) wait.Strategy {
	return &requestStrategy{ready: ready, port: port, who: who, prepare: prepare}
}

type requestStrategy struct {
	ready   stackdef.Ready
	port    string
	who     string
	prepare func(*http.Request)
}

// WaitUntilReady implements wait.Strategy.
func (r *requestStrategy) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(r.ready.Timeout))
	defer cancel()
	hc := &http.Client{Timeout: 10 * time.Second}
	err := retry.Until(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		if state, err := target.State(ctx); err == nil && state != nil && !state.Running {
			return false, retry.Stop(fmt.Errorf("the container stopped (exit code %d)", state.ExitCode))
		}
		code, err := r.try(ctx, hc, target)
		if err == nil && !slices.Contains(r.ready.Status, code) {
			err = fmt.Errorf("answered %d", code)
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("wait for %s %s of %s to answer %v: %w", r.ready.Method, r.ready.Path, r.who, r.ready.Status, err)
	}
	return nil
}

func (r *requestStrategy) try(ctx context.Context, hc *http.Client, target wait.StrategyTarget) (int, error) {
	host, err := target.Host(ctx)
	if err != nil {
		return 0, err
	}
	port, err := target.MappedPort(ctx, r.port)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, r.ready.Method, "http://"+host+":"+port.Port()+r.ready.Path, nil)
	if err != nil {
		return 0, err
	}
	if r.prepare != nil {
		r.prepare(req)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
