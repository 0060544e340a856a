package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/capacity"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stackdef"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/workload"
	"github.com/firedrill/firedrill/harness/workload/fleetdev"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// Options says how to run a scenario.
type Options struct {
	Seed    int64
	Profile string // overrides the scenario's profile when set
	// Stack names the stack definition to run against: a built-in one
	// (stackdef.Names) or a file; "" is the reference stack, syncd's.
	Stack string
	// Users overrides the profile's number of users when > 0.
	Users int
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
	// Watch, when set, is told what the drill does as it happens (a live
	// page); Next, in step mode, is another way to go on than Enter.
	Watch Watcher
	Next  <-chan struct{}
	// Room, when set, is what the machine has free, instead of what
	// capacity.Probe measures (tests).
	Room *profile.Room
}

// room is what the machine has free: Options.Room, or what capacity
// measures, with what it could not.
func (o Options) room(ctx context.Context) (profile.Room, []string) {
	if o.Room != nil {
		return *o.Room, nil
	}
	return capacity.Probe(ctx)
}

// roomLine says what the needs were checked against, and what could not be.
func roomLine(r profile.Room, unknown []string) string {
	var s string
	if r.Disk > 0 {
		s += fmt.Sprintf("; %s free at %s", profile.Bytes(r.Disk), r.DiskAt)
	}
	if r.Memory > 0 {
		s += fmt.Sprintf("; %s of memory available", profile.Bytes(r.Memory))
	}
	if len(unknown) > 0 {
		s += "; not checked: " + strings.Join(unknown, ", ")
	}
	return s
}

// Outcome is what a run produced.
type Outcome struct {
	Report *report.Report
	Dir    *report.RunDir
	Result *verify.Result // nil when the run ended before verification
	// Proof is what a prove-backup step found; nil when none ran.
	Proof *Proof
	// ServerOwn is what a check step found before any fault, set against the
	// final verification; nil when no check ran or no verification did.
	ServerOwn *ServerOwn
}

// runner is one scenario run's state as its steps go by, grouped by stage.
type runner struct {
	sc   Scenario
	opts Options
	prof *profile.Profile
	def  *stackdef.Definition
	say  *Narrator
	tl   *timeline.Timeline
	dir  *report.RunDir

	sys     system
	phones  phones
	backups backups
	faults  []*fault.Active // injected by inject and disaster steps, not yet recovered
	found   findings
	proof   *Proof // what a prove-backup step found
}

// system is the containers the run made.
type system struct {
	run     *stack.Run
	primary *stack.Stack
	current *stack.Stack // the stack users are served from now
}

// phones is the users, their phones and the ledger of what they wrote.
type phones struct {
	all     []accounts.Account // every user: the active and those at rest
	accts   []accounts.Account // the active users, whose phones load
	resting []accounts.Account // the users at rest, imported by the populate step
	ledger  *ledger.Writer
	fleet   *workload.Fleet // kept when the scenario acts on the phones after the load
	// decoded is the last decode of the ledger file, reused while no record
	// was added since (decodedLen), so that a run decodes it once.
	decoded    *ledger.Ledger
	decodedLen int64
}

// backups is the backup session and what restoring from it gave.
type backups struct {
	session  *backup.Session
	restored *backup.Restored
	nothing  error               // why a restore had nothing to restore from
	points   map[string][2]int64 // restore point name -> ledger times around it
}

// findings is what verification found.
type findings struct {
	target    VerifyInput
	result    *verify.Result
	resynced  bool
	phones    []string   // phones that differ from the server after a resync
	before    *before    // what a check step found before any fault; nil when none ran
	serverOwn *ServerOwn // before set against the final verification
}

// Execute runs the scenario and writes its run directory. It returns the
// outcome (with a report whose verdict is error when a stage failed) and the
// error that stopped the run, if any. Every Docker object it made is removed
// before it returns, also on error or cancellation.
func Execute(ctx context.Context, sc Scenario, opts Options) (out *Outcome, err error) {
	if opts.Profile != "" {
		sc.Profile = opts.Profile
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if opts.Reports == "" {
		opts.Reports = "reports"
	}
	prof, err := profile.Load(sc.Profile)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	if opts.Users < 0 {
		return nil, fmt.Errorf("users %d: want a positive number of users, or 0 for the profile's %d", opts.Users, prof.Users)
	}
	if opts.Users > 0 {
		p := *prof
		p.Users = opts.Users
		prof = &p
	}
	if opts.Stack != "" {
		sc.Stack = opts.Stack
	}
	def, err := stackdef.Load(sc.Stack)
	if err != nil {
		return nil, err
	}
	if err := stackFits(sc, def, prof); err != nil {
		return nil, err
	}
	room, unknown := opts.room(ctx)
	needs := prof.Estimate(prof.Users)
	if err := needs.Fits(room); err != nil {
		return nil, fmt.Errorf("refuse profile %s: %w", prof.Name, err)
	}
	started := time.Now().UTC()
	dir, err := report.NewRunDir(opts.Reports, report.NewRunID(sc.Name, opts.Seed, started))
	if err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	d := &runner{sc: sc, opts: opts, prof: prof, def: def, tl: timeline.New(), dir: dir,
		say: NewNarrator(opts.Out, opts.In, opts.Step, len(sc.Steps)+1)}
	d.backups.points = map[string][2]int64{}
	if opts.Watch != nil {
		d.say.Watch(opts.Watch)
		d.tl.Watch(opts.Watch.Span)
	}
	d.say.NextFrom(opts.Next)
	d.say.StopOn(ctx)
	fmt.Fprintf(orDiscard(opts.Out), "firedrill: scenario %s, profile %s, seed %d (replay: %s)\n", sc.Name, sc.Profile, opts.Seed, opts.Command)
	if def.Name != stackdef.Reference || def.Source != "" {
		fmt.Fprintf(orDiscard(opts.Out), "firedrill: stack %s: %s\n", def.Label(), def.Summary)
	}
	if !def.HasFiles() {
		fmt.Fprintf(orDiscard(opts.Out), "firedrill: photos and app data are not covered on stack %s: %s\n", def.Name, def.Files.None)
	}
	fmt.Fprintf(orDiscard(opts.Out), "firedrill: %d users, about %.0f writes; needs about %s of disk and %s of memory%s\n",
		needs.Users, needs.Writes, profile.Bytes(needs.Disk), profile.Bytes(needs.Memory), roomLine(room, unknown))
	r := &report.Report{
		Schema: report.SchemaVersion, RunID: dir.ID, Scenario: sc.Name, Description: sc.Summary, Labels: sc.Labels,
		Profile: sc.Profile, Seed: opts.Seed, Command: opts.Command, Expected: sc.Expect, Started: started,
		Environment: map[string]string{"go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH, "stack": def.Label()},
		Backup:      report.Backup{Strategy: sc.Backup},
	}
	if sc.Source != "" {
		r.Environment["scenario_file"] = sc.Source
	}
	out = &Outcome{Report: r, Dir: dir}

	runErr := d.steps(ctx)
	runErr = errors.Join(runErr, d.cleanup(ctx, runErr))
	if d.sys.run != nil {
		r.Environment["docker_run"] = d.sys.run.ID // the io.firedrill.run label of its Docker objects
	}
	if ctx.Err() != nil && d.sys.run != nil {
		// What the person who pressed Ctrl-C needs: where it stopped, and that
		// nothing was left behind; not the chain of cancelled calls.
		runErr = &InterruptedError{Stage: d.say.Stage(), Removed: d.sys.run.Removed(), Cause: runErr}
	}
	l, lerr := d.ledgerForReport()
	if lerr != nil {
		d.say.Say("the saved ledger could not be read back for the report: %v", lerr)
	}
	if ferr := fill(r, d.facts(l), runErr); ferr != nil {
		d.say.Say("report: %v", ferr)
	}
	r.Finished = time.Now().UTC()
	if err := dir.Write(r); err != nil {
		return out, errors.Join(runErr, fmt.Errorf("write report: %w", err))
	}
	if opts.Watch != nil {
		opts.Watch.Finished(r, dir)
	}
	out.Result = d.found.result
	out.Proof = d.proof
	out.ServerOwn = d.found.serverOwn
	return out, runErr
}

// InterruptedError is how a run that was cancelled (Ctrl-C, a timeout) ends:
// the stage it stopped in and what its cleanup removed.
type InterruptedError struct {
	Stage   string
	Removed stack.Counts
	Cause   error // the errors of the interrupted stage and of cleanup
}

// Error says it in one line.
func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted at stage %q; removed %s", e.Stage, e.Removed)
}

// Unwrap returns the cause.
func (e *InterruptedError) Unwrap() error { return e.Cause }

// steps provisions the stack and runs every step in order.
func (d *runner) steps(ctx context.Context) error {
	accountsLine := fmt.Sprintf("create %d user accounts", d.prof.Users)
	if active := d.prof.Active(d.prof.Users); active < d.prof.Users {
		accountsLine = fmt.Sprintf("create the accounts of the %d active users (the %d at rest come with their data)", active, d.prof.Users-active)
	}
	if err := d.say.Before("Start the sync service", fmt.Sprintf("Start stack %s: PostgreSQL (data in failure domain san-a) and its sync server on a private network; set up the %s backup strategy, and %s.", d.def.Name, d.sc.Backup, accountsLine)); err != nil {
		return err
	}
	if err := d.provision(ctx); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	created := fmt.Sprintf("%d accounts created", len(d.phones.accts))
	if len(d.phones.resting) > 0 {
		created = fmt.Sprintf("accounts of the %d active users created in bulk; the %d at rest come with their data", len(d.phones.accts), len(d.phones.resting))
	}
	d.say.After(fmt.Sprintf("stack up in %s; %s", d.sys.primary.StartupTime.Round(100*time.Millisecond), created))
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

// cleanup runs on every path: it saves the ledger, collects the containers'
// logs when the run failed, stops the backup agents and removes every Docker
// object of the run, with a context of its own (the run's may be cancelled).
// It returns what went wrong that the report must show.
func (d *runner) cleanup(ctx context.Context, runErr error) error {
	var errs []error
	if d.phones.ledger != nil {
		if err := d.phones.ledger.Close(); err != nil && !errors.Is(err, ledger.ErrClosed) {
			errs = append(errs, fmt.Errorf("close ledger: %w", err))
		}
	}
	if d.sys.run == nil {
		return errors.Join(errs...)
	}
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if runErr != nil || (d.found.result != nil && d.found.result.Status != verify.Pass) {
		if err := d.sys.run.CollectLogs(cleanCtx, d.dir.LogsDir()); err != nil {
			d.say.Say("collecting the containers' logs failed: %v", err)
		}
	}
	if d.backups.session != nil {
		if err := d.backups.session.Stop(cleanCtx); err != nil {
			// The agents of a lost primary often cannot stop cleanly; their
			// containers go with the run either way.
			d.say.Say("stopping the backup agents reported: %v", err)
		}
	}
	if err := d.sys.run.Close(cleanCtx); err != nil {
		errs = append(errs, fmt.Errorf("clean up run %s: %w", d.sys.run.ID, err))
	}
	return errors.Join(errs...)
}

// provision starts the primary stack, the backup session and the accounts, and
// creates the ledger.
func (d *runner) provision(ctx context.Context) error {
	strategy, err := backup.Lookup(d.sc.Backup)
	if err != nil {
		return err
	}
	if d.sys.run, err = stack.NewRun(ctx); err != nil {
		return err
	}
	if swept := d.sys.run.Swept.String(); swept != "" {
		d.say.Say("before starting, the sweep %s", swept)
	}
	opts := []stack.Option{stack.WithName("primary"), stack.WithDefinition(d.def), stack.WithPostgres(strategy.PrimaryOptions()...)}
	if d.sc.DataVolumeSize > 0 {
		vol, err := d.sys.run.CreateSizedVolume(ctx, "primary-postgres-data", stack.DomainSANA, d.sc.DataVolumeSize)
		if err != nil {
			return err
		}
		opts = append(opts, stack.WithPostgres(stack.WithDataVolume(vol)))
	}
	if d.sc.Proxy {
		opts = append(opts, stack.WithProxy())
	}
	if d.sys.primary, err = stack.Start(ctx, d.sys.run, opts...); err != nil {
		return err
	}
	d.sys.current = d.sys.primary
	if d.backups.session, err = strategy.Setup(ctx, d.sys.run, d.sys.primary.Postgres, backup.WithTimeline(d.tl)); err != nil {
		return fmt.Errorf("set up backups: %w", err)
	}
	d.phones.all = accounts.Generate(d.prof.Users, d.opts.Seed)
	d.phones.accts, d.phones.resting = accounts.SplitActive(d.phones.all, d.prof.Active(len(d.phones.all)), d.opts.Seed)
	// The accounts of users at rest come with their data (populate).
	if err := d.createAccounts(ctx, d.sys.current, d.phones.accts, "accounts"); err != nil {
		return err
	}
	meta := ledger.Meta{Seed: d.opts.Seed, Profile: d.sc.Profile, Server: d.def.Label(), Labels: map[string]string{"scenario": d.sc.Name, "run": d.sys.run.ID}}
	if d.phones.ledger, err = ledger.Create(d.dir.LedgerPath(), time.Now(), meta); err != nil {
		return fmt.Errorf("create ledger: %w", err)
	}
	return nil
}

// phonesURL is where phones reach the current stack: through the proxy when the
// primary runs behind one, so that links can be cut and ports stay put across
// restarts of syncd.
func (d *runner) phonesURL(ctx context.Context) (string, error) {
	if px := d.sys.primary.Proxy; px != nil && d.sys.current == d.sys.primary {
		return px.SyncdURL(ctx)
	}
	return d.sys.current.URL(ctx)
}

// faultEnv is what faults act in: the run's objects, the primary, its proxy,
// the phones once there are any, the timeline and the narrator.
func (d *runner) faultEnv() *fault.Env {
	env := &fault.Env{Run: d.sys.run, Stack: d.sys.primary, Timeline: d.tl, Seed: d.opts.Seed, Say: d.say.Say}
	if d.phones.fleet != nil {
		env.Devices = fleetdev.Of(d.phones.fleet)
	}
	return env
}

// ledgerNow decodes the ledger file as it is now, reusing the last decode when
// no record was added since: a run decodes its ledger once.
func (d *runner) ledgerNow() (*ledger.Ledger, error) {
	w := d.phones.ledger
	if d.phones.decoded != nil && d.phones.decodedLen == w.Len() {
		return d.phones.decoded, nil
	}
	if err := w.Sync(); err != nil && !errors.Is(err, ledger.ErrClosed) {
		return nil, fmt.Errorf("save ledger: %w", err)
	}
	n := w.Len()
	l, err := ledger.Load(d.dir.LedgerPath())
	if err != nil {
		return nil, fmt.Errorf("load ledger: %w", err)
	}
	d.phones.decoded, d.phones.decodedLen = l, n
	return l, nil
}

// ledgerForReport returns the ledger as saved, for the report: the decode the
// run made already when nothing was written since, else a fresh one; nil when
// the run made none.
func (d *runner) ledgerForReport() (*ledger.Ledger, error) {
	if d.phones.ledger == nil {
		return nil, nil
	}
	return d.ledgerNow()
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
