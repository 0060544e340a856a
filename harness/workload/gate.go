package workload

import (
	"context"

	"github.com/firedrill/firedrill/harness/gate"
)

// opGate is one device's view of the load's write gate: its operations' places
// in the global write order.
type opGate struct {
	g   *gate.Gate
	idx []int64
}

// gated returns the view of g for a device whose operations are at positions
// idx of a user's plan, the user's writes starting at offset.
func gated(g *gate.Gate, offset int64, idx []int) opGate {
	if g == nil {
		return opGate{}
	}
	og := opGate{g: g, idx: make([]int64, len(idx))}
	for i, j := range idx {
		og.idx[i] = offset + int64(j)
	}
	return og
}

// wait blocks before the device's j-th operation while the gate holds it.
func (og opGate) wait(ctx context.Context, j int) error {
	if og.g == nil {
		return nil
	}
	return og.g.Wait(ctx, og.idx[j])
}

// done marks the device's j-th operation done on the gate.
func (og opGate) done(j int) {
	if og.g != nil {
		og.g.Done(og.idx[j])
	}
}
