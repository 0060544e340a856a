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
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
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

	agent    *tools.Box                      // base-backup strategies: the backup agent
	receiver *testcontainers.DockerContainer // WAL strategies: pg_receivewal

	backupMu sync.Mutex // one backup at a time
	mu       sync.Mutex
	cat      Catalog
	seq      int
	stopped  bool
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
	return ss.agent.Container
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
	if err := tools.WriteFile(ctx, ss.artifactCtr(), user, ss.path(path.Join(ss.cat.Dir, CatalogFile)), b); err != nil {
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
	out, err := ss.agent.Script(ctx, tools.ExecOptions{User: "postgres", Env: ss.replEnv()}, baseBackupScript,
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
		return fmt.Errorf("read backup manifest: no WAL range in %q", tools.Tail(rest, 3))
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
	out, err := tools.Script(ctx, ss.pg.Container, tools.ExecOptions{User: "postgres"}, dumpScript, ss.path(dumpDir), e.ID, ss.pg.Database)
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
	if err := ss.agent.Terminate(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop backups %s: %w", ss.strategy.Name, err)
	}
	return nil
}
