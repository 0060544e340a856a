// Package timeline records what happened during a drill and when: faults injected
// and recovered, backup and restore phases, stages of a scenario. Reports draw it
// beside the workload's throughput. It is safe for concurrent use.
package timeline

import (
	"sort"
	"sync"
	"time"
)

// Category groups entries for drawing.
type Category string

// The categories of entries.
const (
	Fault   Category = "fault"
	Backup  Category = "backup"
	Restore Category = "restore"
	Stage   Category = "stage"
)

// Entry is one span of the drill. End is zero while the span is open.
type Entry struct {
	Category Category  `json:"category"`
	Name     string    `json:"name"`             // e.g. "kill-9", "wal-replay"
	Target   string    `json:"target,omitempty"` // e.g. "postgres", "san-a"
	Start    time.Time `json:"start"`
	End      time.Time `json:"end,omitzero"`
	Detail   string    `json:"detail,omitempty"`
}

// Duration returns how long the span lasted, or 0 while it is open.
func (e Entry) Duration() time.Duration {
	if e.End.IsZero() {
		return 0
	}
	return e.End.Sub(e.Start)
}

// Timeline is an ordered record of a drill's spans.
type Timeline struct {
	mu      sync.Mutex
	entries []Entry
	now     func() time.Time
	watch   func(Entry) // told of every span as it begins and ends
}

// Watch has the timeline call fn with each span as it begins (End zero) and as
// it ends, outside its lock: a live page draws spans as they happen.
func (t *Timeline) Watch(fn func(Entry)) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.watch = fn
}

// New returns an empty timeline.
func New() *Timeline { return &Timeline{now: time.Now} }

// Begin opens a span and returns the function that closes it with an optional detail.
func (t *Timeline) Begin(c Category, name, target string) (end func(detail string)) {
	if t == nil {
		return func(string) {}
	}
	t.mu.Lock()
	i := len(t.entries)
	e := Entry{Category: c, Name: name, Target: target, Start: t.now()}
	t.entries = append(t.entries, e)
	watch := t.watch
	t.mu.Unlock()
	if watch != nil {
		watch(e)
	}
	var once sync.Once
	return func(detail string) {
		once.Do(func() {
			t.mu.Lock()
			t.entries[i].End = t.now()
			t.entries[i].Detail = detail
			e, watch := t.entries[i], t.watch
			t.mu.Unlock()
			if watch != nil {
				watch(e)
			}
		})
	}
}

// Add records a finished span.
func (t *Timeline) Add(e Entry) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.entries = append(t.entries, e)
	watch := t.watch
	t.mu.Unlock()
	if watch != nil {
		watch(e)
	}
}

// Entries returns a copy of the spans in start order.
func (t *Timeline) Entries() []Entry {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	out := append([]Entry(nil), t.entries...)
	t.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}
