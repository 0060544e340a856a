package dav

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
)

// Propfind asks for props of the resource at u (depth "0") or of it and its
// members (depth "1").
func (c *Client) Propfind(ctx context.Context, u, depth string, props ...xml.Name) (*Multistatus, error) {
	body := `<?xml version="1.0" encoding="utf-8"?><d:propfind ` + xmlns + `>` + propXML(props, nil) + `</d:propfind>`
	return c.multistatus(ctx, "PROPFIND", u, depth, body)
}

// SyncCollection runs an RFC 6578 sync-collection REPORT from token ("" for the
// initial sync) and returns the changes and the new token. Members removed since
// token come back with Status 404.
func (c *Client) SyncCollection(ctx context.Context, u, token string, props ...xml.Name) (*Multistatus, error) {
	return c.Sync(ctx, u, SyncQuery{Token: token, Props: props})
}

// SyncQuery is what a sync-collection REPORT asks for.
type SyncQuery struct {
	Token string // "" for the initial sync
	// Infinite asks for members at any depth (sync-level infinite), for a
	// WebDAV collection with sub-collections.
	Infinite bool
	Props    []xml.Name
	// Data, when set, also asks for each object's address-data or
	// calendar-data: RFC 6578 allows any property, so that a collection is read
	// in one request where the server includes them.
	Data *ObjectData
}

// Sync runs an RFC 6578 sync-collection REPORT.
func (c *Client) Sync(ctx context.Context, u string, q SyncQuery) (*Multistatus, error) {
	level := "1"
	if q.Infinite {
		level = "infinite"
	}
	body := `<?xml version="1.0" encoding="utf-8"?><d:sync-collection ` + xmlns + `>` +
		`<d:sync-token>` + escapeXML(q.Token) + `</d:sync-token><d:sync-level>` + level + `</d:sync-level>` +
		propXML(q.Props, q.Data) + `</d:sync-collection>`
	return c.multistatus(ctx, "REPORT", u, "0", body)
}

// MultigetKind selects addressbook-multiget or calendar-multiget.
type MultigetKind int

// The multiget reports.
const (
	AddressBook MultigetKind = iota + 1
	Calendar
)

// ObjectData asks for the address-data (CardDAV) or calendar-data (CalDAV) of
// objects, in a given representation (RFC 6352 10.4, RFC 4791 9.6).
type ObjectData struct {
	Kind MultigetKind
	// Version is the vCard version to ask for ("4.0", "3.0"); "" leaves it to
	// the server, which RFC 6352 says means 3.0: a server that stores vCard 4
	// may then send a 3.0 conversion. Calendars ignore it.
	Version string
}

// Prop returns the property that carries the data: address-data or
// calendar-data.
func (d ObjectData) Prop() xml.Name {
	if d.Kind == Calendar {
		return PropCalendarData
	}
	return PropAddressData
}

// element renders the data request, e.g.
// <card:address-data content-type="text/vcard" version="4.0"/>.
func (d ObjectData) element() string {
	if d.Kind == Calendar {
		return `<cal:calendar-data/>`
	}
	if d.Version == "" {
		return `<card:address-data/>`
	}
	return `<card:address-data content-type="text/vcard" version="` + escapeXML(d.Version) + `"/>`
}

// Multiget fetches the ETags and bodies of hrefs (members of the collection at u)
// in one REPORT; the body of each is the Text of its address-data or
// calendar-data property. The server picks the vCard version.
func (c *Client) Multiget(ctx context.Context, u string, kind MultigetKind, hrefs []string) (*Multistatus, error) {
	return c.MultigetData(ctx, u, ObjectData{Kind: kind}, hrefs)
}

// MultigetData is Multiget asking for a given representation of the data.
func (c *Client) MultigetData(ctx context.Context, u string, data ObjectData, hrefs []string) (*Multistatus, error) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	report := "card:addressbook-multiget"
	if data.Kind == Calendar {
		report = "cal:calendar-multiget"
	}
	b.WriteString("<" + report + " " + xmlns + "><d:prop><d:getetag/>" + data.element() + "</d:prop>")
	for _, h := range hrefs {
		b.WriteString("<d:href>" + escapeXML(h) + "</d:href>")
	}
	b.WriteString("</" + report + ">")
	return c.multistatus(ctx, "REPORT", u, "1", b.String())
}

// Get fetches the resource at u: its body and ETag. A body shorter than its
// Content-Length is a ProtocolError.
func (c *Client) Get(ctx context.Context, u string) (body []byte, etag string, err error) {
	return c.GetAs(ctx, u, "")
}

// GetAs is Get asking for a representation with an Accept header (e.g.
// "text/vcard; version=4.0", RFC 6352 6.3.2.1); "" sends none.
func (c *Client) GetAs(ctx context.Context, u, accept string) (body []byte, etag string, err error) {
	err = c.do(ctx, func(ctx context.Context) error {
		req, err := c.newRequest(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, b, err := c.roundTrip(c.hc, req)
		if err != nil {
			return err
		}
		body, etag = b, resp.Header.Get("ETag")
		return nil
	})
	return body, etag, err
}
