package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/snapshot"
)

func init() {
	register(command{name: "snapshot", summary: "record what every user holds, as the baseline for verify --baseline", run: runSnapshot})
}

type snapshotFlags struct {
	server, users, out string
	photosURL, appsURL string
	concurrency, batch int
}

// runSnapshot reads every user of the users file back, user by user, and
// writes what each holds (each item's key, collection, canonical digest and
// byte digest) to a snapshot file that verify --baseline compares with
// later. The file is put in place only once complete: a user or item that
// could not be read leaves no snapshot (exit 1), since a baseline with holes
// would pass what it never saw. Exit 0 on success, 1 when the server could
// not be read in full, 2 on bad input.
func runSnapshot(ctx context.Context, e *env, args []string) int {
	var f snapshotFlags
	fs := newFlags(e, "snapshot", "--server URL --users users.csv --out before.snap")
	fs.StringVar(&f.server, "server", "", "base URL of the CardDAV/CalDAV/WebDAV server to record")
	fs.StringVar(&f.users, "users", "", "users file: CSV lines username,password (header optional, # comments)")
	fs.StringVar(&f.out, "out", "", "snapshot file to write (replaced only once the new one is complete)")
	fs.StringVar(&f.photosURL, "photos-url", dav.DefaultPhotosURL, "URL template of a user's photo collection ({base}, {user})")
	fs.StringVar(&f.appsURL, "apps-url", dav.DefaultAppsURL, "URL template of a user's app data collection ({base}, {user})")
	fs.IntVar(&f.concurrency, "concurrency", 8, "users read in parallel")
	fs.IntVar(&f.batch, "batch", 100, "objects per multiget")
	if st := parseFlags(fs, args); st >= 0 {
		return st
	}
	if !required(e, fs, map[string]string{"server": f.server, "users": f.users, "out": f.out}) {
		return exitUsage
	}
	fail := func(status int, format string, args ...any) int {
		fmt.Fprintf(e.stderr, "firedrill snapshot: "+format+"\n", args...)
		return status
	}
	if _, err := dav.ParseServerURL(f.server); err != nil {
		return fail(exitUsage, "%v", err)
	}
	accts, err := accounts.ReadFile(f.users)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	hc := dav.NewHTTPClient(f.concurrency * 2)
	if err := dav.Reachable(ctx, hc, f.server); err != nil {
		return fail(exitUsage, "%v", err)
	}
	w, err := snapshot.Create(f.out, f.server, time.Now(), len(accts))
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	defer w.Abort() // a no-op once closed
	opts := observe.Options{
		Server: f.server, HTTPClient: hc, Concurrency: f.concurrency, BatchSize: f.batch,
		PhotosURL: f.photosURL, AppsURL: f.appsURL, Progress: e.stderr, ProgressTTY: e.stderrTTY,
	}
	var (
		holes    []string
		nHoles   int
		writeErr error
		kinds    [8]int
		empty    []string
		nEmpty   int
	)
	err = observeInOrder(ctx, opts, accts, 4*f.concurrency, func(uo model.UserObservation) {
		u, err := snapshot.FromObservation(uo)
		if err != nil {
			nHoles++
			if len(holes) < 5 {
				holes = append(holes, err.Error())
			}
			return
		}
		if len(u.Items) == 0 {
			nEmpty++
			if len(empty) < 5 {
				empty = append(empty, u.User)
			}
		}
		for _, it := range u.Items {
			if k, _, err := model.SplitItemKey(it.Key); err == nil && int(k) < len(kinds) {
				kinds[k]++
			}
		}
		if nHoles == 0 && writeErr == nil {
			writeErr = w.Write(u)
		}
	})
	if err != nil {
		return fail(exitFail, "%v: no snapshot written", err)
	}
	if nHoles > 0 {
		return fail(exitFail, "%d of %d users could not be read in full, so no snapshot was written (a baseline with holes would pass what it never saw):\n  %s\nfix what the server answers for them, or leave them out of %s, and take the snapshot again",
			nHoles, len(accts), strings.Join(holes, "\n  "), f.users)
	}
	if writeErr != nil {
		return fail(exitFail, "%v", writeErr)
	}
	if err := w.Close(); err != nil {
		return fail(exitFail, "%v", err)
	}
	var held, none []string
	for _, k := range model.Kinds {
		if kinds[k] > 0 {
			held = append(held, fmt.Sprintf("%d %ss", kinds[k], k))
		} else {
			none = append(none, k.String())
		}
	}
	what := "none"
	if len(held) > 0 {
		what = strings.Join(held, ", ")
	}
	fmt.Fprintf(e.stdout, "snapshot: %d users, %d items (%s) of %s written to %s\n",
		w.Users(), w.Items(), what, f.server, f.out)
	if nEmpty > 0 {
		fmt.Fprintf(e.stdout, "  %d users hold nothing (%s): verify --baseline reports them not covered (nothing of theirs to check); leave them out of the users file if that is expected\n",
			nEmpty, firstNames(empty))
	}
	if len(none) > 0 {
		fmt.Fprintf(e.stdout, "  the snapshot holds no %s: verify --baseline reports them not covered unless --kinds leaves them out\n", strings.Join(none, ", "))
	}
	return exitOK
}
