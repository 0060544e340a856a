package gate

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestWritesAtOrAfterAThresholdWaitForItsRelease runs writes 0..9 through a gate
// at 4 from concurrent workers and checks that nothing at or after 4 started
// before the release, and that Reached returned only once 0..3 were done.
func TestWritesAtOrAfterAThresholdWaitForItsRelease(t *testing.T) {
	g := New(4)
	ctx := context.Background()
	var released atomic.Bool
	var doneBefore atomic.Int64
	var early atomic.Int64
	var wg sync.WaitGroup
	for i := int64(0); i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.Wait(ctx, i); err != nil {
				t.Errorf("wait %d: %v", i, err)
				return
			}
			if i >= 4 && !released.Load() {
				early.Add(1)
			}
			if i < 4 {
				doneBefore.Add(1)
			}
			g.Done(i)
		}()
	}
	if err := g.Reached(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if n := doneBefore.Load(); n != 4 {
		t.Errorf("Reached(4) returned with %d of the 4 earlier writes done", n)
	}
	released.Store(true)
	g.Release(4)
	wg.Wait()
	if n := early.Load(); n != 0 {
		t.Errorf("%d writes at or after the threshold ran before its release", n)
	}
}

func TestDoneTwiceCountsOnce(t *testing.T) {
	g := New(2)
	g.Done(0)
	g.Done(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Reached(ctx, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reached after one distinct write of two = %v, want it still waiting (context canceled)", err)
	}
	g.Done(1)
	if err := g.Reached(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
}

func TestSeveralThresholdsReleaseInTurn(t *testing.T) {
	g := New(5, 2, 2, -1)
	if got := g.Thresholds(); len(got) != 2 || got[0] != 2 || got[1] != 5 {
		t.Fatalf("thresholds = %v, want [2 5]", got)
	}
	g.Release(2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Wait(ctx, 3); err != nil {
		t.Errorf("write 3 after release of 2 waited: %v", err)
	}
	if err := g.Wait(ctx, 5); !errors.Is(err, context.Canceled) {
		t.Errorf("write 5 before release of 5 = %v, want it held", err)
	}
}

func TestCloseFreesEveryone(t *testing.T) {
	g := New(3)
	g.Close()
	g.Close()
	ctx := context.Background()
	if err := g.Wait(ctx, 7); err != nil {
		t.Error(err)
	}
	if err := g.Reached(ctx, 3); err != nil {
		t.Error(err)
	}
}

func TestUnknownThresholdAndNilGate(t *testing.T) {
	g := New(3)
	if err := g.Reached(context.Background(), 4); err == nil {
		t.Error("Reached(4) on a gate at 3 did not fail")
	}
	var nilGate *Gate
	if err := nilGate.Wait(context.Background(), 100); err != nil {
		t.Error(err)
	}
	nilGate.Done(1)
	nilGate.Close()
}

func TestThresholdZeroIsReachedAtOnce(t *testing.T) {
	g := New(0)
	if err := g.Reached(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}
