package drill

import (
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/firedrill/firedrill/harness/verify"
)

// timelineBin is the width of the report's throughput samples.
const timelineBin = time.Second

// facts is everything a run found that its report and verdict are made of, as
// plain data: fill and judge are pure functions of it, so that every verdict
// rule is tested without containers.
type facts struct {
	scenario Scenario
	timeline []timeline.Entry // the one source of the RTO's phases
	// restoredFrom says which backup the restore used and which it tried;
	// "" when nothing was restored.
	restoredFrom string
	nothing      error // why a restore had nothing to restore from
	server       string
	ledger       *ledger.Ledger // nil when the run made none or it cannot be read
	result       *verify.Result // nil when the run ended before verification
	phones       []string       // phones that differ from the service after a resync
	serverOwn    *ServerOwn     // what a check before any fault found; nil when none ran
}

// facts gathers what the run found.
func (d *runner) facts(l *ledger.Ledger) facts {
	f := facts{scenario: d.sc, timeline: d.tl.Entries(), nothing: d.backups.nothing, ledger: l, result: d.found.result, phones: d.found.phones, serverOwn: d.found.serverOwn}
	if r := d.backups.restored; r != nil {
		f.restoredFrom = fmt.Sprintf("restored from %s to %s; backups tried: %s", r.Backup.ID, r.Target, attempts(r))
	}
	if d.sys.primary != nil && d.sys.primary.Server != nil {
		f.server = d.def.Label()
	}
	return f
}

// fill writes the run's findings and verdict into the report. Its error is
// about the report's throughput samples only; the verdict is set regardless.
func fill(r *report.Report, f facts, runErr error) error {
	r.SetTimeline(f.timeline)
	r.Backup.Verified = f.restoredFrom != ""
	r.Backup.Detail = f.restoredFrom
	if f.nothing != nil {
		r.Backup.Detail = "nothing to restore from: " + f.nothing.Error()
	}
	r.Server = f.server
	var err error
	if f.ledger != nil {
		if f.result != nil {
			FillFromVerify(r, *f.result, f.ledger)
		}
		if terr := FillThroughput(r, f.ledger, timelineBin); terr != nil {
			err = fmt.Errorf("fill throughput: %w", terr)
		}
	}
	r.Budgets = budgets(f.scenario.Budgets, f.result != nil, r)
	r.Verdict, r.Actual, r.Reason = judge(f.scenario, f.result, runErr, r)
	creditServer(r, f.serverOwn)
	if len(f.phones) > 0 && r.Verdict == report.Pass && f.scenario.Expect == report.ExpectIntact {
		r.Verdict, r.Actual = report.Fail, report.ExpectLossDetected
		r.Reason = fmt.Sprintf("the service is intact, but %d phones differ from it after resync: %s", len(f.phones), strings.Join(first(f.phones, 5), "; "))
	}
	return err
}

// creditServer says in a failed report's reason that every damaged item was
// already so at the check before any fault, when it was (and the lists were
// complete): the server's own doing, not the drill's.
func creditServer(r *report.Report, own *ServerOwn) {
	if r.Verdict == report.Fail && own.allOfIt() {
		r.Reason += "; every damaged item was already so at the check before any fault: the server's own doing, and the restore brought back all it had kept"
	}
}

// budgets returns the report's budget lines: the RPO budget once the run was
// verified, the RTO budget once something was restored (r.RTO is set).
func budgets(b Budgets, verified bool, r *report.Report) []report.Budget {
	var out []report.Budget
	if b.LostWrites != nil && verified {
		out = append(out, report.NewBudget("rpo", "acked writes", float64(*b.LostWrites), float64(r.RPO.LostAckedWrites)))
	}
	if b.RTO > 0 && r.RTO.Seconds > 0 {
		out = append(out, report.NewBudget("rto", "s", b.RTO.Seconds(), r.RTO.Seconds))
	}
	return out
}

// judge decides the verdict: error when a stage failed or the verifier could
// not decide; otherwise pass when the verifier found what the scenario
// expects and the budgets were kept.
func judge(sc Scenario, res *verify.Result, runErr error, r *report.Report) (report.Verdict, report.Expectation, string) {
	if runErr != nil {
		return report.Error, report.FoundUnknown, runErr.Error()
	}
	if res == nil {
		return report.Error, report.FoundUnknown, "the run ended before verification"
	}
	switch res.Status {
	case verify.Unknown:
		return report.Error, report.FoundUnknown, "the verifier could not decide: " + res.Reason
	case verify.Error:
		return report.Error, report.FoundUnknown, res.Reason
	case verify.Pass:
		if sc.Expect == report.ExpectLossDetected {
			return report.Fail, report.ExpectIntact, "expected the harness to find data loss, but every user is intact: the scenario did not damage what it meant to"
		}
		if !r.BudgetsMet() {
			return report.Fail, report.ExpectIntact, "every user intact, but a budget was exceeded: " + budgetLine(r)
		}
		return report.Pass, report.ExpectIntact, res.Reason
	default:
		if sc.Expect == report.ExpectLossDetected {
			return report.Pass, report.ExpectLossDetected, "loss detected as expected: " + res.Reason
		}
		return report.Fail, report.ExpectLossDetected, res.Reason
	}
}

// budgetLine names the budgets a report exceeded.
func budgetLine(r *report.Report) string {
	var out []string
	for _, b := range r.Budgets {
		if !b.Met {
			out = append(out, fmt.Sprintf("%s %.1f %s over the limit of %.1f", b.Name, b.Actual, b.Unit, b.Limit))
		}
	}
	return strings.Join(out, "; ")
}
