// Package workload simulates phones for many users against a CardDAV, CalDAV and
// WebDAV server and records every write in the ledger.
//
// Each user has one or more devices. A device discovers the account the standard
// way (/.well-known, current-user-principal, home sets), syncs its address books,
// calendars (sync-collection and multiget), photos and app data (PROPFIND and GET),
// then performs its share of the user's plan of creates, updates and deletes (see
// package gen) and syncs again. Writes carry If-None-Match: * on create and
// If-Match on update and delete, so a device never blindly overwrites a version it
// has not seen; after a 412 it reads the item back and decides. Timeouts,
// resets, 5xx and 429 are retried with exponential backoff and seeded jitter,
// waiting as long as a Retry-After asks (up to a minute); reads and collection
// set-up are retried the same way. Every write attempt goes through a
// RecordingClient, which appends a ledger.Record with the outcome ok, failed or
// ambiguous.
//
// A phone about to write makes what the account lacks, the standard way: an
// address book (extended MKCOL), calendars (MKCALENDAR with the components
// needed, one per component when the server will not mix them), the photo and
// app data collections (MKCOL, parents first). Whether a collection exists is
// decided by the protocol: a 207 whose only response is a 404 means missing.
//
// Each phone keeps a local store: what it holds of its user's items (key, href,
// ETag and content digest) and its collections' sync tokens, filled by its own
// writes and by syncing. Once all of a user's phones are through their plans,
// each syncs once more, so that every phone holds all of its user's items. Load
// lets the phones go as their users finish; a Fleet keeps them, to reset them
// during an outage, resync them from a restored server and compare what each
// holds with what the server does (the device-reset-during-outage drill).
//
// Photos and app data live in plain WebDAV collections, which have no discovery:
// their URLs come from templates (Config.PhotosURL, Config.AppsURL) whose defaults
// match the reference server. A kind the server refuses to keep (its collection
// cannot be made: 403, 405, 501...) is skipped and reported in
// Summary.NotCovered with the server's answer, never written and never
// silently passed; a transient failure never makes a kind not covered.
// Summary.Kinds says what became of each kind's writes, and Summary.Problems
// what makes the load a failure: it wrote nothing, or a kind it tried was
// refused throughout.
package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/gate"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// Config says what to load where.
type Config struct {
	Server   string // base URL, e.g. http://localhost:8080
	Accounts []accounts.Account
	Profile  *profile.Profile
	Seed     int64
	Ledger   Recorder
	// HTTPClient is used for every request; nil means a client whose transport
	// keeps enough idle connections for the concurrency.
	HTTPClient *http.Client
	// PhotosURL and AppsURL are URL templates ({base}, {user}); "" means the
	// reference server's layout (dav.DefaultPhotosURL, dav.DefaultAppsURL).
	PhotosURL, AppsURL string
	// Concurrency overrides the profile's users in parallel when > 0.
	Concurrency int
	// Progress receives a progress line (redrawn when ProgressTTY) or periodic
	// log lines; nil shows none.
	Progress    io.Writer
	ProgressTTY bool
	// Log receives warnings (refused writes, conflicts, read errors), at most a
	// few of each kind; nil discards them.
	Log io.Writer
	// Gate, when set, holds the phones' writes at its thresholds of the global
	// write order (see package gate): users in the order of Accounts, each
	// user's plan in order. Every write is marked done on its gate once its
	// outcome is known, or when its user's phones stop.
	Gate *gate.Gate
	// AtRest has every user's phones write the user's data at rest only:
	// each item of its plan created once at version 0 (gen.Plan.AtRest).
	AtRest bool
}

// Stats counts what the devices did.
type Stats struct {
	Attempts   atomic.Int64 // write attempts recorded
	OK         atomic.Int64
	Failed     atomic.Int64
	Ambiguous  atomic.Int64
	AckedBytes atomic.Int64
	Retries    atomic.Int64 // attempts after the first, and discovery retries
	Conflicts  atomic.Int64 // 412s where the server held another version
	Refused    atomic.Int64 // writes the server refused for good (4xx)
	Skipped    atomic.Int64 // planned operations not made (their create was refused, a read failed)
	ReadErrors atomic.Int64 // failed syncs and read-backs
}

// KindStats is what became of the planned operations of one kind, each
// counted once whatever its retries.
type KindStats struct {
	Writes    int64 // operations sent: creates, updates and deletes
	Acked     int64 // acknowledged by the server
	Refused   int64 // refused for good (4xx, or "later" answers to the last retry)
	Ambiguous int64 // no certain answer after every retry (5xx, timeouts): may or may not have happened
	Conflicts int64 // 412s where the server held another version
	Skipped   int64 // planned but not sent (see Why)
	// Why is the server's answer to the first operation not acknowledged, or
	// why the first skipped one was skipped.
	Why string
}

// op results, for KindStats.
type opResult int

const (
	opAcked opResult = iota
	opRefused
	opAmbiguous
	opConflict
)

// kindCounts is KindStats being counted.
type kindCounts struct {
	writes, acked, refused, ambiguous, conflicts, skipped atomic.Int64
	why                                                   atomic.Pointer[string]
}

func (k *kindCounts) note(why string) { k.why.CompareAndSwap(nil, &why) }

func (k *kindCounts) stats() KindStats {
	s := KindStats{Writes: k.writes.Load(), Acked: k.acked.Load(), Refused: k.refused.Load(), Ambiguous: k.ambiguous.Load(),
		Conflicts: k.conflicts.Load(), Skipped: k.skipped.Load()}
	if w := k.why.Load(); w != nil {
		s.Why = *w
	}
	return s
}

// opDone counts the outcome of one operation on the item key of kind k; res
// is its last answer.
func (r *runner) opDone(k model.Kind, key string, result opResult, res dav.WriteResult) {
	c := r.kind(k)
	c.writes.Add(1)
	switch result {
	case opAcked:
		c.acked.Add(1)
		return
	case opRefused:
		c.refused.Add(1)
		r.stats.Refused.Add(1)
	case opAmbiguous:
		c.ambiguous.Add(1)
	case opConflict:
		c.conflicts.Add(1)
		r.stats.Conflicts.Add(1)
	}
	c.note(key + ": " + statusText(res))
}

// skipped counts a planned operation of kind k that was not sent, and why.
func (r *runner) skipped(k model.Kind, why string) {
	c := r.kind(k)
	c.skipped.Add(1)
	r.stats.Skipped.Add(1)
	c.note("skipped: " + why)
}

func (r *runner) kind(k model.Kind) *kindCounts {
	if int(k) < len(r.kinds) {
		return &r.kinds[k]
	}
	return &r.kinds[0]
}

// Problems says what makes a load a failure, one line each: nothing was
// acknowledged, or a kind had operations and none of them was acknowledged
// (every write refused, or left ambiguous after its retries). A kind the
// server does not offer is not a problem here: it is in NotCovered.
func (s Summary) Problems() []string {
	var out []string
	if s.OK == 0 {
		switch {
		case s.Attempts == 0 && len(s.NotCovered) > 0:
			out = append(out, "nothing was written: the server offers none of the kinds (see not covered)")
		case s.Attempts == 0:
			out = append(out, "nothing was written: no write was attempted")
		default:
			out = append(out, fmt.Sprintf("nothing was written: none of %d write attempts was acknowledged", s.Attempts))
		}
	}
	for _, k := range model.Kinds {
		ks := s.Kinds[k]
		if ks.Writes == 0 || ks.Acked > 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s refused throughout: none of its %d writes was acknowledged (%d refused, %d ambiguous after retries, %d conflicts); first answer: %s",
			k, ks.Writes, ks.Refused, ks.Ambiguous, ks.Conflicts, ks.Why))
	}
	return out
}

// UserError is why a user's load did not complete.
type UserError struct {
	User string
	Err  error
}

// Summary is the outcome of a load.
type Summary struct {
	Users       int
	UsersDone   int // users whose devices all completed their plan
	Attempts    int64
	OK          int64
	Failed      int64
	Ambiguous   int64
	AckedBytes  int64
	Retries     int64
	Conflicts   int64
	Refused     int64
	Skipped     int64
	ReadErrors  int64
	Duration    time.Duration
	NotCovered  map[model.Kind]string // kinds the server does not offer, and why
	Kinds       map[model.Kind]KindStats
	UserErrors  []UserError // the users that failed, in user order
	Concurrency int
}

// AckedPerSecond is the load's throughput: acknowledged writes per second.
func (s Summary) AckedPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.OK) / s.Duration.Seconds()
}

type runner struct {
	cfg   Config
	prof  *profile.Profile
	gen   *gen.Generator
	hc    *http.Client
	stats Stats
	log   *limitedLog

	mu      sync.Mutex
	covered map[model.Kind]string
	kinds   [8]kindCounts // indexed by model.Kind (1 to 6); 0 takes anything else
}

// plan is what user's phones carry out: the whole plan, or its data at rest.
func (r *runner) plan(user string) gen.Plan {
	p := r.gen.Plan(user)
	if r.cfg.AtRest {
		p = p.AtRest()
	}
	return p
}

func (r *runner) notCovered(k model.Kind, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.covered[k]; !ok {
		r.covered[k] = why
		r.log.printf("not-covered", "%s not covered: %s", k, why)
	}
}

func (r *runner) countAttempt(out ledger.Outcome, size int) {
	r.stats.Attempts.Add(1)
	switch out {
	case ledger.OK:
		r.stats.OK.Add(1)
		r.stats.AckedBytes.Add(int64(size))
	case ledger.Failed:
		r.stats.Failed.Add(1)
	case ledger.Ambiguous:
		r.stats.Ambiguous.Add(1)
	}
}

// Load runs every account's devices through its plan. Per-user failures (a
// refused login, a server that stays unreachable) are in Summary.UserErrors; the
// error is for what stops the whole load: a ledger that cannot be written, an
// unreachable server before any user started, or ctx ending. The phones are let
// go as their users finish; use a Fleet to keep them.
func Load(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.Profile == nil || cfg.Ledger == nil || len(cfg.Accounts) == 0 {
		return Summary{}, errors.New("start load: want a profile, a ledger and at least one account")
	}
	f, err := newFleet(cfg, false)
	if err != nil {
		return Summary{}, err
	}
	return f.Load(ctx)
}

func (r *runner) summary(users, done int, d time.Duration, conc int) Summary {
	s := Summary{
		Users: users, UsersDone: done, Duration: d, Concurrency: conc,
		Attempts: r.stats.Attempts.Load(), OK: r.stats.OK.Load(), Failed: r.stats.Failed.Load(),
		Ambiguous: r.stats.Ambiguous.Load(), AckedBytes: r.stats.AckedBytes.Load(), Retries: r.stats.Retries.Load(),
		Conflicts: r.stats.Conflicts.Load(), Refused: r.stats.Refused.Load(), Skipped: r.stats.Skipped.Load(),
		ReadErrors: r.stats.ReadErrors.Load(), NotCovered: map[model.Kind]string{},
	}
	r.mu.Lock()
	for k, v := range r.covered {
		s.NotCovered[k] = v
	}
	r.mu.Unlock()
	s.Kinds = map[model.Kind]KindStats{}
	for _, k := range model.Kinds {
		ks := r.kind(k).stats()
		s.Kinds[k] = ks
		// A kind whose every operation had to be skipped, because the server
		// would not make its collections, is one the server does not offer.
		if _, ok := s.NotCovered[k]; !ok && ks.Writes == 0 && ks.Skipped > 0 {
			s.NotCovered[k] = ks.Why
		}
	}
	return s
}

// limitedLog prints at most limit messages per category, then one note that
// more were suppressed.
type limitedLog struct {
	w     io.Writer
	limit int
	mu    sync.Mutex
	n     map[string]int
}

func newLimitedLog(w io.Writer, limit int) *limitedLog {
	return &limitedLog{w: w, limit: limit, n: map[string]int{}}
}

func (l *limitedLog) printf(category, format string, args ...any) {
	if l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n[category]++
	switch n := l.n[category]; {
	case n <= l.limit:
		fmt.Fprintf(l.w, "firedrill: "+format+"\n", args...)
	case n == l.limit+1:
		fmt.Fprintf(l.w, "firedrill: (more %q messages suppressed)\n", category)
	}
}
