package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// ContainerCPU returns the CPU time a running container has used since it
// started: its cgroup's counter (all its processes, user and system), read
// through the Docker stats API so that it works for FROM-scratch images and
// either cgroup version. Take it before and after a piece of work and divide
// the difference by the work done.
func ContainerCPU(ctx context.Context, docker client.APIClient, containerID string) (time.Duration, error) {
	res, err := docker.ContainerStats(ctx, containerID, client.ContainerStatsOptions{})
	if err != nil {
		return 0, fmt.Errorf("read CPU of container %.12s: %w", containerID, err)
	}
	defer res.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("read CPU of container %.12s: %w", containerID, err)
	}
	if st.CPUStats.CPUUsage.TotalUsage == 0 {
		return 0, fmt.Errorf("read CPU of container %.12s: no CPU counter (is it running?)", containerID)
	}
	return time.Duration(st.CPUStats.CPUUsage.TotalUsage), nil
}
