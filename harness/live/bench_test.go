package live

import (
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/drill"
)

// BenchmarkProgress is what the drill pays per progress sample (two a second
// in a load) with 0, 1 and 10 viewers connected; each viewer drains its
// stream as a connected browser's handler does.
func BenchmarkProgress(b *testing.B) {
	for _, viewers := range []int{0, 1, 10} {
		b.Run(map[int]string{0: "viewers=0", 1: "viewers=1", 10: "viewers=10"}[viewers], func(b *testing.B) {
			h, c := testHub(false)
			for range viewers {
				_, ch, cancel := h.Subscribe()
				defer cancel()
				go func() {
					for range ch {
					}
				}()
			}
			b.ReportAllocs()
			var n int64
			for b.Loop() {
				n++
				h.Progress(drill.Progress{At: c.add(500 * time.Millisecond), Phase: "load", Done: n, Total: 1 << 40, Unit: "writes", Acked: n})
			}
		})
	}
}
