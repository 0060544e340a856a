package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/client"
)

// RemoveStack removes one stack of the run before the run ends (a side stack
// that proved a backup restores, say): every container of the run attached to
// its network, the network, and its PostgreSQL's data volume. Objects of other
// stacks, and anything not labelled with the run, are left alone.
func (r *Run) RemoveStack(ctx context.Context, s *Stack) (Counts, error) {
	var n Counts
	if s == nil || s.Network == "" {
		return n, nil
	}
	f := make(client.Filters).Add("label", LabelProject+"=true").Add("label", LabelRun+"="+r.ID).Add("network", s.Network)
	cs, err := r.Docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return n, fmt.Errorf("list containers of stack %s: %w", s.Network, err)
	}
	var errs []error
	for _, c := range cs.Items {
		if !r.Owns(c.Labels) {
			continue
		}
		if _, err := r.Docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
			continue
		}
		n.Containers++
	}
	if nw, err := r.Docker.NetworkInspect(ctx, s.Network, client.NetworkInspectOptions{}); err == nil && r.Owns(nw.Network.Labels) {
		if _, err := r.Docker.NetworkRemove(ctx, s.Network, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", s.Network, err))
		} else {
			n.Networks++
		}
	}
	if pg := s.CurrentPostgres(); pg != nil && pg.Data.Name != "" {
		if v, err := r.Docker.VolumeInspect(ctx, pg.Data.Name, client.VolumeInspectOptions{}); err == nil && r.Owns(v.Volume.Labels) {
			if _, err := r.Docker.VolumeRemove(ctx, pg.Data.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("remove volume %s: %w", pg.Data.Name, err))
			} else {
				n.Volumes++
			}
		}
	}
	r.mu.Lock()
	r.removed = r.removed.add(n)
	r.mu.Unlock()
	return n, errors.Join(errs...)
}
