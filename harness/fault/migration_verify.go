package fault

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/moby/moby/api/types/mount"
)

// How a storage migration judges its copy: the source's manifest (SHA-256 of
// every file, taken before anything may wipe the source), a comparison of the
// copy with it, recovery of a copy that carries a backup label, and
// pg_checksums.

// verifyScript checks the copy. With $3 = "compare" it prints the SHA-256 of
// every file of the target (NUL-separated "T" records, compared in Go with the
// source's manifest), then the marker $5 between NULs; a copy taken
// with a backup label is first recovered and shut down cleanly; then
// pg_checksums --check runs on the target's cluster. Its findings are printed
// as "PROBLEM: ..." lines.
const verifyScript = `
src=$1 tgt=$2 mode=$3 sub=$4
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ "$mode" = compare ]; then
	(cd "$tgt" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum --zero) | sed -z 's/^/T /'
fi
printf '\0%s\0' "$5"
cluster="$tgt/$sub"
if [ ! -s "$cluster/PG_VERSION" ]; then
	echo "PROBLEM: the copy holds no PostgreSQL cluster ($sub/PG_VERSION is missing or empty)"
	exit 0
fi
if [ -f "$cluster/backup_label" ]; then
	mkdir -p /var/run/postgresql && chown postgres /var/run/postgresql
	if ! as_pg pg_ctl -D "$cluster" -o "-c listen_addresses='' -c archive_mode=off" -w -t 300 -l /tmp/recovery.log start >/dev/null ||
		! as_pg pg_ctl -D "$cluster" -m fast -w stop >/dev/null; then
		echo "PROBLEM: the copy has a backup label but does not recover: $(tail -n 5 /tmp/recovery.log | tr '\n' ' ')"
		exit 0
	fi
fi
if ! out=$(as_pg pg_checksums --check -D "$cluster" 2>&1); then
	echo "$out" | grep -E 'error|Bad checksums' | tail -n 20 | sed -e 's/^pg_checksums: //' -e 's/^/PROBLEM: pg_checksums: /'
fi
`

// manifestScript prints a NUL-separated record "<$2> <sha256>  ./<path>" for
// every file under $1, in name order: the same records verifyScript prints for
// the copy, so that the two compare.
const manifestScript = `(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum --zero) | sed -z "s/^/$2 /"`

// reportMarker separates the checksum records from the findings in verifyScript's output.
const reportMarker = "--firedrill-verification-report--"

// verify checks the copy and returns what is wrong with it.
func (f *Migration) verify(ctx context.Context, env *Env, mounts []mount.Mount, compare bool) ([]string, error) {
	mode := "checksums-only"
	if compare {
		mode = "compare"
	}
	out, err := tools.Bash(ctx, env.Run, mounts, verifyScript, MigrationSource, MigrationTarget, mode, pgSubdir, reportMarker)
	if err != nil {
		return nil, err
	}
	sums, report, ok := strings.Cut(out, "\x00"+reportMarker+"\x00")
	if !ok {
		return nil, fmt.Errorf("read verification output: no report in %.200q", out)
	}
	var problems []string
	if compare {
		if f.manifest == "" {
			problems = append(problems, "no manifest of the source was taken: the copy cannot be compared with it")
		} else {
			problems = append(problems, compareManifests(f.manifest+sums)...)
		}
	}
	for _, line := range strings.Split(report, "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "PROBLEM: "); ok {
			problems = append(problems, p)
		}
	}
	return problems, nil
}

// compareManifests compares the "S"ource and "T"arget checksum records.
func compareManifests(out string) []string {
	src, tgt := map[string]string{}, map[string]string{}
	for _, rec := range strings.Split(out, "\x00") {
		if len(rec) < 3 {
			continue
		}
		side, rest := rec[0], rec[2:]
		sum, p, ok := strings.Cut(rest, "  ")
		if !ok {
			continue
		}
		p = strings.TrimPrefix(p, "./")
		if side == 'S' {
			src[p] = sum
		} else if side == 'T' {
			tgt[p] = sum
		}
	}
	var missing, differ, extra []string
	for p, s := range src {
		t, ok := tgt[p]
		switch {
		case !ok:
			missing = append(missing, p)
		case t != s:
			differ = append(differ, p)
		}
	}
	for p := range tgt {
		if _, ok := src[p]; !ok {
			extra = append(extra, p)
		}
	}
	var problems []string
	for _, g := range []struct {
		what  string
		paths []string
	}{{"missing from the copy", missing}, {"differ from the source", differ}, {"only in the copy", extra}} {
		if len(g.paths) == 0 {
			continue
		}
		sort.Strings(g.paths)
		shown := g.paths
		if len(shown) > 10 {
			shown = append(shown[:10:10], fmt.Sprintf("and %d more", len(g.paths)-10))
		}
		problems = append(problems, fmt.Sprintf("%d files %s: %s", len(g.paths), g.what, strings.Join(shown, ", ")))
	}
	if len(src) == 0 {
		problems = append(problems, "the source holds no files to compare with")
	}
	return problems
}
