package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firedrill/firedrill/harness/stackdef"
)

// Stack is a system under test, started from a stack definition (package
// stackdef): PostgreSQL with its data in san-a (the database role) and a sync
// server in front of it (the server role), on a private network of their own.
// The reference stack is syncd's.
type Stack struct {
	Run     *Run
	Network string
	// Def is the definition the stack was started from.
	Def *stackdef.Definition
	// Postgres and Server are the stack's roles. A storage migration
	// replaces Postgres while other faults may read it: code that runs beside
	// faults reads it with CurrentPostgres, and replaces it with SetPostgres.
	Postgres *Postgres
	Server   *Server
	// Proxy is the fault proxy between the phones, syncd and PostgreSQL, when
	// the stack was started WithProxy; nil otherwise.
	Proxy *Proxy
	// StartupTime is how long Start took, from creating the network to the server ready.
	StartupTime time.Duration

	mu sync.RWMutex // guards Postgres and Server against a concurrent switch
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

// CurrentServer returns the stack's sync server now; nil on a nil stack.
func (s *Stack) CurrentServer() *Server {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.Server
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
	def       *stackdef.Definition
	postgres  []PostgresOption
	server    []ServerOption
	proxy     bool
	proxyOpts []ProxyOption
}

// WithName distinguishes stacks of one run, e.g. "primary" and "restored" (default "stack").
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithPostgres passes options to the stack's PostgreSQL.
func WithPostgres(opts ...PostgresOption) Option {
	return func(c *config) { c.postgres = append(c.postgres, opts...) }
}

// WithDefinition starts the stack of a definition (default the reference
// stack, syncd's).
func WithDefinition(def *stackdef.Definition) Option { return func(c *config) { c.def = def } }

// WithServer passes options to the stack's sync server.
func WithServer(opts ...ServerOption) Option {
	return func(c *config) { c.server = append(c.server, opts...) }
}

// WithProxy puts the fault proxy in the stack: it starts once PostgreSQL is
// ready, the server reaches the database through it, and phones can reach
// the server through it (Proxy.SyncdURL).
func WithProxy(opts ...ProxyOption) Option {
	return func(c *config) { c.proxy, c.proxyOpts = true, append(c.proxyOpts, opts...) }
}

// Start creates a network, starts the definition's database, runs its set-up
// SQL, starts its server on it and waits until the server is ready. On error,
// what was made stays labelled with the run, for Run.Close to remove. The
// stack has no users yet: Server.Provision makes them.
func Start(ctx context.Context, run *Run, opts ...Option) (*Stack, error) {
	cfg := config{name: "stack"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.def == nil {
		cfg.def = Reference()
	}
	def := cfg.def
	start := time.Now()
	s := &Stack{Run: run, Def: def}
	var err error
	if s.Network, err = run.CreateNetwork(ctx, cfg.name); err != nil {
		return nil, err
	}
	pgOpts := append(DatabaseOptions(def), cfg.postgres...)
	if s.Postgres, err = RunPostgres(ctx, run, s.Network, pgOpts...); err != nil {
		return s, err
	}
	vars := stackdef.Vars{Database: s.Postgres.Vars(net.JoinHostPort(s.Postgres.Alias, "5432")), Secret: run.Secret}
	if err := s.Postgres.Setup(ctx, def.Database.Setup, vars.Expand); err != nil {
		return s, fmt.Errorf("set up %s's database: %w", def.Name, err)
	}
	database := vars.Database
	if cfg.proxy {
		opts := append([]ProxyOption{
			WithProxyPostgresUpstream(net.JoinHostPort(s.Postgres.Alias, "5432")),
			WithProxySyncdUpstream(net.JoinHostPort(def.Server.Alias, strconv.Itoa(def.Server.Port))),
		}, cfg.proxyOpts...)
		if s.Proxy, err = RunProxy(ctx, run, s.Network, opts...); err != nil {
			return s, fmt.Errorf("route %s to the database through the proxy: %w", def.Name, err)
		}
		database = s.Postgres.Vars(s.Proxy.DatabaseAddr())
	}
	if s.Server, err = RunServer(ctx, run, s.Network, def, database, cfg.server...); err != nil {
		return s, err
	}
	s.StartupTime = time.Since(start)
	return s, nil
}

// DatabaseOptions are the PostgreSQL options a definition's database role
// asks for: its image, host name and database.
func DatabaseOptions(def *stackdef.Definition) []PostgresOption {
	opts := []PostgresOption{WithPostgresAlias(def.Database.Alias), func(c *postgresConfig) { c.database = def.Database.Name }}
	if def.Database.Image != "" {
		opts = append(opts, WithPostgresImage(def.Database.Image))
	}
	return opts
}

// URL returns the server's base URL as reached from this process.
func (s *Stack) URL(ctx context.Context) (string, error) { return s.CurrentServer().URL(ctx) }

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
