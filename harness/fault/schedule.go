package fault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/firedrill/firedrill/harness/seed"
)

// Planned is a fault a scenario asks for: the spec, what triggers it and how
// long it is held before recovery. The exact moments derive from the schedule's
// seed.
type Planned struct {
	Spec Spec
	// The fault is injected at a moment in [After, Before) after the schedule
	// starts; with Before <= After, exactly at After.
	After, Before time.Duration
	// With BeforeShare > 0 the workload's writes trigger the fault instead of
	// the clock: it is injected once every planned write before a seeded share
	// in [AfterShare, BeforeShare) of them has completed, and the writes from
	// there on wait until it is in effect (see package gate). After and Before
	// are then ignored.
	AfterShare, BeforeShare float64
	// It is recovered after a hold in [MinHold, MaxHold]; with MaxHold <=
	// MinHold, exactly MinHold.
	MinHold, MaxHold time.Duration
}

// Event is a planned fault with its trigger fixed: injected At (from the
// schedule's start) or, when OnWrites, once the writes before write Writes
// have completed; recovered Hold after it is injected.
type Event struct {
	Index     int           `json:"index"` // position in the plan
	Spec      Spec          `json:"spec"`
	At        time.Duration `json:"at,omitempty"`
	OnWrites  bool          `json:"on_writes,omitempty"`
	Writes    int64         `json:"writes,omitempty"`
	Hold      time.Duration `json:"hold"`
	Permanent bool          `json:"permanent,omitempty"`
}

// Schedule is the deterministic plan of a scenario's faults: the same seed, plan
// and number of planned writes give the same events, on every machine.
type Schedule struct {
	Seed   int64   `json:"seed"`
	Events []Event `json:"events"` // time-triggered by At, then write-triggered by Writes; ties by Index
}

// Writes is the workload's progress as a write-triggered fault waits on it;
// *gate.Gate is one.
type Writes interface {
	// Reached returns once every planned write before write k has completed.
	Reached(ctx context.Context, k int64) error
	// Release lets the writes held at k go.
	Release(k int64)
}

// NewSchedule fixes the triggers of the planned faults from the seed;
// plannedWrites is how many writes the workload plans, for write-triggered
// faults. It builds each fault once to check its spec, so that a bad scenario
// fails before the drill starts.
func NewSchedule(sd int64, plan []Planned, plannedWrites int64) (*Schedule, error) {
	s := &Schedule{Seed: sd}
	var errs []error
	for i, p := range plan {
		if p.After < 0 || p.Before < 0 || p.MinHold < 0 || p.MaxHold < 0 {
			errs = append(errs, fmt.Errorf("plan %d (%s): negative time", i, p.Spec.Name))
			continue
		}
		onWrites := p.BeforeShare > 0
		if onWrites && (p.AfterShare < 0 || p.BeforeShare > 1 || p.AfterShare > p.BeforeShare) {
			errs = append(errs, fmt.Errorf("plan %d (%s): write share [%g, %g): want 0 <= after <= before <= 1", i, p.Spec.Name, p.AfterShare, p.BeforeShare))
			continue
		}
		f, err := New(p.Spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("plan %d: %w", i, err))
			continue
		}
		r := seed.Derive(sd, "schedule", strconv.Itoa(i), p.Spec.String())
		ev := Event{Index: i, Spec: p.Spec, OnWrites: onWrites}
		if onWrites {
			share := p.AfterShare + (p.BeforeShare-p.AfterShare)*r.Float64()
			ev.Writes = int64(share * float64(plannedWrites))
		} else {
			ev.At = p.After
			if p.Before > p.After {
				ev.At += time.Duration(r.Int64N(int64(p.Before - p.After)))
			}
		}
		ev.Hold = p.MinHold
		if p.MaxHold > p.MinHold {
			ev.Hold += time.Duration(r.Int64N(int64(p.MaxHold-p.MinHold) + 1))
		}
		if pf, ok := f.(Permanent); ok && pf.Permanent() {
			ev.Permanent = true
		}
		s.Events = append(s.Events, ev)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("build fault schedule: %w", err)
	}
	sort.SliceStable(s.Events, func(i, j int) bool {
		a, b := s.Events[i], s.Events[j]
		if a.OnWrites != b.OnWrites {
			return !a.OnWrites
		}
		if a.At != b.At || a.Writes != b.Writes {
			return a.At < b.At || a.Writes < b.Writes
		}
		return a.Index < b.Index
	})
	return s, nil
}

// Thresholds returns the write indexes write-triggered faults wait for, to
// build the workload's gate with.
func (s *Schedule) Thresholds() []int64 {
	var out []int64
	for _, e := range s.Events {
		if e.OnWrites {
			out = append(out, e.Writes)
		}
	}
	return out
}

// End returns when the last time-triggered fault is recovered, from the
// schedule's start.
func (s *Schedule) End() time.Duration {
	var end time.Duration
	for _, e := range s.Events {
		if !e.OnWrites {
			end = max(end, e.At+e.Hold)
		}
	}
	return end
}

// Result is how one scheduled fault went.
type Result struct {
	Event Event
	Fault Fault // the fault as built, e.g. to read a Migration's Outcome
	Err   error // nil when it was injected and recovered
}

// Run injects and recovers each fault at its trigger (times from start; write
// triggers from writes, which may be nil when every trigger is a time), faults
// that overlap running at once, and returns when every fault has been
// recovered. A write-triggered fault releases the writes it holds once it is in
// effect, or when it could not be injected, so that the load never waits on a
// fault that will not come. When ctx ends early, faults in effect are still
// recovered (with a fresh minute) so that the stack is not left broken; faults
// not yet injected are skipped.
func (s *Schedule) Run(ctx context.Context, env *Env, start time.Time, writes Writes) ([]Result, error) {
	if err := env.check(); err != nil {
		return nil, err
	}
	if writes == nil && len(s.Thresholds()) > 0 {
		return nil, errors.New("run fault schedule: write-triggered faults need the workload's write gate")
	}
	results := make([]Result, len(s.Events))
	var wg sync.WaitGroup
	for i, ev := range s.Events {
		results[i].Event = ev
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].Fault, results[i].Err = runEvent(ctx, env, start, writes, ev)
		}()
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("fault %d (%s): %w", r.Event.Index, r.Event.Spec, r.Err))
		}
	}
	return results, errors.Join(errs...)
}

func runEvent(ctx context.Context, env *Env, start time.Time, writes Writes, ev Event) (Fault, error) {
	if ev.OnWrites {
		defer writes.Release(ev.Writes)
	}
	f, err := New(ev.Spec)
	if err != nil {
		return nil, err
	}
	if ev.OnWrites {
		err = writes.Reached(ctx, ev.Writes)
	} else {
		err = sleepUntil(ctx, start.Add(ev.At))
	}
	if err != nil {
		return f, fmt.Errorf("not injected: %w", err)
	}
	a, err := Inject(ctx, env, f)
	if err != nil {
		return f, err
	}
	if ev.OnWrites {
		writes.Release(ev.Writes)
	}
	env.say("fault %s injected%s; recovering in %s", ev.Spec, ev.trigger(), ev.Hold.Round(100*time.Millisecond))
	rctx := ctx
	if err := sleepUntil(ctx, time.Now().Add(ev.Hold)); err != nil {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	return f, a.Recover(rctx)
}

// trigger says what set the event off, for narration.
func (e Event) trigger() string {
	if e.OnWrites {
		return fmt.Sprintf(" after the first %d planned writes", e.Writes)
	}
	return fmt.Sprintf(" at +%s", e.At.Round(100*time.Millisecond))
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
