package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/client"
)

func init() {
	builtin(
		Entry{Name: "kill-9", Summary: "kill a component with SIGKILL; recover starts it again", New: newKill},
		Entry{Name: "graceful-restart", Summary: "stop a component with its stop signal (SIGTERM, or SIGINT for PostgreSQL); recover starts it again", New: newRestart},
		Entry{Name: "pause", Summary: "freeze a component (docker pause: its processes stop, its connections stay open); recover unpauses it", New: newPause},
	)
}

const componentTarget = "a component (postgres, syncd, proxy) or a container of this run"

// Kill kills a component's container with SIGKILL, as a crash or the OOM killer
// would; Recover starts it again (PostgreSQL runs crash recovery).
type Kill struct {
	Component string
	id        string
}

func newKill(spec Spec) (Fault, error) {
	t, err := target(spec, "", componentTarget)
	if err != nil {
		return nil, err
	}
	if err := newParams(spec).done(); err != nil {
		return nil, err
	}
	return &Kill{Component: t}, nil
}

// Name implements Fault.
func (f *Kill) Name() string { return "kill-9" }

// Target implements Fault.
func (f *Kill) Target() string { return f.Component }

// Inject implements Fault.
func (f *Kill) Inject(ctx context.Context, env *Env) error {
	c, err := env.container(ctx, f.Component)
	if err != nil {
		return err
	}
	f.id = c.ID
	if _, err := env.Run.Docker.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		return fmt.Errorf("kill %s: %w", f.Component, err)
	}
	return waitStopped(ctx, env, c.ID)
}

// Recover implements Fault.
func (f *Kill) Recover(ctx context.Context, env *Env) error {
	return startAgain(ctx, env, f.Component, f.id)
}

// Wait implements Fault.
func (f *Kill) Wait(ctx context.Context, env *Env) error { return env.ready(ctx, f.Component) }

// Restart stops a component gracefully with its stop signal, as an operator's
// restart or a deploy does; Recover starts it again. The time between the two is
// the maintenance window.
type Restart struct {
	Component string
	Timeout   time.Duration // how long the component may take to stop before SIGKILL
	id        string
}

func newRestart(spec Spec) (Fault, error) {
	t, err := target(spec, "", componentTarget)
	if err != nil {
		return nil, err
	}
	p := newParams(spec)
	f := &Restart{Component: t, Timeout: p.duration("timeout", 30*time.Second)}
	return f, p.done()
}

// Name implements Fault.
func (f *Restart) Name() string { return "graceful-restart" }

// Target implements Fault.
func (f *Restart) Target() string { return f.Component }

// Inject implements Fault.
func (f *Restart) Inject(ctx context.Context, env *Env) error {
	c, err := env.container(ctx, f.Component)
	if err != nil {
		return err
	}
	f.id = c.ID
	secs := int(f.Timeout / time.Second)
	if secs == 0 {
		secs = 30
	}
	if _, err := env.Run.Docker.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stop %s: %w", f.Component, err)
	}
	return waitStopped(ctx, env, c.ID)
}

// Recover implements Fault.
func (f *Restart) Recover(ctx context.Context, env *Env) error {
	return startAgain(ctx, env, f.Component, f.id)
}

// Wait implements Fault.
func (f *Restart) Wait(ctx context.Context, env *Env) error { return env.ready(ctx, f.Component) }

// Pause freezes a component (the cgroup freezer): it answers nothing, yet its
// connections stay open, as with a stalled VM or a long GC pause; Recover
// unpauses it.
type Pause struct {
	Component string
	id        string
}

func newPause(spec Spec) (Fault, error) {
	t, err := target(spec, "", componentTarget)
	if err != nil {
		return nil, err
	}
	if err := newParams(spec).done(); err != nil {
		return nil, err
	}
	return &Pause{Component: t}, nil
}

// Name implements Fault.
func (f *Pause) Name() string { return "pause" }

// Target implements Fault.
func (f *Pause) Target() string { return f.Component }

// Inject implements Fault.
func (f *Pause) Inject(ctx context.Context, env *Env) error {
	c, err := env.container(ctx, f.Component)
	if err != nil {
		return err
	}
	f.id = c.ID
	if _, err := env.Run.Docker.ContainerPause(ctx, c.ID, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", f.Component, err)
	}
	return nil
}

// Recover implements Fault.
func (f *Pause) Recover(ctx context.Context, env *Env) error {
	if f.id == "" {
		return nil
	}
	c, err := env.container(ctx, f.id)
	if err != nil {
		return err
	}
	if c.State != nil && !c.State.Paused {
		return nil
	}
	if _, err := env.Run.Docker.ContainerUnpause(ctx, c.ID, client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause %s: %w", f.Component, err)
	}
	return nil
}

// Wait implements Fault.
func (f *Pause) Wait(ctx context.Context, env *Env) error { return env.ready(ctx, f.Component) }

// waitStopped returns once a container no longer runs.
func waitStopped(ctx context.Context, env *Env, id string) error {
	return poll(ctx, func(ctx context.Context) error {
		res, err := env.Run.Docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return err
		}
		if res.Container.State != nil && res.Container.State.Running {
			return fmt.Errorf("container %s still runs", id[:12])
		}
		return nil
	})
}

// startAgain starts a stopped container of the run (the one injected into, when
// known, else the component's current one).
func startAgain(ctx context.Context, env *Env, component, id string) error {
	ref := id
	if ref == "" {
		ref = component
	}
	c, err := env.container(ctx, ref)
	if err != nil {
		return err
	}
	if c.State != nil && c.State.Running {
		return nil
	}
	if _, err := env.Run.Docker.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", component, err)
	}
	return nil
}
