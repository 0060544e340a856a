// Package stacktest gives Go tests real containers with the cleanup done for them:
// one PostgreSQL container per test binary, a fresh database per test. A test
// package opts in with
//
//	func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }
//
// Main removes the containers when the tests end, also on Ctrl-C; a binary killed
// harder (a timeout's panic) leaves them to the next run's sweeper.
package stacktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/engine"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/jackc/pgx/v5"
)

var (
	mu     sync.Mutex
	inMain bool
	run    *stack.Run
	pg     *stack.Postgres
	nextDB atomic.Int64
)

// Main runs the tests and then removes every container this package started.
func Main(m *testing.M) int {
	mu.Lock()
	inMain = true
	mu.Unlock()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sig:
			fmt.Fprintf(os.Stderr, "stacktest: %v: removing containers\n", s)
			closeRun()
			os.Exit(130)
		case <-done:
		}
	}()
	code := m.Run()
	close(done)
	signal.Stop(sig)
	closeRun()
	return code
}

func closeRun() {
	mu.Lock()
	defer mu.Unlock()
	if run != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := run.Close(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "stacktest: clean up: %v\n", err)
		}
		run = nil
	}
}

// Run returns the test binary's shared run, creating it on first use; containers a
// test starts with it are removed when the binary's tests end.
func Run(t testing.TB) *stack.Run {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !inMain {
		t.Fatal("stacktest: the package's TestMain must call stacktest.Main(m)")
	}
	if run == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r, err := stack.NewRun(ctx)
		if errors.Is(err, engine.ErrUnreachable) {
			t.Skipf("stacktest: skipping a test that needs containers: %v", err)
		}
		if err != nil {
			t.Fatalf("stacktest: %v", err)
		}
		run = r
	}
	return run
}

// RequireDocker skips the test with a message when no Docker Engine answers,
// for tests that need containers but make their own stack.Run.
func RequireDocker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := engine.Client(ctx); errors.Is(err, engine.ErrUnreachable) {
		t.Skipf("skipping a test that needs containers: %v", err)
	}
}

// Postgres returns a connection string to a fresh, empty database in the binary's
// shared PostgreSQL container (firedrill/postgres:15), reachable from the test.
func Postgres(t testing.TB) string {
	t.Helper()
	r := Run(t)
	mu.Lock()
	defer mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if pg == nil {
		nw, err := r.CreateNetwork(ctx, "stacktest")
		if err != nil {
			t.Fatalf("stacktest: %v", err)
		}
		p, err := stack.RunPostgres(ctx, r, nw)
		if err != nil {
			t.Fatalf("stacktest: %v", err)
		}
		pg = p
	}
	dsn, err := pg.DSN(ctx)
	if err != nil {
		t.Fatalf("stacktest: %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("stacktest: connect postgres: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), nextDB.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("stacktest: create database: %v", err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("stacktest: %v", err)
	}
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Password, cfg.Host, cfg.Port, name)
}

// SharedPostgres returns the shared container itself (started by Postgres), for
// tests that must stop or break the database under a server.
func SharedPostgres(t testing.TB) *stack.Postgres {
	t.Helper()
	Postgres(t)
	mu.Lock()
	defer mu.Unlock()
	return pg
}
