package drill

import (
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/verify/regen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// NewVerifyInput returns the verifier's input for a run's ledger and target,
// with the bodies its phones wrote regenerated from the ledger's seed and
// profile, so a changed item is explained property by property, the kinds
// its profile plans (a planned kind never written is not covered), and
// canon.Compare to tell a server's rewrites from damage; a ledger whose
// profile this build does not know is checked without explanations.
func NewVerifyInput(l *ledger.Ledger, in VerifyInput) verify.Input {
	vi := verify.Input{Ledger: l, Mode: in.Mode, RecoveryPoint: in.RecoveryPoint, Lower: in.Lower, Upper: in.Upper}
	if src, err := regen.New(l.Meta); err == nil {
		vi.Written = src.Written
	}
	vi.Explain = explain
	if p, err := profile.Load(l.Meta.Profile); err == nil {
		for _, k := range model.Kinds {
			if p.ItemRange(k).Max > 0 {
				vi.Planned = append(vi.Planned, k)
			}
		}
	}
	return vi
}

// explain tells a server's rewrites that the RFCs allow from damage
// (canon.Compare). A written body that does not parse is the harness's
// fault, and is said as damage with the reason rather than passed.
func explain(kind model.Kind, want, got []byte) verify.Comparison {
	c := canon.Compare(kind, want, got)
	out := verify.Comparison{Rewrites: c.Rewrites, Damage: c.Damage}
	if c.Verdict == canon.Unknown && len(out.Damage) == 0 {
		out.Damage = []string{"cannot compare: " + c.Reason}
	}
	return out
}

// Saver checks users one by one as the observer hands them over and saves
// them as an observation stream, keeping bodies only for the items a person
// will read a diff of (changed or rewritten): for profile small that is the
// difference between kilobytes and 75 MB. Memory stays bounded: nothing of a
// user is kept once it is checked and written.
type Saver struct {
	c    *verify.Checker
	w    *model.ObservationWriter
	f    *os.File
	path string
}

// NewSaver starts checking against the ledger and, when path is set, saving
// the observation there (written whole or not at all: it is renamed into
// place by Close).
func NewSaver(l *ledger.Ledger, in VerifyInput, path string) (*Saver, error) {
	s := &Saver{c: verify.NewChecker(NewVerifyInput(l, in)), path: path}
	if path != "" {
		f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
		if err != nil {
			return nil, fmt.Errorf("save observation: %w", err)
		}
		s.f, s.w = f, model.NewObservationWriter(f)
	}
	return s, nil
}

// User checks one user's observation and saves it.
func (s *Saver) User(uo model.UserObservation) (verify.UserResult, error) {
	ur := s.c.User(uo)
	if s.w != nil {
		if err := s.w.Write(KeepBodiesToExplain(uo, ur)); err != nil {
			return ur, fmt.Errorf("save observation: %w", err)
		}
	}
	return ur, nil
}

// Close finishes the check and the saved stream and returns the verdict.
func (s *Saver) Close() (verify.Result, error) {
	if s.f != nil {
		err := s.w.Close()
		if cerr := s.f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(s.f.Name(), s.path)
		}
		if err != nil {
			os.Remove(s.f.Name())
			return verify.Result{}, fmt.Errorf("save observation: %w", err)
		}
		s.f = nil
	}
	return s.c.Result(), nil
}

// Abandon removes a half-written stream (a read error stopped the check).
func (s *Saver) Abandon() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
		s.f = nil
	}
}

// CheckAndSave verifies users one by one as they come and, when path is set,
// saves them as an observation stream (see Saver). A read error stops it.
func CheckAndSave(l *ledger.Ledger, users iter.Seq2[model.UserObservation, error], in VerifyInput, path string) (verify.Result, error) {
	return checkEach(l, users, in, path, func(verify.UserResult) {})
}

// checkEach is CheckAndSave, telling each with every user's result.
func checkEach(l *ledger.Ledger, users iter.Seq2[model.UserObservation, error], in VerifyInput, path string, each func(verify.UserResult)) (verify.Result, error) {
	s, err := NewSaver(l, in, path)
	if err != nil {
		return verify.Result{}, err
	}
	for uo, err := range users {
		if err == nil {
			var ur verify.UserResult
			ur, err = s.User(uo)
			each(ur)
		}
		if err != nil {
			s.Abandon()
			return verify.Result{}, fmt.Errorf("check observation: %w", err)
		}
	}
	return s.Close()
}

// CheckSaved re-verifies the observation saved at path, user by user.
func CheckSaved(l *ledger.Ledger, path string, in VerifyInput) (verify.Result, error) {
	return checkSavedEach(l, path, in, func(verify.UserResult) {})
}

func checkSavedEach(l *ledger.Ledger, path string, in VerifyInput, each func(verify.UserResult)) (verify.Result, error) {
	fh, err := os.Open(path)
	if err != nil {
		return verify.Result{}, fmt.Errorf("load observation (a run that ended before verification has none): %w", err)
	}
	defer fh.Close()
	return checkEach(l, model.NewObservationReader(fh).All(), in, "", each)
}

// Users yields an observation held in memory, for CheckAndSave.
func Users(obs *model.Observation) iter.Seq2[model.UserObservation, error] {
	return func(yield func(model.UserObservation, error) bool) {
		for _, uo := range obs.Users {
			if !yield(uo, nil) {
				return
			}
		}
	}
}

// KeepBodiesToExplain returns a copy of a user's observation without the
// bodies of items the verifier found nothing to explain in.
func KeepBodiesToExplain(uo model.UserObservation, ur verify.UserResult) model.UserObservation {
	keep := map[string]bool{}
	for _, d := range slices.Concat(ur.Changed, ur.Rewritten) {
		keep[d.Key] = true
	}
	uo.Items = slices.Clone(uo.Items)
	for i := range uo.Items {
		if !keep[uo.Items[i].Key] {
			uo.Items[i].Body = nil
		}
	}
	return uo
}

// FillFromVerify copies the verifier's findings into a report: user and item
// counts by class, RPO, coverage by kind, the canary, notes, and a verdict per
// listed user with its damaged items. The ledger gives the base time for
// acknowledgement times and the count of refused writes.
func FillFromVerify(r *report.Report, res verify.Result, l *ledger.Ledger) {
	c := res.Counts
	r.Users = report.UserCounts{Total: c.Users, Intact: c.IntactUsers, Damaged: c.DamagedUsers, NotCovered: c.NotCoveredUsers,
		Rewritten: c.RewrittenUsers, Unknown: c.UnknownUsers}
	r.Items = report.ItemCounts{
		Checked: c.Items, Acked: c.Acked, NotCovered: c.NotCovered, Ambiguous: c.Ambiguous,
		Lost: c.Lost, Changed: c.Changed, Resurrected: c.Resurrected, Foreign: c.Foreign,
		Moved: c.Moved, Duplicate: c.Duplicate, Unreadable: c.Unreadable, Rewritten: c.Rewritten,
	}
	for _, rec := range l.Records() {
		if rec.Outcome == ledger.Failed {
			r.Items.Failed++
		}
	}
	r.RPO = report.RPO{LostAckedWrites: res.RPO.LostWrites, Seconds: res.RPO.AgeSeconds}
	r.NotCovered = res.NotCovered
	r.Notes = res.Notes
	r.Kinds = nil
	for _, k := range res.Kinds {
		r.Kinds = append(r.Kinds, report.KindSummary(k))
	}
	r.Canary = nil
	if k := res.Canary; k != nil {
		r.Canary = &report.Canary{Planted: k.Planted, Caught: k.Caught}
		for _, p := range k.Plants {
			r.Canary.Plants = append(r.Canary.Plants, report.CanaryPlant(p))
		}
	}
	r.IntactSample = res.IntactSample
	r.MoreUserVerdicts = res.MoreUsers
	r.UserVerdicts = r.UserVerdicts[:0]
	for _, u := range res.Users {
		if u.Verdict == verify.Intact {
			continue
		}
		uv := report.UserVerdict{User: u.User, Status: string(u.Verdict), Reason: u.Reason, Checked: u.Items, NotCovered: u.NotCovered, MoreItems: u.Omitted}
		add := func(problem string, items []verify.ItemDetail) {
			for _, it := range items {
				uv.Items = append(uv.Items, itemProblem(problem, it, l.Base))
			}
		}
		add(report.ProblemLost, u.Lost)
		add(report.ProblemChanged, u.Changed)
		add(report.ProblemResurrected, u.Resurrected)
		add(report.ProblemForeign, u.Foreign)
		add(report.ProblemMoved, u.Moved)
		add(report.ProblemDuplicate, u.Duplicate)
		add(report.ProblemUnreadable, u.Unreadable)
		add(report.ProblemRewritten, u.Rewritten)
		r.UserVerdicts = append(r.UserVerdicts, uv)
	}
	r.SortUserVerdicts()
}

func itemProblem(problem string, it verify.ItemDetail, base time.Time) report.ItemProblem {
	p := report.ItemProblem{Key: it.Key, Problem: problem, Owner: it.Owner, OwnerKey: it.OwnerKey,
		WantCollection: it.WantCollection, GotCollections: it.GotCollections}
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
	for _, rw := range it.Rewrites {
		p.Detail = append(p.Detail, "rewrite: "+rw)
	}
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
