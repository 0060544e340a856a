// Package observe reads every user's full state back from a CardDAV, CalDAV and
// WebDAV server, through the protocols alone, into a model.Observation for the
// verifier.
//
// It is its own package, apart from workload, because it is a different stage of
// a drill: it runs against the restored stack, knows nothing of the ledger or the
// plan, and must cope with whatever a damaged server answers.
//
// Per user it discovers the account, lists every address book and calendar
// (sync-collection, or PROPFIND Depth 1 where the server has none) and fetches
// their objects with addressbook-multiget and calendar-multiget in batches; photos
// and app data, plain WebDAV, are listed with PROPFIND and fetched with GET. Users
// are read in parallel. A server's garbage (invalid XML, truncated bodies, objects
// that do not parse) makes that user or item unreadable, never a crash; a kind the
// server does not offer is listed in NotCovered.
package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/progress"
)

// Options says whom to observe where, and how.
type Options struct {
	Server   string
	Accounts []accounts.Account
	// HTTPClient is used for every request; nil means a default client.
	HTTPClient *http.Client
	// Concurrency is how many users are read at once (default 8).
	Concurrency int
	// BatchSize is how many objects one multiget asks for (default 100).
	BatchSize int
	// PhotosURL and AppsURL are URL templates ({base}, {user}); "" means the
	// reference server's layout.
	PhotosURL, AppsURL string
	// KeepBodies keeps the canonical text of contacts and calendar objects in
	// ObservedItem.Body, so that a changed item can be explained.
	KeepBodies bool
	// KindHint names the kind of a calendar object whose body is unreadable, so
	// that it is reported under the key the ledger knows (e.g. from the ledger's
	// item keys); without it such an object is reported as an event.
	KindHint func(user, name string) (model.Kind, bool)
	// Timeout bounds each request (default 2 minutes).
	Timeout time.Duration
	// Attempts is how often a read is tried on network failures and 5xx (default 3).
	Attempts int
	// Progress receives progress lines; nil shows none.
	Progress    io.Writer
	ProgressTTY bool
}

func (o *Options) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.PhotosURL == "" {
		o.PhotosURL = dav.DefaultPhotosURL
	}
	if o.AppsURL == "" {
		o.AppsURL = dav.DefaultAppsURL
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = o.Concurrency * 2
		o.HTTPClient = &http.Client{Transport: t}
	}
}

// Observe reads every account back. Users come out in the order of
// opts.Accounts. The error is only for what stops the whole observation: bad
// options or ctx ending; a user the server will not serve is Unreadable.
func Observe(ctx context.Context, opts Options) (*model.Observation, error) {
	opts.defaults()
	if _, err := dav.ParseServerURL(opts.Server); err != nil {
		return nil, err
	}
	if len(opts.Accounts) == 0 {
		return nil, ErrNoAccounts
	}
	obs := &model.Observation{Users: make([]model.UserObservation, len(opts.Accounts))}
	var items atomic.Int64
	meter := progress.Start(opts.Progress, opts.ProgressTTY, "observe", len(opts.Accounts), func(el time.Duration) string {
		return fmt.Sprintf("items %d  %.0f items/s", items.Load(), float64(items.Load())/max(el.Seconds(), 1e-9))
	})
	defer meter.Stop()
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < opts.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				obs.Users[i] = User(ctx, opts, opts.Accounts[i])
				items.Add(int64(len(obs.Users[i].Items)))
				meter.Done()
			}
		}()
	}
feed:
	for i := range opts.Accounts {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return obs, fmt.Errorf("observe: %w", err)
	}
	return obs, nil
}

// observer reads one user.
type observer struct {
	opts Options
	c    *dav.Client
	uo   model.UserObservation
	why  []string // reasons the user is (partly) unreadable
}

// User reads one account back.
func User(ctx context.Context, opts Options, a accounts.Account) model.UserObservation {
	opts.defaults()
	o := &observer{opts: opts, uo: model.UserObservation{User: a.Username}}
	c, err := dav.New(opts.Server, a.Username, a.Password, opts.HTTPClient)
	if err != nil {
		o.uo.Unreadable = err.Error()
		return o.uo
	}
	c.UserAgent = "firedrill/1 (observer)"
	o.c = c
	o.observe(ctx)
	sort.Slice(o.uo.Items, func(i, j int) bool { return o.uo.Items[i].Key < o.uo.Items[j].Key })
	sort.Slice(o.uo.NotCovered, func(i, j int) bool { return o.uo.NotCovered[i] < o.uo.NotCovered[j] })
	if len(o.why) > 0 {
		o.uo.Unreadable = strings.Join(o.why, "; ")
	}
	return o.uo
}

func (o *observer) unreadable(format string, args ...any) {
	o.why = append(o.why, fmt.Sprintf(format, args...))
}

func (o *observer) notCovered(kinds ...model.Kind) {
	for _, k := range kinds {
		dup := false
		for _, have := range o.uo.NotCovered {
			dup = dup || have == k
		}
		if !dup {
			o.uo.NotCovered = append(o.uo.NotCovered, k)
		}
	}
}

// retry runs f until it succeeds, fails for a reason other than the network or
// a 5xx, or has run opts.Attempts times.
func (o *observer) retry(ctx context.Context, f func(ctx context.Context) error) error {
	var err error
	for attempt := 1; attempt <= o.opts.Attempts; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, o.opts.Timeout)
		err = f(rctx)
		cancel()
		if err == nil || ctx.Err() != nil || !(dav.IsNetwork(err) || dav.HasStatus(err, 500, 502, 503, 504)) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * 250 * time.Millisecond):
		}
	}
	return err
}

// describe turns a read error into the reason a user or item is unreadable.
func describe(err error) string {
	switch {
	case dav.IsUnauthorized(err), dav.IsGarbage(err):
		return err.Error() // both name what happened and what to check
	case dav.IsNetwork(err):
		return "no answer: " + err.Error()
	}
	return err.Error()
}

func (o *observer) observe(ctx context.Context) {
	var acct *dav.Account
	err := o.retry(ctx, func(ctx context.Context) error {
		var err error
		acct, err = o.c.Discover(ctx)
		return err
	})
	if err != nil {
		o.unreadable("discover account: %s", describe(err))
		return
	}
	if len(acct.AddressBooks) == 0 {
		o.notCovered(model.KindContact)
	}
	for _, k := range []struct {
		kind model.Kind
		comp string
	}{{model.KindEvent, "VEVENT"}, {model.KindTodo, "VTODO"}, {model.KindNote, "VJOURNAL"}} {
		if _, ok := dav.Preferred(acct.Calendars, k.comp); !ok {
			o.notCovered(k.kind)
		}
	}
	for _, col := range acct.AddressBooks {
		o.readDAV(ctx, col.URL, dav.AddressBook)
	}
	for _, col := range acct.Calendars {
		o.readDAV(ctx, col.URL, dav.Calendar)
	}
	o.readPhotos(ctx)
	o.readApps(ctx)
}

// member is one listed object of a collection.
type member struct {
	href, name, etag string
}

// list lists the non-collection members of a collection: sync-collection from an
// empty token, or PROPFIND Depth 1 when the server has no sync-collection. A
// sync-collection answer the server truncated (RFC 6578: 507 on the collection
// itself) is continued from its token.
func (o *observer) list(ctx context.Context, coll string, trySync bool) ([]member, error) {
	var out []member
	seen := map[string]bool{}
	token := ""
	for page := 0; page < maxPages; page++ {
		var ms *dav.Multistatus
		err := o.retry(ctx, func(ctx context.Context) error {
			var err error
			if trySync {
				ms, err = o.c.SyncCollection(ctx, coll, token, dav.PropGetETag, dav.PropResourceType)
				if err == nil || token != "" || !dav.HasStatus(err, 400, 403, 404, 405, 409, 415, 501) {
					return err
				}
				trySync = false
			}
			ms, err = o.c.Propfind(ctx, coll, "1", dav.PropGetETag, dav.PropResourceType)
			return err
		})
		if err != nil {
			return nil, err
		}
		truncated := false
		for _, r := range ms.Responses {
			name, ok := dav.MemberName(coll, r.Href)
			if !ok {
				truncated = truncated || (trySync && r.Status == http.StatusInsufficientStorage)
				continue
			}
			if seen[name] || r.Status == http.StatusNotFound || r.Prop(dav.PropResourceType).Has(dav.TypeCollection) {
				continue
			}
			seen[name] = true
			out = append(out, member{href: r.Href, name: name, etag: strings.TrimSpace(r.Text(dav.PropGetETag))})
		}
		if !truncated {
			return out, nil
		}
		if ms.SyncToken == "" || ms.SyncToken == token {
			return nil, &dav.ProtocolError{Method: "REPORT", URL: coll, Err: errors.New("truncated sync-collection answer without a new sync-token")}
		}
		token = ms.SyncToken
	}
	return nil, &dav.ProtocolError{Method: "REPORT", URL: coll, Err: fmt.Errorf("sync-collection still truncated after %d pages", maxPages)}
}

// maxPages bounds the pages of a truncated sync-collection listing.
const maxPages = 10000

// readDAV reads an address book or calendar: listing, then multiget in batches.
func (o *observer) readDAV(ctx context.Context, coll string, mk dav.MultigetKind) {
	members, err := o.list(ctx, coll, true)
	if err != nil {
		o.unreadable("list %s: %s", coll, describe(err))
		return
	}
	multiget := true
	for len(members) > 0 {
		n := min(o.opts.BatchSize, len(members))
		batch := members[:n]
		members = members[n:]
		if multiget {
			hrefs := make([]string, len(batch))
			for i, m := range batch {
				hrefs[i] = m.href
			}
			var ms *dav.Multistatus
			err := o.retry(ctx, func(ctx context.Context) error {
				var err error
				ms, err = o.c.Multiget(ctx, coll, mk, hrefs)
				return err
			})
			if err == nil {
				o.takeMultiget(coll, mk, batch, ms)
				continue
			}
			if !dav.HasStatus(err, 400, 403, 405, 415, 501) {
				for _, m := range batch {
					o.addUnreadable(mk, m, "multiget: "+describe(err))
				}
				continue
			}
			multiget = false // the server has no multiget: fetch one by one
		}
		for _, m := range batch {
			o.get(ctx, mk, coll, m)
		}
	}
}

// takeMultiget turns a multiget answer into items; an object asked for and not
// returned, or returned without data, is unreadable.
func (o *observer) takeMultiget(coll string, mk dav.MultigetKind, batch []member, ms *dav.Multistatus) {
	dataProp := dav.PropAddressData
	if mk == dav.Calendar {
		dataProp = dav.PropCalendarData
	}
	got := map[string]*dav.Response{}
	for i := range ms.Responses {
		r := &ms.Responses[i]
		if name, ok := dav.MemberName(coll, r.Href); ok {
			got[name] = r
		}
	}
	for _, m := range batch {
		r := got[m.name]
		switch {
		case r == nil:
			o.addUnreadable(mk, m, "listed, but the multiget answer does not include it")
		case r.Status != 0 && r.Status/100 != 2:
			o.addUnreadable(mk, m, fmt.Sprintf("listed, but the multiget answer says %d %s", r.Status, http.StatusText(r.Status)))
		case r.Prop(dataProp) == nil:
			o.addUnreadable(mk, m, fmt.Sprintf("the multiget answer has no %s (status %d)", dataProp.Local, r.Missing[dataProp]))
		default:
			etag := strings.TrimSpace(r.Text(dav.PropGetETag))
			if etag == "" {
				etag = m.etag
			}
			o.addBody(mk, m.name, etag, []byte(r.Text(dataProp)))
		}
	}
}

// get fetches one object with GET, for servers without multiget.
func (o *observer) get(ctx context.Context, mk dav.MultigetKind, coll string, m member) {
	u, err := o.c.Resolve(m.href)
	if err != nil {
		o.addUnreadable(mk, m, err.Error())
		return
	}
	var body []byte
	var etag string
	err = o.retry(ctx, func(ctx context.Context) error {
		var err error
		body, etag, err = o.c.Get(ctx, u)
		return err
	})
	if err != nil {
		o.addUnreadable(mk, m, "GET: "+describe(err))
		return
	}
	o.addBody(mk, m.name, etag, body)
}

// calendarKind finds the kind of a calendar object from its first VEVENT, VTODO
// or VJOURNAL.
func calendarKind(body []byte) (model.Kind, bool) {
	for _, line := range strings.Split(string(body), "\n") {
		switch strings.ToUpper(strings.TrimSpace(line)) {
		case "BEGIN:VEVENT":
			return model.KindEvent, true
		case "BEGIN:VTODO":
			return model.KindTodo, true
		case "BEGIN:VJOURNAL":
			return model.KindNote, true
		}
	}
	return 0, false
}

func (o *observer) kindOf(mk dav.MultigetKind, name string, body []byte) model.Kind {
	if mk == dav.AddressBook {
		return model.KindContact
	}
	if body != nil {
		if k, ok := calendarKind(body); ok {
			return k
		}
	}
	if o.opts.KindHint != nil {
		if k, ok := o.opts.KindHint(o.uo.User, name); ok {
			return k
		}
	}
	return model.KindEvent
}

func (o *observer) addUnreadable(mk dav.MultigetKind, m member, why string) {
	k := o.kindOf(mk, m.name, nil)
	o.uo.Items = append(o.uo.Items, model.ObservedItem{Key: model.ItemKey(k, m.name), ETag: m.etag, Unreadable: why})
}

func (o *observer) addBody(mk dav.MultigetKind, name, etag string, body []byte) {
	k := o.kindOf(mk, name, body)
	o.addItem(k, name, etag, body)
}

// addItem digests a body; one that does not parse is unreadable.
func (o *observer) addItem(k model.Kind, name, etag string, body []byte) {
	it := model.ObservedItem{Key: model.ItemKey(k, name), Size: int64(len(body)), ETag: etag}
	d, err := canon.Digest(k, body)
	if err != nil {
		it.Unreadable = err.Error()
	} else {
		it.Digest = d
		if o.opts.KeepBodies && k.Semantic() {
			if c, err := canon.Canonical(k, body); err == nil {
				it.Body = c
			}
		}
	}
	o.uo.Items = append(o.uo.Items, it)
}

// webdavAbsent reports whether an error says the server has no such collection.
func webdavAbsent(err error) bool {
	return dav.HasStatus(err, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented,
		http.StatusForbidden, http.StatusGone)
}

// readFiles lists a plain WebDAV collection and GETs each file, under keys
// kind/<prefix><name>.
func (o *observer) readFiles(ctx context.Context, k model.Kind, coll, prefix string) {
	members, err := o.list(ctx, coll, false)
	if err != nil {
		if prefix == "" && webdavAbsent(err) {
			o.notCovered(k) // the server has no such collection: it does not keep this kind
			return
		}
		o.unreadable("list %s: %s", coll, describe(err))
		return
	}
	for _, m := range members {
		name := prefix + m.name
		u, err := o.c.Resolve(m.href)
		if err != nil {
			o.uo.Items = append(o.uo.Items, model.ObservedItem{Key: model.ItemKey(k, name), Unreadable: err.Error()})
			continue
		}
		var body []byte
		var etag string
		err = o.retry(ctx, func(ctx context.Context) error {
			var err error
			body, etag, err = o.c.Get(ctx, u)
			return err
		})
		if err != nil {
			o.uo.Items = append(o.uo.Items, model.ObservedItem{Key: model.ItemKey(k, name), ETag: m.etag,
				Unreadable: "GET: " + describe(err)})
			continue
		}
		o.addItem(k, name, etag, body)
	}
}

func (o *observer) readPhotos(ctx context.Context) {
	o.readFiles(ctx, model.KindPhoto, dav.Expand(o.opts.PhotosURL, o.opts.Server, o.uo.User), "")
}

// readApps reads the app data collection: one sub-collection per app, each file
// under appdata/<app>/<file>; files directly in it are appdata/<file>.
func (o *observer) readApps(ctx context.Context) {
	root := dav.Expand(o.opts.AppsURL, o.opts.Server, o.uo.User)
	var ms *dav.Multistatus
	err := o.retry(ctx, func(ctx context.Context) error {
		var err error
		ms, err = o.c.Propfind(ctx, root, "1", dav.PropResourceType, dav.PropGetETag)
		return err
	})
	if err != nil {
		if webdavAbsent(err) {
			o.notCovered(model.KindAppData)
			return
		}
		o.unreadable("app data at %s: %s", root, describe(err))
		return
	}
	var apps []string
	filesHere := false
	for _, r := range ms.Responses {
		name, ok := dav.MemberName(root, r.Href)
		if !ok || r.Status == http.StatusNotFound {
			continue
		}
		if r.Prop(dav.PropResourceType).Has(dav.TypeCollection) {
			apps = append(apps, strings.TrimSuffix(name, "/"))
		} else {
			filesHere = true
		}
	}
	if filesHere {
		o.readFiles(ctx, model.KindAppData, root, "")
	}
	sort.Strings(apps)
	for _, app := range apps {
		o.readFiles(ctx, model.KindAppData, dav.Join(root, app)+"/", app+"/")
	}
}

// ErrNoAccounts is returned for an observation without accounts.
var ErrNoAccounts = errors.New("observe: no accounts")
