package wal

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Commit is a transaction's end as the log records it: the time recovery compares
// recovery_target_time with.
type Commit struct {
	LSN   LSN       `json:"lsn"`
	Time  time.Time `json:"time"`
	Abort bool      `json:"abort,omitempty"`
}

// RestorePoint is a named point written by pg_create_restore_point.
type RestorePoint struct {
	Name string `json:"name"`
	LSN  LSN    `json:"lsn"`
}

// Scan is what pg_waldump found reading a view from a start position to where the
// log ends: every transaction end and restore point, and that end.
type Scan struct {
	Start         LSN
	End           LSN // the first position holding no valid record
	Commits       []Commit
	RestorePoints []RestorePoint
}

// LastCommit returns the newest transaction end in the scan, if any.
func (s Scan) LastCommit() (Commit, bool) {
	if len(s.Commits) == 0 {
		return Commit{}, false
	}
	return s.Commits[len(s.Commits)-1], true
}

// FirstCommitAfter returns the first transaction end later than t: the record at
// which recovery to time t stops (recovery_target_inclusive keeps ends at t).
func (s Scan) FirstCommitAfter(t time.Time) (Commit, bool) {
	for _, c := range s.Commits {
		if c.Time.After(t) {
			return c, true
		}
	}
	return Commit{}, false
}

// FindRestorePoint returns the first restore point of that name, as recovery
// would stop at it.
func (s Scan) FindRestorePoint(name string) (RestorePoint, bool) {
	for _, rp := range s.RestorePoints {
		if rp.Name == name {
			return rp, true
		}
	}
	return RestorePoint{}, false
}

// DamageError reports WAL that cannot be read before the archive's end: a
// corrupted record or page, or a hole. Recovery would stop there and lose
// everything after.
type DamageError struct {
	At      LSN
	Segment string
	Detail  string // pg_waldump's message
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("WAL damaged at %s in segment %s, before the end of the archive: %s", e.At, e.Segment, e.Detail)
}

// WaldumpFilter is the egrep pattern of the pg_waldump lines ParseScan reads; the
// caller filters pg_waldump's output with it so that only those lines travel.
const WaldumpFilter = `desc: (COMMIT|ABORT|COMMIT_PREPARED|ABORT_PREPARED|RESTORE_POINT) `

var (
	lineLSN        = regexp.MustCompile(`lsn: ([0-9A-Fa-f]+/[0-9A-Fa-f]+),`)
	lineEnd        = regexp.MustCompile(`desc: (COMMIT_PREPARED|ABORT_PREPARED|COMMIT|ABORT) (?:[^;]*?: )?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [A-Za-z]+)`)
	lineRP         = regexp.MustCompile(`desc: RESTORE_POINT (.*)$`)
	errNoFile      = regexp.MustCompile(`could not find file "([0-9A-F]{24})"`)
	errZeroLength  = regexp.MustCompile(`invalid record length at ([0-9A-F]+/[0-9A-F]+): wanted \d+, got 0\b`)
	errZeroMagic   = regexp.MustCompile(`invalid magic number 0000 in (?:WAL|log) segment ([0-9A-F]{24}), (?:LSN [0-9A-F]+/[0-9A-F]+, )?offset (\d+)`)
	errRecordAt    = regexp.MustCompile(`(?:error in WAL record at|could not find a valid record after) ([0-9A-F]+/[0-9A-F]+)`)
	errSegmentName = regexp.MustCompile(`segment ([0-9A-F]{24})`)
)

// ParseScan reads the output of
//
//	pg_waldump --path=<view> --timeline=<tli> --start=<start> | egrep WaldumpFilter
//
// run with TZ=UTC and no --end, so that pg_waldump reads until the log ends. It
// returns the scan when the log ended cleanly: in the view's newest segment, where
// pg_receivewal's zero-filled partial segment or a just-finished segment stops.
// Any other way of ending is a *DamageError.
func ParseScan(stdout, stderr string, start LSN, v View) (Scan, error) {
	if len(v.Files) == 0 {
		return Scan{}, fmt.Errorf("parse pg_waldump scan: the view holds no segment")
	}
	s := Scan{Start: start}
	for _, line := range strings.Split(stdout, "\n") {
		if line == "" {
			continue
		}
		m := lineLSN.FindStringSubmatch(line)
		if m == nil {
			return Scan{}, fmt.Errorf("parse pg_waldump line %q: no lsn", line)
		}
		at, err := ParseLSN(m[1])
		if err != nil {
			return Scan{}, fmt.Errorf("parse pg_waldump line %q: %w", line, err)
		}
		if e := lineEnd.FindStringSubmatch(line); e != nil {
			t, err := time.Parse("2006-01-02 15:04:05.999999 MST", e[2])
			if err != nil {
				return Scan{}, fmt.Errorf("parse pg_waldump line %q: time: %w", line, err)
			}
			s.Commits = append(s.Commits, Commit{LSN: at, Time: t.UTC(), Abort: strings.HasPrefix(e[1], "ABORT")})
			continue
		}
		if rp := lineRP.FindStringSubmatch(line); rp != nil {
			s.RestorePoints = append(s.RestorePoints, RestorePoint{Name: rp[1], LSN: at})
			continue
		}
		return Scan{}, fmt.Errorf("parse pg_waldump line %q: neither a transaction end nor a restore point", line)
	}
	end, err := endOfLog(stderr, v)
	if err != nil {
		return Scan{}, err
	}
	s.End = end
	return s, nil
}

// endOfLog finds where pg_waldump stopped and decides whether that is the clean
// end of the archive or damage before it.
func endOfLog(stderr string, v View) (LSN, error) {
	msg := strings.TrimSpace(stderr)
	if i := strings.LastIndex(msg, "pg_waldump: error: "); i >= 0 {
		msg = strings.TrimSpace(msg[i+len("pg_waldump: error: "):])
	}
	last := v.Last()
	size := v.SegmentSize
	if msg == "" {
		// pg_waldump without --end never ends without an error; an empty one
		// means it did not run as ParseScan requires.
		return 0, fmt.Errorf("parse pg_waldump scan: no end-of-log message; run it without --end")
	}
	if m := errNoFile.FindStringSubmatch(msg); m != nil {
		if m[1] == (Segment{Timeline: v.Timeline, No: last.Segment.No + 1}).Name(size) {
			return v.End(), nil // the newest segment ended with a switch: nothing follows
		}
		return 0, &DamageError{At: 0, Segment: m[1], Detail: msg}
	}
	if m := errZeroLength.FindStringSubmatch(msg); m != nil {
		at, err := ParseLSN(m[1])
		if err != nil {
			return 0, fmt.Errorf("parse pg_waldump end %q: %w", msg, err)
		}
		seg := SegmentOf(v.Timeline, at, size)
		if seg.No == last.Segment.No {
			return at, nil
		}
		return 0, &DamageError{At: at, Segment: seg.Name(size), Detail: msg}
	}
	if m := errZeroMagic.FindStringSubmatch(msg); m != nil {
		seg, err := ParseSegmentName(m[1], size)
		if err != nil {
			return 0, fmt.Errorf("parse pg_waldump end %q: %w", msg, err)
		}
		off, _ := strconv.ParseUint(m[2], 10, 64)
		at := seg.Start(size) + LSN(off)
		if seg.No == last.Segment.No {
			return at, nil
		}
		return 0, &DamageError{At: at, Segment: m[1], Detail: msg}
	}
	d := &DamageError{Detail: msg}
	if m := errRecordAt.FindStringSubmatch(msg); m != nil {
		d.At, _ = ParseLSN(m[1])
		d.Segment = SegmentOf(v.Timeline, d.At, size).Name(size)
	}
	if m := errSegmentName.FindStringSubmatch(msg); m != nil {
		d.Segment = m[1]
	}
	return 0, d
}
