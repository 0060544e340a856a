package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stackdef"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// DefaultBcryptCost is the bcrypt cost of the passwords of users the reference
// stack's syncd creates: bcrypt's minimum (fixtures/stacks/syncd.yaml).
const DefaultBcryptCost = "4"

// Server is a running sync server: the server role of a stack definition.
type Server struct {
	Container *testcontainers.DockerContainer
	Network   string
	Alias     string // its host name on the stack network
	Port      int    // the port it serves HTTP on, in its container
	// Def is the definition it was started from.
	Def *stackdef.Definition
	// AdminToken is the definition's users.token expanded: for syncd, the
	// bearer token of POST /admin/users and POST /admin/import; "" when the
	// definition has none.
	AdminToken string
}

// ServerOption configures RunServer.
type ServerOption func(*serverConfig)

type serverConfig struct {
	alias string
	image string
	env   map[string]string
}

// WithServerAlias sets the container's host name on the stack network
// (default the definition's server.alias).
func WithServerAlias(alias string) ServerOption {
	return func(c *serverConfig) { c.alias = alias }
}

// WithServerImage runs another image of the server, e.g. an upgrade whose
// schema migration is under test.
func WithServerImage(ref string) ServerOption {
	return func(c *serverConfig) { c.image = ref }
}

// WithServerEnv adds environment variables to the server, over the
// definition's.
func WithServerEnv(env map[string]string) ServerOption {
	return func(c *serverConfig) {
		for k, v := range env {
			c.env[k] = v
		}
	}
}

// Reference returns the reference stack's definition (syncd over PostgreSQL).
func Reference() *stackdef.Definition {
	d, err := stackdef.Load(stackdef.Reference)
	if err != nil {
		panic(fmt.Sprintf("load the built-in reference stack: %v", err)) // a test of stackdef parses it
	}
	return d
}

// RunSyncd starts the reference stack's server, syncd, on the network against
// databaseURL (as seen from the network): RunServer with the reference
// definition. syncd answers /healthz only once its database answers and its
// schema is migrated; its admin token enables POST /admin/users and
// POST /admin/import (bulk import: harness/populate). It connects as
// PostgreSQL's superuser, so its bulk imports skip the per-row foreign-key
// checks (see the syncd README).
func RunSyncd(ctx context.Context, run *Run, networkName, databaseURL string, opts ...ServerOption) (*Server, error) {
	vars := map[string]string{"url": databaseURL}
	if u, err := parseDatabaseURL(databaseURL); err == nil {
		vars = u
	}
	return RunServer(ctx, run, networkName, Reference(), vars, opts...)
}

// RunServer starts the definition's server on the network, its placeholders
// expanded with database (host, port, name, user, password, url as the server
// reaches the database: Postgres.Vars) and the run's secrets, and returns once
// its ready request is answered as the definition says.
func RunServer(ctx context.Context, run *Run, networkName string, def *stackdef.Definition, database map[string]string, opts ...ServerOption) (*Server, error) {
	cfg := serverConfig{alias: def.Server.Alias, env: map[string]string{}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.image == "" {
		ref, err := imageRef(ctx, run, def.Server.Image)
		if err != nil {
			return nil, err
		}
		cfg.image = ref
	}
	vars := stackdef.Vars{Database: database, Secret: run.Secret}
	env := map[string]string{}
	for k, v := range def.Server.Env {
		env[k] = vars.Expand(v)
	}
	for k, v := range cfg.env {
		env[k] = v
	}
	s := &Server{Network: networkName, Alias: cfg.alias, Port: def.Server.Port, Def: def, AdminToken: vars.Expand(def.Users.Token)}
	ready := def.Server.Ready
	port := s.natPort()
	ctr, err := testcontainers.Run(ctx, cfg.image,
		testcontainers.WithName(run.containerName(networkName, cfg.alias)),
		testcontainers.WithLabels(run.Labels(def.Name)),
		tcnetwork.WithNetworkName([]string{cfg.alias}, networkName),
		testcontainers.WithEnv(env),
		testcontainers.WithExposedPorts(port),
		testcontainers.WithWaitStrategy(WaitForRequest(ready, port, def.Name, nil)),
	)
	if ctr != nil {
		run.track(ctr)
		s.Container = ctr
	}
	if err != nil {
		return nil, fmt.Errorf("start %s %s: %w", def.Name, cfg.alias, err)
	}
	return s, nil
}

// imageRef resolves a definition's image: firedrill's own images (by their
// repository, human tag or recipe tag) run at their recipe's tag, and a
// missing one is named with how to build it (images.Require); any other
// image must exist in the Docker Engine already.
func imageRef(ctx context.Context, run *Run, image string) (string, error) {
	name, ok := images.Named(image)
	if !ok {
		return image, nil
	}
	if err := images.Require(ctx, run.Docker, name); err != nil {
		return "", err
	}
	return images.Ref(name)
}

func (s *Server) natPort() string { return strconv.Itoa(s.Port) + "/tcp" }

// Name is the server's kind, its definition's name (e.g. "syncd").
func (s *Server) Name() string { return s.Def.Name }

// URL returns the server's base URL as reached from this process, e.g.
// "http://127.0.0.1:32768". It changes when the container restarts.
func (s *Server) URL(ctx context.Context) (string, error) {
	host, err := s.Container.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("find %s host: %w", s.Def.Name, err)
	}
	port, err := s.Container.MappedPort(ctx, s.natPort())
	if err != nil {
		return "", fmt.Errorf("find %s port: %w", s.Def.Name, err)
	}
	return "http://" + host + ":" + port.Port(), nil
}

// Upstream is where the server serves on the stack network, e.g. "syncd:8080".
func (s *Server) Upstream() string { return net.JoinHostPort(s.Alias, strconv.Itoa(s.Port)) }

// Ping sends the definition's ready request once and says whether it was
// answered as the definition says.
func (s *Server) Ping(ctx context.Context) error {
	u, err := s.URL(ctx)
	if err != nil {
		return err
	}
	ready := s.Def.Server.Ready
	req, err := http.NewRequestWithContext(ctx, ready.Method, u+ready.Path, nil)
	if err != nil {
		return fmt.Errorf("make ready request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reach %s: %w", s.Def.Name, err)
	}
	resp.Body.Close()
	if !slices.Contains(ready.Status, resp.StatusCode) {
		return fmt.Errorf("%s %s %s answered %s, want %v", s.Def.Name, ready.Method, ready.Path, resp.Status, ready.Status)
	}
	return nil
}

// Provision makes the users on the server, as its definition says: syncd's
// admin API one by one (bcrypt), or a CSV copied into the container and the
// definition's command run there.
func (s *Server) Provision(ctx context.Context, users []accounts.Account) error {
	if len(users) == 0 {
		return nil
	}
	switch s.Def.Users.Provision {
	case stackdef.SyncdAdmin:
		u, err := s.URL(ctx)
		if err != nil {
			return err
		}
		return accounts.Provision(ctx, dav.NewHTTPClient(8), u, s.AdminToken, users, 8)
	case stackdef.CSVExec:
		var csv bytes.Buffer
		if err := accounts.Write(&csv, users); err != nil {
			return err
		}
		if err := s.Container.CopyToContainer(ctx, csv.Bytes(), s.Def.Users.CSV, 0o644); err != nil {
			return fmt.Errorf("copy users to %s: %w", s.Def.Name, err)
		}
		code, out, err := s.Container.Exec(ctx, s.Def.Users.Command, tcexec.Multiplexed())
		if err != nil {
			return fmt.Errorf("run %s in %s: %w", strings.Join(s.Def.Users.Command, " "), s.Def.Name, err)
		}
		if code != 0 {
			msg, _ := io.ReadAll(io.LimitReader(out, 4096))
			return fmt.Errorf("provision users on %s: %s exited %d: %s", s.Def.Name, strings.Join(s.Def.Users.Command, " "), code, strings.TrimSpace(string(msg)))
		}
		return nil
	}
	return fmt.Errorf("provision users on %s: no provisioning %q", s.Def.Name, s.Def.Users.Provision)
}
