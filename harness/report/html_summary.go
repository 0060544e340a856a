package report

import "strings"

// The page's summaries by verdict class, by kind and of the canary: what a
// reader of a million-user run looks at, since users are listed only in part.

// verdictRow is one verdict class and how many users have it.
type verdictRow struct {
	Status, Meaning string
	Users           int
}

// verdictRows counts users by verdict class, every class shown.
func verdictRows(r *Report) []verdictRow {
	return []verdictRow{
		{StatusIntact, "every acknowledged write came back unchanged", r.Users.Intact},
		{StatusRewritten, "everything came back, some items rewritten by the server in ways the RFCs allow (not damage)", r.Users.Rewritten},
		{StatusDamaged, "items lost, changed, resurrected, foreign, moved, duplicated or unreadable (including accounts that could not be read)", r.Users.Damaged},
		{StatusNotCovered, "nothing wrong where checked, but writes that could not be verified", r.Users.NotCovered},
		{StatusUnknown, "could not be judged at all", r.Users.Unknown},
	}
}

// kindRow is one kind's line of the per-kind table.
type kindRow struct {
	KindSummary
	Cells []kindCell // one per problem, in Problems order
}

type kindCell struct {
	Problem string
	N       int
}

func kindRows(r *Report) []kindRow {
	var out []kindRow
	for _, k := range r.Kinds {
		row := kindRow{KindSummary: k}
		for _, p := range Problems {
			row.Cells = append(row.Cells, kindCell{Problem: p, N: k.Problem(p)})
		}
		out = append(out, row)
	}
	return out
}

// canaryView is the canary section of the page.
type canaryView struct {
	*Canary
	Line   string
	Broken bool
	Rows   []canaryRow
}

type canaryRow struct {
	CanaryPlant
	Name string // the damage for people, e.g. "changed property"
}

func newCanaryView(r *Report) *canaryView {
	if r.Canary == nil {
		return nil
	}
	v := &canaryView{Canary: r.Canary, Line: canaryLine(r.Canary), Broken: r.Canary.Missed() > 0}
	for _, p := range r.Canary.Plants {
		v.Rows = append(v.Rows, canaryRow{CanaryPlant: p, Name: strings.ReplaceAll(p.Damage, "_", " ")})
	}
	return v
}
