package model

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

func sampleUsers() []UserObservation {
	return []UserObservation{
		{User: "ann", Items: []ObservedItem{{Key: "contact/a.vcf", Collection: "/dav/ann/contacts/", Digest: Digest{1}, Size: 10, Body: []byte("BEGIN:VCARD\nEND:VCARD\n")}}},
		{User: "bob", Unreadable: "401 Unauthorized"},
		{User: "cy", Items: []ObservedItem{}, NotCovered: []Kind{KindPhoto}},
	}
}

func readAll(t *testing.T, r io.Reader) ([]UserObservation, error) {
	t.Helper()
	var out []UserObservation
	for uo, err := range NewObservationReader(r).All() {
		if err != nil {
			return out, err
		}
		out = append(out, uo)
	}
	return out, nil
}

func TestObservationStreamRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w := NewObservationWriter(&b)
	for _, uo := range sampleUsers() {
		if err := w.Write(uo); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil || w.Users() != 3 {
		t.Fatalf("close: %v, %d users", err, w.Users())
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 || lines[0] != `{"firedrill_observation":1}` {
		t.Fatalf("stream is not a header and one line per user:\n%s", b.String())
	}
	got, err := readAll(t, &b)
	if err != nil || !reflect.DeepEqual(got, sampleUsers()) {
		t.Errorf("read back %+v, %v", got, err)
	}
}

func TestObservationReaderReadsTheOldFormat(t *testing.T) {
	old, err := json.Marshal(Observation{Users: sampleUsers()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, bytes.NewReader(old))
	if err != nil || !reflect.DeepEqual(got, sampleUsers()) {
		t.Errorf("read back %+v, %v", got, err)
	}
}

func TestObservationReaderBadInput(t *testing.T) {
	for name, c := range map[string]struct{ in, want string }{
		"empty":        {"", "empty file"},
		"not json":     {"hello\n", "first line"},
		"no header":    {`{"key":"x"}` + "\n", "not an observation"},
		"newer":        {`{"firedrill_observation":9}` + "\n", "stream version 9 is newer"},
		"torn line":    {`{"firedrill_observation":1}` + "\n" + `{"user":"ann","items":[{"key":"contact/a.v`, "entry 1 after the header"},
		"user missing": {`{"firedrill_observation":1}` + "\n" + `{"items":[]}` + "\n", "entry 1 after the header has no user"},
	} {
		_, err := readAll(t, strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}
