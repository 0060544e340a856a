package images

import "testing"

func TestNamedKnowsFiredrillsImagesByRepositoryTagOrRecipe(t *testing.T) {
	recipe := MustRef(Davical)
	for ref, want := range map[string]bool{
		"firedrill/davical":        true,
		"firedrill/davical:1.1.12": true,
		recipe:                     true,
		"firedrill/davical:custom": false,
		"firedrill/syncd:next":     false,
		"ours/davical:1.1.12":      false,
	} {
		name, ok := Named(ref)
		if ok != want || (ok && name != Davical && ref != "firedrill/syncd:next") {
			t.Errorf("Named(%q) = %q, %v; want %v", ref, name, ok, want)
		}
	}
}
