// Package snapshot records what every user of a server holds, so that a
// later read of the same (or a restored, or a migrated) server can be
// checked against it: a baseline for data firedrill did not write, such as a
// copy of production data. It is the expected state verify.Checker uses in
// place of a ledger (Snapshot implements verify.Expected).
//
// A snapshot file is JSON lines, written user by user so that neither taking
// nor reading one holds the server in memory:
//
//	{"firedrill_snapshot":1,"server":"https://dav.example","taken":"2026-12-01T14:00:00Z","users":2}
//	{"user":"alice","items":[{"key":"contact/a.vcf","collection":"/dav/alice/contacts/default/","canon":"<32 hex>","bytes":"<32 hex>","size":312}]}
//	{"user":"bob","items":[],"not_offered":["photo"]}
//	{"end":{"users":2,"items":1,"sha256":"<64 hex>"}}
//
// The header names the format version, the server, the time the read began
// and the number of users; then one line per user (items sorted by key and collection:
// canon is the canonical digest of package canon, bytes the digest of the
// body as served, size its length; not_offered lists the kinds the server
// offered the user no collection for); then a trailer with the counts and the
// SHA-256 of every byte before it. A file cut anywhere, or changed in any
// byte, is refused with an error saying so: never read as fewer users or
// items.
package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/firedrill/firedrill/harness/model"
)

// Version is the version of the snapshot format this package writes and
// reads.
const Version = 1

// Header is a snapshot's first line.
type Header struct {
	Format int       `json:"firedrill_snapshot"`
	Server string    `json:"server"`
	Taken  time.Time `json:"taken"`
	Users  int       `json:"users"`
}

// Item is one item a user held: its key (model.ItemKey form), the collection
// it was in, its canonical digest, the digest of its bytes as served and
// their number.
type Item struct {
	Key        string       `json:"key"`
	Collection string       `json:"collection"`
	Canon      model.Digest `json:"canon"`
	Bytes      model.Digest `json:"bytes"`
	Size       int64        `json:"size"`
}

// User is one user's line: every item the user held, sorted by key and
// collection, and the kinds the server offered the user no collection for.
type User struct {
	User       string       `json:"user"`
	Items      []Item       `json:"items"`
	NotOffered []model.Kind `json:"not_offered,omitempty"`
}

// trailer is a snapshot's last line.
type trailer struct {
	End trailerEnd `json:"end"`
}

type trailerEnd struct {
	Users  int    `json:"users"`
	Items  int    `json:"items"`
	SHA256 string `json:"sha256"`
}

// encodeTrailer returns the trailer line for the counts and the hash of
// everything before it, with its newline. A reader compares a trailer byte
// for byte with this encoding (JSON field names match case-insensitively).
func encodeTrailer(users, items int, sum []byte) []byte {
	b, _ := json.Marshal(trailer{End: trailerEnd{Users: users, Items: items, SHA256: hex.EncodeToString(sum)}})
	return append(b, '\n')
}

// FromObservation turns one user's observation into a snapshot line. It
// refuses an observation that is not complete: an unreadable account or
// item has no content to compare with later.
func FromObservation(uo model.UserObservation) (User, error) {
	if uo.Unreadable != "" {
		return User{}, fmt.Errorf("snapshot %s: account unreadable: %s", uo.User, uo.Unreadable)
	}
	u := User{User: uo.User, Items: make([]Item, 0, len(uo.Items)), NotOffered: uo.NotCovered}
	for _, it := range uo.Items {
		if it.Unreadable != "" {
			return User{}, fmt.Errorf("snapshot %s: item %s in %s unreadable: %s", uo.User, it.Key, it.Collection, it.Unreadable)
		}
		u.Items = append(u.Items, Item{Key: it.Key, Collection: it.Collection, Canon: it.Digest, Bytes: it.Bytes, Size: it.Size})
	}
	sortItems(u.Items)
	return u, nil
}

// check returns what is wrong with a user line, or nil.
func (u *User) check() error {
	if u.User == "" {
		return fmt.Errorf("a user line without a user name")
	}
	if u.Items == nil {
		return fmt.Errorf("user %s: no \"items\" list", u.User)
	}
	for i, it := range u.Items {
		if _, _, err := model.SplitItemKey(it.Key); err != nil {
			return fmt.Errorf("user %s: %w", u.User, err)
		}
		if it.Canon.IsZero() || it.Size < 0 {
			return fmt.Errorf("user %s: item %s has no canonical digest or a negative size", u.User, it.Key)
		}
		if i > 0 && compareItems(u.Items[i-1], it) >= 0 {
			return fmt.Errorf("user %s: item %s in %s out of order or listed twice", u.User, it.Key, it.Collection)
		}
	}
	for _, k := range u.NotOffered {
		if k < model.KindContact || k > model.KindAppData {
			return fmt.Errorf("user %s: not_offered names unknown kind %d", u.User, k)
		}
	}
	return nil
}

func compareItems(a, b Item) int {
	if c := bytes.Compare([]byte(a.Key), []byte(b.Key)); c != 0 {
		return c
	}
	return bytes.Compare([]byte(a.Collection), []byte(b.Collection))
}

func sortItems(items []Item) { slices.SortFunc(items, compareItems) }

// linePrint fingerprints one line, to check that a line read again is the
// one that was validated.
func linePrint(line []byte) uint64 {
	sum := sha256.Sum256(line)
	return binary.LittleEndian.Uint64(sum[:8])
}
