// Package ledger is firedrill's memory of what the service acknowledged: an
// append-only file of every write a simulated device made, with its outcome and
// call and return times, written in batches and fsynced before any fault is
// injected. Load reads it back; StateAt gives each user's expected items at a cut.
package ledger

import "github.com/firedrill/firedrill/harness/model"

// Op is what a write did to an item.
type Op uint8

// The operations a device performs.
const (
	OpPut    Op = iota + 1 // create or replace the item's content
	OpDelete               // remove the item
)

// Outcome is what the device learned about a write.
type Outcome uint8

// The outcomes of a write.
const (
	// OK: the server acknowledged the write (2xx after the body was sent).
	OK Outcome = iota + 1
	// Failed: the server refused it for sure (4xx, or the connection failed before
	// the request was sent); it did not happen.
	Failed
	// Ambiguous: timeout, reset connection or 5xx after the body was sent; it may
	// or may not have happened.
	Ambiguous
)

// Record is one write as the device saw it. Times are nanoseconds since the
// ledger's base time, taken from one monotonic clock. User and Item index the
// ledger's interned tables, which keeps a record at 48 bytes in memory.
type Record struct {
	Call    int64        // when the request started
	Return  int64        // when its outcome was known
	User    uint32       // index into Ledger.Users
	Item    uint32       // index into Ledger.Items (model.ItemKey form)
	Digest  model.Digest // content written (zero for deletes)
	Size    uint32       // bytes written (0 for deletes)
	Kind    model.Kind
	Op      Op
	Outcome Outcome
}
