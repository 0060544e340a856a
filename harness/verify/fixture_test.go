package verify

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// fixture records writes through a real ledger.Writer and keeps what an
// intact server would hold, so tests can plant damage in a copy of it.
type fixture struct {
	t      *testing.T
	w      *ledger.Writer
	path   string
	clock  int64
	bodies map[model.Digest][]byte
	server map[string]map[string][]byte // user -> key -> body
	// written keeps every body put, by user and key, in order.
	written map[string][][]byte
	users   []string
	// collections, when set, makes observe record each item's collection
	// and collectionOf serve Input.Collection.
	collections bool
}

// collectionOf is the collection a user's item is written to:
// /dav/<user>/<kind>s/.
func (f *fixture) collectionOf(user, key string) string {
	kind, _, err := model.SplitItemKey(key)
	if err != nil {
		return ""
	}
	return "/dav/" + user + "/" + kind.String() + "s/"
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.fdl")
	w, err := ledger.Create(path, time.Now(), ledger.Meta{Seed: 7, Profile: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return &fixture{t: t, w: w, path: path, clock: int64(time.Second), bodies: map[model.Digest][]byte{}, server: map[string]map[string][]byte{}, written: map[string][][]byte{}}
}

// applied says whether a write reaches the server.
type applied bool

// put records a write of body to user's key with the given outcome, taking
// 5 ms from a clock that advances 10 ms per write; apply says whether the
// server kept it (it must for OK, must not for Failed).
func (f *fixture) put(user, key string, body []byte, o ledger.Outcome, apply applied) {
	f.t.Helper()
	kind, _, err := model.SplitItemKey(key)
	if err != nil {
		f.t.Fatal(err)
	}
	d, err := canon.Digest(kind, body)
	if err != nil {
		f.t.Fatalf("digest %s: %v", key, err)
	}
	if c, err := canon.Canonical(kind, body); err == nil {
		f.bodies[d] = c
	}
	f.record(user, key, ledger.Record{Kind: kind, Op: ledger.OpPut, Outcome: o, Digest: d, Size: uint32(len(body))})
	f.written[user+" "+key] = append(f.written[user+" "+key], body)
	if apply {
		f.server[user][key] = body
	}
}

// del records a delete.
func (f *fixture) del(user, key string, o ledger.Outcome, apply applied) {
	f.t.Helper()
	kind, _, _ := model.SplitItemKey(key)
	f.record(user, key, ledger.Record{Kind: kind, Op: ledger.OpDelete, Outcome: o})
	if apply {
		delete(f.server[user], key)
	}
}

func (f *fixture) record(user, key string, r ledger.Record) {
	f.t.Helper()
	if f.server[user] == nil {
		f.server[user] = map[string][]byte{}
		f.users = append(f.users, user)
	}
	r.User = f.w.User(user)
	r.Item = f.w.Item(r.User, key, "")
	r.Call, r.Return = f.clock, f.clock+int64(5*time.Millisecond)
	f.clock += int64(10 * time.Millisecond)
	if err := f.w.Append(r); err != nil {
		f.t.Fatal(err)
	}
}

// now returns the fixture's clock: after every write so far.
func (f *fixture) now() int64 { return f.clock }

// load syncs the ledger and loads it back.
func (f *fixture) load() *ledger.Ledger {
	f.t.Helper()
	if err := f.w.Sync(); err != nil {
		f.t.Fatal(err)
	}
	l, err := ledger.Load(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

// observe returns what an observer would read from the intact server,
// computing digests the way the observer does.
func (f *fixture) observe() model.Observation {
	var obs model.Observation
	for _, u := range f.users {
		uo := model.UserObservation{User: u, Items: []model.ObservedItem{}}
		for key, body := range f.server[u] {
			it := observeItem(key, body)
			if f.collections {
				it.Collection = f.collectionOf(u, key)
			}
			uo.Items = append(uo.Items, it)
		}
		slices.SortFunc(uo.Items, func(a, b model.ObservedItem) int { return strings.Compare(a.Key, b.Key) })
		obs.Users = append(obs.Users, uo)
	}
	return obs
}

// observeItem is what an observer makes of one served body: its digest, or
// why it is unreadable.
func observeItem(key string, body []byte) model.ObservedItem {
	kind, _, _ := model.SplitItemKey(key)
	it := model.ObservedItem{Key: key, Size: int64(len(body))}
	d, err := canon.Digest(kind, body)
	if err != nil {
		it.Unreadable = err.Error()
		return it
	}
	it.Digest = d
	if kind.Semantic() {
		it.Body, _ = canon.Canonical(kind, body)
	}
	return it
}

// bodyOf serves Input.Bodies.
func (f *fixture) bodyOf(d model.Digest) ([]byte, bool) {
	b, ok := f.bodies[d]
	return b, ok
}

// userObs returns a user's observation for editing.
func userObs(obs *model.Observation, user string) *model.UserObservation {
	for i := range obs.Users {
		if obs.Users[i].User == user {
			return &obs.Users[i]
		}
	}
	panic("no user " + user)
}

// itemObs returns an observed item for editing.
func itemObs(uo *model.UserObservation, key string) *model.ObservedItem {
	for i := range uo.Items {
		if uo.Items[i].Key == key {
			return &uo.Items[i]
		}
	}
	panic("no item " + key)
}

// removeItem drops an item from a user's observation and returns it.
func removeItem(uo *model.UserObservation, key string) model.ObservedItem {
	for i, it := range uo.Items {
		if it.Key == key {
			uo.Items = slices.Delete(uo.Items, i, i+1)
			return it
		}
	}
	panic("no item " + key)
}

// cloneObs deep-copies an observation.
func cloneObs(o model.Observation) model.Observation {
	var c model.Observation
	for _, u := range o.Users {
		u.Items = slices.Clone(u.Items)
		u.NotCovered = slices.Clone(u.NotCovered)
		c.Users = append(c.Users, u)
	}
	return c
}

// Realistic bodies.

func vcardBody(uid, fn, tel string) []byte {
	return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//firedrill//test//EN\r\nUID:" + uid + "\r\nFN:" + fn +
		"\r\nN:" + fn + ";;;;\r\nTEL;TYPE=CELL:" + tel + "\r\nEMAIL;TYPE=HOME:" + strings.ToLower(strings.Fields(fn)[0]) + "@example.org\r\nEND:VCARD\r\n")
}

func eventBody(uid, summary, start string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//firedrill//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20240301T090000Z\r\nDTSTART;TZID=Europe/Berlin:" + start + "\r\nSUMMARY:" + summary + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
}

func photoBody(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return append([]byte("\xff\xd8\xff\xe0"), b...)
}

func uuidFor(user string, i int) string {
	h := fnv.New64a()
	h.Write([]byte(user))
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", h.Sum64()>>32, uint64(i)*104729+h.Sum64()&0xffff)
}

// version returns the n-th body written to a user's key.
func (f *fixture) version(user, key string, n int) []byte { return f.written[user+" "+key][n] }

// observeStored is observeItem, also keeping the body in the fixture's body
// store, as an observer that saves what it fetched would.
func (f *fixture) observeStored(key string, body []byte) model.ObservedItem {
	it := observeItem(key, body)
	if it.Unreadable == "" {
		f.bodies[it.Digest] = body
	}
	return it
}

// standard builds a ledger for `users` users, each with contacts, events, a
// photo and app data, some updated and some deleted, all acknowledged.
func standard(t *testing.T, users int) *fixture {
	f := newFixture(t)
	names := []string{"Zoë Ångström", "王 小明", "José Núñez", "Ola Nordmann", "Анна Петрова"}
	for u := 0; u < users; u++ {
		user := fmt.Sprintf("user%02d", u)
		for i := 0; i < 3; i++ {
			uid := uuidFor(user, i)
			f.put(user, "contact/"+uid+".vcf", vcardBody(uid, names[(u+i)%len(names)], fmt.Sprintf("+1 555 %04d", u*10+i)), ledger.OK, true)
		}
		for i := 3; i < 5; i++ {
			uid := uuidFor(user, i)
			f.put(user, "event/"+uid+".ics", eventBody(uid, fmt.Sprintf("Meeting %d", i), "20240304T093000"), ledger.OK, true)
		}
		f.put(user, "photo/IMG_0001.jpg", photoBody(uint64(u), 2048), ledger.OK, true)
		f.put(user, "appdata/tetris/highscores.json", []byte(fmt.Sprintf(`{"scores":[{"name":"u%d","score":%d}]}`, u, 1000+u)), ledger.OK, true)
	}
	for u := 0; u < users; u++ {
		user := fmt.Sprintf("user%02d", u)
		uid := uuidFor(user, 1)
		f.put(user, "contact/"+uid+".vcf", vcardBody(uid, names[u%len(names)], fmt.Sprintf("+1 555 9%03d", u)), ledger.OK, true)
		f.del(user, "contact/"+uuidFor(user, 2)+".vcf", ledger.OK, true)
		f.put(user, "appdata/tetris/highscores.json", []byte(fmt.Sprintf(`{"scores":[{"name":"u%d","score":%d}]}`, u, 2000+u)), ledger.OK, true)
	}
	return f
}
