package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
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

// phoneMaxRetryAfter is the longest Retry-After a phone waits for.
const phoneMaxRetryAfter = time.Minute

func (r *runner) newDevice(c *dav.Client, user string, n int) *device {
	d := &device{
		n: n, user: user, server: c.Base().String(), r: r, dav: c,
		rng:   gen.Derive(r.cfg.Seed, "device", user, fmt.Sprint(n)),
		st:    newStore(),
		colls: map[model.Kind]string{}, skip: map[model.Kind]string{}, made: map[string]bool{},
		items: map[string]*itemState{}, syncMu: &sync.Mutex{},
	}
	// Reads and collection set-up retry as the profile says, honouring
	// Retry-After, each request bounded by the profile's timeout.
	c.Retry = d.policy()
	c.Retry.OnRetry = func(error) { r.stats.Retries.Add(1) }
	c.Timeout = time.Duration(r.prof.Timeout)
	return d
}

// policy is the profile's retry policy with the device's seeded jitter.
func (d *device) policy() *dav.Backoff {
	p := d.r.prof.Retry
	return &dav.Backoff{Attempts: p.Attempts, Base: time.Duration(p.Base), Max: time.Duration(p.Max),
		MaxRetryAfter: phoneMaxRetryAfter, Rand: d.rng}
}

// reqCtx bounds one write by the profile's timeout (reads are bounded by the
// client, see newDevice).
func (d *device) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(d.r.prof.Timeout))
}

// backoff sleeps before retry n (1-based) of a write that got res: exponential
// from the profile's base, capped at its max, with jitter in [delay/2, delay]
// from the device's seeded source, or as long as the server's Retry-After
// asks when that is longer. It returns false when the server asks for longer
// than a phone waits: the write is not retried.
func (d *device) backoff(ctx context.Context, n int, res dav.WriteResult) (bool, error) {
	delay, ok := d.policy().Delay(n, &dav.StatusError{Code: res.Status, RetryAfter: res.RetryAfter})
	if !ok {
		return false, nil
	}
	if err := dav.Sleep(ctx, delay); err != nil {
		return false, err
	}
	return true, nil
}

// setup discovers the account and picks a collection per kind; the client
// retries transient failures as a phone does, and a refused login is final.
// With create it makes the collections the account lacks, as a phone about to
// write does (see collections.go); without, it only finds out where they are.
// setupPatience is how long a phone keeps trying to set itself up while the
// server answers with transient failures (it is being restarted, say): a
// phone that cannot sign in tries again later; it does not give up its user.
const setupPatience = 2 * time.Minute

// retryable reports whether a phone tries the write again: an ambiguous
// outcome (no answer, 5xx), or a refusal that says "later" (408, 425, 429).
func retryable(res dav.WriteResult, out ledger.Outcome) bool {
	return out == ledger.Ambiguous || (out == ledger.Failed &&
		(res.Status == 0 || res.Status == http.StatusRequestTimeout || res.Status == http.StatusTooEarly ||
			res.Status == http.StatusTooManyRequests))
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
		again, err := d.backoff(ctx, attempt, res)
		if err != nil {
			return res, out, err
		}
		if !again {
			d.r.log.printf("retry-after", "user %s phone %d: %s: the server asks to wait %s, longer than a phone waits (%s): not retried",
				d.user, d.n+1, model.ItemKey(w.Kind, w.Name), res.RetryAfter, phoneMaxRetryAfter)
			return res, out, nil
		}
		d.r.stats.Retries.Add(1)
	}
}

// current reads an item back after a 412 or an ambiguous write: whether it
// exists, its ETag and its content digest.
func (d *device) current(ctx context.Context, kind model.Kind, u string) (exists bool, etag string, digest model.Digest, err error) {
	body, etag, err := d.dav.Get(ctx, u)
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
		d.r.skipped(op.Kind, "its create was refused: there is nothing to change") // as on a phone
		return nil
	}
	if op.Op == gen.Create {
		st = &itemState{}
		d.items[key] = st
	} else if st.unknown || (st.exists && st.etag == "") {
		if !d.refresh(ctx, op.Kind, u, st) {
			d.r.skipped(op.Kind, "its current version could not be read")
			return nil
		}
	}
	if op.Op == gen.Delete {
		return d.remove(ctx, op, key, u, st)
	}
	if op.Kind == model.KindAppData {
		why, err := d.ensureApp(ctx, name)
		if err != nil || why != "" {
			if why == "" {
				why = err.Error()
			}
			d.r.skipped(op.Kind, why)
			d.r.log.printf("mkcol", "user %s phone %d: %s", d.user, d.n+1, why)
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
			d.r.opDone(op.Kind, key, opAcked, res)
			return nil
		case out == ledger.Ambiguous:
			st.unknown = true
			d.r.opDone(op.Kind, key, opAmbiguous, res)
			return nil
		case res.Status == http.StatusPreconditionFailed || (res.Status == http.StatusNotFound && st.exists):
			// Someone (an earlier attempt of ours, when ambiguous) changed the item.
			prev := st.digest
			if !d.refresh(ctx, op.Kind, u, st) {
				d.r.opDone(op.Kind, key, opConflict, res)
				return nil
			}
			if st.exists && st.digest == digest {
				d.r.opDone(op.Kind, key, opAmbiguous, res) // our write is there, but no attempt was acknowledged
				return nil
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
			if out == ledger.OK {
				d.r.opDone(op.Kind, key, opAcked, res)
			} else {
				d.r.opDone(op.Kind, key, opAmbiguous, res) // gone already: an earlier attempt, or someone else
			}
			return nil
		case out == ledger.Ambiguous:
			st.unknown = true
			d.r.opDone(op.Kind, key, opAmbiguous, res)
			return nil
		case res.Status == http.StatusPreconditionFailed:
			prev := st.digest
			if !d.refresh(ctx, op.Kind, u, st) {
				d.r.opDone(op.Kind, key, opConflict, res)
				return nil
			}
			if !st.exists {
				d.r.opDone(op.Kind, key, opAmbiguous, res)
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

func (d *device) conflict(key string, res dav.WriteResult) {
	k, _, _ := model.SplitItemKey(key)
	d.r.opDone(k, key, opConflict, res)
	d.r.log.printf("conflict", "user %s phone %d: %s: %s and the server holds another version: left alone",
		d.user, d.n+1, key, statusText(res))
}

func (d *device) refused(key string, res dav.WriteResult) {
	k, _, _ := model.SplitItemKey(key)
	d.r.opDone(k, key, opRefused, res)
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
	if err := d.setupPatiently(ctx); err != nil {
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
