package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/rehearse"
	"github.com/firedrill/firedrill/harness/stackdef"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

func init() {
	register(command{name: "rehearse", summary: "pre-migration rehearsal: prove a backup outside what a procedure touches, run the procedure under load, go / no-go", run: runRehearse})
}

// runRehearse exits 0 on go, 1 on no-go or refusal, 2 on bad input and 3 when
// no decision could be reached, as `firedrill run` does (docs/rehearse.md).
func runRehearse(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "rehearse", "--procedure ./migrate.sh | --procedure builtin:<name> [--touches data,...] [--backup S] [--stack syncd|davical|stack.yaml] [--profile P] [--users N] [--seed S] [--out DIR] [--timeout D]")
	proc := fs.String("procedure", "", "the procedure to rehearse: the path of an executable script (run on this host with the stack in environment variables, see docs/rehearse.md) or "+strings.Join(rehearse.BuiltinNames(), " or "))
	touches := fs.String("touches", "", "what the procedure acts on, comma-separated: data (the database's volume and its failure domain), backup, or a failure domain such as san-a (default: data; for a built-in migration also san-c, where it moves the database)")
	strategy := fs.String("backup", "continuous", "backup strategy to prove before the procedure: continuous, continuous-async, base-only or dump-same-volume")
	stackName := fs.String("stack", "", "stack to rehearse on: a built-in one ("+strings.Join(stackdef.Names(), ", ")+") or a definition file (docs/stacks.md); default syncd")
	prof := fs.String("profile", "tiny", "data profile: "+strings.Join(profile.Names(), ", ")+", or a path to a .json file")
	users := fs.Int("users", 0, "number of users (at least 2; default: the profile's)")
	seedFlag := fs.String("seed", "", "seed of the workload and data (default: FIREDRILL_SEED, else random)")
	out := fs.String("out", "reports", "directory that holds run directories; <dir>/latest points at the newest")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long the procedure may run before it is killed")
	if st := parseFlags(fs, args); st >= 0 {
		return st
	}
	if !required(e, fs, map[string]string{"procedure": *proc}) {
		return exitUsage
	}
	seed, from, err := resolveSeed(e, *seedFlag)
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill rehearse: %v\n", err)
		return exitUsage
	}
	var list []string
	for _, t := range strings.Split(*touches, ",") {
		if t = strings.TrimSpace(t); t != "" {
			list = append(list, t)
		}
	}
	replay := fmt.Sprintf("go run ./cmd/firedrill rehearse --procedure %s --backup %s --profile %s --seed %d",
		strconv.Quote(*proc), *strategy, *prof, seed)
	if len(list) > 0 {
		replay += " --touches " + strings.Join(list, ",")
	}
	if *users > 0 {
		replay += fmt.Sprintf(" --users %d", *users)
	}
	if *stackName != "" {
		replay += " --stack " + *stackName
	}
	fmt.Fprintf(e.stderr, "firedrill rehearse: seed %d (%s)\n", seed, from)
	dec, err := rehearse.Run(ctx, rehearse.Config{
		Procedure: *proc, Touches: list, Backup: *strategy, Stack: *stackName, Profile: *prof, Users: *users, Seed: seed,
		Reports: *out, Timeout: *timeout, Out: e.stdout, Progress: e.stderr, ProgressTTY: e.stderrTTY, Command: replay,
	})
	if dec == nil {
		fmt.Fprintf(e.stderr, "firedrill rehearse: %v\n", err)
		if errors.Is(err, rehearse.ErrBadInput) {
			return exitUsage
		}
		return exitError
	}
	fmt.Fprintln(e.stdout)
	dec.Write(e.stdout)
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill rehearse: %v\n", err)
	}
	switch dec.Verdict {
	case rehearse.Go:
		return exitOK
	case rehearse.NoGo, rehearse.Refused:
		return exitFail
	}
	return exitError
}
