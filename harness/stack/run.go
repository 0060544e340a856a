// Package stack starts the system under test in containers: one private Docker
// network per stack, named volumes tagged with a failure domain, PostgreSQL and the
// sync server, each waited on for real readiness. Every object it makes carries the
// run's labels; Run.Close removes them all, and Sweep removes what a crashed earlier
// run left behind. It never acts on an object without the run's labels.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/firedrill/firedrill/harness/engine"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// The labels firedrill puts on every Docker object it makes.
const (
	// LabelProject marks an object as firedrill's; nothing else is ever touched.
	LabelProject = "io.firedrill"
	// LabelRun names the run that made the object.
	LabelRun = "io.firedrill.run"
	// LabelOwner is "<host>/<pid>/<start>" of the process that made the object; the
	// sweeper removes objects whose owner process is gone.
	LabelOwner = "io.firedrill.owner"
	// LabelRole says what a container or volume is for: postgres, syncd, backup, ...
	LabelRole = "io.firedrill.role"
	// LabelDomain is a volume's failure domain, e.g. san-a: the storage a fault may
	// take down as a whole.
	LabelDomain = "io.firedrill.failure-domain"
)

// The failure domains of the reference stack: the database's storage and another
// one, independent of it, for backups.
const (
	DomainSANA = "san-a"
	DomainSANB = "san-b"
)

// Run is one drill's claim on the Docker Engine: every container, network and volume
// it makes carries its labels, and Close removes them all.
type Run struct {
	ID     string
	Docker *testcontainers.DockerClient
	// Swept is what the sweep before this run removed and left (see Sweep).
	Swept SweepReport
	owner string

	mu         sync.Mutex
	containers []testcontainers.Container
	closed     bool
	used       map[string]int // name suffixes handed out, for uniqueName
	removed    Counts         // what Close removed
	secrets    map[string]string
}

// Secret returns the run's secret of that name (a stack definition's
// ${secret.NAME}), made on first use: every stack of the run gets the same, so
// that the roles of a restored database still log in. Secrets are not data:
// they do not come from the seed.
func (r *Run) Secret(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		r.secrets = map[string]string{}
	}
	if _, ok := r.secrets[name]; !ok {
		r.secrets[name] = randomSecret()
	}
	return r.secrets[name]
}

// NewRun connects to Docker, sweeps what crashed earlier runs left, and returns a new
// run with a fresh id. Close it when done (also after a failure).
func NewRun(ctx context.Context) (*Run, error) {
	cli, err := engine.Client(ctx)
	if err != nil {
		return nil, err
	}
	swept, err := Sweep(ctx, cli)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("generate run id: %w", err)
	}
	id := "fd-" + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
	return &Run{ID: id, Docker: cli, owner: ownerID(), Swept: swept}, nil
}

// Labels returns the labels for an object of this run with the given role.
func (r *Run) Labels(role string) map[string]string {
	return map[string]string{
		LabelProject: "true",
		LabelRun:     r.ID,
		LabelOwner:   r.owner,
		LabelRole:    role,
	}
}

// Name returns a Docker object name unique to this run, e.g. "fd-2026...-ab12-postgres".
func (r *Run) Name(suffix string) string { return r.ID + "-" + suffix }

// Owns reports whether the labels mark an object of this run.
func (r *Run) Owns(labels map[string]string) bool {
	return labels[LabelProject] == "true" && labels[LabelRun] == r.ID
}

// track remembers a container so that Close can collect its logs first.
func (r *Run) track(c testcontainers.Container) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.containers = append(r.containers, c)
}

// Volume is a named Docker volume in a failure domain.
type Volume struct {
	Name   string
	Domain string
	Role   string
}

// Mount returns the mount of this volume at target.
func (v Volume) Mount(target string, readOnly bool) mount.Mount {
	return mount.Mount{Type: mount.TypeVolume, Source: v.Name, Target: target, ReadOnly: readOnly}
}

// CreateVolume makes a labelled volume for role in the failure domain.
func (r *Run) CreateVolume(ctx context.Context, role, domain string) (Volume, error) {
	labels := r.Labels(role)
	labels[LabelDomain] = domain
	v := Volume{Name: r.uniqueName(role + "-" + domain), Domain: domain, Role: role}
	if _, err := r.Docker.VolumeCreate(ctx, client.VolumeCreateOptions{Name: v.Name, Labels: labels}); err != nil {
		return Volume{}, fmt.Errorf("create volume %s: %w", v.Name, err)
	}
	return v, nil
}

// Volumes lists this run's volumes, optionally only those in one failure domain.
func (r *Run) Volumes(ctx context.Context, domain string) ([]Volume, error) {
	f := make(client.Filters).Add("label", LabelRun+"="+r.ID)
	if domain != "" {
		f.Add("label", LabelDomain+"="+domain)
	}
	res, err := r.Docker.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []Volume
	for _, v := range res.Items {
		if !r.Owns(v.Labels) {
			continue
		}
		out = append(out, Volume{Name: v.Name, Domain: v.Labels[LabelDomain], Role: v.Labels[LabelRole]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// uniqueName returns r.Name(suffix) the first time a suffix is asked for and
// r.Name(suffix-2), r.Name(suffix-3), ... after that, so that a run can make
// the same kind of stack or volume again (a test repeated with -count, a
// second restore) without clashing with the names it already used.
func (r *Run) uniqueName(suffix string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.used == nil {
		r.used = map[string]int{}
	}
	r.used[suffix]++
	if n := r.used[suffix]; n > 1 {
		return r.Name(fmt.Sprintf("%s-%d", suffix, n))
	}
	return r.Name(suffix)
}

// containerName names a container by its network and alias, unique within the
// run like every other name it hands out.
func (r *Run) containerName(network, alias string) string {
	return r.uniqueName(strings.TrimPrefix(network, r.ID+"-") + "-" + alias)
}

// CreateNetwork makes a labelled private bridge network for a stack.
func (r *Run) CreateNetwork(ctx context.Context, suffix string) (string, error) {
	name := r.uniqueName(suffix)
	if _, err := r.Docker.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: r.Labels("network")}); err != nil {
		return "", fmt.Errorf("create network %s: %w", name, err)
	}
	return name, nil
}

// CollectLogs writes the logs of every container this run started into dir, one
// file per container, for the report of a failed run.
func (r *Run) CollectLogs(ctx context.Context, dir string) error {
	r.mu.Lock()
	containers := append([]testcontainers.Container(nil), r.containers...)
	r.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create log dir: %w", err)
	}
	var errs []error
	for _, c := range containers {
		name, err := c.Name(ctx)
		if err != nil {
			continue // already removed
		}
		rc, err := c.Logs(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("read logs of %s: %w", name, err))
			continue
		}
		f, err := os.Create(filepath.Join(dir, strings.TrimPrefix(name, "/")+".log"))
		if err == nil {
			_, err = io.Copy(f, rc)
			f.Close()
		}
		rc.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("write logs of %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Close removes every container, network and volume labelled with this run,
// whether this process made it through this Run or a fault or restore did. It is
// safe to call more than once and after a failed start; Removed says what the
// calls removed.
func (r *Run) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	n, err := removeLabelled(ctx, r.Docker, LabelRun+"="+r.ID)
	r.mu.Lock()
	r.removed = r.removed.add(n)
	r.mu.Unlock()
	return err
}

// Removed returns how many containers, networks and volumes Close removed.
func (r *Run) Removed() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.removed
}

// Counts counts Docker objects by type.
type Counts struct {
	Containers, Networks, Volumes int
}

// Total returns the number of objects counted.
func (c Counts) Total() int { return c.Containers + c.Networks + c.Volumes }

// String says the counts in words, e.g. "3 containers, 2 volumes, 1 network".
func (c Counts) String() string {
	word := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	return word(c.Containers, "container") + ", " + word(c.Volumes, "volume") + ", " + word(c.Networks, "network")
}

func (c Counts) add(o Counts) Counts {
	return Counts{c.Containers + o.Containers, c.Networks + o.Networks, c.Volumes + o.Volumes}
}

// removeLabelled force-removes the containers, then networks, then volumes that carry
// the label filter (and firedrill's project label), and returns how many it removed.
func removeLabelled(ctx context.Context, cli *testcontainers.DockerClient, filter string) (Counts, error) {
	f := make(client.Filters).Add("label", LabelProject+"=true").Add("label", filter)
	var errs []error
	var n Counts
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return n, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
			continue
		}
		n.Containers++
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return n, fmt.Errorf("list networks: %w", err)
	}
	for _, nw := range ns.Items {
		if _, err := cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", nw.Name, err))
			continue
		}
		n.Networks++
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return n, fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range vs.Items {
		if _, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
			continue
		}
		n.Volumes++
	}
	return n, errors.Join(errs...)
}

func isNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "No such") || strings.Contains(err.Error(), "not found"))
}

// SweepReport says what a sweep removed and what it left.
type SweepReport struct {
	Removed Counts
	// Runs are the runs whose objects were removed, by run id.
	Runs []string
	// Left lists owners whose objects stay because their process cannot be
	// proven dead on this host, each with why, e.g. "ci-runner-7: owner label
	// not host/pid/start".
	Left []string
}

// String says what the sweep did in one line, "" when it did nothing.
func (s SweepReport) String() string {
	var parts []string
	if s.Removed.Total() > 0 {
		parts = append(parts, fmt.Sprintf("removed %s left by %d dead runs (%s)", s.Removed, len(s.Runs), strings.Join(s.Runs, ", ")))
	}
	if len(s.Left) > 0 {
		parts = append(parts, fmt.Sprintf("left the objects of %d owners it cannot prove dead: %s", len(s.Left), strings.Join(s.Left, "; ")))
	}
	return strings.Join(parts, "; ")
}

// Sweep removes the objects of firedrill runs whose owning process is provably
// gone: a run on this host killed by a timeout, a panic or kill -9 before it
// could clean up. Anything else is left and listed in the report: runs owned by
// a live process (another drill, here or in a parallel test), objects made from
// another host sharing this daemon, and objects whose owner label it cannot
// parse (they might belong to a live run elsewhere).
func Sweep(ctx context.Context, cli *testcontainers.DockerClient) (SweepReport, error) {
	var rep SweepReport
	type owned struct{ runs map[string]bool }
	owners := map[string]*owned{}
	note := func(labels map[string]string) {
		o := labels[LabelOwner]
		if owners[o] == nil {
			owners[o] = &owned{runs: map[string]bool{}}
		}
		owners[o].runs[labels[LabelRun]] = true
	}
	f := make(client.Filters).Add("label", LabelProject+"=true")
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return rep, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs.Items {
		note(c.Labels)
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return rep, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns.Items {
		note(n.Labels)
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return rep, fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range vs.Items {
		note(v.Labels)
	}
	keys := make([]string, 0, len(owners))
	for o := range owners {
		keys = append(keys, o)
	}
	sort.Strings(keys)
	var errs []error
	for _, owner := range keys {
		dead, why := ownerDead(owner)
		if !dead {
			if why != "" {
				rep.Left = append(rep.Left, why)
			}
			continue
		}
		n, err := removeLabelled(ctx, cli, LabelOwner+"="+owner)
		rep.Removed = rep.Removed.add(n)
		for r := range owners[owner].runs {
			rep.Runs = append(rep.Runs, r)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	sort.Strings(rep.Runs)
	return rep, errors.Join(errs...)
}

// ownerID identifies this process across pid reuse: host, pid and start time.
func ownerID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), processStart(os.Getpid()))
}

// ownerDead reports whether the process named by an owner label is provably
// gone: the label is host/pid/start, the host is this one, and no process with
// that pid and start token runs. Otherwise it says why the owner's objects
// must stay ("" for a live owner of this host: nothing to say).
func ownerDead(owner string) (bool, string) {
	parts := strings.SplitN(owner, "/", 3)
	if owner == "" || len(parts) != 3 || parts[2] == "" {
		return false, fmt.Sprintf("%q: owner label not host/pid/start", owner)
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false, fmt.Sprintf("%q: owner label not host/pid/start", owner)
	}
	host, _ := os.Hostname()
	if parts[0] != host {
		return false, fmt.Sprintf("%q: made from host %s, whose processes cannot be checked from here", owner, parts[0])
	}
	if processStart(pid) == parts[2] {
		return false, ""
	}
	return true, ""
}

// processStart returns a token for when a process started ("" when no such process
// exists), so that a reused pid is not mistaken for the owner. On Linux it is the
// start time in clock ticks since boot (/proc/<pid>/stat, field 22); elsewhere it is
// "0" for any live process.
func processStart(pid int) string {
	if runtime.GOOS != "linux" {
		if syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
			return "0"
		}
		return ""
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces and parentheses: count from the last ")".
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) < 20 {
		return ""
	}
	return fields[19] // field 22 overall: starttime
}
