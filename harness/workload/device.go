package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/dav"
	"github.com/firedrill/firedrill/harness/workload/gen"
)

// RecordError is a failure to record a write in the ledger: it stops the load,
// since a write that is not recorded cannot be verified.
type RecordError struct{ Err error }

func (e *RecordError) Error() string { return e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

// device is one simulated phone of a user: it discovers the account, syncs, and
// performs its share of the user's plan. Only one goroutine uses a device.
type device struct {
	n     int
	user  string
	r     *runner
	dav   *dav.Client
	rc    *RecordingClient
	rng   *rand.Rand // backoff jitter
	colls map[model.Kind]string
	skip  map[model.Kind]string // kinds the server does not support, and why
	apps  string
	made  map[string]bool // app collections this device has made
	items map[string]*itemState
	sync  map[string]*syncState // by collection URL
}

// itemState is what the device believes about one of its items on the server.
type itemState struct {
	exists  bool         // the server holds the item
	unknown bool         // an ambiguous write left the server's state unknown
	etag    string       // "" when the server did not say
	digest  model.Digest // content the device last knew on the server
}

type syncState struct {
	multiget dav.MultigetKind
	token    string
	etags    map[string]string // href -> ETag
}

func (r *runner) newDevice(c *dav.Client, user string, n int) *device {
	return &device{
		n: n, user: user, r: r, dav: c, rc: NewRecordingClient(c, r.cfg.Ledger),
		rng:   gen.Derive(r.cfg.Seed, "device", user, fmt.Sprint(n)),
		colls: map[model.Kind]string{}, skip: map[model.Kind]string{}, made: map[string]bool{},
		items: map[string]*itemState{}, sync: map[string]*syncState{},
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
// failures and 5xx answers as a phone does; a refused login is final.
func (d *device) setup(ctx context.Context) error {
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
	if c, ok := dav.Preferred(acct.AddressBooks, ""); ok {
		d.colls[model.KindContact] = c.URL
		d.sync[c.URL] = &syncState{multiget: dav.AddressBook, etags: map[string]string{}}
	} else {
		d.skip[model.KindContact] = "no CardDAV address book: " + acct.NoCardDAV
	}
	for k, comp := range map[model.Kind]string{model.KindEvent: "VEVENT", model.KindTodo: "VTODO", model.KindNote: "VJOURNAL"} {
		if c, ok := dav.Preferred(acct.Calendars, comp); ok {
			d.colls[k] = c.URL
			d.sync[c.URL] = &syncState{multiget: dav.Calendar, etags: map[string]string{}}
		} else if acct.NoCalDAV != "" {
			d.skip[k] = "no CalDAV calendar: " + acct.NoCalDAV
		} else {
			d.skip[k] = "no calendar accepts " + comp
		}
	}
	base := d.r.cfg.Server
	photos := dav.Expand(d.r.cfg.PhotosURL, base, d.user)
	if why := d.ensureCollection(ctx, photos); why == "" {
		d.colls[model.KindPhoto] = photos
	} else {
		d.skip[model.KindPhoto] = why
	}
	d.apps = dav.Expand(d.r.cfg.AppsURL, base, d.user)
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

// syncAll syncs every address book and calendar the device writes to, as a phone
// does when it starts and after its changes: sync-collection (or a PROPFIND
// listing when the server has no sync-collection) and multiget of what changed.
// Read failures are logged, not fatal.
func (d *device) syncAll(ctx context.Context) {
	for u, st := range d.sync {
		if err := d.syncOne(ctx, u, st); err != nil {
			if ctx.Err() != nil {
				return
			}
			d.r.stats.ReadErrors.Add(1)
			d.r.log.printf("sync", "user %s device %d: sync %s: %v", d.user, d.n, u, err)
		}
	}
}

func (d *device) syncOne(ctx context.Context, u string, st *syncState) error {
	rctx, cancel := d.reqCtx(ctx)
	defer cancel()
	ms, err := d.dav.SyncCollection(rctx, u, st.token, dav.PropGetETag)
	if err != nil && st.token != "" && dav.HasStatus(err, 403, 409) {
		st.token = "" // the token expired: start over, as RFC 6578 says
		ms, err = d.dav.SyncCollection(rctx, u, "", dav.PropGetETag)
	}
	if err != nil {
		if !(dav.HasStatus(err, 400, 403, 404, 405, 415, 501) || dav.IsGarbage(err)) {
			return err
		}
		if ms, err = d.dav.Propfind(rctx, u, "1", dav.PropGetETag); err != nil {
			return err
		}
	}
	st.token = ms.SyncToken
	var changed []string
	for _, r := range ms.Responses {
		if _, ok := dav.MemberName(u, r.Href); !ok {
			continue
		}
		if r.Status == http.StatusNotFound {
			delete(st.etags, r.Href)
			continue
		}
		if etag := r.Text(dav.PropGetETag); etag != st.etags[r.Href] || etag == "" {
			changed = append(changed, r.Href)
			st.etags[r.Href] = etag
		}
	}
	const batch = 50
	for len(changed) > 0 {
		n := min(batch, len(changed))
		if _, err := d.dav.Multiget(rctx, u, st.multiget, changed[:n]); err != nil {
			return err
		}
		changed = changed[n:]
	}
	return nil
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
		d.r.log.printf("read", "user %s device %d: %v", d.user, d.n, err)
		return false
	}
	st.exists, st.unknown, st.etag, st.digest = exists, false, etag, digest
	return true
}

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
			d.r.log.printf("mkcol", "user %s device %d: %v", d.user, d.n, err)
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
	d.r.log.printf("conflict", "user %s device %d: %s: %s and the server holds another version: left alone",
		d.user, d.n, key, statusText(res))
}

func (d *device) refused(key string, res dav.WriteResult) {
	d.r.stats.Refused.Add(1)
	d.r.log.printf("refused", "user %s device %d: %s refused: %s", d.user, d.n, key, statusText(res))
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

// run discovers, syncs, performs ops and syncs again.
func (d *device) run(ctx context.Context, ops []gen.Op) error {
	if err := d.setup(ctx); err != nil {
		return err
	}
	d.syncAll(ctx)
	for _, op := range ops {
		if err := d.do(ctx, op); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	d.syncAll(ctx)
	return nil
}
