package profile

import (
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
)

func TestEmbeddedProfiles(t *testing.T) {
	want := map[string]int{"tiny": 10, "small": 1000, "large": 100000}
	if got := strings.Join(Names(), ","); got != "large,small,tiny" {
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
	if _, err := Load("nope"); err == nil || !strings.Contains(err.Error(), "want one of large, small, tiny") {
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
