// Package capacity measures what this machine has free for a drill (disk
// where Docker keeps its volumes, available memory), so that a profile too
// large for it is refused before any container starts.
package capacity

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"github.com/firedrill/firedrill/harness/engine"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// Probe returns the room this machine has: free disk under the Docker
// Engine's root directory (when the engine runs on this host, where the
// harness can see it) and available memory. A figure it cannot measure is
// zero, with the reason in unknown.
func Probe(ctx context.Context) (room profile.Room, unknown []string) {
	if mem, err := MemAvailable("/proc/meminfo"); err != nil {
		unknown = append(unknown, fmt.Sprintf("available memory (%v)", err))
	} else {
		room.Memory = mem
	}
	dir, err := dockerRoot(ctx)
	if err != nil {
		unknown = append(unknown, fmt.Sprintf("free disk (%v)", err))
		return room, unknown
	}
	free, err := FreeDisk(dir)
	if err != nil {
		unknown = append(unknown, fmt.Sprintf("free disk at %s (%v; is the Docker Engine on another host?)", dir, err))
		return room, unknown
	}
	room.Disk, room.DiskAt = free, dir
	return room, unknown
}

func dockerRoot(ctx context.Context) (string, error) {
	cli, err := engine.Client(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", fmt.Errorf("ask docker for its root directory: %w", err)
	}
	if info.Info.DockerRootDir == "" {
		return "", fmt.Errorf("docker did not say where it keeps its data")
	}
	return info.Info.DockerRootDir, nil
}

// FreeDisk returns the bytes an unprivileged writer may still use on the file
// system holding dir.
func FreeDisk(dir string) (float64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return float64(st.Bavail) * float64(st.Bsize), nil
}

// MemAvailable returns MemAvailable from a meminfo file (/proc/meminfo): the
// kernel's estimate of memory available without swapping.
func MemAvailable(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read meminfo: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("read meminfo: unexpected MemAvailable line %q", sc.Text())
		}
		kb, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("read meminfo: %w", err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read meminfo: %w", err)
	}
	return 0, fmt.Errorf("read meminfo: no MemAvailable line in %s", path)
}
