package stack

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/firedrill/firedrill/harness/images"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// RoleKeeper is the role of the container that holds a size-limited volume mounted.
const RoleKeeper = "volume-keeper"

// MinVolumeSize is the smallest size CreateSizedVolume accepts: a fresh PostgreSQL
// cluster with one WAL segment needs about 40 MiB.
const MinVolumeSize = 64 << 20

// CreateSizedVolume makes a labelled volume for role in the failure domain that
// holds at most size bytes, so that filling it makes writes fail with ENOSPC
// without filling the host's disk, which every Docker volume otherwise shares.
//
// The volume is a tmpfs (the local driver with type=tmpfs and size=): the only
// size limit the local driver offers without privileges on the host. Docker
// unmounts such a volume, and so loses its contents, when the last container
// using it stops; a keeper container (role RoleKeeper, in the same failure
// domain) therefore keeps it mounted for the run's lifetime, so the data survives
// the database's restarts. Removing the keeper, as losing the domain does,
// destroys the data. The contents live in memory: keep size modest.
func (r *Run) CreateSizedVolume(ctx context.Context, role, domain string, size int64) (Volume, error) {
	if size < MinVolumeSize {
		return Volume{}, fmt.Errorf("create sized volume %s: size %d bytes is below the minimum of %d (64 MiB): a PostgreSQL cluster does not fit", role, size, int64(MinVolumeSize))
	}
	ref, err := images.Ref(images.Postgres)
	if err != nil {
		return Volume{}, err
	}
	if err := images.Require(ctx, r.Docker, images.Postgres); err != nil {
		return Volume{}, err
	}
	labels := r.Labels(role)
	labels[LabelDomain] = domain
	v := Volume{Name: r.Name(role + "-" + domain), Domain: domain, Role: role}
	if _, err := r.Docker.VolumeCreate(ctx, client.VolumeCreateOptions{
		Name:       v.Name,
		Driver:     "local",
		DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=" + strconv.FormatInt(size, 10)},
		Labels:     labels,
	}); err != nil {
		return Volume{}, fmt.Errorf("create volume %s: %w", v.Name, err)
	}
	keeperLabels := r.Labels(RoleKeeper)
	keeperLabels[LabelDomain] = domain
	created, err := r.Docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       v.Name + "-keeper",
		Config:     &container.Config{Image: ref, Cmd: []string{"sleep", "infinity"}, Labels: keeperLabels},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{v.Mount("/keep", false)}, NetworkMode: "none"},
	})
	if err != nil {
		return Volume{}, fmt.Errorf("create keeper of volume %s: %w", v.Name, err)
	}
	if _, err := r.Docker.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return Volume{}, fmt.Errorf("start keeper of volume %s: %w", v.Name, err)
	}
	return v, nil
}

// VolumeSize returns the size limit of a volume made by CreateSizedVolume, or 0
// when the volume has none (it shares the host's disk).
func (r *Run) VolumeSize(ctx context.Context, name string) (int64, error) {
	res, err := r.Docker.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return 0, fmt.Errorf("inspect volume %s: %w", name, err)
	}
	opts := res.Volume.Options
	if opts["type"] != "tmpfs" {
		return 0, nil
	}
	for _, o := range strings.Split(opts["o"], ",") {
		if v, ok := strings.CutPrefix(o, "size="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read size of volume %s: option %q: %w", name, o, err)
			}
			return n, nil
		}
	}
	return 0, nil
}
