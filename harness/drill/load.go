package drill

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/gate"
	"github.com/firedrill/firedrill/harness/workload"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// Faults injected during a load strike once a seeded share of the planned
// writes has completed, and are held for a seeded time before recovery.
const (
	loadFaultFrom = 0.2
	loadFaultTo   = 0.6
	loadHoldMin   = 2 * time.Second
	loadHoldMax   = 5 * time.Second
)

// loadPlan is the fault schedule of a load: each fault after a seeded share
// (20% to 60%) of the planned writes, held for a seeded 2 to 5 seconds.
func loadPlan(specs []fault.Spec) []fault.Planned {
	plan := make([]fault.Planned, len(specs))
	for i, s := range specs {
		plan[i] = fault.Planned{Spec: s, AfterShare: loadFaultFrom, BeforeShare: loadFaultTo, MinHold: loadHoldMin, MaxHold: loadHoldMax}
	}
	return plan
}

// load runs the workload with the faults of the step on one schedule: each
// fault strikes at a gate in the phones' write order, so that the same seed
// gives the same writes before it (see package gate).
func (d *runner) load(ctx context.Context, specs []fault.Spec, users Share) (string, error) {
	url, err := d.phonesURL(ctx)
	if err != nil {
		return "", err
	}
	i, j := users.Of(len(d.phones.accts))
	accts := d.phones.accts[i:j]
	if len(accts) == 0 {
		return "", fmt.Errorf("load users [%g, %g) of %d: that share holds no user; give the run more users", users.From, users.To, len(d.phones.accts))
	}
	resolved := make([]fault.Spec, len(specs))
	for n, spec := range specs {
		if resolved[n], err = d.resolve(spec); err != nil {
			return "", err
		}
	}
	specs = resolved
	planned := plannedWrites(d.opts.Seed, d.prof, accts)
	sched, err := fault.NewSchedule(d.opts.Seed, loadPlan(specs), planned)
	if err != nil {
		return "", err
	}
	g := gate.New(sched.Thresholds()...)
	cfg := workload.Config{Server: url, Accounts: accts, Profile: d.prof, Seed: d.opts.Seed, Ledger: d.phones.ledger,
		PhotosURL: d.def.Files.Photos, AppsURL: d.def.Files.Apps,
		Progress: d.opts.Progress, ProgressTTY: d.opts.ProgressTTY, Log: d.opts.Progress, Gate: g}
	loadAll := func(ctx context.Context) (workload.Summary, error) { return workload.Load(ctx, cfg) }
	if d.sc.keepsPhones() {
		// The scenario acts on the phones later: keep their local stores.
		fleet, err := workload.NewFleet(cfg)
		if err != nil {
			return "", err
		}
		d.phones.fleet = fleet
		loadAll = fleet.Load
	}
	if len(sched.Events) > 0 {
		// Faults are saved in the ledger's order of things: everything the
		// phones learned before the fault reaches the file first.
		if err := d.phones.ledger.Sync(); err != nil {
			return "", fmt.Errorf("save ledger: %w", err)
		}
	}
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	faultsDone := make(chan error, 1)
	var results []fault.Result
	go func() {
		var err error
		results, err = sched.Run(loadCtx, d.faultEnv(), time.Now(), g)
		faultsDone <- err
	}()
	stopProgress := d.reportLoadProgress(planned)
	sum, loadErr := loadAll(ctx)
	stopProgress()
	g.Close() // a fault that never came must not hold the schedule
	faultErr := <-faultsDone
	if err := errors.Join(loadErr, faultErr); err != nil {
		return "", err
	}
	if err := d.phones.ledger.Sync(); err != nil {
		return "", fmt.Errorf("save ledger: %w", err)
	}
	return loadSummary(sum) + faultSummary(results), nil
}

// progressEvery is how often a watcher hears how far a long phase is.
const progressEvery = 500 * time.Millisecond

// reportLoadProgress tells the watcher, every progressEvery until the returned
// function is called, how many writes the phones completed and how, with an
// ETA from the acknowledged rate so far.
func (d *runner) reportLoadProgress(planned int64) (stop func()) {
	start := time.Now()
	return d.sampleEvery(func(w Watcher) {
		ok, failed, amb := d.phones.ledger.Outcomes()
		p := Progress{At: time.Now(), Phase: "load", Done: ok, Total: planned, Unit: "writes", Acked: ok, Failed: failed, Ambiguous: amb}
		if el := time.Since(start); ok > 0 && planned > ok {
			p.ETA = time.Duration(float64(el) * float64(planned-ok) / float64(ok))
		}
		w.Progress(p)
	})
}

// sampleEvery calls sample with the watcher every progressEvery, and once
// more when the returned function is called; with no watcher it does nothing.
func (d *runner) sampleEvery(sample func(Watcher)) (stop func()) {
	w := d.opts.Watch
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				sample(w)
				return
			case <-t.C:
				sample(w)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// plannedWrites counts the writes the users' plans hold.
func plannedWrites(seed int64, p *profile.Profile, accts []accounts.Account) int64 {
	g := gen.New(seed, p)
	var n int64
	for _, a := range accts {
		n += int64(len(g.Plan(a.Username).Ops))
	}
	return n
}

func loadSummary(s workload.Summary) string {
	line := fmt.Sprintf("%d writes acknowledged, %d refused, %d ambiguous, by %d users in %s (%.0f acked writes/s)",
		s.OK, s.Failed, s.Ambiguous, s.Users, s.Duration.Round(100*time.Millisecond), s.AckedPerSecond())
	if len(s.NotCovered) > 0 {
		var kinds []string
		for k, why := range s.NotCovered {
			kinds = append(kinds, k.String()+" ("+why+")")
		}
		sort.Strings(kinds)
		line += "; not covered: " + strings.Join(kinds, ", ")
	}
	return line
}

// faultSummary says when each fault of a load struck.
func faultSummary(results []fault.Result) string {
	var out []string
	for _, r := range results {
		out = append(out, fmt.Sprintf("%s after %d planned writes, held %s", r.Event.Spec, r.Event.Writes, r.Event.Hold.Round(100*time.Millisecond)))
	}
	if len(out) == 0 {
		return ""
	}
	return "; faults: " + strings.Join(out, "; ")
}
