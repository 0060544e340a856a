package drill

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/verify"
)

// CheckObservationFile is where a check step saves what it read, in the run
// directory, and CheckInputFile how it verified it, so that `firedrill
// report` sets the final verification against the check again offline.
const (
	CheckObservationFile = "check-observation.jsonl"
	CheckInputFile       = "check-input.json"
)

// damage is one damaged item: its user, key and class (lost, changed, ...).
type damage struct{ user, key, class string }

// before is what a check step found before any fault: every damaged item,
// and whether the lists were complete.
type before struct {
	users   int
	items   map[damage]bool
	omitted int // item details the verifier left out of its lists
	summary string
}

// check verifies, before any fault, every user whose phones wrote so far
// against the ledger, and remembers what is already damaged: nothing the
// drill did yet can have damaged it, so it is the server's own doing, and the
// final verification names it so. It does not decide the verdict.
func (d *runner) check(ctx context.Context) (string, error) {
	url, err := d.sys.current.URL(ctx)
	if err != nil {
		return "", err
	}
	l, users, err := d.writersSoFar(d.phones.accts)
	if err != nil {
		return "", err
	}
	if len(users) == 0 {
		return "", fmt.Errorf("check: no phone has written yet; put the check after a load step")
	}
	in := VerifyInput{Mode: verify.Latest, RecoveryPoint: d.phones.ledger.Now()}
	if err := writeJSON(filepath.Join(d.dir.Path, CheckInputFile), in); err != nil {
		return "", err
	}
	saver, err := NewSaver(l, in, filepath.Join(d.dir.Path, CheckObservationFile))
	if err != nil {
		return "", err
	}
	b := &before{items: map[damage]bool{}}
	prog := d.verifyProgress(int64(len(users)), "check")
	res, err := d.observeAndCheck(ctx, url, users, saver, func(_ model.UserObservation, ur verify.UserResult) {
		prog(ur)
		b.add(ur)
	})
	if err != nil {
		return "", fmt.Errorf("observe users: %w", err)
	}
	b.summary = res.Summary(3, 2)
	d.found.before = b
	if len(b.items) == 0 && res.Status == verify.Pass {
		return fmt.Sprintf("before any fault, the %d users who wrote hold exactly what their phones were told: %s", len(users), b.summary), nil
	}
	return fmt.Sprintf("before any fault, the server itself already differs from what it acknowledged (nothing the drill did can have caused it): %s", b.summary), nil
}

// savedCheck reads back what a run's check step found, from its saved
// observation and input; nil when the run had no check (or an older run
// saved no input).
func savedCheck(dir *report.RunDir, l *ledger.Ledger) (*before, error) {
	var in VerifyInput
	if err := readJSON(filepath.Join(dir.Path, CheckInputFile), &in); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("load check input: %w", err)
	}
	b := &before{items: map[damage]bool{}}
	_, err := checkSavedEach(l, filepath.Join(dir.Path, CheckObservationFile), in, b.add)
	if err != nil {
		return nil, fmt.Errorf("re-check the check step's observation: %w", err)
	}
	return b, nil
}

// add takes in one user's result at the check.
func (b *before) add(ur verify.UserResult) {
	b.users++
	for _, dm := range damagedItems(ur) {
		b.items[dm] = true
	}
	b.omitted += ur.Omitted
}

// writersSoFar saves and decodes the ledger and returns it with those of
// accts who have written so far, in their order.
func (d *runner) writersSoFar(accts []accounts.Account) (*ledger.Ledger, []accounts.Account, error) {
	if err := d.phones.ledger.Sync(); err != nil {
		return nil, nil, fmt.Errorf("save ledger: %w", err)
	}
	l, err := d.ledgerNow()
	if err != nil {
		return nil, nil, err
	}
	wrote := map[string]bool{}
	for _, u := range l.Users() {
		wrote[u] = true
	}
	var users []accounts.Account
	for _, a := range accts {
		if wrote[a.Username] {
			users = append(users, a)
		}
	}
	return l, users, nil
}

// observeAndCheck reads users back from the server at url, user by user,
// checks each with saver (which saves what was read) and tells each with the
// user's observation and result. On error the saved observation is
// abandoned.
func (d *runner) observeAndCheck(ctx context.Context, url string, users []accounts.Account, saver *Saver, each func(model.UserObservation, verify.UserResult)) (verify.Result, error) {
	opts := observe.Options{Server: url, Accounts: users, KeepBodies: true, PhotosURL: d.def.Files.Photos, AppsURL: d.def.Files.Apps,
		Progress: d.opts.Progress, ProgressTTY: d.opts.ProgressTTY}
	err := observe.Each(ctx, opts, func(uo model.UserObservation) error {
		ur, err := saver.User(uo)
		each(uo, ur)
		return err
	})
	if err != nil {
		saver.Abandon()
		return verify.Result{}, err
	}
	return saver.Close()
}

// damagedItems lists the damaged items of a user's result.
func damagedItems(ur verify.UserResult) []damage {
	var out []damage
	for class, items := range map[string][]verify.ItemDetail{
		verify.ClassLost: ur.Lost, verify.ClassChanged: ur.Changed, verify.ClassResurrected: ur.Resurrected,
		verify.ClassForeign: ur.Foreign, verify.ClassMoved: ur.Moved, verify.ClassDuplicate: ur.Duplicate, verify.ClassUnreadable: ur.Unreadable,
	} {
		for _, it := range items {
			out = append(out, damage{ur.User, it.Key, class})
		}
	}
	return out
}

// ServerOwn is what a check step before any fault found, set against the
// final verification: damage already there before the drill did anything is
// the server's own doing.
type ServerOwn struct {
	// Users is how many users the check verified; Before how many damaged
	// items it listed.
	Users  int `json:"users"`
	Before int `json:"before"`
	// After is how many damaged items the final verification listed, Same
	// how many of them the check had listed damaged the same way (same user,
	// item and class). After - Same is the damage that came later.
	After int `json:"after"`
	Same  int `json:"same"`
	// Complete is false when the verifier cut item lists short (Limits.Items),
	// so that the counts are of the listed items only.
	Complete bool `json:"complete"`
}

// allOfIt reports whether every damaged item the verification listed was
// damaged the same way at the check, and there was some, with complete
// lists: the damage is all the server's own.
func (o *ServerOwn) allOfIt() bool {
	return o != nil && o.Complete && o.After > 0 && o.Same == o.After
}

// attribution counts, as the final verification reads users, which of their
// damaged items the check before any fault found damaged the same way.
type attribution struct {
	b          *before
	seen, same int
	classes    map[string]int // of the same, by class
	omitted    int
}

// result is what the attribution found; nil when no check ran.
func (a *attribution) result() *ServerOwn {
	if a.b == nil {
		return nil
	}
	return &ServerOwn{Users: a.b.users, Before: len(a.b.items), After: a.seen, Same: a.same, Complete: a.omitted == 0 && a.b.omitted == 0}
}

func (a *attribution) add(ur verify.UserResult) {
	if a.b == nil {
		return
	}
	a.omitted += ur.Omitted
	for _, dm := range damagedItems(ur) {
		a.seen++
		if a.b.items[dm] {
			a.same++
			a.classes[dm.class]++
		}
	}
}

// note is what the verdict says about the server's own damage; "" when the
// run had no check or found nothing damaged.
func (a *attribution) note() string {
	if a.b == nil || a.seen == 0 {
		return ""
	}
	var parts []string
	for c, n := range a.classes {
		parts = append(parts, fmt.Sprintf("%d %s", n, c))
	}
	sort.Strings(parts)
	s := fmt.Sprintf("%d of the %d damaged items listed were damaged the same way at the check before any fault (%s): the server's own doing, not the fault's or the restore's",
		a.same, a.seen, strings.Join(parts, ", "))
	if a.same == 0 {
		s = fmt.Sprintf("none of the %d damaged items listed was damaged at the check before any fault: the damage came later", a.seen)
	}
	if a.omitted > 0 || a.b.omitted > 0 {
		s += fmt.Sprintf(" (item lists were cut short: %d details left out now, %d at the check, so these counts are of the listed items only)", a.omitted, a.b.omitted)
	}
	return s
}
