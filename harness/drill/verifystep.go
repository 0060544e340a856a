package drill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/workload"
)

// VerifyInput is saved beside the observation so that `firedrill report` can
// re-verify a run offline exactly as the run did.
type VerifyInput struct {
	Mode          verify.Mode `json:"mode"`
	RecoveryPoint int64       `json:"recovery_point_ns"`
	Lower         int64       `json:"lower_ns,omitempty"`
	Upper         int64       `json:"upper_ns,omitempty"`
}

// VerifyInputFile is the name of the saved VerifyInput in a run directory.
const VerifyInputFile = "verify-input.json"

// verify reads every user back from the current stack, checks the observation
// against the closed ledger, compares resynced phones with the service, and
// saves the observation and the verifier's input in the run directory.
func (d *runner) verify(ctx context.Context) (string, error) {
	url, err := d.sys.current.URL(ctx)
	if err != nil {
		return "", err
	}
	var end func(string)
	if d.backups.restored != nil {
		end = d.backups.restored.Begin("verified")
	}
	if d.found.target.Mode == "" {
		d.found.target = VerifyInput{Mode: verify.Latest, RecoveryPoint: d.phones.ledger.Now()}
	}
	if err := d.phones.ledger.Close(); err != nil {
		return "", fmt.Errorf("close ledger: %w", err)
	}
	l, err := d.ledgerNow()
	if err != nil {
		return "", err
	}
	saver, err := NewSaver(l, d.found.target, d.dir.ObservationPath())
	if err != nil {
		return "", err
	}
	// Users are checked as the observer reads them, in account order: a
	// million users never sit in memory at once. Phones that resynced are
	// compared with their user's observation as it passes.
	stores := map[string][]workload.DeviceStore{}
	var nStores int
	if d.found.resynced {
		for _, st := range d.phones.fleet.Stores() {
			stores[st.User] = append(stores[st.User], st)
			nStores++
		}
	}
	prog := d.verifyProgress(int64(len(d.phones.all)), "verify")
	attr := &attribution{b: d.found.before, classes: map[string]int{}}
	res, err := d.observeAndCheck(ctx, url, d.phones.all, saver, func(uo model.UserObservation, ur verify.UserResult) {
		prog(ur)
		attr.add(ur)
		d.found.phones = append(d.found.phones, comparePhones(stores[uo.User], uo)...)
	})
	if err != nil {
		return "", fmt.Errorf("observe users: %w", err)
	}
	if end != nil {
		end(string(res.Status))
	}
	d.found.serverOwn = attr.result()
	if note := attr.note(); note != "" {
		res.Notes = append(res.Notes, note)
	}
	d.found.result = &res
	said := res.Summary(5, 3)
	if d.found.resynced {
		if len(d.found.phones) == 0 {
			said += fmt.Sprintf("; all %d phones hold exactly what the service holds", nStores)
		} else {
			said += fmt.Sprintf("; %d phones differ from the service: %s", len(d.found.phones), strings.Join(first(d.found.phones, 3), "; "))
		}
	}
	if err := writeJSON(d.dir.Path+"/"+VerifyInputFile, d.found.target); err != nil {
		return "", err
	}
	return said, nil
}

// comparePhones returns, for each of a user's phones whose local store
// differs from what the service returned for the user, a line saying how.
func comparePhones(stores []workload.DeviceStore, uo model.UserObservation) []string {
	var out []string
	for _, st := range stores {
		if diff := workload.CompareStore(st, uo); !diff.Empty() {
			out = append(out, st.ID+": "+diff.String())
		}
	}
	return out
}

// verifyProgress returns what to call with each user's verdict: it tells the
// watcher, at most every progressEvery, how many users of the phase ("verify",
// or "check" before any fault) are verified and how many are intact or
// damaged so far, with an ETA.
func (d *runner) verifyProgress(total int64, phase string) func(verify.UserResult) {
	w := d.opts.Watch
	if w == nil {
		return func(verify.UserResult) {}
	}
	start, last := time.Now(), time.Time{}
	var done, intact, damaged int64
	return func(ur verify.UserResult) {
		done++
		switch ur.Verdict {
		case verify.Intact, verify.Rewritten:
			intact++
		case verify.Damaged, verify.Unreadable:
			damaged++
		}
		if time.Since(last) < progressEvery && done < total {
			return
		}
		last = time.Now()
		p := Progress{At: last, Phase: phase, Done: done, Total: total, Unit: "users", Intact: intact, Damaged: damaged}
		if el := time.Since(start); done < total {
			p.ETA = time.Duration(float64(el) * float64(total-done) / float64(done))
		}
		w.Progress(p)
	}
}

// first returns at most n lines, the last saying how many more there are.
func first(lines []string, n int) []string {
	if len(lines) > n {
		return append(lines[:n:n], fmt.Sprintf("and %d more", len(lines)-n))
	}
	return lines
}
