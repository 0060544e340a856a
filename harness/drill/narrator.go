package drill

import (
	"bufio"
	"context"
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

	done   <-chan struct{} // the run's context: a wait for the operator ends with it
	watch  Watcher         // told everything said; nil tells no one
	next   <-chan struct{} // another way to go on in step mode (a live page's button)
	lines  chan string     // the operator's terminal lines, read once step mode needs them
	ctxErr func() error
	once   sync.Once
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

// StopOn ends every wait for the operator when ctx ends (Ctrl-C, the live
// page's stop), with ctx's error.
func (n *Narrator) StopOn(ctx context.Context) { n.done, n.ctxErr = ctx.Done(), ctx.Err }

// Watch has the narrator tell w everything it says.
func (n *Narrator) Watch(w Watcher) { n.watch = w }

// NextFrom gives step mode another way to go on besides Enter: a value on
// next (a live page's "next stage" button). Whichever comes first goes on.
func (n *Narrator) NextFrom(next <-chan struct{}) { n.next = next }

// Before announces the next stage; in step mode it waits for the operator:
// Enter (or q to stop) on the terminal, or a value from NextFrom's channel.
// A terminal at end of input no longer counts as an answer when another way
// to go on exists.
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
	waits := n.step && (n.in != nil || n.next != nil)
	if waits {
		prompt := "      Press Enter to go on, or q then Enter to stop the drill: "
		if n.in == nil {
			prompt = "      Waiting for \"next stage\" on the live page...\n"
		}
		fmt.Fprint(n.out, prompt)
	}
	num, total := n.n, n.total
	n.mu.Unlock()
	if n.watch != nil {
		n.watch.Stage(num, total, title, what)
	}
	if waits {
		if err := n.wait(); err != nil {
			return err
		}
	}
	n.mu.Lock()
	n.began = time.Now()
	n.mu.Unlock()
	return nil
}

// wait returns once the operator says go on, or ErrAborted when they say q.
func (n *Narrator) wait() error {
	var lines <-chan string
	if n.in != nil {
		n.once.Do(func() {
			n.lines = make(chan string)
			go func() {
				defer close(n.lines)
				for {
					line, err := n.in.ReadString('\n')
					if line != "" || err == nil {
						n.lines <- line
					}
					if err != nil {
						return
					}
				}
			}()
		})
		lines = n.lines
	}
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				if n.next == nil {
					return nil // no terminal and no page: nobody to wait for
				}
				lines = nil
				continue
			}
			if strings.EqualFold(strings.TrimSpace(line), "q") {
				return ErrAborted
			}
			return nil
		case <-n.next:
			return nil
		case <-n.done:
			return fmt.Errorf("wait for the operator: %w", n.ctxErr())
		}
	}
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
	elapsed, num := time.Since(n.began), n.n
	if n.watch != nil {
		defer n.watch.StageDone(num, what, elapsed) // runs after the unlock below
	}
	defer n.mu.Unlock()
	took := elapsed.Round(100 * time.Millisecond)
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
	line := fmt.Sprintf(format, args...)
	n.mu.Lock()
	fmt.Fprintf(n.out, "      %s\n", line)
	n.mu.Unlock()
	if n.watch != nil {
		n.watch.Said(line)
	}
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
