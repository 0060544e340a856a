package tools

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// RoleOneShot is the role label of one-shot containers.
const RoleOneShot = "tool"

// Spec says what a one-shot container runs.
type Spec struct {
	Image   string        // default: the firedrill/postgres image (bash, coreutils, rsync, the PostgreSQL tools)
	Cmd     []string      // the command and its arguments
	Env     []string      // KEY=value
	Mounts  []mount.Mount // volumes, each checked to belong to the run
	Network string        // a network of the run to join, or "" for none
	Timeout time.Duration // default 5 minutes
	Role    string        // role label (default RoleOneShot)
}

// OneShot runs the command in a new container labelled with the run, waits for
// it to end and removes it. The error is about Docker (or a mount the run does
// not own); how the command ended is in Result (see Result.Err).
func OneShot(ctx context.Context, run *stack.Run, spec Spec) (Result, error) {
	if len(spec.Cmd) == 0 {
		return Result{}, errors.New("run one-shot container: no command given")
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
	if spec.Role == "" {
		spec.Role = RoleOneShot
	}
	if err := checkMounts(ctx, run, spec.Mounts); err != nil {
		return Result{}, fmt.Errorf("run one-shot container: %w", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := run.Name(spec.Role + "-" + hex.EncodeToString(b[:]))
	hc := &container.HostConfig{Mounts: spec.Mounts, NetworkMode: "none"}
	var nc *network.NetworkingConfig
	if spec.Network != "" {
		hc.NetworkMode = container.NetworkMode(spec.Network)
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{spec.Network: {}}}
	}
	created, err := run.Docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:             name,
		Config:           &container.Config{Image: spec.Image, Cmd: spec.Cmd, Env: spec.Env, Labels: run.Labels(spec.Role)},
		HostConfig:       hc,
		NetworkingConfig: nc,
	})
	if err != nil {
		return Result{}, fmt.Errorf("create one-shot container: %w", err)
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
		return Result{}, fmt.Errorf("start one-shot container: %w", err)
	}
	var res Result
	select {
	case w := <-wait.Result:
		res.ExitCode = int(w.StatusCode)
		if w.Error != nil && w.Error.Message != "" {
			return res, fmt.Errorf("wait for one-shot container %s: %s", spec.Cmd[0], w.Error.Message)
		}
	case err := <-wait.Error:
		// The command line can be a whole script: name only its program.
		return res, fmt.Errorf("wait for one-shot container %s: %w", spec.Cmd[0], err)
	}
	logs, err := run.Docker.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return res, fmt.Errorf("read one-shot container output: %w", err)
	}
	defer logs.Close()
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, logs); err != nil {
		return res, fmt.Errorf("read one-shot container output: %w", err)
	}
	res.Stdout, res.Stderr = out.String(), errOut.String()
	return res, nil
}

// Bash runs a bash script in a one-shot container of the firedrill/postgres
// image under `set -euo pipefail`, with args as $1, $2, ...: paths and values
// are passed as arguments, never spliced into the script. A non-zero exit is
// returned as an error; the standard output is returned either way.
func Bash(ctx context.Context, run *stack.Run, mounts []mount.Mount, script string, args ...string) (string, error) {
	cmd := append([]string{"bash", "-euo", "pipefail", "-c", script, "tool"}, args...)
	res, err := OneShot(ctx, run, Spec{Cmd: cmd, Mounts: mounts})
	if err != nil {
		return "", err
	}
	return res.Stdout, res.Err()
}
