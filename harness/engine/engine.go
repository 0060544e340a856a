// Package engine connects firedrill to the Docker Engine the same way on every
// machine: a developer's laptop, a CI runner, or a sandbox with no registry. It
// settles testcontainers' configuration before its first use (no Ryuk reaper when
// its image is absent, the host address when running inside a container), and turns
// an unreachable daemon into an error that says what to do.
package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// ReaperImage is the Ryuk image testcontainers would start to reap containers.
const ReaperImage = "testcontainers/ryuk:0.14.0"

// ErrUnreachable reports that no Docker daemon answered.
var ErrUnreachable = errors.New("docker daemon unreachable")

var (
	configureOnce sync.Once
	configureErr  error
	configured    Settings
)

// Settings records how Configure set testcontainers up, for logs and reports.
type Settings struct {
	ReaperDisabled bool   // Ryuk is off; firedrill sweeps its own objects by label
	HostOverride   string // the address used to reach published ports, if overridden
}

// Configure decides, once per process, how testcontainers reaches Docker here. It
// must run before any other testcontainers call; Client and the stack call it.
// Variables the user set win; firedrill only fills in what is missing:
//   - TESTCONTAINERS_RYUK_DISABLED=true when the reaper image is not present locally
//     (it cannot be pulled without a registry); firedrill's sweeper cleans up instead.
//   - TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 when this process runs inside a container
//     (/.dockerenv) and talks to a local socket, where testcontainers would otherwise
//     pick the unreachable gateway address.
func Configure(ctx context.Context) (Settings, error) {
	configureOnce.Do(func() { configured, configureErr = configure(ctx) })
	return configured, configureErr
}

func configure(ctx context.Context) (Settings, error) {
	var s Settings
	// testcontainers logs a banner and every container's life to stderr, which
	// buries a drill's narration; FIREDRILL_DEBUG=1 brings it back.
	if os.Getenv("FIREDRILL_DEBUG") == "" {
		tclog.SetDefault(tclog.NewNoopLogger())
	}
	raw, err := client.New(client.FromEnv)
	if err != nil {
		return s, fmt.Errorf("create docker client: %w", err)
	}
	defer raw.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := raw.Ping(pingCtx, client.PingOptions{}); err != nil {
		return s, fmt.Errorf("%w at %s: %v\n  firedrill needs a running Docker Engine: start it (e.g. `sudo systemctl start docker`) or point DOCKER_HOST at one", ErrUnreachable, raw.DaemonHost(), err)
	}
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
		if _, err := raw.ImageInspect(ctx, ReaperImage); err != nil {
			os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
	}
	s.ReaperDisabled = os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "true"
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !set && insideContainer() && localSocket(raw.DaemonHost()) {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
	s.HostOverride = os.Getenv("TESTCONTAINERS_HOST_OVERRIDE")
	return s, nil
}

func insideContainer() bool {
	_, err := os.Stat("/.dockerenv")
	return err == nil
}

func localSocket(host string) bool {
	return host == "" || strings.HasPrefix(host, "unix://") || strings.HasPrefix(host, "npipe://")
}

// Client configures testcontainers (see Configure) and returns the Docker client it
// exposes, for what testcontainers cannot do itself: volumes, pause, kill, network
// disconnect, image builds. The caller closes it.
func Client(ctx context.Context) (*testcontainers.DockerClient, error) {
	if _, err := Configure(ctx); err != nil {
		return nil, err
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect docker: %w", err)
	}
	return cli, nil
}
