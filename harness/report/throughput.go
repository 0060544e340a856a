package report

import (
	"fmt"
	"time"
)

// Throughput bins the workload's writes into Samples for the timeline chart.
// It is not safe for concurrent use: fill it from the ledger after the run.
type Throughput struct {
	start time.Time
	width time.Duration
	bins  [][3]int
}

// NewThroughput returns a binner whose samples start at start (the report's
// Started time) and are width long.
func NewThroughput(start time.Time, width time.Duration) (*Throughput, error) {
	if width <= 0 {
		return nil, fmt.Errorf("new throughput: bin width %v must be positive", width)
	}
	return &Throughput{start: start, width: width}, nil
}

// Add counts writes that returned at time at. Writes before the start are
// counted in the first bin.
func (t *Throughput) Add(at time.Time, acked, failed, ambiguous int) {
	i := 0
	if d := at.Sub(t.start); d > 0 {
		i = int(d / t.width)
	}
	for len(t.bins) <= i {
		t.bins = append(t.bins, [3]int{})
	}
	t.bins[i][0] += acked
	t.bins[i][1] += failed
	t.bins[i][2] += ambiguous
}

// Samples returns one sample per bin from the start to the last write, in
// writes per second.
func (t *Throughput) Samples() []Sample {
	w := t.width.Seconds()
	out := make([]Sample, len(t.bins))
	for i, b := range t.bins {
		out[i] = Sample{
			T:         float64(i) * w,
			Acked:     float64(b[0]) / w,
			Failed:    float64(b[1]) / w,
			Ambiguous: float64(b[2]) / w,
		}
	}
	return out
}
