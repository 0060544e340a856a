package drill

import (
	"time"

	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/timeline"
)

// Watcher is told what a drill does as it happens: a live page for a game day
// implements it. Calls come from the drill's goroutines (faults narrate from
// their own) and must return quickly.
type Watcher interface {
	// Stage says that stage n of total begins: its title and what it will do.
	Stage(n, total int, title, what string)
	// StageDone says that stage n ended, what it did and how long it took.
	StageDone(n int, said string, took time.Duration)
	// Said is a line of narration inside the current stage.
	Said(line string)
	// Span says that a span of the timeline began (End zero) or ended: a fault,
	// a backup, a restore phase, a stage.
	Span(e timeline.Entry)
	// Progress says how far a long phase is, about every half second.
	Progress(p Progress)
	// Finished says the run ended and its report is written in dir (index.html
	// is the final page).
	Finished(r *report.Report, dir *report.RunDir)
}

// Progress is how far a long phase of a drill is.
type Progress struct {
	At    time.Time
	Phase string        // "populate", "load", "check", "verify"
	Done  int64         // units done: writes for load, users for verify
	Total int64         // units planned; 0 when unknown
	Unit  string        // "writes", "users"
	ETA   time.Duration // 0 when unknown
	// Acked, Failed and Ambiguous count the load's writes by outcome so far,
	// for the throughput timeline.
	Acked, Failed, Ambiguous int64
	// Intact and Damaged count the users verified so far.
	Intact, Damaged int64
}
