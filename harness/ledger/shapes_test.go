package ledger

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/seed"
)

// The shapes of ledger the benchmarks and the compactness test load.

// itemMix is a user's items per kind, as in the small profile.
var itemMix = []struct {
	kind model.Kind
	n    int
}{{model.KindContact, 20}, {model.KindEvent, 12}, {model.KindTodo, 6}, {model.KindNote, 4}, {model.KindPhoto, 6}, {model.KindAppData, 2}}

var games = []string{"tetris", "snake", "bejeweled", "solitaire", "sudoku"}

// contentSize draws a realistic size for an item of kind.
func contentSize(rng *rand.Rand, kind model.Kind) uint32 {
	switch kind {
	case model.KindPhoto:
		return uint32(50<<10 + rng.IntN(4<<20))
	case model.KindNote:
		return uint32(200 + rng.IntN(16<<10))
	}
	return uint32(300 + rng.IntN(3000))
}

func randomDigest(rng *rand.Rand) model.Digest {
	var d model.Digest
	for i := range d {
		d[i] = byte(rng.Uint32())
	}
	return d
}

// generatedName is the workload generator's name for a user's item.
func generatedName(runSeed int64, user string, kind model.Kind, i int) string {
	switch kind {
	case model.KindContact:
		return seed.FormatUUID(seed.ItemUUID(runSeed, user, kind.String(), i)) + ".vcf"
	case model.KindPhoto:
		return fmt.Sprintf("IMG_%04d.jpg", i+1)
	case model.KindAppData:
		return games[i%len(games)] + "/highscores.json"
	}
	return seed.FormatUUID(seed.ItemUUID(runSeed, user, kind.String(), i)) + ".ics"
}

// collectionOf is the reference layout's collection of an item.
func collectionOf(user string, kind model.Kind, name string) string {
	switch kind {
	case model.KindContact:
		return "/dav/" + user + "/contacts/"
	case model.KindPhoto:
		return "/dav/" + user + "/photos/"
	case model.KindAppData:
		return "/dav/" + user + "/apps/" + name[:len(name)-len("highscores.json")]
	}
	return "/dav/" + user + "/calendar/"
}

// liveWriter appends live writes of 64 concurrent devices: returns a few
// hundred microseconds apart, each write 5 to 80 ms; 2% fail and 1% are
// ambiguous (then retried). It counts the items with an acknowledged write.
type liveWriter struct {
	tb    testing.TB
	w     *Writer
	rng   *rand.Rand
	clock int64
	acked map[uint64]bool
}

func (lw *liveWriter) write(u, it uint32, kind model.Kind, op Op) {
	for {
		dur := int64(5e6 * math.Exp(lw.rng.Float64()*math.Log(16)))
		lw.clock += int64(lw.rng.IntN(600_000))
		r := Record{Call: lw.clock - dur, Return: lw.clock, User: u, Item: it, Kind: kind, Op: op, Outcome: OK}
		if op == OpPut {
			r.Digest, r.Size = randomDigest(lw.rng), contentSize(lw.rng, kind)
		}
		switch x := lw.rng.IntN(100); {
		case x < 2:
			r.Outcome = Failed
		case x < 3:
			r.Outcome = Ambiguous
		}
		if err := lw.w.Append(r); err != nil {
			lw.tb.Fatal(err)
		}
		if r.Outcome == OK {
			lw.acked[uint64(u)<<32|uint64(it)] = true
			return
		}
	}
}

// realistic writes a live-only ledger shaped like the small profile's: users
// with about 50 items each, every item created, a fifth updated (high
// scores often), a tenth deleted. It returns the number of items with at
// least one acknowledged write.
func realistic(tb testing.TB, path string, users int) int {
	w, err := Create(path, time.Now(), Meta{Seed: 1, Profile: "small"})
	if err != nil {
		tb.Fatal(err)
	}
	lw := &liveWriter{tb: tb, w: w, rng: rand.New(rand.NewPCG(1, 1)), clock: int64(time.Second), acked: map[uint64]bool{}}
	type item struct {
		it   uint32
		kind model.Kind
	}
	all := make([][]item, users)
	for u := range users {
		name := fmt.Sprintf("user%06d", u)
		uid := w.User(name)
		for _, m := range itemMix {
			for i := range m.n {
				// Random UUIDs: names the seed does not derive.
				n := generatedName(int64(lw.rng.Uint64()), name, m.kind, i)
				it := w.Item(uid, model.ItemKey(m.kind, n), collectionOf(name, m.kind, n))
				all[u] = append(all[u], item{it, m.kind})
				lw.write(uid, it, m.kind, OpPut)
			}
		}
	}
	for u, items := range all {
		for _, x := range items {
			switch p := lw.rng.IntN(100); {
			case x.kind == model.KindAppData:
				for range 1 + lw.rng.IntN(4) {
					lw.write(uint32(u), x.it, x.kind, OpPut)
				}
			case p < 20:
				lw.write(uint32(u), x.it, x.kind, OpPut)
			case p < 30:
				lw.write(uint32(u), x.it, x.kind, OpDelete)
			}
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return len(lw.acked)
}

// resting writes the ledger of a large drill: every user's items imported
// in batches of 5,000 through the bulk path, named as the generator names
// them (every 40th batch is ambiguous and imported again), then 5% of the
// users active: each updates, creates or deletes 20 items live. It returns
// the number of items with at least one acknowledged write.
func resting(tb testing.TB, path string, users int) int {
	const runSeed = 7
	w, err := Create(path, time.Now(), Meta{Seed: runSeed, Profile: "large"})
	if err != nil {
		tb.Fatal(err)
	}
	lw := &liveWriter{tb: tb, w: w, rng: rand.New(rand.NewPCG(2, 2)), clock: int64(time.Second), acked: map[uint64]bool{}}
	names := make([]string, users)
	batch := make([]ImportItem, 0, 5000)
	imported, batches := 0, 0
	flush := func() {
		for {
			lw.clock += int64(200 * time.Millisecond)
			t, err := w.InvokeBatch(lw.clock, batch)
			if err != nil {
				tb.Fatal(err)
			}
			batches++
			lw.clock += int64(300 * time.Millisecond)
			out := OK
			if batches%40 == 0 {
				out = Ambiguous
			}
			if err := w.Complete(t, out, lw.clock); err != nil {
				tb.Fatal(err)
			}
			if out == OK {
				imported += len(batch)
				batch = batch[:0]
				return
			}
		}
	}
	for u := range users {
		names[u] = fmt.Sprintf("user%06d", u)
		uid := w.User(names[u])
		for _, m := range itemMix {
			for i := range m.n {
				n := generatedName(runSeed, names[u], m.kind, i)
				batch = append(batch, ImportItem{User: uid, Kind: m.kind, Name: n, Index: i, Collection: collectionOf(names[u], m.kind, n),
					Digest: randomDigest(lw.rng), Size: contentSize(lw.rng, m.kind)})
				if len(batch) == cap(batch) {
					flush()
				}
			}
		}
	}
	if len(batch) > 0 {
		flush()
	}
	fresh := map[uint32]bool{} // live items beyond the imported ones
	for u := 0; u < users; u += 20 {
		for range 20 {
			m := itemMix[lw.rng.IntN(len(itemMix))]
			i := lw.rng.IntN(m.n + 5)
			n := generatedName(runSeed, names[u], m.kind, i)
			it := w.Item(uint32(u), model.ItemKey(m.kind, n), collectionOf(names[u], m.kind, n))
			op := OpPut
			if lw.rng.IntN(10) == 0 {
				op = OpDelete
			}
			lw.write(uint32(u), it, m.kind, op) // until acknowledged
			imported := false
			for j := range m.n {
				imported = imported || generatedName(runSeed, names[u], m.kind, j) == n
			}
			if !imported {
				fresh[it] = true
			}
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return imported + len(fresh)
}
