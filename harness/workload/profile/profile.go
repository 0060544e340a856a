// Package profile parses and validates data profiles: how many users a drill
// simulates, how many items of each kind they keep, the photo and note size
// distributions, the operation mix and the concurrency. Profiles are JSON files;
// the named ones (tiny, small, medium, large, sidekick) are embedded from fixtures/profiles.
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/firedrill/firedrill/fixtures/profiles"
	"github.com/firedrill/firedrill/harness/model"
)

// MaxNoteSize bounds a note's DESCRIPTION text.
const MaxNoteSize = 64 << 10

// MaxPhotoSize bounds a photo.
const MaxPhotoSize = 8 << 20

// MinPhotoSize is the smallest photo a profile may ask for.
const MinPhotoSize = 50 << 10

// MaxUsers bounds a profile's users: ten times the Sidekick service. Whether
// this machine can hold a given size is Estimate's and Fits' question.
const MaxUsers = 10_000_000

// MaxItemsPerKind bounds the items of one kind per user.
const MaxItemsPerKind = 100_000

// MaxAppData is how many games a user can keep high scores for.
const MaxAppData = 8

// Profile is one data profile.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Users is how many accounts the harness creates for this profile.
	Users int `json:"users"`
	// ActiveShare is the share of the users whose phones sync and write
	// through the protocol during the drill (0 < share <= 1; unset means
	// every user). The others are at rest: a drill's populate step imports
	// their items in bulk before the live load, as old data a service has
	// held for years.
	ActiveShare float64 `json:"active_share,omitempty"`
	// Devices is the range of simulated phones per user.
	Devices Range `json:"devices"`
	// Concurrency is how many users are loaded in parallel.
	Concurrency int `json:"concurrency"`
	// Items is the range of items created per user, per kind.
	Items map[string]Range `json:"items"`
	// Mix weighs creates, updates and deletes.
	Mix Mix `json:"mix"`
	// PhotoSizes and NoteSizes are size distributions.
	PhotoSizes []Bucket `json:"photo_sizes"`
	NoteSizes  []Bucket `json:"note_sizes"`
	// ContactPhotoRatio is the share of contacts with an inline PHOTO.
	ContactPhotoRatio float64 `json:"contact_photo_ratio"`
	// VCard4Ratio is the share of contacts written as vCard 4.0.
	VCard4Ratio float64  `json:"vcard4_ratio"`
	Retry       Retry    `json:"retry"`
	Timeout     Duration `json:"timeout"`
}

// Range is an inclusive integer range. In a profile's items, Users is the
// share of users who keep that kind at all (0 < share < 1; unset means every
// user): "a photo for few users".
type Range struct {
	Min   int     `json:"min"`
	Max   int     `json:"max"`
	Users float64 `json:"users,omitempty"`
}

// Mean is the mean count of a range of items per user, over all users.
func (r Range) Mean() float64 {
	m := float64(r.Min+r.Max) / 2
	if r.Users > 0 && r.Users < 1 {
		m *= r.Users
	}
	return m
}

// Mix weighs the operations a device performs.
type Mix struct {
	Create float64 `json:"create"`
	Update float64 `json:"update"`
	Delete float64 `json:"delete"`
}

// Bucket is one bucket of a size distribution: sizes in [Min, Max] bytes, picked
// with probability Weight / sum of weights.
type Bucket struct {
	Min    ByteSize `json:"min"`
	Max    ByteSize `json:"max"`
	Weight float64  `json:"weight"`
}

// Retry is a device's retry policy for one write.
type Retry struct {
	Attempts int      `json:"attempts"`
	Base     Duration `json:"base"`
	Max      Duration `json:"max"`
}

// ByteSize is a size in bytes; JSON accepts a number or a string such as "50KiB",
// "8MiB", "200B".
type ByteSize int64

// UnmarshalJSON accepts a number of bytes or a string with a unit.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] != '"' {
		var n int64
		if err := json.Unmarshal(data, &n); err != nil {
			return fmt.Errorf("parse size %s: want bytes or a string like \"50KiB\"", data)
		}
		*b = ByteSize(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("parse size %s: %w", data, err)
	}
	n, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = n
	return nil
}

// ParseByteSize parses "123", "200B", "50KiB", "8MiB" or "1GiB".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	num := s
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			mult, num = u.mult, strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("parse size %q: want a number of bytes or a number with B, KiB, MiB or GiB", s)
	}
	if v := n * float64(mult); v > math.MaxInt64/2 {
		return 0, fmt.Errorf("parse size %q: too large; sizes go up to %s", s, ByteSize(MaxPhotoSize))
	}
	return ByteSize(n * float64(mult)), nil
}

// String formats the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	switch {
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b>>10)
	}
	return fmt.Sprintf("%dB", int64(b))
}

// Duration is a time.Duration that JSON writes as "100ms", "2s".
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("parse duration %s: want a string like \"100ms\"", data)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parse duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Active returns how many of n users are active: ActiveShare of them rounded
// up, at least one; n when every user is.
func (p *Profile) Active(n int) int {
	if p.ActiveShare == 0 || p.ActiveShare >= 1 || n == 0 {
		return n
	}
	return min(n, max(1, int(math.Ceil(p.ActiveShare*float64(n)))))
}

// Resting reports whether some users of the profile are at rest: a drill
// populates them in bulk instead of loading them through the protocol.
func (p *Profile) Resting() bool { return p.Active(p.Users) < p.Users }

// ItemRange returns the items-per-user range for kind (zero when absent).
func (p *Profile) ItemRange(k model.Kind) Range { return p.Items[k.String()] }

// Names lists the embedded profiles.
func Names() []string {
	entries, _ := fs.Glob(profiles.FS, "*.json")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e, ".json"))
	}
	sort.Strings(names)
	return names
}

// Load returns the profile called name: an embedded one (tiny, small, medium, large, sidekick) or, when
// name contains a path separator or ends in .json, the file at that path.
func Load(name string) (*Profile, error) {
	var data []byte
	var err error
	if strings.ContainsRune(name, os.PathSeparator) || strings.HasSuffix(name, ".json") {
		data, err = os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read profile %q: %w", name, err)
		}
	} else {
		data, err = fs.ReadFile(profiles.FS, name+".json")
		if err != nil {
			return nil, fmt.Errorf("read profile %q: no such profile; want one of %s or a path to a .json file",
				name, strings.Join(Names(), ", "))
		}
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("read profile %q: %w", name, err)
	}
	return p, nil
}

// Parse decodes and validates a profile; unknown fields are errors, so a typo does
// not silently fall back to a default.
func Parse(data []byte) (*Profile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse profile: %w", err)
	}
	// One JSON object and nothing after it: a second object or a stray brace
	// is a mistake in the file, not something to ignore.
	if tok, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("parse profile: unexpected %v after the profile's closing brace at byte %d: want one JSON object and nothing else", describeToken(tok, err), dec.InputOffset())
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate reports the first thing wrong with the profile.
func (p *Profile) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Name == "" {
		bad("name is empty")
	}
	if p.Users < 1 || p.Users > MaxUsers {
		bad("users = %d: want 1 to %d", p.Users, MaxUsers)
	}
	if p.ActiveShare < 0 || p.ActiveShare > 1 {
		bad("active_share = %v: want more than 0 and at most 1 (or leave it out: every user active)", p.ActiveShare)
	}
	if p.Devices.Min < 1 || p.Devices.Max < p.Devices.Min || p.Devices.Max > 8 {
		bad("devices = %+v: want 1 <= min <= max <= 8", p.Devices)
	}
	if p.Concurrency < 1 || p.Concurrency > 1024 {
		bad("concurrency = %d: want 1 to 1024", p.Concurrency)
	}
	for name, r := range p.Items {
		k, err := model.ParseKind(name)
		if err != nil {
			bad("items: %v", err)
			continue
		}
		if r.Min < 0 || r.Max < r.Min || r.Max > MaxItemsPerKind {
			bad("items.%s = %+v: want 0 <= min <= max <= %d", name, r, MaxItemsPerKind)
		}
		if r.Users < 0 || r.Users > 1 {
			bad("items.%s.users = %v: want the share of users who keep this kind, more than 0 and at most 1 (or leave it out: every user)", name, r.Users)
		}
		if k == model.KindAppData && r.Max > MaxAppData {
			bad("items.appdata.max = %d: at most %d (one per game)", r.Max, MaxAppData)
		}
	}
	if len(p.Items) == 0 {
		bad("items is empty: want a range per kind")
	}
	if p.Mix.Create <= 0 || p.Mix.Update < 0 || p.Mix.Delete < 0 {
		bad("mix = %+v: want create > 0, update >= 0, delete >= 0", p.Mix)
	} else if sum := p.Mix.Create + p.Mix.Update + p.Mix.Delete; math.IsInf(sum, 0) {
		bad("mix = %+v: the weights sum to %v; want finite weights, e.g. percentages", p.Mix, sum)
	}
	if p.ItemRange(model.KindPhoto).Max > 0 {
		if err := validBuckets(p.PhotoSizes, MinPhotoSize, MaxPhotoSize); err != nil {
			bad("photo_sizes: %v", err)
		}
	}
	if p.ItemRange(model.KindNote).Max > 0 {
		if err := validBuckets(p.NoteSizes, 1, MaxNoteSize); err != nil {
			bad("note_sizes: %v", err)
		}
	}
	if p.ContactPhotoRatio < 0 || p.ContactPhotoRatio > 1 {
		bad("contact_photo_ratio = %v: want 0 to 1", p.ContactPhotoRatio)
	}
	if p.VCard4Ratio < 0 || p.VCard4Ratio > 1 {
		bad("vcard4_ratio = %v: want 0 to 1", p.VCard4Ratio)
	}
	if p.Retry.Attempts < 1 || p.Retry.Base <= 0 || p.Retry.Max < p.Retry.Base {
		bad("retry = {attempts %d, base %v, max %v}: want attempts >= 1 and 0 < base <= max",
			p.Retry.Attempts, time.Duration(p.Retry.Base), time.Duration(p.Retry.Max))
	}
	if p.Timeout <= 0 {
		bad("timeout is missing: want e.g. \"60s\"")
	}
	if len(errs) > 0 {
		return fmt.Errorf("validate profile %q: %w", p.Name, errors.Join(errs...))
	}
	return nil
}

func validBuckets(bs []Bucket, lo, hi ByteSize) error {
	if len(bs) == 0 {
		return errors.New("no buckets: want at least one {min,max,weight}")
	}
	total := 0.0
	for i, b := range bs {
		if b.Min < lo || b.Max > hi || b.Max < b.Min || b.Weight < 0 {
			return fmt.Errorf("bucket %d {%v, %v, %v}: want %v <= min <= max <= %v and weight >= 0",
				i, b.Min, b.Max, b.Weight, lo, hi)
		}
		total += b.Weight
	}
	if total <= 0 {
		return errors.New("weights sum to 0")
	}
	if math.IsInf(total, 0) {
		return fmt.Errorf("weights sum to %v: want finite weights, e.g. percentages", total)
	}
	return nil
}

// describeToken names what a decoder found where nothing was expected.
func describeToken(tok json.Token, err error) string {
	if err != nil {
		return "data that is not JSON"
	}
	if d, ok := tok.(json.Delim); ok {
		return fmt.Sprintf("%q", string(d))
	}
	return fmt.Sprintf("%v", tok)
}

// MeanItems is the mean number of items created per user (all kinds).
func (p *Profile) MeanItems() float64 {
	total := 0.0
	for _, r := range p.Items {
		total += r.Mean()
	}
	return total
}
