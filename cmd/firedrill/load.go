package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/capacity"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

func init() {
	register(command{name: "load", summary: "write a profile's data as simulated phones and save the ledger", run: runLoad})
}

// loadFlags are load's flags.
type loadFlags struct {
	server, users, profile, seed, ledger string
	photosURL, appsURL, adminToken       string
	concurrency                          int
	populate                             bool
}

func runLoad(ctx context.Context, e *env, args []string) int {
	var f loadFlags
	fs := newFlags(e, "load", "--server URL --users users.csv --ledger run.ledger [--profile small] [--seed N]")
	fs.StringVar(&f.server, "server", "", "base URL of the CardDAV/CalDAV/WebDAV server, e.g. http://localhost:8080")
	fs.StringVar(&f.users, "users", "", "users file: CSV lines username,password (header optional, # comments)")
	fs.StringVar(&f.profile, "profile", "small", "data profile: "+strings.Join(profile.Names(), ", ")+", or a path to a .json file")
	fs.StringVar(&f.seed, "seed", "", "seed of all randomness (default: $FIREDRILL_SEED, else random; printed either way)")
	fs.StringVar(&f.ledger, "ledger", "", "ledger file to write (replaced if it exists)")
	fs.StringVar(&f.photosURL, "photos-url", dav.DefaultPhotosURL, "URL template of a user's photo collection ({base}, {user})")
	fs.StringVar(&f.appsURL, "apps-url", dav.DefaultAppsURL, "URL template of a user's app data collection ({base}, {user})")
	fs.StringVar(&f.adminToken, "admin-token", "", "create the users first through the reference server's admin API (POST /admin/users) with this bearer token")
	fs.IntVar(&f.concurrency, "concurrency", 0, "users loaded in parallel (default: the profile's)")
	fs.BoolVar(&f.populate, "populate", false, "first write the data of the users at rest (those beyond the profile's active_share) through the protocol, each item once, then load the active users: slow but honest against a server without a bulk import")
	if st := parseFlags(fs, args); st >= 0 {
		return st
	}
	if !required(e, fs, map[string]string{"server": f.server, "users": f.users, "ledger": f.ledger}) {
		return exitUsage
	}
	seed, from, err := resolveSeed(e, f.seed)
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill load: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "firedrill load: seed %d (%s); replay with FIREDRILL_SEED=%d\n", seed, from, seed)
	if _, err := dav.ParseServerURL(f.server); err != nil {
		fmt.Fprintf(e.stderr, "firedrill load: %v\n", err)
		return exitUsage
	}
	prof, err := profile.Load(f.profile)
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill load: %v\n", err)
		return exitUsage
	}
	accts, err := accounts.ReadFile(f.users)
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill load: %v\n", err)
		return exitUsage
	}
	// The server's disk is not this machine's to measure; the harness's
	// memory is.
	if mem, err := capacity.MemAvailable("/proc/meminfo"); err == nil {
		if err := prof.Estimate(len(accts)).Fits(profile.Room{Memory: mem}); err != nil {
			fmt.Fprintf(e.stderr, "firedrill load: refuse profile %s: %v\n", prof.Name, err)
			return exitUsage
		}
	}
	if len(accts) != prof.Users {
		fmt.Fprintf(e.stderr, "firedrill load: profile %s describes %d users; the users file has %d: loading those %d\n",
			prof.Name, prof.Users, len(accts), len(accts))
	}
	// Who writes what is settled, and bad input refused, before anything is
	// sent to the server or written to the ledger.
	phases := []loadPhase{{name: "load", accts: accts}}
	if f.populate {
		active, resting := accounts.SplitActive(accts, prof.Active(len(accts)), seed)
		if len(resting) == 0 {
			fmt.Fprintf(e.stderr, "firedrill load: --populate: profile %s keeps no user at rest (no active_share below 1): leave --populate out, or use a profile such as medium\n", prof.Name)
			return exitUsage
		}
		fmt.Fprintf(e.stderr, "firedrill load: %d users at rest first (every item of their plans once, through the protocol), then %d active users\n", len(resting), len(active))
		phases = []loadPhase{{name: "populate", accts: resting, atRest: true}, {name: "load", accts: active}}
	} else if prof.Resting() {
		fmt.Fprintf(e.stderr, "firedrill load: profile %s keeps %d of every %d users at rest; without --populate every user in the file is loaded through its whole plan\n",
			prof.Name, prof.Users-prof.Active(prof.Users), prof.Users)
	}
	hc := dav.NewHTTPClient(max(f.concurrency, prof.Concurrency) * prof.Devices.Max)
	if err := dav.Reachable(ctx, hc, f.server); err != nil {
		fmt.Fprintf(e.stderr, "firedrill load: %v\n", err)
		return exitFail
	}
	if f.adminToken != "" {
		if err := accounts.Provision(ctx, hc, f.server, f.adminToken, accts, 8); err != nil {
			fmt.Fprintf(e.stderr, "firedrill load: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(e.stderr, "firedrill load: %d accounts provisioned\n", len(accts))
	}
	lw, err := ledger.Create(f.ledger, time.Now(), ledger.Meta{Seed: seed, Profile: prof.Name, Server: f.server})
	if err != nil {
		fmt.Fprintf(e.stderr, "firedrill load: %v\n", err)
		return exitUsage
	}
	status := exitOK
	var lerr error
	for _, ph := range phases {
		var sum workload.Summary
		sum, lerr = workload.Load(ctx, workload.Config{
			Server: f.server, Accounts: ph.accts, Profile: prof, Seed: seed, Ledger: lw, HTTPClient: hc,
			PhotosURL: f.photosURL, AppsURL: f.appsURL, Concurrency: f.concurrency, AtRest: ph.atRest,
			Progress: e.stderr, ProgressTTY: e.stderrTTY, Log: e.stderr,
		})
		printLoadSummary(e.stdout, ph.name, sum, seed)
		if lerr != nil {
			break
		}
		label := "" // one phase: "firedrill load: ..." says which
		if len(phases) > 1 {
			label = ph.name + ": "
		}
		if st := judgeLoad(e, label, sum); st != exitOK {
			status = st
		}
	}
	if err := lw.Close(); err != nil && lerr == nil {
		lerr = fmt.Errorf("save ledger: %w", err)
	}
	fmt.Fprintf(e.stdout, "  ledger:   %s\n", f.ledger)
	if lerr != nil {
		fmt.Fprintf(e.stderr, "firedrill load: %v\n", lerr)
		return exitFail
	}
	return status
}

// loadPhase is one pass of the phones over some users: the data at rest of
// the users at rest (--populate), or the whole plans of the active users.
type loadPhase struct {
	name   string
	accts  []accounts.Account
	atRest bool
}

// judgeLoad reports what a load phase did wrong, each line after label (the
// phase's name when there are two), and returns its exit status.
func judgeLoad(e *env, label string, sum workload.Summary) int {
	status := exitOK
	if len(sum.UserErrors) > 0 {
		fmt.Fprintf(e.stderr, "firedrill load: %s%d of %d users did not complete:\n", label, len(sum.UserErrors), sum.Users)
		for i, ue := range sum.UserErrors {
			if i == 10 {
				fmt.Fprintf(e.stderr, "  ... and %d more\n", len(sum.UserErrors)-10)
				break
			}
			fmt.Fprintf(e.stderr, "  %v\n", ue.Err)
		}
		status = exitFail
	}
	// A load that wrote nothing, or nothing of a kind it tried, rehearses
	// nothing: never exit 0 for it.
	if problems := sum.Problems(); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(e.stderr, "firedrill load: %s%s\n", label, p)
		}
		fmt.Fprintf(e.stderr, "firedrill load: check the server's log for these answers, and that the users may write their collections (see --photos-url, --apps-url)\n")
		status = exitFail
	}
	return status
}

func printLoadSummary(w io.Writer, name string, s workload.Summary, seed int64) {
	fmt.Fprintf(w, "%s: %d of %d users done in %s (seed %d, concurrency %d)\n",
		name, s.UsersDone, s.Users, s.Duration.Round(time.Millisecond), seed, s.Concurrency)
	fmt.Fprintf(w, "  writes:   %d attempts: %d ok, %d failed, %d ambiguous; %d retries\n",
		s.Attempts, s.OK, s.Failed, s.Ambiguous, s.Retries)
	fmt.Fprintf(w, "  rate:     %.1f acknowledged writes/s, %.1f MiB acknowledged\n",
		s.AckedPerSecond(), float64(s.AckedBytes)/(1<<20))
	if s.Conflicts+s.Refused+s.Skipped+s.ReadErrors > 0 {
		fmt.Fprintf(w, "  trouble:  %d conflicts, %d refused, %d skipped operations, %d read errors\n",
			s.Conflicts, s.Refused, s.Skipped, s.ReadErrors)
	}
	fmt.Fprintf(w, "  %-9s %7s %7s %7s %9s %9s %7s\n", "kind", "writes", "acked", "refused", "ambiguous", "conflicts", "skipped")
	for _, k := range model.Kinds {
		ks := s.Kinds[k]
		if ks == (workload.KindStats{}) {
			continue
		}
		fmt.Fprintf(w, "  %-9s %7d %7d %7d %9d %9d %7d\n", k, ks.Writes, ks.Acked, ks.Refused, ks.Ambiguous, ks.Conflicts, ks.Skipped)
	}
	for _, k := range model.Kinds {
		if ks := s.Kinds[k]; ks.Acked > 0 && ks.Refused+ks.Ambiguous > 0 {
			fmt.Fprintf(w, "  warning:  %s: %d writes refused and %d left ambiguous after retries, first: %s\n", k, ks.Refused, ks.Ambiguous, ks.Why)
		}
	}
	if len(s.NotCovered) > 0 {
		kinds := make([]model.Kind, 0, len(s.NotCovered))
		for k := range s.NotCovered {
			kinds = append(kinds, k)
		}
		sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
		for _, k := range kinds {
			fmt.Fprintf(w, "  not covered: %s (%s)\n", k, s.NotCovered[k])
		}
	}
}
