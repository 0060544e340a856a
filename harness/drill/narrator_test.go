package drill

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestNarratorStepModeWaitsAndAborts(t *testing.T) {
	var out strings.Builder
	n := NewNarrator(&out, strings.NewReader("\nq\n"), true, 3)
	if err := n.Before("Load data", "Ten phones sync their users' contacts."); err != nil {
		t.Fatalf("first stage: %v", err)
	}
	n.After("1,000 writes acknowledged")
	err := n.Before("Inject fault", "Copy the database while it runs.")
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("second stage: err = %v, want ErrAborted", err)
	}
	for _, want := range []string{"[1/3] Load data", "Ten phones sync", "-> 1,000 writes acknowledged", "[2/3] Inject fault", "Press Enter"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("narration lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNarratorWithoutStepDoesNotRead(t *testing.T) {
	var out strings.Builder
	n := NewNarrator(&out, strings.NewReader("q\n"), false, 1)
	if err := n.Before("Restore", "Restore the backup into a fresh stack."); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "Press Enter") {
		t.Error("non-step narrator prompted for input")
	}
}

func TestWrapKeepsWordsWhole(t *testing.T) {
	got := wrap("the quick brown fox jumps over the lazy dog", 10)
	for _, line := range got {
		if len(line) > 10 {
			t.Errorf("line %q longer than 10", line)
		}
	}
	if strings.Join(got, " ") != "the quick brown fox jumps over the lazy dog" {
		t.Errorf("wrap lost words: %q", got)
	}
}

func TestAStepWaitEndsWithTheRun(t *testing.T) {
	pr, pw := io.Pipe() // a terminal nobody types into
	defer pw.Close()
	n := NewNarrator(io.Discard, pr, true, 2)
	ctx, cancel := context.WithCancel(context.Background())
	n.StopOn(ctx)
	cancel()
	if err := n.Before("Load", "phones sync"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a step wait after the run was cancelled = %v, want context.Canceled", err)
	}
}
