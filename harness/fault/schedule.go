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

// Planned is a fault a scenario asks for: the spec, the window in which it
// starts and how long it is held before recovery. The exact times derive from
// the schedule's seed.
type Planned struct {
	Spec Spec
	// The fault is injected at a moment in [After, Before) after the schedule
	// starts; with Before <= After, exactly at After.
	After, Before time.Duration
	// It is recovered after a hold in [MinHold, MaxHold]; with MaxHold <=
	// MinHold, exactly MinHold.
	MinHold, MaxHold time.Duration
}

// Event is a planned fault with its times fixed: injected At, recovered Until
// (both from the schedule's start).
type Event struct {
	Index     int           `json:"index"` // position in the plan
	Spec      Spec          `json:"spec"`
	At        time.Duration `json:"at"`
	Until     time.Duration `json:"until"`
	Permanent bool          `json:"permanent,omitempty"`
}

// Schedule is the deterministic plan of a scenario's faults: the same seed and
// plan give the same events, on every machine.
type Schedule struct {
	Seed   int64   `json:"seed"`
	Events []Event `json:"events"` // ordered by At, then Index
}

// NewSchedule fixes the times of the planned faults from the seed. It builds
// each fault once to check its spec, so that a bad scenario fails before the
// drill starts.
func NewSchedule(sd int64, plan []Planned) (*Schedule, error) {
	s := &Schedule{Seed: sd}
	var errs []error
	for i, p := range plan {
		if p.After < 0 || p.Before < 0 || p.MinHold < 0 || p.MaxHold < 0 {
			errs = append(errs, fmt.Errorf("plan %d (%s): negative time", i, p.Spec.Name))
			continue
		}
		f, err := New(p.Spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("plan %d: %w", i, err))
			continue
		}
		r := seed.Derive(sd, "schedule", strconv.Itoa(i), p.Spec.String())
		at := p.After
		if p.Before > p.After {
			at += time.Duration(r.Int64N(int64(p.Before - p.After)))
		}
		hold := p.MinHold
		if p.MaxHold > p.MinHold {
			hold += time.Duration(r.Int64N(int64(p.MaxHold-p.MinHold) + 1))
		}
		ev := Event{Index: i, Spec: p.Spec, At: at, Until: at + hold}
		if pf, ok := f.(Permanent); ok && pf.Permanent() {
			ev.Permanent = true
		}
		s.Events = append(s.Events, ev)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("build fault schedule: %w", err)
	}
	sort.SliceStable(s.Events, func(i, j int) bool {
		if s.Events[i].At != s.Events[j].At {
			return s.Events[i].At < s.Events[j].At
		}
		return s.Events[i].Index < s.Events[j].Index
	})
	return s, nil
}

// End returns when the last fault is recovered, from the schedule's start.
func (s *Schedule) End() time.Duration {
	var end time.Duration
	for _, e := range s.Events {
		end = max(end, e.Until)
	}
	return end
}

// Result is how one scheduled fault went.
type Result struct {
	Event Event
	Fault Fault // the fault as built, e.g. to read a Migration's Outcome
	Err   error // nil when it was injected and recovered
}

// Run injects and recovers each fault at its time from start, faults that
// overlap running at once, and returns when every fault has been recovered. When
// ctx ends early, faults in effect are still recovered (with a fresh minute) so
// that the stack is not left broken; faults not yet injected are skipped.
func (s *Schedule) Run(ctx context.Context, env *Env, start time.Time) ([]Result, error) {
	if err := env.check(); err != nil {
		return nil, err
	}
	results := make([]Result, len(s.Events))
	var wg sync.WaitGroup
	for i, ev := range s.Events {
		results[i].Event = ev
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].Fault, results[i].Err = runEvent(ctx, env, start, ev)
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

func runEvent(ctx context.Context, env *Env, start time.Time, ev Event) (Fault, error) {
	f, err := New(ev.Spec)
	if err != nil {
		return nil, err
	}
	if err := sleepUntil(ctx, start.Add(ev.At)); err != nil {
		return f, fmt.Errorf("not injected: %w", err)
	}
	a, err := Inject(ctx, env, f)
	if err != nil {
		return f, err
	}
	rctx := ctx
	if err := sleepUntil(ctx, start.Add(ev.Until)); err != nil {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	return f, a.Recover(rctx)
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
