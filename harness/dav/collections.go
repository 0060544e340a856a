package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// samePath reports whether two URLs or hrefs name the same path, compared
// unescaped, cleaned and without a trailing slash.
func samePath(a, b string) bool {
	return cleanPath(a) == cleanPath(b)
}

// cleanPath returns the unescaped, cleaned path of a URL or href, without a
// trailing slash ("" for the root).
func cleanPath(ref string) string {
	if plainPath(ref) {
		return strings.TrimSuffix(ref, "/") // what parsing and cleaning would give
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return strings.TrimSuffix(path.Clean("/"+u.Path), "/")
}

// plainPath reports whether ref is an absolute path that URL parsing and
// path cleaning leave as it is: no escapes, query, fragment, dot segment,
// double slash or unusual byte. Most hrefs servers send are.
func plainPath(ref string) bool {
	if ref == "" || ref[0] != '/' {
		return false
	}
	for i := 0; i < len(ref); i++ {
		switch c := ref[i]; {
		case c <= ' ' || c >= 0x7f || c == '%' || c == '?' || c == '#' || c == '\\':
			return false
		case c == '/' && i+1 < len(ref) && (ref[i+1] == '/' || ref[i+1] == '.'):
			return false
		}
	}
	return true
}

// CollectionPath returns the path of the collection at u (a URL or an href):
// unescaped, cleaned, with a trailing slash, e.g. "/dav/u1/contacts/default/".
// It is how an observation names the collection an item was found in.
func CollectionPath(u string) string { return cleanPath(u) + "/" }

// ParentPath returns the CollectionPath of the collection holding the member
// at href.
func ParentPath(href string) string {
	p := cleanPath(href)
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i] + "/"
	}
	return "/"
}

// Find returns the response about the resource at u (a URL or an href), or nil.
func (ms *Multistatus) Find(u string) *Response {
	want := cleanPath(u)
	for i := range ms.Responses {
		if cleanPath(ms.Responses[i].Href) == want {
			return &ms.Responses[i]
		}
	}
	return nil
}

func gone(code int) bool { return code == http.StatusNotFound || code == http.StatusGone }

// IsGoneStatus reports whether a response's status (a member removed since a
// sync token, a multiget href that is not there) says 404 or 410.
func IsGoneStatus(code int) bool { return gone(code) }

// missingError is what a 207 that says "not there" becomes: a 404 StatusError,
// so that callers tell missing resources apart one way only.
func missingError(method, u string, r *Response) *StatusError {
	how := "404 Not Found (inside a 207 Multi-Status"
	if r != nil && !samePath(r.Href, u) {
		how += fmt.Sprintf(", for href %q", r.Href)
	}
	return &StatusError{Method: method, URL: u, Code: http.StatusNotFound, Status: how + ")"}
}

// Stat asks for props of the resource at u (PROPFIND Depth 0) and returns the
// server's response about it. A resource the server says is not there is a
// StatusError with Code 404, however it says so: a 404 or 410 status, or a
// 207 Multi-Status whose response about u, or whose only response under
// whatever href (some servers mangle it), has a 404 or 410 status.
func (c *Client) Stat(ctx context.Context, u string, props ...xml.Name) (*Response, error) {
	ms, err := c.Propfind(ctx, u, "0", props...)
	if HasStatus(err, http.StatusGone) {
		return nil, &StatusError{Method: "PROPFIND", URL: u, Code: http.StatusNotFound, Status: "410 Gone"}
	}
	if err != nil {
		return nil, err
	}
	self := ms.Find(u)
	if self == nil && len(ms.Responses) == 1 {
		self = &ms.Responses[0]
	}
	switch {
	case self == nil && allGone(ms):
		return nil, missingError("PROPFIND", u, nil)
	case self == nil:
		return nil, &ProtocolError{Method: "PROPFIND", URL: u, Err: errors.New("the multistatus says nothing about the resource asked for")}
	case gone(self.Status):
		return nil, missingError("PROPFIND", u, self)
	case self.Status != 0 && self.Status/100 != 2:
		return nil, &StatusError{Method: "PROPFIND", URL: u, Code: self.Status,
			Status: fmt.Sprintf("%d %s (inside a 207 Multi-Status)", self.Status, http.StatusText(self.Status))}
	}
	return self, nil
}

// allGone reports whether every response of ms says 404 or 410.
func allGone(ms *Multistatus) bool {
	for _, r := range ms.Responses {
		if !gone(r.Status) {
			return false
		}
	}
	return len(ms.Responses) > 0
}

// List lists the collection at u and its members (PROPFIND Depth 1). A
// collection the server says is not there, also inside a 207 (see Stat), is a
// StatusError with Code 404, never an empty listing.
func (c *Client) List(ctx context.Context, u string, props ...xml.Name) (*Multistatus, error) {
	ms, err := c.Propfind(ctx, u, "1", props...)
	if HasStatus(err, http.StatusGone) {
		return nil, &StatusError{Method: "PROPFIND", URL: u, Code: http.StatusNotFound, Status: "410 Gone"}
	}
	if err != nil {
		return nil, err
	}
	if self := ms.Find(u); self != nil && gone(self.Status) {
		return nil, missingError("PROPFIND", u, self)
	} else if self == nil && allGone(ms) {
		return nil, missingError("PROPFIND", u, &ms.Responses[0])
	}
	return ms, nil
}

// IsMissing reports whether err says the resource is not there (see Stat).
func IsMissing(err error) bool { return HasStatus(err, http.StatusNotFound, http.StatusGone) }

// IsAbsent reports whether err says the server has no collection there, or
// will not keep one there (missing, 403, 405, 501): the server does not offer
// what was looked for.
func IsAbsent(err error) bool {
	return IsMissing(err) || HasStatus(err, http.StatusForbidden, http.StatusMethodNotAllowed, http.StatusNotImplemented)
}

// IsUnsupported reports whether err is a server's "no such REPORT here" (400,
// 403, 404, 405, 409, 415, 501): the client should fall back to a plainer
// request, not give up.
func IsUnsupported(err error) bool {
	return HasStatus(err, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed,
		http.StatusConflict, http.StatusUnsupportedMediaType, http.StatusNotImplemented)
}

// IsRefused reports whether err is a server's refusal to do what was asked
// there, for good: forbidden, not allowed, not implemented, unsupported body.
func IsRefused(err error) bool {
	return HasStatus(err, http.StatusForbidden, http.StatusMethodNotAllowed, http.StatusNotImplemented,
		http.StatusUnsupportedMediaType, http.StatusBadRequest, http.StatusConflict, http.StatusInsufficientStorage,
		http.StatusUnprocessableEntity, http.StatusPreconditionFailed)
}

// Mkcol creates a plain WebDAV collection at u (RFC 4918); one that exists
// already (405, then found to be a collection) is success. A missing parent is
// a 409 StatusError.
func (c *Client) Mkcol(ctx context.Context, u string) error {
	return c.makeCollection(ctx, "MKCOL", u, "", TypeCollection)
}

// MakeAddressBook creates an address book at u with an extended MKCOL (RFC
// 5689, as RFC 6352 5.2 says), named displayName.
func (c *Client) MakeAddressBook(ctx context.Context, u, displayName string) error {
	body := `<?xml version="1.0" encoding="utf-8"?><d:mkcol ` + xmlns + `><d:set><d:prop>` +
		`<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>` +
		`<d:displayname>` + escapeXML(displayName) + `</d:displayname></d:prop></d:set></d:mkcol>`
	return c.makeCollection(ctx, "MKCOL", u, body, TypeAddressBook)
}

// MakeCalendar creates a calendar at u for the components comps (e.g. VEVENT,
// VTODO, VJOURNAL) with MKCALENDAR (RFC 4791 5.3.1), named displayName.
func (c *Client) MakeCalendar(ctx context.Context, u, displayName string, comps []string) error {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><cal:mkcalendar ` + xmlns + `><d:set><d:prop>` +
		`<d:displayname>` + escapeXML(displayName) + `</d:displayname><cal:supported-calendar-component-set>`)
	for _, comp := range comps {
		b.WriteString(`<cal:comp name="` + escapeXML(comp) + `"/>`)
	}
	b.WriteString(`</cal:supported-calendar-component-set></d:prop></d:set></cal:mkcalendar>`)
	return c.makeCollection(ctx, "MKCALENDAR", u, b.String(), TypeCalendar)
}

// makeCollection sends a MKCOL or MKCALENDAR; a 405 is success when what is at
// u now is a collection of type want (made by an earlier try, or by another
// phone).
func (c *Client) makeCollection(ctx context.Context, method, u, body string, want xml.Name) error {
	err := c.do(ctx, func(ctx context.Context) error {
		var data []byte
		if body != "" {
			data = []byte(body)
		}
		req, err := c.newRequest(ctx, method, u, data)
		if err != nil {
			return err
		}
		if body != "" {
			req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
		}
		_, _, err = c.roundTrip(c.hc, req)
		return err
	})
	if HasStatus(err, http.StatusMethodNotAllowed) {
		r, serr := c.Stat(ctx, u, PropResourceType)
		if serr == nil && r.Prop(PropResourceType).Has(want) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("create %s at %s: %w", collectionWord(want), u, err)
	}
	return nil
}

func collectionWord(t xml.Name) string {
	switch t {
	case TypeAddressBook:
		return "address book"
	case TypeCalendar:
		return "calendar"
	}
	return "collection"
}
