// Package observe reads every user's full state back from a CardDAV, CalDAV and
// WebDAV server, through the protocols alone, for the verifier: user by user
// (Each) or all at once (Observe).
//
// It is its own package, apart from workload, because it is a different stage of
// a drill: it runs against the restored stack, knows nothing of the ledger or the
// plan, and must cope with whatever a damaged server answers.
//
// Per user it discovers the account (the /.well-known redirect is learnt once
// per observation) and reads every address book and calendar with one
// sync-collection REPORT that asks for the objects' data inline (continued
// when the server cuts it short with 507); what a server leaves out comes with
// addressbook-multiget or calendar-multiget, and a multiget that fails is split
// in halves down to single objects, then GET, so that one bad object does not
// make a batch unreadable. Contacts are asked for in vCard 4.0, or in the
// version Options.VCardVersion names, and asked again in that version when the
// server sent another. Photos and app data, plain WebDAV, are listed (app data
// with one sync-collection of infinite depth where the server has it) and
// fetched with GET. Each item carries the collection it was found in; an item
// found in two collections is reported twice.
//
// Transient failures (no answer, 5xx, 429) are retried, honouring Retry-After.
// Every request, every user and, when asked, the whole observation are bounded
// in time, and a server that stops answering altogether ends the observation
// early: what was not read is reported unreadable with the reason, never
// waited for forever. A server's garbage (invalid XML, truncated bodies,
// objects that do not parse) makes that user or item unreadable, never a crash;
// a kind the server does not offer is listed in NotCovered.
package observe

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
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/progress"
)

// Options says whom to observe where, and how.
type Options struct {
	Server   string
	Accounts []accounts.Account
	// HTTPClient is used for every request; nil means a default client.
	HTTPClient *http.Client
	// Concurrency is how many users are read at once (default 8).
	Concurrency int
	// BatchSize is how many objects one multiget asks for (default 100).
	BatchSize int
	// PhotosURL and AppsURL are URL templates ({base}, {user}); "" means the
	// reference server's layout.
	PhotosURL, AppsURL string
	// KeepBodies keeps the canonical text of contacts and calendar objects in
	// ObservedItem.Body, so that a changed item can be explained.
	KeepBodies bool
	// KindHint names the kind of a calendar object whose body is unreadable, so
	// that it is reported under the key the ledger knows (e.g. from the ledger's
	// item keys); without it such an object is reported as an event.
	KindHint func(user, name string) (model.Kind, bool)
	// VCardVersion names the vCard version to ask the server for, per contact
	// ("3.0" or "4.0"): the one it was written in, which the caller may know
	// (e.g. from what the phones wrote). "" or a nil func asks 4.0. A server
	// that stores vCard 4 and is asked nothing may send a vCard 3 conversion
	// (RFC 6352 10.4 makes 3.0 the default), which loses data.
	VCardVersion func(user, name string) string
	// Timeout bounds each request (default 30 seconds).
	Timeout time.Duration
	// Attempts is how often a request is tried on network failures, 5xx and 429
	// (default 3).
	Attempts int
	// MaxRetryAfter is the longest Retry-After honoured (default one minute):
	// a server asking for longer is not retried.
	MaxRetryAfter time.Duration
	// UserTimeout bounds the read of one user (default 10 minutes): a user not
	// read by then is unreadable, with what was read so far.
	UserTimeout time.Duration
	// MaxDuration bounds the whole observation; 0 means no bound but the
	// per-user one. Users not read by then are unreadable, saying why.
	MaxDuration time.Duration
	// Progress receives progress lines; nil shows none.
	Progress    io.Writer
	ProgressTTY bool
}

func (o *Options) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.PhotosURL == "" {
		o.PhotosURL = dav.DefaultPhotosURL
	}
	if o.AppsURL == "" {
		o.AppsURL = dav.DefaultAppsURL
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Minute
	}
	if o.UserTimeout <= 0 {
		o.UserTimeout = 10 * time.Minute
	}
	if o.HTTPClient == nil {
		o.HTTPClient = dav.NewHTTPClient(o.Concurrency * 2)
	}
}

// ErrNoAccounts is returned for an observation without accounts.
var ErrNoAccounts = errors.New("observe: no accounts: give at least one account to read")

// Observe reads every account back. Users come out in the order of
// opts.Accounts. The error is only for what stops the whole observation: bad
// options or ctx ending (then the users read so far come with it); a user the
// server will not serve is Unreadable.
func Observe(ctx context.Context, opts Options) (*model.Observation, error) {
	obs := &model.Observation{Users: make([]model.UserObservation, 0, len(opts.Accounts))}
	err := Each(ctx, opts, func(uo model.UserObservation) error {
		obs.Users = append(obs.Users, uo)
		return nil
	})
	return obs, err
}

// Each reads every account back and hands each user's observation to fn as
// soon as it and every user before it are read, in the order of
// opts.Accounts, one call at a time: a verifier can check user by user
// without holding them all. Only a bounded window of users is read ahead of
// the one fn waits for. An error from fn stops the observation and is
// returned; otherwise the error is only for bad options or ctx ending.
func Each(ctx context.Context, opts Options, fn func(model.UserObservation) error) error {
	opts.defaults()
	if _, err := dav.ParseServerURL(opts.Server); err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	if len(opts.Accounts) == 0 {
		return ErrNoAccounts
	}
	s := newScheduler(ctx, opts)
	defer s.stop()
	for i := range opts.Accounts {
		uo, err := s.result(i)
		if err != nil {
			return err
		}
		if err := fn(uo); err != nil {
			return err
		}
	}
	return nil
}

// scheduler reads users with opts.Concurrency workers, at most window users
// ahead of the one being delivered.
type scheduler struct {
	opts    Options
	ctx     context.Context // the caller's
	readCtx context.Context // ends at MaxDuration, or when the caller stops
	cancel  context.CancelFunc
	shared  *dav.DiscoveryCache
	meter   *progress.Meter
	items   atomic.Int64
	silent  silence
	window  chan struct{}
	results []chan model.UserObservation
	wg      sync.WaitGroup
}

// silence counts users in a row who got no answer at all from the server.
type silence struct {
	mu     sync.Mutex
	inARow int
	last   string
}

// silentLimit is how many users in a row may get no answer at all before the
// server is taken to have stopped answering.
func (s *scheduler) silentLimit() int { return max(3, s.opts.Concurrency) }

func newScheduler(ctx context.Context, opts Options) *scheduler {
	s := &scheduler{opts: opts, ctx: ctx, shared: &dav.DiscoveryCache{},
		window: make(chan struct{}, 4*opts.Concurrency), results: make([]chan model.UserObservation, len(opts.Accounts))}
	s.readCtx, s.cancel = context.WithCancel(ctx)
	if opts.MaxDuration > 0 {
		s.readCtx, s.cancel = context.WithTimeout(ctx, opts.MaxDuration)
	}
	for i := range s.results {
		s.results[i] = make(chan model.UserObservation, 1)
	}
	s.meter = progress.Start(opts.Progress, opts.ProgressTTY, "observe", len(opts.Accounts), func(el time.Duration) string {
		n := s.items.Load()
		return fmt.Sprintf("items %d  %.0f items/s", n, float64(n)/max(el.Seconds(), 1e-9))
	})
	next := make(chan int)
	for w := 0; w < opts.Concurrency; w++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for i := range next {
				s.results[i] <- s.read(opts.Accounts[i])
			}
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(next)
		for i := range opts.Accounts {
			select {
			case s.window <- struct{}{}:
			case <-s.readCtx.Done():
				s.skipFrom(i)
				return
			}
			select {
			case next <- i:
			case <-s.readCtx.Done():
				<-s.window
				s.skipFrom(i)
				return
			}
		}
	}()
	return s
}

// skipFrom reports the users from i on, never started, as not read.
func (s *scheduler) skipFrom(i int) {
	why := s.stopReason()
	for ; i < len(s.opts.Accounts); i++ {
		s.results[i] <- model.UserObservation{User: s.opts.Accounts[i].Username, Unreadable: "not read: " + why}
		s.meter.Failed()
	}
}

// stopReason says why reading stopped early.
func (s *scheduler) stopReason() string {
	if s.ctx.Err() != nil {
		return "the observation was stopped (" + s.ctx.Err().Error() + ")"
	}
	s.silent.mu.Lock()
	defer s.silent.mu.Unlock()
	if s.silent.inARow >= s.silentLimit() {
		return fmt.Sprintf("the server stopped answering: the last %d users read got no answer at all (the last: %s); check that it runs and is not overloaded",
			s.silent.inARow, s.silent.last)
	}
	return fmt.Sprintf("the observation's time limit of %s ran out", s.opts.MaxDuration)
}

// read reads one user, counting users the server did not answer at all.
func (s *scheduler) read(a accounts.Account) model.UserObservation {
	if err := s.readCtx.Err(); err != nil {
		s.meter.Failed()
		return model.UserObservation{User: a.Username, Unreadable: "not read: " + s.stopReason()}
	}
	counter := &answerCounter{next: s.opts.HTTPClient.Transport}
	hc := *s.opts.HTTPClient
	hc.Transport = counter
	uo := readUser(s.readCtx, s.opts, a, &hc, s.shared, s.stopReason)
	s.items.Add(int64(len(uo.Items)))
	if uo.Unreadable != "" {
		s.meter.Failed()
	} else {
		s.meter.Done()
	}
	s.silent.mu.Lock()
	if counter.answers.Load() == 0 && uo.Unreadable != "" {
		s.silent.inARow++
		s.silent.last = a.Username
	} else {
		s.silent.inARow = 0
	}
	stop := s.silent.inARow >= s.silentLimit()
	s.silent.mu.Unlock()
	if stop {
		s.cancel()
	}
	return uo
}

// result waits for user i's observation and lets the next user be read.
func (s *scheduler) result(i int) (model.UserObservation, error) {
	select {
	case uo := <-s.results[i]:
		select {
		case <-s.window:
		default: // a user never started took no place in the window
		}
		if err := s.ctx.Err(); err != nil {
			return uo, fmt.Errorf("observe: %w", err)
		}
		return uo, nil
	case <-s.ctx.Done():
		return model.UserObservation{}, fmt.Errorf("observe: %w", s.ctx.Err())
	}
}

// stop ends the reading: workers still reading hand their results to the
// buffered channels and end.
func (s *scheduler) stop() {
	s.cancel()
	s.wg.Wait()
	s.meter.Stop()
}

// answerCounter counts the answers (any status) a user's requests got.
type answerCounter struct {
	next    http.RoundTripper
	answers atomic.Int64
}

func (a *answerCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	next := a.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err == nil {
		a.answers.Add(1)
	}
	return resp, err
}
