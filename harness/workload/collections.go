package workload

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
)

// A phone about to write makes the collections its account lacks, the standard
// way, as DAVx5 or iOS do on a fresh account: an address book with an
// extended MKCOL (RFC 5689), a calendar with MKCALENDAR and the components it
// needs (RFC 4791), plain WebDAV collections with MKCOL, parents first when
// the server says 409. Whether a collection is there is decided by the
// protocol (dav.Stat: a 207 with an inner 404 is missing). A server that
// refuses (403, 405, 501...) does not keep that kind: it is not covered, with
// the server's answer as the reason. A transient failure is retried by the
// client's policy and, if it outlasts it, fails the phone's set-up: it never
// makes a kind not covered.

// calendarKinds are the calendar kinds and the component each needs.
var calendarKinds = []struct {
	kind model.Kind
	comp string
	name string // of the collection made for it alone
}{
	{model.KindEvent, "VEVENT", "events"},
	{model.KindTodo, "VTODO", "tasks"},
	{model.KindNote, "VJOURNAL", "journal"},
}

// setupError is a set-up that could not finish for a transient reason.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// refusal returns why a server's refusal to make a collection means the kind
// is not covered, or nil when err is not a refusal (transient, garbage).
func refusal(err error) error {
	if err == nil || dav.Transient(err) || !(dav.IsRefused(err) || dav.IsMissing(err)) {
		return nil
	}
	return err
}

// ensureBooks makes an address book and calendars for the kinds the account
// has none for.
func (d *device) ensureBooks(ctx context.Context, acct *dav.Account) error {
	if _, ok := dav.Preferred(acct.AddressBooks, ""); !ok {
		switch {
		case acct.AddressBookHome == "":
			d.skip[model.KindContact] = "no CardDAV: " + acct.NoCardDAV
		default:
			u := dav.Join(acct.AddressBookHome, "default") + "/"
			err := d.makeWithParents(ctx, u, func(ctx context.Context) error { return d.dav.MakeAddressBook(ctx, u, "Contacts") })
			if refusal(err) != nil {
				d.skip[model.KindContact] = fmt.Sprintf("%s; making one was refused: %v", acct.NoCardDAV, err)
			} else if err != nil {
				return &setupError{fmt.Errorf("make address book: %w", err)}
			} else {
				acct.AddressBooks = append(acct.AddressBooks, dav.Collection{URL: u})
			}
		}
	}
	var missing []string
	for _, ck := range calendarKinds {
		if _, ok := dav.Preferred(acct.Calendars, ck.comp); !ok {
			missing = append(missing, ck.comp)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if acct.CalendarHome == "" {
		for _, ck := range calendarKinds {
			d.skip[ck.kind] = "no CalDAV: " + acct.NoCalDAV
		}
		return nil
	}
	// One calendar for every missing component when the account has none; a
	// server that will not mix them gets one calendar per component.
	if len(acct.Calendars) == 0 {
		u := dav.Join(acct.CalendarHome, "default") + "/"
		err := d.makeWithParents(ctx, u, func(ctx context.Context) error { return d.dav.MakeCalendar(ctx, u, "Calendar", missing) })
		if err == nil {
			acct.Calendars = append(acct.Calendars, dav.Collection{URL: u, Components: missing})
			return nil
		}
		if refusal(err) == nil {
			return &setupError{fmt.Errorf("make calendar: %w", err)}
		}
	}
	for _, ck := range calendarKinds {
		if _, ok := dav.Preferred(acct.Calendars, ck.comp); ok {
			continue
		}
		u := dav.Join(acct.CalendarHome, ck.name) + "/"
		err := d.makeWithParents(ctx, u, func(ctx context.Context) error {
			return d.dav.MakeCalendar(ctx, u, ck.name, []string{ck.comp})
		})
		switch {
		case refusal(err) != nil:
			d.skip[ck.kind] = fmt.Sprintf("no calendar accepts %s, and making one was refused: %v", ck.comp, err)
		case err != nil:
			return &setupError{fmt.Errorf("make calendar for %s: %w", ck.comp, err)}
		default:
			acct.Calendars = append(acct.Calendars, dav.Collection{URL: u, Components: []string{ck.comp}})
		}
	}
	return nil
}

// ensureWebDAV checks that the plain WebDAV collection at u exists, making it
// (and its missing parents) when the server says it is not there. It returns
// why the kind is not covered when the server refuses, and an error for a
// transient failure.
func (d *device) ensureWebDAV(ctx context.Context, u string) (why string, err error) {
	r, err := d.dav.Stat(ctx, u, dav.PropResourceType)
	switch {
	case err == nil && r.Prop(dav.PropResourceType).Has(dav.TypeCollection):
		return "", nil
	case err == nil:
		return fmt.Sprintf("%s is not a WebDAV collection", u), nil
	case dav.IsMissing(err):
		err = d.makeWithParents(ctx, u, func(ctx context.Context) error { return d.dav.Mkcol(ctx, u) })
		if err == nil {
			return "", nil
		}
	}
	if refusal(err) != nil || dav.IsGarbage(err) {
		return fmt.Sprintf("no WebDAV collection at %s: %v", u, err), nil
	}
	return "", &setupError{fmt.Errorf("set up collection %s: %w", u, err)}
}

// makeWithParents runs create; when the server answers 409 Conflict (a parent
// is missing, RFC 4918 9.3.1) it makes the missing parents with MKCOL, up to
// the server's base path, and tries once more.
func (d *device) makeWithParents(ctx context.Context, u string, create func(ctx context.Context) error) error {
	err := create(ctx)
	if !dav.HasStatus(err, http.StatusConflict) {
		return err
	}
	parent := parentURL(u)
	base := d.dav.Base().String()
	if parent == "" || !strings.HasPrefix(parent, base) || len(parent) <= len(base) {
		return err
	}
	if perr := d.makeWithParents(ctx, parent, func(ctx context.Context) error { return d.dav.Mkcol(ctx, parent) }); perr != nil {
		return fmt.Errorf("%w (and its parent: %w)", err, perr)
	}
	return create(ctx)
}

// parentURL returns the URL of the collection holding u, with a trailing
// slash, or "".
func parentURL(u string) string {
	t := strings.TrimSuffix(u, "/")
	i := strings.LastIndexByte(t, '/')
	if i < len("http://x") {
		return ""
	}
	return t[:i+1]
}
