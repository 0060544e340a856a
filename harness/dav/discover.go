package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Collection is an address book or calendar found in a home set.
type Collection struct {
	URL         string   // absolute
	Href        string   // as served
	DisplayName string   //
	Components  []string // calendars: supported components, e.g. VEVENT; nil means all
	CTag        string
	SyncToken   string
}

// Supports reports whether a calendar accepts objects with component comp.
func (c Collection) Supports(comp string) bool {
	if c.Components == nil {
		return true
	}
	for _, x := range c.Components {
		if strings.EqualFold(x, comp) {
			return true
		}
	}
	return false
}

// Account is what discovery found for the client's user.
type Account struct {
	Principal       string // absolute URL
	AddressBookHome string // "" when the server has no CardDAV for the user
	CalendarHome    string // "" when the server has no CalDAV for the user
	AddressBooks    []Collection
	Calendars       []Collection
	// NoCardDAV and NoCalDAV say why a service was not found ("" when found).
	NoCardDAV, NoCalDAV string
}

// Discover finds the user's principal (RFC 6764 /.well-known, then RFC 5397
// current-user-principal), the address book and calendar home sets, and the
// collections in them. A service the server does not offer is reported in
// NoCardDAV or NoCalDAV, not as an error; errors are refused logins, network
// failures and garbage.
func (c *Client) Discover(ctx context.Context) (*Account, error) {
	a := &Account{}
	principal, whyCard, err := c.findPrincipal(ctx, "carddav")
	if err != nil {
		return nil, err
	}
	if principal == "" {
		var whyCal string
		principal, whyCal, err = c.findPrincipal(ctx, "caldav")
		if err != nil {
			return nil, err
		}
		if principal == "" {
			return nil, fmt.Errorf("discover account of %s: no principal (CardDAV: %s; CalDAV: %s)", c.user, whyCard, whyCal)
		}
	}
	a.Principal = principal
	ms, err := c.Propfind(ctx, principal, "0", PropAddressBookHomeSet, PropCalendarHomeSet)
	if err != nil {
		return nil, fmt.Errorf("discover home sets of %s: %w", c.user, err)
	}
	if len(ms.Responses) == 0 {
		return nil, &ProtocolError{Method: "PROPFIND", URL: principal, Err: errors.New("empty multistatus for the principal")}
	}
	resp := ms.Responses[0]
	if h := resp.Prop(PropAddressBookHomeSet).Href(); h != "" {
		if a.AddressBookHome, err = c.Resolve(h); err != nil {
			return nil, err
		}
	} else {
		a.NoCardDAV = "the principal has no addressbook-home-set"
	}
	if h := resp.Prop(PropCalendarHomeSet).Href(); h != "" {
		if a.CalendarHome, err = c.Resolve(h); err != nil {
			return nil, err
		}
	} else {
		a.NoCalDAV = "the principal has no calendar-home-set"
	}
	if a.AddressBookHome != "" {
		if a.AddressBooks, err = c.listCollections(ctx, a.AddressBookHome, TypeAddressBook); err != nil {
			return nil, err
		}
		if len(a.AddressBooks) == 0 {
			a.NoCardDAV = "the address book home set holds no address book"
		}
	}
	if a.CalendarHome != "" {
		if a.Calendars, err = c.listCollections(ctx, a.CalendarHome, TypeCalendar); err != nil {
			return nil, err
		}
		if len(a.Calendars) == 0 {
			a.NoCalDAV = "the calendar home set holds no calendar"
		}
	}
	return a, nil
}

// findPrincipal asks /.well-known/<service> at the server root, following
// redirects by hand, then the base URL itself, for current-user-principal. It
// returns "" and why when neither names one.
func (c *Client) findPrincipal(ctx context.Context, service string) (principal, why string, err error) {
	root := *c.base
	root.Path, root.RawQuery = "/.well-known/"+service, ""
	candidates := []string{root.String(), c.base.String()}
	var reasons []string
	for _, u := range candidates {
		p, err := c.principalAt(ctx, u)
		switch {
		case err == nil && p != "":
			return p, "", nil
		case IsUnauthorized(err):
			return "", "", fmt.Errorf("log in as %s: %w", c.user, err)
		case err != nil && !(HasStatus(err, 400, 403, 404, 405, 501) || IsGarbage(err)):
			return "", "", fmt.Errorf("discover principal of %s: %w", c.user, err)
		case err != nil:
			reasons = append(reasons, err.Error())
		default:
			reasons = append(reasons, u+": no current-user-principal")
		}
	}
	return "", strings.Join(reasons, "; "), nil
}

// principalAt PROPFINDs u for current-user-principal, following up to 5 redirects
// with the same method.
func (c *Client) principalAt(ctx context.Context, u string) (string, error) {
	body := `<?xml version="1.0" encoding="utf-8"?><d:propfind ` + xmlns + `>` +
		propXML([]xml.Name{PropCurrentUserPrincipal}) + `</d:propfind>`
	for hop := 0; hop < 5; hop++ {
		req, err := c.newRequest(ctx, "PROPFIND", u, []byte(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Depth", "0")
		req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
		resp, err := c.noRedirect.Do(req)
		if err != nil {
			return "", fmt.Errorf("send PROPFIND %s: %w", u, err)
		}
		data, rerr := readBody(req, resp)
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			next, err := req.URL.Parse(loc)
			if err != nil {
				return "", &ProtocolError{Method: "PROPFIND", URL: u, Err: fmt.Errorf("bad Location %q", loc)}
			}
			u = next.String()
			continue
		}
		if rerr != nil {
			return "", rerr
		}
		if resp.StatusCode != http.StatusMultiStatus {
			return "", &StatusError{Method: "PROPFIND", URL: u, Code: resp.StatusCode, Status: resp.Status}
		}
		ms, err := parseMultistatus(data)
		if err != nil {
			return "", &ProtocolError{Method: "PROPFIND", URL: u, Err: err}
		}
		for _, r := range ms.Responses {
			if h := r.Prop(PropCurrentUserPrincipal).Href(); h != "" {
				return c.resolveAgainst(u, h)
			}
		}
		return "", nil
	}
	return "", &ProtocolError{Method: "PROPFIND", URL: u, Err: errors.New("more than 5 redirects")}
}

func (c *Client) resolveAgainst(base, ref string) (string, error) {
	b, err := ParseServerURL(base)
	if err != nil {
		return "", err
	}
	r, err := b.Parse(ref)
	if err != nil {
		return "", &ProtocolError{Method: "PROPFIND", URL: base, Err: fmt.Errorf("bad href %q", ref)}
	}
	return r.String(), nil
}

// listCollections lists the members of home whose resourcetype includes typ.
func (c *Client) listCollections(ctx context.Context, home string, typ xml.Name) ([]Collection, error) {
	ms, err := c.Propfind(ctx, home, "1", PropResourceType, PropDisplayName, PropSupportedComponents,
		PropGetCTag, PropSyncToken)
	if err != nil {
		return nil, fmt.Errorf("list collections in %s: %w", home, err)
	}
	var out []Collection
	for _, r := range ms.Responses {
		if !r.Prop(PropResourceType).Has(typ) {
			continue
		}
		u, err := c.Resolve(r.Href)
		if err != nil {
			return nil, err
		}
		col := Collection{URL: u, Href: r.Href, DisplayName: strings.TrimSpace(r.Text(PropDisplayName)),
			CTag: strings.TrimSpace(r.Text(PropGetCTag)), SyncToken: strings.TrimSpace(r.Text(PropSyncToken))}
		if set := r.Prop(PropSupportedComponents); set != nil {
			col.Components = []string{}
			for _, comp := range set.Children {
				if name := comp.Attr("name"); name != "" {
					col.Components = append(col.Components, strings.ToUpper(name))
				}
			}
		}
		out = append(out, col)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out, nil
}

// Preferred returns the collection to write to: the first one supporting comp
// ("" for address books), preferring one whose last path segment is "default".
func Preferred(cols []Collection, comp string) (Collection, bool) {
	var best Collection
	found := false
	for _, c := range cols {
		if comp != "" && !c.Supports(comp) {
			continue
		}
		if strings.HasSuffix(strings.TrimSuffix(c.URL, "/"), "/default") {
			return c, true
		}
		if !found {
			best, found = c, true
		}
	}
	return best, found
}
