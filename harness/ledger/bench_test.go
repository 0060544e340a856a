package ledger

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/model"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// loadedHeap loads a ledger and returns it with the heap it holds.
func loadedHeap(tb testing.TB, path string) (*Ledger, uint64) {
	before := heapInUse()
	l, err := Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return l, heapInUse() - before
}

// BenchmarkLedgerBytesPerItem loads a live-only ledger of 2,000 users and
// reports the heap it occupies per item with an acknowledged write.
func BenchmarkLedgerBytesPerItem(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ledger.fdl")
	benchBytesPerItem(b, path, realistic(b, path, 2000))
}

// BenchmarkRestingBytesPerItem does the same for a ledger of imported
// resting items and some live writes (the figure to keep at 32 or below).
func BenchmarkRestingBytesPerItem(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ledger.fdl")
	benchBytesPerItem(b, path, resting(b, path, 4000))
}

func benchBytesPerItem(b *testing.B, path string, items int) {
	var l *Ledger
	var heap uint64
	b.ResetTimer()
	for range b.N {
		l = nil
		l, heap = loadedHeap(b, path)
	}
	b.StopTimer()
	b.ReportMetric(float64(heap)/float64(items), "bytes/item")
	b.ReportMetric(float64(heap)/float64(l.Len()), "bytes/record")
	b.ReportMetric(float64(l.Len())/float64(items), "records/item")
	runtime.KeepAlive(l)
}

// TestLedgerCompact keeps the loaded ledger within 64 bytes per item for
// live-only data and within 32 for mostly resting data, counting both what
// the ledger says it holds and the heap it really occupies.
func TestLedgerCompact(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ledgers of 100,000 and 200,000 items")
	}
	for _, c := range []struct {
		name  string
		write func(testing.TB, string, int) int
		users int
		limit float64
	}{{"live", realistic, 2000, 64}, {"resting", resting, 4000, 32}} {
		path := filepath.Join(t.TempDir(), c.name+".fdl")
		items := c.write(t, path, c.users)
		l, heap := loadedHeap(t, path)
		perItem, perHeap := float64(l.MemoryBytes())/float64(items), float64(heap)/float64(items)
		t.Logf("%s: %d items, %d writes: %.2f bytes/item counted, %.2f on the heap", c.name, items, l.Len(), perItem, perHeap)
		if perItem > c.limit || perHeap > c.limit {
			t.Errorf("%s ledger holds %.1f bytes per acknowledged item (%.1f on the heap), want <= %.0f", c.name, perItem, perHeap, c.limit)
		}
		runtime.KeepAlive(l)
	}
}

// BenchmarkAppend appends from as many goroutines as GOMAXPROCS (and more,
// with -cpu) and reports appends per second, file writes included.
func BenchmarkAppend(b *testing.B) {
	w, users, items := benchWriter(b)
	var seq atomic.Uint64
	var once sync.Once
	cpu0, start := cpuTime(), time.Now()
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
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/append")
}

// BenchmarkInvokeComplete records attempts the way devices do, write-ahead:
// Invoke (its entry in the file before it returns) then Complete, from 64
// goroutines per GOMAXPROCS (phones wait on the network, so many are in
// flight). It reports attempts per second, process CPU per attempt and
// attempts per write(2).
func BenchmarkInvokeComplete(b *testing.B) {
	w, users, items := benchWriter(b)
	var seq atomic.Uint64
	var once sync.Once
	frames0 := w.frames
	b.SetParallelism(64)
	cpu0, start := cpuTime(), time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			r := Record{Call: w.Now(), User: users[n%64], Item: items[n%1024], Kind: model.KindContact, Op: OpPut, Size: 1200}
			r.Digest[0], r.Digest[15] = byte(n), byte(n>>8)
			t, err := w.Invoke(r)
			if err == nil {
				err = w.Complete(t, OK, w.Now())
			}
			if err != nil {
				once.Do(func() { b.Error(err) })
				return
			}
		}
	})
	b.StopTimer()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "attempts/s")
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/attempt")
	b.ReportMetric(float64(b.N)/float64(w.frames-frames0), "attempts/write")
}

// benchWriter makes a ledger with 64 users of 16 items each.
func benchWriter(b *testing.B) (*Writer, [64]uint32, [1024]uint32) {
	path := filepath.Join(b.TempDir(), "ledger.fdl")
	w, err := Create(path, time.Now(), Meta{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	var users [64]uint32
	var items [1024]uint32
	for i := range users {
		users[i] = w.User(fmt.Sprint("user", i))
	}
	for i := range items {
		items[i] = w.Item(users[i%64], model.ItemKey(model.KindContact, fmt.Sprintf("%08x-0000-4000-8000-%012x.vcf", i, i)), fmt.Sprintf("/dav/user%d/contacts/", i%64))
	}
	return w, users, items
}

// BenchmarkImport records bulk import batches of 5,000 generated items (of
// 100 users each) on one goroutine, names checked against the seed, and
// reports items per second and process CPU per item of the ledger's work
// alone (InvokeBatch and Complete: making the items is not counted).
func BenchmarkImport(b *testing.B) {
	const runSeed = 3
	w, err := Create(filepath.Join(b.TempDir(), "ledger.fdl"), time.Now(), Meta{Seed: runSeed})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	batch := make([]ImportItem, 0, 5000)
	done := 0
	var cpu, wall time.Duration
	b.ResetTimer()
	for u := 0; done < b.N; u++ {
		name := fmt.Sprintf("user%07d", u)
		uid := w.User(name)
		for _, m := range itemMix {
			for i := range m.n {
				n := generatedName(runSeed, name, m.kind, i)
				batch = append(batch, ImportItem{User: uid, Kind: m.kind, Name: n, Index: i, Collection: collectionOf(name, m.kind, n),
					Digest: randomDigest(rng), Size: contentSize(rng, m.kind)})
			}
		}
		if len(batch) >= cap(batch)-50 || done+len(batch) >= b.N {
			c0, t0 := cpuTime(), time.Now()
			t, err := w.InvokeBatch(w.Now(), batch)
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Complete(t, OK, w.Now()); err != nil {
				b.Fatal(err)
			}
			cpu, wall = cpu+cpuTime()-c0, wall+time.Since(t0)
			done += len(batch)
			batch = batch[:0]
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(done)/wall.Seconds(), "items/s")
	b.ReportMetric(float64(cpu)/float64(done), "cpu-ns/item")
}

// BenchmarkLoadResting loads and then goes user by user through a resting
// ledger, reporting CPU per item for each.
func BenchmarkLoadResting(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ledger.fdl")
	items := resting(b, path, 4000)
	var loadCPU, histCPU time.Duration
	b.ResetTimer()
	for range b.N {
		c0 := cpuTime()
		l, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		c1 := cpuTime()
		n := 0
		for uh := range l.Histories() {
			n += len(uh.Items)
		}
		loadCPU += c1 - c0
		histCPU += cpuTime() - c1
		if n < items {
			b.Fatalf("%d item histories, %d items", n, items)
		}
	}
	b.ReportMetric(float64(loadCPU)/float64(b.N*items), "load-cpu-ns/item")
	b.ReportMetric(float64(histCPU)/float64(b.N*items), "history-cpu-ns/item")
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMillionUsers is the scale of a large drill: 1,000,000 users of 12
// resting items each, imported in batches of 5,000 (12 million items), then
// loaded and gone through user by user. It reports the import's items per
// second and CPU per item, the loaded ledger's bytes per item, and the live
// heap beyond the loaded ledger while going through the histories (sampled
// after a collection every 100,000 users; the samples' collections count in
// history-cpu). Run it
// alone: go test -run XXX -bench MillionUsers -benchtime 1x ./harness/ledger
func BenchmarkMillionUsers(b *testing.B) {
	const runSeed, users = 11, 1_000_000
	mix := []struct {
		kind model.Kind
		n    int
	}{{model.KindContact, 5}, {model.KindEvent, 3}, {model.KindTodo, 1}, {model.KindNote, 1}, {model.KindPhoto, 1}, {model.KindAppData, 1}}
	for range b.N {
		path := filepath.Join(b.TempDir(), "ledger.fdl")
		w, err := Create(path, time.Now(), Meta{Seed: runSeed})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(5, 5))
		batch := make([]ImportItem, 0, 5000)
		items := 0
		var importCPU, importWall time.Duration
		flush := func() {
			c0, t0 := cpuTime(), time.Now()
			t, err := w.InvokeBatch(w.Now(), batch)
			if err == nil {
				err = w.Complete(t, OK, w.Now())
			}
			if err != nil {
				b.Fatal(err)
			}
			importCPU, importWall = importCPU+cpuTime()-c0, importWall+time.Since(t0)
			items += len(batch)
			batch = batch[:0]
		}
		for u := range users {
			name := fmt.Sprintf("user%07d", u)
			c0 := cpuTime()
			uid := w.User(name)
			importCPU += cpuTime() - c0
			for _, m := range mix {
				for i := range m.n {
					n := generatedName(runSeed, name, m.kind, i)
					batch = append(batch, ImportItem{User: uid, Kind: m.kind, Name: n, Index: i, Collection: collectionOf(name, m.kind, n),
						Digest: randomDigest(rng), Size: contentSize(rng, m.kind)})
				}
			}
			if len(batch) > cap(batch)-12 {
				flush()
			}
		}
		if len(batch) > 0 {
			flush()
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		w = nil
		c0 := cpuTime()
		l, heap := loadedHeap(b, path)
		loadCPU := cpuTime() - c0
		base := heapInUse()
		var peak uint64
		var ms runtime.MemStats
		c0 = cpuTime()
		n, u := 0, 0
		for uh := range l.Histories() {
			n += len(uh.Items)
			if u++; u%100_000 == 0 { // what the walk holds, beyond the ledger
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
		histCPU := cpuTime() - c0
		if n != items {
			b.Fatalf("%d item histories, %d items imported", n, items)
		}
		b.ReportMetric(float64(items)/importWall.Seconds(), "import-items/s")
		b.ReportMetric(float64(importCPU)/float64(items), "import-cpu-ns/item")
		b.ReportMetric(float64(heap)/float64(items), "bytes/item")
		b.ReportMetric(float64(loadCPU)/float64(items), "load-cpu-ns/item")
		b.ReportMetric(float64(histCPU)/float64(items), "history-cpu-ns/item")
		b.ReportMetric(float64(max(peak, base)-base)/(1<<20), "history-live-MiB")
		b.ReportMetric(float64(heap)/(1<<20), "ledger-MiB")
		runtime.KeepAlive(l)
	}
}
