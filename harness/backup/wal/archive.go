package wal

import (
	"fmt"
	"sort"
	"strings"
)

// PartialSuffix marks the segment pg_receivewal is still writing.
const PartialSuffix = ".partial"

// File is one segment of an archive as recovery should see it: the archive's file
// and the segment name it stands for (a ".partial" file stands for its name
// without the suffix).
type File struct {
	Segment Segment
	Name    string // the segment's name, e.g. 000000010000000000000003
	Source  string // the archive's file name, e.g. 000000010000000000000003.partial
	Partial bool
}

// View is the run of consecutive segments of one timeline that recovery from a
// base backup reads, from the segment holding the backup's start to the newest.
type View struct {
	Timeline    uint32
	SegmentSize uint64
	Files       []File
}

// Last returns the newest segment of the view.
func (v View) Last() File { return v.Files[len(v.Files)-1] }

// End returns the position just past the view's last segment.
func (v View) End() LSN { return v.Last().Segment.Start(v.SegmentSize) + LSN(v.SegmentSize) }

// GapError reports a segment missing from the middle of an archive: recovery
// cannot pass it, so everything after it is out of reach.
type GapError struct {
	Missing string // the first missing segment
	Before  string // the next segment the archive does hold
}

func (e *GapError) Error() string {
	return fmt.Sprintf("WAL segment %s is missing from the archive (the next one present is %s): recovery cannot pass the gap", e.Missing, e.Before)
}

// Continuity checks that the archive listing (file names of a pg_receivewal
// directory) holds every segment of timeline tli from the one containing start to
// the newest, and returns them in order. A ".partial" segment is accepted only as
// the newest, in place of a complete one.
func Continuity(names []string, tli uint32, start LSN, size uint64) (View, error) {
	if err := checkSegmentSize(size); err != nil {
		return View{}, err
	}
	bySeg := map[uint64]File{}
	var other []string
	for _, n := range names {
		base, partial := strings.CutSuffix(n, PartialSuffix)
		if len(base) != 24 || strings.HasSuffix(base, ".history") {
			continue // history files, manifests and anything else are not segments
		}
		seg, err := ParseSegmentName(base, size)
		if err != nil {
			continue
		}
		if seg.Timeline != tli {
			other = append(other, n)
			continue
		}
		f := File{Segment: seg, Name: base, Source: n, Partial: partial}
		if have, ok := bySeg[seg.No]; ok && !have.Partial {
			continue // a complete segment wins over a leftover partial one
		}
		bySeg[seg.No] = f
	}
	first := SegmentOf(tli, start, size)
	var nos []uint64
	for no := range bySeg {
		if no >= first.No {
			nos = append(nos, no)
		}
	}
	sort.Slice(nos, func(i, j int) bool { return nos[i] < nos[j] })
	if len(other) > 0 {
		sort.Strings(other)
		return View{}, fmt.Errorf("check WAL continuity: the archive holds segments of another timeline than %d (%s); following a timeline switch is not supported", tli, strings.Join(other, ", "))
	}
	if len(nos) == 0 || nos[0] != first.No {
		next := "none"
		if len(nos) > 0 {
			next = bySeg[nos[0]].Source
		}
		return View{}, fmt.Errorf("check WAL continuity: %w", &GapError{Missing: first.Name(size), Before: next})
	}
	v := View{Timeline: tli, SegmentSize: size}
	for i, no := range nos {
		if i > 0 && no != nos[i-1]+1 {
			missing := Segment{Timeline: tli, No: nos[i-1] + 1}
			return View{}, fmt.Errorf("check WAL continuity: %w", &GapError{Missing: missing.Name(size), Before: bySeg[no].Source})
		}
		f := bySeg[no]
		if f.Partial && i != len(nos)-1 {
			return View{}, fmt.Errorf("check WAL continuity: partial segment %s is not the newest (%s follows); pg_receivewal never leaves one behind, so the archive was tampered with", f.Source, bySeg[nos[len(nos)-1]].Source)
		}
		v.Files = append(v.Files, f)
	}
	return v, nil
}
