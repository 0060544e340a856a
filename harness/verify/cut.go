package verify

import (
	"fmt"

	"github.com/firedrill/firedrill/harness/ledger"
)

// consistentCut checks, in point-in-time mode, that one cut in [Lower, Upper]
// explains all of a user's passed items at once, sets the user's Cut, and
// counts the writes acknowledged after the cut as lost. When no cut does, it
// reports the items that disagree with the cut matching most of them.
func (u *userCheck) consistentCut() {
	lo, hi := u.c.in.Lower, u.c.in.Upper
	passed := u.passed
	accepts := make([][]ledger.Interval, len(passed))
	common := []ledger.Interval{{From: lo, To: hi + 1}}
	for i, p := range passed {
		accepts[i] = p.h.Accepts(p.state, lo, hi)
		common = intersect(common, accepts[i])
	}
	if len(common) > 0 {
		cut := common[len(common)-1].To - 1
		u.ur.Cut = &cut
		for _, p := range passed {
			for _, w := range p.h.Writes {
				if w.Outcome == ledger.OK && w.Return > cut && w.Return <= hi {
					u.t.lostWrites++
					u.t.oldestLost = min(u.t.oldestLost, w.Return)
				}
			}
		}
		return
	}
	// No single cut: find the time that explains the most items.
	best, bestN := lo, 0
	for _, iv := range accepts {
		for _, span := range iv {
			n := 0
			for _, other := range accepts {
				if contains(other, span.From) {
					n++
				}
			}
			if n > bestN || (n == bestN && n > 0 && span.From > best) {
				best, bestN = span.From, n
			}
		}
	}
	u.ur.Cut = &best
	u.mixedCut = true
	u.ur.Reason = fmt.Sprintf("state mixes cuts: no single time in [%s, %s] explains every item; the best, %s, explains %d of %d",
		at(lo), at(hi), at(best), bestN, len(passed))
	for i, p := range passed {
		if contains(accepts[i], best) {
			continue
		}
		u.classify(p.h, p.o, p.h.PossibleAt(best), best, "inconsistent with the cut at "+at(best))
	}
}

// intersect returns the intersection of two sorted lists of disjoint intervals.
func intersect(a, b []ledger.Interval) []ledger.Interval {
	var out []ledger.Interval
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		from, to := max(a[i].From, b[j].From), min(a[i].To, b[j].To)
		if from < to {
			out = append(out, ledger.Interval{From: from, To: to})
		}
		if a[i].To < b[j].To {
			i++
		} else {
			j++
		}
	}
	return out
}

// contains reports whether t lies in one of the intervals.
func contains(ivs []ledger.Interval, t int64) bool {
	for _, iv := range ivs {
		if iv.From <= t && t < iv.To {
			return true
		}
	}
	return false
}
