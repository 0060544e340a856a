package observe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
)

// observer reads one user.
type observer struct {
	opts Options
	c    *dav.Client
	uo   model.UserObservation
	why  []string // reasons the user is (partly) unreadable
}

// User reads one account back, on its own (Observe and Each read many).
func User(ctx context.Context, opts Options, a accounts.Account) model.UserObservation {
	opts.defaults()
	return readUser(ctx, opts, a, opts.HTTPClient, nil, func() string { return ctx.Err().Error() })
}

// readUser reads one account with hc, sharing what discovery learns in cache;
// stopped says why ctx ended, if it does.
func readUser(ctx context.Context, opts Options, a accounts.Account, hc *http.Client, cache *dav.DiscoveryCache,
	stopped func() string) model.UserObservation {
	o := &observer{opts: opts, uo: model.UserObservation{User: a.Username}}
	c, err := dav.New(opts.Server, a.Username, a.Password, hc)
	if err != nil {
		o.uo.Unreadable = err.Error()
		return o.uo
	}
	c.UserAgent = "firedrill/1 (observer)"
	c.Timeout = opts.Timeout
	c.Cache = cache
	c.Retry = &dav.Backoff{Attempts: opts.Attempts, Base: 250 * time.Millisecond, Max: 4 * time.Second, MaxRetryAfter: opts.MaxRetryAfter}
	o.c = c
	uctx, cancel := context.WithTimeout(ctx, opts.UserTimeout)
	defer cancel()
	o.observe(uctx)
	if uctx.Err() != nil && ctx.Err() == nil {
		o.unreadable("the read of this user took longer than its limit of %s: what was read is incomplete", opts.UserTimeout)
	} else if ctx.Err() != nil {
		o.unreadable("the observation stopped while reading this user (%s): what was read is incomplete", stopped())
	}
	sort.Slice(o.uo.Items, func(i, j int) bool {
		if o.uo.Items[i].Key != o.uo.Items[j].Key {
			return o.uo.Items[i].Key < o.uo.Items[j].Key
		}
		return o.uo.Items[i].Collection < o.uo.Items[j].Collection
	})
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

// describe turns a read error into the reason a user or item is unreadable.
func describe(err error) string {
	switch {
	case dav.IsUnauthorized(err), dav.IsGarbage(err):
		return err.Error() // both name what happened and what to check
	case errors.Is(err, dav.ErrTimeout):
		return "no answer in time: " + err.Error()
	case dav.IsNetwork(err):
		return "no answer: " + err.Error()
	}
	return err.Error()
}

func (o *observer) observe(ctx context.Context) {
	acct, err := o.c.Discover(ctx)
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
		o.readBook(ctx, col.URL, dav.AddressBook)
	}
	for _, col := range acct.Calendars {
		o.readBook(ctx, col.URL, dav.Calendar)
	}
	o.readPhotos(ctx)
	o.readApps(ctx)
}

// calendarKind finds the kind of a calendar object from its first VEVENT, VTODO
// or VJOURNAL.
func calendarKind(body []byte) (model.Kind, bool) {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		switch strings.ToUpper(strings.TrimSpace(string(line))) {
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

// addUnreadable reports an object that was listed but could not be read; in
// is the CollectionPath of the collection it was found in.
func (o *observer) addUnreadable(k model.Kind, in string, m member, why string) {
	o.uo.Items = append(o.uo.Items, model.ObservedItem{Key: model.ItemKey(k, m.name), Collection: in,
		ETag: m.etag, Unreadable: why})
}

// addItem digests a body found in the collection whose CollectionPath is in;
// one that does not parse is unreadable.
func (o *observer) addItem(k model.Kind, in, name, etag string, body []byte) {
	it := model.ObservedItem{Key: model.ItemKey(k, name), Collection: in, Size: int64(len(body)), ETag: etag}
	sum := sha256.Sum256(body)
	copy(it.Bytes[:], sum[:])
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
