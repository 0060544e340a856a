package backup

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/firedrill/firedrill/harness/backup/wal"
	"github.com/firedrill/firedrill/harness/retry"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// Restore builds a fresh stack from a catalogue's backups and recovers it to the
// target, never touching the stack the backups came from: a new network, a new
// data volume (in failure domain san-a unless WithDataDomain), the backup volume
// mounted read-only.
//
// For base-backup strategies it verifies candidate backups newest first
// (pg_verifybackup against the manifest; with a WAL archive, every segment from
// the backup's start present and readable by pg_waldump to the archive's end, and
// the target within it), skipping each that fails with its reason, copies the
// first good one onto the new volume and starts PostgreSQL on it with
// recovery.signal, a restore_command reading the read-only archive (pg_receivewal's
// partial segment stands in for the newest), the recovery target and
// recovery_target_action=promote. For dump strategies it starts an empty server,
// checks the newest dump's checksum and restores it with pg_restore. Then syncd is
// started on the database (unless WithoutServer) and waited on until healthy.
//
// Each phase is timed (Restored.RTO) and recorded on the timeline given with
// WithTimeline; the caller adds PhaseVerified with Restored.Begin. When there is
// nothing to restore from (no backup taken, or the volume holding them is gone)
// the error matches ErrNothingToRestore; when every candidate fails verification,
// ErrNoUsableBackup. On error the returned *Restored (when not nil) holds the
// attempts and phases so far; what was made stays labelled with the run.
func Restore(ctx context.Context, run *stack.Run, cat Catalog, target Target, opts ...Option) (*Restored, error) {
	o, err := applyOptions("restore", forRestore, opts)
	if err != nil {
		return nil, err
	}
	if err := target.validate(); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := cat.Strategy.Validate(); err != nil {
		return nil, fmt.Errorf("restore: catalogue: %w", err)
	}
	pw := o.password
	if pw == "" {
		pw = cat.Password
	}
	if pw == "" {
		return nil, fmt.Errorf("restore %s: the catalogue carries no password (one read back with LoadCatalog never does): pass WithPassword", cat.Strategy.Name)
	}
	name := o.name
	if name == "" {
		name = fmt.Sprintf("restored-%d", nextSeq())
	}
	tl := o.timeline
	if tl == nil {
		tl = timeline.New()
	}
	r := &Restored{Name: name, Strategy: cat.Strategy.Name, Target: target, tl: tl}
	if _, err := run.Docker.VolumeInspect(ctx, cat.Volume.Name, client.VolumeInspectOptions{}); err != nil {
		if !cerrdefs.IsNotFound(err) {
			return r, fmt.Errorf("restore %s: inspect backup volume %s: %w", cat.Strategy.Name, cat.Volume.Name, err)
		}
		reason := fmt.Sprintf("its backups lived on volume %s in failure domain %s, and that volume is gone", cat.Volume.Name, cat.Volume.Domain)
		if cat.Strategy.SameVolume {
			reason = fmt.Sprintf("its dumps were written onto the database's own volume %s (failure domain %s), which is gone together with the database", cat.Volume.Name, cat.Volume.Domain)
		}
		return r, &NothingToRestoreError{Strategy: cat.Strategy.Name, Reason: reason}
	}
	cands, err := candidates(cat, target)
	if err != nil {
		return r, err
	}
	rs := &restoration{run: run, cat: cat, target: target, opts: o, r: r, password: pw}
	if cat.Strategy.Method == MethodDump {
		err = rs.fromDump(ctx, cands)
	} else {
		err = rs.fromBase(ctx, cands)
	}
	if err != nil {
		return r, err
	}
	return r, nil
}

// restoration is one Restore call at work.
type restoration struct {
	run      *stack.Run
	cat      Catalog
	target   Target
	opts     options
	r        *Restored
	password string
	network  string
	data     stack.Volume
}

// provision makes the restored stack's network and data volume.
func (rs *restoration) provision(ctx context.Context) error {
	var err error
	if rs.network, err = rs.run.CreateNetwork(ctx, rs.r.Name); err != nil {
		return fmt.Errorf("restore %s: %w", rs.cat.Strategy.Name, err)
	}
	if rs.data, err = rs.run.CreateVolume(ctx, rs.r.Name+"-postgres-data", rs.opts.dataDomain); err != nil {
		return fmt.Errorf("restore %s: %w", rs.cat.Strategy.Name, err)
	}
	return nil
}

const copyScript = `
src=$1; pgdata=$2; recovery=$3
[ -f "$src/PG_VERSION" ] || { echo "backup directory $src holds no cluster" >&2; exit 1; }
mkdir -p "$pgdata"
cp -a "$src/." "$pgdata/"
rm -f "$pgdata/backup_manifest" "$pgdata/postmaster.pid"
if [ -f "$pgdata/postgresql.auto.conf" ]; then
	# The primary named its archiver a synchronous standby; the restored server has none.
	sed -i '/^synchronous_standby_names/d' "$pgdata/postgresql.auto.conf"
fi
if [ "$recovery" = yes ]; then touch "$pgdata/recovery.signal"; fi
chown -R postgres:postgres "$(dirname "$pgdata")"
chmod 700 "$pgdata"
`

// restoreCommand copies a segment from the read-only archive; the newest
// segment, still being written when the primary was lost, exists only as
// pg_receivewal's .partial file and is used under its full name.
func restoreCommand(archive string) string {
	return fmt.Sprintf(`f=%s/%%f; if [ -f "$f" ]; then cp "$f" "%%p"; elif [ -f "$f%s" ]; then cp "$f%s" "%%p"; else exit 1; fi`,
		archive, wal.PartialSuffix, wal.PartialSuffix)
}

func (rs *restoration) fromBase(ctx context.Context, cands []Entry) error {
	name := rs.cat.Strategy.Name
	end := rs.r.Begin(PhaseProvision)
	if err := rs.provision(ctx); err != nil {
		end("failed")
		return err
	}
	tb, err := tools.StartBox(ctx, rs.run, tools.BoxSpec{
		Name: rs.network + "-restore", Network: rs.network, Alias: "restore", Role: "restore",
		Mounts: []mount.Mount{rs.cat.Volume.Mount(artifactMount, true), rs.data.Mount(stack.DataDir, false)},
	})
	if err != nil {
		end("failed")
		return fmt.Errorf("restore %s: %w", name, err)
	}
	defer tb.Terminate(context.WithoutCancel(ctx))
	end(fmt.Sprintf("network %s, volume %s (%s)", rs.network, rs.data.Name, rs.data.Domain))

	end = rs.r.Begin(PhaseVerifyBackup)
	chk := checker{ctr: tb.Container, root: artifactMount, cat: rs.cat}
	var pl plan
	chosen, err := rs.firstGood(ctx, cands, end, "backup", func(e Entry) error {
		scan, err := chk.verifyBase(ctx, e)
		if err != nil {
			return err
		}
		if scan == nil {
			pl = planWithoutWAL(e)
			return nil
		}
		pl, err = planWAL(e, scan, rs.target)
		return err
	})
	if err != nil {
		return err
	}
	end(fmt.Sprintf("%s good after %d attempt(s)", chosen.ID, len(rs.r.Attempts)))

	end = rs.r.Begin(PhaseCopy)
	archiveRecovery := rs.cat.WAL != nil && !chosen.WALIncluded
	if _, err := tb.Script(ctx, tools.ExecOptions{}, copyScript, path.Join(artifactMount, chosen.Path), stack.PGData, yesNo(archiveRecovery)); err != nil {
		end("failed")
		return fmt.Errorf("restore %s: copy backup %s: %w", name, chosen.ID, err)
	}
	if err := tb.Terminate(ctx); err != nil {
		end("failed")
		return fmt.Errorf("restore %s: %w", name, err)
	}
	end(fmt.Sprintf("%d bytes from %s", chosen.Size, chosen.ID))

	end = rs.r.Begin(PhaseWALReplay)
	settings := map[string]string{"hot_standby": "off"} // accept connections only once promoted
	pgOpts := []stack.PostgresOption{stack.WithDataVolume(rs.data), stack.WithCredentials(rs.password, rs.cat.Database),
		stack.WithStartupTimeout(rs.opts.replayTimeout)}
	if archiveRecovery {
		settings["restore_command"] = restoreCommand(path.Join(artifactMount, rs.cat.WAL.Path))
		settings["recovery_target_action"] = "promote"
		for k, v := range pl.settings {
			settings[k] = v
		}
		pgOpts = append(pgOpts, stack.WithExtraMount(rs.cat.Volume.Mount(artifactMount, true)))
	}
	pgOpts = append(pgOpts, stack.WithSettings(settings))
	pgOpts = append(pgOpts, rs.opts.postgresOpts...)
	pg, err := stack.RunPostgres(ctx, rs.run, rs.network, pgOpts...)
	if err != nil {
		end("failed")
		return fmt.Errorf("restore %s: recover from %s: %w; the server's log ends: %s", name, chosen.ID, err, logTail(ctx, rs.run, rs.network+"-postgres", 8))
	}
	point, err := waitPromoted(ctx, pg, rs.opts.replayTimeout)
	if err != nil {
		end("failed")
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if point.LSN == 0 {
		point.LSN = chosen.StopLSN
	}
	point.Exact, point.Note = pl.exact, pl.note
	rs.r.Point = point
	end(fmt.Sprintf("replayed to %s (%s)", point.LSN, pl.note))
	return rs.service(ctx, pg)
}

// planWithoutWAL: a backup carrying its own WAL recovers to its own end only.
func planWithoutWAL(e Entry) plan {
	return plan{exact: false, note: fmt.Sprintf("to the end of backup %s (%s); nothing written after it was backed up", e.ID, e.Stop.Format(time.RFC3339))}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// waitPromoted waits until the server has left recovery and reads where replay
// ended.
func waitPromoted(ctx context.Context, pg *stack.Postgres, timeout time.Duration) (RecoveryPoint, error) {
	var p RecoveryPoint
	dsn, err := pg.DSN(ctx)
	if err != nil {
		return p, err
	}
	err = poll(ctx, timeout, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return false, err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var inRecovery bool
		var lsn *string
		var last *time.Time
		if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp()`).Scan(&inRecovery, &lsn, &last); err != nil {
			return false, err
		}
		if inRecovery {
			return false, nil
		}
		if lsn != nil {
			if p.LSN, err = wal.ParseLSN(*lsn); err != nil {
				return false, retry.Stop(err)
			}
		}
		if last != nil {
			p.LastCommit = last.UTC()
		}
		return true, nil
	})
	if err != nil {
		return p, fmt.Errorf("wait for the restored server to leave recovery: %w", err)
	}
	return p, nil
}

// service starts the stack definition's server on the restored database
// and assembles the stack. The definition's database set-up does not run
// again: what it made (roles, grants) came back with the backup.
func (rs *restoration) service(ctx context.Context, pg *stack.Postgres) error {
	def := rs.opts.def
	if def == nil {
		def = stack.Reference()
	}
	st := &stack.Stack{Run: rs.run, Network: rs.network, Postgres: pg, Def: def}
	rs.r.Stack = st
	if rs.opts.server {
		end := rs.r.Begin(PhaseServiceHealthy)
		sd, err := stack.RunServer(ctx, rs.run, rs.network, def, pg.Vars(net.JoinHostPort(pg.Alias, "5432")), rs.opts.serverOpts...)
		if err != nil {
			end("failed")
			return fmt.Errorf("restore %s: %w", rs.cat.Strategy.Name, err)
		}
		st.Server = sd
		end(def.Name + " ready")
	}
	st.StartupTime = rs.r.RTO().Total
	return nil
}

// firstGood verifies the candidates newest first, records each attempt, and
// returns the first that checks out; what (backup or dump) names them in errors.
// It closes the verify phase with end when nothing is usable.
func (rs *restoration) firstGood(ctx context.Context, cands []Entry, end func(string), what string, check func(Entry) error) (Entry, error) {
	for _, e := range cands {
		err := check(e)
		if ctx.Err() != nil {
			end("cancelled")
			return Entry{}, fmt.Errorf("restore %s: verify %s %s: %w", rs.cat.Strategy.Name, what, e.ID, ctx.Err())
		}
		if err != nil {
			rs.r.Attempts = append(rs.r.Attempts, Attempt{Backup: e.ID, Status: Bad, Reason: err.Error()})
			continue
		}
		rs.r.Attempts = append(rs.r.Attempts, Attempt{Backup: e.ID, Status: Good})
		rs.r.Backup = e
		return e, nil
	}
	end("no usable " + what)
	return Entry{}, &NoUsableBackupError{Strategy: rs.cat.Strategy.Name, Target: rs.target, Attempts: rs.r.Attempts}
}

func (rs *restoration) fromDump(ctx context.Context, cands []Entry) error {
	name := rs.cat.Strategy.Name
	end := rs.r.Begin(PhaseProvision)
	if err := rs.provision(ctx); err != nil {
		end("failed")
		return err
	}
	pgOpts := append([]stack.PostgresOption{stack.WithDataVolume(rs.data), stack.WithCredentials(rs.password, rs.cat.Database),
		stack.WithExtraMount(rs.cat.Volume.Mount(artifactMount, true))}, rs.opts.postgresOpts...)
	pg, err := stack.RunPostgres(ctx, rs.run, rs.network, pgOpts...)
	if err != nil {
		end("failed")
		return fmt.Errorf("restore %s: start an empty server: %w", name, err)
	}
	end(fmt.Sprintf("network %s, volume %s (%s), empty server", rs.network, rs.data.Name, rs.data.Domain))

	end = rs.r.Begin(PhaseVerifyBackup)
	chk := checker{ctr: pg.Container, root: artifactMount, cat: rs.cat}
	chosen, err := rs.firstGood(ctx, cands, end, "dump", func(e Entry) error { return chk.verifyDump(ctx, e) })
	if err != nil {
		return err
	}
	end(chosen.ID + " good")

	end = rs.r.Begin(PhaseCopy)
	if _, err := tools.Script(ctx, pg.Container, tools.ExecOptions{User: "postgres"}, `pg_restore --dbname="$1" --exit-on-error --single-transaction "$2"`,
		rs.cat.Database, path.Join(artifactMount, chosen.Path)); err != nil {
		end("failed")
		return fmt.Errorf("restore %s: pg_restore %s: %w", name, chosen.ID, err)
	}
	end(fmt.Sprintf("pg_restore of %d bytes from %s", chosen.Size, chosen.ID))
	rs.r.Point = RecoveryPoint{LSN: chosen.StopLSN, LastCommit: chosen.Start, Exact: false,
		Note: fmt.Sprintf("the snapshot of dump %s taken at %s; nothing written after it", chosen.ID, chosen.Start.Format(time.RFC3339))}
	return rs.service(ctx, pg)
}

// logTail returns the last n lines a container wrote, for error messages.
func logTail(ctx context.Context, run *stack.Run, idOrName string, n int) string {
	rc, err := run.Docker.ContainerLogs(context.WithoutCancel(ctx), idOrName, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return "(log unreadable: " + err.Error() + ")"
	}
	return tools.Tail(buf.String(), n)
}
