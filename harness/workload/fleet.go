package workload

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/progress"
	"github.com/firedrill/firedrill/harness/workload/gen"
)

// Fleet is every user's phones, kept between a load and what comes after it:
// each phone has a local store of what it holds (item keys, hrefs, ETags and
// content digests, and its collections' sync tokens) that outlives the load, so
// that a drill can reset phones while the server is down, point them at a
// restored server and resync them, and then compare what each phone holds with
// what the server does (CompareStore).
//
// A phone's ID is its user's name, a slash and its 1-based index among the
// user's phones, e.g. "user00007/1". Phones implement the device hooks of
// package fault (ID, Reset, Resync); a selector ("all", a user's name or a
// phone's ID) picks phones.
type Fleet struct {
	r    *runner
	conc int
	// keep says phones keep their stores after their user's load; Load lets them
	// go, so that a large load does not hold every user's items in memory.
	keep bool

	mu     sync.Mutex
	server string
	loaded bool

	phones []*Phone
	byUser map[string][]*Phone
	byID   map[string]*Phone
}

// Phone is one simulated phone of a fleet. Its methods are safe for concurrent
// use; one sync of a phone runs at a time.
type Phone struct {
	fleet  *Fleet
	acct   accounts.Account
	n      int // 0-based
	id     string
	st     *store
	syncMu sync.Mutex
}

// NewFleet makes the phones of cfg.Accounts, as many per user as the plan that
// cfg.Seed and cfg.Profile give says, each with an empty store. cfg.Ledger is
// only needed to Load.
func NewFleet(cfg Config) (*Fleet, error) {
	return newFleet(cfg, true)
}

func newFleet(cfg Config, keep bool) (*Fleet, error) {
	if cfg.Profile == nil || len(cfg.Accounts) == 0 {
		return nil, errors.New("make fleet: want a profile (Config.Profile) and at least one account (Config.Accounts)")
	}
	if _, err := dav.ParseServerURL(cfg.Server); err != nil {
		return nil, err
	}
	if cfg.PhotosURL == "" {
		cfg.PhotosURL = dav.DefaultPhotosURL
	}
	if cfg.AppsURL == "" {
		cfg.AppsURL = dav.DefaultAppsURL
	}
	conc := cfg.Profile.Concurrency
	if cfg.Concurrency > 0 {
		conc = cfg.Concurrency
	}
	g := gen.New(cfg.Seed, cfg.Profile)
	f := &Fleet{
		r: &runner{cfg: cfg, prof: cfg.Profile, gen: g, hc: cfg.HTTPClient,
			log: newLimitedLog(cfg.Log, 5), covered: map[model.Kind]string{}},
		conc: conc, keep: keep, server: cfg.Server,
		byUser: make(map[string][]*Phone, len(cfg.Accounts)), byID: map[string]*Phone{},
	}
	if f.r.hc == nil {
		f.r.hc = dav.NewHTTPClient(conc * max(cfg.Profile.Devices.Max, 1))
	}
	for _, a := range cfg.Accounts {
		if _, dup := f.byUser[a.Username]; dup {
			return nil, fmt.Errorf("make fleet: user %q is listed twice: each user's phones must be one set", a.Username)
		}
		n := g.Devices(a.Username)
		f.byUser[a.Username] = make([]*Phone, 0, n)
		for i := 0; i < n; i++ {
			p := &Phone{fleet: f, acct: a, n: i, id: fmt.Sprintf("%s/%d", a.Username, i+1), st: newStore()}
			f.phones = append(f.phones, p)
			f.byUser[a.Username] = append(f.byUser[a.Username], p)
			f.byID[p.id] = p
		}
	}
	return f, nil
}

// Server returns the URL the phones talk to.
func (f *Fleet) Server() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.server
}

// SetServer points the phones at another server, e.g. a restored stack at a new
// URL; each phone uses it from its next sync on.
func (f *Fleet) SetServer(server string) error {
	if _, err := dav.ParseServerURL(server); err != nil {
		return fmt.Errorf("set fleet server: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.server = server
	return nil
}

// Load runs every user's phones through the user's plan, as workload.Load does,
// and leaves each phone's store holding what it wrote and what it learned by
// syncing: every phone syncs once more at the end of its plan, so that it also
// holds what the user's other phones wrote. A fleet loads once.
func (f *Fleet) Load(ctx context.Context) (Summary, error) {
	if f.r.cfg.Ledger == nil {
		return Summary{}, errors.New("start load: want a ledger (Config.Ledger) to record the writes in")
	}
	f.mu.Lock()
	loaded := f.loaded
	f.loaded = true
	server := f.server
	f.mu.Unlock()
	if loaded {
		return Summary{}, errors.New("start load: this fleet has loaded already: its plan's items exist; make a new fleet for another load")
	}
	r, accts, conc := f.r, f.r.cfg.Accounts, f.conc
	if err := dav.Reachable(ctx, r.hc, server); err != nil {
		return Summary{}, err
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prog := progress.Start(r.cfg.Progress, r.cfg.ProgressTTY, "load", len(accts), func(el time.Duration) string {
		return fmt.Sprintf("writes %d ok, %d failed, %d ambiguous  %.0f acked/s",
			r.stats.OK.Load(), r.stats.Failed.Load(), r.stats.Ambiguous.Load(), float64(r.stats.OK.Load())/max(el.Seconds(), 1e-9))
	})

	// Each user's writes start at its offset in the global write order the
	// gate counts in; when the load ends, nothing may wait on the gate.
	offsets := make([]int64, len(accts))
	if r.cfg.Gate != nil {
		defer r.cfg.Gate.Close()
		var n int64
		for i, a := range accts {
			offsets[i] = n
			n += int64(len(r.plan(a.Username).Ops))
		}
	}
	var (
		mu       sync.Mutex
		fatal    error
		userErrs = map[int]error{}
		done     atomic.Int64
		next     = make(chan int)
		wg       sync.WaitGroup
	)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				err := f.loadUser(ctx, server, accts[i], offsets[i])
				var rerr *RecordError
				switch {
				case errors.As(err, &rerr):
					mu.Lock()
					if fatal == nil {
						fatal = rerr
					}
					mu.Unlock()
					cancel()
				case err != nil && ctx.Err() == nil:
					mu.Lock()
					userErrs[i] = err
					mu.Unlock()
					r.log.printf("user", "%v", err)
				case err == nil:
					done.Add(1)
					prog.Done()
					continue
				}
				prog.Failed()
			}
		}()
	}
feed:
	for i := range accts {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	prog.Stop()

	s := r.summary(len(accts), int(done.Load()), time.Since(start), conc)
	idx := make([]int, 0, len(userErrs))
	for i := range userErrs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		s.UserErrors = append(s.UserErrors, UserError{User: accts[i].Username, Err: userErrs[i]})
	}
	if fatal != nil {
		return s, fmt.Errorf("stop the load, since a write that is not recorded cannot be verified: %w", fatal)
	}
	if err := ctx.Err(); err != nil && s.UsersDone < s.Users {
		return s, fmt.Errorf("stopped after %d of %d users: %w", s.UsersDone, s.Users, err)
	}
	return s, nil
}

// loadUser runs one user's phones at once, each through its share of the plan.
func (f *Fleet) loadUser(ctx context.Context, server string, a accounts.Account, offset int64) error {
	r := f.r
	plan := r.plan(a.Username)
	if g := r.cfg.Gate; g != nil {
		// Whatever happens to this user's phones, none of its writes is pending
		// on the gate afterwards.
		defer func() {
			for i := range plan.Ops {
				g.Done(offset + int64(i))
			}
		}()
	}
	phones := f.byUser[a.Username]
	if len(phones) != plan.Devices {
		return fmt.Errorf("user %s: the fleet has %d phones, the plan %d", a.Username, len(phones), plan.Devices)
	}
	if !f.keep {
		defer func() {
			for _, p := range phones {
				p.st.wipe()
			}
		}()
	}
	errs := make([]error, plan.Devices)
	devs := make([]*device, plan.Devices)
	for _, p := range phones {
		d, err := p.device(server)
		if err != nil {
			return err
		}
		d.rc = NewRecordingClient(d.dav, r.cfg.Ledger)
		devs[p.n] = d
	}
	var wg sync.WaitGroup
	for n, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[n] = d.run(ctx, plan.DeviceOps(n), gated(r.cfg.Gate, offset, plan.DeviceOpIndexes(n)))
		}()
	}
	wg.Wait()
	// Every phone syncs once more now that all of them are done, so that each
	// holds what the others wrote.
	for n, d := range devs {
		if errs[n] == nil && ctx.Err() == nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.syncLogged(ctx)
			}()
		}
	}
	wg.Wait()
	for _, err := range errs {
		var rerr *RecordError
		if errors.As(err, &rerr) {
			return err
		}
	}
	// Devices of one user usually fail alike (a refused login): say it once.
	var unique []error
	seen := map[string]bool{}
	for _, err := range errs {
		if err != nil && !seen[err.Error()] {
			seen[err.Error()] = true
			unique = append(unique, err)
		}
	}
	if len(unique) > 0 {
		return fmt.Errorf("user %s: %w", a.Username, errors.Join(unique...))
	}
	return nil
}

// device returns a device that works on the phone's store, talking to server.
func (p *Phone) device(server string) (*device, error) {
	c, err := dav.New(server, p.acct.Username, p.acct.Password, p.fleet.r.hc)
	if err != nil {
		return nil, err
	}
	c.UserAgent = fmt.Sprintf("firedrill/1 (simulated phone %d)", p.n+1)
	d := p.fleet.r.newDevice(c, p.acct.Username, p.n)
	d.st, d.syncMu = p.st, &p.syncMu
	return d, nil
}

// ID names the phone: its user's name, a slash and its 1-based index.
func (p *Phone) ID() string { return p.id }

// User returns the name of the phone's user.
func (p *Phone) User() string { return p.acct.Username }

// Index returns the phone's 1-based index among its user's phones.
func (p *Phone) Index() int { return p.n + 1 }

// Reset wipes the phone's store and sync tokens, as a factory reset does:
// whatever the phone held is gone. It does not contact the server.
func (p *Phone) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reset device %s: %w", p.id, err)
	}
	p.st.wipe()
	return nil
}

// Resync sets the phone up again from scratch and syncs everything from the
// fleet's server, as a freshly reset phone does: discovery, then every address
// book and calendar with sync-collection from no token and multiget in batches,
// and the photos and app data by listing and GET. Network failures and 5xx
// answers are retried as the profile says. On success the phone holds exactly
// what the server listed; on failure its store is left as it was.
func (p *Phone) Resync(ctx context.Context) error {
	d, err := p.device(p.fleet.Server())
	if err != nil {
		return fmt.Errorf("resync device %s: %w", p.id, err)
	}
	d.st = newStore()
	if err := d.setup(ctx, false); err != nil {
		return fmt.Errorf("resync device %s: %w", p.id, err)
	}
	if errs := d.syncAll(ctx, true); len(errs) > 0 {
		return fmt.Errorf("resync device %s: %w", p.id, errors.Join(errs...))
	}
	p.st.replace(d.st)
	return nil
}

// Store returns what the phone holds.
func (p *Phone) Store() DeviceStore {
	items, tokens := p.st.snapshot()
	return DeviceStore{ID: p.id, User: p.acct.Username, Device: p.n + 1, Items: items, Tokens: tokens}
}

// Phones returns the phones a selector names, in user order: "all", a user's
// name (all of that user's phones) or a phone's ID.
func (f *Fleet) Phones(selector string) ([]*Phone, error) {
	sel := strings.TrimSpace(selector)
	switch {
	case sel == "all":
		return append([]*Phone(nil), f.phones...), nil
	case f.byID[sel] != nil:
		return []*Phone{f.byID[sel]}, nil
	case f.byUser[sel] != nil:
		return append([]*Phone(nil), f.byUser[sel]...), nil
	}
	example := f.phones[0]
	return nil, fmt.Errorf("select phones %q: no such user or phone; want \"all\", a user's name (e.g. %s) or a phone's ID (e.g. %s)",
		selector, example.User(), example.ID())
}

// Stores returns what every phone holds, in user order.
func (f *Fleet) Stores() []DeviceStore {
	out := make([]DeviceStore, len(f.phones))
	for i, p := range f.phones {
		out[i] = p.Store()
	}
	return out
}

// ResetDevices resets the phones a selector names.
func (f *Fleet) ResetDevices(ctx context.Context, selector string) error {
	phones, err := f.Phones(selector)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range phones {
		errs = append(errs, p.Reset(ctx))
	}
	return joinSome("reset", len(phones), errs)
}

// joinSome joins the errors of an operation on n phones, naming at most five.
func joinSome(what string, n int, errs []error) error {
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	shown := failed[:min(5, len(failed))]
	if len(failed) > len(shown) {
		shown = append(shown, fmt.Errorf("and %d more", len(failed)-len(shown)))
	}
	return fmt.Errorf("%s %d of %d phones failed: %w", what, len(failed), n, errors.Join(shown...))
}

// ResyncDevices resyncs the phones a selector names, as many at once as the
// load ran users. The error names every phone that failed.
func (f *Fleet) ResyncDevices(ctx context.Context, selector string) error {
	phones, err := f.Phones(selector)
	if err != nil {
		return err
	}
	errs := make([]error, len(phones))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(f.conc, len(phones)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = phones[i].Resync(ctx)
			}
		}()
	}
	for i := range phones {
		next <- i
	}
	close(next)
	wg.Wait()
	return joinSome("resync", len(phones), errs)
}
