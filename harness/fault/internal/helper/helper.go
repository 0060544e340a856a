// Package helper runs one-shot commands in short-lived containers labelled with
// the run: the hands of the storage, migration and backup faults. A helper mounts
// the volumes it works on and runs a command from the firedrill/postgres image
// (bash, coreutils, rsync and the PostgreSQL tools), or from another image such as
// a user's own migration tool. It never mounts a volume the run does not own.
package helper

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Role is the role label of helper containers.
const Role = "fault-helper"

// Spec says what a helper runs.
type Spec struct {
	Image   string        // default: the firedrill/postgres image
	Cmd     []string      // the command and its arguments
	Env     []string      // KEY=value
	Mounts  []mount.Mount // volumes, each checked to belong to the run
	Network string        // a network of the run to join, or "" for none
	Timeout time.Duration // default 5 minutes
}

// Result is how a helper's command ended.
type Result struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// Err returns nil for exit code 0, else an error with the tail of stderr.
func (r Result) Err() error {
	if r.ExitCode == 0 {
		return nil
	}
	tail := strings.TrimSpace(r.Stderr)
	if tail == "" {
		tail = strings.TrimSpace(r.Stdout)
	}
	if len(tail) > 2000 {
		tail = "..." + tail[len(tail)-2000:]
	}
	return fmt.Errorf("exit code %d: %s", r.ExitCode, tail)
}

// Run runs the command in a new container labelled with the run, waits for it to
// end and removes it. The error is about Docker; how the command ended is in
// Result (see Result.Err).
func Run(ctx context.Context, run *stack.Run, spec Spec) (Result, error) {
	if len(spec.Cmd) == 0 {
		return Result{}, errors.New("run helper: no command given")
	}
	if spec.Image == "" {
		ref, err := images.Ref(images.Postgres)
		if err != nil {
			return Result{}, err
		}
		if err := images.Require(ctx, run.Docker, images.Postgres); err != nil {
			return Result{}, err
		}
		spec.Image = ref
	}
	if spec.Timeout == 0 {
		spec.Timeout = 5 * time.Minute
	}
	for _, m := range spec.Mounts {
		if m.Type != mount.TypeVolume {
			return Result{}, fmt.Errorf("run helper: mount of %s is of type %s: helpers mount only volumes of the run", m.Source, m.Type)
		}
		v, err := run.Docker.VolumeInspect(ctx, m.Source, client.VolumeInspectOptions{})
		if err != nil {
			return Result{}, fmt.Errorf("run helper: inspect volume %s: %w", m.Source, err)
		}
		if !run.Owns(v.Volume.Labels) {
			return Result{}, fmt.Errorf("run helper: volume %s is not labelled with run %s: refusing to mount it", m.Source, run.ID)
		}
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := run.Name("helper-" + hex.EncodeToString(b[:]))
	hc := &container.HostConfig{Mounts: spec.Mounts, NetworkMode: "none"}
	var nc *network.NetworkingConfig
	if spec.Network != "" {
		hc.NetworkMode = container.NetworkMode(spec.Network)
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{spec.Network: {}}}
	}
	created, err := run.Docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:             name,
		Config:           &container.Config{Image: spec.Image, Cmd: spec.Cmd, Env: spec.Env, Labels: run.Labels(Role)},
		HostConfig:       hc,
		NetworkingConfig: nc,
	})
	if err != nil {
		return Result{}, fmt.Errorf("create helper: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = run.Docker.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true})
	}()
	tctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	wait := run.Docker.ContainerWait(tctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := run.Docker.ContainerStart(tctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return Result{}, fmt.Errorf("start helper: %w", err)
	}
	var res Result
	select {
	case w := <-wait.Result:
		res.ExitCode = int(w.StatusCode)
		if w.Error != nil && w.Error.Message != "" {
			return res, fmt.Errorf("wait for helper: %s", w.Error.Message)
		}
	case err := <-wait.Error:
		return res, fmt.Errorf("wait for helper %s: %w", strings.Join(spec.Cmd, " "), err)
	}
	logs, err := run.Docker.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return res, fmt.Errorf("read helper output: %w", err)
	}
	defer logs.Close()
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, logs); err != nil {
		return res, fmt.Errorf("read helper output: %w", err)
	}
	res.Stdout, res.Stderr = out.String(), errOut.String()
	return res, nil
}

// Bash runs a bash script in a helper from the firedrill/postgres image, with args
// as $1, $2, ...: paths and values are passed as arguments, never spliced into
// the script. A non-zero exit is returned as an error.
func Bash(ctx context.Context, run *stack.Run, mounts []mount.Mount, script string, args ...string) (string, error) {
	cmd := append([]string{"bash", "-euo", "pipefail", "-c", script, "helper"}, args...)
	res, err := Run(ctx, run, Spec{Cmd: cmd, Mounts: mounts})
	if err != nil {
		return "", err
	}
	if err := res.Err(); err != nil {
		return res.Stdout, err
	}
	return res.Stdout, nil
}
