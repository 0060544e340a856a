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
	users := fmt.Sprintf("%s total, %s intact, %s damaged", commas(r.Users.Total), commas(r.Users.Intact), commas(r.Users.Damaged))
	if n := r.Users.Rewritten; n > 0 {
		users += ", " + commas(n) + " rewritten by the server"
	}
	if n := r.Users.NotCovered; n > 0 {
		users += ", " + commas(n) + " not covered"
	}
	if n := r.Users.Unknown; n > 0 {
		users += ", " + commas(n) + " not judged"
	}
	row("users", users)
	row("writes", fmt.Sprintf("%s acknowledged, %s ambiguous, %s refused",
		commas(r.Items.Acked), commas(r.Items.Ambiguous), commas(r.Items.Failed)))
	row("items", fmt.Sprintf("%s lost, %s changed, %s resurrected, %s foreign, %s moved, %s duplicate, %s unreadable",
		commas(r.Items.Lost), commas(r.Items.Changed), commas(r.Items.Resurrected), commas(r.Items.Foreign),
		commas(r.Items.Moved), commas(r.Items.Duplicate), commas(r.Items.Unreadable)))
	if r.Items.Rewritten > 0 {
		row("rewritten", plural(r.Items.Rewritten, "item", "items")+" rewritten by the server in ways the RFCs allow (not damage)")
	}
	if c := r.Canary; c != nil {
		row("canary", canaryLine(c))
	}
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
	for _, k := range r.Kinds {
		if !k.Covered {
			row("not covered", k.Kind+": "+k.Reason)
		}
	}
	if len(r.NotCovered) > 0 && len(r.Kinds) == 0 {
		row("not covered", strings.Join(r.NotCovered, ", "))
	}
	for _, n := range r.Notes {
		row("note", oneLine(n))
	}
	damaged := r.damagedVerdicts()
	for i, u := range damaged {
		if i == summaryUsers {
			row("", fmt.Sprintf("... and %s more damaged users", commas(len(damaged)-i+r.MoreUserVerdicts)))
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
		s += fmt.Sprintf("%s/%s users intact", commas(r.Users.Intact), commas(r.Users.Total))
		if n := r.Users.Rewritten; n > 0 {
			s += fmt.Sprintf(" (+%s rewritten by the server)", commas(n))
		}
		if n := r.Users.NotCovered; n > 0 {
			s += fmt.Sprintf(", %s not covered", commas(n))
		}
		s += fmt.Sprintf(", %s acked writes lost", commas(r.RPO.LostAckedWrites))
		if r.RTO.Seconds > 0 || len(r.RTO.Phases) > 0 {
			s += ", RTO " + secondsCompact(r.RTO.Seconds)
		}
		if r.Verdict == Fail && r.Reason != "" {
			s += " (" + oneLine(r.Reason) + ")"
		}
	}
	if c := r.Canary; c != nil {
		s += fmt.Sprintf(", canary %d/%d caught", c.Caught, c.Planted)
	}
	if htmlPath != "" {
		s += " -> " + htmlPath
	}
	return s
}

// canaryLine says what the canary planted and caught, e.g. "7 of 7 planted
// damages caught (lost, changed_property, ...)".
func canaryLine(c *Canary) string {
	var missed, unplanted []string
	for _, p := range c.Plants {
		switch {
		case !p.Planted:
			unplanted = append(unplanted, p.Damage)
		case !p.Caught:
			missed = append(missed, p.Damage+" in "+p.User)
		}
	}
	s := fmt.Sprintf("%d of %d planted damages caught", c.Caught, c.Planted)
	if len(missed) > 0 {
		s += "; MISSED: " + strings.Join(missed, ", ") + ": the verifier is broken"
	}
	if len(unplanted) > 0 {
		s += "; not planted (nothing to plant into): " + strings.Join(unplanted, ", ")
	}
	return s
}
