// Package populate writes a drill's resting data into the reference server in
// bulk, before the drill, through syncd's own import path (POST /admin/import;
// wire format: package fixtures/syncd/bulk): accounts and items in batches,
// each batch committed whole in one transaction and acknowledged at that
// commit. It is the harness side of the import; recording what a batch
// acknowledged in the ledger is the caller's job.
//
// A batch that names an ID may be sent again after an answer was lost (a
// timeout, a dropped connection: Error.Ambiguous): syncd answers a batch it
// committed before with the first acknowledgment (Ack.Replayed) instead of
// importing it twice. A batch without an ID must not be retried blindly.
package populate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/firedrill/firedrill/fixtures/syncd/bulk"
	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
)

// The password schemes an import may store an account's password in.
const (
	// SchemeSSHA256 is salted SHA-256: about a microsecond per account, for
	// fixture accounts only (see the syncd README).
	SchemeSSHA256 = bulk.SchemeSSHA256
	// SchemeBcrypt is bcrypt at syncd's cost: milliseconds per account.
	SchemeBcrypt = bulk.SchemeBcrypt
)

// Item is one item to create: Body stored as Name in the user's collection
// Collection (a path relative to the user's root: "contacts/default",
// "calendars/default", "photos", "apps/<game>").
type Item struct {
	User        string
	Collection  string
	Name        string
	ContentType string
	Body        []byte
}

// Batch is one import: it commits whole or not at all.
type Batch struct {
	// ID names the batch so that sending it again is safe; "" for none. Derive
	// it from the run (e.g. "<run>-accounts-17") so that a replay finds it.
	ID string
	// Scheme is the password scheme of Accounts: SchemeSSHA256 or
	// SchemeBcrypt. It must be chosen when Accounts is not empty.
	Scheme   string
	Accounts []accounts.Account // accounts to create, each with syncd's default collections
	Items    []Item             // items to create, of these accounts or of existing ones
}

// Ack is syncd's acknowledgment of a committed batch: every item of the batch
// is acknowledged at this commit.
type Ack struct {
	Batch       string    `json:"batch,omitempty"`
	Replayed    bool      `json:"replayed"`     // committed by an earlier send of the same batch
	Digest      string    `json:"digest"`       // hex SHA-256 of the stream, equal to what was sent
	Bytes       int64     `json:"bytes"`        // the stream's length
	Users       int       `json:"users"`        // accounts created
	Collections int       `json:"collections"`  // collections created (defaults and those items needed)
	Items       int       `json:"items"`        // items created
	XID         string    `json:"xid"`          // the committing transaction: a PITR target (recovery_target_xid)
	CommittedAt time.Time `json:"committed_at"` // the server's clock just after the commit
	// Sent and Returned are this process's clock when the request left and
	// when the acknowledgment arrived: the commit happened between them.
	Sent, Returned time.Time `json:"-"`
}

// Error is a batch syncd refused, or one whose outcome is unknown.
type Error struct {
	Status int    // the HTTP status; 0 when no answer came
	Record int    // the refused record's position in the batch (accounts first, then items, from 1); 0 for none
	Msg    string // syncd's reason, or the transport's
	// Ambiguous means the request may have reached syncd and committed: no
	// answer came, or it was unreadable. Send a batch with an ID again.
	Ambiguous bool
}

// Error returns the status, record and reason.
func (e *Error) Error() string {
	switch {
	case e.Ambiguous:
		return "import batch: outcome unknown (it may have committed): " + e.Msg
	case e.Record > 0:
		return fmt.Sprintf("import batch: refused (%d) at record %d: %s", e.Status, e.Record, e.Msg)
	}
	return fmt.Sprintf("import batch: refused (%d): %s", e.Status, e.Msg)
}

// IsAmbiguous reports whether err is an import whose outcome is unknown.
func IsAmbiguous(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Ambiguous
}

// Import streams one batch to the syncd at server (its base URL) with the
// admin token and returns the acknowledgment of its commit. A refusal or an
// unknown outcome is an *Error.
func Import(ctx context.Context, hc *http.Client, server, token string, b Batch) (Ack, error) {
	if len(b.Accounts) > 0 && b.Scheme != SchemeSSHA256 && b.Scheme != SchemeBcrypt {
		return Ack{}, fmt.Errorf("import batch %q: password scheme %q: choose %s or %s for its %d accounts", b.ID, b.Scheme, SchemeSSHA256, SchemeBcrypt, len(b.Accounts))
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	pr, pw := io.Pipe()
	type encoded struct {
		bytes  int64
		digest string
		err    error
	}
	done := make(chan encoded, 1)
	go func() {
		var e encoded
		e.bytes, e.digest, e.err = encode(pw, b)
		pw.CloseWithError(e.err)
		done <- e
	}()
	endpoint := strings.TrimSuffix(server, "/") + "/admin/import"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, pr)
	if err != nil {
		pr.CloseWithError(err)
		<-done
		return Ack{}, fmt.Errorf("import batch %q: %w", b.ID, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", bulk.MediaType)
	var sent atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { sent.Store(true) }}))
	ack := Ack{Sent: time.Now()}
	resp, err := hc.Do(req)
	pr.CloseWithError(errors.New("request finished"))
	enc := <-done
	if err != nil {
		if enc.err != nil && !sent.Load() {
			return Ack{}, fmt.Errorf("import batch %q: %w", b.ID, enc.err)
		}
		return Ack{}, &Error{Msg: fmt.Sprintf("send to %s: %v", endpoint, err), Ambiguous: sent.Load()}
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ack.Returned = time.Now()
	if resp.StatusCode != http.StatusOK {
		var refusal struct {
			Error  string `json:"error"`
			Record int    `json:"record"`
		}
		if json.Unmarshal(body, &refusal) != nil || refusal.Error == "" {
			refusal.Error = strings.TrimSpace(string(body))
		}
		// 5xx after the request arrived: the commit may or may not have happened.
		return Ack{}, &Error{Status: resp.StatusCode, Record: refusal.Record, Msg: refusal.Error, Ambiguous: resp.StatusCode >= 500}
	}
	if rerr != nil || json.Unmarshal(body, &ack) != nil {
		return Ack{}, &Error{Status: resp.StatusCode, Msg: fmt.Sprintf("unreadable acknowledgment %.200q (%v)", body, rerr), Ambiguous: true}
	}
	if enc.err != nil {
		return Ack{}, &Error{Status: resp.StatusCode, Msg: fmt.Sprintf("syncd answered 200 to a stream that failed to encode: %v", enc.err), Ambiguous: true}
	}
	if ack.Digest != enc.digest || ack.Bytes != enc.bytes {
		// Only a replay of the same id with identical content may differ in
		// nothing; anything else is not this batch's acknowledgment.
		return Ack{}, &Error{Status: resp.StatusCode, Msg: fmt.Sprintf("acknowledgment is for a stream of %d bytes, digest %s; this batch is %d bytes, digest %s",
			ack.Bytes, ack.Digest, enc.bytes, enc.digest), Ambiguous: true}
	}
	if ack.Users != len(b.Accounts) || ack.Items != len(b.Items) {
		return Ack{}, &Error{Status: resp.StatusCode, Msg: fmt.Sprintf("acknowledgment counts %d accounts and %d items, the batch holds %d and %d",
			ack.Users, ack.Items, len(b.Accounts), len(b.Items)), Ambiguous: true}
	}
	return ack, nil
}

// encode writes b as an import stream and returns its length and digest.
func encode(w io.Writer, b Batch) (int64, string, error) {
	bw, err := bulk.NewWriter(w, b.ID)
	if err != nil {
		return 0, "", err
	}
	for _, a := range b.Accounts {
		if err := bw.Account(bulk.Account{Name: a.Username, Scheme: b.Scheme, Secret: a.Password}); err != nil {
			return 0, "", err
		}
	}
	for _, it := range b.Items {
		if err := bw.Item(bulk.Item{User: it.User, Collection: it.Collection, Name: it.Name, ContentType: it.ContentType, Body: it.Body}); err != nil {
			return 0, "", err
		}
	}
	return bw.Close()
}

// CreateAccounts creates accts on the syncd at server in batches of
// batchSize accounts, each named idPrefix + "-<n>" (so a failed run can be
// continued by sending the same batches again), and returns their
// acknowledgments in order. It stops at the first error.
func CreateAccounts(ctx context.Context, hc *http.Client, server, token string, accts []accounts.Account, scheme, idPrefix string, batchSize int) ([]Ack, error) {
	if batchSize < 1 {
		return nil, fmt.Errorf("create accounts: batch size %d: want at least 1", batchSize)
	}
	if idPrefix == "" {
		return nil, fmt.Errorf("create accounts: give the batches an id prefix, so that sending one again is safe")
	}
	var acks []Ack
	for n, start := 0, 0; start < len(accts); n, start = n+1, start+batchSize {
		end := min(start+batchSize, len(accts))
		ack, err := Import(ctx, hc, server, token, Batch{ID: fmt.Sprintf("%s-%d", idPrefix, n), Scheme: scheme, Accounts: accts[start:end]})
		if err != nil {
			return acks, fmt.Errorf("create accounts %d to %d: %w", start+1, end, err)
		}
		acks = append(acks, ack)
	}
	return acks, nil
}

// ItemOf places a generated item in the reference server's layout: contacts
// in contacts/default, events, to-dos and notes in calendars/default, photos
// in photos, and a game's app data ("<game>/highscores.json") in apps/<game>.
func ItemOf(user string, it gen.Item) (Item, error) {
	out := Item{User: user, Name: it.Name, ContentType: it.ContentType, Body: it.Body}
	switch it.Kind {
	case model.KindContact:
		out.Collection = "contacts/default"
	case model.KindEvent, model.KindTodo, model.KindNote:
		out.Collection = "calendars/default"
	case model.KindPhoto:
		out.Collection = "photos"
	case model.KindAppData:
		dir, name := path.Split(it.Name)
		if dir == "" {
			return Item{}, fmt.Errorf("place item %s of %s: app data is named <game>/<file>", it.Name, user)
		}
		out.Collection, out.Name = "apps/"+strings.TrimSuffix(dir, "/"), name
	default:
		return Item{}, fmt.Errorf("place item %s of %s: kind %s has no place in the reference layout", it.Name, user, it.Kind)
	}
	return out, nil
}
