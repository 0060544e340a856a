package live

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/firedrill/firedrill/harness/drill"
)

// LineFeed reads the progress lines the drill's load and observer print
// (package progress: "load: users 4/10  writes 116 ok, 0 failed, 23
// ambiguous  12 acked/s  elapsed 10s  eta 15s") and gives them to a hub as
// progress samples, while passing them on to a person's terminal.
//
// It bridges the time until the drill calls Watcher.Progress itself: the hub
// ignores its samples from the first such call on. Give it to the drill as
// Options.Progress with ProgressTTY set, so that the meters redraw often (four
// times a second); to a terminal it passes everything on as it came, and to
// anything else (a CI log) only a meter's final line and one line every
// ten seconds, as the meters do there.
type LineFeed struct {
	hub     *Hub
	out     io.Writer
	tty     bool
	mu      sync.Mutex
	part    []byte
	shown   map[string]time.Time // when a phase's line was last passed on (not a terminal)
	pending *heldLine            // the newest meter line held back (not a terminal)
	now     func() time.Time
}

// logEvery is how often a line is passed on to an output that is no terminal.
const logEvery = 10 * time.Second

// NewLineFeed returns a feed into hub that passes lines on to out (nil
// passes nothing), a terminal when tty is set.
func NewLineFeed(hub *Hub, out io.Writer, tty bool) *LineFeed {
	if out == nil {
		out = io.Discard
	}
	return &LineFeed{hub: hub, out: out, tty: tty, shown: map[string]time.Time{}, now: time.Now}
}

// meterLine matches a progress meter's line; the writes part is the load's.
var meterLine = regexp.MustCompile(`^(\w+): users (\d+)/(\d+)(?:  writes (\d+) ok, (\d+) failed, (\d+) ambiguous)?.*  elapsed \S+  eta (\S+)`)

// Write takes what the meters print: lines redrawn after "\r" and ended by
// "\n", with an erase-line code. Write never fails.
func (f *LineFeed) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tty {
		_, _ = f.out.Write(p)
	}
	f.part = append(f.part, p...)
	for {
		i := bytes.IndexAny(f.part, "\r\n\x1b")
		if i < 0 {
			break
		}
		if f.part[i] == '\x1b' {
			// The meter's erase-to-end-of-line ends its line; whatever
			// follows (a log line of the load) is a line of its own.
			if len(f.part) < i+3 {
				break // the rest of the code comes with the next write
			}
			f.take(f.part[:i], false)
			f.part = f.part[i+3:]
			continue
		}
		f.take(f.part[:i], f.part[i] == '\n')
		f.part = f.part[i+1:]
	}
	f.part = append([]byte(nil), f.part...) // do not pin a large buffer
	return len(p), nil
}

// take reads one complete line.
func (f *LineFeed) take(line []byte, final bool) {
	if len(line) == 0 {
		if final && f.pending != nil {
			// A meter's last line ends with the erase code and a newline.
			f.forward(f.pending.phase, f.pending.line, f.pending.at, true)
		}
		return
	}
	m := meterLine.FindSubmatch(line)
	if m == nil {
		if !f.tty {
			// Not a meter's line (a log line of the load): pass it on whole.
			_, _ = f.out.Write(append(append([]byte(nil), line...), '\n'))
		}
		return
	}
	phase := string(m[1])
	num := func(b []byte) int64 { n, _ := strconv.ParseInt(string(b), 10, 64); return n }
	p := drill.Progress{At: f.now(), Phase: phase, Done: num(m[2]), Total: num(m[3]), Unit: "users",
		Acked: num(m[4]), Failed: num(m[5]), Ambiguous: num(m[6])}
	if eta, err := time.ParseDuration(string(m[7])); err == nil {
		p.ETA = eta
	}
	f.hub.progressFromLines(p)
	if f.tty {
		return
	}
	f.forward(phase, line, p.At, final)
}

// forward passes a meter's line on to an output that is no terminal: the
// first of each phase, then one every logEvery, and the last; lines held
// back wait in pending, in case they turn out to be the last.
func (f *LineFeed) forward(phase string, line []byte, at time.Time, final bool) {
	if last, ok := f.shown[phase]; final || !ok || at.Sub(last) >= logEvery {
		f.shown[phase] = at
		f.pending = nil
		_, _ = f.out.Write(append(append([]byte(nil), line...), '\n'))
		return
	}
	f.pending = &heldLine{phase: phase, line: append([]byte(nil), line...), at: at}
}

// heldLine is a meter's line not passed on yet.
type heldLine struct {
	phase string
	line  []byte
	at    time.Time
}
