package drill

import (
	"context"
	"fmt"
	"strings"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/observe"
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
	obs, err := observe.Observe(ctx, observe.Options{Server: url, Accounts: d.phones.accts, KeepBodies: true,
		Progress: d.opts.Progress, ProgressTTY: d.opts.ProgressTTY})
	if err != nil {
		return "", fmt.Errorf("observe users: %w", err)
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
	res, err := CheckAndSave(l, Users(obs), d.found.target, d.dir.ObservationPath())
	if err != nil {
		return "", err
	}
	if end != nil {
		end(string(res.Status))
	}
	d.found.result = &res
	said := res.Summary(5, 3)
	if d.found.resynced {
		stores := d.phones.fleet.Stores()
		d.found.phones = comparePhones(stores, *obs)
		if len(d.found.phones) == 0 {
			said += fmt.Sprintf("; all %d phones hold exactly what the service holds", len(stores))
		} else {
			said += fmt.Sprintf("; %d phones differ from the service: %s", len(d.found.phones), strings.Join(first(d.found.phones, 3), "; "))
		}
	}
	if err := writeJSON(d.dir.Path+"/"+VerifyInputFile, d.found.target); err != nil {
		return "", err
	}
	return said, nil
}

// comparePhones returns, for each phone whose local store differs from what the
// service returned for its user, a line saying how.
func comparePhones(stores []workload.DeviceStore, obs model.Observation) []string {
	byUser := map[string]model.UserObservation{}
	for _, u := range obs.Users {
		byUser[u.User] = u
	}
	var out []string
	for _, st := range stores {
		if diff := workload.CompareStore(st, byUser[st.User]); !diff.Empty() {
			out = append(out, st.ID+": "+diff.String())
		}
	}
	return out
}

// first returns at most n lines, the last saying how many more there are.
func first(lines []string, n int) []string {
	if len(lines) > n {
		return append(lines[:n:n], fmt.Sprintf("and %d more", len(lines)-n))
	}
	return lines
}
