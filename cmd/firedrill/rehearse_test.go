package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/rehearse"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
)

func TestRehearseBadInput(t *testing.T) {
	notExec := writeFile(t, "migrate.sh", "#!/bin/sh\nexit 0\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no procedure", []string{"rehearse"}, "missing --procedure"},
		{"unknown builtin", []string{"rehearse", "--procedure", "builtin:teleport"}, "builtin:san-migration"},
		{"missing script", []string{"rehearse", "--procedure", "./no-such-migrate.sh"}, "executable script"},
		{"script not executable", []string{"rehearse", "--procedure", notExec}, "chmod +x"},
		{"one user", []string{"rehearse", "--procedure", "builtin:san-migration", "--users", "1"}, "at least 2"},
		{"bad touches", []string{"rehearse", "--procedure", "builtin:san-migration", "--touches", "everything"}, "touches \"everything\""},
		{"bad backup", []string{"rehearse", "--procedure", "builtin:san-migration", "--backup", "tape"}, "tape"},
		{"bad profile", []string{"rehearse", "--procedure", "builtin:san-migration", "--profile", "huge"}, "huge"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, _, stderr := runCLI(t, nil, append(c.args, "--out", t.TempDir())...)
			if st != exitUsage || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, want %d with %q in:\n%s", st, exitUsage, c.want, stderr)
			}
		})
	}
}

// rehearseCLI runs a rehearsal of four users at profile tiny and returns its
// exit status, output and decision.
func rehearseCLI(t *testing.T, args ...string) (int, string, rehearse.Decision) {
	t.Helper()
	stacktest.RequireDocker(t)
	if testing.Short() {
		t.Skip("rehearses against the reference stack in containers")
	}
	out := t.TempDir()
	args = append([]string{"rehearse", "--users", "4", "--profile", "tiny", "--seed", "2009", "--out", out}, args...)
	st, stdout, stderr := runCLI(t, nil, args...)
	t.Logf("firedrill %s: exit %d\n%s", strings.Join(args, " "), st, stdout)
	var d rehearse.Decision
	b, err := os.ReadFile(filepath.Join(out, "latest", rehearse.DecisionFile))
	if err != nil {
		t.Fatalf("read decision: %v\nstderr:\n%s", err, stderr)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("decode decision: %v", err)
	}
	return st, stdout, d
}

func TestRehearseRefusesBackupOnMigratedStorage(t *testing.T) {
	st, stdout, d := rehearseCLI(t, "--procedure", "builtin:san-migration", "--backup", "dump-same-volume")
	if st != exitFail || d.Verdict != rehearse.Refused {
		t.Fatalf("exit %d, verdict %s; want %d, refused", st, d.Verdict, exitFail)
	}
	for _, want := range []string{"REFUSED", "no verified backup outside the storage the procedure touches", "primary-postgres-data-san-a", "failure domain san-a", "take a backup to another failure domain"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if d.Procedure != nil {
		t.Errorf("the procedure ran although the backup was refused: %+v", d.Procedure)
	}
}

func TestRehearseRefusesBackupInATouchedFailureDomain(t *testing.T) {
	st, stdout, d := rehearseCLI(t, "--procedure", "builtin:san-migration", "--touches", "data,san-b")
	if st != exitFail || d.Verdict != rehearse.Refused {
		t.Fatalf("exit %d, verdict %s; want %d, refused", st, d.Verdict, exitFail)
	}
	if !strings.Contains(stdout, "continuous-backup-san-b (failure domain san-b), which the procedure touches") {
		t.Errorf("output does not name the backup volume in the touched domain san-b")
	}
}

func TestRehearseApprovesCorrectMigration(t *testing.T) {
	st, stdout, d := rehearseCLI(t, "--procedure", "builtin:san-migration")
	if st != exitOK || d.Verdict != rehearse.Go {
		t.Fatalf("exit %d, verdict %s (%s); want 0, go", st, d.Verdict, d.Reason)
	}
	if !d.Proof.Proven() || d.Proof.Removed.Containers == 0 {
		t.Errorf("proof %+v: want a proven backup whose side stack was removed", d.Proof)
	}
	if d.Procedure == nil || !d.Procedure.OK() || !strings.Contains(d.Procedure.Detail, "verified and switched") {
		t.Errorf("procedure %+v: want a verified, switched migration", d.Procedure)
	}
	if d.Phones == nil || d.Phones.Attempts == 0 || d.RPO == nil || d.RPO.LostWrites != 0 || len(d.Damaged) != 0 {
		t.Errorf("phones %+v, RPO %+v, damaged %v: want writes during the procedure, none lost, nobody damaged", d.Phones, d.RPO, d.Damaged)
	}
	if !strings.Contains(stdout, "all 4 users intact") {
		t.Errorf("output does not say every user is intact")
	}
}

// TestRehearseOnDavicalProvesTheBackupDespiteDavicalsOwnLosses rehearses the
// correct migration on the davical stack. DAViCal rolls back acknowledged
// WebDAV file PUTs (D1), so its users are damaged before anything happens:
// the proof must not blame the backup for that (the side stack holds what
// the primary held at the check), and the decision must not call the service
// safe, saying which damage was the server's own.
func TestRehearseOnDavicalProvesTheBackupDespiteDavicalsOwnLosses(t *testing.T) {
	st, stdout, d := rehearseCLI(t, "--procedure", "builtin:san-migration", "--stack", "davical")
	if st != exitFail || d.Verdict != rehearse.NoGo {
		t.Fatalf("exit %d, verdict %s (%s); want 1, no-go (DAViCal loses acknowledged app data)", st, d.Verdict, d.Reason)
	}
	if !d.Proof.Proven() || d.Proof.ServerOwn == nil || d.Proof.ServerOwn.Same != d.Proof.ServerOwn.After {
		t.Fatalf("proof %+v: want it proven, all of its damage the server's own", d.Proof)
	}
	if !strings.Contains(stdout, "the server's own doing") {
		t.Errorf("the output does not say whose damage it was")
	}
}

func TestRehearseRejectsBotchedMigration(t *testing.T) {
	st, stdout, d := rehearseCLI(t, "--procedure", "builtin:san-migration-botched")
	if st != exitFail || d.Verdict != rehearse.NoGo {
		t.Fatalf("exit %d, verdict %s (%s); want 1, no-go", st, d.Verdict, d.Reason)
	}
	if len(d.Damaged) == 0 || !strings.Contains(stdout, "damaged users: "+strings.Split(d.Damaged[0], " ")[0]) {
		t.Errorf("damaged %v: want the damaged users named in the output", d.Damaged)
	}
	if d.WayBack == "" || !strings.Contains(stdout, "way back: restore the proven backup") {
		t.Errorf("no way back offered: %q", d.WayBack)
	}
}

func TestRehearseScriptGetsTheStack(t *testing.T) {
	script, err := filepath.Abs("testdata/harmless-procedure.sh")
	if err != nil {
		t.Fatal(err)
	}
	st, _, d := rehearseCLI(t, "--procedure", script)
	if st != exitOK || d.Verdict != rehearse.Go {
		t.Fatalf("exit %d, verdict %s (%s); want 0, go", st, d.Verdict, d.Reason)
	}
	o := d.Procedure
	if o == nil || o.ExitCode != 0 || o.Result["marker_rows"] != "1" {
		t.Fatalf("procedure %+v: want exit 0 and the marker row it wrote through FIREDRILL_DATABASE_URL", o)
	}
	if !strings.Contains(o.Tail, "done: 1 marker row(s)") {
		t.Errorf("output tail %q lacks the script's last line", o.Tail)
	}
	if _, err := os.Stat(o.Output); err != nil {
		t.Errorf("the script's output was not saved in the run directory: %v", err)
	}
	// The volume the script made with the run's labels went with the run.
	if docker, err := exec.LookPath("docker"); err == nil {
		vol := o.Result["scratch_volume"]
		if out, err := exec.Command(docker, "volume", "inspect", vol).CombinedOutput(); err == nil {
			t.Errorf("volume %s the procedure labelled with the run is still there after it: %s", vol, out)
		}
	}
}

func TestRehearseFailingScriptIsNoGo(t *testing.T) {
	script, err := filepath.Abs("testdata/failing-procedure.sh")
	if err != nil {
		t.Fatal(err)
	}
	st, stdout, d := rehearseCLI(t, "--procedure", script)
	if st != exitFail || d.Verdict != rehearse.NoGo {
		t.Fatalf("exit %d, verdict %s (%s); want 1, no-go", st, d.Verdict, d.Reason)
	}
	for _, want := range []string{"the procedure failed: exited with status 7", "rsync: connection to san-c refused"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestRehearseScriptThatCannotStartIsNoGo(t *testing.T) {
	script, err := filepath.Abs("testdata/no-shebang-procedure.sh")
	if err != nil {
		t.Fatal(err)
	}
	st, stdout, d := rehearseCLI(t, "--procedure", script)
	if st != exitFail || d.Verdict != rehearse.NoGo || !strings.Contains(stdout, "the procedure failed: could not start: ") {
		t.Fatalf("exit %d, verdict %s (%s); want 1, no-go: could not start", st, d.Verdict, d.Reason)
	}
}

func TestRehearseKillsAProcedureThatOverrunsItsTimeout(t *testing.T) {
	script, err := filepath.Abs("testdata/slow-procedure.sh")
	if err != nil {
		t.Fatal(err)
	}
	st, stdout, d := rehearseCLI(t, "--procedure", script, "--timeout", "3s")
	if st != exitFail || d.Verdict != rehearse.NoGo || d.Procedure == nil || !d.Procedure.TimedOut {
		t.Fatalf("exit %d, verdict %s (%s), procedure %+v; want 1, no-go, timed out", st, d.Verdict, d.Reason, d.Procedure)
	}
	if !strings.Contains(stdout, "the procedure failed: timed out after 3s") || !strings.Contains(stdout, "copying the data volume, slowly") {
		t.Errorf("output does not say the procedure timed out, with its output")
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(d.Procedure.Output), "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The child was in the script's process group, killed with it; a
	// zombie awaiting its parent counts as gone.
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(stat), ") Z ") {
		t.Errorf("the procedure's child %d outlived the timeout: %s", pid, stat)
	}
}
