package report

import "fmt"

// Headline says in one sentence what happened to users' data, e.g. "3 of 1,000
// users lost data: 17 acknowledged writes lost and 2 items changed."
func (r *Report) Headline() string {
	if r.Canary.Missed() > 0 {
		return fmt.Sprintf("Nothing is known about users' data: the verifier is broken, it missed %s of the damage it planted to test itself.", plural(r.Canary.Missed(), "instance", "instances"))
	}
	if (r.Verdict == Error || r.Actual == FoundUnknown) && r.Users.Total > 0 && r.Users.Damaged == 0 && r.Users.NotCovered+r.Users.Unknown > 0 {
		return fmt.Sprintf("Not every user could be judged: %s of %s could not be verified in full; no damage was found in the others, but a run cannot pass on what it did not check.",
			commas(r.Users.NotCovered+r.Users.Unknown), plural(r.Users.Total, "user", "users"))
	}
	if r.Verdict == Error || r.Actual == FoundUnknown {
		return "Nothing is known about users' data: the run stopped before it could be judged."
	}
	total := r.Users.Total
	if r.Users.Damaged == 0 && r.Users.NotCovered > 0 {
		s := fmt.Sprintf("No damage found in %s, but %s items of kinds the server does not support",
			plural(total, "user", "users"), plural(r.Users.NotCovered, "has", "have"))
		if len(r.NotCovered) > 0 {
			s += " (" + joinAnd(r.NotCovered) + ")"
		}
		return s + ": those were not verified."
	}
	if r.Users.Damaged == 0 && r.Users.Rewritten > 0 {
		return fmt.Sprintf("Every acknowledged write of %s came back: %s intact, %s with %s rewritten by the server in ways the RFCs allow (listed, not damage).",
			plural(total, "user", "users"), commas(r.Users.Intact), commas(r.Users.Rewritten), plural(r.Items.Rewritten, "item", "items"))
	}
	if r.Users.Damaged == 0 {
		if r.Items.Acked > 0 {
			return fmt.Sprintf("All %s intact: every one of %s came back unchanged.",
				plural(total, "user", "users"), plural(r.Items.Acked, "acknowledged write", "acknowledged writes"))
		}
		return fmt.Sprintf("All %s intact.", plural(total, "user", "users"))
	}
	what := "have damaged data"
	if r.RPO.LostAckedWrites > 0 || r.Items.Lost > 0 {
		what = "lost data"
	}
	if r.Users.Damaged == 1 {
		what = map[string]string{"have damaged data": "has damaged data", "lost data": "lost data"}[what]
	}
	s := fmt.Sprintf("%s of %s %s", commas(r.Users.Damaged), plural(total, "user", "users"), what)
	if r.Users.Damaged == total && total > 1 {
		s = fmt.Sprintf("All %s users %s", commas(total), what)
	}
	if d := r.DamageParts(); len(d) > 0 {
		s += ": " + joinAnd(d)
	}
	return s + "."
}

// DamageParts lists the kinds of damage found, e.g. ["17 acknowledged writes
// lost", "2 items changed"].
func (r *Report) DamageParts() []string {
	var parts []string
	switch {
	case r.RPO.LostAckedWrites > 0:
		parts = append(parts, plural(r.RPO.LostAckedWrites, "acknowledged write", "acknowledged writes")+" lost")
	case r.Items.Lost > 0:
		parts = append(parts, plural(r.Items.Lost, "item", "items")+" lost")
	}
	if n := r.Items.Changed; n > 0 {
		parts = append(parts, plural(n, "item", "items")+" changed")
	}
	if n := r.Items.Resurrected; n > 0 {
		parts = append(parts, plural(n, "deleted item", "deleted items")+" came back")
	}
	if n := r.Items.Foreign; n > 0 {
		parts = append(parts, plural(n, "item", "items")+" in the wrong account")
	}
	if n := r.Items.Moved; n > 0 {
		parts = append(parts, plural(n, "item", "items")+" moved to another collection")
	}
	if n := r.Items.Duplicate; n > 0 {
		parts = append(parts, plural(n, "item", "items")+" duplicated")
	}
	if n := r.Items.Unreadable; n > 0 {
		parts = append(parts, plural(n, "item", "items")+" unreadable")
	}
	if n := r.unreadableUsers(); n > 0 {
		parts = append(parts, plural(n, "account", "accounts")+" could not be read")
	}
	return parts
}

// Outcome says what was expected and what was found, e.g. "expected intact,
// found loss-detected".
func (r *Report) Outcome() string {
	actual := r.Actual
	if actual == "" {
		actual = FoundUnknown
	}
	return fmt.Sprintf("expected %s, found %s", r.Expected, actual)
}

func (r *Report) unreadableUsers() int {
	n := 0
	for _, u := range r.UserVerdicts {
		if u.Status == StatusUnreadable {
			n++
		}
	}
	return n
}

// damagedVerdicts returns the verdicts of users that are damaged, unreadable
// or undecided, in order.
func (r *Report) damagedVerdicts() []UserVerdict {
	var out []UserVerdict
	for _, u := range r.UserVerdicts {
		if u.Status != StatusIntact && u.Status != StatusNotCovered && u.Status != StatusRewritten {
			out = append(out, u)
		}
	}
	return out
}

// countProblems counts a user's listed items by problem.
func (u UserVerdict) countProblems() map[string]int {
	m := make(map[string]int, len(Problems))
	for _, it := range u.Items {
		m[it.Problem]++
	}
	return m
}
