package peers

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stackdef"
)

// DavicalDatabase is the name of DAViCal's database on its PostgreSQL server.
const DavicalDatabase = "davical"

// RunDavical starts DAViCal 1.1.12 on Apache against a PostgreSQL 15 container
// of its own (firedrill/postgres:15, data in san-a), from the built-in davical
// stack definition (fixtures/stacks/davical.yaml, the one drills run with
// --stack davical): the definition's set-up makes the davical_dba and
// davical_app roles with passwords, the DAViCal container creates the schema
// with DAViCal's create-database.sh, and the users, their principals and home
// collections (/caldav.php/<user>/calendar/ and .../addresses/) are
// provisioned in bulk by SQL (the definition's csv-exec). Photos go in
// /caldav.php/<user>/photos/ and app data in /caldav.php/<user>/apps/, plain
// WebDAV collections made with MKCOL. Server.Postgres is the database,
// Server.DSN reaches it.
func RunDavical(ctx context.Context, run *stack.Run, users []accounts.Account, opts ...Option) (*Server, error) {
	cfg := newConfig(images.Davical, opts)
	if err := checkUsers("davical", users, nil); err != nil {
		return nil, err
	}
	def, err := stackdef.Load("davical")
	if err != nil {
		return nil, err
	}
	if cfg.timeoutSet {
		def.Server.Ready.Timeout = stackdef.Duration(cfg.timeout)
	}
	start := time.Now()
	name := prefix(run, cfg.name)
	s := &Server{Name: images.Davical, run: run, Layout: Layout{PhotosURL: def.Files.Photos, AppsURL: def.Files.Apps}}
	st, err := stack.Start(ctx, run, stack.WithName(strings.TrimPrefix(name, run.ID+"-")), stack.WithDefinition(def),
		stack.WithServer(stack.WithServerEnv(cfg.env)))
	if st != nil {
		s.stack, s.network, s.Postgres = st, st.Network, st.Postgres
		if st.Server != nil {
			s.Container = st.Server.Container
		}
	}
	if err != nil {
		return nil, failStart(ctx, s, err)
	}
	if err := st.Server.Provision(ctx, users); err != nil {
		return nil, failStart(ctx, s, err)
	}
	if s.URL, err = st.URL(ctx); err != nil {
		return nil, failStart(ctx, s, err)
	}
	s.StartupTime = time.Since(start)
	return s, nil
}

// DSN returns a connection string, as the superuser, to the server's database
// (DAViCal's), reachable from this process: how a test plants damage in
// DAViCal's storage. File-backed servers have none.
func (s *Server) DSN(ctx context.Context) (string, error) {
	if s.Postgres == nil {
		return "", fmt.Errorf("find database of %s: it keeps its data in files, not in a database: use Exec", s.Name)
	}
	dsn, err := s.Postgres.DSN(ctx)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	u.Path = "/" + DavicalDatabase
	return u.String(), nil
}
