package backup

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firedrill/firedrill/harness/backup/wal"
	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// artifactMount is where helper containers mount a backup volume.
const artifactMount = "/backup"

// The layout of a backup agent's volume.
const (
	baseDir = "base" // one directory per base backup
	walDir  = "wal"  // pg_receivewal's archive
	dumpDir = "dumps"
)

// Session is a strategy at work on one primary: its agents, its catalogue, and
// the operations a scenario calls (Backup, RestorePoint, Verify, Stop). It is safe
// for concurrent use; backups are taken one at a time.
type Session struct {
	strategy Strategy
	run      *stack.Run
	pg       *stack.Postgres
	opts     options

	agent    *toolbox                        // base-backup strategies: the backup agent
	receiver *testcontainers.DockerContainer // WAL strategies: pg_receivewal

	backupMu sync.Mutex // one backup at a time
	mu       sync.Mutex
	cat      Catalog
	seq      int
	stopped  bool
}

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
	if _, err := runIn(ctx, ss.pg.Container, "postgres", nil, `mkdir -p "$1"`, ss.path(dumpDir)); err != nil {
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
	ss.agent, err = startToolbox(ctx, ss.run, toolboxSpec{
		name: ss.pg.Network + "-" + s.Name + "-agent", network: ss.pg.Network, alias: s.Name + "-agent",
		role: "backup", mounts: []mount.Mount{vol.Mount(artifactMount, false)},
	})
	if err != nil {
		return err
	}
	if _, err := ss.agent.run(ctx, "", nil, `install -d -o postgres -g postgres -m 0700 "$1" "$1/base" "$1/wal"`, artifactMount); err != nil {
		return fmt.Errorf("prepare backup volume: %w", err)
	}
	if !s.WAL {
		return nil
	}
	slot := "firedrill_" + strings.ReplaceAll(s.Name, "-", "_")
	ss.cat.WAL = &WALArchive{Path: walDir, Slot: slot, ApplicationName: slot, Synchronous: s.Synchronous}
	if _, err := ss.agent.run(ctx, "postgres", ss.replEnv(), `pg_receivewal --create-slot --if-not-exists --slot="$1" --dbname="$2" --no-password`,
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
			return false, &fatalError{fmt.Errorf("pg_receivewal exited (code %d): %s", st.ExitCode, logTail(ctx, ss.run, ss.receiver.GetContainerID(), 8))}
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

// Catalog returns a copy of the session's catalogue.
func (ss *Session) Catalog() Catalog {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.cat.clone()
}

// Strategy returns the session's strategy.
func (ss *Session) Strategy() Strategy { return ss.strategy }

// artifactCtr is the container that holds the backup volume read-write.
func (ss *Session) artifactCtr() *testcontainers.DockerContainer {
	if ss.strategy.SameVolume {
		return ss.pg.Container
	}
	return ss.agent.ctr
}

// path returns where rel (relative to the backup volume's root) is inside the
// artifact container.
func (ss *Session) path(rel string) string {
	if ss.strategy.SameVolume {
		return path.Join(stack.DataDir, rel)
	}
	return path.Join(artifactMount, rel)
}

// saveCatalog writes the catalogue beside the backups.
func (ss *Session) saveCatalog(ctx context.Context) error {
	ss.mu.Lock()
	ss.cat.Updated = time.Now().UTC()
	b, err := ss.cat.Encode()
	ss.mu.Unlock()
	if err != nil {
		return err
	}
	user := "postgres"
	if err := writeFileIn(ctx, ss.artifactCtr(), user, ss.path(path.Join(ss.cat.Dir, CatalogFile)), b); err != nil {
		return fmt.Errorf("save catalogue: %w", err)
	}
	return nil
}

// Backup takes a backup now: a base backup by pg_basebackup (with a SHA-256
// manifest; -X none when WAL is archived, which the archive supplies, -X stream
// otherwise so that the backup restores on its own), or a pg_dump. It returns
// the catalogue entry once the backup is complete (and, with an archive, once
// the archive holds the WAL up to its end).
func (ss *Session) Backup(ctx context.Context) (Entry, error) {
	ss.backupMu.Lock()
	defer ss.backupMu.Unlock()
	ss.mu.Lock()
	if ss.stopped {
		ss.mu.Unlock()
		return Entry{}, fmt.Errorf("back up %s: the session is stopped", ss.strategy.Name)
	}
	ss.seq++
	n := ss.seq
	ss.mu.Unlock()
	end := ss.opts.timeline.Begin(timeline.Backup, string(ss.strategy.Method), ss.strategy.Name)
	var e Entry
	var err error
	if ss.strategy.Method == MethodDump {
		e, err = ss.dump(ctx, n)
	} else {
		e, err = ss.baseBackup(ctx, n)
	}
	if err != nil {
		end("failed: " + err.Error())
		return Entry{}, fmt.Errorf("back up %s: %w", ss.strategy.Name, err)
	}
	if ss.opts.verifyEach {
		e.Verification = ss.verify(ctx, e)
	}
	ss.mu.Lock()
	ss.cat.Backups = append(ss.cat.Backups, e)
	ss.mu.Unlock()
	if err := ss.saveCatalog(ctx); err != nil {
		end("failed: " + err.Error())
		return e, fmt.Errorf("back up %s: %w", ss.strategy.Name, err)
	}
	end(fmt.Sprintf("%s, %d bytes", e.ID, e.Size))
	return e, nil
}

var (
	manifestRange = regexp.MustCompile(`"Timeline":\s*(\d+),\s*"Start-LSN":\s*"([0-9A-F/]+)",\s*"End-LSN":\s*"([0-9A-F/]+)"`)
	controlLine   = regexp.MustCompile(`(?m)^(Database system identifier|Bytes per WAL segment):\s+(\d+)$`)
)

const baseBackupScript = `
dir="$1/$2"; tmp="$dir.partial"
rm -rf "$tmp"
pg_basebackup --dbname="$3" --pgdata="$tmp" --wal-method="$4" --manifest-checksums=SHA256 \
	--checkpoint=fast --label="$2" --no-password
mv "$tmp" "$dir"
du -sb "$dir" | cut -f1
sed -n '/"WAL-Ranges"/,/]/p' "$dir/backup_manifest"
pg_controldata "$dir"
`

func (ss *Session) baseBackup(ctx context.Context, n int) (Entry, error) {
	start := time.Now().UTC()
	e := Entry{ID: fmt.Sprintf("base-%03d-%s", n, start.Format("20060102T150405Z")), Method: MethodBase, Start: start}
	e.Path = path.Join(baseDir, e.ID)
	walMethod := "stream"
	if ss.strategy.WAL {
		walMethod = "none"
	}
	e.WALIncluded = walMethod == "stream"
	out, err := ss.agent.run(ctx, "postgres", ss.replEnv(), baseBackupScript,
		ss.path(baseDir), e.ID, ss.replConnString("firedrill_basebackup"), walMethod)
	if err != nil {
		return Entry{}, fmt.Errorf("pg_basebackup: %w", err)
	}
	e.Stop = time.Now().UTC()
	if err := parseBaseBackupReport(out, &e); err != nil {
		return Entry{}, err
	}
	if ss.strategy.WAL {
		if err := ss.waitArchived(ctx, e.StopLSN); err != nil {
			return Entry{}, err
		}
	}
	e.Verification = Verification{Status: Unverified}
	return e, nil
}

// parseBaseBackupReport reads what baseBackupScript printed: the size, the
// manifest's WAL range and pg_controldata's output.
func parseBaseBackupReport(out string, e *Entry) error {
	first, rest, _ := strings.Cut(out, "\n")
	size, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	if err != nil {
		return fmt.Errorf("read backup size %q: %w", first, err)
	}
	e.Size = size
	m := manifestRange.FindStringSubmatch(rest)
	if m == nil {
		return fmt.Errorf("read backup manifest: no WAL range in %q", tail(rest, 3))
	}
	tli, _ := strconv.ParseUint(m[1], 10, 32)
	e.Timeline = uint32(tli)
	if e.StartLSN, err = wal.ParseLSN(m[2]); err != nil {
		return fmt.Errorf("read backup manifest: %w", err)
	}
	if e.StopLSN, err = wal.ParseLSN(m[3]); err != nil {
		return fmt.Errorf("read backup manifest: %w", err)
	}
	for _, c := range controlLine.FindAllStringSubmatch(rest, -1) {
		switch c[1] {
		case "Database system identifier":
			e.SystemID = c[2]
		case "Bytes per WAL segment":
			e.SegmentSize, _ = strconv.ParseUint(c[2], 10, 64)
		}
	}
	if e.SegmentSize == 0 {
		return fmt.Errorf("read pg_controldata of the backup: no WAL segment size")
	}
	return nil
}

const dumpScript = `
f="$1/$2.dump"
pg_dump --format=custom --dbname="$3" --file="$f.partial"
mv "$f.partial" "$f"
stat -c %s "$f"
sha256sum "$f" | cut -d' ' -f1
psql -AtX --dbname="$3" -c 'SELECT pg_current_wal_lsn()'
`

// dump runs pg_dump inside the primary's own container, onto its own volume:
// the set-up the strategy rehearses.
func (ss *Session) dump(ctx context.Context, n int) (Entry, error) {
	start := time.Now().UTC()
	e := Entry{ID: fmt.Sprintf("dump-%03d-%s", n, start.Format("20060102T150405Z")), Method: MethodDump, Start: start}
	e.Path = path.Join(dumpDir, e.ID+".dump")
	out, err := runIn(ctx, ss.pg.Container, "postgres", nil, dumpScript, ss.path(dumpDir), e.ID, ss.pg.Database)
	if err != nil {
		return Entry{}, fmt.Errorf("pg_dump: %w", err)
	}
	e.Stop = time.Now().UTC()
	lines := strings.Fields(out)
	if len(lines) != 3 {
		return Entry{}, fmt.Errorf("read dump report: want size, checksum and position, got %q", out)
	}
	if e.Size, err = strconv.ParseInt(lines[0], 10, 64); err != nil {
		return Entry{}, fmt.Errorf("read dump size: %w", err)
	}
	e.SHA256 = lines[1]
	if e.StopLSN, err = wal.ParseLSN(lines[2]); err != nil {
		return Entry{}, fmt.Errorf("read dump position: %w", err)
	}
	e.Verification = Verification{Status: Unverified}
	return e, nil
}

// RestorePoint creates a named restore point on the primary
// (pg_create_restore_point), waits until the archive holds it (with WAL
// archiving), and records it in the catalogue. Names are unique per catalogue.
func (ss *Session) RestorePoint(ctx context.Context, name string) (RestorePoint, error) {
	if name == "" || len(name) >= 64 {
		return RestorePoint{}, fmt.Errorf("create restore point %q: want a name of 1 to 63 bytes", name)
	}
	ss.mu.Lock()
	_, dup := ss.cat.FindRestorePoint(name)
	stopped := ss.stopped
	ss.mu.Unlock()
	if dup {
		return RestorePoint{}, fmt.Errorf("create restore point %q: the catalogue has one of that name already; recovery would stop at the first", name)
	}
	if stopped {
		return RestorePoint{}, fmt.Errorf("create restore point %q: the session is stopped", name)
	}
	end := ss.opts.timeline.Begin(timeline.Backup, "restore-point", name)
	var rp RestorePoint
	var at string
	err := ss.query(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT pg_create_restore_point($1)::text, clock_timestamp()`, name).Scan(&at, &rp.Time)
	})
	if err == nil {
		rp.Name = name
		rp.Time = rp.Time.UTC()
		rp.LSN, err = wal.ParseLSN(at)
	}
	if err == nil && ss.cat.WAL != nil {
		err = ss.waitArchived(ctx, rp.LSN)
	}
	if err != nil {
		end("failed: " + err.Error())
		return RestorePoint{}, fmt.Errorf("create restore point %q: %w", name, err)
	}
	ss.mu.Lock()
	ss.cat.RestorePoints = append(ss.cat.RestorePoints, rp)
	ss.mu.Unlock()
	if err := ss.saveCatalog(ctx); err != nil {
		end("failed: " + err.Error())
		return rp, fmt.Errorf("create restore point %q: %w", name, err)
	}
	end(rp.LSN.String())
	return rp, nil
}

// Verify checks a backup now, as a restore would (see Restore), records the
// outcome in the catalogue and returns it.
func (ss *Session) Verify(ctx context.Context, id string) (Verification, error) {
	ss.mu.Lock()
	e, ok := ss.cat.Find(id)
	ss.mu.Unlock()
	if !ok {
		return Verification{}, fmt.Errorf("verify backup %q: not in the catalogue", id)
	}
	v := ss.verify(ctx, e)
	ss.mu.Lock()
	for i := range ss.cat.Backups {
		if ss.cat.Backups[i].ID == id {
			ss.cat.Backups[i].Verification = v
		}
	}
	ss.mu.Unlock()
	if err := ss.saveCatalog(ctx); err != nil {
		return v, fmt.Errorf("verify backup %q: %w", id, err)
	}
	return v, nil
}

func (ss *Session) verify(ctx context.Context, e Entry) Verification {
	ss.mu.Lock()
	cat := ss.cat.clone()
	ss.mu.Unlock()
	chk := checker{ctr: ss.artifactCtr(), root: ss.path(""), cat: cat}
	var err error
	if e.Method == MethodDump {
		err = chk.verifyDump(ctx, e)
	} else {
		_, err = chk.verifyBase(ctx, e)
	}
	v := Verification{Status: Good, At: time.Now().UTC()}
	if err != nil {
		v.Status, v.Reason = Bad, err.Error()
	}
	return v
}

// Stop ends the session: it takes the archive out of synchronous_standby_names
// (else the primary would wait for it forever), drops the slot, stops
// pg_receivewal (which flushes what it has) and removes the agents. The backup
// volume and its catalogue stay. A primary that is gone is skipped. Stop is safe
// to call more than once.
func (ss *Session) Stop(ctx context.Context) error {
	ss.mu.Lock()
	if ss.stopped {
		ss.mu.Unlock()
		return nil
	}
	ss.stopped = true
	ss.mu.Unlock()
	var errs []error
	if ss.cat.WAL != nil && primaryRunning(ctx, ss.pg) {
		qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := ss.query(qctx, func(c *pgx.Conn) error {
			if ss.cat.WAL.Synchronous {
				if _, err := c.Exec(qctx, `ALTER SYSTEM RESET synchronous_standby_names`); err != nil {
					return err
				}
				if _, err := c.Exec(qctx, `SELECT pg_reload_conf()`); err != nil {
					return err
				}
			}
			return nil
		})
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("reset synchronous_standby_names: %w", err))
		}
	}
	if ss.receiver != nil {
		timeout := 10 * time.Second
		if err := ss.receiver.Stop(ctx, &timeout); err != nil {
			errs = append(errs, fmt.Errorf("stop pg_receivewal: %w", err))
		}
	}
	if ss.cat.WAL != nil && primaryRunning(ctx, ss.pg) {
		qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := ss.query(qctx, func(c *pgx.Conn) error {
			_, err := c.Exec(qctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, ss.cat.WAL.Slot)
			return err
		})
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("drop replication slot: %w", err))
		}
	}
	if ss.agent != nil || ss.strategy.SameVolume && primaryRunning(ctx, ss.pg) {
		if err := ss.saveCatalog(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if ss.receiver != nil {
		if err := ss.receiver.Terminate(ctx); err != nil {
			errs = append(errs, fmt.Errorf("remove pg_receivewal container: %w", err))
		}
	}
	if err := ss.agent.terminate(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop backups %s: %w", ss.strategy.Name, err)
	}
	return nil
}

// primaryRunning reports whether the primary's container still runs.
func primaryRunning(ctx context.Context, pg *stack.Postgres) bool {
	st, err := pg.Container.State(ctx)
	return err == nil && st.Running
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// poll calls fn every interval until it reports done, returns an error, or the
// timeout passes.
func poll(ctx context.Context, timeout, interval time.Duration, fn func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		done, err := fn(ctx)
		if done && err == nil {
			return nil
		}
		if err != nil {
			var fatal *fatalError
			if errors.As(err, &fatal) {
				return fatal.err
			}
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// fatalError stops a poll at once.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
