package retry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUntilTriesUntilDone(t *testing.T) {
	n := 0
	err := Until(context.Background(), time.Millisecond, func(context.Context) (bool, error) {
		n++
		if n < 3 {
			return false, errors.New("not yet")
		}
		return true, nil
	})
	if err != nil || n != 3 {
		t.Fatalf("Until = %v after %d tries, want nil after 3", err, n)
	}
}

func TestUntilNamesTheLastErrorWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Until(ctx, time.Millisecond, func(context.Context) (bool, error) {
		n++
		if n == 2 {
			cancel()
		}
		return false, errors.New("connection refused")
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "last: connection refused") {
		t.Fatalf("Until = %v, want context.Canceled naming the last error", err)
	}
}

func TestStopEndsAtOnce(t *testing.T) {
	boom := errors.New("no such container")
	n := 0
	err := Until(context.Background(), time.Millisecond, func(context.Context) (bool, error) {
		n++
		return false, Stop(boom)
	})
	if !errors.Is(err, boom) || n != 1 {
		t.Fatalf("Until = %v after %d tries, want the stop error after 1", err, n)
	}
}

func TestPerTryBoundsEachTry(t *testing.T) {
	try := PerTry(time.Millisecond, func(ctx context.Context) (bool, error) {
		<-ctx.Done()
		return false, ctx.Err()
	})
	if _, err := try(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a hung try = %v, want its own deadline", err)
	}
}
