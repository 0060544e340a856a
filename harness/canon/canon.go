package canon

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/firedrill/firedrill/harness/model"
)

// Canonical returns the canonical text of body for semantic kinds (contact,
// event, todo, note) and body itself for photo and app data. It fails when a
// semantic body does not parse or is not of its kind's format (a vCard for
// contacts, a VCALENDAR with a VEVENT, VTODO or VJOURNAL for events, to-dos and
// notes). Canonical is idempotent: Canonical of a canonical text is itself.
func Canonical(kind model.Kind, body []byte) ([]byte, error) {
	if !kind.Semantic() {
		if err := checkKind(kind); err != nil {
			return nil, err
		}
		return body, nil
	}
	w := getWork()
	defer putWork(w)
	text, err := w.canonical(kind, body)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(text), nil
}

// Digest returns the first 16 bytes of the SHA-256 of Canonical(kind, body).
func Digest(kind model.Kind, body []byte) (model.Digest, error) {
	var d model.Digest
	if !kind.Semantic() {
		if err := checkKind(kind); err != nil {
			return d, err
		}
		sum := sha256.Sum256(body)
		copy(d[:], sum[:])
		return d, nil
	}
	w := getWork()
	defer putWork(w)
	text, err := w.canonical(kind, body)
	if err != nil {
		return d, err
	}
	sum := sha256.Sum256(text)
	copy(d[:], sum[:])
	return d, nil
}

func checkKind(kind model.Kind) error {
	switch kind {
	case model.KindContact, model.KindEvent, model.KindTodo, model.KindNote, model.KindPhoto, model.KindAppData:
		return nil
	}
	return fmt.Errorf("canonicalise %s: unknown kind; want one of contact, event, todo, note, photo, appdata", kind)
}

// work is the scratch space of one canonicalisation. Every buffer is reused
// across bodies through a pool, so a digest allocates next to nothing.
type work struct {
	// parse
	src      []byte // the body's logical lines, unfolded; names upper-cased in place
	logical  []logicalLine
	props    []rawProp
	params   []rawParam
	pvals    []span
	comps    []rawComp
	propIdx  []int32
	childIdx []int32
	stack    []int32

	// normalisation
	pv        []pval
	pbuf      []byte
	np        []nparam
	head      []byte
	head2     []byte
	val       []byte
	tmp, tmp2 []byte
	rparts    []byte
	rspans    []span
	items     []span
	setBuf    []byte
	tzRefs    []span // TZID parameter values outside VTIMEZONE, NFC, in tzBuf
	tzBuf     []byte
	out       []byte // canonical lines
	lineStart int
	lineSpans []kspan
	txt       []byte // component texts
	kids      []kspan
	final     []byte
	nfcSegs   map[string]bool // segmentNFC's answers
}

var workPool = sync.Pool{New: func() any { return new(work) }}

// maxPooled bounds the buffers a pooled workspace keeps: one huge body must
// not pin its memory for the rest of the run.
const maxPooled = 4 << 20

func getWork() *work { return workPool.Get().(*work) }

func putWork(w *work) {
	if cap(w.src) > maxPooled || cap(w.out) > maxPooled || cap(w.txt) > maxPooled {
		return
	}
	w.src, w.logical, w.props, w.params, w.pvals = w.src[:0], w.logical[:0], w.props[:0], w.params[:0], w.pvals[:0]
	w.comps, w.tzRefs, w.out, w.lineSpans, w.txt, w.kids, w.final = w.comps[:0], w.tzRefs[:0], w.out[:0], w.lineSpans[:0], w.txt[:0], w.kids[:0], w.final[:0]
	workPool.Put(w)
}

// canonical parses body as kind and returns its canonical text, valid until
// w is reused.
func (w *work) canonical(kind model.Kind, body []byte) ([]byte, error) {
	format, top, want, vcard := "icalendar", "VCALENDAR", "", false
	switch kind {
	case model.KindContact:
		format, top, vcard = "vcard", "VCARD", true
	case model.KindEvent:
		want = "VEVENT"
	case model.KindTodo:
		want = "VTODO"
	case model.KindNote:
		want = "VJOURNAL"
	}
	if err := w.parse(format, body); err != nil {
		return nil, err
	}
	ntop := 0
	for i := range w.comps {
		c := &w.comps[i]
		if c.parent >= 0 {
			continue
		}
		ntop++
		if name := w.src[c.name.lo:c.name.hi]; string(name) != top {
			return nil, fmt.Errorf("parse %s: top-level component is %s, want %s", format, name, top)
		}
	}
	if !vcard {
		if ntop > 1 {
			return nil, fmt.Errorf("parse %s: %d VCALENDAR components, want one", format, ntop)
		}
		found := false
		for _, ch := range w.childIdx[w.comps[0].children : w.comps[0].children+w.comps[0].nchld] {
			c := w.comps[ch]
			found = found || string(w.src[c.name.lo:c.name.hi]) == want
		}
		if !found {
			return nil, fmt.Errorf("parse %s: no %s component in the VCALENDAR (a %s must have one)", format, want, kind)
		}
		w.collectTZRefs()
	}
	w.kids = w.kids[:0]
	for i := range w.comps {
		if w.comps[i].parent < 0 {
			w.kids = append(w.kids, w.keyed(w.txt, w.render(int32(i), vcard)))
		}
	}
	if len(w.kids) == 1 {
		return w.txt[w.kids[0].lo:w.kids[0].hi], nil
	}
	w.sortSpans(w.kids, w.txt)
	w.final = w.final[:0]
	for _, k := range w.kids {
		w.final = append(w.final, w.txt[k.lo:k.hi]...)
	}
	return w.final, nil
}

// collectTZRefs records the TZID parameter values used outside VTIMEZONE
// components: the zones whose definitions matter.
func (w *work) collectTZRefs() {
	w.tzRefs, w.tzBuf = w.tzRefs[:0], w.tzBuf[:0]
	for i := range w.props {
		p := &w.props[i]
		if w.comps[p.comp].inTimezone {
			continue
		}
		for j := p.params; j < p.params+p.npar; j++ {
			pm := &w.params[j]
			if pm.name.lo >= 0 && string(w.src[pm.name.lo:pm.name.hi]) == "TZID" {
				for k := pm.vals; k < pm.vals+pm.nval; k++ {
					start := len(w.tzBuf)
					w.tzBuf = w.appendParamText(w.tzBuf, w.src[w.pvals[k].lo:w.pvals[k].hi])
					w.tzRefs = append(w.tzRefs, span{int32(start), int32(len(w.tzBuf))})
				}
			}
		}
	}
}

// keepTimezone reports whether a VTIMEZONE belongs in the canonical form:
// only a custom zone (its TZID not in the IANA database) that something
// refers to. An IANA zone means the database's definition, whatever a device
// or server wrote (RFC 7809); an unreferenced definition means nothing.
func (w *work) keepTimezone(ci int32) bool {
	c := &w.comps[ci]
	for _, pi := range w.propIdx[c.props : c.props+c.nprops] {
		p := &w.props[pi]
		if string(w.src[p.name.lo:p.name.hi]) != "TZID" {
			continue
		}
		w.val = w.appendText(w.val[:0], w.src[p.value.lo:p.value.hi], escSingle)
		w.tmp = unescape(w.tmp[:0], w.val)
		if isIANA(w.tmp) {
			return false
		}
		for _, r := range w.tzRefs {
			if bytes.Equal(w.tzBuf[r.lo:r.hi], w.tmp) {
				return true
			}
		}
		return false
	}
	return true // no TZID: a malformed zone, compared as written
}

// render writes the canonical text of component ci into w.txt and returns
// its span: BEGIN, the sorted canonical lines (defaults made explicit), the
// children's texts sorted, END; CRLF line ends.
func (w *work) render(ci int32, vcard bool) span {
	c := w.comps[ci]
	name := w.src[c.name.lo:c.name.hi]
	v3 := false
	if vcard {
		for _, pi := range w.propIdx[c.props : c.props+c.nprops] {
			p := &w.props[pi]
			if string(w.src[p.name.lo:p.name.hi]) == "VERSION" {
				v3 = string(bytes.TrimSpace(w.src[p.value.lo:p.value.hi])) == "3.0"
			}
		}
	}
	outStart, linesStart := len(w.out), len(w.lineSpans)
	defaults := defaultsOf[string(name)]
	var seen uint32 // bit i: the component has defaults[i].prop
	for _, pi := range w.propIdx[c.props : c.props+c.nprops] {
		p := &w.props[pi]
		pname := w.src[p.name.lo:p.name.hi]
		if string(pname) == "PRODID" {
			continue
		}
		for i, d := range defaults {
			if d.prop == string(pname) {
				seen |= 1 << i
			}
		}
		w.emitProp(p, vcard, v3)
	}
	for i, d := range defaults {
		if seen&(1<<i) == 0 {
			w.lineStart = len(w.out)
			w.out = append(w.out, d.line...)
			w.endLine()
		}
	}
	lines := w.lineSpans[linesStart:]
	w.sortSpans(lines, w.out)

	kidsStart := len(w.kids)
	for _, ch := range w.childIdx[c.children : c.children+c.nchld] {
		if !vcard && c.parent < 0 && string(w.src[w.comps[ch].name.lo:w.comps[ch].name.hi]) == "VTIMEZONE" && !w.keepTimezone(ch) {
			continue
		}
		sp := w.render(ch, vcard)
		w.kids = append(w.kids, w.keyed(w.txt, sp))
	}
	kids := w.kids[kidsStart:]
	w.sortSpans(kids, w.txt)

	start := len(w.txt)
	w.txt = append(w.txt, "BEGIN:"...)
	w.txt = append(w.txt, name...)
	w.txt = append(w.txt, "\r\n"...)
	for _, l := range lines {
		w.txt = append(w.txt, w.out[l.lo:l.hi]...)
		w.txt = append(w.txt, "\r\n"...)
	}
	for _, k := range kids {
		w.txt = append(w.txt, w.txt[k.lo:k.hi]...)
	}
	w.txt = append(w.txt, "END:"...)
	w.txt = append(w.txt, name...)
	w.txt = append(w.txt, "\r\n"...)
	w.kids = w.kids[:kidsStart]
	w.lineSpans = w.lineSpans[:linesStart]
	w.out = w.out[:outStart]
	return span{int32(start), int32(len(w.txt))}
}

// kspan is a span with its first 8 bytes as a big-endian number, zero
// padded: ordering by key, then by bytes, is ordering by bytes, and most
// comparisons end at the key.
type kspan struct {
	key uint64
	span
}

// keyed returns s of buf with its key.
func (w *work) keyed(buf []byte, s span) kspan {
	var k [8]byte
	copy(k[:], buf[s.lo:s.hi])
	return kspan{binary.BigEndian.Uint64(k[:]), s}
}

// sortSpans sorts spans of buf by their bytes.
func (w *work) sortSpans(s []kspan, buf []byte) {
	slices.SortFunc(s, func(a, b kspan) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		return bytes.Compare(buf[a.lo:a.hi], buf[b.lo:b.hi])
	})
}
