// Package model holds the data types shared by the stages of a drill: the kinds of
// item a user keeps, how an item's content is fingerprinted, and what an observer
// read back from a server. It imports nothing but the standard library, so the
// verifier can depend on it without pulling in container or network code.
package model

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Kind is the kind of a user's item, one per data type a Sidekick phone synced.
type Kind uint8

// The kinds of item, in the order reports list them.
const (
	KindContact Kind = iota + 1 // CardDAV vCard
	KindEvent                   // CalDAV VEVENT
	KindTodo                    // CalDAV VTODO
	KindNote                    // CalDAV VJOURNAL
	KindPhoto                   // WebDAV binary file
	KindAppData                 // WebDAV application data, e.g. high scores JSON
)

// Kinds lists every kind in report order.
var Kinds = []Kind{KindContact, KindEvent, KindTodo, KindNote, KindPhoto, KindAppData}

var kindNames = map[Kind]string{
	KindContact: "contact",
	KindEvent:   "event",
	KindTodo:    "todo",
	KindNote:    "note",
	KindPhoto:   "photo",
	KindAppData: "appdata",
}

// String returns the kind's lower-case name, e.g. "contact".
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind returns the kind named s ("contact", "event", "todo", "note", "photo", "appdata").
func ParseKind(s string) (Kind, error) {
	switch s { // the exact names first: item keys carry them, millions of times
	case "contact":
		return KindContact, nil
	case "event":
		return KindEvent, nil
	case "todo":
		return KindTodo, nil
	case "note":
		return KindNote, nil
	case "photo":
		return KindPhoto, nil
	case "appdata":
		return KindAppData, nil
	}
	for k, n := range kindNames {
		if n == strings.ToLower(strings.TrimSpace(s)) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("parse kind %q: want one of contact, event, todo, note, photo, appdata", s)
}

// Semantic reports whether items of this kind compare by meaning (vCard and
// iCalendar) rather than byte for byte (photos and app data).
func (k Kind) Semantic() bool {
	return k >= KindContact && k <= KindNote
}

// Digest fingerprints an item's content: the first 16 bytes of the SHA-256 of its
// canonical form for semantic kinds, of its bytes for the others.
type Digest [16]byte

// String returns the digest in hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether the digest is unset.
func (d Digest) IsZero() bool { return d == Digest{} }

// ParseDigest parses the hex form String returns.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return d, fmt.Errorf("parse digest %q: want %d hex bytes", s, len(d))
	}
	copy(d[:], b)
	return d, nil
}

// MarshalText encodes the digest as hex, so JSON carries it readably.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes the hex form.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// ItemKey names an item within one user's account independently of any server's
// URL layout: "<kind>/<name>", e.g. "contact/5f1c.vcf", "photo/IMG_0042.jpg",
// "appdata/tetris/highscores.json".
func ItemKey(k Kind, name string) string { return k.String() + "/" + name }

// SplitItemKey returns the kind and name of an item key.
func SplitItemKey(key string) (Kind, string, error) {
	kind, name, ok := strings.Cut(key, "/")
	if !ok || name == "" {
		return 0, "", fmt.Errorf("split item key %q: want <kind>/<name>", key)
	}
	k, err := ParseKind(kind)
	if err != nil {
		return 0, "", fmt.Errorf("split item key %q: %w", key, err)
	}
	return k, name, nil
}

// ObservedItem is one item as an observer read it back from a server.
type ObservedItem struct {
	Key string `json:"key"` // ItemKey form
	// Collection is the URL path of the collection the item was found in (e.g.
	// "/dav/u1/contacts/"): part of the item's identity, so that an item moved
	// to another collection of its user, or kept in two, is caught. "" when the
	// observer did not record it.
	Collection string `json:"collection,omitempty"`
	Digest     Digest `json:"digest"` // same fingerprint rule as the ledger's
	// Bytes is the digest of the body byte for byte as served (the first 16
	// bytes of its SHA-256), whatever the kind: a server that re-serialises a
	// contact keeps its Digest and changes its Bytes. Zero when not recorded.
	Bytes Digest `json:"bytes,omitzero"`
	Size  int64  `json:"size"`           // bytes of the body as served
	ETag  string `json:"etag,omitempty"` // as served, for diagnosis only
	// Unreadable says why the item's body could not be fetched or parsed; when set,
	// Digest is meaningless.
	Unreadable string `json:"unreadable,omitempty"`
	// Body optionally keeps the canonical text of a semantic item, so that a
	// changed item can be explained property by property.
	Body []byte `json:"body,omitempty"`
}

// UserObservation is everything an observer read back for one user.
type UserObservation struct {
	User  string         `json:"user"`
	Items []ObservedItem `json:"items"`
	// Unreadable says why the account as a whole could not be read (login refused,
	// garbage listing); when set, Items may be incomplete.
	Unreadable string `json:"unreadable,omitempty"`
	// NotCovered lists kinds the server does not support: their items cannot be
	// verified and must be reported as not covered, never as passed.
	NotCovered []Kind `json:"not_covered,omitempty"`
}

// Observation is what an observer read back for every user of a run.
type Observation struct {
	Users []UserObservation `json:"users"`
}
