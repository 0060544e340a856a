package backup

import (
	"context"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/retry"
	"github.com/firedrill/firedrill/harness/stack"
)

// primaryRunning reports whether the primary's container still runs.
func primaryRunning(ctx context.Context, pg *stack.Postgres) bool {
	st, err := pg.Container.State(ctx)
	return err == nil && st.Running
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// poll calls fn every interval until it reports done, returns an error made
// with retry.Stop, or the timeout passes (retry.Until under a deadline).
func poll(ctx context.Context, timeout, interval time.Duration, fn func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return retry.Until(ctx, interval, fn)
}
