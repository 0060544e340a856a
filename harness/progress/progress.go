// Package progress shows how far a long run over many users has come: a line
// redrawn in place on a terminal, or a log line every ten seconds otherwise
// (CI logs, files), with the users done and failed (counted apart) of the
// total, a rate and the ETA.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// IsTerminal reports whether f is a terminal, where a line can be redrawn in
// place (a character device such as /dev/null is not).
func IsTerminal(f *os.File) bool { return isTerminal(f) }

// Meter counts users done and prints progress until Stop.
type Meter struct {
	w      io.Writer
	tty    bool
	label  string
	total  int
	detail func(elapsed time.Duration) string
	begin  time.Time
	done   atomic.Int64
	failed atomic.Int64
	quit   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// Start begins showing progress of label ("load", "observe") over total users on
// w; detail, when set, adds counts and rates to each line. A nil w shows nothing.
func Start(w io.Writer, tty bool, label string, total int, detail func(elapsed time.Duration) string) *Meter {
	m := &Meter{w: w, tty: tty, label: label, total: total, detail: detail, begin: time.Now(), quit: make(chan struct{})}
	if w == nil {
		return m
	}
	every := 10 * time.Second
	if tty {
		every = 250 * time.Millisecond
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-m.quit:
				return
			case <-t.C:
				m.print(false)
			}
		}
	}()
	return m
}

// Done counts one user done.
func (m *Meter) Done() { m.done.Add(1) }

// Failed counts one user that was gone through and failed (a load that did not
// complete, an account that could not be read): finished, but not done.
func (m *Meter) Failed() { m.failed.Add(1) }

// Counts returns the users done and failed so far.
func (m *Meter) Counts() (done, failed int64) { return m.done.Load(), m.failed.Load() }

// Stop prints the final line and stops.
func (m *Meter) Stop() {
	m.once.Do(func() {
		close(m.quit)
		m.wg.Wait()
		if m.w != nil {
			m.print(true)
		}
	})
}

func (m *Meter) print(final bool) {
	fmt.Fprint(m.w, m.render(final, time.Since(m.begin)))
}

// render returns one progress line after el: users done and failed of the
// total, the detail, the elapsed time and an ETA from the pace so far.
func (m *Meter) render(final bool, el time.Duration) string {
	done, failed := m.Counts()
	finished := done + failed
	eta := "?"
	switch {
	case int(finished) >= m.total:
		eta = "0s"
	case finished > 0:
		eta = time.Duration(float64(el) * float64(int64(m.total)-finished) / float64(finished)).Round(time.Second).String()
	}
	line := fmt.Sprintf("%s: users %d done", m.label, done)
	if failed > 0 {
		line += fmt.Sprintf(", %d failed", failed)
	}
	line += fmt.Sprintf(" of %d", m.total)
	if m.detail != nil {
		line += "  " + m.detail(el)
	}
	line += fmt.Sprintf("  elapsed %s  eta %s", el.Round(time.Second), eta)
	switch {
	case m.tty && final:
		return "\r" + line + "\x1b[K\n"
	case m.tty:
		return "\r" + line + "\x1b[K"
	}
	return line + "\n"
}
