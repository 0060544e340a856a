package verify

import (
	"net/url"
	"path"
	"strings"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// normCollection reduces a collection's URL or path to a comparable form:
// the path alone, percent-decoded, cleaned, with one trailing slash. "" stays
// "" (not recorded).
func normCollection(c string) string {
	if c == "" {
		return ""
	}
	if i := strings.Index(c, "://"); i >= 0 {
		rest := c[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			c = rest[j:]
		} else {
			c = "/"
		}
	}
	if u, err := url.PathUnescape(c); err == nil {
		c = u
	}
	c = path.Clean("/" + c)
	if c != "/" {
		c += "/"
	}
	return c
}

// sameCollection reports whether two collection paths name the same collection.
func sameCollection(a, b string) bool { return normCollection(a) == normCollection(b) }

// siblingCollection names another collection beside c, for the canary.
func siblingCollection(c string) string {
	return strings.TrimSuffix(normCollection(c), "/") + "-firedrill-canary/"
}

// collectionsOf lists the collections of observed copies of an item.
func collectionsOf(copies []*model.ObservedItem) []string {
	out := make([]string, 0, len(copies))
	for _, o := range copies {
		out = append(out, o.Collection)
	}
	return out
}

// pickCopy chooses, of the copies of an item a server returned, the one to
// judge: the copy in the recorded collection, else the first whose content
// is acceptable, else the first. The others are returned as extra copies.
func pickCopy(copies []*model.ObservedItem, recorded string, poss []ledger.State) (*model.ObservedItem, []*model.ObservedItem) {
	switch len(copies) {
	case 0:
		return nil, nil
	case 1:
		return copies[0], nil
	}
	best := -1
	if recorded != "" {
		for i, o := range copies {
			if o.Collection != "" && sameCollection(o.Collection, recorded) {
				best = i
				break
			}
		}
	}
	if best < 0 {
		for i, o := range copies {
			if o.Unreadable == "" && acceptable(poss, observedState(o)) {
				best = i
				break
			}
		}
	}
	best = max(best, 0)
	rest := make([]*model.ObservedItem, 0, len(copies)-1)
	for i, o := range copies {
		if i != best {
			rest = append(rest, o)
		}
	}
	return copies[best], rest
}
