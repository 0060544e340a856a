package live

import (
	"strconv"
	"time"

	"github.com/firedrill/firedrill/harness/timeline"
)

// Bounds on what the state keeps, so that a long drill's state, sent whole to
// every viewer that connects, stays small.
const (
	maxLines  = 40   // narration lines kept (the page shows the newest)
	maxPoints = 1200 // throughput points; past this, neighbours are merged
	maxSpans  = 400  // timeline spans; past this, the oldest closed ones go
	minBin    = time.Second
)

// Info is what a live page says about the run before the drill says anything.
type Info struct {
	Scenario string `json:"scenario"`
	Summary  string `json:"summary,omitempty"`
	Profile  string `json:"profile,omitempty"`
	Seed     int64  `json:"seed"`
	Step     bool   `json:"step"` // the drill waits before each stage
}

// State is everything a viewer needs to draw the page as it is now. A viewer
// that connects late is sent the State, then the events that change it.
type State struct {
	Info    Info    `json:"info"`
	Started string  `json:"started"` // RFC 3339; offsets below count from it
	Now     float64 `json:"now"`     // seconds since Started of the newest event

	Stages  []StageState `json:"stages"`
	Waiting int          `json:"waiting"` // the stage waiting for "next stage"; 0 when none
	Lines   []Line       `json:"lines"`
	Spans   []Span       `json:"spans"`
	Points  []Point      `json:"points"`
	// Phases holds the newest progress of each long phase, in the order they began.
	Phases   []PhaseState `json:"phases"`
	Stopping bool         `json:"stopping"`
	Finished *Final       `json:"finished,omitempty"`
}

// StageState is one stage of the drill.
type StageState struct {
	N     int     `json:"n"`
	Total int     `json:"total"`
	Title string  `json:"title"`
	What  string  `json:"what"`
	Said  string  `json:"said,omitempty"`
	Took  float64 `json:"took,omitempty"` // seconds, once done
	Done  bool    `json:"done"`
	At    float64 `json:"at"` // when it was announced
}

// Line is a line of narration said inside a stage.
type Line struct {
	Stage int     `json:"stage"`
	At    float64 `json:"at"`
	Text  string  `json:"text"`
}

// Span is a timeline span: a fault, a backup, a restore phase, a stage. End
// is nil while it is open.
type Span struct {
	ID       string   `json:"id"`
	Category string   `json:"category"`
	Name     string   `json:"name"`
	Target   string   `json:"target,omitempty"`
	Start    float64  `json:"start"`
	End      *float64 `json:"end"`
	Detail   string   `json:"detail,omitempty"`
}

// Point is the write rate over one interval of the load, in writes per second
// by outcome; T is the interval's middle and W its width, in seconds.
type Point struct {
	T         float64 `json:"t"`
	W         float64 `json:"w"`
	Acked     float64 `json:"acked"`
	Failed    float64 `json:"failed"`
	Ambiguous float64 `json:"ambiguous"`
}

// PhaseState is the newest progress of one long phase.
type PhaseState struct {
	Phase     string  `json:"phase"`
	Done      int64   `json:"done"`
	Total     int64   `json:"total"`
	Unit      string  `json:"unit"`
	ETA       float64 `json:"eta"` // seconds; 0 when unknown
	Acked     int64   `json:"acked"`
	Failed    int64   `json:"failed"`
	Ambiguous int64   `json:"ambiguous"`
	Intact    int64   `json:"intact"`
	Damaged   int64   `json:"damaged"`
	At        float64 `json:"at"`
}

// Final is how the run ended; the page then reloads into the final report.
type Final struct {
	Verdict  string `json:"verdict"`
	Headline string `json:"headline"`
}

// spanID names a span by what does not change between its begin and end.
func spanID(e timeline.Entry) string {
	return string(e.Category) + "|" + e.Name + "|" + e.Target + "|" + strconv.FormatInt(e.Start.UnixNano(), 36)
}

// mergePoints halves the number of points by merging neighbours, weighting
// each by its width: a long drill's timeline stays drawable.
func mergePoints(ps []Point) []Point {
	out := ps[:0]
	for i := 0; i+1 < len(ps); i += 2 {
		a, b := ps[i], ps[i+1]
		w := a.W + b.W
		avg := func(x, y float64) float64 { return (x*a.W + y*b.W) / w }
		out = append(out, Point{T: (a.T - a.W/2 + b.T + b.W/2) / 2, W: w,
			Acked: avg(a.Acked, b.Acked), Failed: avg(a.Failed, b.Failed), Ambiguous: avg(a.Ambiguous, b.Ambiguous)})
	}
	if len(ps)%2 == 1 {
		out = append(out, ps[len(ps)-1])
	}
	return out
}
