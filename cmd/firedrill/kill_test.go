package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/seed"
	"github.com/firedrill/firedrill/harness/verify"
)

// killedChildArgs, when set in the environment, makes the test binary run the
// firedrill command line it holds (a JSON array of arguments) and nothing
// else: the
// process TestKill9OfLoadNeverMakesVerifyLie kills.
const killedChildArgs = "FIREDRILL_TEST_KILLED_CHILD_ARGS"

// TestKill9OfLoadNeverMakesVerifyLie runs `firedrill load` against the
// reference stack in a child process and kills it with SIGKILL, several times,
// each with accounts of its own. The moment is tied to the work, not to the
// clock: a first load runs to its end and its ledger's size is the yardstick;
// each later load is killed once its ledger has grown past a seeded share of
// that size (a kill that comes after the load ended fails the test: it would
// prove nothing). After every kill, `firedrill verify` on the same server with
// the ledger the dead load left must report no item lost, foreign, moved,
// duplicated, changed or resurrected: every write whose request left was on
// record before it left (write-ahead), so the worst a kill can do is make
// writes ambiguous.
func TestKill9OfLoadNeverMakesVerifyLie(t *testing.T) {
	if args := os.Getenv(killedChildArgs); args != "" {
		e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintf(os.Stderr, "decode %s: %v\n", killedChildArgs, err)
			os.Exit(2)
		}
		os.Exit(run(context.Background(), e, argv))
	}
	server, token := referenceStack(t)
	const (
		kills    = 5
		users    = 30
		loadSeed = 100
	)
	// load starts `firedrill load` for fresh accounts in a child process and
	// returns it with its ledger's path and its output.
	load := func(t *testing.T, prefix string) (*exec.Cmd, string, string, *strings.Builder) {
		dir := t.TempDir()
		accts := namedAccounts(prefix, users, loadSeed)
		usersCSV := filepath.Join(dir, "users.csv")
		if err := accounts.WriteFile(usersCSV, accts); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := accounts.Provision(ctx, dav.NewHTTPClient(4), server, token, accts, 4); err != nil {
			t.Fatal(err)
		}
		led := filepath.Join(dir, "run.ledger")
		argv, err := json.Marshal([]string{
			"load", "--server", server, "--users", usersCSV, "--profile", "tiny", "--seed", fmt.Sprint(loadSeed), "--ledger", led})
		if err != nil {
			t.Fatal(err)
		}
		child := exec.Command(os.Args[0], "-test.run=^TestKill9OfLoadNeverMakesVerifyLie$")
		child.Env = append(os.Environ(), killedChildArgs+"="+string(argv))
		out := &strings.Builder{}
		child.Stdout, child.Stderr = out, out
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		return child, led, usersCSV, out
	}

	yardstick, led, _, out := load(t, "kill0-")
	if err := yardstick.Wait(); err != nil {
		t.Fatalf("the unkilled load failed: %v\n%s", err, out)
	}
	fi, err := os.Stat(led)
	if err != nil {
		t.Fatal(err)
	}
	full := fi.Size()
	t.Logf("an unkilled load of %d users writes a %d-byte ledger", users, full)

	r := seed.Derive(2009, "kill-9-of-load")
	for i := range kills {
		// A share of the yardstick from 2% (the first batches) to 75% (well
		// into the writes, with room for loads that write a little less).
		share := 0.02 + 0.73*r.Float64()
		at := int64(float64(full) * share)
		t.Run(fmt.Sprintf("kill %d at %d of %d ledger bytes", i+1, at, full), func(t *testing.T) {
			child, led, usersCSV, out := load(t, fmt.Sprintf("kill%d-", i+1))
			exited := make(chan error, 1)
			go func() { exited <- child.Wait() }()
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
		wait:
			for {
				select {
				case err := <-exited:
					t.Fatalf("the load ended (%v) before its ledger reached %d bytes: nothing was killed\n%s", err, at, out)
				case <-tick.C:
					if fi, err := os.Stat(led); err == nil && fi.Size() >= at {
						break wait
					}
				}
			}
			if err := child.Process.Kill(); err != nil {
				t.Fatalf("kill the load: %v", err)
			}
			<-exited
			l, err := ledger.Load(led)
			if err != nil {
				t.Fatalf("the killed load's ledger does not load: %v", err)
			}
			if l.CutShort != nil {
				t.Logf("ledger cut short: %v", l.CutShort)
			} else {
				t.Logf("the ledger was closed before the kill landed")
			}
			jsonOut := filepath.Join(t.TempDir(), "verify.json")
			st, vout, verr := runCLI(t, nil, "verify", "--server", server, "--users", usersCSV, "--ledger", led, "--json", jsonOut)
			var res verify.Result
			b, err := os.ReadFile(jsonOut)
			if err != nil {
				t.Fatalf("verify (exit %d) wrote no result: %v\n%s\n%s", st, err, vout, tail(verr, 10))
			}
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			c := res.Counts
			if c.Lost+c.Foreign+c.Moved+c.Duplicate+c.Resurrected+c.Changed > 0 || res.RPO.LostWrites > 0 {
				t.Fatalf("after kill -9 of the load at %d ledger bytes verify reports damage that cannot have happened (%d records, %d pending): %s\n%s",
					at, l.Len(), l.Pending(), res.Reason, vout)
			}
			t.Logf("verify: %s, exit %d (%d records, %d without outcome): %s", res.Status, st, l.Len(), l.Pending(), res.Reason)
		})
	}
}
