package drill

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// ErrAborted reports that the person stepping through a drill chose to stop it.
var ErrAborted = errors.New("drill aborted at the operator's request")

// Narrator tells people what a drill is doing, in plain words: a numbered line
// before each stage says what is about to happen and why; a line after says what
// happened and how long it took. In step mode it waits for Enter before each stage,
// for game days where people watch and discuss. It is safe for concurrent use:
// faults injected during a load narrate from their own goroutines.
type Narrator struct {
	mu    sync.Mutex // guards out and the stage fields; not held while waiting for input
	out   io.Writer
	in    *bufio.Reader
	step  bool
	total int
	n     int
	began time.Time
	title string
}

// NewNarrator writes to out; with step set it reads Enter (or q to abort) from in.
func NewNarrator(out io.Writer, in io.Reader, step bool, stages int) *Narrator {
	if out == nil {
		out = io.Discard
	}
	n := &Narrator{out: out, step: step, total: stages}
	if in != nil {
		n.in = bufio.NewReader(in)
	}
	return n
}

// Before announces the next stage; in step mode it waits for the operator.
func (n *Narrator) Before(title, what string) error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	n.n++
	n.title = title
	fmt.Fprintf(n.out, "\n[%d/%d] %s\n", n.n, n.total, title)
	for _, line := range wrap(what, 76) {
		fmt.Fprintf(n.out, "      %s\n", line)
	}
	if n.step && n.in != nil {
		fmt.Fprint(n.out, "      Press Enter to go on, or q then Enter to stop the drill: ")
	}
	n.mu.Unlock()
	if n.step && n.in != nil {
		answer, err := n.in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read operator input: %w", err)
		}
		if strings.EqualFold(strings.TrimSpace(answer), "q") {
			return ErrAborted
		}
	}
	n.mu.Lock()
	n.began = time.Now()
	n.mu.Unlock()
	return nil
}

// Stage returns the title of the stage under way ("" before the first).
func (n *Narrator) Stage() string {
	if n == nil {
		return ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.title
}

// After reports what the stage did.
func (n *Narrator) After(what string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	took := time.Since(n.began).Round(100 * time.Millisecond)
	lines := wrap(what, 70)
	if len(lines) == 0 {
		lines = []string{"done"}
	}
	fmt.Fprintf(n.out, "      -> %s (%s)\n", lines[0], took)
	for _, line := range lines[1:] {
		fmt.Fprintf(n.out, "         %s\n", line)
	}
}

// Say prints a line of narration inside the current stage.
func (n *Narrator) Say(format string, args ...any) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintf(n.out, "      %s\n", fmt.Sprintf(format, args...))
}

// wrap breaks text into lines of at most width runes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	for _, para := range strings.Split(strings.TrimSpace(text), "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			if line != "" && len([]rune(line))+1+len([]rune(word)) > width {
				lines = append(lines, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}
