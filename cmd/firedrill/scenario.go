package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/engine"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/stackdef"
	"github.com/firedrill/firedrill/scenarios"
)

// exitError is the status of a run that could not reach a verdict (Docker down,
// a stage that failed): neither a pass nor a found failure.
const exitError = 3

func init() {
	register(command{name: "list", summary: "list the scenarios with their labels, profile and backup strategy", run: runList})
	register(command{name: "run", summary: "run a scenario: stack, load, fault, restore, verify, report", run: runScenario})
	register(command{name: "report", summary: "re-verify a saved run offline and re-render its report", run: runReport})
}

// dirsFlag collects --dir flags: directories of scenario files.
type dirsFlag []string

func (d *dirsFlag) String() string     { return strings.Join(*d, ",") }
func (d *dirsFlag) Set(v string) error { *d = append(*d, v); return nil }

func runList(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "list", "[--label L] [--dir DIR]...")
	label := fs.String("label", "", "only scenarios with this label (smoke, nightly, migration, gameday, slow)")
	var dirs dirsFlag
	fs.Var(&dirs, "dir", "also list the scenario files (*.yaml, *.yml, *.json) in this directory (repeatable; $"+scenarios.DirsVar+" adds more)")
	if st := parseFlags(fs, args); st >= 0 {
		return st
	}
	all, err := scenarios.Load(scenarios.Dirs(e.getenv(scenarios.DirsVar), dirs...))
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill list: %v\n", err)
		return exitUsage
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tLABELS\tPROFILE\tBACKUP\tEXPECT\tFROM")
	n := 0
	for _, sc := range all {
		if *label != "" && !sc.HasLabel(*label) {
			continue
		}
		n++
		from := "built in"
		if sc.Source != "" {
			from = sc.Source
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", sc.Name, strings.Join(sc.Labels, ","), sc.Profile, sc.Backup, sc.Expect, from)
	}
	tw.Flush()
	fmt.Fprintln(e.stdout)
	for _, sc := range all {
		if *label == "" || sc.HasLabel(*label) {
			fmt.Fprintf(e.stdout, "%s\n  %s\n", sc.Name, sc.Summary)
		}
	}
	if n == 0 {
		fmt.Fprintf(e.stderr, "firedrill list: no scenario has label %q\n", *label)
		return exitUsage
	}
	return exitOK
}

func runScenario(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "run", "<scenario | scenario-file.yaml> [--stack syncd|davical|stack.yaml] [--profile P] [--seed S] [--step] [--serve ADDR] [--reports DIR]")
	prof := fs.String("profile", "", "data profile to use instead of the scenario's (tiny, small, medium, large, sidekick)")
	stackName := fs.String("stack", "", "stack to run against instead of the scenario's: a built-in one ("+strings.Join(stackdef.Names(), ", ")+") or a definition file (docs/stacks.md); default syncd")
	seedFlag := fs.String("seed", "", "seed of the workload, data and fault schedule (default: FIREDRILL_SEED, else random)")
	step := fs.Bool("step", false, "pause before each stage and say what is about to happen (game days)")
	reports := fs.String("reports", "reports", "directory that holds run directories; <dir>/latest points at the newest")
	serve := fs.String("serve", "", "serve a live page of the drill at this address (e.g. 127.0.0.1:8089; loopback only); it becomes the final report, served until Ctrl-C")
	servePublic := fs.Bool("serve-public", false, "let --serve listen on an address other than loopback: anyone who reaches it can watch and stop the drill")
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if st := parseFlags(fs, args); st >= 0 {
		return st
	}
	if name == "" {
		fmt.Fprintf(e.stderr, "firedrill run: name a scenario; `firedrill list` shows them: %s\n", strings.Join(scenarios.Names(), ", "))
		return exitUsage
	}
	sc, err := scenarios.Resolve(name, scenarios.Dirs(e.getenv(scenarios.DirsVar)))
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill run: %v\n", err)
		return exitUsage
	}
	seed, from, err := resolveSeed(e, *seedFlag)
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill run: %v\n", err)
		return exitUsage
	}
	which := sc.Name
	if sc.Source != "" {
		which = sc.Source
	}
	replay := fmt.Sprintf("go run ./cmd/firedrill run %s --seed %d", which, seed)
	if *prof != "" {
		replay += " --profile " + *prof
	}
	if *stackName != "" {
		replay += " --stack " + *stackName
	}
	fmt.Fprintf(e.stderr, "firedrill run: seed %d (%s)\n", seed, from)
	opts := drill.Options{
		Seed: seed, Profile: *prof, Stack: *stackName, Reports: *reports, Step: *step,
		Out: e.stdout, In: os.Stdin, Progress: e.stderr, ProgressTTY: e.stderrTTY, Command: replay,
	}
	ctx, endLive, err := livePage(ctx, e, *serve, *servePublic, sc, &opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill run: %v\n", err)
		return exitUsage
	}
	defer endLive()
	out, err := drill.Execute(ctx, sc, opts)
	if out == nil {
		fmt.Fprintf(e.stderr, "firedrill run: %v\n", err)
		if errors.Is(err, engine.ErrUnreachable) {
			return exitError
		}
		return exitUsage
	}
	fmt.Fprintln(e.stdout)
	report.WriteSummary(e.stdout, out.Report)
	fmt.Fprintln(e.stdout)
	fmt.Fprintln(e.stdout, out.Report.Line(out.Dir.Root+"/latest/index.html"))
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill run: %v\n", err)
	}
	switch out.Report.Verdict {
	case report.Pass:
		return exitOK
	case report.Fail:
		return exitFail
	}
	return exitError
}

func runReport(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "report", "<run-dir>  (e.g. reports/latest)")
	var path string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		path, args = args[0], args[1:]
	}
	if st := parseFlags(fs, args); st >= 0 {
		return st
	}
	if path == "" {
		fmt.Fprintln(e.stderr, "firedrill report: name a run directory, e.g. reports/latest")
		return exitUsage
	}
	dir, err := report.OpenRunDir(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill report: %v\n", err)
		return exitUsage
	}
	var sc *drill.Scenario
	if r, err := dir.Load(); err == nil {
		name := r.Scenario
		if f := r.Environment["scenario_file"]; f != "" {
			name = f
		}
		if s, err := scenarios.Resolve(name, scenarios.Dirs(e.getenv(scenarios.DirsVar))); err == nil {
			sc = &s
		}
	}
	r, err := drill.Reverify(dir, sc)
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill report: %v\n", err)
		return exitFail
	}
	report.WriteSummary(e.stdout, r)
	fmt.Fprintln(e.stdout, r.Line(dir.HTMLPath()))
	if r.Verdict == report.Pass {
		return exitOK
	}
	return exitFail
}
