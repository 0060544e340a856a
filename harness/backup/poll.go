package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/stack"
)

// primaryRunning reports whether the primary's container still runs.
func primaryRunning(ctx context.Context, pg *stack.Postgres) bool {
	st, err := pg.Container.State(ctx)
	return err == nil && st.Running
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// poll calls fn every interval until it reports done, returns an error, or the
// timeout passes.
func poll(ctx context.Context, timeout, interval time.Duration, fn func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		done, err := fn(ctx)
		if done && err == nil {
			return nil
		}
		if err != nil {
			var fatal *fatalError
			if errors.As(err, &fatal) {
				return fatal.err
			}
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// fatalError stops a poll at once.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
