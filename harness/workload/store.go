package workload

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/firedrill/firedrill/harness/model"
)

// StoredItem is one item a phone holds in its local store. The body itself is
// not kept: its digest says what the phone has.
type StoredItem struct {
	Key    string       // model.ItemKey form, e.g. "contact/5f1c.vcf"
	Href   string       // where the server keeps it, as served or as written
	ETag   string       // the server's ETag of the version held; "" when it did not say
	Digest model.Digest // canon.Digest of the body held
	// Unreadable says why the body the server sent could not be digested; Digest
	// is zero then.
	Unreadable string
}

// store is a phone's local store: what it holds of its user's items, and the sync
// token of each collection it syncs. Items are kept by location (the cleaned,
// unescaped path of their URL), so that a store survives the server moving to
// another host with the same layout. Every method is safe for concurrent use.
type store struct {
	mu sync.Mutex
	// epoch changes when the store is wiped or replaced, so that a sync that
	// started before does not put what it read into the new store.
	epoch  uint64
	items  map[string]StoredItem
	tokens map[string]string // sync token by collection location
}

func newStore() *store {
	return &store{items: map[string]StoredItem{}, tokens: map[string]string{}}
}

// location returns the store's name for a URL or href: its cleaned, unescaped
// path. "" when ref does not parse.
func location(ref string) string {
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	return path.Clean("/" + u.Path)
}

// below reports whether loc lies below the collection location coll.
func below(loc, coll string) bool {
	return strings.HasPrefix(loc, strings.TrimSuffix(coll, "/")+"/")
}

func (s *store) now() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

func (s *store) get(loc string) (StoredItem, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[loc]
	return it, ok
}

// put stores it at loc unless the store changed epoch since epoch.
func (s *store) put(epoch uint64, loc string, it StoredItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch == epoch {
		s.items[loc] = it
	}
}

// remove drops the item at loc unless the store changed epoch since epoch.
func (s *store) remove(epoch uint64, loc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch == epoch {
		delete(s.items, loc)
	}
}

// prune drops the items below the collection coll whose locations are not in
// keep: after a full listing, what the server no longer lists.
func (s *store) prune(epoch uint64, coll string, keep map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != epoch {
		return
	}
	for loc := range s.items {
		if below(loc, coll) && !keep[loc] {
			delete(s.items, loc)
		}
	}
}

func (s *store) token(coll string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[coll]
}

func (s *store) setToken(epoch uint64, coll, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch == epoch {
		s.tokens[coll] = token
	}
}

// wipe empties the store, as a factory reset does.
func (s *store) wipe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	s.items, s.tokens = map[string]StoredItem{}, map[string]string{}
}

// replace takes over the contents of o, which nobody else uses any more.
func (s *store) replace(o *store) {
	o.mu.Lock()
	items, tokens := o.items, o.tokens
	o.items, o.tokens = map[string]StoredItem{}, map[string]string{}
	o.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	s.items, s.tokens = items, tokens
}

// snapshot returns the items sorted by key, then href.
func (s *store) snapshot() ([]StoredItem, int) {
	s.mu.Lock()
	out := make([]StoredItem, 0, len(s.items))
	for _, it := range s.items {
		out = append(out, it)
	}
	tokens := len(s.tokens)
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Href < out[j].Href
	})
	return out, tokens
}

// DeviceStore is what one phone holds.
type DeviceStore struct {
	ID     string // e.g. "user00007/1"
	User   string
	Device int          // 1-based index among the user's phones
	Items  []StoredItem // sorted by key
	// Tokens is how many collections the phone holds a sync token for.
	Tokens int
}

// Digests returns the phone's items as key -> digest.
func (s DeviceStore) Digests() map[string]model.Digest {
	m := make(map[string]model.Digest, len(s.Items))
	for _, it := range s.Items {
		m[it.Key] = it.Digest
	}
	return m
}

// StoreDiff is how a phone's store differs from what the server holds for its
// user. Each list holds item keys, sorted.
type StoreDiff struct {
	Missing []string // on the server, not on the phone
	Extra   []string // on the phone, not on the server
	Changed []string // on both with other content (or unreadable on one side only)
}

// Empty reports whether the phone holds exactly what the server does.
func (d StoreDiff) Empty() bool {
	return len(d.Missing) == 0 && len(d.Extra) == 0 && len(d.Changed) == 0
}

// String summarises the difference, naming up to three items of each list.
func (d StoreDiff) String() string {
	if d.Empty() {
		return "same items"
	}
	var parts []string
	for _, l := range []struct {
		what string
		keys []string
	}{{"missing", d.Missing}, {"extra", d.Extra}, {"changed", d.Changed}} {
		if len(l.keys) == 0 {
			continue
		}
		shown := l.keys[:min(3, len(l.keys))]
		more := ""
		if len(l.keys) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(l.keys)-len(shown))
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s%s)", len(l.keys), l.what, strings.Join(shown, ", "), more))
	}
	return strings.Join(parts, "; ")
}

// CompareStore compares what a phone holds with what an observer read back from
// the server for the phone's user: after a full sync the two must be equal.
func CompareStore(s DeviceStore, u model.UserObservation) StoreDiff {
	type held struct {
		digest     model.Digest
		unreadable bool
	}
	phone := map[string]held{}
	for _, it := range s.Items {
		phone[it.Key] = held{it.Digest, it.Unreadable != ""}
	}
	var d StoreDiff
	server := map[string]bool{}
	for _, it := range u.Items {
		server[it.Key] = true
		h, ok := phone[it.Key]
		switch {
		case !ok:
			d.Missing = append(d.Missing, it.Key)
		case h.unreadable != (it.Unreadable != ""):
			d.Changed = append(d.Changed, it.Key)
		case !h.unreadable && h.digest != it.Digest:
			d.Changed = append(d.Changed, it.Key)
		}
	}
	for k := range phone {
		if !server[k] {
			d.Extra = append(d.Extra, k)
		}
	}
	sort.Strings(d.Missing)
	sort.Strings(d.Extra)
	sort.Strings(d.Changed)
	return d
}
