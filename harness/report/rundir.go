package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The files of a run directory.
const (
	ReportFile = "report.json"
	HTMLFile   = "index.html"
	JUnitFile  = "junit.xml"
	LedgerFile = "ledger.bin"
	// ObservationFile holds what the observer read back, one user per line
	// (model.ObservationWriter); LegacyObservationFile is the whole-observation
	// JSON that runs before it saved.
	ObservationFile       = "observation.jsonl"
	LegacyObservationFile = "observation.json"
	LogsDir               = "logs"
	// LatestLink is the symbolic link in the reports root that names the newest run.
	LatestLink = "latest"
)

// RunDir is one run's directory, reports/<run-id>/.
type RunDir struct {
	Root string // the reports root, e.g. "reports"
	ID   string // the run ID, the directory's name
	Path string // Root/ID
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// NewRunID returns a run ID that sorts by time and says what ran, e.g.
// "20260102-150405-sidekick-san-migration-s42".
func NewRunID(scenario string, seed int64, at time.Time) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, scenario)
	if name == "" {
		name = "run"
	}
	return fmt.Sprintf("%s-%s-s%d", at.UTC().Format("20060102-150405"), name, seed)
}

// NewRunDir creates root/runID (and its logs directory) and points root/latest
// at it. The run ID must be a plain name; the directory must not exist yet, so
// that no earlier run is overwritten.
func NewRunDir(root, runID string) (*RunDir, error) {
	if !runIDPattern.MatchString(runID) || runID == LatestLink {
		return nil, fmt.Errorf("create run directory: run ID %q must be a plain name of letters, digits, '.', '_', '+' and '-' (not %q): use report.NewRunID", runID, LatestLink)
	}
	if root == "" {
		return nil, errors.New("create run directory: reports root is empty: pass e.g. \"reports\"")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create reports root: %w", err)
	}
	d := &RunDir{Root: root, ID: runID, Path: filepath.Join(root, runID)}
	if err := os.Mkdir(d.Path, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create run directory: %s already exists: pick a new run ID or open it with report.OpenRunDir", d.Path)
		}
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	if err := os.Mkdir(d.LogsDir(), 0o755); err != nil {
		return nil, fmt.Errorf("create logs directory: %w", err)
	}
	if err := d.MarkLatest(); err != nil {
		return nil, err
	}
	return d, nil
}

// OpenRunDir opens an existing run directory, e.g. to re-render it. path may
// also be the reports root's "latest" link.
func OpenRunDir(path string) (*RunDir, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("open run directory: %w", err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("open run directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open run directory: %s is not a directory: pass reports/<run-id>", path)
	}
	return &RunDir{Root: filepath.Dir(real), ID: filepath.Base(real), Path: real}, nil
}

// MarkLatest points root/latest at this run. The link is relative, so the
// reports directory can be moved or archived whole, and it is replaced
// atomically: a new link is made under a temporary name and renamed over it.
func (d *RunDir) MarkLatest() error {
	latest := filepath.Join(d.Root, LatestLink)
	if st, err := os.Lstat(latest); err == nil && st.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("point %s at %s: it exists and is not a symbolic link: remove or rename it", latest, d.ID)
	}
	tmp := filepath.Join(d.Root, fmt.Sprintf(".%s.%d.%d", LatestLink, os.Getpid(), time.Now().UnixNano()))
	if err := os.Symlink(d.ID, tmp); err != nil {
		return fmt.Errorf("point %s at %s: %w", latest, d.ID, err)
	}
	if err := os.Rename(tmp, latest); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("point %s at %s: %w", latest, d.ID, err)
	}
	return nil
}

// ReportPath returns the path of report.json.
func (d *RunDir) ReportPath() string { return filepath.Join(d.Path, ReportFile) }

// HTMLPath returns the path of index.html.
func (d *RunDir) HTMLPath() string { return filepath.Join(d.Path, HTMLFile) }

// JUnitPath returns the path of junit.xml.
func (d *RunDir) JUnitPath() string { return filepath.Join(d.Path, JUnitFile) }

// LedgerPath returns where the run's ledger is kept.
func (d *RunDir) LedgerPath() string { return filepath.Join(d.Path, LedgerFile) }

// ObservationPath returns where what the observer read back is kept: the
// stream, or in a run saved before it, the legacy whole-observation file.
func (d *RunDir) ObservationPath() string {
	p := filepath.Join(d.Path, ObservationFile)
	if _, err := os.Stat(p); err != nil {
		if old := filepath.Join(d.Path, LegacyObservationFile); fileExists(old) {
			return old
		}
	}
	return p
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// LogsDir returns the directory for container logs.
func (d *RunDir) LogsDir() string { return filepath.Join(d.Path, LogsDir) }

// LogPath returns the log file for one container, e.g. "postgres" ->
// logs/postgres.log. Characters that cannot be in a file name become '_'.
func (d *RunDir) LogPath(container string) string {
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, strings.TrimLeft(container, "/."))
	if name == "" {
		name = "container"
	}
	return filepath.Join(d.LogsDir(), name+".log")
}

// Save writes r to report.json, atomically (a temporary file renamed over it).
func (d *RunDir) Save(r *Report) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("save report: %w", err)
	}
	if r.Schema == 0 {
		r.Schema = SchemaVersion
	}
	if r.RunID == "" {
		r.RunID = d.ID
	}
	b, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return fmt.Errorf("save report: %w", err)
	}
	if err := writeFileAtomic(d.ReportPath(), append(b, '\n')); err != nil {
		return fmt.Errorf("save report: %w", err)
	}
	return nil
}

// Load reads report.json back from the run directory.
func (d *RunDir) Load() (*Report, error) { return LoadFile(d.ReportPath()) }

// LoadFile reads a report.json, or the report.json of a run directory.
func LoadFile(path string) (*Report, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, ReportFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load report: %w", err)
	}
	var r Report
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("load report %s: %w", path, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("load report %s: %w", path, err)
	}
	return &r, nil
}

// Write saves r and renders it: report.json, index.html and junit.xml. It first
// limits the verdicts kept (see Limit, MaxUserVerdicts and MaxItemsPerUser) and
// lists the run directory's files (ledger, observation, logs) in the report, so
// the page links to them. Use it at the end of a run and to re-render a saved one.
func (d *RunDir) Write(r *Report) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("write run directory: %w", err)
	}
	r.Limit(MaxUserVerdicts, MaxItemsPerUser)
	arts, err := d.artifacts()
	if err != nil {
		return fmt.Errorf("write run directory: %w", err)
	}
	r.Artifacts = arts
	if err := d.Save(r); err != nil {
		return err
	}
	var page bytes.Buffer
	if err := RenderHTML(&page, r); err != nil {
		return fmt.Errorf("write run directory: %w", err)
	}
	if err := writeFileAtomic(d.HTMLPath(), page.Bytes()); err != nil {
		return fmt.Errorf("write index.html: %w", err)
	}
	x, err := JUnit(r)
	if err != nil {
		return fmt.Errorf("write run directory: %w", err)
	}
	if err := writeFileAtomic(d.JUnitPath(), x); err != nil {
		return fmt.Errorf("write junit.xml: %w", err)
	}
	return nil
}

// artifacts lists the run directory's data files and logs.
func (d *RunDir) artifacts() ([]Artifact, error) {
	var out []Artifact
	add := func(name, rel string) {
		if st, err := os.Stat(filepath.Join(d.Path, rel)); err == nil && st.Mode().IsRegular() {
			out = append(out, Artifact{Name: name, Path: filepath.ToSlash(rel), Bytes: st.Size()})
		}
	}
	add("Ledger of writes", LedgerFile)
	add("Observation read back", ObservationFile)
	add("Observation read back", LegacyObservationFile)
	logs, err := os.ReadDir(d.LogsDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	for _, e := range logs {
		if e.Type().IsRegular() {
			add("Log "+strings.TrimSuffix(e.Name(), ".log"), filepath.Join(LogsDir, e.Name()))
		}
	}
	return out, nil
}

// writeFileAtomic writes b to a temporary file beside path and renames it over path.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
