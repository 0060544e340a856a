package model

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
)

// ObservationStreamVersion is the version of the observation stream format
// ObservationWriter writes.
const ObservationStreamVersion = 1

// streamHeader is the first line of an observation stream.
type streamHeader struct {
	Format int `json:"firedrill_observation"`
}

// ObservationWriter saves an observation user by user as JSON lines: a
// header line {"firedrill_observation":1}, then one UserObservation per line,
// so neither writing nor reading it needs the whole observation in memory.
type ObservationWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
	n   int
	err error
}

// NewObservationWriter starts a stream on w. Call Close to flush it.
func NewObservationWriter(w io.Writer) *ObservationWriter {
	ow := &ObservationWriter{w: bufio.NewWriterSize(w, 256<<10)}
	ow.enc = json.NewEncoder(ow.w)
	ow.err = ow.enc.Encode(streamHeader{Format: ObservationStreamVersion})
	return ow
}

// Write appends one user's observation.
func (ow *ObservationWriter) Write(uo UserObservation) error {
	if ow.err != nil {
		return ow.err
	}
	if err := ow.enc.Encode(uo); err != nil {
		ow.err = fmt.Errorf("write observation of %s: %w", uo.User, err)
		return ow.err
	}
	ow.n++
	return nil
}

// Users returns how many users were written.
func (ow *ObservationWriter) Users() int { return ow.n }

// Close flushes the stream (it does not close the underlying writer).
func (ow *ObservationWriter) Close() error {
	if ow.err != nil {
		return ow.err
	}
	if err := ow.w.Flush(); err != nil {
		return fmt.Errorf("write observation: %w", err)
	}
	return nil
}

// ObservationReader reads an observation stream user by user. It also reads
// the older whole-observation JSON ({"users":[...]}), which it must then hold
// in memory.
type ObservationReader struct {
	dec    *json.Decoder
	legacy []UserObservation
	isOld  bool
	line   int
	err    error
}

// NewObservationReader starts reading a stream (or an older observation file).
func NewObservationReader(r io.Reader) *ObservationReader {
	or := &ObservationReader{dec: json.NewDecoder(bufio.NewReaderSize(r, 256<<10))}
	var first struct {
		Format *int              `json:"firedrill_observation"`
		Users  []UserObservation `json:"users"`
		User   *string           `json:"user"`
	}
	if err := or.dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			or.err = errors.New("read observation: empty file: want a firedrill observation stream")
		} else {
			or.err = fmt.Errorf("read observation: first line: %w", err)
		}
		return or
	}
	or.line = 1
	switch {
	case first.Format != nil:
		if *first.Format > ObservationStreamVersion {
			or.err = fmt.Errorf("read observation: stream version %d is newer than this firedrill reads (%d): use a newer firedrill", *first.Format, ObservationStreamVersion)
		}
	case first.Users != nil:
		or.isOld, or.legacy = true, first.Users
	default:
		or.err = errors.New(`read observation: no {"firedrill_observation":N} header and no "users": not an observation`)
	}
	return or
}

// Next returns the next user's observation, or io.EOF after the last.
func (or *ObservationReader) Next() (UserObservation, error) {
	if or.err != nil {
		return UserObservation{}, or.err
	}
	if or.isOld {
		if len(or.legacy) == 0 {
			return UserObservation{}, io.EOF
		}
		uo := or.legacy[0]
		or.legacy = or.legacy[1:]
		return uo, nil
	}
	var uo UserObservation
	if err := or.dec.Decode(&uo); err != nil {
		if errors.Is(err, io.EOF) {
			return UserObservation{}, io.EOF
		}
		or.err = fmt.Errorf("read observation: entry %d after the header: %w", or.line, err)
		return UserObservation{}, or.err
	}
	or.line++
	if uo.User == "" {
		or.err = fmt.Errorf("read observation: entry %d after the header has no user", or.line-1)
		return UserObservation{}, or.err
	}
	return uo, nil
}

// All yields every user's observation; a read error is yielded once, last.
func (or *ObservationReader) All() iter.Seq2[UserObservation, error] {
	return func(yield func(UserObservation, error) bool) {
		for {
			uo, err := or.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(uo, err) || err != nil {
				return
			}
		}
	}
}
