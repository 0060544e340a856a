package timeline

import (
	"testing"
	"time"
)

func TestBeginEndRecordsSpanOnce(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tl := New()
	tl.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	end := tl.Begin(Fault, "kill-9", "postgres")
	end("killed")
	end("again")
	got := tl.Entries()
	if len(got) != 1 || got[0].Name != "kill-9" || got[0].Detail != "killed" || got[0].Duration() != time.Second {
		t.Fatalf("entries = %+v, want one closed kill-9 span of 1s with detail killed", got)
	}
}

func TestNilTimelineIsANoOp(t *testing.T) {
	var tl *Timeline
	tl.Begin(Stage, "x", "")("done")
	tl.Add(Entry{Name: "y"})
	if tl.Entries() != nil {
		t.Fatal("nil timeline returned entries")
	}
}

func TestWatchSeesSpansBeginAndEnd(t *testing.T) {
	tl := New()
	var seen []Entry
	tl.Watch(func(e Entry) { seen = append(seen, e) })
	end := tl.Begin(Fault, "kill-9", "syncd")
	end("killed")
	tl.Add(Entry{Category: Backup, Name: "base-001"})
	if len(seen) != 3 || !seen[0].End.IsZero() || seen[1].End.IsZero() || seen[1].Detail != "killed" || seen[2].Name != "base-001" {
		t.Fatalf("watched %+v, want the kill's begin and end, then the backup", seen)
	}
}
