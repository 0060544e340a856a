package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
)

// RecordError is a failure to record a write in the ledger: it stops the load,
// since a write that is not recorded cannot be verified.
type RecordError struct{ Err error }

func (e *RecordError) Error() string { return e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

// device is one simulated phone of a user at work: it discovers the account,
// syncs, and performs its share of the user's plan. Only one goroutine uses a
// device; what it holds lives in its store, which outlives it (see Phone).
type device struct {
	n      int
	user   string
	server string // base URL
	r      *runner
	dav    *dav.Client
	rc     *RecordingClient // nil for a device that only syncs
	rng    *rand.Rand       // backoff jitter
	st     *store
	syncMu *sync.Mutex // held while syncing: one sync of a phone at a time
	colls  map[model.Kind]string
	skip   map[model.Kind]string // kinds the server does not support, and why
	apps   string
	made   map[string]bool // app collections this device has made
	items  map[string]*itemState
	books  []davColl // the address books and calendars the device syncs
}

// itemState is what the device believes about one of its items on the server.
type itemState struct {
	exists  bool         // the server holds the item
	unknown bool         // an ambiguous write left the server's state unknown
	etag    string       // "" when the server did not say
	digest  model.Digest // content the device last knew on the server
}

// davColl is an address book or calendar the device syncs.
type davColl struct {
	url      string
	multiget dav.MultigetKind
}

func (r *runner) newDevice(c *dav.Client, user string, n int) *device {
	return &device{
		n: n, user: user, server: c.Base().String(), r: r, dav: c,
		rng:   gen.Derive(r.cfg.Seed, "device", user, fmt.Sprint(n)),
		st:    newStore(),
		colls: map[model.Kind]string{}, skip: map[model.Kind]string{}, made: map[string]bool{},
		items: map[string]*itemState{}, syncMu: &sync.Mutex{},
	}
}

// reqCtx bounds one request by the profile's timeout.
func (d *device) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(d.r.prof.Timeout))
}

// backoff sleeps before retry n (1-based): exponential from the profile's base,
// capped at its max, with jitter in [delay/2, delay] from the device's seeded source.
func (d *device) backoff(ctx context.Context, n int) error {
	delay := time.Duration(d.r.prof.Retry.Base) << min(n-1, 20)
	delay = min(delay, time.Duration(d.r.prof.Retry.Max))
	delay = delay/2 + time.Duration(d.rng.Int64N(int64(delay/2)+1))
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// setup discovers the account and picks a collection per kind, retrying network
// failures and 5xx answers as a phone does; a refused login is final. With
// create it makes the photo and app data collections the server lacks, as a
// phone about to write does; without, it only finds out where they are.
func (d *device) setup(ctx context.Context, create bool) error {
	var acct *dav.Account
	var err error
	for attempt := 1; ; attempt++ {
		rctx, cancel := d.reqCtx(ctx)
		acct, err = d.dav.Discover(rctx)
		cancel()
		if err == nil || dav.IsUnauthorized(err) || attempt >= d.r.prof.Retry.Attempts || ctx.Err() != nil ||
			!(dav.IsNetwork(err) || dav.HasStatus(err, 500, 502, 503, 504)) {
			break
		}
		d.r.stats.Retries.Add(1)
		if berr := d.backoff(ctx, attempt); berr != nil {
			return berr
		}
	}
	if err != nil {
		return fmt.Errorf("set up device: %w", err)
	}
	for _, c := range acct.AddressBooks {
		d.books = append(d.books, davColl{url: c.URL, multiget: dav.AddressBook})
	}
	for _, c := range acct.Calendars {
		d.books = append(d.books, davColl{url: c.URL, multiget: dav.Calendar})
	}
	if c, ok := dav.Preferred(acct.AddressBooks, ""); ok {
		d.colls[model.KindContact] = c.URL
	} else {
		d.skip[model.KindContact] = "no CardDAV address book: " + acct.NoCardDAV
	}
	for k, comp := range map[model.Kind]string{model.KindEvent: "VEVENT", model.KindTodo: "VTODO", model.KindNote: "VJOURNAL"} {
		if c, ok := dav.Preferred(acct.Calendars, comp); ok {
			d.colls[k] = c.URL
		} else if acct.NoCalDAV != "" {
			d.skip[k] = "no CalDAV calendar: " + acct.NoCalDAV
		} else {
			d.skip[k] = "no calendar accepts " + comp
		}
	}
	photos := dav.Expand(d.r.cfg.PhotosURL, d.server, d.user)
	d.apps = dav.Expand(d.r.cfg.AppsURL, d.server, d.user)
	if !create {
		// Syncing lists these collections and finds out then whether they exist.
		d.colls[model.KindPhoto], d.colls[model.KindAppData] = photos, d.apps
		return nil
	}
	if why := d.ensureCollection(ctx, photos); why == "" {
		d.colls[model.KindPhoto] = photos
	} else {
		d.skip[model.KindPhoto] = why
	}
	if why := d.ensureCollection(ctx, d.apps); why == "" {
		d.colls[model.KindAppData] = d.apps
	} else {
		d.skip[model.KindAppData] = why
	}
	for k, why := range d.skip {
		d.r.notCovered(k, why)
	}
	return nil
}

// ensureCollection checks that a plain WebDAV collection exists, making it when
// the server says 404; it returns why not when the server does not offer it.
func (d *device) ensureCollection(ctx context.Context, u string) string {
	rctx, cancel := d.reqCtx(ctx)
	defer cancel()
	_, err := d.dav.Propfind(rctx, u, "0", dav.PropResourceType)
	if err == nil {
		return ""
	}
	if dav.HasStatus(err, http.StatusNotFound) {
		if err := d.dav.Mkcol(rctx, u); err == nil {
			return ""
		} else {
			return "no WebDAV collection at " + u + ": " + err.Error()
		}
	}
	return "no WebDAV collection at " + u + ": " + err.Error()
}

// retryable reports whether a phone tries the write again.
func retryable(res dav.WriteResult, out ledger.Outcome) bool {
	return out == ledger.Ambiguous || (out == ledger.Failed &&
		(res.Status == 0 || res.Status == http.StatusRequestTimeout || res.Status == http.StatusTooManyRequests))
}

// send makes w, retrying with backoff while the outcome is retryable; every attempt
// is recorded.
func (d *device) send(ctx context.Context, w Write) (res dav.WriteResult, out ledger.Outcome, err error) {
	for attempt := 1; ; attempt++ {
		rctx, cancel := d.reqCtx(ctx)
		res, out, err = d.rc.Attempt(rctx, w)
		cancel()
		if err != nil {
			return res, out, &RecordError{Err: err}
		}
		d.r.countAttempt(out, len(w.Body))
		if !retryable(res, out) || attempt >= d.r.prof.Retry.Attempts || ctx.Err() != nil {
			return res, out, nil
		}
		d.r.stats.Retries.Add(1)
		if err := d.backoff(ctx, attempt); err != nil {
			return res, out, err
		}
	}
}

// current reads an item back after a 412 or an ambiguous write: whether it
// exists, its ETag and its content digest.
func (d *device) current(ctx context.Context, kind model.Kind, u string) (exists bool, etag string, digest model.Digest, err error) {
	rctx, cancel := d.reqCtx(ctx)
	defer cancel()
	body, etag, err := d.dav.Get(rctx, u)
	if dav.HasStatus(err, http.StatusNotFound, http.StatusGone) {
		return false, "", model.Digest{}, nil
	}
	if err != nil {
		return false, "", model.Digest{}, err
	}
	digest, err = canon.Digest(kind, body)
	if err != nil {
		return true, etag, model.Digest{}, fmt.Errorf("read %s back: %w", u, err)
	}
	return true, etag, digest, nil
}

// refresh learns the server's state of an item the device is unsure of.
func (d *device) refresh(ctx context.Context, kind model.Kind, u string, st *itemState) bool {
	exists, etag, digest, err := d.current(ctx, kind, u)
	if err != nil {
		d.r.stats.ReadErrors.Add(1)
		d.r.log.printf("read", "user %s phone %d: %v", d.user, d.n+1, err)
		return false
	}
	st.exists, st.unknown, st.etag, st.digest = exists, false, etag, digest
	if exists {
		d.hold(kind, u, etag, digest)
	} else {
		d.drop(u)
	}
	return true
}

// hold puts an item whose content the device knows into its store.
func (d *device) hold(kind model.Kind, u, etag string, digest model.Digest) {
	name, ok := dav.MemberName(d.colls[kind], u)
	if !ok {
		return
	}
	href := u
	if pu, err := url.Parse(u); err == nil {
		href = pu.EscapedPath()
	}
	d.st.put(d.st.now(), location(u), StoredItem{Key: model.ItemKey(kind, name), Href: href, ETag: etag, Digest: digest})
}

// drop removes an item the server no longer holds from the device's store.
func (d *device) drop(u string) { d.st.remove(d.st.now(), location(u)) }

// do performs one planned operation.
func (d *device) do(ctx context.Context, op gen.Op) error {
	if _, skip := d.skip[op.Kind]; skip {
		return nil
	}
	name := d.r.gen.Name(d.user, op.Kind, op.Index)
	key := model.ItemKey(op.Kind, name)
	u := dav.Join(d.colls[op.Kind], name)
	st := d.items[key]
	if op.Op != gen.Create && (st == nil || (!st.exists && !st.unknown)) {
		d.r.stats.Skipped.Add(1) // its create was refused: a phone has nothing to change
		return nil
	}
	if op.Op == gen.Create {
		st = &itemState{}
		d.items[key] = st
	} else if st.unknown || (st.exists && st.etag == "") {
		if !d.refresh(ctx, op.Kind, u, st) {
			d.r.stats.Skipped.Add(1)
			return nil
		}
	}
	if op.Op == gen.Delete {
		return d.remove(ctx, op, key, u, st)
	}
	if op.Kind == model.KindAppData {
		if err := d.ensureApp(ctx, name); err != nil {
			d.r.stats.Skipped.Add(1)
			d.r.log.printf("mkcol", "user %s phone %d: %v", d.user, d.n+1, err)
			return nil
		}
	}
	it := d.r.gen.Item(d.user, op.Kind, op.Index, op.Version)
	digest, err := canon.Digest(op.Kind, it.Body)
	if err != nil {
		return fmt.Errorf("digest generated %s of %s: %w", key, d.user, err)
	}
	w := Write{Kind: op.Kind, Name: name, URL: u, Op: ledger.OpPut, ContentType: it.ContentType, Body: it.Body, Digest: digest}
	for round := 0; round < 2; round++ {
		if st.exists {
			w.IfMatch, w.IfNoneMatch = st.etag, ""
		} else {
			w.IfMatch, w.IfNoneMatch = "", "*"
		}
		res, out, err := d.send(ctx, w)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err() // the load is stopping: the attempt is recorded, decide nothing
		}
		switch {
		case out == ledger.OK:
			st.exists, st.unknown, st.etag, st.digest = true, false, res.ETag, digest
			d.hold(op.Kind, u, res.ETag, digest)
			return nil
		case out == ledger.Ambiguous:
			st.unknown = true
			return nil
		case res.Status == http.StatusPreconditionFailed || (res.Status == http.StatusNotFound && st.exists):
			// Someone (an earlier attempt of ours, when ambiguous) changed the item.
			prev := st.digest
			if !d.refresh(ctx, op.Kind, u, st) {
				return nil
			}
			if st.exists && st.digest == digest {
				return nil // our write is there
			}
			if round == 0 && (!st.exists || st.digest == prev) {
				continue // the version we meant to replace: write again with its ETag
			}
			d.conflict(key, res)
			return nil
		default:
			d.refused(key, res)
			if op.Op == gen.Create {
				st.exists = false
			}
			return nil
		}
	}
	return nil
}

// remove deletes an item the device believes exists.
func (d *device) remove(ctx context.Context, op gen.Op, key, u string, st *itemState) error {
	if !st.exists {
		return nil // already gone
	}
	w := Write{Kind: op.Kind, Name: d.r.gen.Name(d.user, op.Kind, op.Index), URL: u, Op: ledger.OpDelete}
	for round := 0; round < 2; round++ {
		w.IfMatch = st.etag
		res, out, err := d.send(ctx, w)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case out == ledger.OK || res.Status == http.StatusNotFound || res.Status == http.StatusGone:
			st.exists, st.unknown = false, false
			d.drop(u)
			return nil
		case out == ledger.Ambiguous:
			st.unknown = true
			return nil
		case res.Status == http.StatusPreconditionFailed:
			prev := st.digest
			if !d.refresh(ctx, op.Kind, u, st) {
				return nil
			}
			if !st.exists {
				return nil
			}
			if round == 0 && st.digest == prev {
				continue
			}
			d.conflict(key, res)
			return nil
		default:
			d.refused(key, res)
			return nil
		}
	}
	return nil
}

// ensureApp makes the collection of an app (apps/<game>/) before its first file.
func (d *device) ensureApp(ctx context.Context, name string) error {
	game, _, ok := strings.Cut(name, "/")
	if !ok || d.made[game] {
		return nil
	}
	rctx, cancel := d.reqCtx(ctx)
	defer cancel()
	var err error
	for attempt := 1; attempt <= d.r.prof.Retry.Attempts; attempt++ {
		if err = d.dav.Mkcol(rctx, dav.Join(d.apps, game)+"/"); err == nil {
			d.made[game] = true
			return nil
		}
		if !(dav.IsNetwork(err) || dav.HasStatus(err, 500, 502, 503, 504)) {
			break
		}
		if berr := d.backoff(ctx, attempt); berr != nil {
			return berr
		}
	}
	return err
}

func (d *device) conflict(key string, res dav.WriteResult) {
	d.r.stats.Conflicts.Add(1)
	d.r.log.printf("conflict", "user %s phone %d: %s: %s and the server holds another version: left alone",
		d.user, d.n+1, key, statusText(res))
}

func (d *device) refused(key string, res dav.WriteResult) {
	d.r.stats.Refused.Add(1)
	d.r.log.printf("refused", "user %s phone %d: %s refused: %s", d.user, d.n+1, key, statusText(res))
}

func statusText(res dav.WriteResult) string {
	if res.Status == 0 {
		if res.Err != nil {
			return res.Err.Error()
		}
		return "no answer"
	}
	return fmt.Sprintf("%d %s", res.Status, http.StatusText(res.Status))
}

// run discovers, syncs and performs ops; the sync after them comes once every
// phone of the user is done (see Fleet.loadUser), so that the phone ends up
// holding its user's items, including those its user's other phones wrote.
// Failed syncs are counted and logged, not fatal: the plan goes on.
func (d *device) run(ctx context.Context, ops []gen.Op, g opGate) error {
	if err := d.setup(ctx, true); err != nil {
		return err
	}
	d.syncLogged(ctx)
	for j, op := range ops {
		if err := g.wait(ctx, j); err != nil {
			return err
		}
		err := d.do(ctx, op)
		g.done(j)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func (d *device) syncLogged(ctx context.Context) {
	for _, err := range d.syncAll(ctx, false) {
		if ctx.Err() != nil {
			return
		}
		d.r.stats.ReadErrors.Add(1)
		d.r.log.printf("sync", "user %s phone %d: %v", d.user, d.n+1, err)
	}
}
