package canon

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
)

// reserialiser writes a parsed body back out the way another server might:
// properties, parameters and components reordered, names in random case,
// parameter values quoted or not, TYPE lists split or joined, commas escaped
// or not, \n as \N, date lists split, RRULE parts reordered, PRODID and
// CALSCALE added, VTIMEZONE added or dropped, lines folded at random widths,
// LF or CRLF.
type reserialiser struct {
	r     *rand.Rand
	vcard bool
	b     strings.Builder
}

func (s *reserialiser) randCase(name string) string {
	switch s.r.IntN(3) {
	case 0:
		return strings.ToLower(name)
	case 1:
		return name
	}
	out := []byte(name)
	for i := range out {
		if s.r.IntN(2) == 0 {
			out[i] = bytes.ToLower(out[i : i+1])[0]
		}
	}
	return string(out)
}

func (s *reserialiser) line(l string) { s.b.WriteString(l + "\x00") } // \x00 marks line ends until folding

func (s *reserialiser) component(c *component, top bool) {
	s.line("BEGIN:" + s.randCase(c.name))
	var lines []string
	for _, p := range c.props {
		lines = append(lines, s.prop(p)...)
	}
	if top && s.r.IntN(2) == 0 {
		lines = append(lines, s.randCase("PRODID")+":-//Server "+fmt.Sprint(s.r.IntN(100))+"//EN")
	}
	if top && !s.vcard && s.r.IntN(2) == 0 {
		lines = append(lines, "CALSCALE:"+s.randCase("GREGORIAN"))
	}
	s.r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	for _, l := range lines {
		s.line(l)
	}
	children := append([]*component(nil), c.children...)
	if top && !s.vcard {
		children = slicesDeleteVTimezone(children, s.r.IntN(2) == 0)
		if s.r.IntN(2) == 0 {
			children = append(children, &component{name: "VTIMEZONE", props: []prop{{name: "TZID", value: "Pacific/Auckland"}},
				children: []*component{{name: "STANDARD", props: []prop{{name: "DTSTART", value: "19700405T030000"}, {name: "TZOFFSETFROM", value: "+1300"}, {name: "TZOFFSETTO", value: "+1200"}}}}})
		}
	}
	s.r.Shuffle(len(children), func(i, j int) { children[i], children[j] = children[j], children[i] })
	for _, ch := range children {
		s.component(ch, false)
	}
	s.line("END:" + s.randCase(c.name))
}

func slicesDeleteVTimezone(cs []*component, drop bool) []*component {
	if !drop {
		return cs
	}
	var out []*component
	for _, c := range cs {
		if c.name != "VTIMEZONE" {
			out = append(out, c)
		}
	}
	return out
}

func (s *reserialiser) prop(p prop) []string {
	head := s.randCase(p.name)
	if p.group != "" {
		head = s.randCase(p.group) + "." + head
	}
	var params []string
	for _, pm := range p.params {
		vals := pm.values
		if pm.name == "TYPE" {
			var set []string
			for _, v := range vals {
				for _, t := range strings.Split(v, ",") {
					set = append(set, s.randCase(t))
				}
			}
			s.r.Shuffle(len(set), func(i, j int) { set[i], set[j] = set[j], set[i] })
			if s.r.IntN(2) == 0 {
				for _, t := range set {
					params = append(params, s.randCase("TYPE")+"="+s.quote(t))
				}
				continue
			}
			vals = set
		}
		var qs []string
		for _, v := range vals {
			qs = append(qs, s.quote(v))
		}
		params = append(params, s.randCase(pm.name)+"="+strings.Join(qs, ","))
	}
	s.r.Shuffle(len(params), func(i, j int) { params[i], params[j] = params[j], params[i] })
	for _, pm := range params {
		head += ";" + pm
	}
	v := p.value
	encoded := false
	for _, pm := range p.params {
		encoded = encoded || pm.name == "ENCODING"
	}
	switch {
	case encoded:
	case recur[p.name] && !s.vcard:
		parts := strings.Split(v, ";")
		s.r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		v = strings.Join(parts, ";")
	case dateList[p.name] && !s.vcard:
		if s.r.IntN(2) == 0 {
			var out []string
			for _, d := range strings.Split(v, ",") {
				out = append(out, head+":"+d)
			}
			return out
		}
	case dateTimeDefault[p.name] && !s.vcard:
	default:
		v = s.reescape(v)
	}
	return []string{head + ":" + v}
}

// quote quotes a parameter value when it must be, and at random otherwise.
func (s *reserialiser) quote(v string) string {
	if strings.ContainsAny(v, ";:,") || s.r.IntN(3) == 0 {
		return `"` + v + `"`
	}
	return v
}

// reescape rewrites a text value's escaping without changing its meaning:
// unescaped commas escaped or escaped ones unescaped, \n as \N.
func (s *reserialiser) reescape(v string) string {
	mode := s.r.IntN(3)
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			next := v[i+1]
			i++
			switch {
			case next == ',' && mode == 1:
				b.WriteByte(',')
			case next == 'n' && mode == 2:
				b.WriteString(`\N`)
			default:
				b.WriteByte('\\')
				b.WriteByte(next)
			}
		case c == ',' && mode == 0:
			b.WriteString(`\,`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// finish folds the lines at random widths and joins them with LF or CRLF.
func (s *reserialiser) finish() string {
	nl, cont := "\r\n", "\r\n "
	if s.r.IntN(2) == 0 {
		nl, cont = "\n", "\n\t"
	}
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(s.b.String(), "\x00"), "\x00") {
		width := 1 + s.r.IntN(120)
		for len(l) > width {
			out.WriteString(l[:width] + cont)
			l = l[width:]
		}
		out.WriteString(l + nl)
	}
	return out.String()
}

// equivalent re-serialises body with equal meaning.
func equivalent(t *testing.T, kind model.Kind, body string, r *rand.Rand) string {
	comps, err := parseBody("body", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	s := &reserialiser{r: r, vcard: kind == model.KindContact}
	for _, c := range comps {
		s.component(c, true)
	}
	return s.finish()
}

// mutate changes one thing a device wrote: a character inserted into a
// property value or parameter value, or a property removed. Properties the
// canonical form ignores (PRODID, CALSCALE, VTIMEZONE contents) are spared.
func mutate(kind model.Kind, body string, r *rand.Rand) (string, string) {
	comps, _ := parseBody("body", []byte(body))
	var targets []*prop
	var walk func(c *component)
	walk = func(c *component) {
		if c.name == "VTIMEZONE" {
			return
		}
		for i := range c.props {
			if n := c.props[i].name; n != "PRODID" && n != "CALSCALE" {
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
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
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

// checkSeed re-serialises and mutates one sample with one seed.
func checkSeed(t *testing.T, which uint8, seed uint64) {
	s := samples[int(which)%len(samples)]
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
	for i := range samples {
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
	for i := range samples {
		for seed := uint64(0); seed < n; seed++ {
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
