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
	"strconv"
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

// ItemUUID returns the UUID of a generated item: the first two draws of
// Derive(seed, "item", user, kind, strconv.Itoa(index)), little-endian, with
// the version-4 and variant bits set. It is the UID (and the name, before its
// extension) the workload generator gives the user's index-th item of kind
// (model.Kind.String form), and a pure function of its arguments: the ledger
// stores (kind, index) instead of a generated name and recomputes the name
// from the run's seed. It allocates nothing for names up to 200 bytes, so
// recomputing millions of names stays cheap.
func ItemUUID(seed int64, user, kind string, index int) [16]byte {
	var stack [256]byte
	b := stack[:0]
	b = binary.LittleEndian.AppendUint64(b, uint64(seed))
	for _, p := range [...]string{"item", user, kind} {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(p)))
		b = append(b, p...)
	}
	var num [20]byte
	idx := strconv.AppendInt(num[:0], int64(index), 10)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(idx)))
	b = append(b, idx...)
	sum := sha256.Sum256(b)
	var src rand.PCG
	src.Seed(binary.LittleEndian.Uint64(sum[0:8]), binary.LittleEndian.Uint64(sum[8:16]))
	var u [16]byte
	binary.LittleEndian.PutUint64(u[0:8], src.Uint64())
	binary.LittleEndian.PutUint64(u[8:16], src.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// FormatUUID writes u in the canonical lower-case 8-4-4-4-12 form.
func FormatUUID(u [16]byte) string {
	const digits = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = digits[c>>4], digits[c&15]
		j += 2
	}
	return string(s[:])
}
