package parallel

import (
	"sync/atomic"
	"testing"
)

func TestForCoversRangeOnce(t *testing.T) {
	for _, workers := range []int{1, 2, 3, 8} {
		p := New(workers)
		for _, n := range []int{0, 1, 2, 7, 64, 1000, 1001} {
			for _, grain := range []int{0, 1, 4, 32} {
				hits := make([]int32, n)
				p.For(n, grain, func(w, lo, hi int) {
					if w < 0 || w >= p.Size() {
						t.Errorf("worker index %d out of range", w)
					}
					if grain > 1 && lo%grain != 0 {
						t.Errorf("chunk starts at %d, not a multiple of grain %d", lo, grain)
					}
					for i := lo; i < hi; i++ {
						atomic.AddInt32(&hits[i], 1)
					}
				})
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("workers=%d n=%d grain=%d: item %d done %d times", workers, n, grain, i, h)
					}
				}
			}
		}
		p.Close()
	}
}
