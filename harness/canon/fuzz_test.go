package canon

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// mutate changes one thing a device wrote: a character inserted into a
// property value or parameter value, or a property removed. Properties the
// canonical form ignores (PRODID, VTIMEZONE contents) and those that restate
// a default (whose removal means the same) are spared; the inserted
// characters leave out '0' (a leading zero in a number means the same) and
// 'Z' (which can turn a local time into an equal UTC one).
func mutate(kind model.Kind, body string, r *rand.Rand) (string, string) {
	comps, _ := parseBody("body", []byte(body))
	var targets []*prop
	var walk func(c *component)
	walk = func(c *component) {
		if c.name == "VTIMEZONE" {
			return
		}
		for i := range c.props {
			if c.props[i].name != "PRODID" && !isDefaultProp(c.name, c.props[i]) {
				targets = append(targets, &c.props[i])
			}
		}
		for _, ch := range c.children {
			walk(ch)
		}
	}
	for _, c := range comps {
		walk(c)
	}
	p := targets[r.IntN(len(targets))]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXY123456789"
	ch := string(alphabet[r.IntN(len(alphabet))])
	var what string
	switch {
	case r.IntN(6) == 0 && len(targets) > 1:
		what = "removed " + p.name
		p.name = "X-REMOVED-MARKER"
	case r.IntN(4) == 0 && len(p.params) > 0:
		pm := &p.params[r.IntN(len(p.params))]
		i := r.IntN(len(pm.values))
		at := r.IntN(len(pm.values[i]) + 1)
		pm.values[i] = pm.values[i][:at] + ch + pm.values[i][at:]
		what = fmt.Sprintf("%s;%s value %q", p.name, pm.name, pm.values[i])
	default:
		at := r.IntN(len(p.value) + 1)
		p.value = p.value[:at] + ch + p.value[at:]
		what = fmt.Sprintf("%s value at %d", p.name, at)
	}
	var b strings.Builder
	var write func(c *component)
	write = func(c *component) {
		b.WriteString("BEGIN:" + c.name + "\r\n")
		for _, p := range c.props {
			if p.name == "X-REMOVED-MARKER" {
				continue
			}
			l := p.name
			if p.group != "" {
				l = p.group + "." + l
			}
			for _, pm := range p.params {
				var qs []string
				for _, v := range pm.values {
					qs = append(qs, `"`+v+`"`)
				}
				l += ";" + pm.name + "=" + strings.Join(qs, ",")
			}
			b.WriteString(l + ":" + p.value + "\r\n")
		}
		for _, ch := range c.children {
			write(ch)
		}
		b.WriteString("END:" + c.name + "\r\n")
	}
	for _, c := range comps {
		write(c)
	}
	return b.String(), what
}

// fuzzSamples is the hand-written samples and bodies from the generator,
// a few of each kind and shape.
var fuzzSamples = sync.OnceValue(func() []sample {
	out := append([]sample(nil), samples...)
	p, err := profile.Load("small")
	if err != nil {
		panic(err)
	}
	g := gen.New(7, p)
	for i := 0; i < 12; i++ {
		for _, k := range []model.Kind{model.KindContact, model.KindEvent, model.KindTodo, model.KindNote} {
			if k == model.KindNote && i > 2 {
				continue
			}
			out = append(out, sample{fmt.Sprintf("gen-%s-%d", k, i), k, string(g.Item("fuzz", k, i, i%3).Body)})
		}
	}
	return out
})

// checkSeed re-serialises and mutates one sample with one seed.
func checkSeed(t *testing.T, which uint8, seed uint64) {
	all := fuzzSamples()
	s := all[int(which)%len(all)]
	r := rand.New(rand.NewPCG(seed, uint64(which)))
	want := mustDigest(t, s.kind, s.body)
	eq := equivalent(t, s.kind, s.body, r)
	if got, err := Digest(s.kind, []byte(eq)); err != nil || got != want {
		t.Fatalf("%s seed %d: equivalent body changed the digest (%v): %q\n%s", s.name, seed, err, Diff(s.kind, []byte(s.body), []byte(eq)), eq)
	}
	mut, what := mutate(s.kind, eq, r)
	if got, err := Digest(s.kind, []byte(mut)); err != nil || got == want {
		t.Fatalf("%s seed %d: mutation (%s) kept the digest (err %v)\n%s", s.name, seed, what, err, mut)
	}
	if d := Diff(s.kind, []byte(s.body), []byte(mut)); len(d) == 0 {
		t.Fatalf("%s seed %d: mutation (%s) changed the digest but Diff is empty", s.name, seed, what)
	}
}

// FuzzReserialise: re-serialising with equal meaning never changes the
// digest; changing any property or parameter value a device wrote always
// does. Run with: go test ./harness/canon -fuzz FuzzReserialise -fuzztime 60s
func FuzzReserialise(f *testing.F) {
	for i := range fuzzSamples() {
		for seed := uint64(0); seed < 4; seed++ {
			f.Add(uint8(i), seed*7919+uint64(i))
		}
	}
	f.Fuzz(checkSeed)
}

// TestReserialiseMany runs the fuzz property over many seeds in a plain
// go test run.
func TestReserialiseMany(t *testing.T) {
	n := uint64(300)
	if testing.Short() {
		n = 30
	}
	for i := range fuzzSamples() {
		m := n
		if i >= len(samples) {
			m = n / 8 // the generated bodies are many and alike
		}
		for seed := uint64(0); seed < m; seed++ {
			checkSeed(t, uint8(i), seed)
		}
	}
}

// FuzzCanonical feeds arbitrary bodies: Canonical never panics, and what it
// accepts it maps to a fixed point (canonical text is its own canonical
// text). Run with: go test ./harness/canon -fuzz FuzzCanonical -fuzztime 60s
func FuzzCanonical(f *testing.F) {
	for _, s := range samples {
		f.Add(uint8(s.kind), []byte(s.body))
		f.Add(uint8(s.kind), []byte(s.body[:len(s.body)/3]))
	}
	f.Add(uint8(model.KindEvent), []byte("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=Foo\nEND:VEVENT\nEND:VCALENDAR\n"))
	f.Add(uint8(model.KindContact), []byte("BEGIN:VCARD\nNOTE:a\\\r\n b\\\nX;A=\"q\",r:\\,\r\nEND:VCARD"))
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		kind := model.Kind(k%4 + 1)
		c, err := Canonical(kind, body)
		if err != nil {
			return
		}
		c2, err := Canonical(kind, c)
		if err != nil {
			t.Fatalf("canonical text does not parse: %v\n%q", err, c)
		}
		if !bytes.Equal(c, c2) {
			t.Fatalf("not a fixed point:\n%q\n%q", c, c2)
		}
		if d := Diff(kind, body, c); d != nil {
			t.Fatalf("Diff(body, canonical) = %q, want nil", d)
		}
	})
}
