package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/seed"
	"github.com/firedrill/firedrill/harness/workload/gen"
)

func digestOf(s string) model.Digest {
	var d model.Digest
	copy(d[:], s)
	return d
}

const testSeed = 42

// newWriter creates a ledger in a temporary directory.
func newWriter(t testing.TB) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.fdl")
	w, err := Create(path, time.Now(), Meta{Seed: testSeed, Profile: "tiny", Server: "http://syncd:8080", Labels: map[string]string{"run": "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	return w, path
}

func mustLoad(t testing.TB, path string) *Ledger {
	t.Helper()
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRoundTrip(t *testing.T) {
	w, path := newWriter(t)
	s := newScript(t, w, 12, 1)
	s.run(3000)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s.settle()
	l := mustLoad(t, path)
	if l.Torn != nil || l.CutShort != nil {
		t.Fatalf("closed ledger reported torn %v, cut short %v", l.Torn, l.CutShort)
	}
	if l.Meta.Seed != testSeed || l.Meta.Profile != "tiny" || l.Meta.Labels["run"] != "t1" {
		t.Errorf("meta = %+v", l.Meta)
	}
	if !l.Base.Equal(w.Base()) {
		t.Errorf("base = %v, want %v", l.Base, w.Base())
	}
	s.check(l)
	pending := 0
	for _, o := range s.open {
		pending += len(o.writes)
	}
	if l.Pending() != pending || pending == 0 {
		t.Errorf("Pending = %d, want %d (> 0: the script leaves attempts open)", l.Pending(), pending)
	}
}

// TestHistories: each user's history from UserHistory, Histories and History
// is the same, grouped by key and collection, writes in append order.
func TestHistories(t *testing.T) {
	w, path := newWriter(t)
	s := newScript(t, w, 8, 2)
	s.run(1500)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s.settle()
	l := mustLoad(t, path)
	all := l.History()
	if len(all.Users) != len(s.names) {
		t.Fatalf("History has %d users, want %d", len(all.Users), len(s.names))
	}
	i := 0
	for uh := range l.Histories() {
		if !reflect.DeepEqual(uh, &all.Users[i]) || !reflect.DeepEqual(uh, l.UserHistory(uint32(i))) {
			t.Fatalf("user %d: Histories, History and UserHistory differ", i)
		}
		i++
		want := map[[2]string][]Write{}
		for _, ww := range s.writes[uh.Name] {
			k := [2]string{ww.key, ww.coll}
			want[k] = append(want[k], Write{Call: ww.call, Return: ww.ret, Digest: ww.digest, Size: ww.size, Op: ww.op, Outcome: ww.outcome, Pending: ww.pending})
		}
		if len(uh.Items) != len(want) {
			t.Fatalf("user %s: %d item histories, want %d", uh.Name, len(uh.Items), len(want))
		}
		for j, it := range uh.Items {
			if j > 0 && (uh.Items[j-1].Key > it.Key || uh.Items[j-1].Key == it.Key && uh.Items[j-1].Collection >= it.Collection) {
				t.Fatalf("user %s: items not sorted by key and collection at %d", uh.Name, j)
			}
			if !reflect.DeepEqual(it.Writes, want[[2]string{it.Key, it.Collection}]) {
				t.Fatalf("user %s item %s in %s: writes %+v, want %+v", uh.Name, it.Key, it.Collection, it.Writes, want[[2]string{it.Key, it.Collection}])
			}
			if l.ItemKey(it.Item) != it.Key || l.ItemCollection(it.Item) != it.Collection {
				t.Fatalf("item %d: ItemKey %q, ItemCollection %q, history says %q in %q", it.Item, l.ItemKey(it.Item), l.ItemCollection(it.Item), it.Key, it.Collection)
			}
			if k, _, _ := model.SplitItemKey(it.Key); k != it.Kind {
				t.Fatalf("item %s: kind %s", it.Key, it.Kind)
			}
		}
		if f := uh.Find(uh.Items[0].Key); f == nil || f.Key != uh.Items[0].Key {
			t.Fatalf("Find(%q) = %v", uh.Items[0].Key, f)
		}
	}
	e := l.Expected(s.last)
	if !reflect.DeepEqual(e, all.Expected(s.last)) {
		t.Error("Ledger.Expected and History.Expected differ")
	}
}

// TestImportThenLive: an imported item written live later is one history;
// the same key in another collection is another item.
func TestImportThenLive(t *testing.T) {
	w, path := newWriter(t)
	u := w.User("ann")
	name := seed.FormatUUID(seed.ItemUUID(testSeed, "ann", "contact", 3)) + ".vcf"
	key := model.ItemKey(model.KindContact, name)
	tk, err := w.InvokeBatch(10, []ImportItem{{User: u, Kind: model.KindContact, Name: name, Index: 3, Collection: "/dav/ann/contacts/", Digest: digestOf("a"), Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Complete(tk, OK, 20); err != nil {
		t.Fatal(err)
	}
	for i, coll := range []string{"/dav/ann/contacts/", "/dav/ann/work/"} {
		r := Record{Call: int64(30 + i), User: u, Item: w.Item(u, key, coll), Kind: model.KindContact, Op: OpPut, Digest: digestOf("b"), Size: 2}
		tk, err := w.Invoke(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Complete(tk, OK, 40); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	uh := mustLoad(t, path).UserHistory(0)
	if len(uh.Items) != 2 || uh.Items[0].Collection != "/dav/ann/contacts/" || uh.Items[1].Collection != "/dav/ann/work/" {
		t.Fatalf("items = %+v", uh.Items)
	}
	want := []Write{{Call: 10, Return: 20, Digest: digestOf("a"), Size: 1, Op: OpPut, Outcome: OK}, {Call: 30, Return: 40, Digest: digestOf("b"), Size: 2, Op: OpPut, Outcome: OK}}
	if got := uh.Items[0].Writes; !reflect.DeepEqual(got, want) || uh.Items[0].Key != key {
		t.Errorf("imported then written: %s %+v, want %s %+v", uh.Items[0].Key, got, key, want)
	}
}

// TestDerivedNamesMatchGen: the names the ledger recomputes from the seed are
// the generator's, so its imports cost a few bytes an item.
func TestDerivedNamesMatchGen(t *testing.T) {
	g := gen.New(testSeed, nil)
	for _, k := range []model.Kind{model.KindContact, model.KindEvent, model.KindTodo, model.KindNote} {
		for _, user := range []string{"alice", "bob@example.com"} {
			for _, i := range []int{0, 1, 99, 12345} {
				name := g.Name(user, k, i)
				suffix, ok := derivedSuffix(testSeed, user, k, i, name)
				if !ok {
					t.Fatalf("gen's name %q for %s %s %d is not derived from the seed", name, user, k, i)
				}
				if got := string(appendDerivedKey(nil, testSeed, user, k, i, suffix)); got != model.ItemKey(k, name) {
					t.Fatalf("appendDerivedKey = %q, gen says %q", got, model.ItemKey(k, name))
				}
				if _, ok := derivedSuffix(testSeed, user, k, i+1, name); ok {
					t.Fatalf("%q passes as the name of index %d too", name, i+1)
				}
			}
		}
	}
}

func TestCollectionPatterns(t *testing.T) {
	for _, c := range []struct {
		user, path string
		want       pattern
	}{
		{"u1", "/dav/u1/contacts/", pattern{patName, "/dav/", "/contacts/"}},
		{"u1", "/dav/u1", pattern{patName, "/dav/", ""}},
		{"u1", "/dav/u11/u1/x/", pattern{patName, "/dav/u11/", "/x/"}},
		{"u1", "/dav/xu1/", pattern{patLiteral, "/dav/xu1/", ""}},
		{"ann@example.com", "/dav/ann@example.com/cal/", pattern{patName, "/dav/", "/cal/"}},
		{"ann smith", "/dav/ann%20smith/cal/", pattern{patEscaped, "/dav/", "/cal/"}},
		{"", "/dav/shared/", pattern{patLiteral, "/dav/shared/", ""}},
		{"u1", "", pattern{patLiteral, "", ""}},
	} {
		got := splitCollection(c.user, c.path)
		if got != c.want {
			t.Errorf("splitCollection(%q, %q) = %+v, want %+v", c.user, c.path, got, c.want)
		}
		if back := got.path(c.user); back != c.path {
			t.Errorf("pattern %+v for %q gives %q, want %q", got, c.user, back, c.path)
		}
	}
	if splitCollection("u1", "/dav/u1/contacts/") != splitCollection("u2", "/dav/u2/contacts/") {
		t.Error("two users' contacts collections do not share a pattern")
	}
}

func TestWriterRejectsNonsense(t *testing.T) {
	w, _ := newWriter(t)
	defer w.Close()
	u := w.User("ann")
	other := w.User("bob")
	it := w.Item(u, "contact/a.vcf", "/dav/ann/contacts/")
	good := Record{Call: 1, User: u, Item: it, Kind: model.KindContact, Op: OpPut}
	invokes := map[string]func(*Record){
		"unknown user's item": func(r *Record) { r.Item = w.Item(7, "contact/b.vcf", "") },
		"key without kind":    func(r *Record) { r.Item = w.Item(u, "b.vcf", "") },
		"kind not as named":   func(r *Record) { r.Item = w.Item(u, "Contact/b.vcf", "") },
		"key without name":    func(r *Record) { r.Item = w.Item(u, "contact/", "") },
		"unknown item":        func(r *Record) { r.Item = 99 },
		"another user's item": func(r *Record) { r.User = other },
		"kind mismatch":       func(r *Record) { r.Kind = model.KindPhoto },
		"bad kind":            func(r *Record) { r.Kind = 0 },
		"bad op":              func(r *Record) { r.Op = 9 },
		"negative call":       func(r *Record) { r.Call = -1 },
		"delete w/digest":     func(r *Record) { r.Op = OpDelete; r.Digest = digestOf("x") },
		"outcome given":       func(r *Record) { r.Outcome = OK },
		"return given":        func(r *Record) { r.Return = 5 },
	}
	for name, f := range invokes {
		r := good
		f(&r)
		if _, err := w.Invoke(r); err == nil {
			t.Errorf("%s: Invoke accepted %+v", name, r)
		}
		if name == "outcome given" || name == "return given" {
			continue
		}
		r.Return, r.Outcome = max(r.Call, 2), OK
		if err := w.Append(r); err == nil {
			t.Errorf("%s: Append accepted %+v", name, r)
		}
	}
	for name, r := range map[string]Record{
		"bad outcome":   {Call: 1, Return: 2, User: u, Item: it, Kind: model.KindContact, Op: OpPut, Outcome: 0},
		"return < call": {Call: 3, Return: 2, User: u, Item: it, Kind: model.KindContact, Op: OpPut, Outcome: OK},
	} {
		if err := w.Append(r); err == nil {
			t.Errorf("%s: Append accepted %+v", name, r)
		}
	}
	tk, err := w.Invoke(good)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"zero ticket":    func() error { return w.Complete(Ticket{}, OK, 5) },
		"bad outcome":    func() error { return w.Complete(tk, 7, 5) },
		"return < call":  func() error { return w.Complete(tk, OK, 0) },
		"foreign ticket": func() error { return w.Complete(Ticket{seq: 1 << 40}, OK, 5) },
		"empty batch":    func() error { _, err := w.InvokeBatch(1, nil); return err },
		"negative call": func() error {
			_, err := w.InvokeBatch(-1, []ImportItem{{User: u, Kind: model.KindNote, Name: "n"}})
			return err
		},
		"batch bad user": func() error {
			_, err := w.InvokeBatch(1, []ImportItem{{User: 9, Kind: model.KindNote, Name: "n"}})
			return err
		},
		"batch bad kind":   func() error { _, err := w.InvokeBatch(1, []ImportItem{{User: u, Kind: 0, Name: "n"}}); return err },
		"batch empty name": func() error { _, err := w.InvokeBatch(1, []ImportItem{{User: u, Kind: model.KindNote}}); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := w.Complete(tk, OK, 5); err != nil {
		t.Fatalf("valid completion: %v", err)
	}
	if err := w.Complete(tk, OK, 6); err == nil {
		t.Error("a second completion of one ticket was accepted")
	}
	w.Close()
	if _, err := w.Invoke(good); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close: %v", err)
	}
	good.Return, good.Outcome = 2, OK
	if err := w.Append(good); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
}

// TestInvokeReachesTheFileFirst: once Invoke returns, a copy of the file
// holds the attempt (as pending); a completion reaches it by Flush at the
// latest.
func TestInvokeReachesTheFileFirst(t *testing.T) {
	w, path := newWriter(t)
	defer w.Close()
	u := w.User("ann")
	copyNow := func() *Ledger {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "copy")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return mustLoad(t, p)
	}
	var tickets []Ticket
	for i := range 5 {
		r := Record{Call: w.Now(), User: u, Item: w.Item(u, fmt.Sprintf("note/n%d.ics", i), "/dav/ann/notes/"), Kind: model.KindNote, Op: OpPut, Digest: digestOf("n"), Size: 1}
		tk, err := w.Invoke(r)
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
		l := copyNow()
		if l.Len() != i+1 || l.CutShort == nil || l.CutShort.Pending != i+1 {
			t.Fatalf("after invoke %d the copy holds %d writes, cut short %v", i, l.Len(), l.CutShort)
		}
	}
	tk, err := w.InvokeBatch(w.Now(), []ImportItem{{User: u, Kind: model.KindPhoto, Name: "IMG_0001.jpg", Collection: "/dav/ann/photos/", Digest: digestOf("p"), Size: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if l := copyNow(); l.Len() != 6 || l.CutShort.Pending != 6 {
		t.Fatalf("after the batch the copy holds %d writes, %d pending", l.Len(), l.CutShort.Pending)
	}
	for _, tk := range append(tickets, tk) {
		if err := w.Complete(tk, OK, w.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if l := copyNow(); l.Len() != 6 || l.Pending() != 0 || l.CutShort == nil || l.CutShort.Pending != 0 {
		t.Fatalf("after Flush the copy holds %d writes, %d pending, cut short %v", l.Len(), l.Pending(), l.CutShort)
	}
}

// TestConcurrentInvokes: phones invoke and complete concurrently; every
// attempt comes back with its outcome, and invokes share writes.
func TestConcurrentInvokes(t *testing.T) {
	w, path := newWriter(t)
	const goroutines, per = 16, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("user%d", g)
			u := w.User(name)
			for i := range per {
				it := w.Item(u, model.ItemKey(model.KindNote, fmt.Sprintf("g%d-%d.ics", g, i)), "/dav/"+name+"/notes/")
				tk, err := w.Invoke(Record{Call: w.Now(), User: u, Item: it, Kind: model.KindNote, Op: OpPut, Digest: digestOf(fmt.Sprint(g, i)), Size: uint32(i)})
				if err != nil {
					t.Error(err)
					return
				}
				if err := w.Complete(tk, Outcome(1+i%3), w.Now()); err != nil {
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
	frames := w.frames
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l := mustLoad(t, path)
	if l.Len() != goroutines*per || l.Pending() != 0 || l.CutShort != nil {
		t.Fatalf("Len = %d, pending %d, cut short %v; want %d, 0, nil", l.Len(), l.Pending(), l.CutShort, goroutines*per)
	}
	seen := map[string]bool{}
	for uh := range l.Histories() {
		for _, it := range uh.Items {
			var g, i int
			if _, err := fmt.Sscanf(it.Key, "note/g%d-%d.ics", &g, &i); err != nil || uh.Name != fmt.Sprintf("user%d", g) || it.Collection != "/dav/"+uh.Name+"/notes/" {
				t.Fatalf("user %q item %q in %q do not belong together", uh.Name, it.Key, it.Collection)
			}
			if len(it.Writes) != 1 {
				t.Fatalf("%s: %d writes", it.Key, len(it.Writes))
			}
			w := it.Writes[0]
			if w.Digest != digestOf(fmt.Sprint(g, i)) || w.Size != uint32(i) || w.Return < w.Call || w.Outcome != Outcome(1+i%3) {
				t.Fatalf("write to %s = %+v", it.Key, w)
			}
			seen[it.Key] = true
		}
	}
	if len(seen) != goroutines*per {
		t.Errorf("%d distinct items, want %d", len(seen), goroutines*per)
	}
	t.Logf("%d attempts in %d frames", goroutines*per, frames)
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

func TestOutcomesCountCompletedWrites(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "l.bin"), time.Now(), Meta{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	u := w.User("ann")
	it := w.Item(u, "contact/a.vcf", "/dav/ann/contacts/")
	rec := Record{User: u, Item: it, Kind: model.KindContact, Op: OpPut, Digest: model.Digest{1}, Size: 3, Call: 1}
	for _, o := range []Outcome{OK, OK, Ambiguous, Failed} {
		tk, err := w.Invoke(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Complete(tk, o, 2); err != nil {
			t.Fatal(err)
		}
	}
	if ok, failed, amb := w.Outcomes(); ok != 2 || failed != 1 || amb != 1 {
		t.Errorf("Outcomes() = %d ok, %d failed, %d ambiguous; want 2, 1, 1", ok, failed, amb)
	}
}
