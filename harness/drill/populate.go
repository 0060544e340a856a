package drill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/populate"
	"github.com/firedrill/firedrill/harness/progress"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/workload/gen"
)

// How population sends its batches: about batchItems items per batch (whole
// users), importsInFlight batches at once (one per core of this machine),
// accounts alone in batches of accountBatch.
const (
	batchItems      = 4000
	importsInFlight = 2
	accountBatch    = 5000
)

// createAccounts creates accts on s as its definition provisions users (one
// by one through syncd's admin API as phones' users sign up, with bcrypt, or
// in bulk by the stack's own command), or, when the profile keeps users at
// rest, in bulk through the stack's import (salted SHA-256: no bcrypt round
// per user).
func (d *runner) createAccounts(ctx context.Context, s *stack.Stack, accts []accounts.Account, batchName string) error {
	url, err := s.URL(ctx)
	if err != nil {
		return err
	}
	if !d.prof.Resting() || s.Def.Users.Import == "" {
		if err := s.CurrentServer().Provision(ctx, accts); err != nil {
			return fmt.Errorf("provision accounts: %w", err)
		}
		return nil
	}
	if len(accts) == 0 {
		return nil
	}
	_, err = populate.CreateAccounts(ctx, dav.NewHTTPClient(importsInFlight), url, s.Server.AdminToken, accts,
		populate.SchemeSSHA256, d.sys.run.ID+"-"+batchName, accountBatch)
	if err != nil {
		return fmt.Errorf("create accounts in bulk: %w", err)
	}
	return nil
}

// restingBatch is one import: whole users at rest, their accounts and every
// item their plans create, at version 0.
type restingBatch struct {
	n      int // its number, for its id
	users  []accounts.Account
	items  []populate.Item
	ledger []ledger.ImportItem
	bytes  int64
}

// populate imports the users at rest into the primary in bulk: each batch is
// entered in the ledger before it is sent and acknowledged at its commit.
func (d *runner) populate(ctx context.Context) (string, error) {
	if len(d.phones.resting) == 0 {
		return fmt.Sprintf("every user of profile %s is active: nothing at rest to import", d.prof.Name), nil
	}
	url, err := d.sys.current.URL(ctx)
	if err != nil {
		return "", err
	}
	token := d.sys.current.Server.AdminToken
	hc := dav.NewHTTPClient(importsInFlight)
	g := gen.New(d.opts.Seed, d.prof)
	perBatch := max(1, int(batchItems/max(d.prof.MeanItems(), 1)))
	total := len(d.phones.resting)
	var items, bytes atomic.Int64
	meter := progress.Start(d.opts.Progress, d.opts.ProgressTTY, "populate", total, func(el time.Duration) string {
		n := items.Load()
		return fmt.Sprintf("items %d  %.0f items/s  %.1f MiB", n, float64(n)/max(el.Seconds(), 1e-9), float64(bytes.Load())/(1<<20))
	})
	stopWatch := d.reportPopulateProgress(meter, int64(total))
	start := time.Now()

	batches := make(chan restingBatch, importsInFlight)
	eg, egCtx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		defer close(batches)
		for n, from := 0, 0; from < total; n, from = n+1, from+perBatch {
			b, err := d.restingBatch(g, n, d.phones.resting[from:min(from+perBatch, total)])
			if err != nil {
				return err
			}
			select {
			case batches <- b:
			case <-egCtx.Done():
				return egCtx.Err()
			}
		}
		return nil
	})
	for range importsInFlight {
		eg.Go(func() error {
			for b := range batches {
				if err := d.importBatch(egCtx, hc, url, token, b); err != nil {
					return err
				}
				items.Add(int64(len(b.items)))
				bytes.Add(b.bytes)
				for range b.users {
					meter.Done()
				}
			}
			return nil
		})
	}
	err = eg.Wait()
	meter.Stop()
	stopWatch()
	if err != nil {
		return "", fmt.Errorf("populate users at rest: %w", err)
	}
	if err := d.phones.ledger.Sync(); err != nil {
		return "", fmt.Errorf("save ledger: %w", err)
	}
	el := time.Since(start)
	return fmt.Sprintf("%d users at rest imported with %d items (%.1f MiB) in %s (%.0f items/s); %d users active",
		total, items.Load(), float64(bytes.Load())/(1<<20), el.Round(100*time.Millisecond),
		float64(items.Load())/max(el.Seconds(), 1e-9), len(d.phones.accts)), nil
}

// restingBatch builds batch n: the accounts of users and version 0 of every
// item their plans create, placed in the reference layout.
func (d *runner) restingBatch(g *gen.Generator, n int, users []accounts.Account) (restingBatch, error) {
	b := restingBatch{n: n, users: users}
	for _, a := range users {
		plan := g.Plan(a.Username)
		uid := d.phones.ledger.User(a.Username)
		for _, k := range model.Kinds {
			for i := range plan.Counts[k] {
				it := g.Item(a.Username, k, i, 0)
				pi, err := populate.ItemOf(a.Username, it)
				if err != nil {
					return b, err
				}
				digest, err := canon.Digest(k, it.Body)
				if err != nil {
					return b, fmt.Errorf("digest %s of %s: %w", it.Name, a.Username, err)
				}
				b.items = append(b.items, pi)
				b.ledger = append(b.ledger, ledger.ImportItem{User: uid, Kind: k, Name: it.Name, Index: i,
					Collection: "/dav/" + a.Username + "/" + pi.Collection + "/", Digest: digest, Size: uint32(len(it.Body))})
				b.bytes += int64(len(it.Body))
			}
		}
	}
	return b, nil
}

// importBatch records the batch in the ledger, sends it, and records its
// outcome. An answer lost in transit is asked again once under the same batch
// id (syncd answers a batch it committed with its first acknowledgment); still
// no answer leaves the batch's items ambiguous and stops the population.
func (d *runner) importBatch(ctx context.Context, hc *http.Client, url, token string, b restingBatch) error {
	w := d.phones.ledger
	batch := populate.Batch{ID: fmt.Sprintf("%s-rest-%d", d.sys.run.ID, b.n), Scheme: populate.SchemeSSHA256, Accounts: b.users, Items: b.items}
	var t ledger.Ticket
	var err error
	if len(b.ledger) > 0 {
		if t, err = w.InvokeBatch(w.Now(), b.ledger); err != nil {
			return fmt.Errorf("record import batch %d before sending it (not sent): %w", b.n, err)
		}
	}
	_, err = populate.Import(ctx, hc, url, token, batch)
	if err != nil && populate.IsAmbiguous(err) && ctx.Err() == nil {
		_, err = populate.Import(ctx, hc, url, token, batch)
	}
	if len(b.ledger) == 0 {
		return err
	}
	outcome := ledger.OK
	switch {
	case err != nil && populate.IsAmbiguous(err):
		outcome = ledger.Ambiguous
	case err != nil:
		outcome = ledger.Failed
	}
	if cerr := w.Complete(t, outcome, w.Now()); cerr != nil {
		return errors.Join(err, fmt.Errorf("record the outcome of import batch %d: %w", b.n, cerr))
	}
	if err != nil {
		return fmt.Errorf("import batch %d (users %s to %s): %w", b.n, b.users[0].Username, b.users[len(b.users)-1].Username, err)
	}
	return nil
}

// reportPopulateProgress tells the watcher how many users at rest are
// imported, every progressEvery until the returned function is called.
func (d *runner) reportPopulateProgress(meter *progress.Meter, total int64) (stop func()) {
	start := time.Now()
	return d.sampleEvery(func(w Watcher) {
		n, _ := meter.Counts()
		p := Progress{At: time.Now(), Phase: "populate", Done: n, Total: total, Unit: "users"}
		if el := time.Since(start); n > 0 && n < total {
			p.ETA = time.Duration(float64(el) * float64(total-n) / float64(n))
		}
		w.Progress(p)
	})
}
