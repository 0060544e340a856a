package verify

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// benchLedger writes a ledger of users with 50 items each (some updated,
// some deleted, 1% ambiguous) and returns it with the intact observation.
func benchLedger(b *testing.B, users int) (*ledger.Ledger, model.Observation, int64) {
	path := filepath.Join(b.TempDir(), "ledger.fdl")
	w, err := ledger.Create(path, time.Now(), ledger.Meta{Profile: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	kinds := []model.Kind{model.KindContact, model.KindContact, model.KindEvent, model.KindTodo, model.KindNote, model.KindPhoto}
	clock := int64(time.Second)
	server := make([]map[string]model.Digest, users)
	write := func(u uint32, key string, kind model.Kind, op ledger.Op) {
		clock += int64(rng.IntN(400_000))
		r := ledger.Record{Call: clock - 20e6, Return: clock, User: u, Item: w.Item(u, key, ""), Kind: kind, Op: op, Outcome: ledger.OK}
		if op == ledger.OpPut {
			r.Digest[0], r.Digest[1], r.Digest[2], r.Size = byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), 1000
		}
		if rng.IntN(100) == 0 {
			r.Outcome = ledger.Ambiguous // and the server kept it
		}
		if err := w.Append(r); err != nil {
			b.Fatal(err)
		}
		if op == ledger.OpPut {
			server[u][key] = r.Digest
		} else {
			delete(server[u], key)
		}
	}
	for u := range users {
		uid := w.User(fmt.Sprintf("user%05d", u))
		server[u] = map[string]model.Digest{}
		for i := range 50 {
			k := kinds[i%len(kinds)]
			key := model.ItemKey(k, fmt.Sprintf("%08x-0000-4000-8000-%012x.x", u, i))
			write(uid, key, k, ledger.OpPut)
			switch rng.IntN(10) {
			case 0, 1:
				write(uid, key, k, ledger.OpPut)
			case 2:
				write(uid, key, k, ledger.OpDelete)
			}
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	var obs model.Observation
	for u := range users {
		uo := model.UserObservation{User: fmt.Sprintf("user%05d", u)}
		for key, d := range server[u] {
			uo.Items = append(uo.Items, model.ObservedItem{Key: key, Digest: d, Size: 1000})
		}
		obs.Users = append(obs.Users, uo)
	}
	return l, obs, clock
}

// BenchmarkCheck verifies an intact observation of 1,000 users with 50
// items each against its ledger (History grouping included) and reports
// items checked per second.
func BenchmarkCheck(b *testing.B) {
	l, obs, end := benchLedger(b, 1000)
	b.ResetTimer()
	cpu0 := cpuTime()
	var items int
	for range b.N {
		res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: end})
		if res.Status != Pass {
			b.Fatalf("intact observation: %s", res.Summary(3, 3))
		}
		items += res.Counts.Items
	}
	reportCost(b, items, cpu0)
}

// BenchmarkCheckPointInTime is BenchmarkCheck for the consistent-prefix
// check, the verifier's costliest mode.
func BenchmarkCheckPointInTime(b *testing.B) {
	l, obs, end := benchLedger(b, 1000)
	b.ResetTimer()
	cpu0 := cpuTime()
	var items int
	for range b.N {
		res := Check(Input{Ledger: l, Observation: obs, Mode: PointInTime, Lower: 0, Upper: end})
		if res.Status != Pass {
			b.Fatalf("intact observation: %s", res.Summary(3, 3))
		}
		items += res.Counts.Items
	}
	reportCost(b, items, cpu0)
}

// reportCost reports items checked per second of wall time and the process's
// CPU time per item: the machine is shared, so wall time is noisy and CPU
// per unit of work is the figure to compare.
func reportCost(b *testing.B, items int, cpu0 time.Duration) {
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(items), "cpu-ns/item")
}
