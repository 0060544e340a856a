package fault

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/tools"
)

func init() {
	builtin(Entry{Name: "procedure", Summary: "run an operator's procedure against the primary while the phones keep writing: a script on the host with the stack handed to it in environment variables, or another fault (storage-migration) run in the background; its outcome is saved in dir (the pre-migration rehearsal)", New: newProcedure})
}

// The files a procedure leaves in its directory (parameter dir).
const (
	ProcedureOutcomeFile = "procedure.json"       // ProcedureOutcome as JSON
	ProcedureOutputFile  = "procedure-output.log" // the script's stdout and stderr
	ProcedureResultFile  = "procedure-result.env" // what the script tells the harness (FIREDRILL_RESULT)
)

// procedureTail is how many lines of a script's output its outcome quotes.
const procedureTail = 20

// Procedure runs an operator's procedure against the stack while the phones go
// on writing: its Inject starts the procedure and returns at once (the
// procedure is in effect while it runs, so the phones' writes are not held),
// and Recover waits until it has ended. It is a script on the host (Script)
// with the stack handed to it in environment variables (see ProcedureEnv), or
// another fault run in the background (Inner, e.g. a storage migration). What it
// did is saved in Dir as ProcedureOutcomeFile; a procedure that fails is the
// rehearsal's finding, not the harness's error, so Recover and Wait return nil
// for it. Its span on the timeline runs from its start to its end.
type Procedure struct {
	Script  string // absolute path of an executable on the host
	Inner   Fault  // or a fault to run as the procedure
	Timeout time.Duration
	Dir     string // where its output and outcome go

	mu      sync.Mutex
	done    chan struct{}
	cancel  context.CancelFunc
	outcome ProcedureOutcome
}

// ProcedureOutcome is what a procedure did.
type ProcedureOutcome struct {
	Procedure string        `json:"procedure"` // the script's path or the inner fault's spec
	Started   time.Time     `json:"started"`
	Ended     time.Time     `json:"ended"`
	Duration  time.Duration `json:"duration_ns"`
	// ExitCode is the script's exit status; -1 when it did not exit by itself
	// (timed out, killed) or is not a script.
	ExitCode int  `json:"exit_code"`
	TimedOut bool `json:"timed_out,omitempty"`
	// Failure says why the procedure failed; "" when it succeeded.
	Failure string `json:"failure,omitempty"`
	// Output is the script's output file; Tail its last lines.
	Output string `json:"output,omitempty"`
	Tail   string `json:"tail,omitempty"`
	// Result is what the script wrote to $FIREDRILL_RESULT, key by key.
	Result map[string]string `json:"result,omitempty"`
	// Detail is what the inner fault says it did.
	Detail string `json:"detail,omitempty"`
	// Env lists the environment variables handed to the script (secrets
	// included: the stack is a throwaway of the run).
	Env []string `json:"env,omitempty"`
}

// OK reports whether the procedure succeeded.
func (o ProcedureOutcome) OK() bool { return o.Failure == "" }

func newProcedure(spec Spec) (Fault, error) {
	p := newParams(spec)
	f := &Procedure{
		Script:  p.str("script", ""),
		Timeout: p.duration("timeout", 10*time.Minute),
		Dir:     p.str("dir", ""),
	}
	innerName := p.str("fault", "")
	inner := Spec{Name: innerName, Params: map[string]string{}}
	for k, v := range spec.Params {
		if rest, ok := strings.CutPrefix(k, "fault."); ok {
			p.used[k] = true
			inner.Params[rest] = v
		}
	}
	err := p.done()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	switch {
	case (f.Script == "") == (innerName == ""):
		errs = append(errs, errors.New("name exactly one of script (a path on the host) and fault (a fault to run as the procedure, its parameters as fault.<name>)"))
	case f.Script != "" && !filepath.IsAbs(f.Script):
		errs = append(errs, fmt.Errorf("parameter script=%q: want an absolute path", f.Script))
	case innerName == "procedure":
		errs = append(errs, errors.New("parameter fault=procedure: a procedure cannot run itself"))
	case innerName != "":
		in, err := New(inner)
		if err != nil {
			errs = append(errs, err)
		}
		f.Inner = in
	}
	if f.Dir == "" {
		errs = append(errs, errors.New("parameter dir: want the directory for the procedure's output and outcome"))
	}
	if f.Timeout <= 0 {
		errs = append(errs, errors.New("parameter timeout: want a positive duration such as 10m"))
	}
	return f, errors.Join(errs...)
}

// Name implements Fault.
func (f *Procedure) Name() string { return "procedure" }

// Target implements Fault.
func (f *Procedure) Target() string { return Postgres }

// Outcome returns what the procedure did so far.
func (f *Procedure) Outcome() ProcedureOutcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.outcome
}

// Detail implements Detailer.
func (f *Procedure) Detail() string {
	o := f.Outcome()
	state := "succeeded"
	if !o.OK() {
		state = "failed: " + o.Failure
	}
	s := fmt.Sprintf("%s %s after %s", o.Procedure, state, o.Duration.Round(10*time.Millisecond))
	if o.Detail != "" {
		s += "; " + o.Detail
	}
	return s
}

// Inject implements Fault: it starts the procedure and returns.
func (f *Procedure) Inject(ctx context.Context, env *Env) error {
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return fmt.Errorf("create procedure directory: %w", err)
	}
	// The procedure outlives Inject's context, which ends when Inject
	// returns; its own timeout bounds it, and Recover may cancel it.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.Timeout)
	f.mu.Lock()
	f.done, f.cancel = make(chan struct{}), cancel
	f.outcome = ProcedureOutcome{Started: time.Now(), ExitCode: -1}
	f.mu.Unlock()
	if f.Inner != nil {
		f.outcome.Procedure = f.Inner.Name()
		go f.finish(bg, func() { f.runInner(bg, env) })
		return nil
	}
	f.outcome.Procedure = f.Script
	cmd, out, err := f.command(ctx, bg, env)
	if err != nil {
		cancel()
		close(f.done)
		return err
	}
	if err := cmd.Start(); err != nil {
		// A script that cannot start (no #! line, a missing interpreter) is
		// a procedure that failed: the rehearsal's finding.
		out.Close()
		f.mu.Lock()
		f.outcome.Failure = "could not start: " + err.Error()
		f.outcome.Ended = f.outcome.Started
		f.mu.Unlock()
		close(f.done)
		return nil
	}
	go f.finish(bg, func() { f.waitScript(bg, cmd, out) })
	return nil
}

// finish runs the procedure's end and marks it done.
func (f *Procedure) finish(ctx context.Context, run func()) {
	defer close(f.done)
	run()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcome.Ended = time.Now()
	f.outcome.Duration = f.outcome.Ended.Sub(f.outcome.Started)
	if ctx.Err() == context.DeadlineExceeded && f.outcome.Failure == "" {
		f.outcome.TimedOut = true
		f.outcome.Failure = fmt.Sprintf("timed out after %s", f.Timeout)
	}
}

func (f *Procedure) runInner(ctx context.Context, env *Env) {
	err := f.Inner.Inject(ctx, env)
	if err == nil {
		err = f.Inner.Recover(ctx, env)
	}
	var notBack error
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, env.waitTimeout())
		notBack = f.Inner.Wait(wctx, env)
		cancel()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcome.Detail = detailOf(f.Inner)
	switch {
	case err != nil:
		f.outcome.Failure = err.Error()
	case notBack != nil:
		f.outcome.Failure = "the database did not come back: " + notBack.Error()
	}
	if m, ok := f.Inner.(*Migration); ok && err == nil && notBack == nil {
		// The migration's own verification is the operator's check: a
		// procedure that rolled back or left the database down failed.
		if o := m.Outcome(); !o.Switched {
			f.outcome.Failure = "the migration did not switch the database to the new storage: " + strings.Join(o.Problems, "; ")
		}
	}
}

// command builds the script's command with the stack handed to it.
func (f *Procedure) command(ctx, bg context.Context, env *Env) (*exec.Cmd, *os.File, error) {
	vars, err := ProcedureEnv(ctx, env, f.Dir)
	if err != nil {
		return nil, nil, err
	}
	out, err := os.Create(filepath.Join(f.Dir, ProcedureOutputFile))
	if err != nil {
		return nil, nil, fmt.Errorf("create procedure output: %w", err)
	}
	cmd := exec.CommandContext(bg, f.Script)
	cmd.Dir = f.Dir
	cmd.Env = append(os.Environ(), vars...)
	cmd.Stdout, cmd.Stderr = out, out
	// The script and every child it starts are one process group, killed
	// together when the timeout strikes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	f.outcome.Output = out.Name()
	f.outcome.Env = vars
	return cmd, out, nil
}

func (f *Procedure) waitScript(ctx context.Context, cmd *exec.Cmd, out *os.File) {
	err := cmd.Wait()
	out.Close()
	tail := ""
	if b, rerr := os.ReadFile(out.Name()); rerr == nil {
		tail = tools.Tail(string(b), procedureTail)
	}
	result, rerr := readResult(filepath.Join(f.Dir, ProcedureResultFile))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcome.Tail, f.outcome.Result = tail, result
	if cmd.ProcessState != nil && cmd.ProcessState.Exited() {
		f.outcome.ExitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case ctx.Err() != nil:
		// finish says why (timeout) unless Recover cancelled it.
		if ctx.Err() == context.Canceled {
			f.outcome.Failure = "stopped before it ended (the rehearsal was cancelled)"
		}
	case err != nil:
		f.outcome.Failure = fmt.Sprintf("exited with status %d", f.outcome.ExitCode)
		if f.outcome.ExitCode < 0 {
			f.outcome.Failure = "did not exit normally: " + err.Error()
		}
	case rerr != nil:
		f.outcome.Failure = rerr.Error()
	}
}

// readResult reads the KEY=VALUE lines a script wrote to its result file; a
// missing file is no result.
func readResult(path string) (map[string]string, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the procedure's result file: %w", err)
	}
	defer fh.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return out, fmt.Errorf("the procedure's result file %s, line %d: %q: want KEY=VALUE", path, n, line)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, sc.Err()
}

// ProcedureEnv returns the environment variables a procedure script is given:
// the stack's objects, how to reach the database, the labels to put on
// anything it creates, and where to write its result. docs/rehearse.md
// documents each.
func ProcedureEnv(ctx context.Context, env *Env, dir string) ([]string, error) {
	if err := env.check(); err != nil {
		return nil, err
	}
	pg, sd := env.postgres(), env.server()
	if pg == nil || sd == nil {
		return nil, errors.New("hand the stack to the procedure: the environment has no stack with PostgreSQL and a sync server")
	}
	dsn, err := pg.DSN(ctx)
	if err != nil {
		return nil, err
	}
	url, err := sd.URL(ctx)
	if err != nil {
		return nil, err
	}
	pgInfo, err := pg.Container.Inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspect postgres container: %w", err)
	}
	sdInfo, err := sd.Container.Inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspect %s container: %w", sd.Name(), err)
	}
	pgName, sdName := pgInfo.Name, sdInfo.Name
	host, err := pg.Container.Host(ctx)
	if err != nil {
		return nil, fmt.Errorf("find postgres host: %w", err)
	}
	port, err := pg.Container.MappedPort(ctx, "5432/tcp")
	if err != nil {
		return nil, fmt.Errorf("find postgres port: %w", err)
	}
	labels := env.Run.Labels("procedure")
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var kv, args []string
	for _, k := range keys {
		kv = append(kv, k+"="+labels[k])
		args = append(args, "--label", k+"="+labels[k])
	}
	return []string{
		"FIREDRILL_RUN=" + env.Run.ID,
		"FIREDRILL_LABELS=" + strings.Join(kv, ","),
		"FIREDRILL_DOCKER_LABELS=" + strings.Join(args, " "),
		"FIREDRILL_NETWORK=" + pg.Network,
		"FIREDRILL_POSTGRES_CONTAINER=" + strings.TrimPrefix(pgName, "/"),
		"FIREDRILL_POSTGRES_ALIAS=" + pg.Alias,
		"FIREDRILL_DATA_VOLUME=" + pg.Data.Name,
		"FIREDRILL_DATA_DOMAIN=" + pg.Data.Domain,
		"FIREDRILL_PGDATA=" + stack.PGData,
		"FIREDRILL_SERVER_CONTAINER=" + strings.TrimPrefix(sdName, "/"),
		"FIREDRILL_SYNCD_CONTAINER=" + strings.TrimPrefix(sdName, "/"), // the reference stack's name for it, kept for scripts written before stacks
		"FIREDRILL_STACK=" + sd.Name(),
		"FIREDRILL_SERVICE_URL=" + url,
		"FIREDRILL_DATABASE_URL=" + dsn,
		"FIREDRILL_DATABASE_URL_INTERNAL=" + pg.InternalDSN(),
		"PGHOST=" + host, "PGPORT=" + port.Port(), "PGUSER=" + pg.User, "PGPASSWORD=" + pg.Password, "PGDATABASE=" + pg.Database,
		"FIREDRILL_OUTPUT_DIR=" + dir,
		"FIREDRILL_RESULT=" + filepath.Join(dir, ProcedureResultFile),
		fmt.Sprintf("FIREDRILL_SEED=%d", env.Seed),
	}, nil
}

// Recover implements Fault: it waits until the procedure has ended (cancelling
// it when ctx ends first) and saves its outcome in Dir.
func (f *Procedure) Recover(ctx context.Context, env *Env) error {
	f.mu.Lock()
	done, cancel := f.done, f.cancel
	f.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		cancel()
		<-done
	}
	cancel()
	b, err := json.MarshalIndent(f.Outcome(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode procedure outcome: %w", err)
	}
	if err := os.WriteFile(filepath.Join(f.Dir, ProcedureOutcomeFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save procedure outcome: %w", err)
	}
	return nil
}

// Wait implements Fault: whether the service came back is for the
// verification after the procedure to find, user by user.
func (f *Procedure) Wait(ctx context.Context, env *Env) error { return nil }

// ReadProcedureOutcome reads the outcome a procedure saved in dir.
func ReadProcedureOutcome(dir string) (ProcedureOutcome, error) {
	var o ProcedureOutcome
	b, err := os.ReadFile(filepath.Join(dir, ProcedureOutcomeFile))
	if err != nil {
		return o, fmt.Errorf("read procedure outcome: %w", err)
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return o, fmt.Errorf("decode procedure outcome %s: %w", filepath.Join(dir, ProcedureOutcomeFile), err)
	}
	return o, nil
}
