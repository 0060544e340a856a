package backup

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/firedrill/firedrill/harness/backup/wal"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/testcontainers/testcontainers-go"
)

// checker verifies backups from inside a container that mounts their volume at
// root (read-only is enough).
type checker struct {
	ctr  *testcontainers.DockerContainer
	root string
	cat  Catalog
}

func (c checker) path(rel string) string { return path.Join(c.root, rel) }

// exitVerifyBackup is the exit status verifyBaseScript uses when pg_verifybackup
// rejects the backup.
const exitVerifyBackup = 3

// verifyBaseScript presents the archive's segments to pg_verifybackup and
// pg_waldump under their segment names (links to complete segments, a copy of the
// partial one, frozen as it is now), checks the backup against its manifest and
// the WAL of its own range, then scans the WAL from the backup's start to the
// archive's end. Arguments: backup dir, archive dir, start LSN, timeline, then
// "source:name" per segment. With no archive dir, only pg_verifybackup runs,
// on the WAL inside the backup.
const verifyBaseScript = `
backup=$1; archive=$2; start=$3; tli=$4; shift 4
if [ -z "$archive" ]; then
	if ! out=$(pg_verifybackup "$backup" 2>&1); then echo "$out" >&2; exit 3; fi
	exit 0
fi
view=$(mktemp -d /tmp/walview.XXXXXX)
trap 'rm -rf "$view" "$view.err"' EXIT
for f in "$@"; do
	src=${f%%:*}; name=${f#*:}
	if [ "$src" = "$name" ]; then ln -s "$archive/$src" "$view/$name"; else cp "$archive/$src" "$view/$name"; fi
done
if ! out=$(pg_verifybackup --wal-directory="$view" "$backup" 2>&1); then echo "$out" >&2; exit 3; fi
{ pg_waldump --path="$view" --timeline="$tli" --start="$start" 2>"$view.err" || true; } | { grep -E "$WALDUMP_FILTER" || true; }
cat "$view.err" >&2
`

// verifyBase runs pg_verifybackup on a base backup with its manifest and, for a
// backup that relies on the WAL archive, checks the archive's continuity from the
// backup's start to its newest segment and scans that WAL with pg_waldump. The
// scan (nil without an archive) tells a restore which targets it can reach.
func (c checker) verifyBase(ctx context.Context, e Entry) (*wal.Scan, error) {
	if e.WALIncluded || c.cat.WAL == nil {
		res, err := tools.Exec(ctx, c.ctr, tools.ExecOptions{User: "postgres"}, verifyBaseScript, c.path(e.Path), "", "", "")
		if err != nil {
			return nil, err
		}
		if res.ExitCode != 0 {
			return nil, fmt.Errorf("pg_verifybackup: %s", tools.Tail(strings.ReplaceAll(res.Stderr, "pg_verifybackup: error: ", ""), 4))
		}
		return nil, nil
	}
	archive := c.path(c.cat.WAL.Path)
	ls, err := tools.Script(ctx, c.ctr, tools.ExecOptions{User: "postgres"}, `ls -1 "$1"`, archive)
	if err != nil {
		return nil, fmt.Errorf("list WAL archive: %w", err)
	}
	view, err := wal.Continuity(strings.Fields(ls), e.Timeline, e.StartLSN, e.SegmentSize)
	if err != nil {
		return nil, err
	}
	args := []string{c.path(e.Path), archive, e.StartLSN.String(), fmt.Sprint(e.Timeline)}
	for _, f := range view.Files {
		args = append(args, f.Source+":"+f.Name)
	}
	res, err := tools.Exec(ctx, c.ctr, tools.ExecOptions{User: "postgres", Env: []string{"WALDUMP_FILTER=" + wal.WaldumpFilter}}, verifyBaseScript, args...)
	if err != nil {
		return nil, err
	}
	switch res.ExitCode {
	case 0:
	case exitVerifyBackup:
		return nil, fmt.Errorf("pg_verifybackup: %s", tools.Tail(strings.ReplaceAll(res.Stderr, "pg_verifybackup: error: ", ""), 4))
	default:
		return nil, fmt.Errorf("verify backup %s: exit status %d: %s", e.ID, res.ExitCode, tools.Tail(res.Stderr, 4))
	}
	scan, err := wal.ParseScan(res.Stdout, res.Stderr, e.StartLSN, view)
	if err != nil {
		return nil, err
	}
	if scan.End < e.StopLSN {
		return nil, fmt.Errorf("the archive ends at %s, before the backup's end %s: the backup cannot become consistent", scan.End, e.StopLSN)
	}
	return &scan, nil
}

// verifyDump checks a dump file against the checksum taken when it was written
// and that pg_restore can read its table of contents.
func (c checker) verifyDump(ctx context.Context, e Entry) error {
	res, err := tools.Exec(ctx, c.ctr, tools.ExecOptions{User: "postgres"}, `
f=$1; want=$2
[ -f "$f" ] || { echo "dump file $f is missing" >&2; exit 3; }
got=$(sha256sum "$f" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "checksum mismatch: the catalogue says $want, the file has $got" >&2; exit 3; }
pg_restore --list "$f" >/dev/null
`, c.path(e.Path), e.SHA256)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("verify dump: %s", tools.Tail(res.Stderr, 4))
	}
	return nil
}
