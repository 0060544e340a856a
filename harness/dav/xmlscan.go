package dav

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"sync"
	"unicode/utf8"
)

// scanner reads a whole XML document held in memory, token by token, for the
// multistatus decoder. It does what encoding/xml's Decoder does for the XML
// that DAV servers send (namespaces, the five predefined entities and character
// references, CDATA, comments, processing instructions, a DOCTYPE skipped,
// \r\n read as \n, the same checks of names, nesting, UTF-8 and character
// ranges) at a fraction of the cost: it never reads byte by byte through an
// interface, hands out text as slices of the document where it can, and keeps
// names interned, so that decoding a multiget answer does not allocate per
// token. It exists because encoding/xml was a third of an observation's CPU.
type scanner struct {
	b   []byte
	pos int

	// The current token.
	kind  tokenKind
	name  xml.Name   // start and end
	attrs []xml.Attr // start; valid until the next token
	text  []byte     // text; valid until the next token

	open     []openElement
	ns       []nsBinding
	closeTop bool // the last start tag was <x/>: its end comes next
	scratch  []byte
	names    map[string]string
}

type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokStart
	tokEnd
	tokText
)

// openElement is an element whose end tag has not come yet.
type openElement struct {
	raw  []byte // qualified name as written, for matching the end tag
	name xml.Name
	ns   int // len(scanner.ns) before its declarations
}

type nsBinding struct{ prefix, uri string }

// maxDepth bounds element nesting; no multistatus needs more.
const maxDepth = 256

// maxNames bounds the interned names of one scanner.
const maxNames = 4096

const nsXML = "http://www.w3.org/XML/1998/namespace"

// scanners keeps scanners (their interned names and buffers) for the next
// document.
var scanners = sync.Pool{New: func() any { return &scanner{names: make(map[string]string, 64)} }}

// getScanner returns a scanner over b; putScanner gives it back.
func getScanner(b []byte) *scanner {
	s := scanners.Get().(*scanner)
	s.b, s.pos, s.kind, s.closeTop = b, 0, tokEOF, false
	return s
}

func putScanner(s *scanner) {
	s.b, s.text = nil, nil
	s.open, s.ns, s.attrs = s.open[:0], s.ns[:0], s.attrs[:0]
	if cap(s.scratch) > 1<<20 {
		s.scratch = nil // one huge body does not pin its buffer
	}
	scanners.Put(s)
}

// intern returns b as a string, the same string for the same bytes.
func (s *scanner) intern(b []byte) string {
	if v, ok := s.names[string(b)]; ok {
		return v
	}
	v := string(b)
	if len(s.names) < maxNames {
		s.names[v] = v
	}
	return v
}

func (s *scanner) errorf(format string, args ...any) error {
	line := 1 + bytes.Count(s.b[:min(s.pos, len(s.b))], []byte{'\n'})
	return fmt.Errorf("XML syntax error on line %d: %s", line, fmt.Sprintf(format, args...))
}

// next reads the next token into s.kind, s.name, s.attrs and s.text.
func (s *scanner) next() error {
	if s.closeTop {
		s.closeTop = false
		s.pop()
		s.kind = tokEnd
		return nil
	}
	for {
		if s.pos >= len(s.b) {
			if len(s.open) > 0 {
				return s.errorf("unexpected EOF")
			}
			s.kind = tokEOF
			return nil
		}
		if s.b[s.pos] != '<' {
			return s.readText()
		}
		rest := s.b[s.pos:]
		switch {
		case bytes.HasPrefix(rest, []byte("</")):
			return s.readEnd()
		case bytes.HasPrefix(rest, []byte("<?")):
			end := bytes.Index(rest, []byte("?>"))
			if end < 0 {
				return s.errorf("unexpected EOF")
			}
			// A processing instruction is rare (the XML declaration, at the
			// start): encoding/xml judges it, so that its rules (a target
			// name, version 1.0, UTF-8) hold here exactly.
			if _, err := xml.NewDecoder(bytes.NewReader(rest[:end+2])).RawToken(); err != nil {
				return s.errorf("processing instruction: %v", err)
			}
			s.pos += end + 2
		case bytes.HasPrefix(rest, []byte("<!--")):
			end := bytes.Index(rest[4:], []byte("-->"))
			if end < 0 {
				return s.errorf("unexpected EOF")
			}
			s.pos += 4 + end + 3
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest[9:], []byte("]]>"))
			if end < 0 {
				return s.errorf("unexpected EOF in CDATA section")
			}
			raw := rest[9 : 9+end]
			s.pos += 9 + end + 3
			return s.setText(raw, false)
		case bytes.HasPrefix(rest, []byte("<!DOCTYPE")) && len(rest) > 9 && isSpace(rest[9]):
			if err := s.skipDirective(); err != nil {
				return err
			}
		case bytes.HasPrefix(rest, []byte("<!")):
			return s.errorf("unsupported directive %.12q: a multistatus has no DTD", rest)
		default:
			return s.readStart()
		}
	}
}

// skipDirective skips <!DOCTYPE ...> and the like, with quoted strings and a
// bracketed internal subset.
func (s *scanner) skipDirective() error {
	depth := 0
	var quote byte
	for i := s.pos + 2; i < len(s.b); i++ {
		c := s.b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '<':
			depth++
		case c == '>' && depth == 0:
			s.pos = i + 1
			return nil
		case c == '>':
			depth--
		}
	}
	return s.errorf("unexpected EOF")
}

// readText reads character data up to the next '<'.
func (s *scanner) readText() error {
	end := bytes.IndexByte(s.b[s.pos:], '<')
	if end < 0 {
		end = len(s.b) - s.pos
	}
	raw := s.b[s.pos : s.pos+end]
	s.pos += end
	if bytes.Contains(raw, []byte("]]>")) {
		return s.errorf("unescaped ]]> not in CDATA section")
	}
	return s.setText(raw, true)
}

// setText makes raw (with entities when decode) the current text token.
func (s *scanner) setText(raw []byte, decode bool) error {
	t, err := s.decodeText(raw, decode, false)
	if err != nil {
		return err
	}
	s.kind, s.text = tokText, t
	return nil
}

// isNameByte reports whether c may be part of an XML name (bytes of UTF-8
// sequences are checked as UTF-8 elsewhere).
func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '-' || c == '.' || c >= utf8.RuneSelf
}

// readName reads an XML name at s.pos.
func (s *scanner) readName() ([]byte, error) {
	start, high := s.pos, false
	for s.pos < len(s.b) && isNameByte(s.b[s.pos]) {
		high = high || s.b[s.pos] >= utf8.RuneSelf
		s.pos++
	}
	name := s.b[start:s.pos]
	if len(name) == 0 || ('0' <= name[0] && name[0] <= '9') || name[0] == '-' || name[0] == '.' {
		if s.pos >= len(s.b) {
			return nil, s.errorf("unexpected EOF")
		}
		return nil, s.errorf("expected element name after <")
	}
	if high && !utf8.Valid(name) {
		return nil, s.errorf("invalid UTF-8")
	}
	if bytes.Count(name, []byte{':'}) > 1 {
		return nil, s.errorf("name %q has more than one colon", name) // not a qualified name
	}
	return name, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (s *scanner) skipSpace() {
	for s.pos < len(s.b) && isSpace(s.b[s.pos]) {
		s.pos++
	}
}

// split returns the prefix and local part of a qualified name.
func split(q []byte) (prefix, local []byte) {
	if i := bytes.IndexByte(q, ':'); i > 0 && i < len(q)-1 {
		return q[:i], q[i+1:]
	}
	return nil, q
}

// resolve turns a qualified name into a namespace and local name; an element's
// unprefixed name takes the default namespace, an attribute's none. An unbound
// prefix stands for itself, as encoding/xml has it.
func (s *scanner) resolve(q []byte, isAttr bool) xml.Name {
	prefix, local := split(q)
	n := xml.Name{Local: s.intern(local)}
	switch {
	case prefix == nil && isAttr:
	case string(prefix) == "xml":
		n.Space = nsXML
	default:
		found := false
		for i := len(s.ns) - 1; i >= 0; i-- {
			if s.ns[i].prefix == string(prefix) {
				n.Space, found = s.ns[i].uri, true
				break
			}
		}
		if !found && prefix != nil {
			n.Space = s.intern(prefix)
		}
	}
	return n
}

// readStart reads a start tag and its attributes, declaring its namespaces.
func (s *scanner) readStart() error {
	s.pos++ // '<'
	raw, err := s.readName()
	if err != nil {
		return err
	}
	if len(s.open) >= maxDepth {
		return s.errorf("elements nested deeper than %d", maxDepth)
	}
	mark := len(s.ns)
	s.attrs = s.attrs[:0]
	type rawAttr struct{ name, value []byte }
	var pending [8]rawAttr
	attrs := pending[:0]
	for {
		s.skipSpace()
		if s.pos >= len(s.b) {
			return s.errorf("unexpected EOF")
		}
		c := s.b[s.pos]
		if c == '/' {
			if s.pos+1 >= len(s.b) || s.b[s.pos+1] != '>' {
				return s.errorf("expected /> in element")
			}
			s.pos += 2
			s.closeTop = true
			break
		}
		if c == '>' {
			s.pos++
			break
		}
		an, err := s.readName()
		if err != nil {
			return s.errorf("expected attribute name in element")
		}
		s.skipSpace()
		if s.pos >= len(s.b) || s.b[s.pos] != '=' {
			return s.errorf("attribute name without = in element")
		}
		s.pos++
		s.skipSpace()
		if s.pos >= len(s.b) || (s.b[s.pos] != '"' && s.b[s.pos] != '\'') {
			return s.errorf("unquoted or missing attribute value in element")
		}
		q := s.b[s.pos]
		end := bytes.IndexByte(s.b[s.pos+1:], q)
		if end < 0 {
			return s.errorf("unexpected EOF")
		}
		val := s.b[s.pos+1 : s.pos+1+end]
		s.pos += end + 2
		if p, l := split(an); string(p) == "xmlns" || (p == nil && string(l) == "xmlns") {
			v, err := s.decodeText(val, true, true)
			if err != nil {
				return err
			}
			prefix := ""
			if p != nil {
				prefix = s.intern(l)
			}
			s.ns = append(s.ns, nsBinding{prefix: prefix, uri: s.intern(v)})
			continue
		}
		attrs = append(attrs, rawAttr{an, val})
	}
	for _, a := range attrs {
		v, err := s.decodeText(a.value, true, true)
		if err != nil {
			return err
		}
		s.attrs = append(s.attrs, xml.Attr{Name: s.resolve(a.name, true), Value: string(v)})
	}
	s.name = s.resolve(raw, false)
	s.open = append(s.open, openElement{raw: raw, name: s.name, ns: mark})
	s.kind = tokStart
	return nil
}

// readEnd reads an end tag, which must close the innermost open element.
func (s *scanner) readEnd() error {
	s.pos += 2
	raw, err := s.readName()
	if err != nil {
		return err
	}
	s.skipSpace()
	if s.pos >= len(s.b) || s.b[s.pos] != '>' {
		return s.errorf("invalid characters between </%s and >", raw)
	}
	s.pos++
	if len(s.open) == 0 {
		return s.errorf("unexpected end element </%s>", raw)
	}
	top := s.open[len(s.open)-1]
	if !bytes.Equal(top.raw, raw) {
		return s.errorf("element <%s> closed by </%s>", top.raw, raw)
	}
	s.pop()
	s.kind = tokEnd
	return nil
}

// pop closes the innermost element: s.name is its name.
func (s *scanner) pop() {
	top := s.open[len(s.open)-1]
	s.open = s.open[:len(s.open)-1]
	s.ns = s.ns[:top.ns]
	s.name = top.name
}

// skip skips the rest of the element whose start was the last token.
func (s *scanner) skip() error {
	depth := len(s.open)
	for {
		if err := s.next(); err != nil {
			return err
		}
		if s.kind == tokEnd && len(s.open) < depth {
			return nil
		}
		if s.kind == tokEOF {
			return s.errorf("unexpected EOF")
		}
	}
}
