package ledger

import (
	"reflect"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
)

func TestPossibleAt(t *testing.T) {
	a, b, c := digestOf("a"), digestOf("b"), digestOf("c")
	put := func(call, ret int64, d model.Digest, o Outcome) Write {
		return Write{Call: call, Return: ret, Digest: d, Size: 1, Op: OpPut, Outcome: o}
	}
	del := func(call, ret int64, o Outcome) Write {
		return Write{Call: call, Return: ret, Op: OpDelete, Outcome: o}
	}
	P := func(d model.Digest) State { return State{Present: true, Digest: d, Size: 1} }
	cases := []struct {
		name   string
		writes []Write
		cut    int64
		want   []State
	}{
		{"nothing yet", []Write{put(10, 20, a, OK)}, 5, []State{Absent}},
		{"in flight", []Write{put(10, 20, a, OK)}, 15, []State{Absent, P(a)}},
		{"acked", []Write{put(10, 20, a, OK)}, 20, []State{P(a)}},
		{"failed never happened", []Write{put(10, 20, a, OK), put(30, 40, b, Failed)}, 50, []State{P(a)}},
		{"ambiguous update", []Write{put(10, 20, a, OK), put(30, 40, b, Ambiguous)}, 50, []State{P(a), P(b)}},
		{"ambiguous before the cut only", []Write{put(10, 20, a, OK), put(60, 70, b, Ambiguous)}, 50, []State{P(a)}},
		{"acked update", []Write{put(10, 20, a, OK), put(30, 40, b, OK)}, 50, []State{P(b)}},
		{"acked delete", []Write{put(10, 20, a, OK), del(30, 40, OK)}, 50, []State{Absent}},
		{"concurrent acked writes", []Write{put(10, 40, a, OK), put(20, 30, b, OK)}, 50, []State{P(a), P(b)}},
		{"sequential after concurrent", []Write{put(10, 40, a, OK), put(20, 30, b, OK), put(45, 48, c, OK)}, 50, []State{P(c)}},
		{"ambiguous create", []Write{put(10, 20, a, Ambiguous)}, 50, []State{Absent, P(a)}},
		{"pending update", []Write{put(10, 20, a, OK), {Call: 30, Return: 90, Digest: b, Size: 1, Op: OpPut, Outcome: Ambiguous, Pending: true}}, 50, []State{P(a), P(b)}},
	}
	for _, c := range cases {
		h := ItemHistory{Writes: c.writes}
		if got := h.PossibleAt(c.cut); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: PossibleAt(%d) = %v, want %v", c.name, c.cut, got, c.want)
		}
	}
	h := ItemHistory{Writes: []Write{put(10, 20, a, OK), put(30, 40, b, OK), del(50, 60, OK)}}
	if got := h.PossibleFrom(25); !reflect.DeepEqual(got, []State{Absent, P(a), P(b)}) {
		t.Errorf("PossibleFrom(25) = %v", got)
	}
	if got := h.Accepts(P(b), 0, 100); !reflect.DeepEqual(got, []Interval{{30, 60}}) {
		t.Errorf("Accepts(b) = %v, want [30,60)", got)
	}
	if got := h.Accepts(Absent, 0, 100); !reflect.DeepEqual(got, []Interval{{0, 20}, {50, 101}}) {
		t.Errorf("Accepts(absent) = %v", got)
	}
}
