package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/seed"
	"github.com/firedrill/firedrill/harness/verify"
)

// The look at a damaged service is bounded: a service that hangs is said to
// hang within lookBudget, each request waits at most lookRequest, and at most
// lookUsers users (a seeded sample) are read, as impatient users would.
const (
	lookBudget  = 10 * time.Second
	lookRequest = 4 * time.Second
	lookUsers   = 200
)

// look reads a sample of users back from the current stack and says what they
// would see, without deciding the verdict.
func (d *runner) look(ctx context.Context) (string, error) {
	url, err := d.sys.current.URL(ctx)
	if err != nil {
		return "", err
	}
	if err := dav.Reachable(ctx, dav.NewHTTPClient(2), url); err != nil {
		return "the service does not answer: " + err.Error(), nil
	}
	sample := sampleAccounts(d.phones.all, lookUsers, d.opts.Seed)
	lookCtx, cancel := context.WithTimeout(ctx, lookBudget)
	defer cancel()
	obs, err := observe.Observe(lookCtx, observe.Options{Server: url, Accounts: sample, Attempts: 1, Timeout: lookRequest, PhotosURL: d.def.Files.Photos, AppsURL: d.def.Files.Apps,
		Progress: d.opts.Progress, ProgressTTY: d.opts.ProgressTTY})
	if lookCtx.Err() != nil && ctx.Err() == nil {
		return fmt.Sprintf("the service did not answer %d users within %s: it hangs", len(sample), lookBudget), nil
	}
	if err != nil {
		return "reading users back failed: " + err.Error(), nil
	}
	l, err := d.ledgerNow()
	if err != nil {
		return "", err
	}
	res := verify.Check(verify.Input{Ledger: l, History: historyOf(l.History(), sample), Observation: *obs, Mode: verify.Latest, RecoveryPoint: d.phones.ledger.Now()})
	who := "users see"
	if len(sample) < len(d.phones.all) {
		who = fmt.Sprintf("of a sample of %d users, they see", len(sample))
	}
	return fmt.Sprintf("%s: %s", who, res.Summary(3, 2)), nil
}

// sampleAccounts picks at most n accounts with the seed, in their order.
func sampleAccounts(accts []accounts.Account, n int, sd int64) []accounts.Account {
	if len(accts) <= n {
		return accts
	}
	picked := seed.Derive(sd, "look-sample").Perm(len(accts))[:n]
	keep := make([]bool, len(accts))
	for _, i := range picked {
		keep[i] = true
	}
	out := make([]accounts.Account, 0, n)
	for i, a := range accts {
		if keep[i] {
			out = append(out, a)
		}
	}
	return out
}

// historyOf keeps the histories of the sampled users only, so that the
// verifier judges the users the look read and no others.
func historyOf(h *ledger.History, sample []accounts.Account) *ledger.History {
	in := make(map[string]bool, len(sample))
	for _, a := range sample {
		in[a.Username] = true
	}
	out := &ledger.History{}
	for _, u := range h.Users {
		if in[u.Name] {
			out.Users = append(out.Users, u)
		}
	}
	return out
}
