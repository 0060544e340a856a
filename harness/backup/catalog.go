package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"time"

	"github.com/firedrill/firedrill/harness/backup/wal"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/tools"
	"github.com/moby/moby/api/types/mount"
)

// CatalogFile is the catalogue's file name in its directory on the backup volume.
const CatalogFile = "catalog.json"

// catalogVersion is the catalogue format; Decode refuses others.
const catalogVersion = 1

// Method is how a backup was taken.
type Method string

// The backup methods.
const (
	// MethodBase is a physical base backup by pg_basebackup, plain format, with a
	// backup manifest carrying SHA-256 checksums of every file.
	MethodBase Method = "base-backup"
	// MethodDump is a logical dump by pg_dump, custom format.
	MethodDump Method = "dump"
)

// Status is the outcome of verifying a backup.
type Status string

// The verification outcomes.
const (
	Unverified Status = "unverified"
	Good       Status = "good"
	Bad        Status = "bad"
)

// Verification records when a backup was last checked and what was found.
type Verification struct {
	Status Status    `json:"status"`
	Reason string    `json:"reason,omitempty"` // why it is bad, in the tool's words
	At     time.Time `json:"at,omitzero"`
}

// Entry is one backup in the catalogue.
type Entry struct {
	ID     string `json:"id"`
	Method Method `json:"method"`
	// Path is the backup's directory (base backups) or file (dumps), relative to
	// the root of the volume that holds it.
	Path  string    `json:"path"`
	Start time.Time `json:"start"`
	Stop  time.Time `json:"stop"`
	// StartLSN and StopLSN bound the WAL a base backup needs to be consistent
	// (its manifest's WAL range); a dump records the server's position when it
	// finished, for ordering only.
	StartLSN wal.LSN `json:"start_lsn"`
	StopLSN  wal.LSN `json:"stop_lsn"`
	Timeline uint32  `json:"timeline,omitempty"`
	// WALIncluded says the backup carries the WAL of its own range (pg_basebackup
	// -X stream) and so restores without an archive.
	WALIncluded bool   `json:"wal_included,omitempty"`
	SegmentSize uint64 `json:"wal_segment_size,omitempty"`
	SystemID    string `json:"system_id,omitempty"`
	Size        int64  `json:"size"`             // bytes on the backup volume
	SHA256      string `json:"sha256,omitempty"` // of a dump file, taken when it was written
	Verification
}

// RestorePoint is a named point made by pg_create_restore_point.
type RestorePoint struct {
	Name string    `json:"name"`
	LSN  wal.LSN   `json:"lsn"`
	Time time.Time `json:"time"`
}

// WALArchive describes the continuous WAL archive of a catalogue.
type WALArchive struct {
	Path            string `json:"path"` // directory relative to the volume root
	Slot            string `json:"slot"`
	ApplicationName string `json:"application_name"`
	Synchronous     bool   `json:"synchronous"`
}

// Catalog lists what a strategy's session backed up, where, and how to reach the
// database it came from. It is kept as JSON beside the backups (so that the
// backups alone are enough to restore) and returned as a value.
type Catalog struct {
	Version  int          `json:"version"`
	Strategy Strategy     `json:"strategy"`
	Volume   stack.Volume `json:"volume"` // the volume the backups live on
	// Dir is the catalogue's directory relative to the volume root.
	Dir string `json:"dir"`
	// Source names the database backed up, as "<network>/<alias>".
	Source   string `json:"source"`
	Database string `json:"database"`
	User     string `json:"user"`
	// Password is the superuser's password of the backed-up cluster, which a
	// physical restore keeps. It is not written to the volume.
	Password      string         `json:"-"`
	WAL           *WALArchive    `json:"wal,omitempty"`
	Backups       []Entry        `json:"backups"`
	RestorePoints []RestorePoint `json:"restore_points"`
	Updated       time.Time      `json:"updated"`
}

// clone returns a deep copy, so that callers never share slices with a session.
func (c Catalog) clone() Catalog {
	c.Backups = append([]Entry(nil), c.Backups...)
	c.RestorePoints = append([]RestorePoint(nil), c.RestorePoints...)
	if c.WAL != nil {
		w := *c.WAL
		c.WAL = &w
	}
	return c
}

// Find returns the backup with that id.
func (c Catalog) Find(id string) (Entry, bool) {
	for _, e := range c.Backups {
		if e.ID == id {
			return e, true
		}
	}
	return Entry{}, false
}

// FindRestorePoint returns the restore point with that name.
func (c Catalog) FindRestorePoint(name string) (RestorePoint, bool) {
	for _, rp := range c.RestorePoints {
		if rp.Name == name {
			return rp, true
		}
	}
	return RestorePoint{}, false
}

// NewestFirst returns the backups, newest first.
func (c Catalog) NewestFirst() []Entry {
	out := append([]Entry(nil), c.Backups...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Stop.After(out[j].Stop) })
	return out
}

// Encode returns the catalogue as indented JSON.
func (c Catalog) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode catalogue: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeCatalog parses a catalogue written by Encode.
func DecodeCatalog(b []byte) (Catalog, error) {
	var c Catalog
	if err := json.Unmarshal(b, &c); err != nil {
		return Catalog{}, fmt.Errorf("decode catalogue: %w", err)
	}
	if c.Version != catalogVersion {
		return Catalog{}, fmt.Errorf("decode catalogue: version %d, this firedrill reads version %d", c.Version, catalogVersion)
	}
	if err := c.Strategy.Validate(); err != nil {
		return Catalog{}, fmt.Errorf("decode catalogue: %w", err)
	}
	return c, nil
}

// LoadCatalog reads the catalogue kept in dir on a volume (dir is "" for a backup
// agent's volume, "dumps" for dump-same-volume), through a short-lived container
// that mounts the volume read-only. The result has no Password: pass it to
// Restore with WithPassword.
func LoadCatalog(ctx context.Context, run *stack.Run, vol stack.Volume, dir string) (Catalog, error) {
	tb, err := tools.StartBox(ctx, run, tools.BoxSpec{
		Name:   run.Name("catalog-reader-" + fmt.Sprint(nextSeq())),
		Role:   "backup",
		Mounts: []mount.Mount{vol.Mount(artifactMount, true)},
	})
	if err != nil {
		return Catalog{}, fmt.Errorf("load catalogue: %w", err)
	}
	defer tb.Terminate(context.WithoutCancel(ctx))
	out, err := tb.Script(ctx, tools.ExecOptions{}, `cat "$1"`, path.Join(artifactMount, dir, CatalogFile))
	if err != nil {
		return Catalog{}, fmt.Errorf("load catalogue from volume %s: %w", vol.Name, err)
	}
	return DecodeCatalog([]byte(out))
}
