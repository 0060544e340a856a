package matchers_test

import (
	"strings"
	"testing"

	"github.com/onsi/gomega"

	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/verify/matchers"
)

var (
	intact = verify.Result{Status: verify.Pass, Reason: "all 2 users intact", Counts: verify.Counts{Users: 2}}
	lossy  = verify.Result{
		Status: verify.Fail, Reason: "1 of 2 users damaged",
		Counts: verify.Counts{Users: 2, DamagedUsers: 1, Lost: 1, Changed: 1},
		RPO:    verify.RPO{LostWrites: 1, AgeSeconds: 2.5},
		Users: []verify.UserResult{
			{User: "ann", Verdict: verify.Intact},
			{User: "bob", Verdict: verify.Damaged,
				Lost:    []verify.ItemDetail{{Key: "contact/b1.vcf", Detail: "missing; last acknowledged write returned at +3.000s"}},
				Changed: []verify.ItemDetail{{Key: "contact/b2.vcf", Detail: "content differs from every version written", Diff: []string{`TEL;TYPE=cell: "+1 555 0100" -> missing`}}},
			},
		},
	}
	changedOnly = verify.Result{Status: verify.Fail, Reason: "1 of 1 users damaged", Counts: verify.Counts{Users: 1, DamagedUsers: 1, Changed: 1},
		Users: []verify.UserResult{{User: "cy", Verdict: verify.Damaged, Changed: []verify.ItemDetail{{Key: "photo/IMG_0001.jpg", Detail: "content differs"}}}}}
	notRun = verify.Result{Status: verify.Unknown, Reason: "observation lacks 1 users"}
	broken = verify.Result{Status: verify.Error, Reason: "the verifier is broken", Counts: verify.Counts{Users: 2}}
)

// failures runs f with a Gomega whose failures are collected, not fatal.
func failures(f func(g gomega.Gomega)) []string {
	var msgs []string
	g := gomega.NewGomega(func(message string, _ ...int) { msgs = append(msgs, message) })
	f(g)
	return msgs
}

func TestMatchers(t *testing.T) {
	cases := []struct {
		name    string
		matcher func() gomega.OmegaMatcher
		result  any
		pass    bool
	}{
		{"intact is intact", matchers.BeIntact, intact, true},
		{"pointer works", matchers.BeIntact, &intact, true},
		{"lossy is not intact", matchers.BeIntact, lossy, false},
		{"unknown is not intact", matchers.BeIntact, notRun, false},
		{"intact lost nothing", matchers.HaveLostNoAckedWrites, intact, true},
		{"lossy lost", matchers.HaveLostNoAckedWrites, lossy, false},
		{"changed but nothing lost", matchers.HaveLostNoAckedWrites, changedOnly, true},
		{"not run proves nothing", matchers.HaveLostNoAckedWrites, notRun, false},
		{"loss detected", matchers.DetectLoss, lossy, true},
		{"intact detects nothing", matchers.DetectLoss, intact, false},
		{"unknown detects nothing", matchers.DetectLoss, notRun, false},
		{"broken is not intact", matchers.BeIntact, broken, false},
		{"broken proves no loss-free run", matchers.HaveLostNoAckedWrites, broken, false},
		{"broken detects nothing", matchers.DetectLoss, broken, false},
	}
	for _, c := range cases {
		msgs := failures(func(g gomega.Gomega) { g.Expect(c.result).To(c.matcher()) })
		if (len(msgs) == 0) != c.pass {
			t.Errorf("%s: pass = %v, want %v (%q)", c.name, len(msgs) == 0, c.pass, msgs)
		}
		neg := failures(func(g gomega.Gomega) { g.Expect(c.result).NotTo(c.matcher()) })
		if (len(neg) == 0) == c.pass {
			t.Errorf("%s: negated pass = %v", c.name, len(neg) == 0)
		}
	}
}

func TestFailureMessageNamesUsersAndItems(t *testing.T) {
	msgs := failures(func(g gomega.Gomega) { g.Expect(lossy).To(matchers.BeIntact()) })
	if len(msgs) != 1 {
		t.Fatalf("messages = %q", msgs)
	}
	for _, want := range []string{
		"Expected the verify result to be intact, but got fail: 1 of 2 users damaged",
		"bob: lost contact/b1.vcf: missing; last acknowledged write returned at +3.000s",
		`bob: changed contact/b2.vcf: content differs from every version written [TEL;TYPE=cell: "+1 555 0100" -> missing]`,
	} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("message lacks %q:\n%s", want, msgs[0])
		}
	}
	if strings.Contains(msgs[0], "ann") {
		t.Errorf("message names an intact user:\n%s", msgs[0])
	}
	msgs = failures(func(g gomega.Gomega) { g.Expect(lossy).To(matchers.HaveLostNoAckedWrites()) })
	if len(msgs) != 1 || !strings.Contains(msgs[0], "1 lost items, RPO 1 acknowledged writes (2.500s)") {
		t.Errorf("HaveLostNoAckedWrites message = %q", msgs)
	}
	msgs = failures(func(g gomega.Gomega) { g.Expect(42).To(matchers.BeIntact()) })
	if len(msgs) != 1 || !strings.Contains(msgs[0], "want a verify.Result, got int") {
		t.Errorf("wrong type message = %q", msgs)
	}
}
