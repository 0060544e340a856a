package wal

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLSNRoundTrip(t *testing.T) {
	for _, s := range []string{"0/0", "0/3000028", "16/B374D848", "FFFFFFFF/FFFFFFFF"} {
		l, err := ParseLSN(s)
		if err != nil {
			t.Fatalf("ParseLSN(%q): %v", s, err)
		}
		if l.String() != s {
			t.Errorf("ParseLSN(%q).String() = %q", s, l.String())
		}
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		var back LSN
		if err := json.Unmarshal(b, &back); err != nil || back != l {
			t.Errorf("JSON round trip of %s: got %s, %v", s, back, err)
		}
	}
	if l, _ := ParseLSN("1/0"); l != 1<<32 {
		t.Errorf("ParseLSN(1/0) = %d", l)
	}
	for _, bad := range []string{"", "3000028", "0/xyz", "100000000/0"} {
		if _, err := ParseLSN(bad); err == nil {
			t.Errorf("ParseLSN(%q) accepted", bad)
		}
	}
}

func TestSegmentNames(t *testing.T) {
	l, _ := ParseLSN("0/3017E68")
	seg := SegmentOf(1, l, DefaultSegmentSize)
	if got := seg.Name(DefaultSegmentSize); got != "000000010000000000000003" {
		t.Errorf("segment of 0/3017E68 = %s", got)
	}
	l, _ = ParseLSN("1/FF000000")
	if got := SegmentOf(2, l, DefaultSegmentSize).Name(DefaultSegmentSize); got != "0000000200000001000000FF" {
		t.Errorf("segment of 1/FF000000 = %s", got)
	}
	back, err := ParseSegmentName("0000000200000001000000FF", DefaultSegmentSize)
	if err != nil || back.Timeline != 2 || back.Start(DefaultSegmentSize) != l {
		t.Errorf("ParseSegmentName: %+v %v", back, err)
	}
	// With 64 MiB segments there are 64 per log id.
	if _, err := ParseSegmentName("000000010000000000000040", 64<<20); err == nil {
		t.Error("segment 0x40 accepted for 64 MiB segments")
	}
	if _, err := ParseSegmentName("000000010000000000000003", 3<<20); err == nil {
		t.Error("3 MiB segment size accepted")
	}
}

func lsn(t *testing.T, s string) LSN {
	t.Helper()
	l, err := ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestContinuity(t *testing.T) {
	start := lsn(t, "0/2000028")
	names := []string{"000000010000000000000001", "000000010000000000000002", "000000010000000000000003.partial", "00000001.history"}
	v, err := Continuity(names, 1, start, DefaultSegmentSize)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Files) != 2 || v.Files[0].Name != "000000010000000000000002" || !v.Last().Partial || v.Last().Name != "000000010000000000000003" {
		t.Errorf("view = %+v", v.Files)
	}
	if v.End() != lsn(t, "0/4000000") {
		t.Errorf("end = %s", v.End())
	}

	var gap *GapError
	_, err = Continuity([]string{"000000010000000000000002", "000000010000000000000004"}, 1, start, DefaultSegmentSize)
	if !errors.As(err, &gap) || gap.Missing != "000000010000000000000003" {
		t.Errorf("gap in the middle: %v", err)
	}
	_, err = Continuity([]string{"000000010000000000000003"}, 1, start, DefaultSegmentSize)
	if !errors.As(err, &gap) || gap.Missing != "000000010000000000000002" {
		t.Errorf("start segment missing: %v", err)
	}
	if _, err := Continuity([]string{"000000010000000000000002.partial", "000000010000000000000003"}, 1, start, DefaultSegmentSize); err == nil || !strings.Contains(err.Error(), "not the newest") {
		t.Errorf("partial before a complete segment: %v", err)
	}
	if _, err := Continuity([]string{"000000010000000000000002", "000000020000000000000003"}, 1, start, DefaultSegmentSize); err == nil || !strings.Contains(err.Error(), "timeline") {
		t.Errorf("second timeline: %v", err)
	}
	// A leftover partial beside its complete segment is ignored.
	v, err = Continuity([]string{"000000010000000000000002", "000000010000000000000002.partial"}, 1, start, DefaultSegmentSize)
	if err != nil || len(v.Files) != 1 || v.Files[0].Partial {
		t.Errorf("complete and partial of one segment: %+v %v", v, err)
	}
}

// Output of a real pg_waldump 15 run over pg_receivewal's archive, filtered by
// WaldumpFilter.
const scanOut = `rmgr: Transaction len (rec/tot):    405/   405, tx:        724, lsn: 0/03017E68, prev 0/03017E20, desc: COMMIT 2026-11-21 04:46:09.458258 UTC; inval msgs: catcache 80 catcache 79 snapshot 2608 relcache 16384
rmgr: Transaction len (rec/tot):     34/    34, tx:        725, lsn: 0/03018058, prev 0/03018018, desc: COMMIT 2026-11-21 04:46:09.468072 UTC
rmgr: XLOG        len (rec/tot):     98/    98, tx:          0, lsn: 0/03018080, prev 0/03018058, desc: RESTORE_POINT rp one
rmgr: Transaction len (rec/tot):     34/    34, tx:        727, lsn: 0/030180C0, prev 0/03018080, desc: ABORT 2026-11-21 04:46:09.468400 UTC
rmgr: Transaction len (rec/tot):     34/    34, tx:        726, lsn: 0/03018128, prev 0/030180E8, desc: COMMIT 2026-11-21 04:46:09.468593 UTC
`

func view(t *testing.T) View {
	v, err := Continuity([]string{"000000010000000000000002", "000000010000000000000003.partial"}, 1, lsn(t, "0/2000028"), DefaultSegmentSize)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseScanCleanEnd(t *testing.T) {
	stderr := "pg_waldump: error: error in WAL record at 0/3018128: invalid record length at 0/3018150: wanted 24, got 0\n"
	s, err := ParseScan(scanOut, stderr, lsn(t, "0/2000028"), view(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.End != lsn(t, "0/3018150") || len(s.Commits) != 4 || len(s.RestorePoints) != 1 {
		t.Fatalf("scan = %+v", s)
	}
	if !s.Commits[2].Abort || s.Commits[0].Abort {
		t.Errorf("abort flags wrong: %+v", s.Commits)
	}
	rp, ok := s.FindRestorePoint("rp one")
	if !ok || rp.LSN != lsn(t, "0/3018080") {
		t.Errorf("restore point = %+v %v", rp, ok)
	}
	at := time.Date(2026, 11, 21, 4, 46, 9, 468072000, time.UTC)
	c, ok := s.FirstCommitAfter(at)
	if !ok || c.LSN != lsn(t, "0/30180C0") {
		t.Errorf("first commit after %s = %+v", at, c)
	}
	if _, ok := s.FirstCommitAfter(at.Add(time.Second)); ok {
		t.Error("found a commit after the last one")
	}
	if last, _ := s.LastCommit(); last.LSN != lsn(t, "0/3018128") {
		t.Errorf("last commit = %+v", last)
	}

	// A newest segment that ended with a switch: pg_waldump looks for the next file.
	s, err = ParseScan("", `pg_waldump: error: could not find file "000000010000000000000004": No such file or directory`, lsn(t, "0/2000028"), view(t))
	if err != nil || s.End != lsn(t, "0/4000000") {
		t.Errorf("end after a switch: %+v %v", s, err)
	}
	// Zeros at a page boundary of the newest segment.
	s, err = ParseScan("", `pg_waldump: error: error in WAL record at 0/3019FD0: invalid magic number 0000 in log segment 000000010000000000000003, offset 106496`, lsn(t, "0/2000028"), view(t))
	if err != nil || s.End != lsn(t, "0/301A000") {
		t.Errorf("end at a page boundary: %+v %v", s, err)
	}
}

func TestParseScanDamage(t *testing.T) {
	var d *DamageError
	cases := map[string]string{
		"flipped bytes":           `pg_waldump: error: error in WAL record at 0/3017E68: invalid magic number FFFF in log segment 000000010000000000000003, offset 98304`,
		"bad checksum":            `pg_waldump: error: error in WAL record at 0/2000100: incorrect resource manager data checksum in record at 0/2000128`,
		"zeros before the newest": `pg_waldump: error: error in WAL record at 0/2000100: invalid record length at 0/2000128: wanted 24, got 0`,
		"missing middle file":     `pg_waldump: error: could not find file "000000010000000000000003": No such file or directory`,
		"no valid record":         `pg_waldump: error: could not find a valid record after 0/2000028`,
	}
	for name, stderr := range cases {
		if _, err := ParseScan("", stderr, lsn(t, "0/2000028"), view(t)); !errors.As(err, &d) {
			t.Errorf("%s: got %v, want a DamageError", name, err)
		}
	}
	if _, err := ParseScan("", "", lsn(t, "0/2000028"), view(t)); err == nil {
		t.Error("a scan with no end message accepted")
	}
	if _, err := ParseScan("rmgr: Heap len garbage\n", "pg_waldump: error: could not find file \"000000010000000000000004\"", lsn(t, "0/2000028"), view(t)); err == nil {
		t.Error("an unfiltered line accepted")
	}
}
