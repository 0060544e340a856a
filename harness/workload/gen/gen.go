// Package gen generates a simulated user's data deterministically: contacts
// (vCard 3.0 and 4.0 with non-ASCII names in several scripts, several phones,
// e-mails and addresses, some with an inline photo), events (time zones with
// VTIMEZONE, all-day, recurrence with exceptions), to-dos (due dates, priorities,
// completion), notes (VJOURNAL with up to 64 KiB of text), photos (JPEG, sized by
// the profile) and app data (a game's high scores as JSON), plus the plan of
// creates, updates and deletes each user's devices perform.
//
// Every byte derives from (seed, user, kind, item index, version): the same inputs
// give the same bytes on every run, and any version of any item is regenerated on
// its own, without replaying a run.
package gen

import (
	"fmt"
	"math/rand/v2"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// Generator makes items and plans for one seed and profile. It is safe for
// concurrent use: it holds no mutable state.
type Generator struct {
	seed int64
	p    *profile.Profile
}

// New returns a generator for seed and p.
func New(seed int64, p *profile.Profile) *Generator { return &Generator{seed: seed, p: p} }

// Seed returns the generator's seed.
func (g *Generator) Seed() int64 { return g.seed }

// Profile returns the generator's profile.
func (g *Generator) Profile() *profile.Profile { return g.p }

// Item is one version of one generated item.
type Item struct {
	Kind        model.Kind
	Index       int    // the item's number among the user's items of its kind
	Version     int    // 0 when created, +1 per update
	Name        string // the item's name: its ItemKey is Kind/Name
	ContentType string
	Body        []byte
}

// Key returns the item's model.ItemKey.
func (it Item) Key() string { return model.ItemKey(it.Kind, it.Name) }

// ContentType returns the media type a device sends for kind.
func ContentType(k model.Kind) string {
	switch k {
	case model.KindContact:
		return "text/vcard; charset=utf-8"
	case model.KindEvent, model.KindTodo, model.KindNote:
		return "text/calendar; charset=utf-8"
	case model.KindPhoto:
		return "image/jpeg"
	case model.KindAppData:
		return "application/json"
	}
	return "application/octet-stream"
}

func (g *Generator) identity(user string, k model.Kind, index int) *rand.Rand {
	return Derive(g.seed, "item", user, k.String(), itoa(index))
}

func (g *Generator) version(user string, k model.Kind, index, version int) *rand.Rand {
	return Derive(g.seed, "version", user, k.String(), itoa(index), itoa(version))
}

// UID returns the UID a semantic item carries (the same for all its versions).
func (g *Generator) UID(user string, k model.Kind, index int) string {
	return uuid(g.identity(user, k, index))
}

// Name returns the name of a user's item: "<uid>.vcf" for contacts, "<uid>.ics"
// for calendar objects, "IMG_0001.jpg" for photos, "<game>/highscores.json" for
// app data.
func (g *Generator) Name(user string, k model.Kind, index int) string {
	switch k {
	case model.KindContact:
		return g.UID(user, k, index) + ".vcf"
	case model.KindEvent, model.KindTodo, model.KindNote:
		return g.UID(user, k, index) + ".ics"
	case model.KindPhoto:
		return fmt.Sprintf("IMG_%04d.jpg", index+1)
	case model.KindAppData:
		return g.game(user, index) + "/highscores.json"
	}
	return fmt.Sprintf("item-%d", index)
}

// game returns the user's index-th game: a per-user order of the known games.
func (g *Generator) game(user string, index int) string {
	perm := Derive(g.seed, "games", user).Perm(len(games))
	return games[perm[index%len(games)]]
}

// Item returns version of the user's index-th item of kind k.
func (g *Generator) Item(user string, k model.Kind, index, version int) Item {
	it := Item{Kind: k, Index: index, Version: version, Name: g.Name(user, k, index), ContentType: ContentType(k)}
	id := g.identity(user, k, index)
	uid := uuid(id) // first draw of id: the same UID Name uses
	v := g.version(user, k, index, version)
	switch k {
	case model.KindContact:
		it.Body = g.contact(id, v, uid, version)
	case model.KindEvent:
		it.Body = g.event(id, v, uid, version)
	case model.KindTodo:
		it.Body = g.todo(id, v, uid, version)
	case model.KindNote:
		it.Body = g.note(id, v, uid, version)
	case model.KindPhoto:
		it.Body = jpegOfSize(v, size(v, g.p.PhotoSizes))
	case model.KindAppData:
		it.Body = appData(v, g.game(user, index), user, version)
	}
	return it
}
