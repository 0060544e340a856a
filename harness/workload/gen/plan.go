package gen

import (
	"math"

	"github.com/firedrill/firedrill/harness/model"
)

// OpKind is what a planned operation does.
type OpKind uint8

// The operations of a plan.
const (
	Create OpKind = iota + 1 // PUT a new item (If-None-Match: *)
	Update                   // PUT a new version (If-Match: the known ETag)
	Delete                   // DELETE (If-Match: the known ETag)
)

// String names the operation.
func (o OpKind) String() string {
	switch o {
	case Create:
		return "create"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return "op?"
}

// Op is one planned operation on one item.
type Op struct {
	Op      OpKind
	Kind    model.Kind
	Index   int
	Version int // the version written (creates write 0); for deletes, the version deleted
	Device  int // the device that performs it: the one that created the item
}

// Plan is what one user's devices do, in order per device.
type Plan struct {
	User    string
	Devices int
	Counts  map[model.Kind]int // items created per kind
	Ops     []Op
}

// AtRest returns the plan of the same user at rest: every item created once,
// at version 0, in the plan's order, and no update or delete. It is what a
// populate step imports in bulk, and what `firedrill load --populate` writes
// through the protocol against a server without a bulk import.
func (p Plan) AtRest() Plan {
	out := p
	out.Ops = make([]Op, 0, len(p.Ops))
	for _, op := range p.Ops {
		if op.Op == Create {
			out.Ops = append(out.Ops, op)
		}
	}
	return out
}

// DeviceOps returns the operations of device d in plan order.
func (p Plan) DeviceOps(d int) []Op {
	var ops []Op
	for _, op := range p.Ops {
		if op.Device == d {
			ops = append(ops, op)
		}
	}
	return ops
}

// DeviceOpIndexes returns the positions in p.Ops of device d's operations, in
// the order DeviceOps returns them.
func (p Plan) DeviceOpIndexes(d int) []int {
	var idx []int
	for i, op := range p.Ops {
		if op.Device == d {
			idx = append(idx, i)
		}
	}
	return idx
}

type planItem struct {
	kind    model.Kind
	index   int
	version int
	device  int
}

// Plan returns user's operations: every item created once, then about
// creates*update/create updates and creates*delete/create deletes, interleaved at
// random with the creates (an item is only updated or deleted after its create and
// never touched after its delete). Each item belongs to one device.
func (g *Generator) Plan(user string) Plan {
	r := Derive(g.seed, "plan", user)
	p := Plan{User: user, Devices: between(r, g.p.Devices.Min, g.p.Devices.Max), Counts: map[model.Kind]int{}}
	// Devices(user) repeats this first draw: keep them in step.
	var creates []*planItem
	for _, k := range model.Kinds {
		rg := g.p.ItemRange(k)
		n := between(r, rg.Min, rg.Max)
		if rg.Users > 0 && rg.Users < 1 && Derive(g.seed, "has", user, k.String()).Float64() >= rg.Users {
			// Only a share of the users keep this kind at all (a draw of
			// its own, so that profiles without a share plan as before).
			n = 0
		}
		if k == model.KindAppData {
			n = min(n, len(games))
		}
		p.Counts[k] = n
		for i := 0; i < n; i++ {
			creates = append(creates, &planItem{kind: k, index: i, device: r.IntN(p.Devices)})
		}
	}
	r.Shuffle(len(creates), func(i, j int) { creates[i], creates[j] = creates[j], creates[i] })
	c := len(creates)
	u := int(math.Round(float64(c) * g.p.Mix.Update / g.p.Mix.Create))
	d := min(c, int(math.Round(float64(c)*g.p.Mix.Delete/g.p.Mix.Create)))
	var live []*planItem
	next := 0
	for c+u+d > 0 {
		wc, wu, wd := c, u, d
		if len(live) == 0 {
			wu, wd = 0, 0
		}
		if wc+wu+wd == 0 {
			break
		}
		x := r.IntN(wc + wu + wd)
		switch {
		case x < wc:
			it := creates[next]
			next++
			c--
			live = append(live, it)
			p.Ops = append(p.Ops, Op{Op: Create, Kind: it.kind, Index: it.index, Device: it.device})
		case x < wc+wu:
			it := live[r.IntN(len(live))]
			it.version++
			u--
			p.Ops = append(p.Ops, Op{Op: Update, Kind: it.kind, Index: it.index, Version: it.version, Device: it.device})
		default:
			i := r.IntN(len(live))
			it := live[i]
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			d--
			p.Ops = append(p.Ops, Op{Op: Delete, Kind: it.kind, Index: it.index, Version: it.version, Device: it.device})
		}
	}
	return p
}

// Devices returns how many devices user has: Plan(user).Devices, without making
// the rest of the plan.
func (g *Generator) Devices(user string) int {
	return between(Derive(g.seed, "plan", user), g.p.Devices.Min, g.p.Devices.Max)
}
