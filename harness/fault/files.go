package fault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/moby/moby/api/types/mount"
)

// volumeRoot is where helpers mount the volume a file fault works on.
const volumeRoot = "/v"

// fileInfo is a regular file in a volume, by its path relative to the volume root.
type fileInfo struct {
	Path  string
	Size  int64
	MTime float64 // seconds since the epoch
}

// listFiles lists the regular files in a volume, in path order.
func listFiles(ctx context.Context, env *Env, vol stack.Volume) ([]fileInfo, error) {
	out, err := tools.Bash(ctx, env.Run, []mount.Mount{vol.Mount(volumeRoot, true)},
		`cd "$1" && find . -type f -printf '%s %T@ %P\0'`, volumeRoot)
	if err != nil {
		return nil, fmt.Errorf("list files in volume %s: %w", vol.Name, err)
	}
	var files []fileInfo
	for _, rec := range strings.Split(out, "\x00") {
		if rec == "" {
			continue
		}
		fields := strings.SplitN(rec, " ", 3)
		if len(fields) != 3 {
			return nil, fmt.Errorf("list files in volume %s: cannot read %q", vol.Name, rec)
		}
		n, err1 := strconv.ParseInt(fields[0], 10, 64)
		t, err2 := strconv.ParseFloat(fields[1], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("list files in volume %s: cannot read %q", vol.Name, rec)
		}
		files = append(files, fileInfo{Path: fields[2], Size: n, MTime: t})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// matchGlob reports whether a slash-separated path matches a pattern in which
// "**" stands for any number of path segments (also none) and every other segment
// follows path.Match.
func matchGlob(pattern, name string) bool {
	return matchSegs(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(segs); i++ {
				if matchSegs(pat[1:], segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], segs[0]); err != nil || !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// checkGlobs reports a malformed pattern in a comma-separated list.
func checkGlobs(patterns []string) error {
	for _, p := range patterns {
		for _, seg := range strings.Split(p, "/") {
			if seg == "**" {
				continue
			}
			if _, err := path.Match(seg, ""); err != nil {
				return fmt.Errorf("pattern %q: %w", p, err)
			}
		}
	}
	return nil
}

// selectFiles returns the files that match any of the patterns and pass keep.
func selectFiles(files []fileInfo, patterns []string, keep func(fileInfo) bool) []fileInfo {
	var out []fileInfo
	for _, f := range files {
		for _, p := range patterns {
			if matchGlob(p, f.Path) && (keep == nil || keep(f)) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// fileOp is one change to a file in a volume.
type fileOp struct {
	Op     string // flip, truncate or delete
	Path   string
	Offset int64 // flip: byte offset; truncate: new size
	Mask   byte  // flip: the bits to flip (never 0)
}

func (o fileOp) String() string {
	switch o.Op {
	case "flip":
		return fmt.Sprintf("flip %s@%d^%#02x", o.Path, o.Offset, o.Mask)
	case "truncate":
		return fmt.Sprintf("truncate %s to %d", o.Path, o.Offset)
	}
	return o.Op + " " + o.Path
}

// fileOpsScript applies ops given as groups of four arguments (op, path, number,
// mask) relative to the volume root in $1, in order, then syncs. One Perl
// process does them all (Perl is essential in Debian, so in every image
// built here): a thousand flips through od and dd took ten seconds.
const fileOpsScript = `
exec perl -e '
use strict; use warnings;
my $root = shift @ARGV;
chdir $root or die "cd $root: $!\n";
my @doomed;
while (@ARGV) {
	my ($op, $f, $n, $mask) = splice(@ARGV, 0, 4);
	if ($op eq "flip") {
		open(my $fh, "+<:raw", $f) or die "flip: open $f: $!\n";
		seek($fh, $n, 0) or die "flip: seek $f: $!\n";
		my $got = read($fh, my $b, 1);
		if (!$got) { print STDERR "flip: no byte at offset $n of $f\n"; exit 3; }
		seek($fh, $n, 0) or die "flip: seek $f: $!\n";
		print $fh chr(ord($b) ^ $mask) or die "flip: write $f: $!\n";
		close($fh) or die "flip: close $f: $!\n";
	} elsif ($op eq "truncate") {
		truncate($f, $n) or die "truncate $f: $!\n";
	} elsif ($op eq "delete") {
		push @doomed, $f;
	} else {
		print STDERR "unknown operation $op\n"; exit 2;
	}
}
for my $f (@doomed) { unlink($f) or $!{ENOENT} or die "delete $f: $!\n"; }
system("sync") == 0 or die "sync failed\n";
' "$@"
`

// applyFileOps applies ops to a volume in one helper container.
func applyFileOps(ctx context.Context, env *Env, vol stack.Volume, ops []fileOp) error {
	if len(ops) == 0 {
		return nil
	}
	args := []string{volumeRoot}
	for _, o := range ops {
		args = append(args, o.Op, o.Path, strconv.FormatInt(o.Offset, 10), strconv.Itoa(int(o.Mask)))
	}
	if _, err := tools.Bash(ctx, env.Run, []mount.Mount{vol.Mount(volumeRoot, false)}, fileOpsScript, args...); err != nil {
		return fmt.Errorf("change files in volume %s: %w", vol.Name, err)
	}
	return nil
}

// flips returns n byte flips spread over a file of the given size.
func flips(r *rand.Rand, f fileInfo, n int) []fileOp {
	ops := make([]fileOp, 0, n)
	for range n {
		ops = append(ops, fileOp{Op: "flip", Path: f.Path, Offset: r.Int64N(f.Size), Mask: byte(1 + r.IntN(255))})
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Offset < ops[j].Offset })
	return ops
}

// pickFiles returns n of the files in a seeded order (all of them when n >= len).
func pickFiles(r *rand.Rand, files []fileInfo, n int) []fileInfo {
	idx := r.Perm(len(files))
	if n > len(idx) {
		n = len(idx)
	}
	out := make([]fileInfo, 0, n)
	for _, i := range idx[:n] {
		out = append(out, files[i])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func describeOps(ops []fileOp) string {
	const max = 12
	parts := make([]string, 0, min(len(ops), max))
	for i, o := range ops {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(ops)-max))
			break
		}
		parts = append(parts, o.String())
	}
	return strings.Join(parts, ", ")
}

// opPaths returns the files ops touch, each once, in order.
func opPaths(ops []fileOp) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range ops {
		if !seen[o.Path] {
			seen[o.Path] = true
			out = append(out, o.Path)
		}
	}
	return out
}
