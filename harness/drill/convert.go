package drill

import (
	"time"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/verify"
)

// FillFromVerify copies the verifier's findings into a report: user and item counts,
// RPO, not-covered kinds and a verdict per user with its damaged items. The ledger
// gives the base time for acknowledgement times and the count of refused writes.
func FillFromVerify(r *report.Report, res verify.Result, l *ledger.Ledger) {
	c := res.Counts
	r.Users = report.UserCounts{Total: c.Users, Damaged: c.DamagedUsers}
	r.Items = report.ItemCounts{
		Checked: c.Items, Acked: c.Acked, NotCovered: c.NotCovered, Ambiguous: c.Ambiguous,
		Lost: c.Lost, Changed: c.Changed, Resurrected: c.Resurrected, Foreign: c.Foreign, Unreadable: c.Unreadable,
	}
	for _, rec := range l.Records() {
		if rec.Outcome == ledger.Failed {
			r.Items.Failed++
		}
	}
	r.RPO = report.RPO{LostAckedWrites: res.RPO.LostWrites, Seconds: res.RPO.AgeSeconds}
	r.NotCovered = res.NotCovered
	r.UserVerdicts = r.UserVerdicts[:0]
	for _, u := range res.Users {
		switch u.Verdict {
		case verify.Intact:
			r.Users.Intact++
			continue
		case verify.NotCovered:
			r.Users.NotCovered++
		}
		uv := report.UserVerdict{User: u.User, Status: string(u.Verdict), Reason: u.Reason, Checked: u.Items, NotCovered: u.NotCovered}
		add := func(problem string, items []verify.ItemDetail) {
			for _, it := range items {
				uv.Items = append(uv.Items, itemProblem(problem, it, l.Base))
			}
		}
		add(report.ProblemLost, u.Lost)
		add(report.ProblemChanged, u.Changed)
		add(report.ProblemResurrected, u.Resurrected)
		add(report.ProblemForeign, u.Foreign)
		add(report.ProblemUnreadable, u.Unreadable)
		r.UserVerdicts = append(r.UserVerdicts, uv)
	}
	r.SortUserVerdicts()
}

func itemProblem(problem string, it verify.ItemDetail, base time.Time) report.ItemProblem {
	p := report.ItemProblem{Key: it.Key, Problem: problem, Owner: it.Owner, OwnerKey: it.OwnerKey}
	if k, _, err := model.SplitItemKey(it.Key); err == nil {
		p.Kind = k.String()
	}
	for _, s := range it.Expected {
		p.Expected = append(p.Expected, version(s))
	}
	if it.GotDigest != nil {
		p.Got = &report.Version{Digest: it.GotDigest.String(), Size: it.GotSize}
	}
	if it.LastAcked >= 0 {
		p.AckedAt = base.Add(time.Duration(it.LastAcked))
	}
	if it.Detail != "" {
		p.Detail = append(p.Detail, it.Detail)
	}
	p.Detail = append(p.Detail, it.Diff...)
	return p
}

func version(s ledger.State) report.Version {
	if !s.Present {
		return report.Version{Absent: true}
	}
	return report.Version{Digest: s.Digest.String(), Size: int64(s.Size)}
}

// FillThroughput bins the ledger's writes by return time into the report's
// throughput samples, from the report's start.
func FillThroughput(r *report.Report, l *ledger.Ledger, width time.Duration) error {
	tp, err := report.NewThroughput(r.Started, width)
	if err != nil {
		return err
	}
	for _, rec := range l.Records() {
		at := l.Base.Add(time.Duration(rec.Return))
		switch rec.Outcome {
		case ledger.OK:
			tp.Add(at, 1, 0, 0)
		case ledger.Failed:
			tp.Add(at, 0, 1, 0)
		case ledger.Ambiguous:
			tp.Add(at, 0, 0, 1)
		}
	}
	r.Throughput = tp.Samples()
	return nil
}
