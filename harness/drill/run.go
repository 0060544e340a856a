package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/fault/proxy"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/seed"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/workload"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// Options says how to run a scenario.
type Options struct {
	Seed    int64
	Profile string // overrides the scenario's profile when set
	// Reports is the root of run directories (default "reports").
	Reports string
	// Step pauses before each stage for the operator (game days).
	Step bool
	// Out receives the narration; nil is silent. In answers step prompts.
	Out io.Writer
	In  io.Reader
	// Progress receives the workload's and observer's progress lines.
	Progress    io.Writer
	ProgressTTY bool
	// Command is the command line that replays this run, for the report.
	Command string
}

// Outcome is what a run produced.
type Outcome struct {
	Report *report.Report
	Dir    *report.RunDir
	Result *verify.Result // nil when the run ended before verification
}

// VerifyInput is saved beside the observation so that `firedrill report` can
// re-verify a run offline exactly as the run did.
type VerifyInput struct {
	Mode          verify.Mode `json:"mode"`
	RecoveryPoint int64       `json:"recovery_point_ns"`
	Lower         int64       `json:"lower_ns,omitempty"`
	Upper         int64       `json:"upper_ns,omitempty"`
}

// VerifyInputFile is the name of the saved VerifyInput in a run directory.
const VerifyInputFile = "verify-input.json"

// drillRun is one scenario run's state as its steps go by.
type drillRun struct {
	sc       Scenario
	opts     Options
	prof     *profile.Profile
	say      *Narrator
	tl       *timeline.Timeline
	dir      *report.RunDir
	run      *stack.Run
	primary  *stack.Stack
	current  *stack.Stack // the stack users are served from now
	proxy    *proxy.Proxy
	session  *backup.Session
	accts    []accounts.Account
	ledger   *ledger.Writer
	active   []*fault.Active
	restored *backup.Restored
	nothing  error // why a restore had nothing to restore from
	points   map[string][2]int64
	target   VerifyInput
	result   *verify.Result
	fleet    *workload.Fleet // the phones, kept when the scenario acts on them after the load
	resynced bool
	phones   []string // phones that differ from the server after a resync
	backupOK bool
	backupAt string
}

// Run runs the scenario and writes its run directory. It returns the outcome
// (with a report whose verdict is error when a stage failed) and the error that
// stopped the run, if any. Every Docker object it made is removed before it
// returns, also on error or cancellation.
func Run(ctx context.Context, sc Scenario, opts Options) (out *Outcome, err error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if opts.Profile != "" {
		sc.Profile = opts.Profile
	}
	if opts.Reports == "" {
		opts.Reports = "reports"
	}
	prof, err := profile.Load(sc.Profile)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	started := time.Now().UTC()
	dir, err := report.NewRunDir(opts.Reports, report.NewRunID(sc.Name, opts.Seed, started))
	if err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	d := &drillRun{sc: sc, opts: opts, prof: prof, tl: timeline.New(), dir: dir, points: map[string][2]int64{},
		say: NewNarrator(opts.Out, opts.In, opts.Step, len(sc.Steps)+1)}
	fmt.Fprintf(orDiscard(opts.Out), "firedrill: scenario %s, profile %s, seed %d (replay: %s)\n", sc.Name, sc.Profile, opts.Seed, opts.Command)
	r := &report.Report{
		Schema: report.SchemaVersion, RunID: dir.ID, Scenario: sc.Name, Description: sc.Summary, Labels: sc.Labels,
		Profile: sc.Profile, Seed: opts.Seed, Command: opts.Command, Expected: sc.Expect, Started: started,
		Environment: map[string]string{"go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH},
		Backup:      report.Backup{Strategy: sc.Backup},
	}
	out = &Outcome{Report: r, Dir: dir}

	runErr := d.execute(ctx)
	// Whatever happened, everything the phones learned reaches the saved ledger.
	if d.ledger != nil {
		if err := d.ledger.Close(); err != nil && !errors.Is(err, ledger.ErrClosed) {
			runErr = errors.Join(runErr, fmt.Errorf("close ledger: %w", err))
		}
	}
	// Clean up with a context of its own: the run's may be cancelled (Ctrl-C).
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if d.run != nil {
		if runErr != nil || (d.result != nil && d.result.Status != verify.Pass) {
			if err := d.run.CollectLogs(cleanCtx, dir.LogsDir()); err != nil {
				fmt.Fprintf(orDiscard(opts.Out), "firedrill: collect logs: %v\n", err)
			}
		}
		if d.session != nil {
			d.session.Stop(cleanCtx)
		}
		if err := d.run.Close(cleanCtx); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("clean up run %s: %w", d.run.ID, err))
		}
	}
	d.fill(r, runErr)
	r.Finished = time.Now().UTC()
	if err := dir.Write(r); err != nil {
		return out, errors.Join(runErr, fmt.Errorf("write report: %w", err))
	}
	out.Result = d.result
	return out, runErr
}

// execute runs the provisioning and every step in order.
func (d *drillRun) execute(ctx context.Context) error {
	if err := d.say.Before("Start the sync service", fmt.Sprintf("Start PostgreSQL (data in failure domain san-a) and the sync server on a private network, set up the %s backup strategy, and create %d user accounts.", d.sc.Backup, d.prof.Users)); err != nil {
		return err
	}
	if err := d.provision(ctx); err != nil {
		return err
	}
	d.say.After(fmt.Sprintf("stack up in %s; %d accounts created", d.primary.StartupTime.Round(100*time.Millisecond), len(d.accts)))
	for _, st := range d.sc.Steps {
		title, what := st.narration(d.sc)
		if err := d.say.Before(title, what); err != nil {
			return err
		}
		end := d.tl.Begin(timeline.Stage, string(st.Do), "")
		said, err := d.step(ctx, st)
		end(said)
		if err != nil {
			return fmt.Errorf("%s: %w", st.Do, err)
		}
		d.say.After(said)
	}
	return nil
}

func (d *drillRun) provision(ctx context.Context) error {
	strategy, err := backup.Lookup(d.sc.Backup)
	if err != nil {
		return err
	}
	if d.run, err = stack.NewRun(ctx); err != nil {
		return err
	}
	opts := []stack.Option{stack.WithName("primary"), stack.WithPostgres(strategy.PrimaryOptions()...)}
	if d.sc.DataVolumeSize > 0 {
		vol, err := d.run.CreateSizedVolume(ctx, "primary-postgres-data", stack.DomainSANA, d.sc.DataVolumeSize)
		if err != nil {
			return err
		}
		opts = append(opts, stack.WithPostgres(stack.WithDataVolume(vol)))
	}
	if d.sc.Proxy {
		opts = append(opts, proxy.Interpose(&d.proxy))
	}
	if d.primary, err = stack.Start(ctx, d.run, opts...); err != nil {
		return err
	}
	d.current = d.primary
	if d.session, err = strategy.Setup(ctx, d.run, d.primary.Postgres, backup.WithTimeline(d.tl)); err != nil {
		return fmt.Errorf("set up backups: %w", err)
	}
	d.accts = accounts.Generate(d.prof.Users, d.opts.Seed)
	if err := d.provisionAccounts(ctx, d.current); err != nil {
		return err
	}
	meta := ledger.Meta{Seed: d.opts.Seed, Profile: d.sc.Profile, Server: "syncd (reference stack)", Labels: map[string]string{"scenario": d.sc.Name, "run": d.run.ID}}
	if d.ledger, err = ledger.Create(d.dir.LedgerPath(), time.Now(), meta); err != nil {
		return fmt.Errorf("create ledger: %w", err)
	}
	return nil
}

func (d *drillRun) provisionAccounts(ctx context.Context, s *stack.Stack) error {
	url, err := s.URL(ctx)
	if err != nil {
		return err
	}
	if err := accounts.Provision(ctx, dav.NewHTTPClient(8), url, s.Syncd.AdminToken, d.accts, 8); err != nil {
		return fmt.Errorf("provision accounts: %w", err)
	}
	return nil
}

// phonesURL is where phones reach the current stack: through the proxy when the
// primary runs behind one, so that links can be cut and ports stay put across
// restarts of syncd.
func (d *drillRun) phonesURL(ctx context.Context) (string, error) {
	if d.proxy != nil && d.current == d.primary {
		return d.proxy.SyncdURL(ctx)
	}
	return d.current.URL(ctx)
}

func (d *drillRun) faultEnv() *fault.Env {
	return &fault.Env{Run: d.run, Stack: d.primary, Proxy: d.proxy, Timeline: d.tl, Seed: d.opts.Seed}
}

// step runs one step and returns a line saying what happened.
func (d *drillRun) step(ctx context.Context, st Step) (string, error) {
	switch st.Do {
	case Load:
		return d.load(ctx, st.Faults)
	case BaseBackup:
		e, err := d.session.Backup(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("backup %s taken (%s, %s)", e.ID, e.Method, humanBytes(e.Size)), nil
	case RestorePoint:
		lower := d.ledger.Now()
		rp, err := d.session.RestorePoint(ctx, st.Name)
		if err != nil {
			return "", err
		}
		d.points[st.Name] = [2]int64{lower, d.ledger.Now()}
		return fmt.Sprintf("restore point %q at WAL position %s", rp.Name, rp.LSN), nil
	case Inject:
		return d.inject(ctx, st.Faults)
	case Recover:
		return d.recoverAll(ctx)
	case Observe:
		return d.observeNow(ctx)
	case Disaster:
		if err := d.ledger.Sync(); err != nil {
			return "", fmt.Errorf("save ledger: %w", err)
		}
		d.target = VerifyInput{Mode: verify.Latest, RecoveryPoint: d.ledger.Now()}
		specs := st.Faults
		if len(specs) == 0 {
			specs = []fault.Spec{{Name: "lose-domain", Target: stack.DomainSANA}}
		}
		return d.inject(ctx, specs)
	case Restore:
		return d.restore(ctx, st.Name)
	case ResetPhones:
		if err := d.fleet.ResetDevices(ctx, "all"); err != nil {
			return "", err
		}
		items := 0
		for _, st := range d.fleet.Stores() {
			items += len(st.Items)
		}
		return fmt.Sprintf("%d phones wiped; they hold %d items now", len(d.fleet.Stores()), items), nil
	case ResyncPhones:
		url, err := d.current.URL(ctx)
		if err != nil {
			return "", err
		}
		if err := d.fleet.SetServer(url); err != nil {
			return "", err
		}
		if err := d.fleet.ResyncDevices(ctx, "all"); err != nil {
			return "", err
		}
		d.resynced = true
		items := 0
		for _, st := range d.fleet.Stores() {
			items += len(st.Items)
		}
		return fmt.Sprintf("%d phones resynced; they hold %d items", len(d.fleet.Stores()), items), nil
	case Verify:
		return d.verify(ctx)
	}
	return "", fmt.Errorf("unknown action %q", st.Do)
}

// load runs the workload, injecting faults at seeded points of its progress:
// each after a seeded share (20% to 60%) of the planned writes, held for a seeded
// 2 to 5 seconds, then recovered while the phones retry.
func (d *drillRun) load(ctx context.Context, specs []fault.Spec) (string, error) {
	url, err := d.phonesURL(ctx)
	if err != nil {
		return "", err
	}
	cfg := workload.Config{Server: url, Accounts: d.accts, Profile: d.prof, Seed: d.opts.Seed, Ledger: d.ledger,
		Progress: d.opts.Progress, ProgressTTY: d.opts.ProgressTTY, Log: d.opts.Progress}
	loadAll := func(ctx context.Context) (workload.Summary, error) {
		if !d.sc.needsPhones() {
			return workload.Load(ctx, cfg)
		}
		fleet, err := workload.NewFleet(cfg)
		if err != nil {
			return workload.Summary{}, err
		}
		d.fleet = fleet
		return fleet.Load(ctx)
	}
	if len(specs) == 0 {
		sum, err := loadAll(ctx)
		if err != nil {
			return "", err
		}
		return loadSummary(sum), d.ledger.Sync()
	}
	planned := plannedWrites(d.opts.Seed, d.prof, d.accts)
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(specs))
	base := d.ledger.Len()
	for i, spec := range specs {
		r := seed.Derive(d.opts.Seed, "fault-schedule", spec.String(), fmt.Sprint(i))
		at := base + int64(float64(planned)*(0.2+0.4*r.Float64()))
		hold := 2*time.Second + time.Duration(r.Int64N(int64(3*time.Second)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.injectDuringLoad(loadCtx, spec, at, hold)
		}()
	}
	sum, loadErr := loadAll(ctx)
	cancel()
	wg.Wait()
	if err := errors.Join(append([]error{loadErr}, errs...)...); err != nil {
		return "", err
	}
	return loadSummary(sum), d.ledger.Sync()
}

func (d *drillRun) injectDuringLoad(ctx context.Context, spec fault.Spec, at int64, hold time.Duration) error {
	for d.ledger.Len() < at {
		select {
		case <-ctx.Done():
			return nil // the load ended before this fault's moment
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := d.ledger.Sync(); err != nil {
		return fmt.Errorf("save ledger: %w", err)
	}
	f, err := fault.New(spec)
	if err != nil {
		return err
	}
	a, err := fault.Inject(context.WithoutCancel(ctx), d.faultEnv(), f)
	if err != nil {
		return fmt.Errorf("inject %s: %w", spec, err)
	}
	d.say.Say("fault %s injected after %d writes; recovering in %s", spec, at, hold.Round(100*time.Millisecond))
	time.Sleep(hold)
	if err := a.Recover(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("recover %s: %w", spec, err)
	}
	return nil
}

// plannedWrites counts the writes the users' plans hold.
func plannedWrites(seed int64, p *profile.Profile, accts []accounts.Account) int {
	g := gen.New(seed, p)
	n := 0
	for _, a := range accts {
		n += len(g.Plan(a.Username).Ops)
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
		line += "; not covered: " + strings.Join(kinds, ", ")
	}
	return line
}

func (d *drillRun) inject(ctx context.Context, specs []fault.Spec) (string, error) {
	if err := d.ledger.Sync(); err != nil {
		return "", fmt.Errorf("save ledger: %w", err)
	}
	var done []string
	for _, spec := range specs {
		spec, err := d.resolve(spec)
		if err != nil {
			return "", err
		}
		f, err := fault.New(spec)
		if err != nil {
			return "", err
		}
		a, err := fault.Inject(ctx, d.faultEnv(), f)
		if err != nil {
			return "", fmt.Errorf("inject %s: %w", spec, err)
		}
		d.active = append(d.active, a)
		line := spec.String()
		if det, ok := f.(fault.Detailer); ok {
			line += ": " + det.Detail()
		}
		done = append(done, line)
	}
	return strings.Join(done, "; "), nil
}

// resolve replaces the placeholders a scenario may use in fault parameters with
// what they name in this run: {newest-backup} and {oldest-backup} become the path
// of that base backup on the backup volume.
func (d *drillRun) resolve(spec fault.Spec) (fault.Spec, error) {
	out := spec
	out.Params = map[string]string{}
	for k, v := range spec.Params {
		for _, ph := range []string{"{newest-backup}", "{oldest-backup}"} {
			if !strings.Contains(v, ph) {
				continue
			}
			backups := d.session.Catalog().NewestFirst()
			if len(backups) == 0 {
				return spec, fmt.Errorf("fault %s: %s names a backup, but none was taken yet", spec, ph)
			}
			b := backups[0]
			if ph == "{oldest-backup}" {
				b = backups[len(backups)-1]
			}
			v = strings.ReplaceAll(v, ph, b.Path)
		}
		out.Params[k] = v
	}
	return out, nil
}

func (d *drillRun) recoverAll(ctx context.Context) (string, error) {
	var errs []error
	n := len(d.active)
	for _, a := range d.active {
		if err := a.Recover(ctx); err != nil {
			errs = append(errs, fmt.Errorf("recover %s: %w", a.Fault.Name(), err))
		}
	}
	d.active = nil
	return fmt.Sprintf("%d faults recovered", n), errors.Join(errs...)
}

// observeBudget bounds how long the Observe step reads a damaged service.
const observeBudget = 45 * time.Second

// observeNow reads the current stack and says what users would see, without
// deciding the verdict.
func (d *drillRun) observeNow(ctx context.Context) (string, error) {
	url, err := d.current.URL(ctx)
	if err != nil {
		return "", err
	}
	if err := dav.Reachable(ctx, dav.NewHTTPClient(2), url); err != nil {
		return "the service does not answer: " + err.Error(), nil
	}
	// A damaged service may hang rather than fail: look for a bounded time, once
	// per request, as an impatient user would.
	lookCtx, cancel := context.WithTimeout(ctx, observeBudget)
	defer cancel()
	obs, err := observe.Observe(lookCtx, observe.Options{Server: url, Accounts: d.accts, Attempts: 1, Timeout: 15 * time.Second,
		Progress: d.opts.Progress, ProgressTTY: d.opts.ProgressTTY})
	if lookCtx.Err() != nil && ctx.Err() == nil {
		return fmt.Sprintf("the service did not answer every user within %s: it hangs", observeBudget), nil
	}
	if err != nil {
		return "reading users back failed: " + err.Error(), nil
	}
	l, err := d.loadLedger()
	if err != nil {
		return "", err
	}
	res := verify.Check(verify.Input{Ledger: l, Observation: *obs, Mode: verify.Latest, RecoveryPoint: d.ledger.Now()})
	return fmt.Sprintf("users see: %s", res.Summary(3, 2)), nil
}

func (d *drillRun) restore(ctx context.Context, point string) (string, error) {
	if err := d.ledger.Sync(); err != nil {
		return "", fmt.Errorf("save ledger: %w", err)
	}
	if d.target.Mode == "" {
		d.target = VerifyInput{Mode: verify.Latest, RecoveryPoint: d.ledger.Now()}
	}
	target := backup.Latest()
	if point != "" {
		target = backup.AtRestorePoint(point)
		b := d.points[point]
		d.target = VerifyInput{Mode: verify.PointInTime, Lower: b[0], Upper: b[1]}
	}
	// The archive must be complete before it is read: stop streaming first.
	if err := d.session.Stop(ctx); err != nil {
		d.say.Say("stopping the backup agents reported: %v", err)
	}
	restored, err := backup.Restore(ctx, d.run, d.session.Catalog(), target, backup.WithTimeline(d.tl))
	if errors.Is(err, backup.ErrNothingToRestore) || errors.Is(err, backup.ErrNoUsableBackup) {
		// What the operators are left with: an empty service the users log into again.
		d.nothing = err
		d.say.Say("NOTHING TO RESTORE FROM: %v", err)
		d.say.Say("the service comes back empty; users sign in again and find their data gone")
		empty, serr := stack.Start(ctx, d.run, stack.WithName("empty"))
		if serr != nil {
			return "", serr
		}
		d.current = empty
		if err := d.provisionAccounts(ctx, empty); err != nil {
			return "", err
		}
		return "no usable backup: " + err.Error(), nil
	}
	if err != nil {
		return "", err
	}
	d.restored = restored
	d.current = restored.Stack
	d.backupOK = true
	var tried []string
	for _, a := range restored.Attempts {
		s := a.Backup + " " + string(a.Status)
		if a.Reason != "" {
			s += " (" + a.Reason + ")"
		}
		tried = append(tried, s)
	}
	d.backupAt = fmt.Sprintf("restored from %s to %s; backups tried: %s", restored.Backup.ID, restored.Target, strings.Join(tried, "; "))
	return fmt.Sprintf("restored from backup %s, recovery point %s, in %s; tried: %s", restored.Backup.ID, restored.Point.LSN,
		restored.RTO().Total.Round(100*time.Millisecond), strings.Join(tried, "; ")), nil
}

func (d *drillRun) observe(ctx context.Context, url string) (*model.Observation, error) {
	return observe.Observe(ctx, observe.Options{Server: url, Accounts: d.accts, KeepBodies: true,
		Progress: d.opts.Progress, ProgressTTY: d.opts.ProgressTTY})
}

func (d *drillRun) loadLedger() (*ledger.Ledger, error) {
	if err := d.ledger.Sync(); err != nil {
		return nil, fmt.Errorf("save ledger: %w", err)
	}
	l, err := ledger.Load(d.dir.LedgerPath())
	if err != nil {
		return nil, fmt.Errorf("load ledger: %w", err)
	}
	return l, nil
}

func (d *drillRun) verify(ctx context.Context) (string, error) {
	url, err := d.current.URL(ctx)
	if err != nil {
		return "", err
	}
	var end func(string)
	if d.restored != nil {
		end = d.restored.Begin("verified")
	}
	obs, err := d.observe(ctx, url)
	if err != nil {
		return "", fmt.Errorf("observe users: %w", err)
	}
	if d.target.Mode == "" {
		d.target = VerifyInput{Mode: verify.Latest, RecoveryPoint: d.ledger.Now()}
	}
	if err := d.ledger.Close(); err != nil {
		return "", fmt.Errorf("close ledger: %w", err)
	}
	l, err := ledger.Load(d.dir.LedgerPath())
	if err != nil {
		return "", fmt.Errorf("load ledger: %w", err)
	}
	res, err := CheckAndSave(l, Users(obs), d.target, d.dir.ObservationPath())
	if err != nil {
		return "", err
	}
	if end != nil {
		end(string(res.Status))
	}
	d.result = &res
	said := res.Summary(5, 3)
	if d.resynced {
		d.phones = comparePhones(d.fleet.Stores(), *obs)
		if len(d.phones) == 0 {
			said += fmt.Sprintf("; all %d phones hold exactly what the service holds", len(d.fleet.Stores()))
		} else {
			said += fmt.Sprintf("; %d phones differ from the service: %s", len(d.phones), strings.Join(first(d.phones, 3), "; "))
		}
	}
	if err := writeJSON(d.dir.Path+"/"+VerifyInputFile, d.target); err != nil {
		return "", err
	}
	return said, nil
}

// keepBodiesOfChanged drops the bodies the observer kept for explaining
// changes from every item that did not change: the saved observation then holds
// digests for re-verification and bodies only where a person will read a diff
// (for profile small, 75 MB of bodies otherwise).
func keepBodiesOfChanged(obs *model.Observation, res verify.Result) {
	changed := map[string]map[string]bool{}
	for _, u := range res.Users {
		for _, it := range u.Changed {
			if changed[u.User] == nil {
				changed[u.User] = map[string]bool{}
			}
			changed[u.User][it.Key] = true
		}
	}
	for i := range obs.Users {
		u := &obs.Users[i]
		for j := range u.Items {
			if !changed[u.User][u.Items[j].Key] {
				u.Items[j].Body = nil
			}
		}
	}
}

// comparePhones returns, for each phone whose local store differs from what the
// service returned for its user, a line saying how.
func comparePhones(stores []workload.DeviceStore, obs model.Observation) []string {
	byUser := map[string]model.UserObservation{}
	for _, u := range obs.Users {
		byUser[u.User] = u
	}
	var out []string
	for _, st := range stores {
		if diff := workload.CompareStore(st, byUser[st.User]); !diff.Empty() {
			out = append(out, st.ID+": "+diff.String())
		}
	}
	return out
}

func first(lines []string, n int) []string {
	if len(lines) > n {
		return append(lines[:n:n], fmt.Sprintf("and %d more", len(lines)-n))
	}
	return lines
}

// Check verifies an observation against a ledger the way the run did.
func Check(l *ledger.Ledger, obs model.Observation, in VerifyInput) verify.Result {
	vi := NewVerifyInput(l, in)
	vi.Observation = obs
	return verify.Check(vi)
}

// fill writes the run's findings and verdict into the report.
func (d *drillRun) fill(r *report.Report, runErr error) {
	r.SetTimeline(d.tl.Entries())
	if d.restored != nil {
		rto := d.restored.RTO()
		r.RTO = report.RTO{Seconds: rto.Total.Seconds()}
		for _, p := range rto.Phases {
			r.RTO.Phases = append(r.RTO.Phases, report.Phase{Name: p.Name, Seconds: p.Duration.Seconds(), Start: p.Start, End: p.Start.Add(p.Duration), Detail: p.Detail})
		}
	}
	r.Backup.Verified = d.backupOK
	r.Backup.Detail = d.backupAt
	if d.nothing != nil {
		r.Backup.Detail = "nothing to restore from: " + d.nothing.Error()
	}
	if d.primary != nil && d.primary.Syncd != nil {
		r.Server = "syncd (reference stack)"
	}
	if l, err := ledger.Load(d.dir.LedgerPath()); err == nil {
		if d.result != nil {
			FillFromVerify(r, *d.result, l)
		}
		FillThroughput(r, l, time.Second)
	}
	if d.sc.MaxLostWrites >= 0 && d.result != nil {
		r.Budgets = append(r.Budgets, report.NewBudget("rpo", "acked writes", float64(d.sc.MaxLostWrites), float64(r.RPO.LostAckedWrites)))
	}
	if d.sc.MaxRTO > 0 && d.restored != nil {
		r.Budgets = append(r.Budgets, report.NewBudget("rto", "s", d.sc.MaxRTO.Seconds(), r.RTO.Seconds))
	}
	r.Verdict, r.Actual, r.Reason = judge(d.sc, d.result, runErr, r)
	if len(d.phones) > 0 && r.Verdict == report.Pass && d.sc.Expect == report.ExpectIntact {
		r.Verdict, r.Actual = report.Fail, report.ExpectLossDetected
		r.Reason = fmt.Sprintf("the service is intact, but %d phones differ from it after resync: %s", len(d.phones), strings.Join(first(d.phones, 5), "; "))
	}
}

// judge decides the verdict: error when a stage failed; otherwise pass when the
// verifier found what the scenario expects and the budgets were kept.
func judge(sc Scenario, res *verify.Result, runErr error, r *report.Report) (report.Verdict, report.Expectation, string) {
	if runErr != nil {
		return report.Error, report.FoundUnknown, runErr.Error()
	}
	if res == nil {
		return report.Error, report.FoundUnknown, "the run ended before verification"
	}
	switch res.Status {
	case verify.Unknown:
		return report.Error, report.FoundUnknown, "the verifier could not decide: " + res.Reason
	case verify.Error:
		return report.Error, report.FoundUnknown, res.Reason
	case verify.Pass:
		if sc.Expect == report.ExpectLossDetected {
			return report.Fail, report.ExpectIntact, "expected the harness to find data loss, but every user is intact: the scenario did not damage what it meant to"
		}
		if !r.BudgetsMet() {
			return report.Fail, report.ExpectIntact, "every user intact, but a budget was exceeded: " + budgetLine(r)
		}
		return report.Pass, report.ExpectIntact, res.Reason
	default:
		if sc.Expect == report.ExpectLossDetected {
			return report.Pass, report.ExpectLossDetected, "loss detected as expected: " + res.Reason
		}
		return report.Fail, report.ExpectLossDetected, res.Reason
	}
}

func budgetLine(r *report.Report) string {
	var out []string
	for _, b := range r.Budgets {
		if !b.Met {
			out = append(out, fmt.Sprintf("%s %.1f %s over the limit of %.1f", b.Name, b.Actual, b.Unit, b.Limit))
		}
	}
	return strings.Join(out, "; ")
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Reverify re-checks a saved run offline from its ledger, observation and
// verify input, refreshes the report's findings and verdict (the scenario gives
// the expectation and budgets; nil keeps the report's), and rewrites the run
// directory's report.json, index.html and junit.xml.
func Reverify(dir *report.RunDir, sc *Scenario) (*report.Report, error) {
	r, err := dir.Load()
	if err != nil {
		return nil, fmt.Errorf("load report: %w", err)
	}
	l, err := ledger.Load(dir.LedgerPath())
	if err != nil {
		return nil, fmt.Errorf("load ledger: %w", err)
	}
	var in VerifyInput
	if err := readJSON(dir.Path+"/"+VerifyInputFile, &in); err != nil {
		return nil, fmt.Errorf("load verify input: %w", err)
	}
	res, err := CheckSaved(l, dir.ObservationPath(), in)
	if err != nil {
		return nil, err
	}
	FillFromVerify(r, res, l)
	if sc == nil {
		sc = &Scenario{Name: r.Scenario, Expect: r.Expected, MaxLostWrites: -1}
	}
	r.Budgets = nil
	if sc.MaxLostWrites >= 0 {
		r.Budgets = append(r.Budgets, report.NewBudget("rpo", "acked writes", float64(sc.MaxLostWrites), float64(r.RPO.LostAckedWrites)))
	}
	if sc.MaxRTO > 0 && r.RTO.Seconds > 0 {
		r.Budgets = append(r.Budgets, report.NewBudget("rto", "s", sc.MaxRTO.Seconds(), r.RTO.Seconds))
	}
	r.Verdict, r.Actual, r.Reason = judge(*sc, &res, nil, r)
	if err := dir.Write(r); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	return r, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
