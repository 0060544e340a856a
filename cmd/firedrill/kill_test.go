package main

import (
	"context"
	"encoding/json"
	"errors"
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
// reference stack in a child process and kills it with SIGKILL at a seeded
// moment, several times, each with accounts of its own. After every kill,
// `firedrill verify` on the same server with the ledger the dead load left
// must report no item lost, foreign, moved, duplicated or resurrected that the
// server holds: every write whose request left was on record before it left
// (write-ahead), so the worst a kill can do is make writes ambiguous.
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
	const kills = 5
	r := seed.Derive(2009, "kill-9-of-load")
	for i := range kills {
		// Moments from a tenth of a second (setting up) to several seconds
		// (well into the writes, or after the end on a fast machine).
		at := 100*time.Millisecond + time.Duration(r.Int64N(int64(6*time.Second)))
		t.Run(fmt.Sprintf("kill %d at %s", i+1, at.Round(time.Millisecond)), func(t *testing.T) {
			dir := t.TempDir()
			accts := namedAccounts(fmt.Sprintf("kill%d-", i+1), 10, int64(100+i))
			users := filepath.Join(dir, "users.csv")
			if err := accounts.WriteFile(users, accts); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := accounts.Provision(ctx, dav.NewHTTPClient(4), server, token, accts, 4); err != nil {
				t.Fatal(err)
			}
			led := filepath.Join(dir, "run.ledger")
			child := exec.Command(os.Args[0], "-test.run=^TestKill9OfLoadNeverMakesVerifyLie$")
			argv, err := json.Marshal([]string{
				"load", "--server", server, "--users", users, "--profile", "tiny", "--seed", fmt.Sprint(100 + i), "--ledger", led})
			if err != nil {
				t.Fatal(err)
			}
			child.Env = append(os.Environ(), killedChildArgs+"="+string(argv))
			var out strings.Builder
			child.Stdout, child.Stderr = &out, &out
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- child.Wait() }()
			killed := false
			select {
			case <-time.After(at):
				killed = child.Process.Kill() == nil
				<-exited
			case err := <-exited:
				t.Logf("the load ended before its kill (%v)", err)
			}
			l, err := ledger.Load(led)
			var cs *ledger.CutShortError
			switch {
			case errors.Is(err, os.ErrNotExist):
				t.Skipf("killed before the ledger was created:\n%s", out.String())
			case err != nil:
				t.Fatalf("the killed load's ledger does not load: %v", err)
			case killed && l.CutShort == nil && l.Len() > 0:
				t.Logf("killed after the ledger was closed")
			case errors.As(l.CutShort, &cs):
				t.Logf("ledger cut short: %v", l.CutShort)
			}
			jsonOut := filepath.Join(dir, "verify.json")
			st, vout, verr := runCLI(t, nil, "verify", "--server", server, "--users", users, "--ledger", led, "--json", jsonOut)
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
				t.Fatalf("after kill -9 of the load at %s verify reports damage that cannot have happened (%d records, %d pending): %s\n%s",
					at, l.Len(), l.Pending(), res.Reason, vout)
			}
			t.Logf("verify: %s (%d records, %d without outcome)", res.Status, l.Len(), l.Pending())
		})
	}
}
