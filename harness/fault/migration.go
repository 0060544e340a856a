package fault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/seed"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

func init() {
	builtin(Entry{Name: "storage-migration", Summary: "move PostgreSQL's storage from its san-a volume to a new san-b volume: stop, copy, verify, switch; botched on request, or with a user's own copy command (the pre-migration rehearsal)", New: newMigration})
}

// The botches a storage migration can suffer; none is the correct procedure.
const (
	// BotchTornCopy copies the data directory while the database runs, without
	// a backup label: files are copied at different moments.
	BotchTornCopy = "torn-copy"
	// BotchSkipFiles silently leaves some relation files out of the copy.
	BotchSkipFiles = "skip-files"
	// BotchBitflip flips bits in relation files on their way to the target.
	BotchBitflip = "bitflip-in-transit"
	// BotchTruncateLargest truncates the largest relation segment in the copy.
	BotchTruncateLargest = "truncate-largest-segment"
	// BotchWipeSourceEarly wipes the source before the target is verified, so
	// there is no way back when verification fails.
	BotchWipeSourceEarly = "wipe-source-early"
)

// MigrationBotches lists every botch.
var MigrationBotches = []string{BotchTornCopy, BotchSkipFiles, BotchBitflip, BotchTruncateLargest, BotchWipeSourceEarly}

// The paths at which a migration's helper, and a user's own command, see the
// volumes: the source (the current data volume) and the target (the new one).
// PostgreSQL's cluster is in the "pg" directory of each (stack.PGData).
const (
	MigrationSource = "/migrate/source"
	MigrationTarget = "/migrate/target"
)

// pgSubdir is the cluster's directory inside the data volume, e.g. "pg".
var pgSubdir = strings.TrimPrefix(stack.PGData, stack.DataDir+"/")

// Migration moves PostgreSQL's storage to a new volume in another failure
// domain with a procedure an operator would follow: stop the database, copy the
// data volume, verify the copy (file checksums against the source, and
// pg_checksums --check on the copy), and switch the database over to it. Botches
// break the procedure the way hurried migrations break: see MigrationBotches.
// Command replaces the copy step with a user's own procedure, run in a container
// with the source at MigrationSource and the target at MigrationTarget: that is
// the pre-migration rehearsal, and the same verification judges its result.
//
// When verification fails the procedure rolls back to the source (the database
// starts again on it); when the source was wiped first there is nothing to roll
// back to, and the database is left down. With Verify off, the database is
// switched onto whatever was copied. Outcome says what happened. The migration
// is permanent: Recover does nothing.
type Migration struct {
	Component string   // postgres
	Botches   []string // see MigrationBotches; none: the correct procedure
	Verify    bool     // verify the copy before switching (an operator in a hurry skips it)
	Domain    string   // the target's failure domain (default san-b)
	Command   []string // the user's own copy procedure, replacing ours
	Image     string   // image for Command (default firedrill/postgres)
	Online    bool     // Command runs while the database runs (on the stack network, with PGHOST etc. set)
	Files     int      // skip-files: how many relation files to leave out
	Bytes     int      // bitflip-in-transit: how many bytes to flip

	outcome MigrationOutcome
	// manifest is the SHA-256 of every file of the source, taken once the
	// database is stopped and before anything may wipe the source: the copy is
	// compared with it, so that a copy cut at a page boundary is caught even
	// when the source is gone (pg_checksums cannot see such a cut).
	manifest string
}

// MigrationOutcome is what a storage migration did and found.
type MigrationOutcome struct {
	Source, Target string   // the data volumes before and after
	Steps          []string // each step with its duration
	Damage         []string // what the botches did to the copy
	Verified       bool     // verification ran and found nothing wrong
	Problems       []string // what verification found
	Switched       bool     // the database now runs on the target
	RolledBack     bool     // verification failed; the database runs on the source again
	SourceWiped    bool
	Down           bool // the database was left down (the source is gone and the copy failed verification, or it did not start on the copy)
}

func newMigration(spec Spec) (Fault, error) {
	t, _ := target(spec, Postgres, "postgres")
	if t != Postgres {
		return nil, fmt.Errorf("target %q: a storage migration moves postgres", t)
	}
	p := newParams(spec)
	f := &Migration{
		Component: t,
		Botches:   p.list("botch", nil, MigrationBotches...),
		Verify:    p.boolean("verify", true),
		Domain:    p.str("domain", stack.DomainSANB),
		Image:     p.str("image", ""),
		Online:    p.boolean("online", false),
		Files:     int(p.integer("files", 2, 1, 1<<20)),
		Bytes:     int(p.integer("bytes", 16, 1, 1<<20)),
	}
	if cmd := p.str("command", ""); cmd != "" {
		f.Command = []string{"bash", "-euo", "pipefail", "-c", cmd}
	}
	if len(f.Command) > 0 && (f.has(BotchTornCopy) || f.has(BotchSkipFiles)) {
		p.errs = append(p.errs, fmt.Errorf("botches %s and %s change our copy step; with a command of your own, botch it yourself", BotchTornCopy, BotchSkipFiles))
	}
	return f, p.done()
}

func (f *Migration) has(botch string) bool { return contains(f.Botches, botch) }

// Name implements Fault.
func (f *Migration) Name() string { return "storage-migration" }

// Target implements Fault.
func (f *Migration) Target() string { return f.Component }

// Permanent implements Permanent.
func (f *Migration) Permanent() bool { return true }

// Outcome returns what the migration did and found.
func (f *Migration) Outcome() MigrationOutcome { return f.outcome }

// step runs one step and records its duration.
func (f *Migration) step(name string, fn func() error) error {
	start := time.Now()
	err := fn()
	s := fmt.Sprintf("%s (%s)", name, time.Since(start).Round(10*time.Millisecond))
	if err != nil {
		s += ": " + err.Error()
	}
	f.outcome.Steps = append(f.outcome.Steps, s)
	return err
}

// Inject implements Fault: it runs the whole migration.
func (f *Migration) Inject(ctx context.Context, env *Env) error {
	f.outcome = MigrationOutcome{}
	old, err := env.container(ctx, Postgres)
	if err != nil {
		return err
	}
	src, err := env.volume(ctx, Postgres)
	if err != nil {
		return err
	}
	domain := f.Domain
	if domain == "" {
		domain = stack.DomainSANB
	}
	if domain == src.Domain {
		return fmt.Errorf("migrate %s: it is already in %s; name another failure domain", src.Name, domain)
	}
	tgt, err := newTargetVolume(ctx, env, src, domain)
	if err != nil {
		return err
	}
	f.outcome.Source, f.outcome.Target = src.Name, tgt.Name
	mounts := []mount.Mount{src.Mount(MigrationSource, false), tgt.Mount(MigrationTarget, false)}
	stop := func() error {
		secs := 60
		if _, err := env.Run.Docker.ContainerStop(ctx, old.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil {
			return err
		}
		return waitStopped(ctx, env, old.ID)
	}
	r := seed.Derive(env.Seed, "storage-migration", strings.Join(f.Botches, ","))

	// 1. Stop (unless the copy runs online) and take the source's manifest,
	// 2. copy.
	f.manifest = ""
	online := f.has(BotchTornCopy) || (len(f.Command) > 0 && f.Online)
	takeManifest := func() error {
		return f.step("record the source's manifest (SHA-256 of every file)", func() error {
			var err error
			f.manifest, err = tools.Bash(ctx, env.Run, mounts, manifestScript, MigrationSource, "S")
			return err
		})
	}
	if !online {
		if err := f.step("stop the database", stop); err != nil {
			return fmt.Errorf("stop postgres: %w", err)
		}
		if err := takeManifest(); err != nil {
			return fmt.Errorf("record the manifest of %s: %w", src.Name, err)
		}
	}
	if len(f.Command) > 0 {
		if err := f.step("run the migration command", func() error { return f.runCommand(ctx, env, mounts) }); err != nil {
			// The command failing is the rehearsal's finding, not ours: go on and verify.
			f.outcome.Problems = append(f.outcome.Problems, "migration command failed: "+err.Error())
		}
	} else {
		var exclude []string
		if f.has(BotchSkipFiles) {
			files, err := listFiles(ctx, env, src)
			if err != nil {
				return err
			}
			for _, fi := range pickFiles(r, dataFiles(files, max(8, f.Files)), f.Files) {
				exclude = append(exclude, fi.Path)
				f.outcome.Damage = append(f.outcome.Damage, "skipped "+fi.Path)
			}
		}
		if err := f.step("copy the data volume", func() error { return copyVolume(ctx, env, mounts, exclude) }); err != nil {
			return fmt.Errorf("copy %s to %s: %w", src.Name, tgt.Name, err)
		}
	}
	if online {
		if err := f.step("stop the database", stop); err != nil {
			return fmt.Errorf("stop postgres: %w", err)
		}
		if err := takeManifest(); err != nil {
			return fmt.Errorf("record the manifest of %s: %w", src.Name, err)
		}
	}
	if err := f.damageCopy(ctx, env, r, tgt); err != nil {
		return err
	}
	if f.has(BotchWipeSourceEarly) {
		if err := f.step("wipe the source", func() error {
			_, err := tools.Bash(ctx, env.Run, mounts, `find "$1" -mindepth 1 -delete`, MigrationSource)
			return err
		}); err != nil {
			return fmt.Errorf("wipe %s: %w", src.Name, err)
		}
		f.outcome.SourceWiped = true
	}

	// 3. Verify.
	if f.Verify {
		// A user's online procedure copies a live database: its files differ
		// from the stopped source's by design, and only recovery and checksums
		// judge it. Any other copy must match the source's manifest.
		compare := !(len(f.Command) > 0 && f.Online)
		what := "verify the copy against the source's manifest, then recover and checksum it"
		if !compare {
			what = "verify the copy (recovery and pg_checksums: an online copy differs from the source by design)"
		}
		_ = f.step(what, func() error {
			problems, err := f.verify(ctx, env, mounts, compare)
			if err != nil {
				problems = append(problems, "verification could not run: "+err.Error())
			}
			f.outcome.Problems = append(f.outcome.Problems, problems...)
			return nil
		})
		f.outcome.Verified = len(f.outcome.Problems) == 0
	}

	// 4. Switch, roll back, or leave the database down.
	switch {
	case !f.Verify || f.outcome.Verified:
		err := f.step("switch the database to the copy", func() error { return switchDatabase(ctx, env, tgt) })
		if err != nil {
			f.outcome.Problems = append(f.outcome.Problems, "PostgreSQL did not start on the copy: "+err.Error())
			f.outcome.Down = true
			return nil
		}
		f.outcome.Switched = true
	case !f.outcome.SourceWiped:
		if err := f.step("roll back to the source", func() error { return startAgain(ctx, env, Postgres, old.ID) }); err != nil {
			return fmt.Errorf("roll back to %s: %w", src.Name, err)
		}
		f.outcome.RolledBack = true
	default:
		f.outcome.Down = true
	}
	return nil
}

// relationFile matches a relation's main fork or one of its 1 GiB segments
// (e.g. 16386, 16386.1), not its free-space or visibility maps.
var relationFile = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// dataFiles returns up to n of the largest relation files of at least one page
// (largest first): where users' rows are.
func dataFiles(files []fileInfo, n int) []fileInfo {
	rel := selectFiles(files, []string{pgSubdir + "/base/*/*"}, func(fi fileInfo) bool {
		return fi.Size >= 8192 && relationFile.MatchString(path.Base(fi.Path))
	})
	sort.Slice(rel, func(i, j int) bool {
		return rel[i].Size > rel[j].Size || (rel[i].Size == rel[j].Size && rel[i].Path < rel[j].Path)
	})
	return rel[:min(len(rel), n)]
}

// newTargetVolume makes a fresh, empty volume for the copy in domain, named
// after the source's role with a migration number ("...-data-migrated-2-san-b").
func newTargetVolume(ctx context.Context, env *Env, src stack.Volume, domain string) (stack.Volume, error) {
	base := src.Role
	if i := strings.Index(base, "-migrated-"); i >= 0 {
		base = base[:i]
	}
	for n := 1; n < 1000; n++ {
		role := fmt.Sprintf("%s-migrated-%d", base, n)
		if _, err := env.Run.Docker.VolumeInspect(ctx, env.Run.Name(role+"-"+domain), client.VolumeInspectOptions{}); err == nil {
			continue // taken: Docker would hand back the old volume with its contents
		}
		return env.Run.CreateVolume(ctx, role, domain)
	}
	return stack.Volume{}, fmt.Errorf("create migration target for %s: 999 targets exist already", src.Name)
}

// copyVolume copies the source volume to the target with rsync, as root,
// keeping owners and modes, leaving out the excluded paths.
func copyVolume(ctx context.Context, env *Env, mounts []mount.Mount, exclude []string) error {
	args := []string{"rsync", "-a", "--delete"}
	for _, e := range exclude {
		args = append(args, "--exclude=/"+e)
	}
	args = append(args, MigrationSource+"/", MigrationTarget+"/")
	res, err := tools.OneShot(ctx, env.Run, tools.Spec{Cmd: args, Mounts: mounts})
	if err != nil {
		return err
	}
	// rsync exits 24 when files vanished during a copy of a running database:
	// the copy is torn, which is the point of the torn-copy botch.
	if res.ExitCode == 24 {
		return nil
	}
	return res.Err()
}

// damageCopy applies the in-transit botches to the target.
func (f *Migration) damageCopy(ctx context.Context, env *Env, r *rand.Rand, tgt stack.Volume) error {
	if !f.has(BotchBitflip) && !f.has(BotchTruncateLargest) {
		return nil
	}
	files, err := listFiles(ctx, env, tgt)
	if err != nil {
		return err
	}
	rel := dataFiles(files, 4)
	if len(rel) == 0 {
		return fmt.Errorf("damage the copy: no relation file of at least one page in %s", tgt.Name)
	}
	var ops []fileOp
	if f.has(BotchBitflip) {
		// Spread the flips over the biggest relation files, where the data is.
		pool := rel
		for range f.Bytes {
			fi := pool[r.IntN(len(pool))]
			ops = append(ops, fileOp{Op: "flip", Path: fi.Path, Offset: r.Int64N(fi.Size), Mask: byte(1 + r.IntN(255))})
		}
	}
	if f.has(BotchTruncateLargest) {
		largest := rel[0]
		for _, fi := range rel {
			if fi.Size > largest.Size || (fi.Size == largest.Size && fi.Path < largest.Path) {
				largest = fi
			}
		}
		ops = append(ops, fileOp{Op: "truncate", Path: largest.Path, Offset: largest.Size / 2 / 8192 * 8192})
	}
	f.outcome.Damage = append(f.outcome.Damage, describeOps(ops))
	return f.step("damage the copy in transit", func() error { return applyFileOps(ctx, env, tgt, ops) })
}

// runCommand runs the user's own migration command with the volumes mounted.
func (f *Migration) runCommand(ctx context.Context, env *Env, mounts []mount.Mount) error {
	pg := env.postgres()
	spec := tools.Spec{
		Image:  f.Image,
		Cmd:    f.Command,
		Mounts: mounts,
		Env: []string{
			"SOURCE=" + MigrationSource, "TARGET=" + MigrationTarget, "PGDATA_SUBDIR=" + pgSubdir,
		},
		Timeout: 30 * time.Minute,
	}
	if f.Online {
		spec.Network = pg.Network
		spec.Env = append(spec.Env, "PGHOST="+pg.Alias, "PGPORT=5432", "PGUSER="+pg.User, "PGPASSWORD="+pg.Password,
			"PGDATABASE="+pg.Database, "PGREPLUSER="+pg.ReplicationUser)
	}
	res, err := tools.OneShot(ctx, env.Run, spec)
	if err != nil {
		return err
	}
	return res.Err()
}

// switchDatabase replaces the stopped PostgreSQL with one on the new data
// volume: the stack's PostgreSQL keeps its own settings (Postgres.MoveTo).
func switchDatabase(ctx context.Context, env *Env, data stack.Volume) error {
	np, err := env.postgres().MoveTo(ctx, data)
	if np != nil && np.Container != nil {
		env.Stack.SetPostgres(np)
	}
	if err != nil {
		return fmt.Errorf("switch the database to volume %s: %w", data.Name, err)
	}
	return nil
}

// Recover implements Fault: a migration is not undone.
func (f *Migration) Recover(ctx context.Context, env *Env) error { return nil }

// Wait implements Fault: it waits for the database unless the migration left it down.
func (f *Migration) Wait(ctx context.Context, env *Env) error {
	if f.outcome.Down {
		return nil
	}
	return env.ready(ctx, Postgres)
}

// Detail implements Detailer.
func (f *Migration) Detail() string {
	o := f.outcome
	var state string
	switch {
	case o.Switched && o.Verified:
		state = "verified and switched"
	case o.Switched:
		state = "switched without verification"
	case o.RolledBack:
		state = "verification failed; rolled back to the source"
	case o.Down:
		state = "database left down"
	}
	parts := []string{fmt.Sprintf("%s -> %s: %s", o.Source, o.Target, state)}
	if len(f.Botches) > 0 {
		parts = append(parts, "botches "+strings.Join(f.Botches, ","))
	}
	if len(o.Steps) > 0 {
		parts = append(parts, "steps: "+strings.Join(o.Steps, ", "))
	}
	if len(o.Damage) > 0 {
		parts = append(parts, "damage: "+strings.Join(o.Damage, ", "))
	}
	if len(o.Problems) > 0 {
		parts = append(parts, "found: "+strings.Join(o.Problems, "; "))
	}
	return strings.Join(parts, "; ")
}
