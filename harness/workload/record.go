package workload

import (
	"context"
	"fmt"
	"net/http"

	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// Recorder is where writes are recorded; *ledger.Writer is one.
type Recorder interface {
	User(name string) uint32
	Item(key string) uint32
	Now() int64
	Append(ledger.Record) error
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

// RecordingClient sends a user's writes and records every attempt in the ledger,
// with call and return times from the recorder's clock. It never drops a record:
// when the recorder fails, the error stops the caller.
type RecordingClient struct {
	dav  *dav.Client
	rec  Recorder
	user uint32
}

// NewRecordingClient returns a recording client for c's user.
func NewRecordingClient(c *dav.Client, rec Recorder) *RecordingClient {
	return &RecordingClient{dav: c, rec: rec, user: rec.User(c.User())}
}

// Attempt sends one attempt of w and appends its record. The error is only ever
// the recorder's: a write that fails is an outcome, not an error.
func (rc *RecordingClient) Attempt(ctx context.Context, w Write) (dav.WriteResult, ledger.Outcome, error) {
	req := dav.WriteRequest{URL: w.URL, IfMatch: w.IfMatch, IfNoneMatch: w.IfNoneMatch}
	rec := ledger.Record{User: rc.user, Item: rc.rec.Item(model.ItemKey(w.Kind, w.Name)), Kind: w.Kind, Op: w.Op}
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
	res := rc.dav.Write(ctx, req)
	rec.Return = rc.rec.Now()
	rec.Outcome = Classify(res)
	if err := rc.rec.Append(rec); err != nil {
		return res, rec.Outcome, fmt.Errorf("record %s %s of user %s: %w", req.Method, model.ItemKey(w.Kind, w.Name), rc.dav.User(), err)
	}
	return res, rec.Outcome, nil
}
