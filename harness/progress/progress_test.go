package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDoneAndFailedApart(t *testing.T) {
	m := Start(nil, false, "observe", 10, func(time.Duration) string { return "items 7" })
	defer m.Stop()
	for i := 0; i < 4; i++ {
		m.Done()
	}
	m.Failed()
	got := m.render(false, 10*time.Second)
	if want := "observe: users 4 done, 1 failed of 10  items 7  elapsed 10s  eta 10s\n"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	if d, f := m.Counts(); d != 4 || f != 1 {
		t.Errorf("counts %d done, %d failed", d, f)
	}
	m.Failed()
	for i := 0; i < 4; i++ {
		m.Done()
	}
	if got := m.render(true, time.Second); !strings.Contains(got, "users 8 done, 2 failed of 10") || !strings.Contains(got, "eta 0s") {
		t.Errorf("final line %q", got)
	}
	tty := Start(nil, true, "load", 3, nil)
	tty.Done()
	if got := tty.render(true, time.Second); !strings.HasPrefix(got, "\rload: users 1 done of 3") || !strings.HasSuffix(got, "\x1b[K\n") {
		t.Errorf("terminal line %q", got)
	}
}

func TestStopPrintsFinalLine(t *testing.T) {
	var b bytes.Buffer
	m := Start(&b, false, "load", 2, nil)
	m.Done()
	m.Failed()
	m.Stop()
	m.Stop()
	if got := b.String(); !strings.HasPrefix(got, "load: users 1 done, 1 failed of 2") || strings.Count(got, "\n") != 1 {
		t.Errorf("output %q", got)
	}
}

func TestDevNullIsNoTerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("/dev/null counts as a terminal: progress would redraw lines into it")
	}
}
