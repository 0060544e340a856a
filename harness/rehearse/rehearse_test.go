package rehearse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/verify"
)

const ms = int64(time.Millisecond)

func TestPhonesSaw(t *testing.T) {
	rec := func(call, ret int64, o ledger.Outcome) ledger.Record {
		return ledger.Record{Call: call * ms, Return: ret * ms, Outcome: o}
	}
	recs := []ledger.Record{
		rec(0, 10, ledger.OK),             // before the proof point and the procedure
		rec(150, 190, ledger.OK),          // after the proof, before the procedure
		rec(900, 1010, ledger.Ambiguous),  // in flight when the procedure starts
		rec(1100, 1200, ledger.Failed),    // refused during it
		rec(1300, 3300, ledger.Ambiguous), // timed out during it
		rec(3400, 3450, ledger.OK),        // the first acknowledgment after it
		rec(3500, 3600, ledger.OK),        // and the last
	}
	got := PhonesSaw(recs, 1000*ms, 5000*ms, 100*ms)
	want := Phones{Attempts: 5, Acked: 2, Failed: 1, Ambiguous: 2, AckedAfterProof: 3,
		FailingFor:        2300 * time.Millisecond, // 1000 (clamped to the start) to 3300
		LongestWithoutAck: 2450 * time.Millisecond, // 1000 to 3450
		Watched:           2600 * time.Millisecond, // 1000 to the last return, 3600
	}
	if got != want {
		t.Errorf("PhonesSaw = %+v\nwant        %+v", got, want)
	}
	if quiet := PhonesSaw(recs[:2], 1000*ms, 2000*ms, 0); quiet.Attempts != 0 || quiet.FailingFor != 0 || quiet.Watched != 0 {
		t.Errorf("no attempt after the start: %+v, want nothing seen", quiet)
	}
}

func TestScenarioChecksInput(t *testing.T) {
	sc, err := Scenario(Config{Procedure: "builtin:san-migration-botched"})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "rehearse-san-migration-botched" || sc.Backup != "continuous" || sc.Profile != "tiny" || sc.Expect != report.ExpectIntact {
		t.Errorf("scenario %s: backup %s, profile %s, expect %s", sc.Name, sc.Backup, sc.Profile, sc.Expect)
	}
	var prove, loads int
	for _, st := range sc.Steps {
		switch st.Do {
		case drill.ProveBackup:
			prove++
			if loads != 1 {
				t.Errorf("prove-backup after %d loads; want it between the two", loads)
			}
		case drill.Load:
			loads++
		}
	}
	var touched []string
	for _, st := range sc.Steps {
		if st.Do == drill.ProveBackup {
			touched = st.Touches
		}
	}
	if got := touched; strings.Join(got, ",") != "data,san-c" {
		t.Errorf("a built-in migration touches %v; want data and san-c, where it moves the database", got)
	}
	if prove != 1 || loads != 2 {
		t.Errorf("%d prove-backup steps and %d loads; want 1 and 2", prove, loads)
	}
	script := filepath.Join(t.TempDir(), "Our Migrate.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if sc, err := Scenario(Config{Procedure: script, Touches: []string{"data", "san-b"}}); err != nil || sc.Name != "rehearse-our-migrate" {
		t.Errorf("script scenario %q: %v", sc.Name, err)
	}
	for _, bad := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no procedure"},
		{Config{Procedure: "builtin:nope"}, "builtin:san-migration, builtin:san-migration-botched"},
		{Config{Procedure: "builtin:san-migration", Users: 1}, "at least 2"},
		{Config{Procedure: "builtin:san-migration", Touches: []string{"disk"}}, `touches "disk"`},
		{Config{Procedure: "builtin:san-migration", Backup: "tape"}, "tape"},
		{Config{Procedure: "builtin:san-migration", Timeout: -time.Second}, "positive duration"},
	} {
		if _, err := Scenario(bad.cfg); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Scenario(%+v) = %v; want an error with %q", bad.cfg, err, bad.want)
		}
	}
}

func TestDecideNeverGoesWithoutAProof(t *testing.T) {
	dir, err := report.NewRunDir(t.TempDir(), "r")
	if err != nil {
		t.Fatal(err)
	}
	intact := &verify.Result{Status: verify.Pass, Reason: "all 4 users intact"}
	refusal := &drill.RefusedError{Reason: "no verified backup outside the storage the procedure touches"}
	for _, c := range []struct {
		name string
		out  drill.Outcome
		err  error
		want Verdict
	}{
		{"refused", drill.Outcome{Dir: dir, Proof: &drill.Proof{Refusal: refusal.Reason}}, refusal, Refused},
		{"no proof step", drill.Outcome{Dir: dir, Result: intact}, nil, Refused},
		{"proof not passed", drill.Outcome{Dir: dir, Result: intact, Proof: &drill.Proof{Result: &verify.Result{Status: verify.Unknown}}}, nil, Refused},
		{"no procedure outcome", drill.Outcome{Dir: dir, Result: intact, Proof: &drill.Proof{Result: intact}}, nil, Error},
		{"stage failed", drill.Outcome{Dir: dir}, os.ErrDeadlineExceeded, Error},
	} {
		if d := Decide(&c.out, c.err); d.Verdict != c.want {
			t.Errorf("%s: verdict %s (%s), want %s", c.name, d.Verdict, d.Reason, c.want)
		}
	}
}
