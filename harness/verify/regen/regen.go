// Package regen regenerates what a run's devices wrote, from the seed and
// profile its ledger records, so the verifier can explain a changed item
// property by property (verify.Input.Written) without the bodies ever being
// stored: the drill, `firedrill verify` and `firedrill report` all use it.
//
// It imports the data generator, not the network: a re-verification offline
// regenerates exactly the bodies the run's phones sent.
package regen

import (
	"fmt"
	"sync"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// Source gives the bodies a run's devices wrote. It is safe for concurrent use.
type Source struct {
	g *gen.Generator

	mu   sync.Mutex
	user string              // the user whose plan is cached
	ops  map[string][]gen.Op // that user's puts by item key
}

// New returns the source for a ledger's run: its seed and profile. A ledger
// whose profile this build does not know cannot be regenerated.
func New(meta ledger.Meta) (*Source, error) {
	p, err := profile.Load(meta.Profile)
	if err != nil {
		return nil, fmt.Errorf("regenerate written bodies: %w", err)
	}
	return &Source{g: gen.New(meta.Seed, p)}, nil
}

// Written returns the body the user's devices wrote to key with digest d:
// canonical text for contacts and calendar objects, bytes for photos and app
// data. It reports false when no version the plan writes has that digest
// (a write the generator did not make, or another seed or profile).
func (s *Source) Written(user, key string, d model.Digest) ([]byte, bool) {
	for _, op := range s.puts(user, key) {
		it := s.g.Item(user, op.Kind, op.Index, op.Version)
		got, err := canon.Digest(op.Kind, it.Body)
		if err != nil || got != d {
			continue
		}
		if !op.Kind.Semantic() {
			return it.Body, true
		}
		c, err := canon.Canonical(op.Kind, it.Body)
		return c, err == nil
	}
	return nil, false
}

// puts returns the user's planned puts of key, keeping the last user's plan:
// explanations come user by user.
func (s *Source) puts(user, key string) []gen.Op {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.user != user || s.ops == nil {
		s.user, s.ops = user, map[string][]gen.Op{}
		for _, op := range s.g.Plan(user).Ops {
			if op.Op == gen.Delete {
				continue
			}
			k := model.ItemKey(op.Kind, s.g.Name(user, op.Kind, op.Index))
			s.ops[k] = append(s.ops[k], op)
		}
	}
	return s.ops[key]
}
