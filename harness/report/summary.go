package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// summaryUsers is how many damaged users the terminal summary names.
const summaryUsers = 5

// WriteSummary writes a compact table of r for people watching a terminal:
// users, items, RPO, RTO and its phases, faults, the first damaged users, and
// the verdict.
func WriteSummary(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }
	head := fmt.Sprintf("%s  seed %d", r.Scenario, r.Seed)
	if r.Profile != "" {
		head += "  profile " + r.Profile
	}
	row("scenario", head)
	if r.Backup.Strategy != "" {
		v := "not verified"
		if r.Backup.Verified {
			v = "verified"
		}
		row("backup", r.Backup.Strategy+" ("+v+")")
	}
	row("users", fmt.Sprintf("%s total, %s intact, %s damaged",
		commas(r.Users.Total), commas(r.Users.Intact), commas(r.Users.Damaged)))
	row("writes", fmt.Sprintf("%s acknowledged, %s ambiguous, %s refused",
		commas(r.Items.Acked), commas(r.Items.Ambiguous), commas(r.Items.Failed)))
	row("items", fmt.Sprintf("%s lost, %s changed, %s resurrected, %s foreign, %s unreadable",
		commas(r.Items.Lost), commas(r.Items.Changed), commas(r.Items.Resurrected), commas(r.Items.Foreign), commas(r.Items.Unreadable)))
	rpo := commas(r.RPO.LostAckedWrites) + " acknowledged writes lost"
	if r.RPO.LostAckedWrites > 0 {
		rpo += ", oldest " + seconds(r.RPO.Seconds) + " before the disaster"
	}
	row("RPO", rpo+budgetNote(r, "rpo"))
	if r.RTO.Seconds > 0 || len(r.RTO.Phases) > 0 {
		row("RTO", seconds(r.RTO.Seconds)+budgetNote(r, "rto"))
	} else {
		row("RTO", "none: this run restored nothing")
	}
	for _, p := range r.RTO.Phases {
		share := ""
		if r.RTO.Seconds > 0 {
			share = fmt.Sprintf("%3.0f%%", 100*p.Seconds/r.RTO.Seconds)
		}
		row("", fmt.Sprintf("  %-24s %10s  %s", p.Name, seconds(p.Seconds), share))
	}
	for _, f := range r.Faults {
		s := f.Name
		if f.Target != "" {
			s += " on " + f.Target
		}
		s += " at " + offsetClock(r, f.Start)
		if !f.End.IsZero() {
			s += " for " + seconds(f.Duration().Seconds())
		}
		row("fault", s)
	}
	if len(r.NotCovered) > 0 {
		row("not covered", strings.Join(r.NotCovered, ", "))
	}
	damaged := r.damagedVerdicts()
	for i, u := range damaged {
		if i == summaryUsers {
			row("", fmt.Sprintf("... and %s more damaged users", commas(len(damaged)-i)))
			break
		}
		label := ""
		if i == 0 {
			label = "damaged"
		}
		row(label, oneLine(u.User+": "+userBrief(u, 2)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	verdict := fmt.Sprintf("%s  %s: %s", strings.ToUpper(string(r.Verdict)), r.Outcome(), r.Headline())
	if r.Verdict != Pass && r.Reason != "" {
		verdict += "\n      " + oneLine(r.Reason)
	}
	if r.Command != "" {
		verdict += "\nreplay: " + r.Command
	}
	if _, err := fmt.Fprintln(w, verdict); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func budgetNote(r *Report, name string) string {
	b, ok := r.budget(name)
	if !ok {
		return ""
	}
	if b.Met {
		return "  (budget " + budgetValue(b.Limit, b.Unit) + ": kept)"
	}
	return "  (budget " + budgetValue(b.Limit, b.Unit) + ": EXCEEDED)"
}

// Line returns the one-line verdict that `make drill` prints, e.g.
// "PASS sidekick-san-migration seed=42: 1,000/1,000 users intact, 0 acked
// writes lost, RTO 41.2s -> reports/latest/index.html". htmlPath may be empty.
func (r *Report) Line(htmlPath string) string {
	var s string
	if r.Verdict == Error || r.Actual == FoundUnknown {
		s = fmt.Sprintf("%s %s seed=%d: %s", strings.ToUpper(string(r.Verdict)), r.Scenario, r.Seed, oneLine(r.Reason))
	} else {
		s = fmt.Sprintf("%s %s seed=%d: ", strings.ToUpper(string(r.Verdict)), r.Scenario, r.Seed)
		if r.Expected == ExpectLossDetected && r.Actual == ExpectLossDetected {
			s += "loss detected as expected: "
		}
		s += fmt.Sprintf("%s/%s users intact, %s acked writes lost", commas(r.Users.Intact), commas(r.Users.Total), commas(r.RPO.LostAckedWrites))
		if r.RTO.Seconds > 0 || len(r.RTO.Phases) > 0 {
			s += ", RTO " + secondsCompact(r.RTO.Seconds)
		}
		if r.Verdict == Fail && r.Reason != "" {
			s += " (" + oneLine(r.Reason) + ")"
		}
	}
	if htmlPath != "" {
		s += " -> " + htmlPath
	}
	return s
}
