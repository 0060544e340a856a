package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

func init() {
	register(command{name: "verify", summary: "read every user back and check it against the ledger", run: runVerify})
}

type verifyFlags struct {
	server, users, ledger, jsonOut string
	photosURL, appsURL             string
	concurrency, batch, show       int
}

func runVerify(ctx context.Context, e *env, args []string) int {
	var f verifyFlags
	fs := newFlags(e, "verify", "--server URL --users users.csv --ledger run.ledger [--json out.json]")
	fs.StringVar(&f.server, "server", "", "base URL of the CardDAV/CalDAV/WebDAV server to read back")
	fs.StringVar(&f.users, "users", "", "users file: CSV lines username,password (header optional, # comments)")
	fs.StringVar(&f.ledger, "ledger", "", "ledger file written by firedrill load")
	fs.StringVar(&f.jsonOut, "json", "", "also write the full result as JSON to this file")
	fs.StringVar(&f.photosURL, "photos-url", dav.DefaultPhotosURL, "URL template of a user's photo collection ({base}, {user})")
	fs.StringVar(&f.appsURL, "apps-url", dav.DefaultAppsURL, "URL template of a user's app data collection ({base}, {user})")
	fs.IntVar(&f.concurrency, "concurrency", 8, "users read in parallel")
	fs.IntVar(&f.batch, "batch", 100, "objects per multiget")
	fs.IntVar(&f.show, "show", 10, "damaged users to list")
	if st := parseFlags(fs, args); st >= 0 {
		return st
	}
	if !required(e, fs, map[string]string{"server": f.server, "users": f.users, "ledger": f.ledger}) {
		return exitUsage
	}
	fail := func(status int, format string, args ...any) int {
		fmt.Fprintf(e.stderr, "firedrill verify: "+format+"\n", args...)
		return status
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
	hist := led.History()
	observed, missing, extra := matchUsers(hist, accts)
	if len(missing) > 0 {
		return fail(exitUsage, "the ledger has writes for %d users missing from %s (%s): add their passwords to the users file",
			len(missing), f.users, firstNames(missing))
	}
	if len(extra) > 0 {
		fmt.Fprintf(e.stderr, "firedrill verify: %d users of %s have no writes in the ledger (%s): not checked\n",
			len(extra), f.users, firstNames(extra))
	}
	hc := dav.NewHTTPClient(f.concurrency * 2)
	if err := dav.Reachable(ctx, hc, f.server); err != nil {
		return fail(exitUsage, "%v", err)
	}
	opts := observe.Options{
		Server: f.server, Accounts: observed, HTTPClient: hc, Concurrency: f.concurrency, BatchSize: f.batch,
		PhotosURL: f.photosURL, AppsURL: f.appsURL, KindHint: kindHints(hist),
		Progress: e.stderr, ProgressTTY: e.stderrTTY,
	}
	obs, err := observe.Observe(ctx, opts)
	if err != nil {
		return fail(exitFail, "%v", err)
	}
	in := verify.Input{Ledger: led, History: hist, Observation: *obs, Mode: verify.Latest, RecoveryPoint: lastReturn(led)}
	res := verify.Check(in)
	if explained, ok := explainChanges(ctx, e, opts, led, in, res); ok {
		res = explained
	}
	printVerdicts(e.stdout, res, f.show)
	if f.jsonOut != "" {
		if err := writeJSON(f.jsonOut, res); err != nil {
			return fail(exitFail, "%v", err)
		}
	}
	switch {
	case res.Status == verify.Pass:
		return exitOK
	case res.Status == verify.Unknown && len(res.Users) == 0:
		return exitUsage // a failed assumption: wrong ledger for these users or this server
	}
	return exitFail
}

// matchUsers returns the accounts to observe (those the ledger knows), the
// ledger users with writes that the users file lacks, and the users-file users
// the ledger does not know.
func matchUsers(hist *ledger.History, accts []accounts.Account) (observed []accounts.Account, missing, extra []string) {
	inFile := map[string]bool{}
	for _, a := range accts {
		inFile[a.Username] = true
	}
	inLedger := map[string]bool{}
	for _, u := range hist.Users {
		inLedger[u.Name] = true
		if len(u.Items) > 0 && !inFile[u.Name] {
			missing = append(missing, u.Name)
		}
	}
	for _, a := range accts {
		if inLedger[a.Username] {
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

// kindHints gives the observer the kind each calendar object had when written.
func kindHints(hist *ledger.History) func(user, name string) (model.Kind, bool) {
	kinds := map[string]map[string]model.Kind{}
	for _, u := range hist.Users {
		m := map[string]model.Kind{}
		for _, it := range u.Items {
			if _, name, err := model.SplitItemKey(it.Key); err == nil {
				m[name] = it.Kind
			}
		}
		kinds[u.Name] = m
	}
	return func(user, name string) (model.Kind, bool) {
		k, ok := kinds[user][name]
		return k, ok
	}
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

// explainChanges re-reads the users with changed items keeping their bodies,
// regenerates what the devices wrote from the ledger's seed and profile, and
// checks again so that each change is explained property by property. It
// returns false when there is nothing to explain or no way to.
func explainChanges(ctx context.Context, e *env, opts observe.Options, led *ledger.Ledger, in verify.Input, res verify.Result) (verify.Result, bool) {
	var users []string
	for _, u := range res.Users {
		if len(u.Changed) > 0 {
			users = append(users, u.User)
		}
	}
	if len(users) == 0 {
		return res, false
	}
	prof, err := profile.Load(led.Meta.Profile)
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill verify: cannot explain changes: %v\n", err)
		return res, false
	}
	if len(users) > 20 {
		users = users[:20]
	}
	g := gen.New(led.Meta.Seed, prof)
	bodies := map[model.Digest][]byte{}
	byName := map[string]accounts.Account{}
	for _, a := range opts.Accounts {
		byName[a.Username] = a
	}
	opts.KeepBodies = true
	obs := in.Observation
	idx := map[string]int{}
	for i, uo := range obs.Users {
		idx[uo.User] = i
	}
	obs.Users = append([]model.UserObservation(nil), obs.Users...)
	for _, user := range users {
		for _, op := range g.Plan(user).Ops {
			if op.Op == gen.Delete {
				continue
			}
			it := g.Item(user, op.Kind, op.Index, op.Version)
			if c, err := canon.Canonical(op.Kind, it.Body); err == nil {
				if d, err := canon.Digest(op.Kind, it.Body); err == nil {
					bodies[d] = c
				}
			}
		}
		obs.Users[idx[user]] = observe.User(ctx, opts, byName[user])
	}
	in.Observation = obs
	in.Bodies = func(d model.Digest) ([]byte, bool) {
		b, ok := bodies[d]
		return b, ok
	}
	return verify.Check(in), true
}

func printVerdicts(w io.Writer, res verify.Result, show int) {
	counts := map[verify.Verdict]int{}
	for _, u := range res.Users {
		counts[u.Verdict]++
	}
	n := res.Counts
	fmt.Fprintf(w, "verify: %s: %s\n\n", res.Status, res.Reason)
	fmt.Fprintf(w, "  %-12s %8s\n", "verdict", "users")
	for _, v := range []verify.Verdict{verify.Intact, verify.Damaged, verify.Unreadable, verify.NotCovered} {
		fmt.Fprintf(w, "  %-12s %8d\n", v, counts[v])
	}
	fmt.Fprintf(w, "  %-12s %8d\n\n", "total", len(res.Users))
	fmt.Fprintf(w, "  items %d checked, %d acknowledged writes, %d ambiguous, %d not covered\n",
		n.Items, n.Acked, n.Ambiguous, n.NotCovered)
	fmt.Fprintf(w, "  damage: %d lost, %d changed, %d resurrected, %d foreign, %d unreadable; RPO %d acknowledged writes",
		n.Lost, n.Changed, n.Resurrected, n.Foreign, n.Unreadable, res.RPO.LostWrites)
	if res.RPO.LostWrites > 0 {
		fmt.Fprintf(w, " (oldest %.3fs before the recovery point)", res.RPO.AgeSeconds)
	}
	fmt.Fprintln(w)
	if len(res.NotCovered) > 0 {
		fmt.Fprintf(w, "  not covered by the server: %s\n", strings.Join(res.NotCovered, ", "))
	}
	damaged := res.Damaged()
	sort.SliceStable(damaged, func(i, j int) bool { return damaged[i].User < damaged[j].User })
	if len(damaged) == 0 {
		return
	}
	fmt.Fprintf(w, "\nfirst damaged users:\n")
	for i, u := range damaged {
		if i == show {
			fmt.Fprintf(w, "  ... and %d more damaged users (see --json)\n", len(damaged)-show)
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
