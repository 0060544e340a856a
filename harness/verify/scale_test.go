package verify

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// synth is a synthetic run: per user 12 items (5 contacts, 2 events, a
// to-do, a note, 2 photos and the tetris high scores), about a fifth of them
// updated, one in twenty deleted, one write in a hundred ambiguous. Every
// choice derives from the user's number, so the intact observation of a user
// is regenerated on demand instead of held.
type synth struct{ users int }

var synthKinds = []model.Kind{model.KindContact, model.KindContact, model.KindContact, model.KindContact, model.KindContact,
	model.KindEvent, model.KindEvent, model.KindTodo, model.KindNote, model.KindPhoto, model.KindPhoto, model.KindAppData}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (s synth) user(u int) string { return fmt.Sprintf("user%07d", u) }

func (s synth) key(u, i int) string {
	switch k := synthKinds[i]; k {
	case model.KindPhoto:
		return "photo/IMG_000" + strconv.Itoa(i-8) + ".jpg"
	case model.KindAppData:
		return "appdata/tetris/highscores.json"
	default:
		b := make([]byte, 0, 40)
		b = append(append(b, k.String()...), '/')
		b = strconv.AppendUint(b, mix64(uint64(u)), 16)
		b = append(append(b, '-'), byte('a'+i))
		return string(append(b, ".x"...))
	}
}

// versions returns how many puts item i of user u gets, and whether it is
// then deleted.
func (s synth) versions(u, i int) (int, bool) {
	h := mix64(uint64(u)<<8 | uint64(i))
	return 1 + int(h%5/4), h%20 == 7 // 1 in 5 updated once, 1 in 20 deleted
}

func (s synth) digest(u, i, v int) model.Digest {
	var d model.Digest
	binary.LittleEndian.PutUint64(d[:], mix64(uint64(u)<<16|uint64(i)<<8|uint64(v)))
	binary.LittleEndian.PutUint64(d[8:], mix64(uint64(u)<<16|uint64(i)<<8|uint64(v)+1))
	return d
}

// write records the run's ledger at path and returns the recovery point.
func (s synth) write(tb testing.TB, path string) int64 {
	w, err := ledger.Create(path, time.Now(), ledger.Meta{Seed: 1, Profile: "synthetic"})
	if err != nil {
		tb.Fatal(err)
	}
	clock := int64(time.Second)
	for u := range s.users {
		uid := w.User(s.user(u))
		for i, k := range synthKinds {
			item := w.Item(uid, s.key(u, i), "/dav/"+s.user(u)+"/"+k.String()+"s/")
			n, del := s.versions(u, i)
			for v := range n {
				clock += 37_000
				r := ledger.Record{Call: clock - 20_000, Return: clock, User: uid, Item: item, Kind: k, Op: ledger.OpPut, Outcome: ledger.OK,
					Digest: s.digest(u, i, v), Size: 900}
				if mix64(uint64(clock))%100 == 0 {
					r.Outcome = ledger.Ambiguous // and the server kept it
				}
				if err := w.Append(r); err != nil {
					tb.Fatal(err)
				}
			}
			if del {
				clock += 37_000
				if err := w.Append(ledger.Record{Call: clock - 20_000, Return: clock, User: uid, Item: item, Kind: k, Op: ledger.OpDelete, Outcome: ledger.OK}); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return clock
}

// observe returns user u's intact observation.
func (s synth) observe(u int) model.UserObservation {
	uo := model.UserObservation{User: s.user(u), Items: make([]model.ObservedItem, 0, len(synthKinds))}
	for i := range synthKinds {
		n, del := s.versions(u, i)
		if !del {
			uo.Items = append(uo.Items, model.ObservedItem{Key: s.key(u, i), Digest: s.digest(u, i, n-1), Size: 900})
		}
	}
	return uo
}

// heapPeak samples the live heap while a phase runs.
type heapPeak struct {
	mu   sync.Mutex
	peak uint64
	stop chan struct{}
	done chan struct{}
}

func watchHeap() *heapPeak {
	h := &heapPeak{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			h.mu.Lock()
			h.peak = max(h.peak, m.HeapAlloc)
			h.mu.Unlock()
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapPeak) end() uint64 {
	close(h.stop)
	<-h.done
	return h.peak
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes.
func peakRSS() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// TestScale verifies a synthetic run at FIREDRILL_SCALE_USERS users (e.g.
// 1000000) with a streaming Checker, and logs the ledger's heap, the index's,
// the peak heap while checking, the peak RSS, and items checked per second
// of wall and of CPU. Without the variable it is skipped: at a million
// users it writes a 400 MB ledger and takes minutes.
//
//	FIREDRILL_SCALE_USERS=1000000 go test -run TestScale -v -timeout 60m ./harness/verify
func TestScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FIREDRILL_SCALE_USERS"))
	if n <= 0 {
		t.Skip("set FIREDRILL_SCALE_USERS=<users> to measure the checker at scale")
	}
	s := synth{users: n}
	path := filepath.Join(t.TempDir(), "ledger.bin")
	start := time.Now()
	end := s.write(t, path)
	st, _ := os.Stat(path)
	t.Logf("wrote the ledger for %d users in %s: %s", n, time.Since(start).Round(time.Second), mib(uint64(st.Size())))
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM
	base := liveHeap()

	start, cpu0 := time.Now(), cpuTime()
	l, err := ledger.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	afterLoad := liveHeap()
	t.Logf("load: %s, %d records; ledger heap %s (MemoryBytes %s)", time.Since(start).Round(time.Millisecond), l.Len(), mib(afterLoad-base), mib(uint64(l.MemoryBytes())))

	watch := watchHeap()
	start, cpu1 := time.Now(), cpuTime()
	c := NewChecker(Input{Ledger: l, Mode: Latest, RecoveryPoint: end})
	index := time.Since(start)
	afterIndex := liveHeap()
	start, cpu2 := time.Now(), cpuTime()
	var live uint64 // the most the heap held after a collection while checking
	for u := range n {
		if ur := c.User(s.observe(u)); ur.Verdict != Intact {
			t.Fatalf("%s: %+v", ur.User, ur)
		}
		if u%(max(n/8, 1)) == n/16 {
			live = max(live, liveHeap())
		}
	}
	res := c.Result()
	check, cpuCheck := time.Since(start), cpuTime()-cpu2
	peak := watch.end()
	if res.Status != Pass || res.Counts.Users != n || res.Canary.Missed() != 0 {
		t.Fatalf("%s", res.Summary(3, 3))
	}
	items := res.Counts.Items
	t.Logf("index: %s (CPU %s), index heap %s (%s by its own count)", index.Round(time.Millisecond), (cpu2 - cpu1).Round(time.Millisecond),
		mib(afterIndex-afterLoad), mib(uint64(c.idx.memoryBytes())))
	t.Logf("check: %d users, %d items, %d acknowledged writes in %s: %.0f items/s wall, %.0f items per CPU-second; canary %d/%d",
		n, items, res.Counts.Acked, check.Round(time.Millisecond), float64(items)/check.Seconds(), float64(items)/cpuCheck.Seconds(), res.Canary.Caught, res.Canary.Planted)
	t.Logf("memory: live heap at most %s while checking (ledger %s, index %s, the rest %s); peak heap %s with the collector's headroom (GOGC=100), peak RSS %s since the load; total CPU %s",
		mib(live-base), mib(afterLoad-base), mib(afterIndex-afterLoad), mib(live-afterIndex), mib(peak-base), mib(peakRSS()), (cpuTime() - cpu0).Round(time.Millisecond))
	for _, note := range res.Notes {
		t.Logf("note: %s", note)
	}
}

// BenchmarkCheckerStream is BenchmarkCheck for the streaming Checker over
// the synthetic run (index included), reporting items/s; with -benchmem its
// allocations per run compare with BenchmarkCheck's.
func BenchmarkCheckerStream(b *testing.B) {
	s := synth{users: 5000}
	path := filepath.Join(b.TempDir(), "ledger.bin")
	end := s.write(b, path)
	l, err := ledger.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	var items int
	for range b.N {
		c := NewChecker(Input{Ledger: l, Mode: Latest, RecoveryPoint: end})
		for u := range s.users {
			c.User(s.observe(u))
		}
		res := c.Result()
		if res.Status != Pass {
			b.Fatalf("%s", res.Summary(3, 3))
		}
		items += res.Counts.Items
	}
	reportCost(b, items, cpu0)
}
