package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/backup/wal"
	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/retry"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// Setup starts the strategy on a running primary: for backups in another failure
// domain, a backup agent container (role "backup") on the primary's network with
// a volume of its own in that domain; with WAL archiving, a replication slot and
// pg_receivewal streaming into the archive, and, when synchronous, the primary's
// synchronous_standby_names naming it so that every later acknowledged commit is
// in the archive first. It takes no backup: call Backup.
func (s Strategy) Setup(ctx context.Context, run *stack.Run, pg *stack.Postgres, opts ...Option) (*Session, error) {
	o, err := applyOptions("set up backups", forSetup, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("set up backups: %w", err)
	}
	if run == nil || pg == nil || pg.Container == nil {
		return nil, fmt.Errorf("set up backups %s: need a run and a started primary (stack.RunPostgres or stack.Start)", s.Name)
	}
	ss := &Session{strategy: s, run: run, pg: pg, opts: o}
	ss.cat = Catalog{
		Version: catalogVersion, Strategy: s, Source: pg.Network + "/" + pg.Alias,
		Database: pg.Database, User: pg.User, Password: pg.Password,
		Backups: []Entry{}, RestorePoints: []RestorePoint{},
	}
	if s.SameVolume {
		err = ss.setupSameVolume(ctx)
	} else {
		err = ss.setupAgent(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("set up backups %s: %w", s.Name, err)
	}
	if err := ss.saveCatalog(ctx); err != nil {
		return nil, fmt.Errorf("set up backups %s: %w", s.Name, err)
	}
	return ss, nil
}

func (ss *Session) setupSameVolume(ctx context.Context) error {
	ss.cat.Volume = ss.pg.Data
	ss.cat.Dir = dumpDir
	if _, err := tools.Script(ctx, ss.pg.Container, tools.ExecOptions{User: "postgres"}, `mkdir -p "$1"`, ss.path(dumpDir)); err != nil {
		return fmt.Errorf("make dump directory on the data volume: %w", err)
	}
	return nil
}

// stackName is the part of the primary's network name after the run id.
func (ss *Session) stackName() string {
	return strings.TrimPrefix(ss.pg.Network, ss.run.ID+"-")
}

func (ss *Session) setupAgent(ctx context.Context) error {
	s := ss.strategy
	vol, err := ss.run.CreateVolume(ctx, ss.stackName()+"-"+s.Name+"-backup", s.domain())
	if err != nil {
		return err
	}
	ss.cat.Volume = vol
	ss.agent, err = tools.StartBox(ctx, ss.run, tools.BoxSpec{
		Name: ss.pg.Network + "-" + s.Name + "-agent", Network: ss.pg.Network, Alias: s.Name + "-agent",
		Role: "backup", Mounts: []mount.Mount{vol.Mount(artifactMount, false)},
	})
	if err != nil {
		return err
	}
	if _, err := ss.agent.Script(ctx, tools.ExecOptions{}, `install -d -o postgres -g postgres -m 0700 "$1" "$1/base" "$1/wal"`, artifactMount); err != nil {
		return fmt.Errorf("prepare backup volume: %w", err)
	}
	if !s.WAL {
		return nil
	}
	slot := "firedrill_" + strings.ReplaceAll(s.Name, "-", "_")
	ss.cat.WAL = &WALArchive{Path: walDir, Slot: slot, ApplicationName: slot, Synchronous: s.Synchronous}
	if _, err := ss.agent.Script(ctx, tools.ExecOptions{User: "postgres", Env: ss.replEnv()}, `pg_receivewal --create-slot --if-not-exists --slot="$1" --dbname="$2" --no-password`,
		slot, ss.replConnString(slot)); err != nil {
		return fmt.Errorf("create replication slot %s: %w", slot, err)
	}
	if err := ss.startReceiver(ctx); err != nil {
		return err
	}
	if err := ss.waitStreaming(ctx, 60*time.Second); err != nil {
		return err
	}
	if s.Synchronous {
		if err := ss.makeSynchronous(ctx); err != nil {
			return err
		}
	}
	return nil
}

// replConnString is how the backup programs reach the primary for replication.
func (ss *Session) replConnString(appName string) string {
	return fmt.Sprintf("host=%s port=5432 user=%s application_name=%s connect_timeout=10", ss.pg.Alias, ss.pg.ReplicationUser, appName)
}

func (ss *Session) replEnv() []string { return []string{"PGPASSWORD=" + ss.pg.Password} }

// startReceiver starts pg_receivewal as the main process of a container of its
// own, so that Docker keeps its logs and a stop sends it SIGINT, on which it
// flushes and exits. It retries on its own when the primary goes away.
func (ss *Session) startReceiver(ctx context.Context) error {
	ref, err := images.Ref(images.Postgres)
	if err != nil {
		return err
	}
	w := ss.cat.WAL
	args := []string{"pg_receivewal", "--directory=" + ss.path(walDir), "--slot=" + w.Slot, "--verbose", "--no-password",
		"--dbname=" + ss.replConnString(w.ApplicationName)}
	if w.Synchronous {
		args = append(args, "--synchronous")
	}
	name := ss.pg.Network + "-" + ss.strategy.Name + "-receiver"
	ctr, err := testcontainers.Run(ctx, ref,
		testcontainers.WithName(name),
		testcontainers.WithLabels(ss.run.Labels("backup")),
		tcnetwork.WithNetworkName([]string{ss.strategy.Name + "-receiver"}, ss.pg.Network),
		testcontainers.WithEnv(map[string]string{"PGPASSWORD": ss.pg.Password, "TZ": "UTC"}),
		testcontainers.WithCmd(args...),
		testcontainers.WithConfigModifier(func(c *container.Config) { c.User = "postgres"; c.StopSignal = "SIGINT" }),
		testcontainers.WithHostConfigModifier(func(h *container.HostConfig) {
			h.Mounts = append(h.Mounts, ss.cat.Volume.Mount(artifactMount, false))
		}),
	)
	if ctr != nil {
		ss.run.Track(ctr)
		ss.receiver = ctr
	}
	if err != nil {
		return fmt.Errorf("start pg_receivewal %s: %w", name, err)
	}
	return nil
}

// waitStreaming waits until the primary lists pg_receivewal as a streaming
// replication client.
func (ss *Session) waitStreaming(ctx context.Context, timeout time.Duration) error {
	app := ss.cat.WAL.ApplicationName
	err := poll(ctx, timeout, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		if st, err := ss.receiver.State(ctx); err == nil && !st.Running {
			return false, retry.Stop(fmt.Errorf("pg_receivewal exited (code %d): %s", st.ExitCode, logTail(ctx, ss.run, ss.receiver.GetContainerID(), 8)))
		}
		var state string
		err := ss.query(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT state FROM pg_stat_replication WHERE application_name = $1`, app).Scan(&state)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return state == "streaming", err
	})
	if err != nil {
		return fmt.Errorf("wait for pg_receivewal to stream: %w", err)
	}
	return nil
}

// makeSynchronous names pg_receivewal in synchronous_standby_names (ALTER
// SYSTEM, so that it survives a restart of the primary) and waits until the
// primary treats it as its synchronous standby.
func (ss *Session) makeSynchronous(ctx context.Context) error {
	app := ss.cat.WAL.ApplicationName
	err := ss.query(ctx, func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, `ALTER SYSTEM SET synchronous_standby_names = `+quoteLiteral(`"`+app+`"`)); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `SELECT pg_reload_conf()`)
		return err
	})
	if err != nil {
		return fmt.Errorf("set synchronous_standby_names: %w", err)
	}
	err = poll(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		var state string
		err := ss.query(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT sync_state FROM pg_stat_replication WHERE application_name = $1`, app).Scan(&state)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return state == "sync", err
	})
	if err != nil {
		// Left set, synchronous_standby_names would make every commit wait for
		// a standby that is not there.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		_ = ss.query(rctx, func(c *pgx.Conn) error {
			_, rerr := c.Exec(rctx, `ALTER SYSTEM RESET synchronous_standby_names`)
			if rerr == nil {
				_, rerr = c.Exec(rctx, `SELECT pg_reload_conf()`)
			}
			return rerr
		})
		return fmt.Errorf("wait for the archive to become the synchronous standby: %w", err)
	}
	return nil
}

// SyncState reports how the primary treats the archive: "sync" when every
// acknowledged commit is in it, "async", or "" when pg_receivewal is not
// connected.
func (ss *Session) SyncState(ctx context.Context) (string, error) {
	if ss.cat.WAL == nil {
		return "", fmt.Errorf("read sync state: strategy %s archives no WAL", ss.strategy.Name)
	}
	var state string
	err := ss.query(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT sync_state FROM pg_stat_replication WHERE application_name = $1`, ss.cat.WAL.ApplicationName).Scan(&state)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read sync state: %w", err)
	}
	return state, nil
}

// query runs fn on a fresh superuser connection to the primary (its published
// port changes when it restarts, so none is kept).
func (ss *Session) query(ctx context.Context, fn func(*pgx.Conn) error) error {
	dsn, err := ss.pg.DSN(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, dsn)
	if err != nil {
		return fmt.Errorf("connect primary: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(conn)
}

// waitArchived waits until pg_receivewal has flushed the archive up to lsn.
func (ss *Session) waitArchived(ctx context.Context, lsn wal.LSN) error {
	app := ss.cat.WAL.ApplicationName
	err := poll(ctx, 60*time.Second, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		var flushed string
		err := ss.query(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT flush_lsn::text FROM pg_stat_replication WHERE application_name = $1`, app).Scan(&flushed)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		f, err := wal.ParseLSN(flushed)
		return err == nil && f >= lsn, err
	})
	if err != nil {
		return fmt.Errorf("wait for the archive to reach %s: %w", lsn, err)
	}
	return nil
}
