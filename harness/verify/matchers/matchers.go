// Package matchers holds Gomega matchers for verify.Result, so scenario specs
// read as what they rehearse:
//
//	Expect(result).To(matchers.BeIntact())
//	Expect(result).To(matchers.HaveLostNoAckedWrites())
//	Expect(result).To(matchers.DetectLoss())
//
// Failure messages name the first users and items that differ and how.
package matchers

import (
	"fmt"

	"github.com/onsi/gomega/types"

	"github.com/firedrill/firedrill/harness/verify"
)

// How much of a result a failure message shows.
const (
	maxUsers = 5
	maxItems = 5
)

// BeIntact succeeds when the result's status is pass: every user intact (or
// only rewritten by the server in ways the RFCs allow), every kind covered,
// the canary caught.
func BeIntact() types.GomegaMatcher {
	return &resultMatcher{
		name: "be intact",
		test: func(r *verify.Result) (bool, string) {
			return r.Status == verify.Pass, ""
		},
	}
}

// HaveLostNoAckedWrites succeeds when no acknowledged write was lost: no
// lost items and an RPO of zero writes (no rollback to an older version, no
// delete undone). Changed, foreign or unreadable items do not count against
// it; a check that could not run (unknown before any user was checked) and a
// broken verifier (error) do.
func HaveLostNoAckedWrites() types.GomegaMatcher {
	return &resultMatcher{
		name: "have lost no acknowledged writes",
		test: func(r *verify.Result) (bool, string) {
			if r.Status == verify.Unknown && r.Counts.Users == 0 {
				return false, "the check did not run"
			}
			if r.Status == verify.Error {
				return false, "the verifier is broken (its canary was not caught): its counts prove nothing"
			}
			if r.Counts.Lost > 0 || r.RPO.LostWrites > 0 {
				return false, fmt.Sprintf("%d lost items, RPO %d acknowledged writes (%.3fs)", r.Counts.Lost, r.RPO.LostWrites, r.RPO.AgeSeconds)
			}
			return true, ""
		},
	}
}

// DetectLoss succeeds when the result reports at least one damaged user: for
// scenarios that plant damage and expect the verifier to see it.
func DetectLoss() types.GomegaMatcher {
	return &resultMatcher{
		name: "detect damage in at least one user",
		test: func(r *verify.Result) (bool, string) {
			return r.Status == verify.Fail && r.Counts.DamagedUsers > 0, ""
		},
	}
}

// resultMatcher is a matcher over a verify.Result or *verify.Result.
type resultMatcher struct {
	name string
	test func(*verify.Result) (bool, string)
	why  string
}

// Match implements types.GomegaMatcher.
func (m *resultMatcher) Match(actual any) (bool, error) {
	r, err := asResult(actual)
	if err != nil {
		return false, err
	}
	ok, why := m.test(r)
	m.why = why
	return ok, nil
}

// FailureMessage names the first users and items that differ.
func (m *resultMatcher) FailureMessage(actual any) string {
	return m.message(actual, "Expected the verify result to "+m.name)
}

// NegatedFailureMessage is FailureMessage for Not().
func (m *resultMatcher) NegatedFailureMessage(actual any) string {
	return m.message(actual, "Expected the verify result not to "+m.name)
}

func (m *resultMatcher) message(actual any, head string) string {
	r, err := asResult(actual)
	if err != nil {
		return head + ", but " + err.Error()
	}
	msg := head + ", but got " + r.Summary(maxUsers, maxItems)
	if m.why != "" {
		msg += "\n(" + m.why + ")"
	}
	return msg
}

// asResult accepts a verify.Result or a non-nil *verify.Result.
func asResult(actual any) (*verify.Result, error) {
	switch r := actual.(type) {
	case verify.Result:
		return &r, nil
	case *verify.Result:
		if r == nil {
			return nil, fmt.Errorf("verify matchers: got a nil *verify.Result")
		}
		return r, nil
	}
	return nil, fmt.Errorf("verify matchers: want a verify.Result, got %T", actual)
}
