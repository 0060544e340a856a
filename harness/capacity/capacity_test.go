package capacity

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMemAvailableReadsTheKernelsEstimate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "meminfo")
	if err := os.WriteFile(good, []byte("MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20480000 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := MemAvailable(good)
	if err != nil || got != 20480000*1024 {
		t.Fatalf("MemAvailable = %v, %v; want 20480000 KiB", got, err)
	}
	bad := filepath.Join(dir, "old")
	if err := os.WriteFile(bad, []byte("MemTotal: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := MemAvailable(bad); err == nil || !strings.Contains(err.Error(), "no MemAvailable line") {
		t.Fatalf("a meminfo without MemAvailable: %v", err)
	}
	if _, err := MemAvailable("/proc/meminfo"); err != nil {
		t.Fatalf("this machine's /proc/meminfo: %v", err)
	}
}

func TestProbeMeasuresOrSaysWhatItCouldNot(t *testing.T) {
	if free, err := FreeDisk(t.TempDir()); err != nil || free <= 0 {
		t.Fatalf("FreeDisk(temp dir) = %v, %v", free, err)
	}
	room, unknown := Probe(context.Background())
	if room.Memory <= 0 && len(unknown) == 0 {
		t.Fatal("no memory figure and no reason")
	}
	if room.Disk <= 0 && len(unknown) == 0 {
		t.Fatal("no disk figure and no reason")
	}
	if room.Disk > 0 && room.DiskAt == "" {
		t.Fatal("a disk figure without where it was measured")
	}
	t.Logf("room %+v, not measured: %v", room, unknown)
}
