package dav

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is a retry policy, the same for a phone's writes and for every read
// and collection set-up of phones and observer: up to Attempts tries, waiting
// between them exponentially from Base to at most Max (with jitter from Rand
// when set), or as long as the server's Retry-After asks when that is longer.
type Backoff struct {
	Attempts  int           // tries in all; < 1 means 1
	Base, Max time.Duration // the first wait, and the longest
	// MaxRetryAfter is the longest Retry-After honoured; a server asking for
	// more gets no retry (the error says so). 0 means Max.
	MaxRetryAfter time.Duration
	// Rand, when set, spreads each wait over [wait/2, wait]. It is used by one
	// goroutine at a time (a phone's own seeded source).
	Rand *rand.Rand
	// OnRetry, when set, is called before each retry with the error that caused it.
	OnRetry func(err error)
}

// Tries returns how many tries the policy allows.
func (b *Backoff) Tries() int {
	if b == nil || b.Attempts < 1 {
		return 1
	}
	return b.Attempts
}

// Delay returns how long to wait before try n+1 after try n (1-based) failed
// with err, and false when the server's Retry-After asks for longer than the
// policy allows.
func (b *Backoff) Delay(n int, err error) (time.Duration, bool) {
	d := b.Base << min(n-1, 20)
	if b.Max > 0 {
		d = min(d, b.Max)
	}
	if b.Rand != nil && d > 1 {
		d = d/2 + time.Duration(b.Rand.Int64N(int64(d/2)+1))
	}
	if ra := RetryAfter(err); ra > 0 {
		if ra > b.retryAfterLimit() {
			return 0, false
		}
		d = max(d, ra)
	}
	return d, true
}

func (b *Backoff) retryAfterLimit() time.Duration {
	if b.MaxRetryAfter > 0 {
		return b.MaxRetryAfter
	}
	return max(b.Max, b.Base)
}

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Do runs f until it succeeds, fails for good (see Transient) or has been tried
// as often as the policy allows; each try gets a context bounded by timeout
// (when > 0). It returns f's last error.
func (b *Backoff) Do(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	for n := 1; ; n++ {
		err := try(ctx, timeout, f)
		if err == nil || n >= b.Tries() || ctx.Err() != nil || !Transient(err) {
			return err
		}
		d, ok := b.Delay(n, err)
		if !ok {
			return fmt.Errorf("%w (not retried: the server asks to wait %s, longer than the %s this policy allows)",
				err, RetryAfter(err), b.retryAfterLimit())
		}
		if b.OnRetry != nil {
			b.OnRetry(err)
		}
		if Sleep(ctx, d) != nil {
			return err
		}
	}
}

func try(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	if timeout <= 0 {
		return f(ctx)
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := f(tctx)
	if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("%w (%w after %s)", err, ErrTimeout, timeout)
	}
	return err
}

// ErrTimeout marks a request that got no (whole) answer within its time limit.
var ErrTimeout = errors.New("no answer within the request time limit")

// Transient reports whether err is worth another try: no answer (refused,
// reset, EOF, timeout), an answer cut short, or a status saying the server is
// busy or broken for now (408, 425, 429, 500, 502, 503, 504). A refused login,
// a missing resource or garbage in a whole answer is not.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Truncated
	}
	return IsNetwork(err) || errors.Is(err, io.EOF) || errors.Is(err, ErrTimeout)
}

// RetryAfter returns the wait a server asked for with Retry-After along with
// err's status, or 0.
func RetryAfter(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date
// (RFC 9110 10.2.3); 0 when absent or unreadable.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
