package workload

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
)

// multigetBatch is how many objects one multiget asks for.
const multigetBatch = 50

// maxSyncPages bounds the pages of a truncated sync-collection answer.
const maxSyncPages = 10000

// syncAll syncs every collection of the account into the device's store, as a
// phone does when it starts and after its changes: each address book and
// calendar with sync-collection (from the stored token, or from none when full;
// a PROPFIND listing when the server has no sync-collection) and multiget of
// what changed; photos and app data, plain WebDAV, by listing them and GETting
// what changed. It returns one error per collection it could not sync.
func (d *device) syncAll(ctx context.Context, full bool) []error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	var errs []error
	for _, c := range d.books {
		if err := d.syncBook(ctx, c, full); err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", c.url, err))
		}
		if ctx.Err() != nil {
			return append(errs, ctx.Err())
		}
	}
	if u := d.colls[model.KindPhoto]; u != "" {
		if err := d.syncFiles(ctx, model.KindPhoto, u); err != nil {
			errs = append(errs, fmt.Errorf("sync photos %s: %w", u, err))
		}
	}
	if u := d.colls[model.KindAppData]; u != "" {
		if err := d.syncFiles(ctx, model.KindAppData, u); err != nil {
			errs = append(errs, fmt.Errorf("sync app data %s: %w", u, err))
		}
	}
	return errs
}

// noSyncCollection reports whether an error says the server has no
// sync-collection REPORT for the collection.
func noSyncCollection(err error) bool {
	return dav.IsUnsupported(err) || dav.IsGarbage(err)
}

// listBook lists the changes of an address book or calendar since token ("" for
// all of it). complete says the listing holds every member (so that members it
// does not name are gone); next is the token to continue from next time.
func (d *device) listBook(ctx context.Context, u, token string) (rs []dav.Response, next string, complete bool, err error) {
	props := []xml.Name{dav.PropGetETag, dav.PropResourceType}
	for page := 0; page < maxSyncPages; page++ {
		var ms *dav.Multistatus
		ms, err = d.dav.SyncCollection(ctx, u, token, props...)
		if err != nil && token != "" && dav.HasStatus(err, 403, 409) && page == 0 {
			token = "" // the token expired: start over, as RFC 6578 says
			ms, err = d.dav.SyncCollection(ctx, u, "", props...)
		}
		if err != nil {
			if page > 0 || !noSyncCollection(err) {
				return nil, "", false, err
			}
			ms, err = d.dav.List(ctx, u, props...)
			if err != nil {
				return nil, "", false, err
			}
			return ms.Responses, "", true, nil
		}
		if page == 0 {
			complete = token == ""
		}
		truncated := false
		for _, r := range ms.Responses {
			if _, ok := dav.MemberName(u, r.Href); !ok {
				// RFC 6578: 507 on the collection itself says the answer was cut short.
				truncated = truncated || r.Status == http.StatusInsufficientStorage
				continue
			}
			rs = append(rs, r)
		}
		if !truncated {
			return rs, ms.SyncToken, complete, nil
		}
		if ms.SyncToken == "" || ms.SyncToken == token {
			return nil, "", false, &dav.ProtocolError{Method: "REPORT", URL: u, Err: errors.New("truncated sync-collection answer without a new sync-token")}
		}
		token = ms.SyncToken
	}
	return nil, "", false, &dav.ProtocolError{Method: "REPORT", URL: u, Err: fmt.Errorf("sync-collection still truncated after %d pages", maxSyncPages)}
}

// syncBook syncs one address book or calendar into the store.
func (d *device) syncBook(ctx context.Context, c davColl, full bool) error {
	epoch := d.st.now()
	coll := location(c.url)
	token := ""
	if !full {
		token = d.st.token(coll)
	}
	rs, next, complete, err := d.listBook(ctx, c.url, token)
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	var changed []string
	for _, r := range rs {
		loc := location(r.Href)
		if r.Status == http.StatusNotFound || r.Prop(dav.PropResourceType).Has(dav.TypeCollection) {
			if r.Status == http.StatusNotFound {
				d.st.remove(epoch, loc)
			}
			continue
		}
		listed[loc] = true
		etag := strings.TrimSpace(r.Text(dav.PropGetETag))
		if have, ok := d.st.get(loc); ok && etag != "" && have.ETag == etag {
			continue
		}
		changed = append(changed, r.Href)
	}
	for len(changed) > 0 {
		n := min(multigetBatch, len(changed))
		if err := d.fetchBatch(ctx, epoch, c, changed[:n]); err != nil {
			return err
		}
		changed = changed[n:]
	}
	if complete {
		d.st.prune(epoch, coll, listed)
	}
	d.st.setToken(epoch, coll, next)
	return nil
}

// fetchBatch fetches objects of an address book or calendar with a multiget, or
// one by one with GET when the server has no multiget, into the store.
func (d *device) fetchBatch(ctx context.Context, epoch uint64, c davColl, hrefs []string) error {
	ms, err := d.dav.Multiget(ctx, c.url, c.multiget, hrefs)
	if err != nil && !dav.HasStatus(err, 400, 403, 405, 415, 501) {
		return err
	}
	if err != nil {
		for _, h := range hrefs {
			if err := d.fetchOne(ctx, epoch, c.url, h, func(name string, body []byte) model.Kind { return d.bookKind(c, body) }); err != nil {
				return err
			}
		}
		return nil
	}
	data := dav.PropAddressData
	if c.multiget == dav.Calendar {
		data = dav.PropCalendarData
	}
	got := map[string]bool{}
	for _, r := range ms.Responses {
		name, ok := dav.MemberName(c.url, r.Href)
		if !ok {
			continue
		}
		got[name] = true
		loc := location(r.Href)
		etag := strings.TrimSpace(r.Text(dav.PropGetETag))
		switch {
		case r.Status == http.StatusNotFound || r.Status == http.StatusGone:
			d.st.remove(epoch, loc) // gone since it was listed
		case r.Status != 0 && r.Status/100 != 2:
			d.unreadable(epoch, d.bookKind(c, nil), name, r.Href,
				fmt.Sprintf("listed, but the multiget answer says %d %s", r.Status, http.StatusText(r.Status)))
		case r.Prop(data) == nil:
			d.unreadable(epoch, d.bookKind(c, nil), name, r.Href,
				fmt.Sprintf("the multiget answer has no %s (status %d)", data.Local, r.MissingStatus(data)))
		default:
			body := []byte(r.Text(data))
			d.keep(epoch, d.bookKind(c, body), name, r.Href, etag, body)
		}
	}
	for _, h := range hrefs {
		if name, ok := dav.MemberName(c.url, h); ok && !got[name] {
			d.unreadable(epoch, d.bookKind(c, nil), name, h, "listed, but the multiget answer does not include it")
		}
	}
	return nil
}

// fetchOne GETs one object into the store; one gone since it was listed is
// dropped. kind names the object's kind from its name and body.
func (d *device) fetchOne(ctx context.Context, epoch uint64, coll, href string, kind func(name string, body []byte) model.Kind) error {
	name, ok := dav.MemberName(coll, href)
	if !ok {
		return nil
	}
	u, err := d.dav.Resolve(href)
	if err != nil {
		return err
	}
	body, etag, err := d.dav.Get(ctx, u)
	if dav.HasStatus(err, http.StatusNotFound, http.StatusGone) {
		d.st.remove(epoch, location(href))
		return nil
	}
	if err != nil {
		return err
	}
	d.keep(epoch, kind(name, body), name, href, etag, body)
	return nil
}

// keep digests a body the server sent and stores it.
func (d *device) keep(epoch uint64, k model.Kind, name, href, etag string, body []byte) {
	digest, err := canon.Digest(k, body)
	if err != nil {
		d.unreadable(epoch, k, name, href, err.Error())
		return
	}
	d.st.put(epoch, location(href), StoredItem{Key: model.ItemKey(k, name), Href: href, ETag: etag, Digest: digest})
}

// unreadable stores an item the server listed but whose body the device could
// not get or digest, saying why; its ETag is left out so that the next sync
// tries again.
func (d *device) unreadable(epoch uint64, k model.Kind, name, href, why string) {
	key := model.ItemKey(k, name)
	d.r.stats.ReadErrors.Add(1)
	d.r.log.printf("unreadable", "user %s phone %d: %s: %s", d.user, d.n+1, key, why)
	d.st.put(epoch, location(href), StoredItem{Key: key, Href: href, Unreadable: why})
}

// bookKind is the kind of an object of an address book or calendar: a calendar
// object's is that of its first component.
func (d *device) bookKind(c davColl, body []byte) model.Kind {
	if c.multiget == dav.AddressBook {
		return model.KindContact
	}
	for _, line := range strings.Split(string(body), "\n") {
		switch strings.ToUpper(strings.TrimSpace(line)) {
		case "BEGIN:VEVENT":
			return model.KindEvent
		case "BEGIN:VTODO":
			return model.KindTodo
		case "BEGIN:VJOURNAL":
			return model.KindNote
		}
	}
	return model.KindEvent
}

// syncFiles syncs a plain WebDAV collection of photos or app data (one
// sub-collection per app) into the store: it lists the collection, GETs the
// files whose ETag changed, and drops what the server no longer lists. A
// collection the server does not have holds nothing.
func (d *device) syncFiles(ctx context.Context, k model.Kind, root string) error {
	epoch := d.st.now()
	listed := map[string]bool{}
	colls := []string{root}
	for i := 0; i < len(colls); i++ {
		// List says "missing" however the server puts it (a 207 with an inner 404 too).
		ms, err := d.dav.List(ctx, colls[i], dav.PropResourceType, dav.PropGetETag)
		if err != nil && i == 0 && dav.IsAbsent(err) {
			break // the server keeps no such collection: nothing of this kind
		}
		if err != nil {
			return err
		}
		for _, r := range ms.Responses {
			if _, ok := dav.MemberName(colls[i], r.Href); !ok || r.Status == http.StatusNotFound {
				continue
			}
			if r.Prop(dav.PropResourceType).Has(dav.TypeCollection) {
				if k == model.KindAppData && i == 0 {
					u, err := d.dav.Resolve(r.Href)
					if err != nil {
						return err
					}
					colls = append(colls, u)
				}
				continue
			}
			loc := location(r.Href)
			listed[loc] = true
			etag := strings.TrimSpace(r.Text(dav.PropGetETag))
			if have, ok := d.st.get(loc); ok && etag != "" && have.ETag == etag {
				continue
			}
			if err := d.fetchOne(ctx, epoch, root, r.Href, func(string, []byte) model.Kind { return k }); err != nil {
				return err
			}
		}
	}
	d.st.prune(epoch, location(root), listed)
	return nil
}
