package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/snapshot"
	"github.com/firedrill/firedrill/harness/verify"
)

// runVerifyBaseline is verify --baseline: the expected state of every user
// is what the snapshot recorded, read from the file one user at a time. The
// verdicts, the result JSON, the table and the exit statuses are those of a
// verify against a ledger.
func runVerifyBaseline(ctx context.Context, e *env, f verifyFlags, fail func(int, string, ...any) int) int {
	if _, err := dav.ParseServerURL(f.server); err != nil {
		return fail(exitUsage, "%v", err)
	}
	kinds, err := parseKinds(f.kinds)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	accts, err := accounts.ReadFile(f.users)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	snap, err := snapshot.Open(f.baseline, snapshot.Progress{W: e.stderr, TTY: e.stderrTTY})
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	defer snap.Close()
	fmt.Fprintf(e.stderr, "firedrill verify: snapshot %s: %d users, %d items, taken %s from %s\n",
		f.baseline, snap.Header.Users, snap.Items(), snap.Header.Taken.Format("2006-01-02 15:04:05 MST"), snap.Header.Server)
	observed, missing, extra := matchSnapshotUsers(snap.Users(), accts)
	if len(missing) > 0 {
		return fail(exitUsage, "the snapshot holds %d users missing from %s (%s): add their passwords to the users file",
			len(missing), f.users, firstNames(missing))
	}
	if len(extra) > 0 {
		fmt.Fprintf(e.stderr, "firedrill verify: %d users of %s are not in the snapshot (%s): not checked\n",
			len(extra), f.users, firstNames(extra))
	}
	checker := verify.NewChecker(verify.Input{Baseline: snap, Mode: verify.Latest, Planned: kinds})
	// The observation is saved as it was read.
	whole := func(uo model.UserObservation, _ verify.UserResult) model.UserObservation { return uo }
	if code, err := checkUsers(ctx, e, f, checker, observed, whole); err != nil {
		return fail(code, "%v", err)
	}
	if err := snap.Err(); err != nil {
		return fail(exitUsage, "%v: no verdict; verify again with a snapshot file nothing writes to", err)
	}
	res := checker.Result()
	res.Baseline = &verify.BaselineInfo{File: f.baseline, Server: snap.Header.Server, Taken: snap.Header.Taken,
		Users: snap.Header.Users, Items: snap.Items()}
	printVerdicts(e.stdout, res, f.show, true)
	return conclude(res, f, fail)
}

// matchSnapshotUsers returns the accounts to observe, in the snapshot's
// order, the snapshot's users the users file lacks, and the users-file users
// the snapshot does not hold.
func matchSnapshotUsers(names []string, accts []accounts.Account) (observed []accounts.Account, missing, extra []string) {
	byName := make(map[string]accounts.Account, len(accts))
	for _, a := range accts {
		byName[a.Username] = a
	}
	inSnap := make(map[string]bool, len(names))
	for _, n := range names {
		inSnap[n] = true
		if a, ok := byName[n]; ok {
			observed = append(observed, a)
		} else {
			missing = append(missing, n)
		}
	}
	for _, a := range accts {
		if !inSnap[a.Username] {
			extra = append(extra, a.Username)
		}
	}
	return observed, missing, extra
}

// parseKinds parses --kinds: comma-separated kind names; "" is every kind.
func parseKinds(s string) ([]model.Kind, error) {
	if strings.TrimSpace(s) == "" {
		return model.Kinds, nil
	}
	var out []model.Kind
	for _, name := range strings.Split(s, ",") {
		k, err := model.ParseKind(strings.TrimSpace(name))
		if err != nil {
			return nil, fmt.Errorf("--kinds %q: %w", s, err)
		}
		out = append(out, k)
	}
	return out, nil
}
