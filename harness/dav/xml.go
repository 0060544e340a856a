package dav

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
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
	// Props holds the properties the server returned with status 200.
	Props map[xml.Name]*Element
	// Missing holds the properties returned with another status, and that status.
	Missing map[xml.Name]int
}

// Prop returns the property called name, or nil.
func (r *Response) Prop(name xml.Name) *Element { return r.Props[name] }

// Text returns the text of the property called name, or "".
func (r *Response) Text(name xml.Name) string {
	if p := r.Props[name]; p != nil {
		return p.Text
	}
	return ""
}

// Multistatus is a parsed 207 answer.
type Multistatus struct {
	Responses []Response
	SyncToken string // sync-collection only
}

type wireMultistatus struct {
	XMLName   xml.Name       `xml:"DAV: multistatus"`
	Responses []wireResponse `xml:"DAV: response"`
	SyncToken string         `xml:"DAV: sync-token"`
}

type wireResponse struct {
	Hrefs     []string       `xml:"DAV: href"`
	Status    string         `xml:"DAV: status"`
	Propstats []wirePropstat `xml:"DAV: propstat"`
}

type wirePropstat struct {
	Prop   Element `xml:"DAV: prop"`
	Status string  `xml:"DAV: status"`
}

// parseMultistatus decodes a multistatus body; anything else is an error that
// names what was wrong.
func parseMultistatus(r io.Reader) (*Multistatus, error) {
	var w wireMultistatus
	dec := xml.NewDecoder(r)
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("parse multistatus: %w", err)
	}
	ms := &Multistatus{SyncToken: strings.TrimSpace(w.SyncToken)}
	for _, wr := range w.Responses {
		if len(wr.Hrefs) == 0 {
			return nil, fmt.Errorf("parse multistatus: a response without href")
		}
		code := 0
		if wr.Status != "" {
			c, err := parseStatus(wr.Status)
			if err != nil {
				return nil, err
			}
			code = c
		}
		for _, h := range wr.Hrefs {
			resp := Response{Href: strings.TrimSpace(h), Status: code,
				Props: map[xml.Name]*Element{}, Missing: map[xml.Name]int{}}
			for _, ps := range wr.Propstats {
				c, err := parseStatus(ps.Status)
				if err != nil {
					return nil, err
				}
				for i := range ps.Prop.Children {
					p := &ps.Prop.Children[i]
					if c/100 == 2 {
						resp.Props[p.XMLName] = p
					} else {
						resp.Missing[p.XMLName] = c
					}
				}
			}
			ms.Responses = append(ms.Responses, resp)
		}
	}
	return ms, nil
}

// parseStatus reads the code of "HTTP/1.1 200 OK".
func parseStatus(s string) (int, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, fmt.Errorf("parse multistatus: status %q: want \"HTTP/1.1 200 OK\"", s)
	}
	c, err := strconv.Atoi(f[1])
	if err != nil || c < 100 || c > 599 {
		return 0, fmt.Errorf("parse multistatus: status %q: want \"HTTP/1.1 200 OK\"", s)
	}
	return c, nil
}

// propXML renders <d:prop> with the given property names.
func propXML(props []xml.Name) string {
	var b strings.Builder
	b.WriteString("<d:prop>")
	for i, p := range props {
		if pre, ok := prefixes[p.Space]; ok {
			fmt.Fprintf(&b, "<%s:%s/>", pre, p.Local)
		} else {
			fmt.Fprintf(&b, `<x%d:%s xmlns:x%d="%s"/>`, i, p.Local, i, escapeXML(p.Space))
		}
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
