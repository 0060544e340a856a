package drill

import (
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/verify"
)

// TestAttributionSetsTheFinalDamageAgainstTheCheck checks that an item counts
// as the server's own only when the check found it damaged in the same way
// (same user, item and class), and that a cut list makes the counts partial.
func TestAttributionSetsTheFinalDamageAgainstTheCheck(t *testing.T) {
	item := func(k string) []verify.ItemDetail { return []verify.ItemDetail{{Key: k}} }
	b := &before{users: 2, items: map[damage]bool{}}
	for _, dm := range damagedItems(verify.UserResult{User: "ann", Lost: item("apps/a.json"), Changed: item("events/e.ics")}) {
		b.items[dm] = true
	}
	if len(b.items) != 2 {
		t.Fatalf("the check listed %d items, want 2", len(b.items))
	}
	a := &attribution{b: b, classes: map[string]int{}}
	a.add(verify.UserResult{User: "ann", Lost: item("apps/a.json")})       // as before
	a.add(verify.UserResult{User: "ann", Lost: item("events/e.ics")})      // changed before, lost now
	a.add(verify.UserResult{User: "bob", Lost: item("apps/a.json")})       // another user's
	a.add(verify.UserResult{User: "ann", Foreign: item("contacts/x.vcf")}) // new damage
	got := a.result()
	if got.After != 4 || got.Same != 1 || !got.Complete || got.Users != 2 || got.Before != 2 {
		t.Errorf("result %+v, want 1 of 4 the same, complete", *got)
	}
	if n := a.note(); !strings.Contains(n, "1 of the 4") || !strings.Contains(n, "1 lost") {
		t.Errorf("note %q", n)
	}
	a.add(verify.UserResult{User: "cy", Omitted: 3})
	if a.result().Complete || !strings.Contains(a.note(), "cut short") {
		t.Errorf("a cut list is called complete: %+v, %q", *a.result(), a.note())
	}
	none := &attribution{classes: map[string]int{}}
	none.add(verify.UserResult{User: "ann", Lost: item("x")})
	if none.result() != nil || none.note() != "" {
		t.Error("a run without a check attributes damage")
	}
}
