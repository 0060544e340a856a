package observe

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/firedrill/firedrill/harness/dav"
)

// member is one listed object of a collection.
type member struct {
	href, name, etag string
}

// maxPages bounds the pages of a truncated sync-collection listing.
const maxPages = 10000

// syncPages runs a sync-collection REPORT from no token and follows the
// server's truncation (RFC 6578: a 507 about the collection itself, with a
// token to continue from). It returns every response about a member.
func (o *observer) syncPages(ctx context.Context, coll string, q dav.SyncQuery) ([]dav.Response, error) {
	var out []dav.Response
	members := dav.MembersOf(coll)
	q.Token = ""
	for page := 0; page < maxPages; page++ {
		ms, err := o.c.Sync(ctx, coll, q)
		if err != nil {
			if page > 0 {
				return nil, fmt.Errorf("continue sync-collection from token %q: %w", q.Token, err)
			}
			return nil, err
		}
		truncated := false
		for _, r := range ms.Responses {
			if _, ok := members.Name(r.Href); !ok {
				truncated = truncated || r.Status == http.StatusInsufficientStorage
				continue
			}
			out = append(out, r)
		}
		if !truncated {
			return out, nil
		}
		if ms.SyncToken == "" || ms.SyncToken == q.Token {
			return nil, &dav.ProtocolError{Method: "REPORT", URL: coll, Err: errors.New("truncated sync-collection answer without a new sync-token")}
		}
		q.Token = ms.SyncToken
	}
	return nil, &dav.ProtocolError{Method: "REPORT", URL: coll, Err: fmt.Errorf("sync-collection still truncated after %d pages", maxPages)}
}

// bookRead is the read of one address book or calendar.
type bookRead struct {
	o       *observer
	coll    string
	in      string // coll's CollectionPath
	members dav.Members
	mk      dav.MultigetKind
	// once is the client without retries, for the halves of a failed multiget.
	once dav.Client
	// noMultiget is set once the server says it has no multiget here.
	noMultiget bool
	// refetch holds, by vCard version, contacts served in another version than
	// the one wanted, to ask again.
	refetch map[string][]member
}

// defaultVCard is the vCard version asked for when the caller names none.
const defaultVCard = "4.0"

// wantVersion is the vCard version to ask for the contact called name.
func (o *observer) wantVersion(name string) string {
	if o.opts.VCardVersion != nil {
		if v := o.opts.VCardVersion(o.uo.User, name); v != "" {
			return v
		}
	}
	return defaultVCard
}

// vcardVersion returns the value of a vCard's VERSION line, or "".
func vcardVersion(body []byte) string {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(line) > 8 && strings.EqualFold(string(line[:8]), "VERSION:") {
			return strings.TrimSpace(string(line[8:]))
		}
	}
	return ""
}

// readBook reads an address book or calendar: one sync-collection asking for
// the data inline (a PROPFIND listing where the server has no
// sync-collection), then multiget for what the answer left out, then contacts
// again in the vCard version wanted where the server sent another.
func (o *observer) readBook(ctx context.Context, coll string, mk dav.MultigetKind) {
	b := &bookRead{o: o, coll: coll, in: dav.CollectionPath(coll), members: dav.MembersOf(coll), mk: mk, once: *o.c,
		refetch: map[string][]member{}}
	b.once.Retry = nil
	data := dav.ObjectData{Kind: mk}
	if mk == dav.AddressBook {
		data.Version = defaultVCard
	}
	ask := data
	props := []xml.Name{dav.PropGetETag, dav.PropResourceType}
	rs, err := o.syncPages(ctx, coll, dav.SyncQuery{Props: props, Data: &data})
	if err != nil && dav.IsUnsupported(err) {
		var ms *dav.Multistatus
		if ms, err = o.c.List(ctx, coll, props...); err == nil {
			rs, data = ms.Responses, dav.ObjectData{} // a listing carries no data
		}
	}
	if err != nil {
		o.unreadable("list %s: %s", coll, describe(err))
		return
	}
	var need []member
	seen := map[string]bool{}
	for _, r := range rs {
		name, ok := b.members.Name(r.Href)
		if !ok || seen[name] || r.Status == http.StatusNotFound || r.Status == http.StatusGone ||
			r.Prop(dav.PropResourceType).Has(dav.TypeCollection) {
			continue
		}
		seen[name] = true
		m := member{href: r.Href, name: name, etag: strings.TrimSpace(r.Text(dav.PropGetETag))}
		if p := r.Prop(ask.Prop()); data.Kind != 0 && p != nil && strings.TrimSpace(p.Text) != "" {
			b.take(m, m.etag, []byte(p.Text), data.Version)
			continue
		}
		need = append(need, m)
	}
	b.fetchAll(ctx, ask, need)
	for _, v := range []string{"3.0", "4.0"} {
		b.fetchAll(ctx, dav.ObjectData{Kind: mk, Version: v}, b.refetch[v])
		delete(b.refetch, v)
	}
	for v, ms := range b.refetch {
		b.fetchAll(ctx, dav.ObjectData{Kind: mk, Version: v}, ms)
	}
}

// take keeps an object's body, asked for in vCard version asked; a contact
// served in another version than wanted, which was not what was asked, is
// asked again in the version wanted.
func (b *bookRead) take(m member, etag string, body []byte, asked string) {
	if etag == "" {
		etag = m.etag
	}
	if b.mk == dav.AddressBook {
		want := b.o.wantVersion(m.name)
		if got := vcardVersion(body); got != "" && got != want && asked != want {
			b.refetch[want] = append(b.refetch[want], m)
			return
		}
	}
	b.o.addItem(b.o.kindOf(b.mk, m.name, body), b.in, m.name, etag, body)
}

// fetchAll fetches members in batches of opts.BatchSize.
func (b *bookRead) fetchAll(ctx context.Context, data dav.ObjectData, members []member) {
	for len(members) > 0 {
		n := min(b.o.opts.BatchSize, len(members))
		b.fetch(ctx, data, members[:n], b.o.c)
		members = members[n:]
	}
}

// fetch fetches a batch with one multiget. When the multiget fails, each half
// is asked again (without retries) down to single objects, which are fetched
// with GET: one object that breaks the server's multiget does not make the
// others unreadable. A server without multiget gets GET for each.
func (b *bookRead) fetch(ctx context.Context, data dav.ObjectData, batch []member, c *dav.Client) {
	if b.noMultiget {
		for _, m := range batch {
			b.get(ctx, data, m, "")
		}
		return
	}
	hrefs := make([]string, len(batch))
	for i, m := range batch {
		hrefs[i] = m.href
	}
	ms, err := c.MultigetData(ctx, b.coll, data, hrefs)
	switch {
	case err == nil:
		b.takeMultiget(ctx, data, batch, ms)
	case ctx.Err() != nil:
		for _, m := range batch {
			b.o.addUnreadable(b.o.kindOf(b.mk, m.name, nil), b.in, m, "multiget: "+describe(err))
		}
	case dav.IsUnsupported(err) && len(batch) > 1 && c == b.o.c:
		b.noMultiget = true // the server has no multiget here: fetch one by one
		b.fetch(ctx, data, batch, c)
	case len(batch) == 1:
		b.get(ctx, data, batch[0], "multiget: "+describe(err))
	default:
		half := len(batch) / 2
		b.fetch(ctx, data, batch[:half], &b.once)
		b.fetch(ctx, data, batch[half:], &b.once)
	}
}

// takeMultiget turns a multiget answer into items; an object asked for and not
// returned, or returned without data, is fetched with GET.
func (b *bookRead) takeMultiget(ctx context.Context, data dav.ObjectData, batch []member, ms *dav.Multistatus) {
	got := make(map[string]*dav.Response, len(ms.Responses))
	for i := range ms.Responses {
		r := &ms.Responses[i]
		if name, ok := b.members.Name(r.Href); ok {
			got[name] = r
		}
	}
	for _, m := range batch {
		r := got[m.name]
		switch {
		case r == nil:
			b.get(ctx, data, m, "listed, but the multiget answer does not include it")
		case r.Status != 0 && r.Status/100 != 2:
			b.get(ctx, data, m, fmt.Sprintf("listed, but the multiget answer says %d %s", r.Status, http.StatusText(r.Status)))
		case r.Prop(data.Prop()) == nil:
			b.get(ctx, data, m, fmt.Sprintf("the multiget answer has no %s (status %d)", data.Prop().Local, r.MissingStatus(data.Prop())))
		default:
			b.take(m, strings.TrimSpace(r.Text(dav.PropGetETag)), []byte(r.Text(data.Prop())), data.Version)
		}
	}
}

// get fetches one object with GET (asking for the vCard version with Accept);
// when that fails too, the object is unreadable with both reasons.
func (b *bookRead) get(ctx context.Context, data dav.ObjectData, m member, before string) {
	k := b.o.kindOf(b.mk, m.name, nil)
	u, err := b.o.c.Resolve(m.href)
	if err != nil {
		b.o.addUnreadable(k, b.in, m, err.Error())
		return
	}
	accept := ""
	if b.mk == dav.AddressBook && data.Version != "" {
		accept = "text/vcard; version=" + data.Version
	}
	body, etag, err := b.o.c.GetAs(ctx, u, accept)
	if err != nil {
		why := "GET: " + describe(err)
		if before != "" {
			why = before + "; " + why
		}
		b.o.addUnreadable(k, b.in, m, why)
		return
	}
	b.take(m, etag, body, data.Version)
}
