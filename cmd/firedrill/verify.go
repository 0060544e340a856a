package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/verify"
)

func init() {
	register(command{name: "verify", summary: "read every user back and check it against a ledger (or a snapshot)", run: runVerify})
}

type verifyFlags struct {
	server, users, ledger, jsonOut, obsOut string
	baseline, kinds                        string
	photosURL, appsURL                     string
	concurrency, batch, show               int
}

// runVerify reads users back one by one and checks each as it comes, so its
// memory does not grow with the number of users. It exits 0 only when every
// user is intact (or only rewritten by the server in allowed ways) and the
// canary was caught; 1 on damage, kinds not covered or nothing verified; 2
// on bad input or a failed assumption (wrong ledger for these users); 3 when
// the verifier is broken.
func runVerify(ctx context.Context, e *env, args []string) int {
	var f verifyFlags
	fs := newFlags(e, "verify", "--server URL --users users.csv (--ledger run.ledger | --baseline before.snap) [--json out.json] [--observation out.jsonl]")
	fs.StringVar(&f.server, "server", "", "base URL of the CardDAV/CalDAV/WebDAV server to read back")
	fs.StringVar(&f.users, "users", "", "users file: CSV lines username,password (header optional, # comments)")
	fs.StringVar(&f.ledger, "ledger", "", "ledger file written by firedrill load")
	fs.StringVar(&f.baseline, "baseline", "", "snapshot file written by firedrill snapshot: check against what the server held then, instead of a ledger")
	fs.StringVar(&f.kinds, "kinds", "", "with --baseline: comma-separated kinds the check must cover (default all: contact,event,todo,note,photo,appdata); one the snapshot holds nothing of is not covered")
	fs.StringVar(&f.jsonOut, "json", "", "also write the result as JSON to this file")
	fs.StringVar(&f.obsOut, "observation", "", "also save what was read back to this file, one user per line")
	fs.StringVar(&f.photosURL, "photos-url", dav.DefaultPhotosURL, "URL template of a user's photo collection ({base}, {user})")
	fs.StringVar(&f.appsURL, "apps-url", dav.DefaultAppsURL, "URL template of a user's app data collection ({base}, {user})")
	fs.IntVar(&f.concurrency, "concurrency", 8, "users read in parallel")
	fs.IntVar(&f.batch, "batch", 100, "objects per multiget")
	fs.IntVar(&f.show, "show", 10, "users not intact to list")
	if st := parseFlags(fs, args); st >= 0 {
		return st
	}
	if !required(e, fs, map[string]string{"server": f.server, "users": f.users}) {
		return exitUsage
	}
	fail := func(status int, format string, args ...any) int {
		fmt.Fprintf(e.stderr, "firedrill verify: "+format+"\n", args...)
		return status
	}
	switch {
	case f.ledger != "" && f.baseline != "":
		return fail(exitUsage, "--ledger and --baseline exclude each other: check against the ledger of a firedrill load (--ledger) or against a snapshot (--baseline), not both")
	case f.ledger == "" && f.baseline == "":
		fmt.Fprintf(e.stderr, "firedrill verify: missing --ledger or --baseline\n")
		fs.Usage()
		return exitUsage
	case f.baseline != "":
		return runVerifyBaseline(ctx, e, f, fail)
	case f.kinds != "":
		return fail(exitUsage, "--kinds goes with --baseline; against a ledger, what is covered comes from the load")
	}
	if _, err := dav.ParseServerURL(f.server); err != nil {
		return fail(exitUsage, "%v", err)
	}
	led, err := ledger.Load(f.ledger)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	fmt.Fprintf(e.stderr, "firedrill verify: ledger seed %d (replay with FIREDRILL_SEED=%d), profile %s, %d records, written against %s\n",
		led.Meta.Seed, led.Meta.Seed, led.Meta.Profile, led.Len(), led.Meta.Server)
	if led.Torn != nil {
		fmt.Fprintf(e.stderr, "firedrill verify: warning: %v\n", led.Torn)
	}
	accts, err := accounts.ReadFile(f.users)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	in := drill.NewVerifyInput(led, drill.VerifyInput{Mode: verify.Latest, RecoveryPoint: lastReturn(led)})
	if in.Written == nil {
		fmt.Fprintf(e.stderr, "firedrill verify: profile %q is unknown to this build: changes are reported without property diffs\n", led.Meta.Profile)
	}
	checker := verify.NewChecker(in)
	observed, missing, extra := matchUsers(checker, accts)
	if len(missing) > 0 {
		return fail(exitUsage, "the ledger has writes for %d users missing from %s (%s): add their passwords to the users file",
			len(missing), f.users, firstNames(missing))
	}
	if len(extra) > 0 {
		fmt.Fprintf(e.stderr, "firedrill verify: %d users of %s are not in the ledger (%s): not checked\n",
			len(extra), f.users, firstNames(extra))
	}
	if len(observed) == 0 {
		return fail(exitUsage, "no user of %s is in the ledger %s: wrong users file or wrong ledger?", f.users, f.ledger)
	}
	if code, err := checkUsers(ctx, e, f, checker, observed, drill.KeepBodiesToExplain); err != nil {
		return fail(code, "%v", err)
	}
	res := checker.Result()
	printVerdicts(e.stdout, res, f.show, false)
	return conclude(res, f, fail)
}

// checkUsers reads the observed users from the server, in order, through
// checker, and writes to --observation-out (when set) what keep makes of each
// observation: the part of verify that does not care where the expected state
// comes from. On error it returns the exit status to give.
func checkUsers(ctx context.Context, e *env, f verifyFlags, checker *verify.Checker, observed []accounts.Account,
	keep func(model.UserObservation, verify.UserResult) model.UserObservation) (int, error) {
	hc := dav.NewHTTPClient(f.concurrency * 2)
	if err := dav.Reachable(ctx, hc, f.server); err != nil {
		return exitUsage, err
	}
	opts := observe.Options{
		Server: f.server, HTTPClient: hc, Concurrency: f.concurrency, BatchSize: f.batch,
		PhotosURL: f.photosURL, AppsURL: f.appsURL, KindHint: checker.KindOf, KeepBodies: true,
		Progress: e.stderr, ProgressTTY: e.stderrTTY,
	}
	var save *model.ObservationWriter
	if f.obsOut != "" {
		out, err := os.Create(f.obsOut)
		if err != nil {
			return exitUsage, fmt.Errorf("save observation: %w", err)
		}
		defer out.Close()
		save = model.NewObservationWriter(out)
	}
	var saveErr error
	err := observeInOrder(ctx, opts, observed, 4*f.concurrency, func(uo model.UserObservation) {
		ur := checker.User(uo)
		if save != nil && saveErr == nil {
			saveErr = save.Write(keep(uo, ur))
		}
	})
	if err != nil {
		return exitFail, err
	}
	if save != nil && saveErr == nil {
		saveErr = save.Close()
	}
	if saveErr != nil {
		return exitFail, saveErr
	}
	return exitOK, nil
}

// conclude writes the result's JSON when asked and returns the exit status
// of a verify, with a ledger or a baseline.
func conclude(res verify.Result, f verifyFlags, fail func(int, string, ...any) int) int {
	if f.jsonOut != "" {
		if err := writeJSON(f.jsonOut, res); err != nil {
			return fail(exitFail, "%v", err)
		}
	}
	switch {
	case res.Status == verify.Pass:
		return exitOK
	case res.Status == verify.Error:
		return exitError // the verifier missed its canary: nothing it says can be trusted
	case res.FailedAssumption != "":
		return exitUsage // wrong ledger for these users or this server
	}
	return exitFail
}

// matchUsers returns the accounts to observe (those the ledger knows, with
// writes or not: a user the load wrote nothing for is reported as nothing
// verified), the ledger users with writes that the users file lacks, and the
// users-file users the ledger does not know.
func matchUsers(c *verify.Checker, accts []accounts.Account) (observed []accounts.Account, missing, extra []string) {
	inFile := map[string]bool{}
	for _, a := range accts {
		inFile[a.Username] = true
	}
	for _, u := range c.LedgerUsers() {
		if !inFile[u] {
			missing = append(missing, u)
		}
	}
	for _, a := range accts {
		if c.Knows(a.Username) {
			observed = append(observed, a)
		} else {
			extra = append(extra, a.Username)
		}
	}
	return observed, missing, extra
}

func firstNames(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:5], ", ") + ", ..."
}

// lastReturn is the recovery point of a plain load-then-verify: the last
// outcome the devices learned. Every write acknowledged by then must be there.
func lastReturn(led *ledger.Ledger) int64 {
	var last int64
	for _, r := range led.Records() {
		last = max(last, r.Return)
	}
	return last
}

func printVerdicts(w io.Writer, res verify.Result, show int, baseline bool) {
	n := res.Counts
	fmt.Fprintf(w, "verify: %s: %s\n\n", res.Status, res.Reason)
	fmt.Fprintf(w, "  %-12s %8s\n", "verdict", "users")
	for _, v := range []struct {
		name string
		n    int
	}{{"intact", n.IntactUsers}, {"rewritten", n.RewrittenUsers}, {"damaged", n.DamagedUsers - n.UnreadableUsers},
		{"unreadable", n.UnreadableUsers}, {"not_covered", n.NotCoveredUsers}, {"unknown", n.UnknownUsers}} {
		fmt.Fprintf(w, "  %-12s %8d\n", v.name, v.n)
	}
	fmt.Fprintf(w, "  %-12s %8d\n\n", "total", n.Users)
	if baseline {
		fmt.Fprintf(w, "  items %d checked against the snapshot, %d not covered\n", n.Items, n.NotCovered)
		fmt.Fprintf(w, "  damage: %d lost, %d changed, %d foreign, %d moved, %d duplicate, %d unreadable\n",
			n.Lost, n.Changed, n.Foreign, n.Moved, n.Duplicate, n.Unreadable)
		fmt.Fprintf(w, "  re-serialised by the server (same meaning, other bytes; intact): %d items\n", n.Reserialised)
		fmt.Fprintf(w, "  new since the snapshot (not damage; their content is not checked): %d items", n.New)
		if len(res.NewSample) > 0 {
			fmt.Fprintf(w, " (first: %s)", strings.Join(res.NewSample[:min(len(res.NewSample), 5)], ", "))
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "  items %d checked, %d acknowledged writes, %d ambiguous, %d not covered, %d writes refused\n",
			n.Items, n.Acked, n.Ambiguous, n.NotCovered, n.Refused)
		fmt.Fprintf(w, "  damage: %d lost, %d changed, %d resurrected, %d foreign, %d moved, %d duplicate, %d unreadable; RPO %d acknowledged writes",
			n.Lost, n.Changed, n.Resurrected, n.Foreign, n.Moved, n.Duplicate, n.Unreadable, res.RPO.LostWrites)
		if res.RPO.LostWrites > 0 {
			fmt.Fprintf(w, " (oldest %.3fs before the recovery point)", res.RPO.AgeSeconds)
		}
		fmt.Fprintln(w)
	}
	if n.Rewritten > 0 {
		fmt.Fprintf(w, "  rewritten by the server in ways the RFCs allow (not damage): %d items\n", n.Rewritten)
	}
	for _, k := range res.Kinds {
		if !k.Covered {
			fmt.Fprintf(w, "  not covered: %s: %s\n", k.Kind, k.Reason)
		}
	}
	if c := res.Canary; c != nil {
		fmt.Fprintf(w, "  canary: %d of %d planted damages caught", c.Caught, c.Planted)
		for _, p := range c.Plants {
			if !p.Planted {
				fmt.Fprintf(w, "; %s not planted", p.Damage)
			}
		}
		fmt.Fprintln(w)
	}
	for _, note := range res.Notes {
		fmt.Fprintf(w, "  note: %s\n", note)
	}
	if len(res.Users) == 0 {
		return
	}
	fmt.Fprintf(w, "\nfirst users not intact:\n")
	for i, u := range res.Users {
		if i == show {
			fmt.Fprintf(w, "  ... and %d more (see --json)\n", len(res.Users)-show+res.MoreUsers)
			break
		}
		for _, line := range u.Problems(5) {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write result JSON: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result JSON: %w", err)
	}
	return nil
}
