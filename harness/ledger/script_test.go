package ledger

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/seed"
)

// wantWrite is a write as a test expects to read it back.
type wantWrite struct {
	key, coll   string
	call, ret   int64
	op          Op
	outcome     Outcome
	pending     bool
	digest      model.Digest
	size        uint32
	kind        model.Kind
	openTicket  Ticket
	batchTicket bool
}

// script drives a Writer and keeps what every user should read back.
type script struct {
	t       testing.TB
	w       *Writer
	rng     *rand.Rand
	clock   int64
	names   []string
	users   []uint32
	writes  map[string][]*wantWrite // by user name, in append order
	open    []openWant              // invoked, not completed
	last    int64                   // the latest call or return on record
	indices map[string]int          // next generated index per user and kind
}

type openWant struct {
	t      Ticket
	writes []*wantWrite
}

func newScript(t testing.TB, w *Writer, users int, rngSeed uint64) *script {
	s := &script{t: t, w: w, rng: rand.New(rand.NewPCG(rngSeed, 7)), clock: 1000, writes: map[string][]*wantWrite{}, indices: map[string]int{}}
	for i := range users {
		name := fmt.Sprintf("user%02d", i)
		if i%5 == 4 {
			name = fmt.Sprintf("ann smith %d", i) // path-escaped in URLs
		}
		s.names = append(s.names, name)
		s.users = append(s.users, w.User(name))
	}
	return s
}

func (s *script) tick() int64 {
	s.clock += int64(s.rng.IntN(2e6))
	s.last = max(s.last, s.clock)
	return s.clock
}

// collection returns a user's collection for kind, escaped as in a URL.
func collection(user string, k model.Kind) string {
	return "/dav/" + url.PathEscape(user) + "/" + k.String() + "s/"
}

// liveKey picks a key for a live write: one of a few per user, so items get
// several writes.
func (s *script) liveKey(kind model.Kind) string {
	switch s.rng.IntN(3) {
	case 0:
		return model.ItemKey(kind, fmt.Sprintf("%08x-0000-4000-8000-%012x.vcf", s.rng.IntN(4), s.rng.IntN(3)))
	case 1:
		return model.ItemKey(kind, fmt.Sprintf("IMG_%04d.jpg", s.rng.IntN(5)))
	}
	return model.ItemKey(kind, strings.ToUpper(fmt.Sprintf("x-%08x-0000-4000-a000-%012x", s.rng.IntN(3), 1)))
}

// live records one live attempt: an Append, or an Invoke completed now, later
// or never.
func (s *script) live() {
	u := s.rng.IntN(len(s.users))
	kind := model.Kinds[s.rng.IntN(len(model.Kinds))]
	key := s.liveKey(kind)
	coll := collection(s.names[u], kind)
	if s.rng.IntN(10) == 0 {
		coll = "/other/" + s.names[u] + "/" // raw name, not escaped
	}
	r := Record{Call: s.tick(), User: s.users[u], Item: s.w.Item(s.users[u], key, coll), Kind: kind, Op: OpPut}
	if s.rng.IntN(5) == 0 {
		r.Op = OpDelete
	} else {
		r.Digest, r.Size = digestOf(fmt.Sprint(s.clock)), uint32(s.rng.IntN(8<<20))
	}
	ww := &wantWrite{key: key, coll: coll, call: r.Call, op: r.Op, digest: r.Digest, size: r.Size, kind: kind}
	s.writes[s.names[u]] = append(s.writes[s.names[u]], ww)
	if s.rng.IntN(4) == 0 {
		r.Return, r.Outcome = s.tick(), Outcome(1+s.rng.IntN(3))
		ww.ret, ww.outcome = r.Return, r.Outcome
		if err := s.w.Append(r); err != nil {
			s.t.Fatal(err)
		}
		return
	}
	t, err := s.w.Invoke(r)
	if err != nil {
		s.t.Fatal(err)
	}
	s.open = append(s.open, openWant{t: t, writes: []*wantWrite{ww}})
}

// batch records an import batch over a few users.
func (s *script) batch() {
	call := s.tick()
	var items []ImportItem
	var ws []*wantWrite
	for range 1 + s.rng.IntN(40) {
		u := s.rng.IntN(len(s.users))
		kind := model.Kinds[s.rng.IntN(len(model.Kinds))]
		ik := s.names[u] + kind.String()
		index := s.indices[ik]
		s.indices[ik]++
		name := fmt.Sprintf("IMG_%04d.jpg", index)
		switch {
		case kind == model.KindContact:
			name = seed.FormatUUID(seed.ItemUUID(testSeed, s.names[u], kind.String(), index)) + ".vcf"
		case kind.Semantic() && index%7 != 3:
			name = seed.FormatUUID(seed.ItemUUID(testSeed, s.names[u], kind.String(), index)) + ".ics"
		case kind.Semantic(): // a UUID the seed does not derive
			name = seed.FormatUUID(seed.ItemUUID(testSeed+1, s.names[u], kind.String(), index)) + ".ics"
		}
		it := ImportItem{User: s.users[u], Kind: kind, Name: name, Index: index, Collection: collection(s.names[u], kind),
			Digest: digestOf(name), Size: uint32(s.rng.IntN(1 << 20))}
		items = append(items, it)
		ww := &wantWrite{key: model.ItemKey(kind, name), coll: it.Collection, call: call, op: OpPut, digest: it.Digest, size: it.Size, kind: kind, batchTicket: true}
		ws = append(ws, ww)
		s.writes[s.names[u]] = append(s.writes[s.names[u]], ww)
	}
	t, err := s.w.InvokeBatch(call, items)
	if err != nil {
		s.t.Fatal(err)
	}
	s.open = append(s.open, openWant{t: t, writes: ws})
}

// completeSome completes a random open attempt.
func (s *script) completeSome() {
	if len(s.open) == 0 {
		return
	}
	i := s.rng.IntN(len(s.open))
	o := s.open[i]
	s.open = slices.Delete(s.open, i, i+1)
	ret, out := s.tick(), Outcome(1+s.rng.IntN(3))
	if err := s.w.Complete(o.t, out, ret); err != nil {
		s.t.Fatal(err)
	}
	for _, ww := range o.writes {
		ww.ret, ww.outcome = ret, out
	}
}

// run performs n random steps.
func (s *script) run(n int) {
	for range n {
		switch x := s.rng.IntN(10); {
		case x < 5:
			s.live()
		case x < 6:
			s.batch()
		default:
			s.completeSome()
		}
	}
}

// settle marks the writes still open as pending, as a loaded ledger shows them.
func (s *script) settle() {
	for _, o := range s.open {
		for _, ww := range o.writes {
			ww.outcome, ww.pending, ww.ret = Ambiguous, true, max(ww.call, s.last)
		}
	}
}

// check compares a loaded ledger with what the script wrote.
func (s *script) check(l *Ledger) {
	s.t.Helper()
	got := map[string][]*wantWrite{}
	for _, r := range l.Records() {
		u := l.User(r.User)
		got[u] = append(got[u], &wantWrite{key: l.ItemKey(r.Item), coll: l.ItemCollection(r.Item), call: r.Call, ret: r.Return,
			op: r.Op, outcome: r.Outcome, pending: r.Pending, digest: r.Digest, size: r.Size, kind: r.Kind})
	}
	n := 0
	for _, name := range s.names {
		want := s.writes[name]
		if len(got[name]) != len(want) {
			s.t.Fatalf("user %s: %d writes read back, want %d", name, len(got[name]), len(want))
		}
		for i, w := range want {
			c := *w
			c.openTicket, c.batchTicket = Ticket{}, false
			if *got[name][i] != c {
				s.t.Fatalf("user %s write %d: got %+v, want %+v", name, i, *got[name][i], c)
			}
		}
		n += len(want)
	}
	if l.Len() != n {
		s.t.Errorf("Len = %d, want %d", l.Len(), n)
	}
}
