package fault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/retry"
	"github.com/firedrill/firedrill/harness/seed"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

func init() {
	builtin(
		Entry{Name: "disk-full", Summary: "fill a size-limited volume (default: PostgreSQL's data) until writes fail with ENOSPC; recover frees the space and restarts what stopped", Needs: []Need{NeedsSizedVolume}, New: newDiskFull},
		Entry{Name: "corrupt-file", Summary: "flip bytes in, truncate or delete files of a volume chosen by path pattern and seed, with its users stopped or running", New: newCorruptFile},
		Entry{Name: "lose-domain", Summary: "destroy every volume of a failure domain (default san-a), removing the containers that use them first", New: newLoseDomain},
	)
}

const volumeTarget = "a component (postgres) or a volume of this run (name or role)"

// fillName is the file disk-full writes at the root of the volume.
const fillName = ".firedrill-disk-full"

// DiskFull fills a size-limited volume until no byte is free, so that the
// database's next write that needs space (a new WAL segment, a relation growing)
// fails with ENOSPC, as on a full SAN LUN. It refuses a volume without a size
// limit: every plain Docker volume shares the host's disk, and filling it would
// fill the host. Create the data volume with stack.Run.CreateSizedVolume for
// scenarios that fill it. Recover deletes the filler and starts again whatever of
// the volume's users stopped meanwhile (PostgreSQL stops on a failed WAL write).
type DiskFull struct {
	Volume  string // component or volume
	vol     stack.Volume
	running []string // containers using the volume that ran at injection
	free    int64
}

func newDiskFull(spec Spec) (Fault, error) {
	t, _ := target(spec, Postgres, volumeTarget)
	if err := newParams(spec).done(); err != nil {
		return nil, err
	}
	return &DiskFull{Volume: t}, nil
}

// Name implements Fault.
func (f *DiskFull) Name() string { return "disk-full" }

// Target implements Fault.
func (f *DiskFull) Target() string { return f.Volume }

// Inject implements Fault.
func (f *DiskFull) Inject(ctx context.Context, env *Env) error {
	vol, err := env.volume(ctx, f.Volume)
	if err != nil {
		return err
	}
	size, err := env.Run.VolumeSize(ctx, vol.Name)
	if err != nil {
		return err
	}
	if size == 0 {
		return fmt.Errorf("fill volume %s: it has no size limit and shares the host's disk; filling it would fill the host. Create it with stack.Run.CreateSizedVolume (and stack.WithDataVolume) for scenarios that fill it", vol.Name)
	}
	f.vol = vol
	users, err := env.usersOf(ctx, vol.Name)
	if err != nil {
		return err
	}
	f.running = nil
	for _, u := range users {
		if u.running {
			f.running = append(f.running, u.id)
		}
	}
	out, err := tools.Bash(ctx, env.Run, []mount.Mount{vol.Mount(volumeRoot, false)}, `
cd "$1"
before=$(stat -f -c '%a %S' .)
# Fill in big blocks, then small ones for the rest; dd stops at ENOSPC.
dd if=/dev/zero of="$2" bs=1M status=none 2>/dev/null || true
dd if=/dev/zero of="$2.tail" bs=4k status=none 2>/dev/null || true
sync
echo "$before $(stat -f -c '%a' .)"
`, volumeRoot, fillName)
	if err != nil {
		return fmt.Errorf("fill volume %s: %w", vol.Name, err)
	}
	var freeBlocks, blockSize, after int64
	if _, err := fmt.Sscan(out, &freeBlocks, &blockSize, &after); err != nil {
		return fmt.Errorf("fill volume %s: read free space from %q: %w", vol.Name, out, err)
	}
	if after != 0 {
		return fmt.Errorf("fill volume %s: %d blocks still free after filling", vol.Name, after)
	}
	f.free = freeBlocks * blockSize
	return nil
}

// Recover implements Fault.
func (f *DiskFull) Recover(ctx context.Context, env *Env) error {
	if f.vol.Name == "" {
		return nil
	}
	if _, err := tools.Bash(ctx, env.Run, []mount.Mount{f.vol.Mount(volumeRoot, false)},
		`cd "$1" && rm -f -- "$2" "$2.tail" && sync`, volumeRoot, fillName); err != nil {
		return fmt.Errorf("free volume %s: %w", f.vol.Name, err)
	}
	for _, id := range f.running {
		if err := startAgain(ctx, env, id, id); err != nil {
			return err
		}
	}
	return nil
}

// Wait implements Fault.
func (f *DiskFull) Wait(ctx context.Context, env *Env) error {
	if f.Volume == Postgres {
		return env.ready(ctx, Postgres)
	}
	return nil
}

// Detail implements Detailer.
func (f *DiskFull) Detail() string {
	if f.vol.Name == "" {
		return ""
	}
	return fmt.Sprintf("volume %s: filled %d free bytes", f.vol.Name, f.free)
}

// volumeUser is a container of the run that mounts a volume.
type volumeUser struct {
	id, name, role string
	running        bool
}

// usersOf lists the containers that mount a volume, refusing when any of them
// is not the run's; keepers of sized volumes are left out (stopping one would
// lose the volume's contents).
func (env *Env) usersOf(ctx context.Context, volume string) ([]volumeUser, error) {
	cs, err := env.containersUsing(ctx, volume)
	if err != nil {
		return nil, err
	}
	var out []volumeUser
	for _, c := range cs {
		name := strings.TrimPrefix(firstName(c.Names), "/")
		if !env.Run.Owns(c.Labels) {
			return nil, fmt.Errorf("volume %s is used by container %s, which is %w %s: refusing to act on it", volume, name, ErrNotOwned, env.Run.ID)
		}
		role := c.Labels[stack.LabelRole]
		if role == stack.RoleKeeper || role == tools.RoleOneShot {
			continue
		}
		out = append(out, volumeUser{id: c.ID, name: name, role: role, running: c.State == "running" || c.State == "paused"})
	}
	return out, nil
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// CorruptFile damages files of a volume chosen by path pattern and the seed:
// flips bytes in them (bit rot, a bad controller), truncates them (a short
// write, a bad copy) or deletes them (an operator's rm). With Stopped set, the
// volume's users are stopped gracefully first, as for offline maintenance, and
// Recover starts them again; otherwise the files change under the running
// component. The damage itself is permanent: only a restore undoes it.
type CorruptFile struct {
	Volume   string   // component or volume
	Patterns []string // globs relative to the volume root; ** matches any depth
	Op       string   // flip, truncate or delete
	Files    int      // how many matching files to damage
	Bytes    int      // flip: bytes flipped per file
	Size     int64    // truncate: the new size; -1 means half the file, rounded down to 8 KiB pages
	Stopped  bool

	vol     stack.Volume
	stopped []string
	ops     []fileOp
}

// defaultCorruptPattern is where PostgreSQL keeps table and index files.
var defaultCorruptPattern = strings.TrimPrefix(stack.PGData, stack.DataDir+"/") + "/base/*/*"

func newCorruptFile(spec Spec) (Fault, error) {
	t, _ := target(spec, Postgres, volumeTarget)
	p := newParams(spec)
	f := &CorruptFile{
		Volume:   t,
		Patterns: p.list("path", []string{defaultCorruptPattern}),
		Op:       p.str("op", "flip", "flip", "truncate", "delete"),
		Files:    int(p.integer("files", 1, 1, 1<<20)),
		Bytes:    int(p.integer("bytes", 16, 1, 1<<20)),
		Size:     p.integer("size", -1, -1, 1<<50),
		Stopped:  p.boolean("stopped", false),
	}
	if err := checkGlobs(f.Patterns); err != nil {
		p.errs = append(p.errs, err)
	}
	return f, p.done()
}

// Name implements Fault.
func (f *CorruptFile) Name() string { return "corrupt-file" }

// Target implements Fault.
func (f *CorruptFile) Target() string { return f.Volume }

// Permanent implements Permanent.
func (f *CorruptFile) Permanent() bool { return true }

// Inject implements Fault.
func (f *CorruptFile) Inject(ctx context.Context, env *Env) error {
	vol, err := env.volume(ctx, f.Volume)
	if err != nil {
		return err
	}
	f.vol = vol
	files, err := listFiles(ctx, env, vol)
	if err != nil {
		return err
	}
	keep := func(fi fileInfo) bool { return f.Op == "delete" || fi.Size > 0 }
	if f.Op == "flip" && f.Bytes < 1 {
		f.Bytes = 16
	}
	matched := selectFiles(files, f.Patterns, keep)
	if len(matched) == 0 {
		return fmt.Errorf("corrupt files in %s: no non-empty file matches %s", vol.Name, strings.Join(f.Patterns, ", "))
	}
	r := seed.Derive(env.Seed, "corrupt-file", f.Volume, f.Op, strings.Join(f.Patterns, ","))
	f.ops = nil
	for _, fi := range pickFiles(r, matched, max(f.Files, 1)) {
		switch f.Op {
		case "flip":
			f.ops = append(f.ops, flips(r, fi, f.Bytes)...)
		case "truncate":
			size := f.Size
			if size < 0 {
				size = fi.Size / 2 / 8192 * 8192
			}
			if size >= fi.Size {
				return fmt.Errorf("truncate %s to %d bytes: the file has only %d", fi.Path, size, fi.Size)
			}
			f.ops = append(f.ops, fileOp{Op: "truncate", Path: fi.Path, Offset: size})
		case "delete":
			f.ops = append(f.ops, fileOp{Op: "delete", Path: fi.Path})
		}
	}
	if f.Stopped {
		users, err := env.usersOf(ctx, vol.Name)
		if err != nil {
			return err
		}
		f.stopped = nil
		for _, u := range users {
			if !u.running {
				continue
			}
			secs := 60
			if _, err := env.Run.Docker.ContainerStop(ctx, u.id, client.ContainerStopOptions{Timeout: &secs}); err != nil {
				return fmt.Errorf("stop %s before corrupting its files: %w", u.name, err)
			}
			f.stopped = append(f.stopped, u.id)
		}
	}
	return applyFileOps(ctx, env, vol, f.ops)
}

// Recover implements Fault: it starts what Inject stopped; the files stay damaged.
func (f *CorruptFile) Recover(ctx context.Context, env *Env) error {
	var errs []error
	for _, id := range f.stopped {
		errs = append(errs, startAgain(ctx, env, id, id))
	}
	f.stopped = nil
	return errors.Join(errs...)
}

// Wait implements Fault: it waits for PostgreSQL when it was the target and was
// stopped (a damaged cluster may fail to come back: that is the finding).
func (f *CorruptFile) Wait(ctx context.Context, env *Env) error {
	if f.Volume == Postgres && f.Stopped {
		return env.ready(ctx, Postgres)
	}
	return nil
}

// Detail implements Detailer.
func (f *CorruptFile) Detail() string {
	if f.vol.Name == "" {
		return ""
	}
	state := "running"
	if f.Stopped {
		state = "stopped"
	}
	return fmt.Sprintf("volume %s (users %s): %s", f.vol.Name, state, describeOps(f.ops))
}

// Ops returns what Inject did, file by file, for tests and reports.
func (f *CorruptFile) Ops() []string {
	out := make([]string, len(f.ops))
	for i, o := range f.ops {
		out[i] = o.String()
	}
	return out
}

// Paths returns the files Inject damaged, each once.
func (f *CorruptFile) Paths() []string { return opPaths(f.ops) }

// LoseDomain destroys every volume of the run in a failure domain, as when the
// SAN behind it is lost: the containers that use those volumes (the database,
// its keeper, anything else) are removed first, then the volumes. It refuses to
// start when any such container is not the run's. Nothing comes back without a
// restore from storage in another domain.
type LoseDomain struct {
	Domain     string
	volumes    []string
	containers []string
}

func newLoseDomain(spec Spec) (Fault, error) {
	t, _ := target(spec, stack.DomainSANA, "a failure domain")
	if err := newParams(spec).done(); err != nil {
		return nil, err
	}
	return &LoseDomain{Domain: t}, nil
}

// Name implements Fault.
func (f *LoseDomain) Name() string { return "lose-domain" }

// Target implements Fault.
func (f *LoseDomain) Target() string { return f.Domain }

// Permanent implements Permanent.
func (f *LoseDomain) Permanent() bool { return true }

// Inject implements Fault.
func (f *LoseDomain) Inject(ctx context.Context, env *Env) error {
	vols, err := env.Run.Volumes(ctx, f.Domain)
	if err != nil {
		return err
	}
	if len(vols) == 0 {
		return fmt.Errorf("lose domain %s: the run has no volume in it", f.Domain)
	}
	// Check everything before destroying anything.
	seen := map[string]bool{}
	var victims []string
	var names []string
	for _, v := range vols {
		cs, err := env.containersUsing(ctx, v.Name)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if !env.Run.Owns(c.Labels) {
				return fmt.Errorf("lose domain %s: volume %s is used by container %s, which is %w %s: refusing to remove it",
					f.Domain, v.Name, strings.TrimPrefix(firstName(c.Names), "/"), ErrNotOwned, env.Run.ID)
			}
			if !seen[c.ID] {
				seen[c.ID] = true
				victims = append(victims, c.ID)
				names = append(names, strings.TrimPrefix(firstName(c.Names), "/"))
			}
		}
	}
	for i, id := range victims {
		if _, err := env.Run.Docker.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
			return fmt.Errorf("lose domain %s: remove container %s: %w", f.Domain, names[i], err)
		}
	}
	f.containers = names
	f.volumes = nil
	for _, v := range vols {
		if err := removeVolume(ctx, env, v.Name); err != nil {
			return fmt.Errorf("lose domain %s: %w", f.Domain, err)
		}
		f.volumes = append(f.volumes, v.Name)
	}
	return nil
}

// removeVolume removes a volume, retrying briefly while Docker still counts a
// just-removed container as its user.
func removeVolume(ctx context.Context, env *Env, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := retry.Until(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		_, err := env.Run.Docker.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true})
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// Recover implements Fault: nothing comes back without a restore.
func (f *LoseDomain) Recover(ctx context.Context, env *Env) error { return nil }

// Wait implements Fault.
func (f *LoseDomain) Wait(ctx context.Context, env *Env) error { return nil }

// Detail implements Detailer.
func (f *LoseDomain) Detail() string {
	return fmt.Sprintf("removed containers [%s] and volumes [%s]", strings.Join(f.containers, " "), strings.Join(f.volumes, " "))
}

// Removed returns the volumes Inject destroyed.
func (f *LoseDomain) Removed() []string { return append([]string(nil), f.volumes...) }
