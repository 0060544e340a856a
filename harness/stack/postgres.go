package stack

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver for the readiness check
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// DataDir is where the PostgreSQL container mounts its data volume; the cluster
// itself lives in DataDir/pg, leaving room beside it on the same volume (where the
// flawed dump-same-volume backup writes its dumps).
const DataDir = "/var/lib/postgresql/data"

// PGData is the cluster directory inside DataDir.
const PGData = DataDir + "/pg"

// Postgres is a running PostgreSQL 15 container of a stack.
type Postgres struct {
	Container *testcontainers.DockerContainer
	Network   string // the stack network it is attached to
	Alias     string // its host name on that network
	Data      Volume // the volume holding its data directory
	User      string // superuser
	Password  string
	Database  string
	// ReplicationUser may stream WAL and take base backups (password: Password).
	ReplicationUser string

	run *Run
	cfg postgresConfig // how it was started, to start it again elsewhere (MoveTo)
}

// PostgresOption configures RunPostgres.
type PostgresOption func(*postgresConfig)

type postgresConfig struct {
	alias    string
	data     *Volume
	mounts   []mount.Mount
	settings map[string]string
	timeout  time.Duration
	password string
	database string
	image    string
}

// WithPostgresImage runs another PostgreSQL 15 image that takes
// firedrill/postgres:15's environment and carries its tools (a stack
// definition's database.image).
func WithPostgresImage(ref string) PostgresOption { return func(c *postgresConfig) { c.image = ref } }

// WithPostgresAlias sets the container's host name on the stack network (default "postgres").
func WithPostgresAlias(alias string) PostgresOption {
	return func(c *postgresConfig) { c.alias = alias }
}

// WithDataVolume mounts an existing volume as the data volume instead of making a
// new one in san-a, e.g. a volume a restore has filled.
func WithDataVolume(v Volume) PostgresOption {
	return func(c *postgresConfig) { c.data = &v }
}

// WithExtraMount adds a mount, e.g. a backup volume mounted read-only for recovery.
func WithExtraMount(m mount.Mount) PostgresOption {
	return func(c *postgresConfig) { c.mounts = append(c.mounts, m) }
}

// WithSettings passes server settings as "-c name=value" arguments.
func WithSettings(settings map[string]string) PostgresOption {
	return func(c *postgresConfig) {
		for k, v := range settings {
			c.settings[k] = v
		}
	}
}

// WithStartupTimeout bounds the wait for the server to accept queries (default
// 60 s); a recovery replaying much WAL needs longer.
func WithStartupTimeout(d time.Duration) PostgresOption {
	return func(c *postgresConfig) { c.timeout = d }
}

// WithCredentials sets the superuser password and the database made on first start.
func WithCredentials(password, database string) PostgresOption {
	return func(c *postgresConfig) { c.password, c.database = password, database }
}

// RunPostgres starts PostgreSQL on the network with its data on a volume in san-a
// (unless WithDataVolume), and returns once it answers a query over TCP.
func RunPostgres(ctx context.Context, run *Run, networkName string, opts ...PostgresOption) (*Postgres, error) {
	cfg := postgresConfig{alias: "postgres", settings: map[string]string{}, timeout: 60 * time.Second, database: "syncd"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.password == "" {
		cfg.password = randomSecret()
	}
	image := cfg.image
	if image == "" {
		image = "firedrill/postgres:15"
	}
	ref, err := imageRef(ctx, run, image)
	if err != nil {
		return nil, err
	}
	data := Volume{}
	if cfg.data != nil {
		data = *cfg.data
	} else if data, err = run.CreateVolume(ctx, networkSuffix(run, networkName)+cfg.alias+"-data", DomainSANA); err != nil {
		return nil, err
	}
	p := &Postgres{Network: networkName, Alias: cfg.alias, Data: data, User: "postgres", Password: cfg.password, Database: cfg.database, ReplicationUser: "replicator",
		run: run, cfg: cfg}
	args := []string{"postgres"}
	keys := make([]string, 0, len(cfg.settings))
	for k := range cfg.settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+cfg.settings[k])
	}
	mounts := append([]mount.Mount{data.Mount(DataDir, false)}, cfg.mounts...)
	ctr, err := testcontainers.Run(ctx, ref,
		testcontainers.WithName(run.containerName(networkName, cfg.alias)),
		testcontainers.WithLabels(run.Labels("postgres")),
		tcnetwork.WithNetworkName([]string{cfg.alias}, networkName),
		testcontainers.WithEnv(map[string]string{
			"POSTGRES_PASSWORD":    p.Password,
			"POSTGRES_DB":          p.Database,
			"REPLICATION_USER":     p.ReplicationUser,
			"REPLICATION_PASSWORD": p.Password,
		}),
		testcontainers.WithCmd(args...),
		testcontainers.WithExposedPorts("5432/tcp"),
		testcontainers.WithConfigModifier(func(c *container.Config) { c.StopSignal = "SIGINT" }),
		testcontainers.WithHostConfigModifier(func(h *container.HostConfig) { h.Mounts = append(h.Mounts, mounts...) }),
		testcontainers.WithWaitStrategy(wait.ForSQL("5432/tcp", "pgx", func(host string, port network.Port) string {
			return p.dsn(host, port.Port())
		}).WithStartupTimeout(cfg.timeout).WithPollInterval(200*time.Millisecond)),
	)
	if ctr != nil {
		run.track(ctr)
		p.Container = ctr
	}
	if err != nil {
		return nil, fmt.Errorf("start postgres %s: %w", cfg.alias, err)
	}
	return p, nil
}

// MoveTo replaces the (stopped) server with one that runs on the data volume
// data: the same network, alias, credentials, settings and other mounts, as
// after a storage migration. The old container is removed first; the new
// server is returned once it answers a query.
func (p *Postgres) MoveTo(ctx context.Context, data Volume) (*Postgres, error) {
	if p.run == nil {
		return nil, fmt.Errorf("move postgres %s: it was not started by RunPostgres", p.Alias)
	}
	if p.Container != nil {
		if err := p.Container.Terminate(ctx); err != nil {
			return nil, fmt.Errorf("move postgres %s: remove the old container: %w", p.Alias, err)
		}
	}
	cfg := p.cfg
	cfg.data = &data
	cfg.mounts = slices.Clone(p.cfg.mounts)
	cfg.settings = maps.Clone(p.cfg.settings)
	return RunPostgres(ctx, p.run, p.Network, func(c *postgresConfig) { *c = cfg })
}

func (p *Postgres) dsn(host, port string) string { return p.dsnAt(net.JoinHostPort(host, port)) }

// dsnAt returns a connection string that reaches the server at hostport, e.g.
// through a proxy on the stack network.
func (p *Postgres) dsnAt(hostport string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(p.User, p.Password), Host: hostport, Path: "/" + p.Database, RawQuery: "sslmode=disable"}
	return u.String()
}

// DSN returns a connection string that reaches the server from this process.
func (p *Postgres) DSN(ctx context.Context) (string, error) {
	host, err := p.Container.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("find postgres host: %w", err)
	}
	port, err := p.Container.MappedPort(ctx, "5432/tcp")
	if err != nil {
		return "", fmt.Errorf("find postgres port: %w", err)
	}
	return p.dsn(host, port.Port()), nil
}

// InternalDSN returns a connection string that reaches the server from another
// container on the stack network.
func (p *Postgres) InternalDSN() string { return p.dsn(p.Alias, "5432") }

// Vars returns what a stack definition's ${database.*} placeholders expand to
// for a server that reaches the database at hostport on the stack network
// (the database itself, or the fault proxy in front of it).
func (p *Postgres) Vars(hostport string) map[string]string {
	host, port, _ := net.SplitHostPort(hostport)
	return map[string]string{"host": host, "port": port, "name": p.Database, "user": p.User, "password": p.Password, "url": p.dsnAt(hostport)}
}

// parseDatabaseURL splits a postgres:// URL into a definition's ${database.*}
// values.
func parseDatabaseURL(dsn string) (map[string]string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	pw, _ := u.User.Password()
	return map[string]string{"host": u.Hostname(), "port": u.Port(), "name": strings.TrimPrefix(u.Path, "/"),
		"user": u.User.Username(), "password": pw, "url": dsn}, nil
}

// Setup runs a stack definition's database.setup statements, one by one, as
// the superuser, each with its placeholders expanded by vars.
func (p *Postgres) Setup(ctx context.Context, stmts []string, expand func(string) string) error {
	if len(stmts) == 0 {
		return nil
	}
	dsn, err := p.DSN(ctx)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect database %s for its set-up: %w", p.Alias, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for i, stmt := range stmts {
		if _, err := conn.Exec(ctx, expand(stmt)); err != nil {
			// The statement may hold a secret: name it by its place, not its text.
			return fmt.Errorf("run database.setup[%d]: %w", i, err)
		}
	}
	return nil
}
