package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// The damage the canary plants, one instance of each.
const (
	PlantLost            = "lost"             // an acknowledged item removed
	PlantChangedProperty = "changed_property" // one property of a contact or calendar item changed
	PlantChangedByte     = "changed_byte"     // one byte of a photo or app data file flipped
	PlantResurrected     = "resurrected"      // a deleted item brought back
	PlantForeign         = "foreign"          // another user's item added
	PlantMoved           = "moved"            // an item moved to another collection of its user
	PlantDuplicate       = "duplicate"        // an item copied into a second collection
)

// canaryDamage lists what the canary plants, in report order, with the class
// the checker must report for it.
var canaryDamage = []struct{ damage, class, need string }{
	{PlantLost, ClassLost, "no user had a present acknowledged item to remove"},
	{PlantChangedProperty, ClassChanged, "no user had a contact or calendar item whose body was at hand (observe with bodies, or give Input.Written)"},
	{PlantChangedByte, ClassChanged, "no user had a present item"},
	{PlantResurrected, ClassResurrected, "no user had an item deleted with acknowledgement"},
	{PlantForeign, ClassForeign, "no user was checked"},
	{PlantMoved, ClassMoved, "no user had a present item"},
	{PlantDuplicate, ClassDuplicate, "no user had a present item"},
}

// CanaryResult says whether the checker caught the damage planted into
// copies of some users' observations before the run was judged. A planted
// instance the checker did not report, in the right user and item and class,
// means the verifier is broken: the run's status is then error.
type CanaryResult struct {
	Planted int           `json:"planted"`
	Caught  int           `json:"caught"`
	Plants  []CanaryPlant `json:"plants"`
}

// CanaryPlant is one instance of planted damage.
type CanaryPlant struct {
	Damage string `json:"damage"` // e.g. "changed_property"
	Class  string `json:"class"`  // what the checker must report: lost, changed, ...
	User   string `json:"user,omitempty"`
	Key    string `json:"key,omitempty"`
	// Planted is false when no user offered what this damage needs (Detail
	// says what); Caught says whether the checker reported it.
	Planted bool   `json:"planted"`
	Caught  bool   `json:"caught"`
	Detail  string `json:"detail"`
}

// Missed returns how many planted instances the checker did not catch.
func (r *CanaryResult) Missed() int { return r.Planted - r.Caught }

func (r *CanaryResult) missedLine() string {
	var out []string
	for _, p := range r.Plants {
		if p.Planted && !p.Caught {
			out = append(out, fmt.Sprintf("canary %s planted in %s (%s) was not caught: %s", p.Damage, p.User, p.Key, p.Detail))
		}
	}
	return strings.Join(out, "; ")
}

// canary plants damage into copies of the first users the checker sees that
// offer what each kind of damage needs, and checks each copy like a real
// user, without counting it.
type canary struct {
	c      *Checker
	plants []CanaryPlant
	left   int
	ideals int // users rebuilt from the ledger to plant into
}

func newCanary(c *Checker) *canary {
	k := &canary{c: c, left: len(canaryDamage)}
	for _, d := range canaryDamage {
		need := d.need
		switch {
		case c.in.Baseline != nil && d.damage == PlantResurrected:
			need = "a snapshot records no deletes, so nothing can come back against it"
		case c.in.Baseline != nil && d.damage == PlantForeign:
			need = "the snapshot holds no other user with an item to take"
		}
		k.plants = append(k.plants, CanaryPlant{Damage: d.damage, Class: d.class, Detail: "not planted: " + need})
	}
	return k
}

// planting is one planted copy of a user's observation.
type planting struct {
	uo      model.UserObservation
	key     string
	overlay map[string]string // recorded collections the plant pretends
	owner   string            // for a foreign plant: whose item it is
	what    string
	diffOf  string // for a changed property: the property
}

// maxIdeal bounds how many users the canary rebuilds from the ledger when
// their observations offer nothing to plant into.
const maxIdeal = 16

// consider plants what is still pending into copies of a user just checked.
// What the observation cannot take (in a run that lost everything, nothing
// is present to change or move) is planted into the user's state as the
// ledger says it should be, so the checker is proven on every kind of
// damage even then.
func (k *canary) consider(uc *userCheck) {
	if k.left == 0 || uc.ur.Verdict == Undecided || uc.uo.Unreadable != "" || uc.mixedCut {
		return
	}
	k.plantAll(uc, "")
	if k.left > 0 && k.ideals < maxIdeal && len(uc.uh.Items) > 0 {
		k.ideals++
		if ideal := k.c.checkUser(uc.self, k.expected(uc), uc.uh, nil); ideal.ur.Verdict == Intact || ideal.ur.Verdict == Rewritten {
			k.plantAll(ideal, " (planted into the state the ledger expects for the user: its observation had nothing to plant into)")
		}
	}
}

// plantAll plants every pending damage the user's passed items allow.
func (k *canary) plantAll(uc *userCheck, note string) {
	for i := range k.plants {
		p := &k.plants[i]
		if p.Planted {
			continue
		}
		pl, ok := k.plant(p.Damage, uc)
		if !ok {
			continue
		}
		cp := k.c.checkUser(uc.self, &pl.uo, uc.uh, pl.overlay)
		p.Planted, p.User, p.Key = true, uc.uo.User, pl.key
		p.Caught, p.Detail = k.judge(uc.ur, cp.ur, p.Class, pl)
		p.Detail += note
		k.left--
	}
}

// expected builds a user's observation as the ledger says it should be: each
// item at its last acknowledged version, in its recorded collection.
func (k *canary) expected(uc *userCheck) *model.UserObservation {
	uo := &model.UserObservation{User: uc.uo.User}
	for i := range uc.uh.Items {
		h := &uc.uh.Items[i]
		w, ok := h.LastAcked(k.c.r)
		if !ok || w.Op != ledger.OpPut || !acceptable(k.c.possible(h), w.State()) {
			continue
		}
		uo.Items = append(uo.Items, model.ObservedItem{Key: h.Key, Digest: w.Digest, Size: int64(w.Size), Collection: uc.recordedItem(h)})
	}
	return uo
}

// findings maps each item a user result names to its class.
func findings(ur UserResult) map[string]string {
	m := map[string]string{}
	for _, l := range ur.lists() {
		for _, d := range *l.items {
			m[d.Key] = l.class
		}
	}
	return m
}

// judge says whether a checked copy reports the planted damage, and nothing
// else that the real user did not have.
func (k *canary) judge(real, copied UserResult, class string, pl planting) (bool, string) {
	got := findings(copied)
	want := findings(real)
	want[pl.key] = class
	gotClass, found := got[pl.key]
	switch {
	case !found:
		return false, pl.what + "; the checker reported nothing for it"
	case gotClass != class:
		return false, fmt.Sprintf("%s; the checker reported it as %s, want %s", pl.what, gotClass, class)
	case !maps.Equal(want, got):
		return false, fmt.Sprintf("%s; the checker reported it, but its other findings for the user changed (%d, want %d)", pl.what, len(got), len(want))
	}
	d := detailOf(copied, class, pl.key)
	if pl.owner != "" && d.Owner == "" {
		return false, fmt.Sprintf("%s; the checker reported it as foreign without naming %s, who wrote it", pl.what, pl.owner)
	}
	if pl.diffOf != "" &&
		!slices.ContainsFunc(d.Diff, func(l string) bool { return strings.Contains(l, pl.diffOf) }) {
		return false, fmt.Sprintf("%s; the checker reported it as changed, but its diff %q does not name %s", pl.what, d.Diff, pl.diffOf)
	}
	return true, pl.what + "; caught: " + d.Detail
}

func detailOf(ur UserResult, class, key string) ItemDetail {
	for _, d := range *ur.list(class) {
		if d.Key == key {
			return d
		}
	}
	return ItemDetail{}
}

// copyObs returns a copy of a user's observation whose items can be edited.
func copyObs(uo *model.UserObservation) model.UserObservation {
	c := *uo
	c.Items = slices.Clone(uo.Items)
	return c
}

// indexOf returns the position of an observed item in its user's list.
func indexOf(uo *model.UserObservation, o *model.ObservedItem) int {
	for i := range uo.Items {
		if &uo.Items[i] == o {
			return i
		}
	}
	return -1
}

// plant makes a copy of the user's observation with one kind of damage, from
// the items the real check passed.
func (k *canary) plant(damage string, uc *userCheck) (planting, bool) {
	present := func(p passedItem) bool { return p.o != nil && uc.uncovered[p.h.Kind] == "" }
	switch damage {
	case PlantLost:
		for _, p := range uc.passed {
			if present(p) && !acceptable(p.poss, ledger.Absent) {
				pl := planting{uo: copyObs(uc.uo), key: p.h.Key, what: "removed " + p.h.Key}
				pl.uo.Items = slices.Delete(pl.uo.Items, indexOf(uc.uo, p.o), indexOf(uc.uo, p.o)+1)
				return pl, true
			}
		}
	case PlantChangedProperty:
		for _, p := range uc.passed {
			if present(p) && p.h.Kind.Semantic() {
				if pl, ok := k.changeProperty(uc, p); ok {
					return pl, true
				}
			}
		}
	case PlantChangedByte:
		for _, binary := range []bool{true, false} {
			for _, p := range uc.passed {
				if present(p) && p.h.Kind.Semantic() != binary {
					return k.changeByte(uc, p), true
				}
			}
		}
	case PlantResurrected:
		for _, p := range uc.passed {
			if p.o != nil || anyPresent(p.poss) {
				continue
			}
			if _, ok := lastAckedDelete(p.h, k.c.r); !ok {
				continue
			}
			if w, ok := lastPut(p.h); ok {
				pl := planting{uo: copyObs(uc.uo), key: p.h.Key, what: "brought back deleted " + p.h.Key}
				pl.uo.Items = append(pl.uo.Items, model.ObservedItem{Key: p.h.Key, Digest: w.Digest, Size: int64(w.Size), Collection: collectionFor(uc, p.h.Kind, p.h.Key)})
				return pl, true
			}
		}
	case PlantForeign:
		return k.foreign(uc)
	case PlantMoved:
		for _, p := range uc.passed {
			if present(p) {
				pl := planting{uo: copyObs(uc.uo), key: p.h.Key, overlay: map[string]string{}}
				home := homeOf(p)
				pl.overlay[p.h.Key] = home
				it := &pl.uo.Items[indexOf(uc.uo, p.o)]
				it.Collection = siblingCollection(home)
				pl.what = fmt.Sprintf("moved %s from %s to %s", p.h.Key, home, it.Collection)
				return pl, true
			}
		}
	case PlantDuplicate:
		for _, p := range uc.passed {
			if present(p) {
				pl := planting{uo: copyObs(uc.uo), key: p.h.Key, overlay: map[string]string{}}
				home := homeOf(p)
				it := &pl.uo.Items[indexOf(uc.uo, p.o)]
				if it.Collection == "" {
					it.Collection = home
					pl.overlay[p.h.Key] = home
				}
				dup := *it
				dup.Collection = siblingCollection(home)
				pl.uo.Items = append(pl.uo.Items, dup)
				pl.what = fmt.Sprintf("copied %s from %s into %s", p.h.Key, home, dup.Collection)
				return pl, true
			}
		}
	}
	return planting{}, false
}

// homeOf is the collection an item was found in, or a made-up one when the
// observer recorded none.
func homeOf(p passedItem) string {
	if p.o.Collection != "" {
		return p.o.Collection
	}
	return "/firedrill-canary/" + p.h.Kind.String() + "/"
}

// collectionFor picks the collection an item of a kind would be in: the
// recorded one, else where the user's other items of the kind are.
func collectionFor(uc *userCheck, k model.Kind, key string) string {
	if c := uc.recorded(key); c != "" {
		return c
	}
	for _, it := range uc.uo.Items {
		if kind, _, err := model.SplitItemKey(it.Key); err == nil && kind == k && it.Collection != "" {
			return it.Collection
		}
	}
	return ""
}

// lastPut returns the item's last put that did not fail.
func lastPut(h *ledger.ItemHistory) (ledger.Write, bool) {
	var last ledger.Write
	found := false
	for _, w := range h.Writes {
		if w.Op == ledger.OpPut && w.Outcome != ledger.Failed && (!found || w.Return > last.Return) {
			last, found = w, true
		}
	}
	return last, found
}

// canaryProps are the properties a changed-property plant prefers: ones a
// server never has the right to rewrite.
var canaryProps = []string{"FN", "SUMMARY", "DESCRIPTION", "NOTE", "EMAIL", "TEL", "LOCATION"}

// changeProperty appends to the value of one property of the item's body.
func (k *canary) changeProperty(uc *userCheck, p passedItem) (planting, bool) {
	body, ok := uc.gotBody(p.o)
	if !ok {
		body, ok = uc.wantBody(p.h, p.o.Digest)
	}
	if !ok {
		return planting{}, false
	}
	text, err := canon.Canonical(p.h.Kind, body)
	if err != nil {
		return planting{}, false
	}
	lines := strings.Split(string(text), "\n")
	at, name := -1, ""
	for _, want := range canaryProps {
		for i, l := range lines {
			if n, _, _ := strings.Cut(strings.SplitN(l, ";", 2)[0], ":"); n == want {
				at, name = i, want
				break
			}
		}
		if at >= 0 {
			break
		}
	}
	if at < 0 {
		return planting{}, false
	}
	lines[at] += " (firedrill canary)"
	changed := []byte(strings.Join(lines, "\n"))
	d, err := canon.Digest(p.h.Kind, changed)
	if err != nil || d == p.o.Digest {
		return planting{}, false
	}
	pl := planting{uo: copyObs(uc.uo), key: p.h.Key, what: fmt.Sprintf("changed %s of %s", name, p.h.Key)}
	if _, ok := uc.wantBody(p.h, p.o.Digest); ok {
		pl.diffOf = name // the acknowledged version is at hand: the diff must name the property
	}
	it := &pl.uo.Items[indexOf(uc.uo, p.o)]
	it.Digest, it.Body, it.Size = d, changed, it.Size+int64(len(" (firedrill canary)"))
	return pl, true
}

// changeByte flips one byte of the item's body when it is at hand, else one
// bit of its digest (as a bit flip in a body nobody kept would).
func (k *canary) changeByte(uc *userCheck, p passedItem) planting {
	pl := planting{uo: copyObs(uc.uo), key: p.h.Key}
	it := &pl.uo.Items[indexOf(uc.uo, p.o)]
	if body, ok := uc.wantBody(p.h, p.o.Digest); ok && !p.h.Kind.Semantic() && len(body) > 0 {
		flipped := slices.Clone(body)
		flipped[len(flipped)/2] ^= 0x01
		if d, err := canon.Digest(p.h.Kind, flipped); err == nil {
			it.Digest, it.Body = d, nil
			pl.what = fmt.Sprintf("flipped byte %d of %s", len(flipped)/2, p.h.Key)
			return pl
		}
	}
	it.Digest[len(it.Digest)-1] ^= 0x01
	it.Body = nil
	pl.what = "flipped a bit of the digest of " + p.h.Key
	return pl
}

// foreign adds to the user's copy an item another user wrote (one of the
// next users in the ledger with an acknowledged item whose key this user
// never wrote), or, with no such user, an item nobody wrote.
func (k *canary) foreign(uc *userCheck) (planting, bool) {
	pl := planting{uo: copyObs(uc.uo)}
	observed := map[string]bool{}
	for _, it := range uc.uo.Items {
		observed[it.Key] = true
	}
	x := k.c.idx
	n := x.users()
	for step, tried := 1, 0; step < n && tried < 8; step++ {
		other := (uc.self + uint32(step)) % uint32(n)
		if !x.hasWrites(other) {
			continue
		}
		tried++
		ou := x.user(other)
		for i := range ou.Items {
			h := &ou.Items[i]
			w, ok := h.LastAcked(k.c.r)
			if !ok || w.Op != ledger.OpPut || uc.uh.Find(h.Key) != nil || observed[h.Key] {
				continue
			}
			pl.key, pl.owner = h.Key, ou.Name
			pl.uo.Items = append(pl.uo.Items, model.ObservedItem{Key: h.Key, Digest: w.Digest, Size: int64(w.Size), Collection: collectionFor(uc, h.Kind, "")})
			pl.what = fmt.Sprintf("added %s's %s", ou.Name, h.Key)
			return pl, true
		}
	}
	if k.c.in.Baseline != nil {
		return pl, false // against a snapshot, an item nobody held is new, not foreign
	}
	sum := sha256.Sum256([]byte("firedrill canary " + uc.uo.User))
	pl.key = model.ItemKey(model.KindAppData, "firedrill-canary/"+hex.EncodeToString(sum[:6])+".json")
	var d model.Digest
	copy(d[:], sum[8:])
	pl.uo.Items = append(pl.uo.Items, model.ObservedItem{Key: pl.key, Digest: d, Size: 42})
	pl.what = "added " + pl.key + ", which nobody wrote"
	return pl, true
}

// result returns the canary's outcome.
func (k *canary) result() *CanaryResult {
	if k == nil {
		return nil
	}
	r := &CanaryResult{Plants: slices.Clone(k.plants)}
	for _, p := range r.Plants {
		if p.Planted {
			r.Planted++
			if p.Caught {
				r.Caught++
			}
		}
	}
	return r
}

// notes names the damage the canary could not plant.
func (k *canary) notes() []string {
	if k == nil {
		return nil
	}
	var out []string
	for _, p := range k.plants {
		if !p.Planted {
			out = append(out, "canary: "+p.Damage+" "+p.Detail)
		}
	}
	return out
}
