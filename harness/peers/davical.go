package peers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// DavicalDatabase is the name of DAViCal's database on its PostgreSQL server.
const DavicalDatabase = "davical"

// davicalDBAlias is the PostgreSQL container's host name on the server network.
const davicalDBAlias = "davical-db"

// RunDavical starts DAViCal 1.1.12 on Apache against a PostgreSQL 15 container
// of its own (firedrill/postgres:15, data in san-a): it makes the davical_dba and
// davical_app roles with passwords, lets the DAViCal container create the schema
// with DAViCal's create-database.sh, and provisions the users, their principals
// and home collections (/caldav.php/<user>/calendar/ and .../addresses/) in bulk
// by SQL. Photos go in /caldav.php/<user>/photos/ and app data in
// /caldav.php/<user>/apps/, plain WebDAV collections made with MKCOL.
// Server.Postgres is the database, Server.DSN reaches it.
func RunDavical(ctx context.Context, run *stack.Run, users []accounts.Account, opts ...Option) (*Server, error) {
	// Creating the schema runs a few hundred statements: on a loaded machine
	// that alone has taken over a minute.
	cfg := newConfig(images.Davical, append([]Option{WithStartupTimeout(4 * time.Minute)}, opts...))
	if err := checkUsers("davical", users, nil); err != nil {
		return nil, err
	}
	ref, err := images.Ref(images.Davical)
	if err != nil {
		return nil, err
	}
	if err := images.Require(ctx, run.Docker, images.Davical, images.Postgres); err != nil {
		return nil, err
	}
	start := time.Now()
	name := prefix(run, cfg.name)
	s := &Server{Name: images.Davical, run: run, Layout: Layout{
		PhotosURL: "{base}/caldav.php/{user}/photos/",
		AppsURL:   "{base}/caldav.php/{user}/apps/",
	}}
	if s.network, err = run.CreateNetwork(ctx, strings.TrimPrefix(name, run.ID+"-")); err != nil {
		return nil, err
	}
	s.owned = append(s.owned, name, s.network+"-"+davicalDBAlias)
	pg, err := stack.RunPostgres(ctx, run, s.network, stack.WithPostgresAlias(davicalDBAlias),
		stack.WithCredentials(secret(), "postgres"), stack.WithStartupTimeout(cfg.timeout))
	if pg != nil {
		s.Postgres = pg
		s.owned = append(s.owned, pg.Data.Name)
	}
	if err != nil {
		return nil, failStart(ctx, s, err)
	}
	dbaPassword, appPassword := secret(), secret()
	if err := createDavicalRoles(ctx, pg, dbaPassword, appPassword); err != nil {
		return nil, failStart(ctx, s, err)
	}
	csv, err := davicalUsersFile(users)
	if err != nil {
		return nil, failStart(ctx, s, err)
	}
	env := map[string]string{
		"DAVICAL_DB_HOST":      davicalDBAlias,
		"DAVICAL_DB_NAME":      DavicalDatabase,
		"DAVICAL_DBA_PASSWORD": dbaPassword,
		"DAVICAL_APP_PASSWORD": appPassword,
	}
	for k, v := range cfg.env {
		env[k] = v
	}
	first := users[0]
	ctr, err := testcontainers.Run(ctx, ref,
		testcontainers.WithName(name),
		testcontainers.WithLabels(run.Labels(images.Davical)),
		tcnetwork.WithNetworkName([]string{"davical"}, s.network),
		testcontainers.WithEnv(env),
		testcontainers.WithExposedPorts("80/tcp"),
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: bytes.NewReader(csv), ContainerFilePath: "/etc/firedrill/users.csv", FileMode: 0o644,
		}),
		// The first user's principal answers once the schema, the users and
		// Apache are all there.
		testcontainers.WithWaitStrategy(propfindReady("80/tcp", "/caldav.php/"+url.PathEscape(first.Username)+"/", first, cfg.timeout)),
	)
	if ctr != nil {
		run.Track(ctr)
		s.Container = ctr
	}
	if err != nil {
		return nil, failStart(ctx, s, fmt.Errorf("start davical: %w", err))
	}
	if s.URL, err = baseURL(ctx, ctr, "80/tcp"); err != nil {
		return nil, failStart(ctx, s, err)
	}
	s.StartupTime = time.Since(start)
	return s, nil
}

// createDavicalRoles makes DAViCal's two roles with passwords (its own script
// would make them without, and the server accepts only scram logins).
func createDavicalRoles(ctx context.Context, pg *stack.Postgres, dbaPassword, appPassword string) error {
	dsn, err := pg.DSN(ctx)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect davical database server: %w", err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		"CREATE ROLE davical_dba LOGIN CREATEDB PASSWORD " + quoteLiteral(dbaPassword),
		"CREATE ROLE davical_app LOGIN PASSWORD " + quoteLiteral(appPassword),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create davical roles: %w", err)
		}
	}
	return nil
}

// davicalUsersFile is the CSV the DAViCal entrypoint provisions from.
func davicalUsersFile(users []accounts.Account) ([]byte, error) {
	var b bytes.Buffer
	if err := accounts.Write(&b, users); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
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

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// secret returns a fresh password. Secrets are not data: they do not come from
// the run's seed.
func secret() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("read random: %v", err)) // the OS random source does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}
