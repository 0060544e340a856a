// Package retry is the harness's one way to wait for something: try it every
// interval until it is done, a try says to stop, or the context ends, and then
// say what the last try found. Faults wait for components to serve again,
// backups for the archive and the restored server, third-party servers for
// readiness, all through Until.
package retry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Until calls try every interval (the first time at once) until it returns
// true, returns an error made with Stop, or ctx ends. When ctx ends first, the
// error wraps ctx's error and names the last error a try returned. A try's own
// context is ctx; bound a slow try with PerTry.
func Until(ctx context.Context, interval time.Duration, try func(ctx context.Context) (bool, error)) error {
	var last error
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-timer.C:
		}
		done, err := try(ctx)
		var stop *stopError
		switch {
		case errors.As(err, &stop):
			return stop.err
		case err == nil && done:
			return nil
		case err != nil:
			last = err
		}
		timer.Reset(interval)
	}
}

// PerTry bounds each call of try by d, so that one hung try does not use up
// the whole wait.
func PerTry(d time.Duration, try func(ctx context.Context) (bool, error)) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		tctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return try(tctx)
	}
}

// Stop wraps an error that ends Until at once: trying again cannot help.
func Stop(err error) error { return &stopError{err} }

type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }
