package profile

import (
	"bytes"
	"io/fs"
	"math"

	"github.com/firedrill/firedrill/fixtures/profiles"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
)

func TestEmbeddedProfiles(t *testing.T) {
	want := map[string]int{"tiny": 10, "small": 1000, "medium": 100000, "large": 100000, "sidekick": 1000000}
	if got := strings.Join(Names(), ","); got != "large,medium,sidekick,small,tiny" {
		t.Fatalf("Names() = %s", got)
	}
	for name, users := range want {
		p, err := Load(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Name != name || p.Users != users {
			t.Errorf("%s: name %q, %d users; want %d", name, p.Name, p.Users, users)
		}
		for _, k := range model.Kinds {
			if p.ItemRange(k).Max == 0 {
				t.Errorf("%s: no %v items", name, k)
			}
		}
	}
	// sidekick: about a dozen items per user, 1% of the users active.
	sk, _ := Load("sidekick")
	if m := sk.MeanItems(); m < 10 || m > 14 {
		t.Errorf("sidekick: %.1f items per user on average, want about a dozen", m)
	}
	if a := sk.Active(sk.Users); a != 10000 {
		t.Errorf("sidekick: %d active users, want 10,000 (1%%)", a)
	}
	small, _ := Load("small")
	if m := small.MeanItems(); m < 45 || m > 55 {
		t.Errorf("small: %.1f items per user on average, want about 50", m)
	}
	// small keeps photos few and small, so 1,000 users load in minutes.
	if r := small.ItemRange(model.KindPhoto); r.Max > 1 {
		t.Errorf("small: up to %d photos per user", r.Max)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"name":"x","users":1,"bogus":1}`, `unknown field "bogus"`},
		{`{"name":"x","users":0,"devices":{"min":1,"max":1},"concurrency":1,"items":{"contact":{"min":1,"max":2}},
		   "mix":{"create":1},"retry":{"attempts":1,"base":"1ms","max":"1ms"},"timeout":"1s"}`, "users = 0"},
		{`{"name":"x","users":1,"devices":{"min":1,"max":1},"concurrency":1,"items":{"cheese":{"min":1,"max":2}},
		   "mix":{"create":1},"retry":{"attempts":1,"base":"1ms","max":"1ms"},"timeout":"1s"}`, `parse kind "cheese"`},
		{`{"name":"x","users":1,"devices":{"min":1,"max":1},"concurrency":1,"items":{"photo":{"min":1,"max":2}},
		   "photo_sizes":[{"min":"1KiB","max":"9MiB","weight":1}],
		   "mix":{"create":1},"retry":{"attempts":1,"base":"1ms","max":"1ms"},"timeout":"1s"}`, "photo_sizes: bucket 0"},
		{`{"name":"x","users":1,"devices":{"min":1,"max":1},"concurrency":1,"items":{"note":{"min":1,"max":2}},
		   "note_sizes":[{"min":"1KiB","max":"65KiB","weight":1}],
		   "mix":{"create":1},"retry":{"attempts":1,"base":"1ms","max":"1ms"},"timeout":"1s"}`, "note_sizes: bucket 0"},
		{`{"name":"x","users":1,"devices":{"min":1,"max":1},"concurrency":1,"items":{"photo":{"min":1,"max":2}},
		   "photo_sizes":[{"min":"lots","max":"1MiB","weight":1}]}`, `parse size "lots"`},
	} {
		_, err := Parse([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", tc.json, err, tc.want)
		}
	}
	if _, err := Load("nope"); err == nil || !strings.Contains(err.Error(), "want one of large, medium, sidekick, small, tiny") {
		t.Errorf("Load(nope) = %v", err)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"200B": 200, "50KiB": 50 << 10, "8MiB": 8 << 20, "1.5KiB": 1536, "12": 12} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if s := ByteSize(8 << 20).String(); s != "8MiB" {
		t.Errorf("String() = %s", s)
	}
}

func TestParseRefusesWhatIsNotOneFiniteProfile(t *testing.T) {
	good, err := fs.ReadFile(profiles.FS, "tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(good); err != nil {
		t.Fatalf("tiny.json: %v", err)
	}
	replace := func(old, new string) []byte {
		t.Helper()
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("tiny.json has no %q", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"trailing object", append(append([]byte{}, good...), []byte(`{"name":"again"}`)...), `unexpected "{" after the profile's closing brace`},
		{"trailing brace", append(append([]byte{}, good...), '}'), "after the profile's closing brace"},
		{"trailing garbage", append(append([]byte{}, good...), []byte("users: 5")...), "after the profile's closing brace"},
		{"a billion users", replace(`"users": 10,`, `"users": 1000000000,`), "users = 1000000000: want 1 to 10000000"},
		{"users as a float", replace(`"users": 10,`, `"users": 1e9,`), "parse profile"},
		{"a billion contacts", replace(`"contact": {"min": 4, "max": 8}`, `"contact": {"min": 4, "max": 1000000000}`), "items.contact"},
		{"weights sum to +Inf", bytes.ReplaceAll(bytes.ReplaceAll(good, []byte(`"weight": 80}`), []byte(`"weight": 1e308}`)), []byte(`"weight": 15}`), []byte(`"weight": 1e308}`)), "want finite weights"},
		{"mix sums to +Inf", replace(`"mix": {"create": 70, "update": 20, "delete": 10}`, `"mix": {"create": 1e308, "update": 1e308, "delete": 10}`), "want finite weights"},
		{"a weight beyond float64", replace(`"weight": 80}`, `"weight": 1e309}`), "parse profile"},
		{"a size beyond int64", replace(`"max": "200KiB"`, `"max": "1e300GiB"`), "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil {
				t.Fatalf("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestPhotoWeightsSummingToInfinityAreRefused(t *testing.T) {
	err := validBuckets([]Bucket{{Min: MinPhotoSize, Max: MinPhotoSize * 2, Weight: math.MaxFloat64}, {Min: MinPhotoSize, Max: MinPhotoSize * 2, Weight: math.MaxFloat64}}, MinPhotoSize, MaxPhotoSize)
	if err == nil || !strings.Contains(err.Error(), "want finite weights") {
		t.Fatalf("got %v, want a refusal of weights summing to +Inf", err)
	}
}

func TestEstimateMatchesWhatTheSmallDrillMeasured(t *testing.T) {
	small, err := Load("small")
	if err != nil {
		t.Fatal(err)
	}
	n := small.Estimate(small.Users)
	// Measured (make drill, profile small): 48,604 items, 60,757 writes and
	// a 173 MiB base backup of the primary after the load.
	if n.Items < 40_000 || n.Items > 60_000 {
		t.Errorf("items %.0f, measured 48,604", n.Items)
	}
	if n.Writes < 50_000 || n.Writes > 75_000 {
		t.Errorf("writes %.0f, measured 60,757", n.Writes)
	}
	if lo, hi := 120.0*(1<<20), 260.0*(1<<20); n.Database < lo || n.Database > hi {
		t.Errorf("database %s, measured 173 MiB", Bytes(n.Database))
	}
	if err := n.Fits(Room{Disk: 100 << 30, Memory: 20 << 30, DiskAt: "/var/lib/docker"}); err != nil {
		t.Errorf("small does not fit 100 GiB of disk and 20 GiB of memory: %v", err)
	}
	// Measured (make drill --profile medium --seed 2009): 1,189,677 items at
	// rest and 15,269 live writes, a 1.5 GiB base backup, the disk use
	// peaking 10.3 GiB above the start, the harness at 505 MiB resident.
	medium, err := Load("medium")
	if err != nil {
		t.Fatal(err)
	}
	m := medium.Estimate(medium.Users)
	if lo, hi := 1.2*(1<<30), 1.9*(1<<30); m.Database < lo || m.Database > hi {
		t.Errorf("medium: database %s, measured 1.5 GiB", Bytes(m.Database))
	}
	if lo, hi := 8.0*(1<<30), 13.0*(1<<30); m.Disk < lo || m.Disk > hi {
		t.Errorf("medium: disk %s, measured 10.3 GiB at the peak", Bytes(m.Disk))
	}
	if lo, hi := 400.0*(1<<20), 700.0*(1<<20); m.Memory < lo || m.Memory > hi {
		t.Errorf("medium: memory %s, measured 505 MiB", Bytes(m.Memory))
	}
}

func TestFitsRefusesWithTheFigures(t *testing.T) {
	small, err := Load("small")
	if err != nil {
		t.Fatal(err)
	}
	n := small.Estimate(MaxUsers)
	err = n.Fits(Room{Disk: 50 << 30, Memory: 16 << 30, DiskAt: "/var/lib/docker"})
	if err == nil {
		t.Fatal("10 million users of profile small fit 50 GiB")
	}
	for _, want := range []string{"10000000 users", "of disk", "/var/lib/docker has 50.0 GiB free", "of memory", "16.0 GiB is available", "fewer users"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if err := n.Fits(Room{}); err != nil {
		t.Errorf("an unknown room refused: %v (the caller says what it could not check)", err)
	}
}
