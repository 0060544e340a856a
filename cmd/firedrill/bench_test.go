package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/workload"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// benchUsers is how many users of profile small the load benchmark writes: a
// fifth of the profile keeps `make bench` to about a minute on 2 cores.
const benchUsers = 200

// BenchmarkLoadThroughput measures firedrill load against the reference stack in
// acknowledged writes per second, beside the rate of writing the same item rows
// straight into the stack's PostgreSQL (same bodies, same concurrency, one
// transaction per write as syncd commits one per request, in a database of its
// own). The ratio is how much of the database's raw write rate survives the
// protocol path: HTTP, auth, DAV parsing, sync bookkeeping.
func BenchmarkLoadThroughput(b *testing.B) {
	st, server := startReference(b)
	prof, err := profile.Load("small")
	if err != nil {
		b.Fatal(err)
	}
	const seed = 4242
	for i := 0; i < b.N; i++ {
		accts := namedAccounts(fmt.Sprintf("bench%d-", i), benchUsers, seed)
		ctx := context.Background()
		hc := dav.NewHTTPClient(prof.Concurrency * prof.Devices.Max)
		if err := accounts.Provision(ctx, hc, server, st.Server.AdminToken, accts, 8); err != nil {
			b.Fatal(err)
		}
		lw, err := ledger.Create(filepath.Join(b.TempDir(), "run.ledger"), time.Now(), ledger.Meta{Seed: seed, Profile: prof.Name, Server: server})
		if err != nil {
			b.Fatal(err)
		}
		sum, err := workload.Load(ctx, workload.Config{Server: server, Accounts: accts, Profile: prof, Seed: seed, Ledger: lw, HTTPClient: hc})
		if cerr := lw.Close(); err == nil {
			err = cerr
		}
		if err != nil || len(sum.UserErrors) > 0 || sum.Failed+sum.Ambiguous > 0 {
			b.Fatalf("load: %v; %d user errors; %d failed, %d ambiguous", err, len(sum.UserErrors), sum.Failed, sum.Ambiguous)
		}
		dsn, err := st.Postgres.DSN(ctx)
		if err != nil {
			b.Fatal(err)
		}
		pgRate, pgWrites, err := postgresBaseline(ctx, dsn, fmt.Sprintf("baseline_%d_%d", os.Getpid(), i), gen.New(seed, prof), accts, sum.Concurrency)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(sum.AckedPerSecond(), "acked-writes/s")
		b.ReportMetric(pgRate, "pg-writes/s")
		b.ReportMetric(sum.AckedPerSecond()/pgRate, "load/pg")
		b.Logf("load: %d acknowledged writes in %s (%.0f/s); PostgreSQL alone: %d writes at %.0f/s; ratio %.3f",
			sum.OK, sum.Duration.Round(time.Millisecond), sum.AckedPerSecond(), pgWrites, pgRate, sum.AckedPerSecond()/pgRate)
	}
}

// baselineWrite is one planned write as a row operation.
type baselineWrite struct {
	coll   int64
	name   string
	ctype  string
	body   []byte
	delete bool
}

// postgresBaseline replays the users' plans as row writes into a fresh database
// on the same server, a table shaped like syncd's items, users in parallel and
// each user's writes in order, and returns writes per second.
func postgresBaseline(ctx context.Context, dsn, dbName string, g *gen.Generator, accts []accounts.Account, concurrency int) (float64, int, error) {
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, 0, fmt.Errorf("connect postgres: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dbName}.Sanitize()); err != nil {
		return 0, 0, fmt.Errorf("create baseline database: %w", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return 0, 0, fmt.Errorf("parse postgres DSN: %w", err)
	}
	u.Path = "/" + dbName
	q := u.Query()
	q.Set("pool_max_conns", fmt.Sprint(concurrency))
	u.RawQuery = q.Encode()
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		return 0, 0, fmt.Errorf("connect baseline database: %w", err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE items (
		collection_id bigint NOT NULL, name text NOT NULL, content_type text NOT NULL,
		body bytea NOT NULL, size bigint NOT NULL, etag text NOT NULL, seq bigint NOT NULL,
		modified_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (collection_id, name))`); err != nil {
		return 0, 0, fmt.Errorf("create baseline table: %w", err)
	}
	// Generate every body first: the baseline times the database alone.
	plans := make([][]baselineWrite, len(accts))
	total := 0
	for i, a := range accts {
		for _, op := range g.Plan(a.Username).Ops {
			w := baselineWrite{coll: int64(i)*8 + int64(op.Kind), name: g.Name(a.Username, op.Kind, op.Index), delete: op.Op == gen.Delete}
			if !w.delete {
				it := g.Item(a.Username, op.Kind, op.Index, op.Version)
				w.ctype, w.body = it.ContentType, it.Body
			}
			plans[i] = append(plans[i], w)
			total++
		}
	}
	var seq atomic.Int64
	var firstErr error
	var mu sync.Mutex
	next := make(chan []baselineWrite)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for plan := range next {
				for _, w := range plan {
					var err error
					if w.delete {
						_, err = pool.Exec(ctx, `DELETE FROM items WHERE collection_id = $1 AND name = $2`, w.coll, w.name)
					} else {
						s := seq.Add(1)
						_, err = pool.Exec(ctx, `INSERT INTO items (collection_id, name, content_type, body, size, etag, seq)
							VALUES ($1, $2, $3, $4, $5, $6, $7)
							ON CONFLICT (collection_id, name) DO UPDATE SET content_type = EXCLUDED.content_type,
							body = EXCLUDED.body, size = EXCLUDED.size, etag = EXCLUDED.etag, seq = EXCLUDED.seq, modified_at = now()`,
							w.coll, w.name, w.ctype, w.body, int64(len(w.body)), fmt.Sprintf(`"%d"`, s), s)
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("baseline write: %w", err)
						}
						mu.Unlock()
						return
					}
				}
			}
		}()
	}
	for _, p := range plans {
		next <- p
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return 0, 0, firstErr
	}
	return float64(total) / elapsed.Seconds(), total, nil
}
