package fault

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"
)

func init() {
	builtin(Entry{Name: "botched-schema-migration", Summary: "upgrade syncd with a migration that mangles items and commits: contacts lose photos, notes are truncated, times shift zone", New: newSchemaMigration})
}

// schemaBotchSQL holds the damage, one statement per "-- botch: name" section.
//
//go:embed schema_botch.sql
var schemaBotchSQL string

var botchHeader = regexp.MustCompile(`(?m)^-- botch: ([a-z0-9-]+)\s*$`)

// schemaBotches parses schema_botch.sql into named statements, in file order.
func schemaBotches() ([]string, map[string]string) {
	locs := botchHeader.FindAllStringSubmatchIndex(schemaBotchSQL, -1)
	var names []string
	stmts := map[string]string{}
	for i, loc := range locs {
		end := len(schemaBotchSQL)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		name := schemaBotchSQL[loc[2]:loc[3]]
		names = append(names, name)
		stmts[name] = strings.TrimSpace(schemaBotchSQL[loc[1]:end])
	}
	return names, stmts
}

// SchemaBotches lists the kinds of damage the botched schema migration can do,
// in the order it does them: drop-contact-photos, truncate-notes, shift-time-zones.
func SchemaBotches() []string {
	names, _ := schemaBotches()
	return names
}

// SchemaMigration is a syncd upgrade whose schema migration mangles users' data
// and commits: the server is stopped (the old version goes down), the damage runs
// in one committed transaction against syncd's database, and the server starts
// again (the new version). The SQL is in schema_botch.sql. The damage is
// permanent: only a backup from before the upgrade undoes it.
type SchemaMigration struct {
	Service string   // the server whose data is mangled (default syncd); "postgres" runs the SQL without stopping a server
	Botches []string // which damages, default all
	Timeout time.Duration

	affected map[string]int64
	stopped  string
}

func newSchemaMigration(spec Spec) (Fault, error) {
	t, _ := target(spec, Syncd, "syncd (the server upgraded) or postgres (the database only)")
	if t != Syncd && t != Postgres {
		return nil, fmt.Errorf("target %q: want syncd or postgres", t)
	}
	p := newParams(spec)
	all := SchemaBotches()
	f := &SchemaMigration{Service: t, Botches: p.list("botch", all, all...), Timeout: p.duration("timeout", 30*time.Second)}
	if len(f.Botches) == 0 {
		p.errs = append(p.errs, errors.New("parameter botch is empty: name at least one of "+strings.Join(all, ", ")))
	}
	return f, p.done()
}

// Name implements Fault.
func (f *SchemaMigration) Name() string { return "botched-schema-migration" }

// Target implements Fault.
func (f *SchemaMigration) Target() string { return f.Service }

// Permanent implements Permanent.
func (f *SchemaMigration) Permanent() bool { return true }

// Inject implements Fault.
func (f *SchemaMigration) Inject(ctx context.Context, env *Env) error {
	if _, err := env.container(ctx, Postgres); err != nil {
		return err
	}
	if f.Service == Syncd && env.server() != nil {
		c, err := env.container(ctx, Syncd)
		if err != nil {
			return err
		}
		secs := max(int(f.Timeout/time.Second), 1)
		if _, err := env.Run.Docker.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil {
			return fmt.Errorf("stop syncd for the upgrade: %w", err)
		}
		f.stopped = c.ID
	}
	affected, err := runBotches(ctx, env, f.Botches)
	if err != nil {
		return err
	}
	f.affected = affected
	if f.stopped != "" {
		if err := startAgain(ctx, env, Syncd, f.stopped); err != nil {
			return fmt.Errorf("start the upgraded syncd: %w", err)
		}
	}
	return nil
}

// runBotches runs the named damages in one transaction and commits it.
func runBotches(ctx context.Context, env *Env, botches []string) (map[string]int64, error) {
	_, stmts := schemaBotches()
	dsn, err := env.postgres().DSN(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect to syncd's database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	affected := map[string]int64{}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, name := range botches {
			stmt, ok := stmts[name]
			if !ok {
				return fmt.Errorf("no botch named %s", name)
			}
			tag, err := tx.Exec(ctx, stmt)
			if err != nil {
				return fmt.Errorf("botch %s: %w", name, err)
			}
			affected[name] = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("run the botched migration: %w", err)
	}
	return affected, nil
}

// Recover implements Fault: the damage is committed; nothing to undo.
func (f *SchemaMigration) Recover(ctx context.Context, env *Env) error { return nil }

// Wait implements Fault: it waits until the upgraded server serves.
func (f *SchemaMigration) Wait(ctx context.Context, env *Env) error {
	if f.stopped != "" {
		return env.ready(ctx, Syncd)
	}
	return env.ready(ctx, Postgres)
}

// Affected returns how many items each damage changed.
func (f *SchemaMigration) Affected() map[string]int64 {
	out := make(map[string]int64, len(f.affected))
	for k, v := range f.affected {
		out[k] = v
	}
	return out
}

// Detail implements Detailer.
func (f *SchemaMigration) Detail() string {
	names := make([]string, 0, len(f.affected))
	for n := range f.affected {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s: %d items", n, f.affected[n])
	}
	return "committed; " + strings.Join(parts, ", ")
}
