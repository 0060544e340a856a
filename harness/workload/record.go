package workload

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// Recorder is where write attempts are recorded, ahead of the request:
// *ledger.Writer is one.
type Recorder interface {
	User(name string) uint32
	Item(user uint32, key, collection string) uint32
	Now() int64
	// Invoke records an attempt before its request leaves; the request may
	// be sent only once it returned without error.
	Invoke(ledger.Record) (ledger.Ticket, error)
	// Complete records the attempt's outcome.
	Complete(t ledger.Ticket, o ledger.Outcome, ret int64) error
}

// Classify returns what a device learned from one write attempt:
//   - OK: a 2xx answer;
//   - Failed: the server refused it for sure (a 1xx, 3xx or 4xx answer), or the
//     request never got a connection (refused, unknown host, timed out while
//     connecting);
//   - Ambiguous: a 5xx answer, or the connection failed, reset or timed out after
//     the request may have been sent: it may or may not have happened.
func Classify(res dav.WriteResult) ledger.Outcome {
	switch {
	case res.Status == 0 && !res.Sent:
		return ledger.Failed
	case res.Status == 0:
		return ledger.Ambiguous
	case res.Status/100 == 2:
		return ledger.OK
	case res.Status/100 == 5:
		return ledger.Ambiguous
	}
	return ledger.Failed
}

// Write is one write a device wants to make.
type Write struct {
	Kind        model.Kind
	Name        string // item name: the ledger key is Kind/Name
	URL         string
	Op          ledger.Op
	ContentType string
	Body        []byte
	Digest      model.Digest // canon.Digest of Body (zero for deletes)
	IfMatch     string
	IfNoneMatch string
}

// RecordingClient sends a user's writes and records every attempt in the
// ledger: before the request leaves, and again with its outcome, with call
// and return times from the recorder's clock. It never sends a write it could
// not record: when the recorder fails, the error stops the caller.
type RecordingClient struct {
	dav  *dav.Client
	rec  Recorder
	user uint32
}

// NewRecordingClient returns a recording client for c's user.
func NewRecordingClient(c *dav.Client, rec Recorder) *RecordingClient {
	return &RecordingClient{dav: c, rec: rec, user: rec.User(c.User())}
}

// Attempt records w's attempt, sends it, and records its outcome. The error is
// only ever the recorder's: a write that fails is an outcome, not an error.
// When the attempt cannot be recorded, the request is not sent.
func (rc *RecordingClient) Attempt(ctx context.Context, w Write) (dav.WriteResult, ledger.Outcome, error) {
	req := dav.WriteRequest{URL: w.URL, IfMatch: w.IfMatch, IfNoneMatch: w.IfNoneMatch}
	key := model.ItemKey(w.Kind, w.Name)
	rec := ledger.Record{User: rc.user, Item: rc.rec.Item(rc.user, key, Collection(w.URL)), Kind: w.Kind, Op: w.Op}
	switch w.Op {
	case ledger.OpPut:
		req.Method, req.ContentType, req.Body = http.MethodPut, w.ContentType, w.Body
		rec.Digest, rec.Size = w.Digest, uint32(len(w.Body))
	case ledger.OpDelete:
		req.Method = http.MethodDelete
	default:
		return dav.WriteResult{}, 0, fmt.Errorf("record write of %s: unknown op %d", w.Name, w.Op)
	}
	rec.Call = rc.rec.Now()
	t, err := rc.rec.Invoke(rec)
	if err != nil {
		return dav.WriteResult{}, 0, fmt.Errorf("record %s %s of user %s before sending it (not sent): %w", req.Method, key, rc.dav.User(), err)
	}
	res := rc.dav.Write(ctx, req)
	ret := rc.rec.Now()
	out := Classify(res)
	if err := rc.rec.Complete(t, out, ret); err != nil {
		return res, out, fmt.Errorf("record the outcome of %s %s of user %s: %w", req.Method, key, rc.dav.User(), err)
	}
	return res, out, nil
}

// Collection returns the URL path of the collection a write's URL is in: its
// parent path, e.g. "/dav/u1/contacts/" for ".../dav/u1/contacts/a.vcf" (for
// app data, the game's folder), escaped as on the wire. It is "" for a URL that
// does not parse.
func Collection(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	p := u.EscapedPath()
	p = strings.TrimSuffix(p, "/")
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "/"
	}
	return p[:i+1]
}
