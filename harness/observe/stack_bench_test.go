package observe_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/moby/moby/client"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/engine"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/workload"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }

// benchUsers is how many users of profile small the benchmarks load: a tenth of
// the profile, about 5,000 writes and 4,500 items.
const benchUsers = 100

// loaded is the reference stack with benchUsers users loaded, made once per test
// binary and shared by the benchmarks.
type loaded struct {
	st     *stack.Stack
	server string
	accts  []accounts.Account
	load   workload.Summary
	// loadCPU is this process's CPU time during the load.
	loadCPU time.Duration
	// loadStackCPU is syncd's and PostgreSQL's CPU time during the load.
	loadStackCPU time.Duration
}

var (
	loadOnce sync.Once
	loadErr  error
	ref      loaded
)

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// syscalls is how many read and write system calls this process has made
// (/proc/self/io): a cost that the machine's load does not blur.
func syscalls() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	var n int64
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && (k == "syscr" || k == "syscw") {
			c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			n += c
		}
	}
	return n
}

// stackCPU is the CPU time syncd's and PostgreSQL's containers have used (the
// cgroup counters, through the Docker stats API).
func stackCPU(ctx context.Context, st *stack.Stack) (time.Duration, error) {
	cli, err := engine.Client(ctx)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	var total time.Duration
	for _, id := range []string{st.Server.Container.GetContainerID(), st.Postgres.Container.GetContainerID()} {
		res, err := cli.ContainerStats(ctx, id, client.ContainerStatsOptions{})
		if err != nil {
			return 0, fmt.Errorf("read container stats: %w", err)
		}
		var s struct {
			CPU struct {
				Usage struct {
					Total uint64 `json:"total_usage"`
				} `json:"cpu_usage"`
			} `json:"cpu_stats"`
		}
		err = json.NewDecoder(res.Body).Decode(&s)
		res.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("decode container stats: %w", err)
		}
		total += time.Duration(s.CPU.Usage.Total)
	}
	return total, nil
}

// countingTransport counts the requests that go through it.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func loadReference(b *testing.B) *loaded {
	b.Helper()
	if testing.Short() {
		b.Skip("starts the reference stack in containers")
	}
	loadOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		st, err := stack.Start(ctx, stacktest.Run(b), stack.WithName("observe-bench"))
		if err != nil {
			loadErr = fmt.Errorf("start reference stack: %w", err)
			return
		}
		server, err := st.URL(ctx)
		if err != nil {
			loadErr = err
			return
		}
		prof, err := profile.Load("small")
		if err != nil {
			loadErr = err
			return
		}
		const seed = 1009
		accts := accounts.Generate(benchUsers, seed)
		hc := dav.NewHTTPClient(prof.Concurrency * prof.Devices.Max)
		if err := accounts.Provision(ctx, hc, server, st.Server.AdminToken, accts, 8); err != nil {
			loadErr = err
			return
		}
		dir, err := os.MkdirTemp("", "observe-bench")
		if err != nil {
			loadErr = err
			return
		}
		defer os.RemoveAll(dir)
		lw, err := ledger.Create(filepath.Join(dir, "run.ledger"), time.Now(), ledger.Meta{Seed: seed, Profile: prof.Name, Server: server})
		if err != nil {
			loadErr = err
			return
		}
		stack0, err := stackCPU(ctx, st)
		if err != nil {
			loadErr = err
			return
		}
		cpu0 := processCPU()
		sum, err := workload.Load(ctx, workload.Config{Server: server, Accounts: accts, Profile: prof, Seed: seed, Ledger: lw, HTTPClient: hc})
		cpu := processCPU() - cpu0
		if cerr := lw.Close(); err == nil {
			err = cerr
		}
		if err == nil && (len(sum.UserErrors) > 0 || sum.Failed+sum.Ambiguous > 0) {
			err = fmt.Errorf("%d user errors; %d failed, %d ambiguous", len(sum.UserErrors), sum.Failed, sum.Ambiguous)
		}
		if err != nil {
			loadErr = fmt.Errorf("load: %w", err)
			return
		}
		stack1, err := stackCPU(ctx, st)
		if err != nil {
			loadErr = err
			return
		}
		ref = loaded{st: st, server: server, accts: accts, load: sum, loadCPU: cpu, loadStackCPU: stack1 - stack0}
	})
	if loadErr != nil {
		b.Fatal(loadErr)
	}
	return &ref
}

// BenchmarkLoadCPU reports the harness's CPU per acknowledged write of the
// load that BenchmarkObserveReference reads back (profile small, benchUsers
// users against the reference stack), beside syncd's and PostgreSQL's. The load
// runs once per test binary; each iteration only reports it.
func BenchmarkLoadCPU(b *testing.B) {
	l := loadReference(b)
	for b.Loop() {
	}
	ok := float64(l.load.OK)
	b.ReportMetric(float64(l.loadCPU.Microseconds())/ok, "harness-µs/acked-write")
	b.ReportMetric(float64(l.loadStackCPU.Microseconds())/ok, "stack-µs/acked-write")
	b.ReportMetric(l.load.AckedPerSecond(), "acked-writes/s")
	b.Logf("load: %d users, %d acknowledged writes in %s; harness CPU %s, syncd+PostgreSQL CPU %s",
		l.load.Users, l.load.OK, l.load.Duration.Round(time.Millisecond), l.loadCPU.Round(time.Millisecond), l.loadStackCPU.Round(time.Millisecond))
}

// BenchmarkObserveReference reads every loaded user back from the reference
// stack and reports the harness's CPU per observed item (this process's CPU
// time over the observation), syncd's and PostgreSQL's, and requests per user.
func BenchmarkObserveReference(b *testing.B) {
	l := loadReference(b)
	ctx := context.Background()
	ct := &countingTransport{next: dav.NewHTTPClient(16).Transport}
	hc := &http.Client{Transport: ct}
	var items, users, calls int64
	var harness, stackTime time.Duration
	for b.Loop() {
		s0, err := stackCPU(ctx, l.st)
		if err != nil {
			b.Fatal(err)
		}
		c0, n0 := processCPU(), syscalls()
		obs, err := observe.Observe(ctx, observe.Options{Server: l.server, Accounts: l.accts, HTTPClient: hc})
		harness += processCPU() - c0
		calls += syscalls() - n0
		if err != nil {
			b.Fatal(err)
		}
		s1, err := stackCPU(ctx, l.st)
		if err != nil {
			b.Fatal(err)
		}
		stackTime += s1 - s0
		for _, u := range obs.Users {
			if u.Unreadable != "" || len(u.NotCovered) > 0 {
				b.Fatalf("observe %s: unreadable %q, not covered %v", u.User, u.Unreadable, u.NotCovered)
			}
			items += int64(len(u.Items))
		}
		users += int64(len(obs.Users))
	}
	b.ReportMetric(float64(harness.Microseconds())/float64(items), "harness-µs/item")
	b.ReportMetric(float64(stackTime.Microseconds())/float64(items), "stack-µs/item")
	b.ReportMetric(float64(ct.n.Load())/float64(users), "requests/user")
	b.ReportMetric(float64(items)/float64(users), "items/user")
	b.ReportMetric(float64(calls)/float64(items), "syscalls/item")
}

// BenchmarkCommitBaseline is the floor BenchmarkLoadCPU's stack CPU per write
// stands beside: pgbench-style single-row commits (a 600-byte row each, its
// own transaction, 16 connections) straight into the same PostgreSQL, and
// PostgreSQL's CPU per commit (cgroup counters). It reports the ratio of the
// reference stack's CPU per acknowledged protocol write to it, measured in
// the same run.
func BenchmarkCommitBaseline(b *testing.B) {
	l := loadReference(b)
	ctx := context.Background()
	dsn, err := l.st.Postgres.DSN(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dsn+"&pool_max_conns=16")
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_commit (id bigserial PRIMARY KEY, body bytea NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 600)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	const commits = 5000
	pgID := l.st.Postgres.Container.GetContainerID()
	var pgCPU time.Duration
	var done int64
	for b.Loop() {
		p0, err := stack.ContainerCPU(ctx, l.st.Run.Docker, pgID)
		if err != nil {
			b.Fatal(err)
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= commits {
					if _, err := pool.Exec(ctx, `INSERT INTO bench_commit (body) VALUES ($1)`, body); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		p1, err := stack.ContainerCPU(ctx, l.st.Run.Docker, pgID)
		if err != nil {
			b.Fatal(err)
		}
		pgCPU += p1 - p0
		done += commits
	}
	perCommit := float64(pgCPU.Microseconds()) / float64(done)
	perWrite := float64(l.loadStackCPU.Microseconds()) / float64(l.load.OK)
	b.ReportMetric(perCommit, "pg-µs/commit")
	b.ReportMetric(perWrite/perCommit, "stack-write/commit")
	b.Logf("single-row commits: PostgreSQL %.0f µs of CPU each; a protocol write costs syncd and PostgreSQL %.0f µs (%.2f commits' worth)", perCommit, perWrite, perWrite/perCommit)
}
