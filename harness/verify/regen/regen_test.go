package regen

import (
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

func TestWrittenRegeneratesEveryPlannedVersion(t *testing.T) {
	s, err := New(ledger.Meta{Seed: 42, Profile: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := profile.Load("tiny")
	g := gen.New(42, p)
	checked := 0
	for _, user := range []string{"user0001", "user0002"} {
		for _, op := range g.Plan(user).Ops {
			if op.Op == gen.Delete {
				continue
			}
			it := g.Item(user, op.Kind, op.Index, op.Version)
			d, err := canon.Digest(op.Kind, it.Body)
			if err != nil {
				t.Fatal(err)
			}
			body, ok := s.Written(user, it.Key(), d)
			if !ok {
				t.Fatalf("%s %s v%d: not regenerated", user, it.Key(), op.Version)
			}
			if got, _ := canon.Digest(op.Kind, body); got != d {
				t.Fatalf("%s %s: regenerated body has digest %s, want %s", user, it.Key(), got, d)
			}
			if c, err := canon.Canonical(op.Kind, it.Body); op.Kind.Semantic() && (err != nil || string(c) != string(body)) {
				t.Errorf("%s: want the canonical text", it.Key())
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d versions", checked)
	}
	if _, ok := s.Written("user0001", "contact/nobody.vcf", model.Digest{1}); ok {
		t.Error("an item the plan never wrote was regenerated")
	}
	it := g.Item("user0001", model.KindPhoto, 0, 0)
	if _, ok := s.Written("user0001", it.Key(), model.Digest{1}); ok {
		t.Error("a digest no version has was regenerated")
	}
	d, _ := canon.Digest(model.KindPhoto, it.Body)
	if _, ok := s.Written("user0001", it.Key(), d); !ok {
		t.Fatal("user0001's photo was not regenerated")
	}
	if _, ok := s.Written("user0002", it.Key(), d); ok {
		t.Error("another user's version was regenerated")
	}
}

func TestNewNeedsAKnownProfile(t *testing.T) {
	if _, err := New(ledger.Meta{Seed: 1, Profile: "nope"}); err == nil || !strings.Contains(err.Error(), `profile "nope"`) {
		t.Errorf("err = %v", err)
	}
}
