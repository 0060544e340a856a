package fault_test

import (
	"context"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/moby/moby/api/types/mount"
)

// TestBackupFaultsAreFoundByPostgreSQLsOwnTools makes real backups (three
// pg_basebackup base backups with SHA-256 manifests and a continuous WAL archive
// by archive_command), damages them with each backup fault, and checks that
// PostgreSQL's tools notice: pg_verifybackup for base backups, pg_waldump
// reading the archive from its first segment to its last for WAL.
func TestBackupFaultsAreFoundByPostgreSQLsOwnTools(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	bvol, err := run.CreateVolume(ctx, "faulttest-backup", stack.DomainSANB)
	if err != nil {
		t.Fatal(err)
	}
	bmount := []mount.Mount{bvol.Mount("/backup", false)}
	if _, err := bash(t, &fault.Env{Run: run}, bmount, `mkdir -p /backup/wal /backup/base && chown -R postgres:postgres /backup`); err != nil {
		t.Fatal(err)
	}
	env := ownPostgres(t, "backedup",
		stack.WithExtraMount(bvol.Mount("/backup", false)),
		stack.WithSettings(map[string]string{"archive_mode": "on", "archive_command": "test ! -f /backup/wal/%f && cp %p /backup/wal/%f"}))
	pg := env.Stack.Postgres
	basebackup := func(name string) {
		t.Helper()
		res, err := tools.OneShot(ctx, run, tools.Spec{
			Cmd: []string{"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "pg_basebackup", "-h", pg.Alias, "-U", pg.ReplicationUser,
				"-D", "/backup/base/" + name, "-Fp", "-X", "none", "--checkpoint=fast", "--manifest-checksums=SHA256", "--no-password"},
			Env: []string{"PGPASSWORD=" + pg.Password}, Mounts: bmount, Network: pg.Network,
		})
		if err == nil {
			err = res.Err()
		}
		if err != nil {
			t.Fatalf("pg_basebackup %s: %v", name, err)
		}
	}
	mustExec(t, env, "CREATE TABLE notes (id int, body text)")
	for i := range 3 {
		mustExec(t, env, fmt.Sprintf("INSERT INTO notes SELECT i, repeat(md5(i::text), 8) FROM generate_series(%d, %d) i", i*5000, i*5000+4999), "SELECT pg_switch_wal()")
		basebackup(fmt.Sprintf("b%d", i+1))
	}
	mustExec(t, env, "INSERT INTO notes VALUES (-1, 'last')", "SELECT pg_switch_wal()")
	// Wait until the archiver has copied every finished segment, then make three
	// copies of the archive, one for each WAL fault.
	last, err := scalar[string](t, env, "SELECT pg_walfile_name(pg_current_wal_lsn() - 1)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bash(t, env, bmount, `for i in $(seq 100); do [ -f "/backup/wal/$1" ] && break; sleep 0.1; done
[ -f "/backup/wal/$1" ] || { echo "segment $1 never archived" >&2; exit 1; }
for c in a b c; do cp -a /backup/wal "/backup/wal-$c"; done`, last); err != nil {
		t.Fatal(err)
	}

	verifyBackup := func(name string) (string, error) {
		return bash(t, env, bmount, `pg_verifybackup -n "/backup/base/$1" 2>&1`, name)
	}
	walDump := func(dir string) (string, error) {
		return bash(t, env, bmount, `cd "/backup/$1"
segs=$(ls | grep -E '^[0-9A-F]{24}$' | sort)
first=$(echo "$segs" | head -n1) last=$(echo "$segs" | tail -n1)
pg_waldump --quiet --path=. "$first" "$last" 2>&1`, dir)
	}
	for _, b := range []string{"b1", "b2", "b3"} {
		if out, err := verifyBackup(b); err != nil {
			t.Fatalf("pg_verifybackup %s before any fault: %v\n%s", b, err, out)
		}
	}
	for _, d := range []string{"wal-a", "wal-b", "wal-c"} {
		if out, err := walDump(d); err != nil {
			t.Fatalf("pg_waldump over %s before any fault: %v\n%s", d, err, out)
		}
	}

	cases := []struct {
		name   string
		params map[string]string
		check  func() (string, error)
		finds  []string
	}{
		{"corrupt-backup-file", map[string]string{"path": "base/b1/base/*/[0-9]*", "files": "2"}, func() (string, error) { return verifyBackup("b1") }, []string{"checksum mismatch"}},
		{"delete-backup-file", map[string]string{"path": "base/b2/base/*/[0-9]*"}, func() (string, error) { return verifyBackup("b2") }, []string{"present in the manifest but not on disk"}},
		{"empty-backup", nil, func() (string, error) { return verifyBackup("b3") }, []string{"manifest", "size"}},
		{"corrupt-wal-segment", map[string]string{"path": "wal-a/**"}, func() (string, error) { return walDump("wal-a") }, []string{"invalid", "incorrect", "error in WAL record"}},
		{"delete-wal-segment", map[string]string{"path": "wal-b/**"}, func() (string, error) { return walDump("wal-b") }, []string{"could not find file", "No such file", "error"}},
		{"archive-gap", map[string]string{"path": "wal-c/**", "segments": "2"}, func() (string, error) { return walDump("wal-c") }, []string{"could not find file", "No such file", "error"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := injectRecover(t, env, fault.Spec{Name: c.name, Target: "faulttest-backup", Params: c.params}, nil)
			out, err := c.check()
			if err == nil {
				t.Fatalf("after %s the check passed:\n%s", c.name, out)
			}
			found := false
			for _, w := range c.finds {
				found = found || strings.Contains(out, w)
			}
			if !found {
				t.Errorf("after %s the check says %q, want one of %q", c.name, out, c.finds)
			}
			t.Logf("%s: %s -> %s", c.name, f.(fault.Detailer).Detail(), firstLine(out))
			paths := f.(*fault.BackupDamage).Paths()
			if len(paths) == 0 {
				t.Fatal("no file damaged")
			}
			if c.name == "archive-gap" {
				if len(paths) != 2 {
					t.Errorf("archive-gap removed %v, want 2 consecutive segments", paths)
				}
				if out, err := bash(t, env, bmount, `ls /backup/wal-c | grep -E '^[0-9A-F]{24}$' | sort | sed -n '1p;$p'`); err != nil ||
					strings.Contains(out, path.Base(paths[0])) || strings.Contains(out, path.Base(paths[1])) {
					t.Errorf("the gap %v touches the first or last segment (%s, %v)", paths, out, err)
				}
			}
		})
	}
	if _, err := fault.New(fault.Spec{Name: "archive-gap", Params: map[string]string{"segments": "0"}}); err == nil {
		t.Error("archive-gap accepted a gap of 0 segments")
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
