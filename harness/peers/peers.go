// Package peers runs third-party CardDAV/CalDAV/WebDAV servers in containers, as
// targets for firedrill's load and verify: Radicale 3.1, Xandikos 0.2.8 and
// DAViCal 1.1.12 on PostgreSQL 15, from the images harness/images builds out of
// Debian's packages. Each is a testcontainers-style module:
//
//	srv, err := peers.RunRadicale(ctx, run, users)
//
// starts the server with the users able to log in, waits until it answers an
// authenticated PROPFIND (a real request, not an open port), and returns the
// server's base URL (what `firedrill load --server` takes), its DAV layout (where
// photos and app data can live, or that they cannot), and a way to reach its
// storage so that tests can plant damage: an exec in the container for the
// file-backed servers, the PostgreSQL connection for DAViCal.
//
// Every container, network and volume is labelled with the run (stack.Run) and
// removed by Server.Terminate or, whatever happens, by Run.Close; on a failed
// start what was made is removed before the error returns.
package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
)

// Layout is where a server keeps what has no discovery: the URL templates
// ({base}, {user}, as workload.Config and `firedrill load --photos-url` take
// them) of each user's photo and app data collections. A template is "" when
// the server cannot host plain WebDAV files there, and NoFiles says why.
type Layout struct {
	PhotosURL string
	AppsURL   string
	NoFiles   string
}

// Server is a running third-party DAV server. Terminate removes it.
type Server struct {
	// Name is the server's kind: "radicale", "xandikos" or "davical".
	Name string
	// URL is the base URL as reached from this process, e.g. "http://127.0.0.1:32768".
	URL string
	// Layout says where photos and app data live.
	Layout Layout
	// Container is the server's container.
	Container *testcontainers.DockerContainer
	// Postgres is the server's database (DAViCal); nil for file-backed servers.
	Postgres *stack.Postgres
	// StartupTime is how long the start took, from creating the network to the
	// first authenticated PROPFIND answered.
	StartupTime time.Duration

	run     *stack.Run
	stack   *stack.Stack // the stack a definition started (DAViCal); nil for the others
	network string
	owned   []string // names of the containers and volumes this server made
	volume  stack.Volume
}

// Option configures a Run* function.
type Option func(*config)

type config struct {
	name       string
	timeout    time.Duration
	timeoutSet bool
	env        map[string]string
	homes      bool
}

// WithName names the server's Docker objects "<run>-<name>-<n>" (default: the
// server's kind).
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithStartupTimeout bounds the wait for the server to answer (default 2
// minutes, DAViCal its definition's ready.timeout, 4).
func WithStartupTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout, c.timeoutSet = d, true }
}

// WithEnv adds environment variables to the server's container, e.g.
// DAVICAL_LOG_SQL=1.
func WithEnv(env map[string]string) Option {
	return func(c *config) {
		for k, v := range env {
			c.env[k] = v
		}
	}
}

// WithHomeCollections gives every user an address book and a calendar before
// the server is handed over, as DAViCal's provisioning and Xandikos's defaults
// do, for servers that make none for a new account (Radicale): a provisioned
// account rather than a fresh one.
func WithHomeCollections() Option { return func(c *config) { c.homes = true } }

func newConfig(kind string, opts []Option) config {
	c := config{name: kind, timeout: 2 * time.Minute, env: map[string]string{}}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// instance numbers the servers of this process, so that a test run many times
// (-count=3) in one run gets fresh object names each time.
var instance atomic.Int64

// prefix returns a fresh object name prefix of the run, e.g. "fd-...-radicale-3".
func prefix(run *stack.Run, name string) string {
	return run.Name(fmt.Sprintf("%s-%d", name, instance.Add(1)))
}

// safeUser is what every server here accepts as a user name: it is used in URL
// paths, file names and configuration files.
var safeUser = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`)

// checkUsers returns an error naming the first account a server cannot take.
func checkUsers(kind string, users []accounts.Account, badPassword func(string) string) error {
	if len(users) == 0 {
		return fmt.Errorf("start %s: no users: give at least one account", kind)
	}
	seen := map[string]bool{}
	for i, u := range users {
		if !safeUser.MatchString(u.Username) {
			return fmt.Errorf("start %s: user %d name %q: want letters, digits and . _ @ - only, starting with a letter or digit", kind, i+1, u.Username)
		}
		lower := strings.ToLower(u.Username)
		if seen[lower] {
			return fmt.Errorf("start %s: user %q given twice (names compare without case)", kind, u.Username)
		}
		seen[lower] = true
		if u.Password == "" {
			return fmt.Errorf("start %s: user %q has an empty password", kind, u.Username)
		}
		if strings.ContainsAny(u.Password, "\r\n\x00") {
			return fmt.Errorf("start %s: the password of %q holds a line break or NUL, which no users file here can carry", kind, u.Username)
		}
		if badPassword != nil {
			if why := badPassword(u.Password); why != "" {
				return fmt.Errorf("start %s: the password of %q %s", kind, u.Username, why)
			}
		}
	}
	return nil
}

// colonUsersFile is the users file of Radicale and Xandikos: user:password lines.
func colonUsersFile(users []accounts.Account) []byte {
	var b bytes.Buffer
	for _, u := range users {
		fmt.Fprintf(&b, "%s:%s\n", u.Username, u.Password)
	}
	return b.Bytes()
}

// baseURL returns the URL of a container's port as reached from this process.
func baseURL(ctx context.Context, c *testcontainers.DockerContainer, port string) (string, error) {
	host, err := c.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("find server host: %w", err)
	}
	p, err := c.MappedPort(ctx, port)
	if err != nil {
		return "", fmt.Errorf("find server port: %w", err)
	}
	return "http://" + host + ":" + p.Port(), nil
}

// Exec runs a command in the server's container (as root) and returns its
// standard output; a non-zero exit is an error carrying its standard error.
func (s *Server) Exec(ctx context.Context, cmd ...string) (string, error) {
	code, r, err := s.Container.Exec(ctx, cmd, tcexec.Multiplexed())
	if err != nil {
		return "", fmt.Errorf("exec %s in %s: %w", strings.Join(cmd, " "), s.Name, err)
	}
	out, _ := io.ReadAll(r)
	if code != 0 {
		return string(out), fmt.Errorf("exec %s in %s: exit status %d: %s", strings.Join(cmd, " "), s.Name, code, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Shell runs a bash script in the server's container (as root) and returns its
// output; see Exec.
func (s *Server) Shell(ctx context.Context, script string) (string, error) {
	return s.Exec(ctx, "bash", "-euo", "pipefail", "-c", script)
}

// Logs returns the server container's output so far, for diagnosis.
func (s *Server) Logs(ctx context.Context) string {
	if s.Container == nil {
		return ""
	}
	rc, err := s.Container.Logs(ctx)
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

// Terminate removes the server's containers, network and volume. It is safe to
// call more than once; Run.Close removes them too.
func (s *Server) Terminate(ctx context.Context) error {
	if s.stack != nil {
		_, err := s.run.RemoveStack(ctx, s.stack)
		return err
	}
	return removeObjects(ctx, s.run, s.owned, s.network)
}

// removeObjects force-removes the named containers and volumes (in that order)
// and the network, when they carry the run's labels; absent ones are skipped.
func removeObjects(ctx context.Context, run *stack.Run, names []string, network string) error {
	var errs []error
	var volumes []string
	for _, name := range names {
		res, err := run.Docker.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if err != nil {
			volumes = append(volumes, name)
			continue
		}
		if !run.Owns(res.Container.Config.Labels) {
			continue
		}
		if _, err := run.Docker.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !notFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", name, err))
		}
	}
	for _, name := range volumes {
		res, err := run.Docker.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
		if err != nil || !run.Owns(res.Volume.Labels) {
			continue
		}
		if _, err := run.Docker.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true}); err != nil && !notFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", name, err))
		}
	}
	if network != "" {
		res, err := run.Docker.NetworkInspect(ctx, network, client.NetworkInspectOptions{})
		if err == nil && run.Owns(res.Network.Labels) {
			if _, err := run.Docker.NetworkRemove(ctx, network, client.NetworkRemoveOptions{}); err != nil && !notFound(err) {
				errs = append(errs, fmt.Errorf("remove network %s: %w", network, err))
			}
		}
	}
	return errors.Join(errs...)
}

func notFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "No such") || strings.Contains(err.Error(), "not found"))
}

// failStart removes what a failed start made and returns its error, with the
// server's last output when there is any.
func failStart(ctx context.Context, s *Server, err error) error {
	logs := ""
	if s.Container != nil {
		logs = lastLines(s.Logs(ctx), 15)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if rerr := s.Terminate(cctx); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if logs != "" {
		return fmt.Errorf("%w\n%s's last output:\n%s", err, s.Name, logs)
	}
	return err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// CPUTime returns the CPU time the server's containers (DAViCal's database
// included) have used since they started, from their cgroups: the cost of a
// load, measured beside its duration.
func (s *Server) CPUTime(ctx context.Context) (time.Duration, error) {
	ids := []string{s.Container.GetContainerID()}
	if s.Postgres != nil {
		ids = append(ids, s.Postgres.Container.GetContainerID())
	}
	return ContainersCPUTime(ctx, s.run, ids...)
}

// ContainersCPUTime sums the CPU time the containers have used since they
// started (e.g. a reference stack's, as a baseline beside a server's).
func ContainersCPUTime(ctx context.Context, run *stack.Run, ids ...string) (time.Duration, error) {
	var total time.Duration
	for _, id := range ids {
		res, err := run.Docker.ContainerStats(ctx, id, client.ContainerStatsOptions{})
		if err != nil {
			return 0, fmt.Errorf("read cpu time of %s: %w", id[:min(12, len(id))], err)
		}
		var st container.StatsResponse
		err = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("read cpu time of %s: %w", id[:min(12, len(id))], err)
		}
		total += time.Duration(st.CPUStats.CPUUsage.TotalUsage)
	}
	return total, nil
}
