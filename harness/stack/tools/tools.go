// Package tools runs commands for the harness inside containers of a run: the
// hands of the faults (corrupt a file, copy a data directory, run a user's
// migration) and of the backups (pg_basebackup, pg_verifybackup, pg_waldump,
// restores). It offers three shapes over one ownership guard:
//
//   - OneShot and Bash start a short-lived container, wait for its command and
//     remove it;
//   - StartBox starts an idle container in which many commands run as execs;
//   - Exec, Script and WriteFile run a bash script in any running container of
//     the run, with arguments passed as $1, $2, ... and never spliced into it.
//
// Containers it starts carry the run's labels, and it refuses to mount a volume
// that is not labelled with the run, so that a fault or a backup can never
// touch what another run or a person made.
package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/firedrill/firedrill/harness/stack"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
)

// Result is how a command ended and what it printed.
type Result struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// Err returns nil for exit code 0, else an error with the last lines of the
// command's standard error (or output).
func (r Result) Err() error {
	if r.ExitCode == 0 {
		return nil
	}
	out := r.Stderr
	if strings.TrimSpace(out) == "" {
		out = r.Stdout
	}
	return fmt.Errorf("exit status %d: %s", r.ExitCode, Tail(out, 6))
}

// checkMounts refuses any mount that is not a volume labelled with the run.
func checkMounts(ctx context.Context, run *stack.Run, mounts []mount.Mount) error {
	for _, m := range mounts {
		if m.Type != mount.TypeVolume {
			return fmt.Errorf("mount %s: of type %s: the harness mounts only volumes of the run", m.Source, m.Type)
		}
		v, err := run.Docker.VolumeInspect(ctx, m.Source, client.VolumeInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspect volume %s: %w", m.Source, err)
		}
		if !run.Owns(v.Volume.Labels) {
			return fmt.Errorf("mount volume %s: it is not labelled with run %s: refusing to touch it", m.Source, run.ID)
		}
	}
	return nil
}

// ExecOptions says how Exec runs a script.
type ExecOptions struct {
	User string   // "" runs as the container's user (root in firedrill's images)
	Env  []string // KEY=value, on top of TZ=UTC
}

// Exec runs a bash script in a running container under `set -euo pipefail`,
// with args as $1, $2, .... A non-zero exit is not an error here (see
// Result.Err and Script): the error is about Docker.
func Exec(ctx context.Context, ctr *testcontainers.DockerContainer, opts ExecOptions, script string, args ...string) (Result, error) {
	cmd := append([]string{"bash", "-c", "set -euo pipefail\n" + script, "firedrill"}, args...)
	eopts := []tcexec.ProcessOption{tcexec.WithEnv(append([]string{"TZ=UTC"}, opts.Env...))}
	if opts.User != "" {
		eopts = append(eopts, tcexec.WithUser(opts.User))
	}
	code, r, err := ctr.Exec(ctx, cmd, eopts...)
	if err != nil {
		return Result{}, fmt.Errorf("exec in %s: %w", ShortID(ctr), err)
	}
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, r); err != nil {
		return Result{}, fmt.Errorf("read exec output in %s: %w", ShortID(ctr), err)
	}
	return Result{ExitCode: code, Stdout: out.String(), Stderr: errb.String()}, nil
}

// Script is Exec that turns a non-zero exit into an error carrying the end of
// the command's standard error; it returns the standard output.
func Script(ctx context.Context, ctr *testcontainers.DockerContainer, opts ExecOptions, script string, args ...string) (string, error) {
	res, err := Exec(ctx, ctr, opts, script, args...)
	if err != nil {
		return "", err
	}
	return res.Stdout, res.Err()
}

// WriteFile writes data to path in the container atomically (a temporary file
// renamed over it), as user. The bytes travel as an argument, base64-encoded:
// it is meant for small files such as catalogues.
func WriteFile(ctx context.Context, ctr *testcontainers.DockerContainer, user, path string, data []byte) error {
	_, err := Script(ctx, ctr, ExecOptions{User: user}, `printf '%s' "$2" | base64 -d > "$1.tmp"; mv -f "$1.tmp" "$1"`, path, base64.StdEncoding.EncodeToString(data))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Tail returns the last n non-empty lines of s, joined by "; ", each line cut
// to 300 bytes, so that an error never carries a whole script or log.
func Tail(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 300 {
				l = l[:300] + "..."
			}
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

// ShortID names a container in messages.
func ShortID(ctr *testcontainers.DockerContainer) string {
	id := ctr.GetContainerID()
	if len(id) > 12 {
		id = id[:12]
	}
	return "container " + id
}
