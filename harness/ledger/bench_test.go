package ledger

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/model"
)

// realistic writes a ledger shaped like the small profile's: users with
// about 50 items each (contacts, events, to-dos and notes named by UUID,
// photos IMG_nnnn.jpg, a game's high scores), every item created, a fifth
// updated (high scores often), a tenth deleted; 2% of writes fail and 1% are
// ambiguous (then retried). 64 devices write concurrently, so returns arrive
// a few hundred microseconds apart and each write takes 5 to 80 ms. It
// returns the number of items with at least one acknowledged write.
func realistic(tb testing.TB, path string, users int) int {
	w, err := Create(path, time.Now(), Meta{Seed: 1, Profile: "small"})
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), 0x8000|rng.IntN(1<<14), rng.Uint64()&(1<<48-1))
	}
	var clock int64 = int64(time.Second)
	acked := map[uint64]bool{}
	write := func(u, it uint32, kind model.Kind, op Op) {
		for {
			dur := int64(5e6 * math.Exp(rng.Float64()*math.Log(16)))
			clock += int64(rng.IntN(600_000))
			r := Record{Call: clock - dur, Return: clock, User: u, Item: it, Kind: kind, Op: op, Outcome: OK}
			if op == OpPut {
				for i := range r.Digest {
					r.Digest[i] = byte(rng.Uint32())
				}
				switch kind {
				case model.KindPhoto:
					r.Size = uint32(50<<10 + rng.IntN(4<<20))
				case model.KindNote:
					r.Size = uint32(200 + rng.IntN(16<<10))
				default:
					r.Size = uint32(300 + rng.IntN(3000))
				}
			}
			switch x := rng.IntN(100); {
			case x < 2:
				r.Outcome = Failed
			case x < 3:
				r.Outcome = Ambiguous
			}
			if err := w.Append(r); err != nil {
				tb.Fatal(err)
			}
			if r.Outcome == OK {
				acked[uint64(u)<<32|uint64(it)] = true
				return
			}
		}
	}
	mix := []struct {
		kind model.Kind
		n    int
	}{{model.KindContact, 20}, {model.KindEvent, 12}, {model.KindTodo, 6}, {model.KindNote, 4}, {model.KindPhoto, 6}, {model.KindAppData, 2}}
	games := []string{"tetris", "snake", "bejeweled", "solitaire", "sudoku"}
	type item struct {
		it   uint32
		kind model.Kind
	}
	all := make([][]item, users)
	for u := range users {
		uid := w.User(fmt.Sprintf("user%06d", u))
		for _, m := range mix {
			for i := range m.n {
				var name string
				switch m.kind {
				case model.KindContact:
					name = uuid() + ".vcf"
				case model.KindPhoto:
					name = fmt.Sprintf("IMG_%04d.jpg", i+1)
				case model.KindAppData:
					name = games[(u+i)%len(games)] + "/highscores.json"
				default:
					name = uuid() + ".ics"
				}
				it := w.Item(model.ItemKey(m.kind, name))
				all[u] = append(all[u], item{it, m.kind})
				write(uid, it, m.kind, OpPut)
			}
		}
	}
	for u, items := range all {
		for _, x := range items {
			switch p := rng.IntN(100); {
			case x.kind == model.KindAppData:
				for range 1 + rng.IntN(4) {
					write(uint32(u), x.it, x.kind, OpPut)
				}
			case p < 20:
				write(uint32(u), x.it, x.kind, OpPut)
			case p < 30:
				write(uint32(u), x.it, x.kind, OpDelete)
			}
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return len(acked)
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkLedgerBytesPerItem loads a realistic ledger of 2,000 users and
// reports the heap it occupies per item with an acknowledged write
// (bytes/item, the figure to keep at 64 or below) and per record.
func BenchmarkLedgerBytesPerItem(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ledger.fdl")
	items := realistic(b, path, 2000)
	var l *Ledger
	var heap uint64
	b.ResetTimer()
	for range b.N {
		l = nil
		before := heapInUse()
		var err error
		if l, err = Load(path); err != nil {
			b.Fatal(err)
		}
		heap = heapInUse() - before
	}
	b.StopTimer()
	b.ReportMetric(float64(heap)/float64(items), "bytes/item")
	b.ReportMetric(float64(heap)/float64(l.Len()), "bytes/record")
	b.ReportMetric(float64(l.Len())/float64(items), "records/item")
	runtime.KeepAlive(l)
}

// TestLedgerCompact keeps the in-memory ledger within the 64 bytes per item
// the design asks for, on the realistic ledger.
func TestLedgerCompact(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-item ledger")
	}
	path := filepath.Join(t.TempDir(), "ledger.fdl")
	items := realistic(t, path, 2000)
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if per := float64(l.MemoryBytes()) / float64(items); per > 64 {
		t.Errorf("ledger holds %.1f bytes per acknowledged item, want <= 64", per)
	}
}

// BenchmarkAppend appends from as many goroutines as GOMAXPROCS (and more,
// with -cpu) and reports appends per second, batching and file writes
// included.
func BenchmarkAppend(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ledger.fdl")
	w, err := Create(path, time.Now(), Meta{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var users [64]uint32
	var items [1024]uint32
	for i := range users {
		users[i] = w.User(fmt.Sprint("user", i))
	}
	for i := range items {
		items[i] = w.Item(model.ItemKey(model.KindContact, fmt.Sprintf("%08x-0000-4000-8000-%012x.vcf", i, i)))
	}
	var seq atomic.Uint64
	var once sync.Once
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			call := w.Now()
			r := Record{Call: call, Return: call + 1e6, User: users[n%64], Item: items[n%1024], Kind: model.KindContact, Op: OpPut, Outcome: OK, Size: 1200}
			r.Digest[0], r.Digest[15] = byte(n), byte(n>>8)
			if err := w.Append(r); err != nil {
				once.Do(func() { b.Error(err) })
				return
			}
		}
	})
	if err := w.Sync(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}
