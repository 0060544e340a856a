package gen

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	fdseed "github.com/firedrill/firedrill/harness/seed"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// Derive returns a random source that depends only on seed and parts (see
// harness/seed): any item version has its own source, so it is regenerated
// without replaying the run.
func Derive(seed int64, parts ...string) *rand.Rand { return fdseed.Derive(seed, parts...) }

func itoa(i int) string { return strconv.Itoa(i) }

// between returns a uniform integer in [lo, hi].
func between(r *rand.Rand, lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// digits replaces each '#' in pattern with a random digit.
func digits(r *rand.Rand, pattern string) string {
	b := []byte(pattern)
	for i, c := range b {
		if c == '#' {
			b[i] = byte('0' + r.IntN(10))
		}
	}
	return string(b)
}

// uuid returns a random (version 4 layout) UUID from r.
func uuid(r *rand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:16], r.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// size picks a bucket by weight and a size log-uniformly within it.
func size(r *rand.Rand, buckets []profile.Bucket) int {
	total := 0.0
	for _, b := range buckets {
		total += b.Weight
	}
	x := r.Float64() * total
	b := buckets[len(buckets)-1]
	for _, c := range buckets {
		if x < c.Weight {
			b = c
			break
		}
		x -= c.Weight
	}
	lo, hi := math.Log(float64(max(b.Min, 1))), math.Log(float64(max(b.Max, 1)))
	n := int(math.Exp(lo + r.Float64()*(hi-lo)))
	return min(max(n, int(b.Min)), int(b.Max))
}
