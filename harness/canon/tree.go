package canon

import (
	"bytes"
	"strings"

	"github.com/firedrill/firedrill/harness/model"
)

// component is one BEGIN..END block of a parsed body: its properties in body
// order and its nested components. Diff, Compare and the tests use it; the
// digest works on the workspace directly.
type component struct {
	name     string // upper-cased, e.g. "VCARD", "VEVENT"
	props    []prop
	children []*component
}

// prop is one content line with its value still in its escaped wire form.
type prop struct {
	group  string // upper-cased, "" when absent
	name   string // upper-cased
	params []param
	value  string
}

// param is one property parameter with its values, quotes removed.
type param struct {
	name   string // upper-cased
	values []string
}

// parseBody reads a body into its top-level components, with the grammar
// and errors of the digest's parser.
func parseBody(format string, body []byte) ([]*component, error) {
	w := getWork()
	defer putWork(w)
	if err := w.parse(format, body); err != nil {
		return nil, err
	}
	str := func(s span) string { return string(w.src[s.lo:s.hi]) }
	var build func(ci int32) *component
	build = func(ci int32) *component {
		c := &w.comps[ci]
		out := &component{name: str(c.name)}
		for _, pi := range w.propIdx[c.props : c.props+c.nprops] {
			p := &w.props[pi]
			pr := prop{group: str(p.group), name: str(p.name), value: str(p.value)}
			for j := p.params; j < p.params+p.npar; j++ {
				rp := &w.params[j]
				pm := param{name: "TYPE"}
				if rp.name.lo >= 0 {
					pm.name = str(rp.name)
				}
				for k := rp.vals; k < rp.vals+rp.nval; k++ {
					pm.values = append(pm.values, str(w.pvals[k]))
				}
				pr.params = append(pr.params, pm)
			}
			out.props = append(out.props, pr)
		}
		for _, ch := range w.childIdx[c.children : c.children+c.nchld] {
			out.children = append(out.children, build(ch))
		}
		return out
	}
	var top []*component
	for i := range w.comps {
		if w.comps[i].parent < 0 {
			top = append(top, build(int32(i)))
		}
	}
	return top, nil
}

// ncomp is one component of a canonical text: its canonical property lines,
// sorted, and its children.
type ncomp struct {
	name     string
	lines    []string
	children []*ncomp
}

// canonicalTree returns the canonical form of body as components; nil, nil
// for kinds compared byte for byte.
func canonicalTree(kind model.Kind, body []byte) ([]*ncomp, error) {
	if !kind.Semantic() {
		return nil, checkKind(kind)
	}
	w := getWork()
	defer putWork(w)
	text, err := w.canonical(kind, body)
	if err != nil {
		return nil, err
	}
	return splitCanonical(text), nil
}

// splitCanonical reads a canonical text back into components. Canonical text
// is unfolded and has one content line per CRLF, so this needs no parser.
func splitCanonical(text []byte) []*ncomp {
	var top, stack []*ncomp
	for len(text) > 0 {
		i := bytes.Index(text, []byte("\r\n"))
		if i < 0 {
			i = len(text)
		}
		l := string(text[:i])
		text = text[min(i+2, len(text)):]
		switch {
		case strings.HasPrefix(l, "BEGIN:"):
			c := &ncomp{name: l[len("BEGIN:"):]}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, c)
			} else {
				top = append(top, c)
			}
			stack = append(stack, c)
		case strings.HasPrefix(l, "END:"):
			stack = stack[:len(stack)-1]
		default:
			c := stack[len(stack)-1]
			c.lines = append(c.lines, l)
		}
	}
	return top
}
