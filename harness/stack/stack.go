package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Stack is the reference system under test: PostgreSQL with its data in san-a and
// syncd in front of it, on a private network of their own.
type Stack struct {
	Run     *Run
	Network string
	// Postgres and Syncd are the stack's components. A storage migration
	// replaces Postgres while other faults may read it: code that runs beside
	// faults reads it with CurrentPostgres, and replaces it with SetPostgres.
	Postgres *Postgres
	Syncd    *Syncd
	// Proxy is the fault proxy between the phones, syncd and PostgreSQL, when
	// the stack was started WithProxy; nil otherwise.
	Proxy *Proxy
	// StartupTime is how long Start took, from creating the network to syncd healthy.
	StartupTime time.Duration

	mu sync.RWMutex // guards Postgres and Syncd against a concurrent switch
}

// CurrentPostgres returns the stack's PostgreSQL now; nil on a nil stack.
func (s *Stack) CurrentPostgres() *Postgres {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.Postgres
}

// CurrentSyncd returns the stack's syncd now; nil on a nil stack.
func (s *Stack) CurrentSyncd() *Syncd {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.Syncd
}

// SetPostgres replaces the stack's PostgreSQL, e.g. after a storage migration
// moved it to another volume (Postgres.MoveTo).
func (s *Stack) SetPostgres(p *Postgres) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Postgres = p
}

// Option configures Start.
type Option func(*config)

type config struct {
	name      string
	postgres  []PostgresOption
	syncd     []SyncdOption
	proxy     bool
	proxyOpts []ProxyOption
}

// WithName distinguishes stacks of one run, e.g. "primary" and "restored" (default "stack").
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithPostgres passes options to the stack's PostgreSQL.
func WithPostgres(opts ...PostgresOption) Option {
	return func(c *config) { c.postgres = append(c.postgres, opts...) }
}

// WithSyncd passes options to the stack's syncd.
func WithSyncd(opts ...SyncdOption) Option {
	return func(c *config) { c.syncd = append(c.syncd, opts...) }
}

// WithProxy puts the fault proxy in the stack: it starts once PostgreSQL is
// ready, syncd reaches the database through it, and phones can reach syncd
// through it (Proxy.SyncdURL).
func WithProxy(opts ...ProxyOption) Option {
	return func(c *config) { c.proxy, c.proxyOpts = true, append(c.proxyOpts, opts...) }
}

// Start creates a network, starts PostgreSQL and syncd on it and waits until syncd
// reports healthy. On error, what was made stays labelled with the run, for
// Run.Close to remove.
func Start(ctx context.Context, run *Run, opts ...Option) (*Stack, error) {
	cfg := config{name: "stack"}
	for _, o := range opts {
		o(&cfg)
	}
	start := time.Now()
	s := &Stack{Run: run}
	var err error
	if s.Network, err = run.CreateNetwork(ctx, cfg.name); err != nil {
		return nil, err
	}
	if s.Postgres, err = RunPostgres(ctx, run, s.Network, cfg.postgres...); err != nil {
		return s, err
	}
	dsn := s.Postgres.InternalDSN()
	if cfg.proxy {
		opts := append([]ProxyOption{WithProxyPostgresUpstream(net.JoinHostPort(s.Postgres.Alias, "5432"))}, cfg.proxyOpts...)
		if s.Proxy, err = RunProxy(ctx, run, s.Network, opts...); err != nil {
			return s, fmt.Errorf("route syncd to the database through the proxy: %w", err)
		}
		dsn = s.Postgres.dsnAt(s.Proxy.DatabaseAddr())
	}
	if s.Syncd, err = RunSyncd(ctx, run, s.Network, dsn, cfg.syncd...); err != nil {
		return s, err
	}
	s.StartupTime = time.Since(start)
	return s, nil
}

// URL returns syncd's base URL as reached from this process.
func (s *Stack) URL(ctx context.Context) (string, error) { return s.Syncd.URL(ctx) }

// networkSuffix returns the part of a network name after the run id, plus a dash,
// so that volumes of different stacks of one run get different names.
func networkSuffix(run *Run, networkName string) string {
	if rest, ok := strings.CutPrefix(networkName, run.ID+"-"); ok {
		return rest + "-"
	}
	return ""
}

// randomSecret returns a fresh password or token. Secrets are not data, so they do
// not come from the run's seed.
func randomSecret() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("read random: %v", err)) // the OS random source never fails on Linux
	}
	return hex.EncodeToString(b[:])
}
