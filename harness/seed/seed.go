// Package seed derives every random choice of a drill from its one seed: the
// workload's data and plan, the fault schedule, which files a fault damages. A
// source derived from (seed, parts) depends on nothing else, so the same seed
// replays the same run on any machine, and one part's choices never shift
// another's.
package seed

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
)

// Derive returns a random source that depends only on the seed and the parts,
// e.g. Derive(s, "plan", user) or Derive(s, "fault-schedule", spec).
func Derive(seed int64, parts ...string) *rand.Rand {
	h := sha256.New()
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(seed))
	h.Write(buf[:])
	for _, p := range parts {
		// Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
		binary.LittleEndian.PutUint64(buf[:], uint64(len(p)))
		h.Write(buf[:])
		h.Write([]byte(p))
	}
	sum := h.Sum(nil)
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[0:8]), binary.LittleEndian.Uint64(sum[8:16])))
}
