package fault

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/firedrill/firedrill/harness/seed"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/moby/moby/api/types/mount"
)

func init() {
	builtin(
		Entry{Name: "corrupt-backup-file", Summary: "flip bytes in files of a base backup on the backup volume", Needs: []Need{NeedsBackupVolume}, New: backupMaker("corrupt-backup-file")},
		Entry{Name: "delete-backup-file", Summary: "delete files of a base backup on the backup volume", Needs: []Need{NeedsBackupVolume}, New: backupMaker("delete-backup-file")},
		Entry{Name: "corrupt-wal-segment", Summary: "flip bytes in archived WAL segments", Needs: []Need{NeedsBackupVolume}, New: backupMaker("corrupt-wal-segment")},
		Entry{Name: "delete-wal-segment", Summary: "delete archived WAL segments", Needs: []Need{NeedsBackupVolume}, New: backupMaker("delete-wal-segment")},
		Entry{Name: "empty-backup", Summary: "empty every file of the newest base backup, keeping its names: a backup that reported success but holds nothing", Needs: []Need{NeedsBackupVolume}, New: backupMaker("empty-backup")},
		Entry{Name: "archive-gap", Summary: "delete a run of consecutive WAL segments from the middle of the archive", Needs: []Need{NeedsBackupVolume}, New: backupMaker("archive-gap")},
	)
}

// RoleBackup is the role of the backup volume that backup faults aim at by default.
const RoleBackup = "backup"

// The default path patterns of backup files, relative to the backup volume's
// root: pg_basebackup's tar files (tar format) or data files (plain format), and
// everything else for WAL archives, whose segments are recognised by name.
var (
	defaultBaseBackupPatterns = []string{"**/base.tar*", "**/pg_wal.tar*", "**/base/*/[0-9]*", "**/global/[0-9]*"}
	defaultWALPatterns        = []string{"**"}
	walSegmentName            = regexp.MustCompile(`^[0-9A-F]{24}(\.gz|\.lz4|\.zst|\.bz2)?$`)
)

// manifestName marks the directory of one base backup (pg_basebackup writes it).
const manifestName = "backup_manifest"

// BackupDamage damages backup files by path pattern, without knowing how the
// backup strategy lays them out beyond PostgreSQL's own names: base backups
// (pg_basebackup's directories, each with a backup_manifest) and WAL segments
// (24 hexadecimal digits). Kind is one of corrupt-backup-file,
// delete-backup-file, corrupt-wal-segment, delete-wal-segment, empty-backup and
// archive-gap. The damage is permanent and found, if at all, when the backup is
// verified or restored.
type BackupDamage struct {
	Kind     string
	Volume   string   // the backup volume: a name or role (default "backup")
	Patterns []string // globs relative to the volume root
	Count    int      // how many files or segments
	Bytes    int      // flips per file
	Within   int64    // corrupt-wal-segment: where pg_waldump finds no record, flip only in the first Within bytes

	vol stack.Volume
	ops []fileOp
}

func backupMaker(kind string) func(Spec) (Fault, error) {
	return func(spec Spec) (Fault, error) { return newBackupDamage(kind, spec) }
}

func newBackupDamage(kind string, spec Spec) (Fault, error) {
	t, _ := target(spec, RoleBackup, "the backup volume (name or role)")
	p := newParams(spec)
	f := &BackupDamage{Kind: kind, Volume: t}
	switch kind {
	case "corrupt-backup-file", "delete-backup-file":
		f.Patterns = p.list("path", defaultBaseBackupPatterns)
		f.Count = int(p.integer("files", 1, 1, 1<<20))
	case "corrupt-wal-segment", "delete-wal-segment":
		f.Patterns = p.list("path", defaultWALPatterns)
		f.Count = int(p.integer("segments", 1, 1, 1<<20))
	case "archive-gap":
		f.Patterns = p.list("path", defaultWALPatterns)
		f.Count = int(p.integer("segments", 2, 1, 1<<20))
	case "empty-backup":
		f.Patterns = p.list("path", []string{"**"})
	default:
		return nil, fmt.Errorf("unknown backup damage %q", kind)
	}
	if strings.HasPrefix(kind, "corrupt-") {
		f.Bytes = int(p.integer("bytes", 16, 1, 1<<20))
	}
	if kind == "corrupt-wal-segment" {
		f.Within = p.integer("within", 8192, 1, 1<<40)
	}
	if err := checkGlobs(f.Patterns); err != nil {
		p.errs = append(p.errs, err)
	}
	return f, p.done()
}

// Name implements Fault.
func (f *BackupDamage) Name() string { return f.Kind }

// Target implements Fault.
func (f *BackupDamage) Target() string { return f.Volume }

// Permanent implements Permanent.
func (f *BackupDamage) Permanent() bool { return true }

// Inject implements Fault.
func (f *BackupDamage) Inject(ctx context.Context, env *Env) error {
	vol, err := env.volume(ctx, f.Volume)
	if err != nil {
		return err
	}
	f.vol = vol
	files, err := listFiles(ctx, env, vol)
	if err != nil {
		return err
	}
	r := seed.Derive(env.Seed, f.Kind, f.Volume, strings.Join(f.Patterns, ","))
	isSegment := func(fi fileInfo) bool { return walSegmentName.MatchString(path.Base(fi.Path)) }
	f.ops = nil
	switch f.Kind {
	case "corrupt-backup-file", "delete-backup-file":
		matched := selectFiles(files, f.Patterns, func(fi fileInfo) bool { return !isSegment(fi) && (fi.Size > 0 || f.Kind == "delete-backup-file") })
		if len(matched) == 0 {
			return fmt.Errorf("%s: no base-backup file in %s matches %s", f.Kind, vol.Name, strings.Join(f.Patterns, ", "))
		}
		for _, fi := range pickFiles(r, matched, f.Count) {
			if f.Kind == "delete-backup-file" {
				f.ops = append(f.ops, fileOp{Op: "delete", Path: fi.Path})
			} else {
				f.ops = append(f.ops, flips(r, fi, f.Bytes)...)
			}
		}
	case "corrupt-wal-segment", "delete-wal-segment":
		segs := selectFiles(files, f.Patterns, func(fi fileInfo) bool { return isSegment(fi) && fi.Size > 0 })
		if len(segs) == 0 {
			return fmt.Errorf("%s: no WAL segment in %s matches %s", f.Kind, vol.Name, strings.Join(f.Patterns, ", "))
		}
		if f.Kind == "delete-wal-segment" {
			for _, fi := range pickFiles(r, segs, f.Count) {
				f.ops = append(f.ops, fileOp{Op: "delete", Path: fi.Path})
			}
			break
		}
		// Flip only where the segment holds records: bytes after a segment's
		// switch record are never read, and flipping them harms nothing.
		candidates := pickFiles(r, segs, min(len(segs), 4*f.Count))
		used, err := walInUse(ctx, env, vol, candidates)
		if err != nil {
			return err
		}
		n := 0
		for _, fi := range candidates {
			if n == f.Count {
				break
			}
			if u := used[fi.Path]; u > 0 {
				fi.Size = min(fi.Size, u)
			} else {
				fi.Size = min(fi.Size, f.Within)
			}
			f.ops = append(f.ops, flips(r, fi, f.Bytes)...)
			n++
		}
	case "archive-gap":
		segs := selectFiles(files, f.Patterns, isSegment)
		sort.Slice(segs, func(i, j int) bool { return path.Base(segs[i].Path) < path.Base(segs[j].Path) })
		if len(segs) < f.Count+2 {
			return fmt.Errorf("archive-gap: %s holds %d WAL segments; a gap of %d inside the archive needs at least %d", vol.Name, len(segs), f.Count, f.Count+2)
		}
		// The gap starts after the first segment and ends before the last.
		start := 1 + r.IntN(len(segs)-f.Count-1)
		for _, fi := range segs[start : start+f.Count] {
			f.ops = append(f.ops, fileOp{Op: "delete", Path: fi.Path})
		}
	case "empty-backup":
		dir, err := newestBackup(files, f.Patterns)
		if err != nil {
			return fmt.Errorf("empty-backup in %s: %w", vol.Name, err)
		}
		for _, fi := range files {
			if (dir == "." || strings.HasPrefix(fi.Path, dir+"/")) && !isSegment(fi) && fi.Size > 0 {
				f.ops = append(f.ops, fileOp{Op: "truncate", Path: fi.Path, Offset: 0})
			}
		}
		if len(f.ops) == 0 {
			return fmt.Errorf("empty-backup in %s: the backup in %s holds no non-empty file", vol.Name, dir)
		}
	}
	return applyFileOps(ctx, env, vol, f.ops)
}

// walInUse returns, for each plain WAL segment pg_waldump can read, how many
// bytes from its start hold records (up to the start of its last record).
func walInUse(ctx context.Context, env *Env, vol stack.Volume, segs []fileInfo) (map[string]int64, error) {
	args := []string{volumeRoot}
	for _, s := range segs {
		args = append(args, s.Path)
	}
	out, err := tools.Bash(ctx, env.Run, []mount.Mount{vol.Mount(volumeRoot, true)}, `
cd "$1"; shift
for f in "$@"; do
	b=$(basename -- "$f")
	case $b in *.*) continue ;; esac
	lsn=$(pg_waldump --path="$(dirname -- "$f")" "$b" "$b" 2>/dev/null | sed -n 's/.*lsn: \([0-9A-F]*\/[0-9A-F]*\),.*/\1/p' | tail -n 1)
	[ -n "$lsn" ] && printf '%s\0%s\0' "$f" "$lsn"
done
exit 0
`, args...)
	if err != nil {
		return nil, fmt.Errorf("find the records in WAL segments of %s: %w", vol.Name, err)
	}
	sizes := map[string]int64{}
	for _, s := range segs {
		sizes[s.Path] = s.Size
	}
	used := map[string]int64{}
	parts := strings.Split(out, "\x00")
	for i := 0; i+1 < len(parts); i += 2 {
		hi, lo, ok := strings.Cut(parts[i+1], "/")
		h, err1 := strconv.ParseUint(hi, 16, 32)
		l, err2 := strconv.ParseUint(lo, 16, 32)
		size := sizes[parts[i]]
		if !ok || err1 != nil || err2 != nil || size <= 0 {
			continue
		}
		lsn := h<<32 | l
		used[parts[i]] = int64(lsn % uint64(size))
	}
	return used, nil
}

// newestBackup returns the directory of the newest base backup (by the time of
// its manifest) among those whose manifest matches the patterns.
func newestBackup(files []fileInfo, patterns []string) (string, error) {
	var best *fileInfo
	for i, fi := range files {
		if path.Base(fi.Path) != manifestName {
			continue
		}
		if len(selectFiles([]fileInfo{fi}, patterns, nil)) == 0 {
			continue
		}
		if best == nil || fi.MTime > best.MTime || (fi.MTime == best.MTime && fi.Path > best.Path) {
			best = &files[i]
		}
	}
	if best == nil {
		return "", fmt.Errorf("no base backup (no %s) matches %s", manifestName, strings.Join(patterns, ", "))
	}
	return path.Dir(best.Path), nil
}

// Recover implements Fault: the damage stays.
func (f *BackupDamage) Recover(ctx context.Context, env *Env) error { return nil }

// Wait implements Fault.
func (f *BackupDamage) Wait(ctx context.Context, env *Env) error { return nil }

// Detail implements Detailer.
func (f *BackupDamage) Detail() string {
	if f.vol.Name == "" {
		return ""
	}
	return fmt.Sprintf("volume %s: %s", f.vol.Name, describeOps(f.ops))
}

// Paths returns the files Inject damaged, each once.
func (f *BackupDamage) Paths() []string { return opPaths(f.ops) }
