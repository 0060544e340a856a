package workload

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
)

// A phone's set-up: discovery, the collections it needs, and patience while
// the service comes back (device.go holds what it does once set up).

// setupPatiently sets the phone up, starting again with backoff (the
// profile's policy, honouring Retry-After) while setup fails transiently,
// for at most setupPatience.
func (d *device) setupPatiently(ctx context.Context) error {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := d.setup(ctx, true)
		if err == nil || !dav.Transient(err) || time.Since(start) > setupPatience || ctx.Err() != nil {
			return err
		}
		d.r.stats.Retries.Add(1)
		wait := min(time.Duration(d.r.cfg.Profile.Retry.Base)<<min(attempt, 10), time.Duration(d.r.cfg.Profile.Retry.Max))
		wait = max(wait, dav.RetryAfter(err))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (d *device) setup(ctx context.Context, create bool) error {
	// A setup may be tried again: start from what the phone knew before.
	d.books, d.colls, d.skip = nil, map[model.Kind]string{}, map[model.Kind]string{}
	acct, err := d.dav.Discover(ctx)
	if err != nil {
		return fmt.Errorf("set up phone: %w", err)
	}
	if create {
		if err := d.ensureBooks(ctx, acct); err != nil {
			return fmt.Errorf("set up phone: %w", err)
		}
	}
	for _, c := range acct.AddressBooks {
		d.books = append(d.books, davColl{url: c.URL, multiget: dav.AddressBook})
	}
	for _, c := range acct.Calendars {
		d.books = append(d.books, davColl{url: c.URL, multiget: dav.Calendar})
	}
	// A kind ensureBooks gave up on keeps the reason it found.
	skip := func(k model.Kind, why string) {
		if _, known := d.skip[k]; !known {
			d.skip[k] = why
		}
	}
	if c, ok := dav.Preferred(acct.AddressBooks, ""); ok {
		d.colls[model.KindContact] = c.URL
	} else {
		skip(model.KindContact, "no CardDAV address book: "+acct.NoCardDAV)
	}
	for _, ck := range calendarKinds {
		switch c, ok := dav.Preferred(acct.Calendars, ck.comp); {
		case ok:
			d.colls[ck.kind] = c.URL
		case acct.NoCalDAV != "":
			skip(ck.kind, "no CalDAV calendar: "+acct.NoCalDAV)
		default:
			skip(ck.kind, "no calendar accepts "+ck.comp)
		}
	}
	photos := dav.Expand(d.r.cfg.PhotosURL, d.server, d.user)
	d.apps = dav.Expand(d.r.cfg.AppsURL, d.server, d.user)
	if !create {
		// Syncing lists these collections and finds out then whether they exist.
		d.colls[model.KindPhoto], d.colls[model.KindAppData] = photos, d.apps
		return nil
	}
	for k, u := range map[model.Kind]string{model.KindPhoto: photos, model.KindAppData: d.apps} {
		why, err := d.ensureWebDAV(ctx, u)
		if err != nil {
			return fmt.Errorf("set up phone: %w", err)
		}
		if why == "" {
			d.colls[k] = u
		} else {
			d.skip[k] = why
		}
	}
	for k, why := range d.skip {
		d.r.notCovered(k, why)
	}
	return nil
}

// ensureApp makes the collection of an app (apps/<game>/) before its first
// file; the client retries transient failures. It returns why the app's files
// cannot be written when the server refuses, and an error when it stays
// unreachable.
func (d *device) ensureApp(ctx context.Context, name string) (string, error) {
	game, _, ok := strings.Cut(name, "/")
	if !ok || d.made[game] {
		return "", nil
	}
	u := dav.Join(d.apps, game) + "/"
	err := d.makeWithParents(ctx, u, func(ctx context.Context) error { return d.dav.Mkcol(ctx, u) })
	switch {
	case err == nil:
		d.made[game] = true
		return "", nil
	case refusal(err) != nil:
		return fmt.Sprintf("the server refused to make the app collection %s: %v", u, err), nil
	}
	return "", err
}
