// Package rehearse runs a pre-migration rehearsal on the reference stack and
// turns what it found into a go or no-go. It builds the rehearsal as a drill
// scenario (package drill runs it):
//
//  1. start the stack, create the users, and let the first half of them load
//     their data with their phones (the ledger records every write);
//  2. take a backup with the chosen strategy;
//  3. prove it (drill.ProveBackup): refuse when it lives on storage the
//     procedure touches; restore it into a fresh side stack, verify every user
//     who has written against the ledger, tear the side stack down; refuse when
//     not every user is intact;
//  4. run the procedure (fault "procedure": a built-in storage migration, or
//     the operator's script on the host) while the other half of the users'
//     phones load theirs;
//  5. verify the migrated service user by user.
//
// Decide turns the run into a Decision: go when the procedure succeeded and
// every user is intact; no-go (with the proven restore as the way back)
// otherwise; refused when the backup was not proven. The phones' view of the
// procedure (how long their writes failed, how many ended ambiguous) comes
// from the ledger (PhonesSaw).
//
// The stack here is the reference one (syncd over PostgreSQL); what the
// procedure is handed (fault.ProcedureEnv) is the set of objects a stack
// definition would name by role.
package rehearse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/report"
)

// BuiltinPrefix marks a procedure of firedrill's own: builtin:<name>.
const BuiltinPrefix = "builtin:"

// Builtins are firedrill's own procedures: the storage-migration fault with
// the parameters of the correct and of the Sidekick-style botched migration
// (see scenarios/scenarios.go), each moving the database's storage from san-a
// to san-c.
var Builtins = map[string]fault.Spec{
	"san-migration": {Name: "storage-migration", Params: map[string]string{"domain": "san-c", "verify": "true"}},
	"san-migration-botched": {Name: "storage-migration", Params: map[string]string{
		"botch": "torn-copy,bitflip-in-transit", "verify": "false", "domain": "san-c", "bytes": "1024"}},
}

// BuiltinNames lists the built-in procedures, sorted, with their prefix.
func BuiltinNames() []string {
	var out []string
	for n := range Builtins {
		out = append(out, BuiltinPrefix+n)
	}
	sort.Strings(out)
	return out
}

// Config says what to rehearse and how.
type Config struct {
	// Procedure is builtin:<name> or the path of an executable script.
	Procedure string
	// Touches is what the procedure acts on (drill.Step.Touches); none is
	// "data", and for a built-in migration also the failure domain it moves
	// the database to.
	Touches []string
	Backup  string // backup strategy (default continuous)
	// Stack is the stack definition to rehearse on: a built-in one or a file
	// (default the reference stack, syncd's).
	Stack   string
	Profile string // data profile (default tiny)
	Users   int    // overrides the profile's users when > 0; at least 2
	Seed    int64
	// Reports is the root of run directories (default "reports").
	Reports string
	// Timeout bounds the procedure (default and at most MaxTimeout).
	Timeout time.Duration
	// Out receives the narration; Progress the phones' and observer's
	// progress lines.
	Out         io.Writer
	Progress    io.Writer
	ProgressTTY bool
	// Command is the command line that replays this rehearsal, for the report.
	Command string
}

// MaxTimeout is the longest a procedure may run: the harness waits at most
// that long for a fault, and so a procedure, to end (fault.Env.StepTimeout).
const MaxTimeout = 10 * time.Minute

// ProcedureDir is the procedure's directory in the run directory: its
// output, its result file and its outcome (fault.ProcedureOutcomeFile).
const ProcedureDir = "procedure"

// DecisionFile is the rehearsal's decision in the run directory.
const DecisionFile = "rehearsal.json"

var nonKebab = regexp.MustCompile(`[^a-z0-9]+`)

// Scenario builds the rehearsal scenario of cfg, checking every input: an
// error names what is wrong and what to write instead.
func Scenario(cfg Config) (drill.Scenario, error) {
	if cfg.Backup == "" {
		cfg.Backup = backup.Continuous.Name
	}
	if cfg.Profile == "" {
		cfg.Profile = "tiny"
	}
	if cfg.Users == 1 || cfg.Users < 0 {
		return drill.Scenario{}, fmt.Errorf("users %d: want at least 2 (half load before the backup, half while the procedure runs), or 0 for the profile's", cfg.Users)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	if timeout < 0 || timeout > MaxTimeout {
		return drill.Scenario{}, fmt.Errorf("timeout %s: want a positive duration up to %s (the harness waits that long for a procedure to end), such as 10m", timeout, MaxTimeout)
	}
	spec, name, err := procedureSpec(cfg.Procedure, timeout)
	if err != nil {
		return drill.Scenario{}, err
	}
	touches := cfg.Touches
	if len(touches) == 0 {
		touches = []string{drill.TouchesData}
		if dom := spec.Params["fault.domain"]; dom != "" {
			touches = append(touches, dom) // a built-in migration's new storage
		}
	}
	sc := drill.Scenario{
		Name:    "rehearse-" + name,
		Summary: fmt.Sprintf("Pre-migration rehearsal of %s: prove a backup outside what it touches (%s) restores, run it while phones write, verify every user.", cfg.Procedure, strings.Join(touches, ", ")),
		Labels:  []string{"rehearsal", "migration"},
		Profile: cfg.Profile,
		Backup:  cfg.Backup,
		Steps: []drill.Step{
			// A profile with users at rest (medium, sidekick) has them
			// imported first; with every user active this says so and does
			// nothing.
			{Do: drill.Populate},
			{Do: drill.Load, Users: drill.Share{From: 0, To: 0.5}, Say: "The first half of the users' phones sync their data: what the procedure will find in the database."},
			{Do: drill.Check, Say: "Before anything else, read those users back from the service: whatever already differs from what it acknowledged is the server's own doing, which neither the backup nor the procedure is to blame for."},
			{Do: drill.BaseBackup, Say: fmt.Sprintf("Before the procedure, the %s strategy takes a backup: the way back if the procedure goes wrong.", cfg.Backup)},
			{Do: drill.ProveBackup, Touches: touches},
			{Do: drill.Load, Users: drill.Share{From: 0.5, To: 1}, Faults: []fault.Spec{spec},
				Say: fmt.Sprintf("The other half of the users' phones sync while the procedure (%s) runs against the primary; their writes show what phones see of it.", cfg.Procedure)},
			{Do: drill.Verify, Say: "Read every user's data back from the migrated service and compare it item by item with the ledger."},
		},
		Expect:  report.ExpectIntact,
		Budgets: drill.Budgets{LostWrites: drill.NoLoss()},
	}
	if err := sc.Validate(); err != nil {
		return drill.Scenario{}, err
	}
	return sc, nil
}

// procedureSpec returns the procedure fault for a --procedure value and a
// kebab-case name for it.
func procedureSpec(proc string, timeout time.Duration) (fault.Spec, string, error) {
	params := map[string]string{"dir": drill.RunDirPlaceholder + "/" + ProcedureDir, "timeout": timeout.String()}
	switch {
	case strings.TrimSpace(proc) == "":
		return fault.Spec{}, "", fmt.Errorf("no procedure: give --procedure ./migrate.sh (a script of yours) or one of %s", strings.Join(BuiltinNames(), ", "))
	case strings.HasPrefix(proc, BuiltinPrefix):
		name := strings.TrimPrefix(proc, BuiltinPrefix)
		inner, ok := Builtins[name]
		if !ok {
			return fault.Spec{}, "", fmt.Errorf("procedure %q: no such built-in procedure; want one of %s, or the path of a script", proc, strings.Join(BuiltinNames(), ", "))
		}
		params["fault"] = inner.Name
		for k, v := range inner.Params {
			params["fault."+k] = v
		}
		return fault.Spec{Name: "procedure", Params: params}, name, nil
	}
	abs, err := filepath.Abs(proc)
	if err != nil {
		return fault.Spec{}, "", fmt.Errorf("procedure %s: %w", proc, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return fault.Spec{}, "", fmt.Errorf("procedure %s: %w; give the path of an executable script, or one of %s", proc, err, strings.Join(BuiltinNames(), ", "))
	case fi.IsDir():
		return fault.Spec{}, "", fmt.Errorf("procedure %s is a directory: give the path of an executable script", proc)
	case fi.Mode()&0o111 == 0:
		return fault.Spec{}, "", fmt.Errorf("procedure %s is not executable: chmod +x it (and give it a #! line)", proc)
	}
	params["script"] = abs
	name := strings.Trim(nonKebab.ReplaceAllString(strings.ToLower(strings.TrimSuffix(fi.Name(), filepath.Ext(fi.Name()))), "-"), "-")
	if name == "" {
		name = "script"
	}
	return fault.Spec{Name: "procedure", Params: params}, name, nil
}

// ErrBadInput marks an error in the rehearsal's input (exit status 2).
var ErrBadInput = errors.New("bad input")

// Run runs the rehearsal and decides. It returns an error wrapping
// ErrBadInput for bad input (nothing was started), or the decision (with its
// run directory) whatever the run found; its Verdict is Error when no
// decision could be reached.
func Run(ctx context.Context, cfg Config) (*Decision, error) {
	sc, err := Scenario(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	opts := drill.Options{Seed: cfg.Seed, Users: cfg.Users, Stack: cfg.Stack, Reports: cfg.Reports, Out: cfg.Out,
		Progress: cfg.Progress, ProgressTTY: cfg.ProgressTTY, Command: cfg.Command}
	out, runErr := drill.Execute(ctx, sc, opts)
	if out == nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, runErr)
	}
	dec := Decide(out, runErr)
	if err := dec.Save(filepath.Join(out.Dir.Path, DecisionFile)); err != nil {
		return dec, err
	}
	return dec, nil
}
