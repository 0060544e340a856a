package backup

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// idleCommand keeps a tools container alive, and lets it stop at once on SIGTERM.
var idleCommand = []string{"bash", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"}

// toolbox is a container of the firedrill/postgres image in which the backup and
// restore programs run as execs: pg_basebackup, pg_verifybackup, pg_waldump, cp.
type toolbox struct {
	ctr *testcontainers.DockerContainer
}

// toolboxSpec says how to start a toolbox.
type toolboxSpec struct {
	name    string // container name, unique on the daemon
	network string // "" for none
	alias   string
	role    string
	mounts  []mount.Mount
}

// startToolbox starts an idle tools container labelled with the run.
func startToolbox(ctx context.Context, run *stack.Run, spec toolboxSpec) (*toolbox, error) {
	ref, err := images.Ref(images.Postgres)
	if err != nil {
		return nil, err
	}
	if err := images.Require(ctx, run.Docker, images.Postgres); err != nil {
		return nil, err
	}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithName(spec.name),
		testcontainers.WithLabels(run.Labels(spec.role)),
		testcontainers.WithCmd(idleCommand...),
		testcontainers.WithEnv(map[string]string{"TZ": "UTC"}),
		testcontainers.WithHostConfigModifier(func(h *container.HostConfig) { h.Mounts = append(h.Mounts, spec.mounts...) }),
	}
	if spec.network != "" {
		opts = append(opts, tcnetwork.WithNetworkName([]string{spec.alias}, spec.network))
	} else {
		opts = append(opts, testcontainers.WithHostConfigModifier(func(h *container.HostConfig) { h.NetworkMode = "none" }))
	}
	ctr, err := testcontainers.Run(ctx, ref, opts...)
	if ctr != nil {
		run.Track(ctr)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s container %s: %w", spec.role, spec.name, err)
	}
	return &toolbox{ctr: ctr}, nil
}

// execResult is what a command printed and how it exited.
type execResult struct {
	Stdout, Stderr string
	Code           int
}

// exec runs a bash script in the container as user (root when ""), with the
// arguments as $1, $2, ..., under `set -euo pipefail`, and returns its output. A
// non-zero exit is not an error here; see run.
func execIn(ctx context.Context, ctr *testcontainers.DockerContainer, user string, env []string, script string, args ...string) (execResult, error) {
	cmd := append([]string{"bash", "-c", "set -euo pipefail\n" + script, "firedrill"}, args...)
	opts := []tcexec.ProcessOption{tcexec.WithEnv(append([]string{"TZ=UTC"}, env...))}
	if user != "" {
		opts = append(opts, tcexec.WithUser(user))
	}
	code, r, err := ctr.Exec(ctx, cmd, opts...)
	if err != nil {
		return execResult{}, fmt.Errorf("exec in %s: %w", shortID(ctr), err)
	}
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, r); err != nil {
		return execResult{}, fmt.Errorf("read exec output in %s: %w", shortID(ctr), err)
	}
	return execResult{Stdout: out.String(), Stderr: errb.String(), Code: code}, nil
}

// runIn is execIn that turns a non-zero exit into an error carrying the end of
// the command's standard error.
func runIn(ctx context.Context, ctr *testcontainers.DockerContainer, user string, env []string, script string, args ...string) (string, error) {
	res, err := execIn(ctx, ctr, user, env, script, args...)
	if err != nil {
		return "", err
	}
	if res.Code != 0 {
		return res.Stdout, fmt.Errorf("exit status %d: %s", res.Code, tail(res.Stderr, 6))
	}
	return res.Stdout, nil
}

func (t *toolbox) run(ctx context.Context, user string, env []string, script string, args ...string) (string, error) {
	return runIn(ctx, t.ctr, user, env, script, args...)
}

func (t *toolbox) exec(ctx context.Context, user string, env []string, script string, args ...string) (execResult, error) {
	return execIn(ctx, t.ctr, user, env, script, args...)
}

// terminate removes the container (never its named volumes); again, it does
// nothing.
func (t *toolbox) terminate(ctx context.Context) error {
	if t == nil || t.ctr == nil {
		return nil
	}
	if err := t.ctr.Terminate(ctx, testcontainers.StopTimeout(5*time.Second)); err != nil {
		return fmt.Errorf("remove %s: %w", shortID(t.ctr), err)
	}
	t.ctr = nil
	return nil
}

// writeFileIn writes data to path in the container atomically (a temporary file
// renamed over it), as user. It passes the bytes as an argument, base64-encoded:
// catalogues are small.
func writeFileIn(ctx context.Context, ctr *testcontainers.DockerContainer, user, path string, data []byte) error {
	_, err := runIn(ctx, ctr, user, nil, `printf '%s' "$2" | base64 -d > "$1.tmp"; mv -f "$1.tmp" "$1"`, path, base64.StdEncoding.EncodeToString(data))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// tail returns the last n non-empty lines of s, joined by "; ".
func tail(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "(no output)"
	}
	return strings.Join(lines, "; ")
}

// shortID names a container in messages.
func shortID(ctr *testcontainers.DockerContainer) string {
	id := ctr.GetContainerID()
	if len(id) > 12 {
		id = id[:12]
	}
	return "container " + id
}
