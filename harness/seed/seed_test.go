package seed

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
)

func TestDeriveIsDeterministicAndSeparatesParts(t *testing.T) {
	a, b := Derive(42, "plan", "user1"), Derive(42, "plan", "user1")
	for i := 0; i < 100; i++ {
		if x, y := a.Uint64(), b.Uint64(); x != y {
			t.Fatalf("draw %d: %d != %d for the same seed and parts", i, x, y)
		}
	}
	distinct := map[uint64]string{}
	for name, r := range map[string]interface{ Uint64() uint64 }{
		"other seed":  Derive(43, "plan", "user1"),
		"other part":  Derive(42, "plan", "user2"),
		"split parts": Derive(42, "pla", "nuser1"),
		"base":        Derive(42, "plan", "user1"),
	} {
		v := r.Uint64()
		if prev, ok := distinct[v]; ok {
			t.Errorf("%s and %s draw the same first value", name, prev)
		}
		distinct[v] = name
	}
}

// TestItemUUIDIsDerive: ItemUUID is the first two draws of the item's
// Derive source, so a name made from either is the same.
func TestItemUUIDIsDerive(t *testing.T) {
	for _, c := range []struct {
		seed       int64
		user, kind string
		index      int
	}{{42, "alice", "contact", 0}, {-7, "bob@example.com", "event", 12345}, {0, "", "note", -1}, {1 << 62, "ü", "todo", 1 << 40}} {
		r := Derive(c.seed, "item", c.user, c.kind, strconv.Itoa(c.index))
		var want [16]byte
		binary.LittleEndian.PutUint64(want[0:8], r.Uint64())
		binary.LittleEndian.PutUint64(want[8:16], r.Uint64())
		want[6] = want[6]&0x0f | 0x40
		want[8] = want[8]&0x3f | 0x80
		if got := ItemUUID(c.seed, c.user, c.kind, c.index); got != want {
			t.Errorf("ItemUUID(%+v) = %x, want %x", c, got, want)
		}
	}
	long := strings.Repeat("x", 300) // past the stack buffer
	if ItemUUID(1, long, "contact", 3) == ItemUUID(1, long[:299], "contact", 3) {
		t.Error("a long user name does not change the UUID")
	}
	u := [16]byte{0x5f, 0x1c, 0x0c, 0x9e, 0x3d, 0x7b, 0x4f, 0x0e, 0x9a, 0x51, 0x0c, 0x2d, 0x6c, 0x1e, 0x7b, 0x42}
	if got := FormatUUID(u); got != "5f1c0c9e-3d7b-4f0e-9a51-0c2d6c1e7b42" {
		t.Errorf("FormatUUID = %q", got)
	}
}
