package canon_test

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// benchBodies generates n bodies of kind k with the small profile, the shape
// of a drill's data: versions 0 to 2, one user per 25 items.
func benchBodies(b *testing.B, k model.Kind, n int) [][]byte {
	p, err := profile.Load("small")
	if err != nil {
		b.Fatal(err)
	}
	g := gen.New(20091002, p)
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Item(fmt.Sprintf("user%d", i/25), k, i%25, i%3).Body
	}
	return out
}

// cpuNanos returns the CPU time (user and system) this process has used.
func cpuNanos(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkDigest digests generated bodies round robin. Besides ns/op (wall
// time, noisy on a shared machine) it reports the process's CPU time per item
// (cpu-ns/op, garbage collection included) and items per CPU-second.
//
//	go test ./harness/canon -run '^$' -bench Digest -benchmem -count 5
func BenchmarkDigest(b *testing.B) {
	for _, k := range []model.Kind{model.KindContact, model.KindEvent, model.KindTodo, model.KindNote} {
		b.Run(k.String(), func(b *testing.B) {
			bodies := benchBodies(b, k, 1000)
			var size int64
			for _, body := range bodies {
				size += int64(len(body))
			}
			b.SetBytes(size / int64(len(bodies)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuNanos(b)
			for i := 0; i < b.N; i++ {
				if _, err := canon.Digest(k, bodies[i%len(bodies)]); err != nil {
					b.Fatal(err)
				}
			}
			cpu := cpuNanos(b) - cpu0
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.N)/(float64(cpu)/1e9), "items/cpu-s")
		})
	}
}
