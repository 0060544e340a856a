package verify

import (
	"cmp"
	"container/heap"
	"slices"
)

// bounded keeps the n best values of a stream under a total order, whatever
// order they come in: so what a result lists does not depend on the order
// the observer read users in.
type bounded[T any] struct {
	n      int
	better func(a, b T) bool // a comes before b
	h      worstFirst[T]
	over   int // values seen beyond the n kept
}

func newBounded[T any](n int, better func(a, b T) bool) *bounded[T] {
	return &bounded[T]{n: n, better: better, h: worstFirst[T]{better: better}}
}

// offer considers v.
func (b *bounded[T]) offer(v T) {
	if len(b.h.v) < b.n {
		heap.Push(&b.h, v)
		return
	}
	b.over++
	if b.better(v, b.h.v[0]) {
		b.h.v[0] = v
		heap.Fix(&b.h, 0)
	}
}

// sorted returns the values kept, best first.
func (b *bounded[T]) sorted() []T {
	out := slices.Clone(b.h.v)
	slices.SortFunc(out, func(x, y T) int {
		switch {
		case b.better(x, y):
			return -1
		case b.better(y, x):
			return 1
		}
		return 0
	})
	return out
}

// worstFirst is a heap whose top is the worst value kept.
type worstFirst[T any] struct {
	v      []T
	better func(a, b T) bool
}

func (h worstFirst[T]) Len() int           { return len(h.v) }
func (h worstFirst[T]) Less(i, j int) bool { return h.better(h.v[j], h.v[i]) }
func (h worstFirst[T]) Swap(i, j int)      { h.v[i], h.v[j] = h.v[j], h.v[i] }
func (h *worstFirst[T]) Push(x any)        { h.v = append(h.v, x.(T)) }
func (h *worstFirst[T]) Pop() any {
	x := h.v[len(h.v)-1]
	h.v = h.v[:len(h.v)-1]
	return x
}

// verdictRank orders verdicts for reading: the worst first.
func verdictRank(v Verdict) int {
	switch v {
	case Unreadable:
		return 0
	case Damaged:
		return 1
	case Undecided:
		return 2
	case NotCovered:
		return 3
	case Rewritten:
		return 4
	}
	return 5
}

// moreSevere orders user results: by verdict, then the most damaged items,
// then by name.
func moreSevere(a, b UserResult) bool {
	if ra, rb := verdictRank(a.Verdict), verdictRank(b.Verdict); ra != rb {
		return ra < rb
	}
	if na, nb := a.damagedItems()+a.Omitted, b.damagedItems()+b.Omitted; na != nb {
		return na > nb
	}
	return cmp.Less(a.User, b.User)
}

// trimmed returns u with at most n details per list; the rest are counted in
// Omitted.
func trimmed(u UserResult, n int) UserResult {
	for _, l := range u.lists() {
		if len(*l.items) > n {
			u.Omitted += len(*l.items) - n
			*l.items = slices.Clip((*l.items)[:n])
		}
	}
	return u
}
