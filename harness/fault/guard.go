package fault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/retry"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// postgres returns the stack's PostgreSQL, or nil.
func (e *Env) postgres() *stack.Postgres { return e.Stack.CurrentPostgres() }

// proxy returns the fault proxy: Env.Proxy, else the stack's own, or nil.
func (e *Env) proxy() *stack.Proxy {
	if e.Proxy != nil {
		return e.Proxy
	}
	if e.Stack != nil {
		return e.Stack.Proxy
	}
	return nil
}

// server returns the stack's sync server, or nil.
func (e *Env) server() *stack.Server { return e.Stack.CurrentServer() }

// componentID returns the container id of a named component of the stack, or
// false when target is not a component name.
func (e *Env) componentID(target string) (string, bool, error) {
	switch role(target) {
	case Postgres:
		pg := e.postgres()
		if pg == nil || pg.Container == nil {
			return "", true, errors.New("the environment has no stack with a PostgreSQL container")
		}
		return pg.Container.GetContainerID(), true, nil
	case Server:
		sd := e.server()
		if sd == nil || sd.Container == nil {
			return "", true, errors.New("the environment has no stack with a sync server container")
		}
		return sd.Container.GetContainerID(), true, nil
	case Proxy:
		if px := e.proxy(); px == nil || px.Container == nil {
			return "", true, errors.New("the environment has no fault proxy: start the stack WithProxy")
		}
		return e.proxy().ContainerID(), true, nil
	}
	return "", false, nil
}

// container resolves a target (a component name, or a container name or id) and
// returns the container if, and only if, it carries the run's labels.
func (e *Env) container(ctx context.Context, target string) (container.InspectResponse, error) {
	if target == "" {
		return container.InspectResponse{}, errors.New("no target given: name a role (postgres, server, proxy; syncd means the server) or a container of this run")
	}
	ref := target
	if id, ok, err := e.componentID(target); ok {
		if err != nil {
			return container.InspectResponse{}, fmt.Errorf("find %s: %w", target, err)
		}
		ref = id
	}
	res, err := e.Run.Docker.ContainerInspect(ctx, ref, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, fmt.Errorf("inspect container %s: %w", target, err)
	}
	c := res.Container
	var labels map[string]string
	if c.Config != nil {
		labels = c.Config.Labels
	}
	if !e.Run.Owns(labels) {
		return container.InspectResponse{}, fmt.Errorf("refuse container %s (%s): %w %s (its run label is %q)",
			target, strings.TrimPrefix(c.Name, "/"), ErrNotOwned, e.Run.ID, labels[stack.LabelRun])
	}
	return c, nil
}

// volume resolves a target (a component whose data volume is meant, or a volume
// name) and returns the volume if, and only if, it carries the run's labels.
func (e *Env) volume(ctx context.Context, target string) (stack.Volume, error) {
	name := target
	switch target {
	case "":
		return stack.Volume{}, errors.New("no target given: name a component (postgres) or a volume of this run")
	case Postgres:
		pg := e.postgres()
		if pg == nil {
			return stack.Volume{}, errors.New("find postgres data volume: the environment has no stack with PostgreSQL")
		}
		name = pg.Data.Name
	}
	res, err := e.Run.Docker.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		// A role of this run's volumes names the volume too: exactly, or as the
		// last part of a longer role ("backup" finds "stack-continuous-backup").
		if vols, lerr := e.Run.Volumes(ctx, ""); lerr == nil {
			var matches []stack.Volume
			for _, v := range vols {
				if v.Role == target || strings.HasSuffix(v.Role, "-"+target) {
					matches = append(matches, v)
				}
			}
			if len(matches) == 1 {
				return matches[0], nil
			}
			if len(matches) > 1 {
				names := make([]string, len(matches))
				for i, v := range matches {
					names[i] = v.Name
				}
				return stack.Volume{}, fmt.Errorf("find volume %s: %d volumes of this run have that role (%s): name one of them", target, len(matches), strings.Join(names, ", "))
			}
		}
		return stack.Volume{}, fmt.Errorf("inspect volume %s: %w", target, err)
	}
	labels := res.Volume.Labels
	if !e.Run.Owns(labels) {
		return stack.Volume{}, fmt.Errorf("refuse volume %s: %w %s (its run label is %q)", name, ErrNotOwned, e.Run.ID, labels[stack.LabelRun])
	}
	return stack.Volume{Name: name, Domain: labels[stack.LabelDomain], Role: labels[stack.LabelRole]}, nil
}

// network returns the named network if, and only if, it carries the run's labels.
func (e *Env) network(ctx context.Context, name string) error {
	res, err := e.Run.Docker.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect network %s: %w", name, err)
	}
	if !e.Run.Owns(res.Network.Labels) {
		return fmt.Errorf("refuse network %s: %w %s", name, ErrNotOwned, e.Run.ID)
	}
	return nil
}

// containersUsing lists the containers (running or not) that mount a volume.
func (e *Env) containersUsing(ctx context.Context, volume string) ([]container.Summary, error) {
	f := make(client.Filters).Add("volume", volume)
	res, err := e.Run.Docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers using %s: %w", volume, err)
	}
	out := res.Items
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ready waits until a target serves: PostgreSQL answers a query, syncd's /healthz
// answers 200, the proxy's control API answers; any other container runs.
func (e *Env) ready(ctx context.Context, target string) error {
	probe := func(ctx context.Context) error {
		c, err := e.container(ctx, target)
		if err != nil {
			return err
		}
		if c.State == nil || !c.State.Running || c.State.Paused || c.State.Restarting {
			return fmt.Errorf("container %s is not running", target)
		}
		switch role(target) {
		case Postgres:
			return pingPostgres(ctx, e.postgres())
		case Server:
			return e.server().Ping(ctx)
		case Proxy:
			return e.proxy().Ping(ctx)
		}
		return nil
	}
	return poll(ctx, probe)
}

// poll calls probe until it succeeds or ctx ends, each call bounded to 5 s,
// and then returns the last error.
func poll(ctx context.Context, probe func(context.Context) error) error {
	return retry.Until(ctx, 200*time.Millisecond, retry.PerTry(5*time.Second, func(ctx context.Context) (bool, error) {
		err := probe(ctx)
		return err == nil, err
	}))
}

func pingPostgres(ctx context.Context, p *stack.Postgres) error {
	dsn, err := p.DSN(ctx)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("query postgres: %w", err)
	}
	return nil
}
