package observe

import (
	"context"
	"encoding/xml"
	"sort"
	"strings"

	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
)

func (o *observer) readPhotos(ctx context.Context) {
	coll := dav.Expand(o.opts.PhotosURL, o.opts.Server, o.uo.User)
	ms, err := o.c.List(ctx, coll, dav.PropResourceType, dav.PropGetETag)
	if err != nil {
		if dav.IsAbsent(err) {
			o.notCovered(model.KindPhoto) // the server has no such collection: it does not keep this kind
			return
		}
		o.unreadable("list %s: %s", coll, describe(err))
		return
	}
	o.getFiles(ctx, model.KindPhoto, coll, ms.Responses)
}

// readApps reads the app data collection: one sub-collection per app, each
// file under appdata/<app>/<file>; files directly in it are appdata/<file>.
// One sync-collection of infinite depth lists it all where the server has it
// (a sub-collection it names with nothing below is listed on its own, in case
// the server answered for depth 1 only); otherwise each level is listed with
// PROPFIND.
func (o *observer) readApps(ctx context.Context) {
	root := dav.Expand(o.opts.AppsURL, o.opts.Server, o.uo.User)
	props := []xml.Name{dav.PropResourceType, dav.PropGetETag}
	rs, err := o.syncPages(ctx, root, dav.SyncQuery{Infinite: true, Props: props})
	if err != nil && !dav.IsUnsupported(err) {
		o.unreadable("list app data at %s: %s", root, describe(err))
		return
	}
	if err != nil {
		// No sync-collection here (or no collection: the listing tells).
		ms, err := o.c.List(ctx, root, props...)
		if err != nil {
			if dav.IsAbsent(err) {
				o.notCovered(model.KindAppData)
				return
			}
			o.unreadable("list app data at %s: %s", root, describe(err))
			return
		}
		rs = ms.Responses
	}
	o.getFiles(ctx, model.KindAppData, root, rs)
	for _, sub := range emptySubCollections(root, rs) {
		ms, err := o.c.List(ctx, sub, props...)
		if err != nil {
			o.unreadable("list %s: %s", sub, describe(err))
			continue
		}
		o.getFiles(ctx, model.KindAppData, root, ms.Responses)
	}
}

// emptySubCollections returns the URLs of the collections below root that a
// listing names with no member below them, sorted.
func emptySubCollections(root string, rs []dav.Response) []string {
	var subs, files []string
	for _, r := range rs {
		if _, ok := dav.MemberName(root, r.Href); !ok || dav.IsGoneStatus(r.Status) {
			continue
		}
		if r.Prop(dav.PropResourceType).Has(dav.TypeCollection) {
			subs = append(subs, dav.CollectionPath(r.Href))
		} else {
			files = append(files, dav.CollectionPath(r.Href))
		}
	}
	var out []string
	for _, sub := range subs {
		below := false
		for _, f := range files {
			below = below || strings.HasPrefix(f, sub)
		}
		if !below {
			out = append(out, dav.Join(root, strings.TrimSuffix(strings.TrimPrefix(sub, dav.CollectionPath(root)), "/"))+"/")
		}
	}
	sort.Strings(out)
	return out
}

// getFiles GETs the files among a listing, under keys kind/<name below root>.
func (o *observer) getFiles(ctx context.Context, k model.Kind, root string, rs []dav.Response) {
	seen := map[string]bool{}
	members := dav.MembersOf(root)
	for _, r := range rs {
		name, ok := members.Name(r.Href)
		if !ok || seen[name] || dav.IsGoneStatus(r.Status) || r.Prop(dav.PropResourceType).Has(dav.TypeCollection) {
			continue
		}
		seen[name] = true
		m := member{href: r.Href, name: name, etag: strings.TrimSpace(r.Text(dav.PropGetETag))}
		in := dav.ParentPath(r.Href)
		u, err := o.c.Resolve(r.Href)
		if err != nil {
			o.addUnreadable(k, in, m, err.Error())
			continue
		}
		body, etag, err := o.c.Get(ctx, u)
		if err != nil {
			o.addUnreadable(k, in, m, "GET: "+describe(err))
			continue
		}
		if etag == "" {
			etag = m.etag
		}
		o.addItem(k, in, name, etag, body)
	}
}
