package ledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/model"
)

func digestOf(s string) model.Digest {
	var d model.Digest
	copy(d[:], s)
	return d
}

// newWriter creates a ledger in a temporary directory.
func newWriter(t *testing.T) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.fdl")
	w, err := Create(path, time.Now(), Meta{Seed: 42, Profile: "tiny", Server: "http://syncd:8080", Labels: map[string]string{"run": "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	return w, path
}

func TestRoundTrip(t *testing.T) {
	w, path := newWriter(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var want []Record
	var wantKeys []string
	now := int64(1000)
	for i := 0; i < 5000; i++ {
		u := w.User(fmt.Sprintf("user%03d", rng.IntN(50)))
		kind := model.Kinds[rng.IntN(len(model.Kinds))]
		var key string
		switch rng.IntN(3) {
		case 0:
			key = model.ItemKey(kind, fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x.vcf", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&(1<<48-1)))
		case 1:
			key = model.ItemKey(kind, fmt.Sprintf("IMG_%04d.jpg", rng.IntN(100)))
		default:
			key = model.ItemKey(kind, strings.ToUpper(fmt.Sprintf("x-%08x-%04x-4%03x-a%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&(1<<48-1))))
		}
		it := w.Item(key)
		for int(it) >= len(wantKeys) {
			wantKeys = append(wantKeys, key)
		}
		call := now + int64(rng.IntN(1e6)) - 5e5
		call = max(call, 0)
		r := Record{Call: call, Return: call + int64(rng.IntN(1e8)), User: u, Item: it, Kind: kind, Op: OpPut, Outcome: Outcome(1 + rng.IntN(3))}
		if rng.IntN(5) == 0 {
			r.Op = OpDelete
		} else {
			r.Digest = digestOf(fmt.Sprint(i))
			r.Size = uint32(rng.IntN(8 << 20))
		}
		now += int64(rng.IntN(2e6))
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Torn != nil {
		t.Fatalf("intact ledger reported torn: %v", l.Torn)
	}
	if l.Meta.Seed != 42 || l.Meta.Profile != "tiny" || l.Meta.Labels["run"] != "t1" {
		t.Errorf("meta = %+v", l.Meta)
	}
	if !l.Base.Equal(w.Base()) {
		t.Errorf("base = %v, want %v", l.Base, w.Base())
	}
	if l.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", l.Len(), len(want))
	}
	for i, r := range l.Records() {
		if r != want[i] {
			t.Fatalf("record %d = %+v, want %+v", i, r, want[i])
		}
	}
	for i, k := range wantKeys {
		if got := l.ItemKey(uint32(i)); got != k {
			t.Fatalf("ItemKey(%d) = %q, want %q", i, got, k)
		}
	}
}

func TestConcurrentAppends(t *testing.T) {
	w, path := newWriter(t)
	const goroutines, per = 16, 3000
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := w.User(fmt.Sprintf("user%d", g))
			for i := 0; i < per; i++ {
				it := w.Item(model.ItemKey(model.KindNote, fmt.Sprintf("g%d-%d.ics", g, i)))
				call := w.Now()
				ret := w.Now()
				if err := w.Append(Record{Call: call, Return: ret, User: u, Item: it, Kind: model.KindNote, Op: OpPut, Outcome: OK, Digest: digestOf(fmt.Sprint(g, i)), Size: uint32(i)}); err != nil {
					t.Error(err)
					return
				}
				if i == per/2 && g == 0 {
					if err := w.Sync(); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != goroutines*per {
		t.Fatalf("Len = %d, want %d", l.Len(), goroutines*per)
	}
	seen := map[string]bool{}
	for _, r := range l.Records() {
		u, key := l.User(r.User), l.ItemKey(r.Item)
		var g, i int
		if _, err := fmt.Sscanf(key, "note/g%d-%d.ics", &g, &i); err != nil || u != fmt.Sprintf("user%d", g) {
			t.Fatalf("record %+v: user %q item %q do not belong together", r, u, key)
		}
		if r.Digest != digestOf(fmt.Sprint(g, i)) || r.Size != uint32(i) || r.Return < r.Call {
			t.Fatalf("record for %s = %+v", key, r)
		}
		seen[key] = true
	}
	if len(seen) != goroutines*per {
		t.Errorf("%d distinct items, want %d", len(seen), goroutines*per)
	}
}

func TestTornTail(t *testing.T) {
	w, path := newWriter(t)
	u := w.User("ann")
	lastBatch := 0 // where the third batch starts: the file's size after the second Sync
	for b := 0; b < 3; b++ {
		for i := 0; i < 100; i++ {
			it := w.Item(fmt.Sprintf("photo/IMG_%d_%d.jpg", b, i))
			if err := w.Append(Record{Call: int64(b*1000 + i), Return: int64(b*1000 + i + 5), User: u, Item: it, Kind: model.KindPhoto, Op: OpPut, Outcome: OK, Digest: digestOf("x"), Size: 9}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		if b == 1 {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			lastBatch = int(st.Size())
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := Load(path)
	if l.Len() != 300 {
		t.Fatalf("intact Len = %d", l.Len())
	}
	// Cut the file at lengths inside the last batch, and flip a byte in it.
	dir := t.TempDir()
	for cut := lastBatch + 1; cut < len(full); cut += 7 {
		p := filepath.Join(dir, "torn")
		if err := os.WriteFile(p, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Load(p)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if l.Torn == nil || l.Torn.Offset != int64(lastBatch) || l.Len() != 200 {
			t.Fatalf("cut at %d: Torn = %v, Len = %d; want torn at %d with 200 records", cut, l.Torn, l.Len(), lastBatch)
		}
	}
	// A crash between batches leaves an intact, shorter ledger.
	p := filepath.Join(dir, "boundary")
	os.WriteFile(p, full[:lastBatch], 0o644)
	if l, err := Load(p); err != nil || l.Torn != nil || l.Len() != 200 {
		t.Fatalf("cut at a batch boundary: %v, torn %v, Len %d", err, l.Torn, l.Len())
	}
	flipped := append([]byte(nil), full...)
	flipped[len(flipped)-3] ^= 0x40
	p = filepath.Join(dir, "flipped")
	os.WriteFile(p, flipped, 0o644)
	l, err = Load(p)
	if err != nil || l.Torn == nil || !strings.Contains(l.Torn.Error(), "checksum mismatch") || l.Len() != 200 {
		t.Fatalf("flipped byte: %v, %v", l.Torn, err)
	}
	// A damaged header is an error, not a torn tail.
	bad := append([]byte(nil), full...)
	bad[12] ^= 1
	os.WriteFile(p, bad, 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "header checksum") {
		t.Errorf("damaged header: err = %v", err)
	}
	os.WriteFile(p, []byte("hello"), 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "not a firedrill ledger") {
		t.Errorf("not a ledger: err = %v", err)
	}
}

func TestAppendRejectsNonsense(t *testing.T) {
	w, _ := newWriter(t)
	defer w.Close()
	u := w.User("ann")
	it := w.Item("contact/a.vcf")
	ok := Record{Call: 1, Return: 2, User: u, Item: it, Kind: model.KindContact, Op: OpPut, Outcome: OK}
	cases := map[string]func(*Record){
		"unknown user":    func(r *Record) { r.User = 7 },
		"unknown item":    func(r *Record) { r.Item = 7 },
		"kind mismatch":   func(r *Record) { r.Kind = model.KindPhoto },
		"bad kind":        func(r *Record) { r.Kind = 0 },
		"bad op":          func(r *Record) { r.Op = 9 },
		"bad outcome":     func(r *Record) { r.Outcome = 0 },
		"return < call":   func(r *Record) { r.Return = 0 },
		"delete w/digest": func(r *Record) { r.Op = OpDelete; r.Digest = digestOf("x") },
	}
	for name, f := range cases {
		r := ok
		f(&r)
		if err := w.Append(r); err == nil {
			t.Errorf("%s: Append accepted %+v", name, r)
		}
	}
	if err := w.Append(ok); err != nil {
		t.Errorf("valid record: %v", err)
	}
	w.Close()
	if err := w.Append(ok); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
}

func TestKeyCodec(t *testing.T) {
	keys := []string{
		"contact/5f1c0c9e-3d7b-4f0e-9a51-0c2d6c1e7b42.vcf",
		"event/9B1DEB4D-3B7D-4BAD-9BDD-2B0D7B3DCB6D.ics",
		"event/9B1DEB4D-3B7D-4bad-9BDD-2B0D7B3DCB6D.ics", // mixed case: raw
		"photo/IMG_0042.jpg",
		"appdata/tetris/highscores.json",
		"weird",
		"Contact/x",
		"note/prefix-00000000-0000-0000-0000-000000000000-suffix",
		"",
		"photo/.jpg",
		"appdata/tetris/highscores.json",
		"contact/5f1c0c9e-3d7b-4f0e-9a51-0c2d6c1e7b42",
		"x/5F1C0C9E-3D7B-4F0E-9A51-0C2D6C1E7B42.ics",
		"event/5F1C0C9E-3D7B-4F0E-9A51-0C2D6C1E7B42",
		"note/00000000-0000-0000-0000-000000000000",
	}
	for _, k := range keys {
		enc := encodeKey(nil, k)
		if got := decodeKey(enc); got != k {
			t.Errorf("decodeKey(encodeKey(%q)) = %q", k, got)
		}
	}
	if n := len(encodeKey(nil, keys[0])); n != 1+16 {
		t.Errorf("UUID key encodes to %d bytes, want 17", n)
	}
}

func TestPossibleAt(t *testing.T) {
	a, b, c := digestOf("a"), digestOf("b"), digestOf("c")
	put := func(call, ret int64, d model.Digest, o Outcome) Write {
		return Write{Call: call, Return: ret, Digest: d, Size: 1, Op: OpPut, Outcome: o}
	}
	del := func(call, ret int64, o Outcome) Write {
		return Write{Call: call, Return: ret, Op: OpDelete, Outcome: o}
	}
	P := func(d model.Digest) State { return State{Present: true, Digest: d, Size: 1} }
	cases := []struct {
		name   string
		writes []Write
		cut    int64
		want   []State
	}{
		{"nothing yet", []Write{put(10, 20, a, OK)}, 5, []State{Absent}},
		{"in flight", []Write{put(10, 20, a, OK)}, 15, []State{Absent, P(a)}},
		{"acked", []Write{put(10, 20, a, OK)}, 20, []State{P(a)}},
		{"failed never happened", []Write{put(10, 20, a, OK), put(30, 40, b, Failed)}, 50, []State{P(a)}},
		{"ambiguous update", []Write{put(10, 20, a, OK), put(30, 40, b, Ambiguous)}, 50, []State{P(a), P(b)}},
		{"ambiguous before the cut only", []Write{put(10, 20, a, OK), put(60, 70, b, Ambiguous)}, 50, []State{P(a)}},
		{"acked update", []Write{put(10, 20, a, OK), put(30, 40, b, OK)}, 50, []State{P(b)}},
		{"acked delete", []Write{put(10, 20, a, OK), del(30, 40, OK)}, 50, []State{Absent}},
		{"concurrent acked writes", []Write{put(10, 40, a, OK), put(20, 30, b, OK)}, 50, []State{P(a), P(b)}},
		{"sequential after concurrent", []Write{put(10, 40, a, OK), put(20, 30, b, OK), put(45, 48, c, OK)}, 50, []State{P(c)}},
		{"ambiguous create", []Write{put(10, 20, a, Ambiguous)}, 50, []State{Absent, P(a)}},
	}
	for _, c := range cases {
		h := ItemHistory{Writes: c.writes}
		if got := h.PossibleAt(c.cut); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: PossibleAt(%d) = %v, want %v", c.name, c.cut, got, c.want)
		}
	}
	h := ItemHistory{Writes: []Write{put(10, 20, a, OK), put(30, 40, b, OK), del(50, 60, OK)}}
	if got := h.PossibleFrom(25); !reflect.DeepEqual(got, []State{Absent, P(a), P(b)}) {
		t.Errorf("PossibleFrom(25) = %v", got)
	}
	if got := h.Accepts(P(b), 0, 100); !reflect.DeepEqual(got, []Interval{{30, 60}}) {
		t.Errorf("Accepts(b) = %v, want [30,60)", got)
	}
	if got := h.Accepts(Absent, 0, 100); !reflect.DeepEqual(got, []Interval{{0, 20}, {50, 101}}) {
		t.Errorf("Accepts(absent) = %v", got)
	}
}

// FuzzKeyCodec: every key survives the compact in-memory encoding.
func FuzzKeyCodec(f *testing.F) {
	f.Add("contact/5f1c0c9e-3d7b-4f0e-9a51-0c2d6c1e7b42.vcf")
	f.Add("event/pre-9B1DEB4D-3B7D-4BAD-9BDD-2B0D7B3DCB6D-post.ics")
	f.Add("appdata/tetris/highscores.json")
	f.Add("\xff/.vcf")
	f.Fuzz(func(t *testing.T, key string) {
		if got := decodeKey(encodeKey(nil, key)); got != key {
			t.Fatalf("decodeKey(encodeKey(%q)) = %q", key, got)
		}
	})
}
