package accounts

import (
	"fmt"
	"testing"
)

// TestSplitActiveIsASeededChoiceOfTheShare checks that the active users are
// the profile's share, chosen by the seed, and that no user is lost or doubled.
func TestSplitActiveIsASeededChoiceOfTheShare(t *testing.T) {
	accts := make([]Account, 1000)
	for i := range accts {
		accts[i].Username = fmt.Sprintf("u%04d", i)
	}
	a1, r1 := SplitActive(accts, 10, 7)
	a2, _ := SplitActive(accts, 10, 7)
	a3, _ := SplitActive(accts, 10, 8)
	if len(a1) != 10 || len(r1) != 990 {
		t.Fatalf("split %d active, %d at rest; want 10 and 990", len(a1), len(r1))
	}
	seen := map[string]bool{}
	for _, a := range append(append([]Account{}, a1...), r1...) {
		if seen[a.Username] {
			t.Fatalf("%s twice", a.Username)
		}
		seen[a.Username] = true
	}
	if fmt.Sprint(a1) != fmt.Sprint(a2) {
		t.Errorf("the same seed chose %v and %v", a1, a2)
	}
	if fmt.Sprint(a1) == fmt.Sprint(a3) {
		t.Errorf("seeds 7 and 8 chose the same active users %v", a1)
	}
	if all, none := SplitActive(accts, 1000, 7); len(all) != 1000 || len(none) != 0 {
		t.Errorf("every user active: split %d and %d", len(all), len(none))
	}
}
