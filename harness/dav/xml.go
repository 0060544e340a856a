package dav

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// XML namespaces of the protocols.
const (
	NSDAV     = "DAV:"
	NSCardDAV = "urn:ietf:params:xml:ns:carddav"
	NSCalDAV  = "urn:ietf:params:xml:ns:caldav"
	NSCS      = "http://calendarserver.org/ns/"
)

// Property names the clients ask for.
var (
	PropResourceType         = xml.Name{Space: NSDAV, Local: "resourcetype"}
	PropDisplayName          = xml.Name{Space: NSDAV, Local: "displayname"}
	PropGetETag              = xml.Name{Space: NSDAV, Local: "getetag"}
	PropGetContentLength     = xml.Name{Space: NSDAV, Local: "getcontentlength"}
	PropGetContentType       = xml.Name{Space: NSDAV, Local: "getcontenttype"}
	PropCurrentUserPrincipal = xml.Name{Space: NSDAV, Local: "current-user-principal"}
	PropSyncToken            = xml.Name{Space: NSDAV, Local: "sync-token"}
	PropGetCTag              = xml.Name{Space: NSCS, Local: "getctag"}
	PropAddressBookHomeSet   = xml.Name{Space: NSCardDAV, Local: "addressbook-home-set"}
	PropCalendarHomeSet      = xml.Name{Space: NSCalDAV, Local: "calendar-home-set"}
	PropSupportedComponents  = xml.Name{Space: NSCalDAV, Local: "supported-calendar-component-set"}
	PropAddressData          = xml.Name{Space: NSCardDAV, Local: "address-data"}
	PropCalendarData         = xml.Name{Space: NSCalDAV, Local: "calendar-data"}

	elemHref = xml.Name{Space: NSDAV, Local: "href"}
)

// Resource types, as children of DAV:resourcetype.
var (
	TypeCollection  = xml.Name{Space: NSDAV, Local: "collection"}
	TypeAddressBook = xml.Name{Space: NSCardDAV, Local: "addressbook"}
	TypeCalendar    = xml.Name{Space: NSCalDAV, Local: "calendar"}
)

var prefixes = map[string]string{NSDAV: "d", NSCardDAV: "card", NSCalDAV: "cal", NSCS: "cs"}

const xmlns = `xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" ` +
	`xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"`

// Element is a generic XML element of a server's answer: a property value.
type Element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []Element  `xml:",any"`
}

// Child returns the first child called name, or nil.
func (e *Element) Child(name xml.Name) *Element {
	if e == nil {
		return nil
	}
	for i := range e.Children {
		if e.Children[i].XMLName == name {
			return &e.Children[i]
		}
	}
	return nil
}

// Has reports whether e has a child called name (e.g. a resourcetype).
func (e *Element) Has(name xml.Name) bool { return e.Child(name) != nil }

// Href returns the text of the first DAV:href child, trimmed.
func (e *Element) Href() string {
	if h := e.Child(elemHref); h != nil {
		return strings.TrimSpace(h.Text)
	}
	return ""
}

// Attr returns the value of the attribute called local (any namespace).
func (e *Element) Attr(local string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// Response is one DAV:response of a multistatus.
type Response struct {
	Href string // as served: usually an escaped absolute path
	// Status is the response-level status (e.g. 404 for a multiget href that does
	// not exist, or a sync-collection removal); 0 when the response has propstats.
	Status int
	// props holds the properties the server returned with a 2xx status, missing
	// the others with their status. A response has a handful: a slice is cheaper
	// than a map.
	props   []Element
	missing []missingProp
}

type missingProp struct {
	name xml.Name
	code int
}

// add files a property returned with status code; a later one of the same
// name replaces an earlier.
func (r *Response) add(p Element, code int) {
	if code/100 == 2 {
		for i := range r.props {
			if r.props[i].XMLName == p.XMLName {
				r.props[i] = p
				return
			}
		}
		r.props = append(r.props, p)
		return
	}
	for i := range r.missing {
		if r.missing[i].name == p.XMLName {
			r.missing[i].code = code
			return
		}
	}
	r.missing = append(r.missing, missingProp{p.XMLName, code})
}

// Prop returns the property called name, or nil.
func (r *Response) Prop(name xml.Name) *Element {
	for i := range r.props {
		if r.props[i].XMLName == name {
			return &r.props[i]
		}
	}
	return nil
}

// Text returns the text of the property called name, or "".
func (r *Response) Text(name xml.Name) string {
	if p := r.Prop(name); p != nil {
		return p.Text
	}
	return ""
}

// MissingStatus returns the status the server gave for a property it did not
// return (e.g. 404 for one it does not have), or 0.
func (r *Response) MissingStatus(name xml.Name) int {
	for _, m := range r.missing {
		if m.name == name {
			return m.code
		}
	}
	return 0
}

// Multistatus is a parsed 207 answer.
type Multistatus struct {
	Responses []Response
	SyncToken string // sync-collection only
}

var (
	elemMultistatus = xml.Name{Space: NSDAV, Local: "multistatus"}
	elemResponse    = xml.Name{Space: NSDAV, Local: "response"}
	elemStatus      = xml.Name{Space: NSDAV, Local: "status"}
	elemPropstat    = xml.Name{Space: NSDAV, Local: "propstat"}
	elemProp        = xml.Name{Space: NSDAV, Local: "prop"}
	elemSyncToken   = xml.Name{Space: NSDAV, Local: "sync-token"}
)

// parseMultistatus decodes a multistatus body; anything else is an error that
// names what was wrong. It reads what encoding/xml would (see scanner) but
// allocates little more than the strings it returns.
func parseMultistatus(body []byte) (*Multistatus, error) {
	s := getScanner(body)
	defer putScanner(s)
	for {
		if err := s.next(); err != nil {
			return nil, fmt.Errorf("parse multistatus: %w", err)
		}
		if s.kind == tokEOF {
			return nil, errors.New("parse multistatus: EOF")
		}
		if s.kind == tokStart {
			break
		}
	}
	if s.name != elemMultistatus {
		return nil, fmt.Errorf("parse multistatus: expected element type <multistatus> but have <%s>", s.name.Local)
	}
	ms := &Multistatus{}
	var syncToken []byte
	var sc responseScratch
	for {
		if err := s.next(); err != nil {
			return nil, fmt.Errorf("parse multistatus: %w", err)
		}
		switch s.kind {
		case tokEnd:
			ms.SyncToken = strings.TrimSpace(string(syncToken))
			return ms, nil
		case tokStart:
			var err error
			switch s.name {
			case elemResponse:
				err = parseResponse(s, ms, &sc)
			case elemSyncToken:
				syncToken, err = collectText(s, syncToken[:0])
			default:
				err = s.skip()
			}
			if err != nil {
				return nil, fmt.Errorf("parse multistatus: %w", err)
			}
		}
	}
}

// responseScratch is reused from one DAV:response to the next.
type responseScratch struct {
	hrefs  []string
	props  []Element
	codes  []int
	status []byte
	href   []byte
}

// parseResponse reads one DAV:response (its start tag read) into ms: one
// Response per href.
func parseResponse(s *scanner, ms *Multistatus, sc *responseScratch) error {
	hrefs, props, codes := sc.hrefs[:0], sc.props[:0], sc.codes[:0]
	defer func() { sc.hrefs, sc.props, sc.codes = hrefs, props, codes }()
	hasStatus := false
	for {
		if err := s.next(); err != nil {
			return err
		}
		if s.kind == tokEnd {
			break
		}
		if s.kind != tokStart {
			continue
		}
		switch s.name {
		case elemHref:
			t, err := collectText(s, sc.href[:0])
			if err != nil {
				return err
			}
			sc.href = t
			hrefs = append(hrefs, string(bytes.TrimSpace(t)))
		case elemStatus:
			t, err := collectText(s, sc.status[:0])
			if err != nil {
				return err
			}
			sc.status, hasStatus = t, true
		case elemPropstat:
			n := len(props)
			code, err := parsePropstat(s, &props)
			if err != nil {
				return err
			}
			for range props[n:] {
				codes = append(codes, code)
			}
		default:
			if err := s.skip(); err != nil {
				return err
			}
		}
	}
	if len(hrefs) == 0 {
		return errors.New("a response without href")
	}
	code := 0
	if hasStatus && len(sc.status) > 0 {
		c, err := parseStatus(sc.status)
		if err != nil {
			return err
		}
		code = c
	}
	for _, h := range hrefs {
		r := Response{Href: h, Status: code}
		if len(props) > 0 {
			r.props = make([]Element, 0, len(props))
		}
		for j, p := range props {
			r.add(p, codes[j])
		}
		ms.Responses = append(ms.Responses, r)
	}
	clear(props) // let go of the elements' strings
	return nil
}

// parsePropstat reads one DAV:propstat (its start tag read), appending its
// properties to props, and returns its status.
func parsePropstat(s *scanner, props *[]Element) (int, error) {
	var status []byte
	for {
		if err := s.next(); err != nil {
			return 0, err
		}
		if s.kind == tokEnd {
			break
		}
		if s.kind != tokStart {
			continue
		}
		switch s.name {
		case elemProp:
			for {
				if err := s.next(); err != nil {
					return 0, err
				}
				if s.kind == tokEnd {
					break
				}
				if s.kind == tokStart {
					el, err := parseElement(s)
					if err != nil {
						return 0, err
					}
					*props = append(*props, el)
				}
			}
		case elemStatus:
			t, err := collectText(s, status[:0])
			if err != nil {
				return 0, err
			}
			status = t
		default:
			if err := s.skip(); err != nil {
				return 0, err
			}
		}
	}
	return parseStatus(status)
}

// parseElement reads a whole element (its start tag read) as an Element.
func parseElement(s *scanner) (Element, error) {
	el := Element{XMLName: s.name}
	if len(s.attrs) > 0 {
		el.Attrs = append([]xml.Attr(nil), s.attrs...)
	}
	for {
		if err := s.next(); err != nil {
			return el, err
		}
		switch s.kind {
		case tokEnd:
			return el, nil
		case tokText:
			el.Text += string(s.text)
		case tokStart:
			child, err := parseElement(s)
			if err != nil {
				return el, err
			}
			el.Children = append(el.Children, child)
		}
	}
}

// collectText reads the text of an element (its start tag read) into buf,
// skipping child elements.
func collectText(s *scanner, buf []byte) ([]byte, error) {
	depth := len(s.open)
	for {
		if err := s.next(); err != nil {
			return nil, err
		}
		switch {
		case s.kind == tokEnd && len(s.open) < depth:
			return buf, nil
		case s.kind == tokText && len(s.open) == depth:
			buf = append(buf, s.text...)
		}
	}
}

// parseStatus reads the code of "HTTP/1.1 200 OK".
func parseStatus(s []byte) (int, error) {
	t := bytes.TrimSpace(s)
	sp := bytes.IndexAny(t, " \t")
	if sp < 0 {
		return 0, fmt.Errorf("parse multistatus: status %q: want \"HTTP/1.1 200 OK\"", s)
	}
	t = bytes.TrimLeft(t[sp:], " \t")
	if end := bytes.IndexAny(t, " \t"); end >= 0 {
		t = t[:end]
	}
	c := 0
	for _, d := range t {
		if d < '0' || d > '9' || c > 1000 {
			return 0, fmt.Errorf("parse multistatus: status %q: want \"HTTP/1.1 200 OK\"", s)
		}
		c = c*10 + int(d-'0')
	}
	if len(t) == 0 || c < 100 || c > 599 {
		return 0, fmt.Errorf("parse multistatus: status %q: want \"HTTP/1.1 200 OK\"", s)
	}
	return c, nil
}

// propXML renders <d:prop> with the given property names and, when data is
// set, its address-data or calendar-data request.
func propXML(props []xml.Name, data *ObjectData) string {
	var b strings.Builder
	b.WriteString("<d:prop>")
	for i, p := range props {
		if pre, ok := prefixes[p.Space]; ok {
			fmt.Fprintf(&b, "<%s:%s/>", pre, p.Local)
		} else {
			fmt.Fprintf(&b, `<x%d:%s xmlns:x%d="%s"/>`, i, p.Local, i, escapeXML(p.Space))
		}
	}
	if data != nil {
		b.WriteString(data.element())
	}
	b.WriteString("</d:prop>")
	return b.String()
}

func escapeXML(s string) string {
	var b strings.Builder
	// Writing to a strings.Builder cannot fail.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
