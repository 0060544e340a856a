package populate_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/populate"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// benchEnv reads a positive integer setting of a benchmark, or def.
func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// inflight is how many batches are sent (or copied) at once: one per core.
const inflight = 2

// cpuMeter reads the CPU counters of the stack's syncd and PostgreSQL.
type cpuMeter struct {
	st *stack.Stack
}

func (m cpuMeter) read(b *testing.B) (syncd, pg time.Duration) {
	b.Helper()
	ctx := context.Background()
	var err error
	if syncd, err = stack.ContainerCPU(ctx, m.st.Run.Docker, m.st.Server.Container.GetContainerID()); err != nil {
		b.Fatal(err)
	}
	if pg, err = stack.ContainerCPU(ctx, m.st.Run.Docker, m.st.Postgres.Container.GetContainerID()); err != nil {
		b.Fatal(err)
	}
	return syncd, pg
}

// parallel runs job(i) for i in [0, n) with inflight workers and returns the
// first error.
func parallel(n int, job func(i int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := job(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// restingItems is the resting data of a user of the profile: version 0 of
// every item its plan creates, placed in the reference layout.
func restingItems(b *testing.B, g *gen.Generator, user string) []populate.Item {
	b.Helper()
	plan := g.Plan(user)
	var out []populate.Item
	for _, k := range model.Kinds {
		for i := range plan.Counts[k] {
			it, err := populate.ItemOf(user, g.Item(user, k, i, 0))
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, it)
		}
	}
	return out
}

// BenchmarkImport imports the resting data of users of profile small through
// syncd's bulk import and, in the same run, COPYs the same rows straight into
// the same PostgreSQL (new users of their own, the same bodies, ids, ETags,
// UIDs and sequence numbers precomputed), both with two batches in flight. It
// reports items/s of each, their ratio, and the CPU each costs per item in
// syncd's and PostgreSQL's containers (cgroup counters). For example:
//
//	go test ./harness/populate -run '^$' -bench Import -benchtime 3x
//
// FIREDRILL_BENCH_USERS (default 400) and FIREDRILL_BENCH_BATCH_USERS
// (default 50) size it.
func BenchmarkImport(b *testing.B) {
	st, server := reference(b)
	prof, err := profile.Load("small")
	if err != nil {
		b.Fatal(err)
	}
	g := gen.New(seed, prof)
	users := benchEnv(b, "FIREDRILL_BENCH_USERS", 400)
	perBatch := benchEnv(b, "FIREDRILL_BENCH_BATCH_USERS", 50)
	ctx := context.Background()
	dsn, err := st.Postgres.DSN(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dsn+"&pool_max_conns=2")
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	meter := cpuMeter{st}
	hc := dav.NewHTTPClient(inflight)
	for range b.N {
		b.StopTimer()
		prefix := unique("imp")
		accts := accounts.Generate(users, seed)
		var batches []populate.Batch
		var copies []copyBatch
		items, bodyBytes := 0, int64(0)
		for start := 0; start < users; start += perBatch {
			batch := populate.Batch{ID: fmt.Sprintf("%sb%d", prefix, start), Scheme: populate.SchemeSSHA256}
			var cb copyBatch
			for _, a := range accts[start:min(start+perBatch, users)] {
				name := prefix + a.Username
				its := restingItems(b, g, a.Username)
				batch.Accounts = append(batch.Accounts, accounts.Account{Username: name, Password: a.Password})
				cu := copyUser{name: prefix + "c" + a.Username}
				for _, it := range its {
					bodyBytes += int64(len(it.Body))
					cu.items = append(cu.items, it)
					it.User = name
					batch.Items = append(batch.Items, it)
				}
				cb.users = append(cb.users, cu)
				items += len(its)
			}
			batches, copies = append(batches, batch), append(copies, cb)
		}
		for i := range copies {
			copies[i].prepare()
		}
		b.StartTimer()

		s0, p0 := meter.read(b)
		t0 := time.Now()
		if err := parallel(len(batches), func(i int) error {
			_, err := populate.Import(ctx, hc, server, st.Server.AdminToken, batches[i])
			return err
		}); err != nil {
			b.Fatal(err)
		}
		importTime := time.Since(t0)
		s1, p1 := meter.read(b)
		t1 := time.Now()
		if err := parallel(len(copies), func(i int) error { return copies[i].copy(ctx, pool) }); err != nil {
			b.Fatal(err)
		}
		copyTime := time.Since(t1)
		s2, p2 := meter.read(b)

		n := float64(items)
		importRate, copyRate := n/importTime.Seconds(), n/copyTime.Seconds()
		b.ReportMetric(importRate, "import-items/s")
		b.ReportMetric(copyRate, "copy-items/s")
		b.ReportMetric(importRate/copyRate, "import/copy")
		b.ReportMetric(float64((s1-s0).Microseconds())/n, "import-syncd-µs/item")
		b.ReportMetric(float64((p1-p0).Microseconds())/n, "import-pg-µs/item")
		b.ReportMetric(float64((p2-p1).Microseconds())/n, "copy-pg-µs/item")
		b.Logf("%d users, %d items, %.1f MiB of bodies, %d batches: import %s (%.0f items/s; syncd %s, postgres %s CPU), "+
			"plain COPY %s (%.0f items/s; postgres %s CPU, syncd %s idle); ratio %.2f",
			users, items, float64(bodyBytes)/(1<<20), len(batches), importTime.Round(time.Millisecond), importRate,
			(s1 - s0).Round(time.Millisecond), (p1 - p0).Round(time.Millisecond), copyTime.Round(time.Millisecond), copyRate,
			(p2 - p1).Round(time.Millisecond), (s2 - s1).Round(time.Millisecond), importRate/copyRate)
	}
}

// BenchmarkCreateAccounts creates accounts in bulk (salted SHA-256, their
// default collections) and, in the same run, COPYs the same rows straight
// into PostgreSQL; it reports accounts/s of each and the time a million would
// take at the import's rate. FIREDRILL_BENCH_ACCOUNTS (default 20000) and
// FIREDRILL_BENCH_BATCH_ACCOUNTS (default 5000) size it.
func BenchmarkCreateAccounts(b *testing.B) {
	st, server := reference(b)
	n := benchEnv(b, "FIREDRILL_BENCH_ACCOUNTS", 20000)
	perBatch := benchEnv(b, "FIREDRILL_BENCH_BATCH_ACCOUNTS", 5000)
	ctx := context.Background()
	dsn, err := st.Postgres.DSN(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dsn+"&pool_max_conns=2")
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	meter := cpuMeter{st}
	hc := dav.NewHTTPClient(inflight)
	for range b.N {
		b.StopTimer()
		prefix := unique("acc")
		accts := accounts.Generate(n, seed)
		var batches []populate.Batch
		var copies []copyBatch
		for start := 0; start < n; start += perBatch {
			batch := populate.Batch{ID: fmt.Sprintf("%sb%d", prefix, start), Scheme: populate.SchemeSSHA256}
			var cb copyBatch
			for _, a := range accts[start:min(start+perBatch, n)] {
				batch.Accounts = append(batch.Accounts, accounts.Account{Username: prefix + a.Username, Password: a.Password})
				cb.users = append(cb.users, copyUser{name: prefix + "c" + a.Username})
			}
			batches, copies = append(batches, batch), append(copies, cb)
		}
		for i := range copies {
			copies[i].prepare()
		}
		b.StartTimer()
		s0, p0 := meter.read(b)
		t0 := time.Now()
		if err := parallel(len(batches), func(i int) error {
			_, err := populate.Import(ctx, hc, server, st.Server.AdminToken, batches[i])
			return err
		}); err != nil {
			b.Fatal(err)
		}
		importTime := time.Since(t0)
		s1, p1 := meter.read(b)
		t1 := time.Now()
		if err := parallel(len(copies), func(i int) error { return copies[i].copy(ctx, pool) }); err != nil {
			b.Fatal(err)
		}
		copyTime := time.Since(t1)
		_, p2 := meter.read(b)
		importRate, copyRate := float64(n)/importTime.Seconds(), float64(n)/copyTime.Seconds()
		b.ReportMetric(importRate, "import-accounts/s")
		b.ReportMetric(copyRate, "copy-accounts/s")
		b.ReportMetric(importRate/copyRate, "import/copy")
		b.ReportMetric(1e6/importRate, "s/million")
		b.ReportMetric(float64((s1-s0).Microseconds())/float64(n), "import-syncd-µs/account")
		b.ReportMetric(float64((p1-p0).Microseconds())/float64(n), "import-pg-µs/account")
		b.ReportMetric(float64((p2-p1).Microseconds())/float64(n), "copy-pg-µs/account")
	}
}

// copyUser is a user the plain-COPY baseline writes, with its items.
type copyUser struct {
	name  string
	items []populate.Item
}

// copyBatch is the baseline's equivalent of one import batch: the same rows,
// with everything syncd computes precomputed except the ids, which come from
// the same sequences.
type copyBatch struct {
	users    []copyUser
	hash     string
	colls    [][]string // per user: collection paths beyond the defaults
	rows     [][]any    // item rows without collection_id (filled at copy time)
	collOf   []int      // per item row: index of its collection among its user's
	userOf   []int      // per item row: its user
	seqs     [][]int64  // per user: the sync sequence, then each collection's created_seq and ctag
	defaults int        // how many of a user's collections are the default ones
}

var defaultPaths = []string{"", "contacts", "contacts/default", "calendars", "calendars/default", "photos", "apps"}
var defaultKinds = []string{"home", "home", "addressbook", "home", "calendar", "files", "files"}

// prepare computes the rows: ETags, UIDs, components, stored content types
// and sequence numbers, as syncd would.
func (c *copyBatch) prepare() {
	c.hash = "{SSHA256}" + strings.Repeat("A", 54)
	c.defaults = len(defaultPaths)
	for ui, u := range c.users {
		paths := append([]string{}, defaultPaths...)
		index := map[string]int{}
		for i, p := range paths {
			index[p] = i
		}
		ctag := make([]int64, len(paths))
		created := make([]int64, len(paths))
		seq := int64(0)
		bump := func(p string) {
			for {
				if i, ok := index[p]; ok && (i >= len(defaultKinds) || defaultKinds[i] != "home") {
					ctag[i] = seq
				}
				if p == "" {
					return
				}
				if j := strings.LastIndexByte(p, '/'); j >= 0 {
					p = p[:j]
				} else {
					p = ""
				}
			}
		}
		for _, it := range u.items {
			if _, ok := index[it.Collection]; !ok {
				seq++
				index[it.Collection] = len(paths)
				paths = append(paths, it.Collection)
				ctag, created = append(ctag, seq), append(created, seq)
				bump(it.Collection[:strings.LastIndexByte(it.Collection, '/')])
			}
			seq++
			bump(it.Collection)
			sum := sha256.Sum256(it.Body)
			ctype, comp, uid := it.ContentType, "", ""
			switch {
			case strings.HasPrefix(it.Collection, "contacts"):
				ctype, uid = "text/vcard; charset=utf-8", strings.TrimSuffix(it.Name, ".vcf")
			case strings.HasPrefix(it.Collection, "calendars"):
				ctype, uid, comp = "text/calendar; charset=utf-8", strings.TrimSuffix(it.Name, ".ics"), "VEVENT"
			}
			c.rows = append(c.rows, []any{int64(0), it.Name, ctype, comp, uid, it.Body, int64(len(it.Body)), hex.EncodeToString(sum[:16]), seq, time.Now()})
			c.collOf, c.userOf = append(c.collOf, index[it.Collection]), append(c.userOf, ui)
		}
		c.colls = append(c.colls, paths)
		s := []int64{seq}
		for i := range paths {
			s = append(s, created[i], ctag[i])
		}
		c.seqs = append(c.seqs, s)
	}
}

// copy writes the batch in one transaction with COPY: ids from the
// sequences, then users, collections and items, without per-row foreign-key
// checks, as syncd's import does as a superuser.
func (c *copyBatch) copy(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The same table work as syncd's import, which skips the per-row
		// foreign-key checks when it may (see store.Import).
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		nColls := 0
		for _, p := range c.colls {
			nColls += len(p)
		}
		uids, err := seqIDs(ctx, tx, "users", len(c.users))
		if err != nil {
			return err
		}
		cids, err := seqIDs(ctx, tx, "collections", nColls)
		if err != nil {
			return err
		}
		users := make([][]any, len(c.users))
		var colls [][]any
		base := make([]int, len(c.users))
		k := 0
		for i, u := range c.users {
			users[i] = []any{uids[i], u.name, c.hash, c.seqs[i][0]}
			base[i] = k
			for j, p := range c.colls[i] {
				kind, display, comps := "files", p[strings.LastIndexByte(p, '/')+1:], []string{}
				if j < c.defaults {
					kind, display = defaultKinds[j], ""
					if j == 4 {
						comps = []string{"VEVENT", "VTODO", "VJOURNAL"}
					}
				}
				colls = append(colls, []any{cids[k], uids[i], p, kind, display, comps, c.seqs[i][1+2*j], c.seqs[i][2+2*j]})
				k++
			}
		}
		for r := range c.rows {
			c.rows[r][0] = cids[base[c.userOf[r]]+c.collOf[r]]
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "name", "password_hash", "sync_seq"}, pgx.CopyFromRows(users)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"collections"}, []string{"id", "user_id", "path", "kind", "display_name", "components", "created_seq", "ctag_seq"}, pgx.CopyFromRows(colls)); err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"collection_id", "name", "content_type", "component", "uid", "body", "size", "etag", "seq", "modified_at"}, pgx.CopyFromRows(c.rows))
		return err
	})
}

func seqIDs(ctx context.Context, tx pgx.Tx, table string, n int) ([]int64, error) {
	// Name the sequence once: pg_get_serial_sequence per row costs more than the row.
	var seq string
	if err := tx.QueryRow(ctx, "SELECT pg_get_serial_sequence($1, 'id')", table).Scan(&seq); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, "SELECT nextval($1::regclass) FROM generate_series(1, $2)", seq, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
