// Package gate makes the moment a fault strikes a function of the workload, not
// of the clock. The phones' planned writes have a fixed global order (user by
// user in the order they are fed, each user's plan in order); a Gate holds every
// write from a threshold k on until the fault planned at k has been injected.
// The fault's scheduler waits with Reached until every write before k has
// completed, injects, then calls Release. So the same seed gives the same set
// of writes acknowledged before each fault, however fast the machine is; what
// happens after a fault (which retries land, which writes end ambiguous) still
// depends on timing.
//
// A Gate is safe for concurrent use. Close releases everything, so that neither
// phones nor scheduler wait forever when a load or a fault fails.
package gate

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Gate holds writes at thresholds of the global write order.
type Gate struct {
	mu         sync.Mutex
	thresholds []int64         // sorted, distinct
	pending    []int64         // per threshold: writes before it not yet done
	reached    []chan struct{} // per threshold: closed when pending reaches 0
	released   []chan struct{} // per threshold: closed by Release or Close
	done       map[int64]bool  // writes already counted, so Done is idempotent
	closed     bool
}

// New returns a gate holding writes at each threshold (global write indexes;
// negative ones are ignored, duplicates merged).
func New(thresholds ...int64) *Gate {
	ts := slices.Clone(thresholds)
	ts = slices.DeleteFunc(ts, func(t int64) bool { return t < 0 })
	slices.Sort(ts)
	ts = slices.Compact(ts)
	g := &Gate{thresholds: ts, pending: make([]int64, len(ts)), done: map[int64]bool{}}
	for i, t := range ts {
		g.pending[i] = t
		g.reached = append(g.reached, make(chan struct{}))
		g.released = append(g.released, make(chan struct{}))
		if t == 0 {
			close(g.reached[i])
		}
	}
	return g
}

// Thresholds returns the gate's thresholds in order.
func (g *Gate) Thresholds() []int64 { return slices.Clone(g.thresholds) }

// Wait blocks before write i while a threshold at or below i has not been
// released. It returns ctx's error when ctx ends first. A nil gate never waits.
func (g *Gate) Wait(ctx context.Context, i int64) error {
	if g == nil {
		return nil
	}
	for j, t := range g.thresholds {
		if t > i {
			break
		}
		select {
		case <-g.released[j]:
			continue
		default:
		}
		select {
		case <-g.released[j]:
		case <-ctx.Done():
			return fmt.Errorf("wait at write gate %d: %w", t, ctx.Err())
		}
	}
	return nil
}

// Done records that write i completed: acknowledged, refused, ambiguous after
// its retries, or given up (a user whose phones stopped must mark its
// remaining writes done). Marking a write twice counts once.
func (g *Gate) Done(i int64) {
	if g == nil || i < 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done[i] {
		return
	}
	g.done[i] = true
	for j, t := range g.thresholds {
		if i >= t {
			continue
		}
		g.pending[j]--
		if g.pending[j] == 0 {
			close(g.reached[j])
		}
	}
}

// Reached returns once every write before threshold k has completed, or with
// ctx's error. k must be one of the gate's thresholds.
func (g *Gate) Reached(ctx context.Context, k int64) error {
	j, err := g.index(k)
	if err != nil {
		return err
	}
	select {
	case <-g.reached[j]:
		return nil
	default:
	}
	select {
	case <-g.reached[j]:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the writes before gate %d: %w", k, ctx.Err())
	}
}

// Release lets the writes held at threshold k go. Releasing twice is harmless.
func (g *Gate) Release(k int64) {
	j, err := g.index(k)
	if err != nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.released[j]:
	default:
		close(g.released[j])
	}
}

// Close releases every threshold and marks every threshold reached, so that
// nothing waits on the gate any more (the load ended or failed).
func (g *Gate) Close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.closed = true
	for j := range g.thresholds {
		for _, ch := range []chan struct{}{g.released[j], g.reached[j]} {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	}
}

func (g *Gate) index(k int64) (int, error) {
	if g == nil {
		return 0, fmt.Errorf("write gate %d: no gate", k)
	}
	j, ok := slices.BinarySearch(g.thresholds, k)
	if !ok {
		return 0, fmt.Errorf("write gate %d: not a threshold of this gate (%v)", k, g.thresholds)
	}
	return j, nil
}
