package stack

import "github.com/testcontainers/testcontainers-go"

// Track registers a container that another package started with this run's
// labels (a backup agent, a restore helper), so that CollectLogs includes its
// logs. Its labels already make Close remove it.
func (r *Run) Track(c testcontainers.Container) { r.track(c) }
