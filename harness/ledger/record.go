// Package ledger is firedrill's memory of what the service acknowledged: a
// write-ahead, append-only file of every write attempt a simulated device or
// an importer made. Like a Jepsen history pairs :invoke with :ok, :fail or
// :info, an attempt is recorded (Writer.Invoke) before its request leaves,
// and again when its outcome is known (Writer.Complete); an attempt without a
// recorded outcome is ambiguous. Bulk imports record a batch of items in one
// invoke and one completion (Writer.InvokeBatch). Close ends the file with a
// trailer, so a ledger cut short (the harness killed, the disk full, a copy
// taken early) is always recognised when it is loaded, and damage in the
// middle of the file is corruption, never a silently shorter ledger.
//
// Load reads a ledger back into a packed form that keeps a mostly-resting
// ledger under 32 bytes per item; UserHistory and Histories give one user's
// item histories at a time, History all of them, and ItemHistory.PossibleAt
// and friends the states an item may be in at a cut.
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
	// or may not have happened. An attempt whose outcome never reached the
	// ledger (Record.Pending) is ambiguous too.
	Ambiguous
)

// Record is one write attempt as the device saw it. Times are nanoseconds
// since the ledger's base time, taken from one monotonic clock. User and Item
// index the ledger's interned tables (Writer.User and Writer.Item; in a loaded
// ledger, Ledger.User and Ledger.ItemKey).
type Record struct {
	Call    int64        // when the request started
	Return  int64        // when its outcome was known (see Pending)
	User    uint32       // index of the user
	Item    uint32       // index of the item, which belongs to User
	Digest  model.Digest // content written (zero for deletes)
	Size    uint32       // bytes written (0 for deletes)
	Kind    model.Kind
	Op      Op
	Outcome Outcome
	// Pending is set, in a loaded ledger, on an attempt whose outcome was never
	// recorded (the ledger was cut short): Outcome is then Ambiguous and Return
	// the last time the ledger knew of (at least Call).
	Pending bool
}

// Ticket names one invoked attempt (or import batch) until its completion is
// recorded with Writer.Complete. The zero Ticket names nothing.
type Ticket struct {
	seq uint64 // the attempt's number + 1
	n   int    // the writes it covers: 1, or an import batch's items
}

// ImportItem is one resting item in a bulk import batch: acknowledged, like
// every item of its batch, when the batch commits.
type ImportItem struct {
	User uint32 // from Writer.User
	Kind model.Kind
	// Name is the item's name (its key is model.ItemKey(Kind, Name)). When it
	// is the generator's name for the user's Index-th item of Kind (a
	// seed.ItemUUID of the ledger's Meta.Seed, plus an extension such as
	// ".vcf"), the ledger keeps only (Kind, Index) and recomputes the name.
	Name  string
	Index int
	// Collection is the URL path of the collection the item is imported into,
	// e.g. "/dav/u1/contacts/".
	Collection string
	Digest     model.Digest
	Size       uint32
}
