package tools

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// idleCommand keeps a box alive, and lets it stop at once on SIGTERM.
var idleCommand = []string{"bash", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"}

// Box is an idle container of the firedrill/postgres image in which many
// commands run as execs (see Exec and Script): a backup agent, a restore's
// workbench.
type Box struct {
	Container *testcontainers.DockerContainer
}

// BoxSpec says how to start a box.
type BoxSpec struct {
	Name    string // container name, unique on the daemon (e.g. run.Name("backup-agent"))
	Network string // a network of the run to join, or "" for none
	Alias   string // its host name on that network
	Role    string // role label
	Mounts  []mount.Mount
}

// StartBox starts an idle box labelled with the run, refusing a mount of a
// volume the run does not own.
func StartBox(ctx context.Context, run *stack.Run, spec BoxSpec) (*Box, error) {
	if err := checkMounts(ctx, run, spec.Mounts); err != nil {
		return nil, fmt.Errorf("start %s container: %w", spec.Role, err)
	}
	ref, err := images.Ref(images.Postgres)
	if err != nil {
		return nil, err
	}
	if err := images.Require(ctx, run.Docker, images.Postgres); err != nil {
		return nil, err
	}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithName(spec.Name),
		testcontainers.WithLabels(run.Labels(spec.Role)),
		testcontainers.WithCmd(idleCommand...),
		testcontainers.WithEnv(map[string]string{"TZ": "UTC"}),
		testcontainers.WithHostConfigModifier(func(h *container.HostConfig) { h.Mounts = append(h.Mounts, spec.Mounts...) }),
	}
	if spec.Network != "" {
		opts = append(opts, tcnetwork.WithNetworkName([]string{spec.Alias}, spec.Network))
	} else {
		opts = append(opts, testcontainers.WithHostConfigModifier(func(h *container.HostConfig) { h.NetworkMode = "none" }))
	}
	ctr, err := testcontainers.Run(ctx, ref, opts...)
	if ctr != nil {
		run.Track(ctr)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s container %s: %w", spec.Role, spec.Name, err)
	}
	return &Box{Container: ctr}, nil
}

// Exec runs a script in the box (see Exec).
func (b *Box) Exec(ctx context.Context, opts ExecOptions, script string, args ...string) (Result, error) {
	return Exec(ctx, b.Container, opts, script, args...)
}

// Script runs a script in the box and fails on a non-zero exit (see Script).
func (b *Box) Script(ctx context.Context, opts ExecOptions, script string, args ...string) (string, error) {
	return Script(ctx, b.Container, opts, script, args...)
}

// Terminate removes the box (never its named volumes); again, it does nothing.
func (b *Box) Terminate(ctx context.Context) error {
	if b == nil || b.Container == nil {
		return nil
	}
	if err := b.Container.Terminate(ctx, testcontainers.StopTimeout(5*time.Second)); err != nil {
		return fmt.Errorf("remove %s: %w", ShortID(b.Container), err)
	}
	b.Container = nil
	return nil
}
