package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/harness/images"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// DefaultBcryptCost is the bcrypt cost of the passwords of users a stack's syncd
// creates: bcrypt's minimum.
const DefaultBcryptCost = "4"

// Syncd is a running reference sync server.
type Syncd struct {
	Container  *testcontainers.DockerContainer
	Network    string
	Alias      string // its host name on the stack network
	AdminToken string // bearer token of POST /admin/users and POST /admin/import
}

// SyncdOption configures RunSyncd.
type SyncdOption func(*syncdConfig)

type syncdConfig struct {
	alias   string
	image   string
	env     map[string]string
	timeout time.Duration
}

// WithSyncdAlias sets the container's host name on the stack network (default "syncd").
func WithSyncdAlias(alias string) SyncdOption {
	return func(c *syncdConfig) { c.alias = alias }
}

// WithSyncdImage runs another syncd image, e.g. an upgrade whose schema migration is
// under test.
func WithSyncdImage(ref string) SyncdOption {
	return func(c *syncdConfig) { c.image = ref }
}

// WithSyncdEnv adds environment variables to the server.
func WithSyncdEnv(env map[string]string) SyncdOption {
	return func(c *syncdConfig) {
		for k, v := range env {
			c.env[k] = v
		}
	}
}

// RunSyncd starts the sync server on the network against databaseURL (as seen from
// the network) and returns once /healthz answers 200, which syncd does only when its
// database answers and its schema is migrated. The admin token enables both
// POST /admin/users and POST /admin/import (bulk import: harness/populate). The
// stack's syncd connects as PostgreSQL's superuser, so its bulk imports skip the
// per-row foreign-key checks (see the syncd README).
func RunSyncd(ctx context.Context, run *Run, networkName, databaseURL string, opts ...SyncdOption) (*Syncd, error) {
	cfg := syncdConfig{alias: "syncd", env: map[string]string{}, timeout: 60 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.image == "" {
		ref, err := images.Ref(images.Syncd)
		if err != nil {
			return nil, err
		}
		if err := images.Require(ctx, run.Docker, images.Syncd); err != nil {
			return nil, err
		}
		cfg.image = ref
	}
	s := &Syncd{Network: networkName, Alias: cfg.alias, AdminToken: randomSecret()}
	env := map[string]string{
		"SYNCD_DATABASE_URL": databaseURL,
		"SYNCD_ADMIN_TOKEN":  s.AdminToken,
		"SYNCD_LISTEN":       ":8080",
		// Password hashing is not what a drill rehearses: the cheapest bcrypt cost
		// keeps creating and logging in thousands of users from dominating a run.
		// WithSyncdEnv sets a realistic cost where it matters.
		"SYNCD_BCRYPT_COST": DefaultBcryptCost,
	}
	for k, v := range cfg.env {
		env[k] = v
	}
	ctr, err := testcontainers.Run(ctx, cfg.image,
		testcontainers.WithName(run.containerName(networkName, cfg.alias)),
		testcontainers.WithLabels(run.Labels("syncd")),
		tcnetwork.WithNetworkName([]string{cfg.alias}, networkName),
		testcontainers.WithEnv(env),
		testcontainers.WithExposedPorts("8080/tcp"),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/healthz").WithPort("8080/tcp").
			WithStartupTimeout(cfg.timeout).WithPollInterval(100*time.Millisecond)),
	)
	if ctr != nil {
		run.track(ctr)
		s.Container = ctr
	}
	if err != nil {
		return nil, fmt.Errorf("start syncd %s: %w", cfg.alias, err)
	}
	return s, nil
}

// URL returns the server's base URL as reached from this process, e.g.
// "http://127.0.0.1:32768". It changes when the container restarts.
func (s *Syncd) URL(ctx context.Context) (string, error) {
	host, err := s.Container.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("find syncd host: %w", err)
	}
	port, err := s.Container.MappedPort(ctx, "8080/tcp")
	if err != nil {
		return "", fmt.Errorf("find syncd port: %w", err)
	}
	return "http://" + host + ":" + port.Port(), nil
}
