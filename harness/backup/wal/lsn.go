// Package wal reasons about PostgreSQL write-ahead log positions and archives
// without a server: log sequence numbers, segment file names, whether an archive
// holds every segment from a base backup's start onwards, and what pg_waldump's
// scan of that range found (commits with their times, restore points, where the
// log ends, and whether it ended cleanly or on damage). It runs no programs and
// imports no container code; the backup package feeds it listings and output.
package wal

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// LSN is a position in the write-ahead log, printed as PostgreSQL prints it
// ("16/B374D848").
type LSN uint64

// ParseLSN parses the "X/X" form.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("parse LSN %q: want the form X/X, e.g. 0/3000028", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("parse LSN %q: high half: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("parse LSN %q: low half: %w", s, err)
	}
	return LSN(h<<32 | l), nil
}

// String formats the position the way PostgreSQL does.
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

// MarshalJSON writes the position as its "X/X" string.
func (l LSN) MarshalJSON() ([]byte, error) { return json.Marshal(l.String()) }

// UnmarshalJSON reads the "X/X" string form.
func (l *LSN) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode LSN: %w", err)
	}
	v, err := ParseLSN(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// DefaultSegmentSize is initdb's WAL segment size, 16 MiB.
const DefaultSegmentSize = 16 << 20

// Segment identifies one WAL segment file: a timeline and a segment number.
type Segment struct {
	Timeline uint32
	No       uint64
}

// checkSegmentSize rejects a segment size PostgreSQL could not have used.
func checkSegmentSize(size uint64) error {
	if size < 1<<20 || size > 1<<30 || size&(size-1) != 0 {
		return fmt.Errorf("WAL segment size %d is not a power of two between 1 MiB and 1 GiB", size)
	}
	return nil
}

// SegmentOf returns the segment holding position l on timeline tli.
func SegmentOf(tli uint32, l LSN, size uint64) Segment {
	return Segment{Timeline: tli, No: uint64(l) / size}
}

// Start returns the position of the segment's first byte.
func (s Segment) Start(size uint64) LSN { return LSN(s.No * size) }

// Name returns the segment's file name, e.g. "000000010000000000000003".
func (s Segment) Name(size uint64) string {
	per := uint64(0x100000000) / size
	return fmt.Sprintf("%08X%08X%08X", s.Timeline, s.No/per, s.No%per)
}

// ParseSegmentName parses a 24-hex-digit segment file name.
func ParseSegmentName(name string, size uint64) (Segment, error) {
	if err := checkSegmentSize(size); err != nil {
		return Segment{}, err
	}
	if len(name) != 24 {
		return Segment{}, fmt.Errorf("parse segment name %q: want 24 hex digits", name)
	}
	var parts [3]uint64
	for i := range parts {
		v, err := strconv.ParseUint(name[i*8:i*8+8], 16, 32)
		if err != nil {
			return Segment{}, fmt.Errorf("parse segment name %q: %w", name, err)
		}
		parts[i] = v
	}
	per := uint64(0x100000000) / size
	if parts[2] >= per {
		return Segment{}, fmt.Errorf("parse segment name %q: segment %X out of range for %d-byte segments", name, parts[2], size)
	}
	return Segment{Timeline: uint32(parts[0]), No: parts[1]*per + parts[2]}, nil
}
