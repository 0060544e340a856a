package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
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

// DiscoveryCache keeps, for the clients of one server, where /.well-known led
// (the context path that named a principal), so that discovering the next user
// skips the redirect. It is safe for concurrent use.
type DiscoveryCache struct {
	mu      sync.Mutex
	context map[string]string // service -> URL that answered current-user-principal
}

func (d *DiscoveryCache) get(service string) string {
	if d == nil {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.context[service]
}

func (d *DiscoveryCache) put(service, u string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.context == nil {
		d.context = map[string]string{}
	}
	d.context[service] = u
}

// Discover finds the user's principal (RFC 6764 /.well-known, then RFC 5397
// current-user-principal), the address book and calendar home sets, and the
// collections in them. A service the server does not offer, or a home set
// that holds no collection yet (a fresh account), is reported in NoCardDAV or
// NoCalDAV, not as an error; errors are refused logins, transient failures
// that outlasted the client's retry policy, and garbage.
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
	resp, err := c.Stat(ctx, principal, PropAddressBookHomeSet, PropCalendarHomeSet)
	if err != nil {
		return nil, fmt.Errorf("discover home sets of %s: %w", c.user, err)
	}
	if h := resp.Prop(PropAddressBookHomeSet).Href(); h != "" {
		if a.AddressBookHome, err = c.resolveAgainst(principal, h); err != nil {
			return nil, err
		}
	} else {
		a.NoCardDAV = "the principal has no addressbook-home-set"
	}
	if h := resp.Prop(PropCalendarHomeSet).Href(); h != "" {
		if a.CalendarHome, err = c.resolveAgainst(principal, h); err != nil {
			return nil, err
		}
	} else {
		a.NoCalDAV = "the principal has no calendar-home-set"
	}
	// The two homes are often one collection (Radicale): list it once.
	var homeBooks, homeCals []Collection
	var homeErr error
	if a.AddressBookHome != "" {
		homeBooks, homeCals, homeErr = c.listCollections(ctx, a.AddressBookHome)
		switch {
		case IsMissing(homeErr):
			a.NoCardDAV = "the address book home set " + a.AddressBookHome + " does not exist"
		case homeErr != nil:
			return nil, homeErr
		case len(homeBooks) == 0:
			a.NoCardDAV = "the address book home set " + a.AddressBookHome + " holds no address book"
		}
		a.AddressBooks = homeBooks
	}
	if a.CalendarHome != "" {
		if !samePath(a.CalendarHome, a.AddressBookHome) {
			_, homeCals, homeErr = c.listCollections(ctx, a.CalendarHome)
		}
		switch {
		case IsMissing(homeErr):
			a.NoCalDAV = "the calendar home set " + a.CalendarHome + " does not exist"
		case homeErr != nil:
			return nil, homeErr
		case len(homeCals) == 0:
			a.NoCalDAV = "the calendar home set " + a.CalendarHome + " holds no calendar"
		}
		a.Calendars = homeCals
	}
	return a, nil
}

// findPrincipal asks the context path learnt from an earlier user (see
// DiscoveryCache), else /.well-known/<service> at the server root, following
// redirects by hand, then the base URL itself, for current-user-principal. It
// returns "" and why when none names one.
func (c *Client) findPrincipal(ctx context.Context, service string) (principal, why string, err error) {
	root := *c.base
	root.Path, root.RawQuery = "/.well-known/"+service, ""
	candidates := []string{root.String(), c.base.String()}
	if known := c.Cache.get(service); known != "" {
		candidates = append([]string{known}, candidates...)
	}
	var reasons []string
	for _, u := range candidates {
		p, at, err := c.principalAt(ctx, u)
		switch {
		case err == nil && p != "":
			c.Cache.put(service, at)
			return p, "", nil
		case IsUnauthorized(err):
			return "", "", fmt.Errorf("log in as %s: %w", c.user, err)
		case err != nil && (Transient(err) || !(HasStatus(err, 400, 403, 404, 405, 501) || IsGarbage(err))):
			return "", "", fmt.Errorf("discover principal of %s: %w", c.user, err)
		case err != nil:
			reasons = append(reasons, err.Error())
		default:
			reasons = append(reasons, u+": no current-user-principal")
		}
	}
	return "", strings.Join(reasons, "; "), nil
}

// principalAt PROPFINDs u for current-user-principal, following up to 5
// redirects with the same method; it returns the principal and the URL that
// named it.
func (c *Client) principalAt(ctx context.Context, u string) (principal, at string, err error) {
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><d:propfind ` + xmlns + `>` +
		propXML([]xml.Name{PropCurrentUserPrincipal}, nil) + `</d:propfind>`)
	for hop := 0; hop < 5; hop++ {
		var next string
		err := c.do(ctx, func(ctx context.Context) error {
			var err error
			principal, next, err = c.principalOnce(ctx, u, body)
			return err
		})
		if err != nil {
			return "", "", err
		}
		if next == "" {
			return principal, u, nil
		}
		u = next
	}
	return "", "", &ProtocolError{Method: "PROPFIND", URL: u, Err: errors.New("more than 5 redirects")}
}

// principalOnce sends one PROPFIND for current-user-principal to u: it returns
// the principal, or where a redirect points.
func (c *Client) principalOnce(ctx context.Context, u string, body []byte) (principal, redirect string, err error) {
	req, err := c.newRequest(ctx, "PROPFIND", u, body)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Depth", "0")
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	resp, err := c.noRedirect.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("send PROPFIND %s: %w", u, err)
	}
	data, rerr := readBody(req, resp)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		next, err := req.URL.Parse(loc)
		if err != nil {
			return "", "", &ProtocolError{Method: "PROPFIND", URL: u, Err: fmt.Errorf("bad Location %q", loc)}
		}
		return "", next.String(), nil
	}
	if rerr != nil {
		return "", "", rerr
	}
	if resp.StatusCode != http.StatusMultiStatus {
		return "", "", statusError(req, resp)
	}
	ms, err := parseMultistatus(data)
	if err != nil {
		return "", "", &ProtocolError{Method: "PROPFIND", URL: u, Err: err}
	}
	for _, r := range ms.Responses {
		if h := r.Prop(PropCurrentUserPrincipal).Href(); h != "" {
			p, err := c.resolveAgainst(u, h)
			return p, "", err
		}
	}
	return "", "", nil
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

// listCollections lists the address books and calendars in home. A home the
// server says is not there is a 404 StatusError (see List).
func (c *Client) listCollections(ctx context.Context, home string) (books, cals []Collection, err error) {
	ms, err := c.List(ctx, home, PropResourceType, PropDisplayName, PropSupportedComponents,
		PropGetCTag, PropSyncToken)
	if err != nil {
		return nil, nil, fmt.Errorf("list collections in %s: %w", home, err)
	}
	for _, r := range ms.Responses {
		rt := r.Prop(PropResourceType)
		isBook, isCal := rt.Has(TypeAddressBook), rt.Has(TypeCalendar)
		if !isBook && !isCal || samePath(r.Href, home) {
			continue
		}
		u, err := c.resolveAgainst(home, r.Href)
		if err != nil {
			return nil, nil, err
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
		if isBook {
			books = append(books, col)
		} else {
			cals = append(cals, col)
		}
	}
	sort.Slice(books, func(i, j int) bool { return books[i].URL < books[j].URL })
	sort.Slice(cals, func(i, j int) bool { return cals[i].URL < cals[j].URL })
	return books, cals, nil
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
