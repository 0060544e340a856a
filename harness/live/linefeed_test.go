package live

import (
	"strings"
	"testing"
	"time"
)

// meterTTY is how package progress redraws a meter line on a terminal.
func meterTTY(line string) string { return "\r" + line + "\x1b[K" }

func TestLineFeedTurnsMeterLinesIntoProgress(t *testing.T) {
	h, c := testHub(false)
	var out strings.Builder
	f := NewLineFeed(h, &out, false)
	f.now = c.now
	write := func(s string) {
		t.Helper()
		// Byte by byte: the feed must not depend on how writes are cut.
		for i := range len(s) {
			if _, err := f.Write([]byte{s[i]}); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.add(time.Second)
	write(meterTTY("load: users 0/10  writes 0 ok, 0 failed, 0 ambiguous  0 acked/s  elapsed 0s  eta ?"))
	c.add(time.Second)
	write(meterTTY("load: users 4/10  writes 116 ok, 2 failed, 23 ambiguous  12 acked/s  elapsed 10s  eta 1m15s"))
	write("firedrill: user user00005 phone 1: GET …: 503 Service Unavailable\n")
	c.add(time.Second)
	write(meterTTY("load: users 10/10  writes 200 ok, 2 failed, 35 ambiguous  7 acked/s  elapsed 27s  eta 0s") + "\n")
	write(meterTTY("observe: users 3/10  items 40  110 items/s  elapsed 1s  eta 2s"))

	st := h.Snapshot()
	if len(st.Phases) != 2 {
		t.Fatalf("phases = %+v, want load and observe", st.Phases)
	}
	load, obs := st.Phases[0], st.Phases[1]
	if load.Phase != "load" || load.Done != 10 || load.Total != 10 || load.Acked != 200 || load.Failed != 2 || load.Ambiguous != 35 || load.Unit != "users" {
		t.Errorf("load = %+v, want users 10/10, 200 ok, 2 failed, 35 ambiguous", load)
	}
	if obs.Phase != "observe" || obs.Done != 3 || obs.Total != 10 || obs.ETA != 2 {
		t.Errorf("observe = %+v, want users 3/10, eta 2 s", obs)
	}
	if len(st.Points) != 2 || st.Points[0].Acked != 116 {
		t.Errorf("points = %+v, want 2, the first at 116 acked/s", st.Points)
	}
	want := "load: users 0/10  writes 0 ok, 0 failed, 0 ambiguous  0 acked/s  elapsed 0s  eta ?\n" +
		"firedrill: user user00005 phone 1: GET …: 503 Service Unavailable\n" +
		"load: users 10/10  writes 200 ok, 2 failed, 35 ambiguous  7 acked/s  elapsed 27s  eta 0s\n" +
		"observe: users 3/10  items 40  110 items/s  elapsed 1s  eta 2s\n"
	if out.String() != want {
		t.Errorf("passed on to a log:\n%q\nwant the first and last meter lines and the log line, without terminal codes:\n%q", out.String(), want)
	}
}

func TestLineFeedPassesATerminalEverything(t *testing.T) {
	h, _ := testHub(false)
	var out strings.Builder
	f := NewLineFeed(h, &out, true)
	in := meterTTY("load: users 1/10  writes 5 ok, 0 failed, 0 ambiguous  5 acked/s  elapsed 1s  eta 9s") + "log line\n"
	if _, err := f.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if out.String() != in {
		t.Fatalf("a terminal got %q, want %q", out.String(), in)
	}
	if ph := h.Snapshot().Phases; len(ph) != 1 || ph[0].Done != 1 {
		t.Fatalf("phases = %+v, want load at 1 of 10", ph)
	}
}
