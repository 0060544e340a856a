package verify

import (
	"fmt"
	"math"
	"slices"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// classify records an item whose observed state is not among the possible
// ones as lost, changed, resurrected or rewritten. r is the time
// acknowledged writes are measured against; note prefixes the detail.
func (u *userCheck) classify(h *ledger.ItemHistory, o *model.ObservedItem, poss []ledger.State, r int64, note string) {
	d := ItemDetail{Key: h.Key, Expected: poss, LastAcked: lastAcked(h, r), WantCollection: u.recordedItem(h)}
	s := observedState(o)
	if o != nil {
		d.GotDigest, d.GotSize = &o.Digest, o.Size
		if o.Collection != "" {
			d.GotCollections = []string{o.Collection}
		}
	}
	lostN, oldest := lostWrites(h, s, r)
	var class string
	switch {
	case o == nil:
		class = ClassLost
		d.Detail = fmt.Sprintf("missing; last acknowledged write returned at %s", at(d.LastAcked))
		if u.c.in.Baseline != nil {
			d.Detail = "missing: the snapshot holds it"
		}
		if u.notOffered[h.Kind] {
			d.Detail += fmt.Sprintf("; the server offers no %s collection any more", h.Kind)
		}
	case !anyPresent(poss):
		if del, ok := lastAckedDelete(h, r); ok {
			class = ClassResurrected
			d.Detail = fmt.Sprintf("deleted (acknowledged at %s) but present", at(del.Return))
			if v, ok := version(h, o.Digest); ok {
				d.Detail += fmt.Sprintf(", showing the version written at %s", at(v.Return))
			}
		} else {
			class = ClassChanged
			d.Detail = "present, but no write to it had taken effect by then"
			if v, ok := version(h, o.Digest); ok && v.Outcome == ledger.Failed {
				d.Detail = fmt.Sprintf("present with the content of a write that failed (called at %s)", at(v.Call))
			}
		}
	default:
		class = ClassChanged
		v, known := version(h, o.Digest)
		switch {
		case known && v.Outcome != ledger.Failed:
			d.Detail = fmt.Sprintf("stale: shows the version written at %s; %d newer acknowledged writes lost", at(v.Return), lostN)
		case known:
			d.Detail = fmt.Sprintf("shows the content of a write that failed (called at %s)", at(v.Call))
		case u.c.in.Baseline != nil:
			d.Detail = "content differs from the snapshot's"
		default:
			d.Detail = "content differs from every version written"
		}
		want := expectedPresent(h, poss, r)
		if !known {
			if rewrites, ok := u.rewrittenFrom(h, poss, want, o); ok {
				class = ClassRewritten
				d.Rewrites = rewrites
				d.Detail = "rewritten by the server in ways the RFCs allow; every property the device wrote is there"
				break
			}
		}
		if want != nil {
			d.Diff = u.diff(h, *want, o)
			if !h.Kind.Semantic() {
				d.Detail += fmt.Sprintf(" (size %d -> %d)", want.Size, o.Size)
			}
		}
	}
	if note != "" {
		d.Detail = note + ": " + d.Detail
	}
	if !u.add(class, h.Kind, d) {
		return
	}
	if class != ClassRewritten && lostN > 0 && r == u.c.r {
		u.t.lostWrites += lostN
		u.t.oldestLost = min(u.t.oldestLost, oldest)
	}
}

// wantBody returns the body of a version the user wrote: from Written, else
// from Bodies.
func (u *userCheck) wantBody(h *ledger.ItemHistory, d model.Digest) ([]byte, bool) {
	if u.c.in.Written != nil {
		if b, ok := u.c.in.Written(u.uo.User, h.Key, d); ok {
			return b, true
		}
	}
	if u.c.in.Bodies != nil {
		return u.c.in.Bodies(d)
	}
	return nil, false
}

// gotBody returns the observed body: kept by the observer, else from Bodies.
func (u *userCheck) gotBody(o *model.ObservedItem) ([]byte, bool) {
	if len(o.Body) > 0 {
		return o.Body, true
	}
	if u.c.in.Bodies != nil {
		return u.c.in.Bodies(o.Digest)
	}
	return nil, false
}

// rewrittenFrom asks the explainer whether the observed body is one of the
// possible versions as the server rewrote it in allowed ways, trying the
// expected version first; it returns the rewrites when it is.
func (u *userCheck) rewrittenFrom(h *ledger.ItemHistory, poss []ledger.State, want *ledger.State, o *model.ObservedItem) ([]string, bool) {
	if u.c.in.Explain == nil {
		return nil, false
	}
	got, ok := u.gotBody(o)
	if !ok {
		return nil, false
	}
	cands := slices.Clone(poss)
	if want != nil {
		cands = append([]ledger.State{*want}, cands...)
	}
	for _, p := range cands {
		if !p.Present {
			continue
		}
		wb, ok := u.wantBody(h, p.Digest)
		if !ok {
			continue
		}
		if cmp := u.c.in.Explain(h.Kind, wb, got); cmp.onlyRewrites() {
			return cmp.Rewrites, true
		}
	}
	return nil, false
}

// diff explains a changed item property by property when both bodies are at
// hand: with the explainer's damage lines when there is one, else canon.Diff.
func (u *userCheck) diff(h *ledger.ItemHistory, want ledger.State, o *model.ObservedItem) []string {
	if u.c.in.Written == nil && u.c.in.Bodies == nil {
		return nil
	}
	wb, ok := u.wantBody(h, want.Digest)
	if !ok {
		return []string{"(body of the acknowledged version not available)"}
	}
	gb, ok := u.gotBody(o)
	if !ok {
		return []string{"(observed body not available)"}
	}
	if u.c.in.Explain != nil {
		cmp := u.c.in.Explain(h.Kind, wb, gb)
		if len(cmp.Damage) > 0 {
			return append(cmp.Damage, prefixed("rewrite: ", cmp.Rewrites)...)
		}
	}
	if lines := canon.Diff(h.Kind, wb, gb); len(lines) > 0 {
		return lines
	}
	return []string{"(the digests differ, but no property does: a canonicalisation bug?)"}
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

// anyPresent reports whether a set of states includes a present one.
func anyPresent(states []ledger.State) bool {
	return slices.ContainsFunc(states, func(s ledger.State) bool { return s.Present })
}

// lastAckedDelete returns the item's last acknowledged delete by r.
func lastAckedDelete(h *ledger.ItemHistory, r int64) (ledger.Write, bool) {
	var last ledger.Write
	found := false
	for _, w := range h.Writes {
		if w.Op == ledger.OpDelete && w.Outcome == ledger.OK && w.Return <= r && (!found || w.Return > last.Return) {
			last, found = w, true
		}
	}
	return last, found
}

// version returns the latest put of the item with digest d, preferring one
// that did not fail.
func version(h *ledger.ItemHistory, d model.Digest) (ledger.Write, bool) {
	var best ledger.Write
	found := false
	for _, w := range h.Writes {
		if w.Op != ledger.OpPut || w.Digest != d {
			continue
		}
		better := !found || (best.Outcome == ledger.Failed && w.Outcome != ledger.Failed) ||
			((best.Outcome == ledger.Failed) == (w.Outcome == ledger.Failed) && w.Return > best.Return)
		if better {
			best, found = w, true
		}
	}
	return best, found
}

// expectedPresent picks the present state to explain a change against: the
// last acknowledged version when it is possible, else the first possible
// present state.
func expectedPresent(h *ledger.ItemHistory, poss []ledger.State, r int64) *ledger.State {
	if w, ok := h.LastAcked(r); ok && w.Op == ledger.OpPut && acceptable(poss, w.State()) {
		s := w.State()
		return &s
	}
	for _, p := range poss {
		if p.Present {
			return &p
		}
	}
	return nil
}

// lostWrites counts the writes acknowledged by r that are newer than the
// observed state (the last acknowledged write that produced it, or the
// item's start for an absent item), and the Return of the oldest. An
// observed content the item never had is corruption, not loss: zero.
func lostWrites(h *ledger.ItemHistory, s ledger.State, r int64) (int, int64) {
	match := int64(math.MinInt64)
	found := !s.Present
	for _, w := range h.Writes {
		if w.Outcome == ledger.OK && w.Return <= r && acceptable([]ledger.State{w.State()}, s) {
			match, found = max(match, w.Return), true
		}
	}
	if !found {
		return 0, 0
	}
	n, oldest := 0, int64(math.MaxInt64)
	for _, w := range h.Writes {
		if w.Outcome == ledger.OK && w.Return <= r && w.Return > match {
			n++
			oldest = min(oldest, w.Return)
		}
	}
	return n, oldest
}
