package backup

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/backup/wal"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/timeline"
)

func TestRegistry(t *testing.T) {
	for _, name := range []string{"continuous", "continuous-async", "base-only", "dump-same-volume"} {
		s, err := Lookup(name)
		if err != nil || s.Name != name {
			t.Errorf("Lookup(%q) = %+v, %v", name, s, err)
		}
	}
	if _, err := Lookup("nightly-tape"); err == nil || !strings.Contains(err.Error(), "continuous") {
		t.Errorf("Lookup of an unknown name: %v (want the known names listed)", err)
	}
	if err := Register(Continuous); err == nil {
		t.Error("a second continuous was registered")
	}
	if Continuous.domain() != stack.DomainSANB || !DumpSameVolume.SameVolume {
		t.Error("the built-ins lost their failure domains")
	}
	if len(Continuous.PrimaryOptions()) != 1 || BaseOnly.PrimaryOptions() != nil {
		t.Error("primary options: want synchronous_commit for continuous only")
	}
}

func TestStrategyValidate(t *testing.T) {
	bad := map[string]Strategy{
		"not kebab":               {Name: "Continuous", Method: MethodBase},
		"no method":               {Name: "x"},
		"dump with WAL":           {Name: "x", Method: MethodDump, WAL: true},
		"sync without WAL":        {Name: "x", Method: MethodBase, Synchronous: true},
		"base same volume":        {Name: "x", Method: MethodBase, SameVolume: true},
		"same volume in a domain": {Name: "x", Method: MethodDump, SameVolume: true, Domain: "san-c"},
	}
	for what, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", what, s)
		}
	}
	for _, s := range []Strategy{Continuous, ContinuousAsync, BaseOnly, DumpSameVolume} {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
}

func TestOptionScopes(t *testing.T) {
	if _, err := applyOptions("restore", forRestore, []Option{WithVerifyEachBackup()}); err == nil {
		t.Error("a set-up option was accepted by restore")
	}
	if _, err := applyOptions("set up", forSetup, []Option{WithoutServer()}); err == nil {
		t.Error("a restore option was accepted by set-up")
	}
	if _, err := applyOptions("set up", forSetup, []Option{{}}); err == nil {
		t.Error("an empty option was accepted")
	}
	o, err := applyOptions("restore", forRestore, []Option{WithoutServer(), WithDataDomain("san-c"), WithReplayTimeout(time.Minute)})
	if err != nil || o.server || o.dataDomain != "san-c" || o.replayTimeout != time.Minute {
		t.Errorf("options = %+v, %v", o, err)
	}
}

func mustLSN(t *testing.T, s string) wal.LSN {
	t.Helper()
	l, err := wal.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testCatalog has two base backups an hour apart and a restore point between.
func testCatalog(t *testing.T) Catalog {
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	return Catalog{
		Version: catalogVersion, Strategy: Continuous, Password: "pw",
		WAL: &WALArchive{Path: "wal", Slot: "s", ApplicationName: "s", Synchronous: true},
		Backups: []Entry{
			{ID: "base-001", Method: MethodBase, Start: t0, Stop: t0.Add(time.Minute), StartLSN: mustLSN(t, "0/2000028"), StopLSN: mustLSN(t, "0/2000100")},
			{ID: "base-002", Method: MethodBase, Start: t0.Add(time.Hour), Stop: t0.Add(time.Hour + time.Minute), StartLSN: mustLSN(t, "0/9000028"), StopLSN: mustLSN(t, "0/9000100")},
		},
		RestorePoints: []RestorePoint{{Name: "rp", LSN: mustLSN(t, "0/5000000"), Time: t0.Add(30 * time.Minute)}},
	}
}

func ids(es []Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return strings.Join(out, ",")
}

func TestCandidates(t *testing.T) {
	cat := testCatalog(t)
	t0 := cat.Backups[0].Start
	cases := []struct {
		target Target
		want   string
	}{
		{Latest(), "base-002,base-001"},
		{AtRestorePoint("rp"), "base-001"},
		{AtTime(t0.Add(2 * time.Hour)), "base-002,base-001"},
		{AtTime(t0.Add(time.Hour)), "base-001"}, // base-002 began but was not complete
	}
	for _, c := range cases {
		got, err := candidates(cat, c.target)
		if err != nil || ids(got) != c.want {
			t.Errorf("candidates for %s = %s, %v; want %s", c.target, ids(got), err, c.want)
		}
	}
	if _, err := candidates(cat, AtTime(t0)); !errors.Is(err, ErrNothingToRestore) {
		t.Errorf("a time before every backup: %v", err)
	}
	if _, err := candidates(cat, AtRestorePoint("nope")); err == nil || !strings.Contains(err.Error(), "rp") {
		t.Errorf("an unknown restore point: %v (want the known ones listed)", err)
	}
	empty := cat
	empty.Backups = nil
	if _, err := candidates(empty, Latest()); !errors.Is(err, ErrNothingToRestore) {
		t.Errorf("no backups: %v", err)
	}
	if err := (Target{Name: "rp", Time: t0}).validate(); err == nil {
		t.Error("a target with both a name and a time was accepted")
	}
}

func TestPlanWAL(t *testing.T) {
	cat := testCatalog(t)
	e := cat.Backups[0]
	t0 := e.Start
	scan := &wal.Scan{
		Start: e.StartLSN, End: mustLSN(t, "0/6000100"),
		Commits: []wal.Commit{
			{LSN: mustLSN(t, "0/3000000"), Time: t0.Add(10 * time.Minute)},
			{LSN: mustLSN(t, "0/5800000"), Time: t0.Add(40 * time.Minute)},
		},
		RestorePoints: []wal.RestorePoint{{Name: "rp", LSN: mustLSN(t, "0/5000000")}},
	}
	p, err := planWAL(e, scan, AtRestorePoint("rp"))
	if err != nil || p.settings["recovery_target_name"] != "rp" || !p.exact {
		t.Errorf("plan to rp = %+v, %v", p, err)
	}
	if _, err := planWAL(e, scan, AtRestorePoint("other")); err == nil {
		t.Error("planned to a restore point missing from the WAL")
	}
	p, err = planWAL(e, scan, AtTime(t0.Add(20*time.Minute)))
	if err != nil || p.settings["recovery_target_time"] != "2026-07-01 12:20:00+00" {
		t.Errorf("plan to a time = %+v, %v", p, err)
	}
	// After the last commit a time target means the archive's end: PostgreSQL
	// would refuse a target it never passes.
	p, err = planWAL(e, scan, AtTime(t0.Add(time.Hour)))
	if err != nil || len(p.settings) != 0 || !strings.Contains(p.note, "end") {
		t.Errorf("plan past the last commit = %+v, %v", p, err)
	}
	late := e
	late.StopLSN = mustLSN(t, "0/5800000")
	if _, err := planWAL(late, scan, AtRestorePoint("rp")); err == nil {
		t.Error("planned to a restore point before the backup's end")
	}
}

func TestCatalogRoundTrip(t *testing.T) {
	cat := testCatalog(t)
	cat.Backups[0].Verification = Verification{Status: Bad, Reason: "checksum mismatch", At: time.Now().UTC()}
	b, err := cat.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"pw"`) {
		t.Error("the password was encoded")
	}
	back, err := DecodeCatalog(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Backups[1].StopLSN != cat.Backups[1].StopLSN || back.Backups[0].Reason != "checksum mismatch" || back.Strategy != Continuous || back.RestorePoints[0] != cat.RestorePoints[0] {
		t.Errorf("round trip = %+v", back)
	}
	if _, err := DecodeCatalog([]byte(`{"version": 99}`)); err == nil {
		t.Error("an unknown version was accepted")
	}
}

func TestParseBaseBackupReport(t *testing.T) {
	out := `31237015
"WAL-Ranges": [
{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }
],
pg_control version number:            1300
Database system identifier:           7441234567890123456
Bytes per WAL segment:                16777216
`
	var e Entry
	if err := parseBaseBackupReport(out, &e); err != nil {
		t.Fatal(err)
	}
	if e.Size != 31237015 || e.Timeline != 1 || e.StartLSN != mustLSN(t, "0/2000028") || e.StopLSN != mustLSN(t, "0/2000100") ||
		e.SystemID != "7441234567890123456" || e.SegmentSize != 16<<20 {
		t.Errorf("parsed %+v", e)
	}
	if err := parseBaseBackupReport("12\nno manifest\n", &e); err == nil {
		t.Error("a report without a WAL range was accepted")
	}
}

func TestRestoreCommand(t *testing.T) {
	got := restoreCommand("/backup/wal")
	want := `f=/backup/wal/%f; if [ -f "$f" ]; then cp "$f" "%p"; elif [ -f "$f.partial" ]; then cp "$f.partial" "%p"; else exit 1; fi`
	if got != want {
		t.Errorf("restore_command = %s", got)
	}
}

func TestRestoredRTO(t *testing.T) {
	r := &Restored{Name: "restored-x", tl: timeline.New()}
	end := r.Begin(PhaseCopy)
	time.Sleep(2 * time.Millisecond)
	end("done")
	end("twice")
	rto := r.RTO()
	if len(rto.Phases) != 1 || rto.Phase(PhaseCopy) < 2*time.Millisecond || rto.Total != rto.Phase(PhaseCopy) || rto.Phases[0].Detail != "done" {
		t.Errorf("rto = %+v", rto)
	}
	b, err := r.MarshalJSON()
	if err != nil || !strings.Contains(string(b), `"rto"`) || !strings.Contains(string(b), `"copy"`) {
		t.Errorf("json = %s, %v", b, err)
	}
}
