package parallel

import (
	"sync/atomic"
	"testing"
	"time"
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

// TestForAllocatesNothing checks that a loop with a prepared function value
// costs no allocation, so forward passes can be allocation-free.
func TestForAllocatesNothing(t *testing.T) {
	p := New(2)
	defer p.Close()
	var sum atomic.Int64
	fn := func(w, lo, hi int) { sum.Add(int64(hi - lo)) }
	allocs := testing.AllocsPerRun(200, func() { p.For(1000, 10, fn) })
	if allocs != 0 {
		t.Errorf("For allocates %v times per call", allocs)
	}
	if sum.Load() != 201*1000 {
		t.Errorf("covered %d items, want %d", sum.Load(), 201*1000)
	}
}

// TestForIdleWorkersBlock checks that workers stop spinning after a loop:
// with a pool of 4 idle for a while, the process uses (almost) no CPU.
func TestForIdleWorkersBlock(t *testing.T) {
	p := New(4)
	defer p.Close()
	p.For(100, 1, func(w, lo, hi int) {})
	time.Sleep(20 * time.Millisecond) // past the spin window
	before := cpuTime(t)
	time.Sleep(200 * time.Millisecond)
	if used := cpuTime(t) - before; used > 50*time.Millisecond {
		t.Errorf("idle pool used %v of CPU in 200ms", used)
	}
	// And it still works after sleeping.
	var n atomic.Int64
	p.For(100, 1, func(w, lo, hi int) { n.Add(int64(hi - lo)) })
	if n.Load() != 100 {
		t.Errorf("covered %d items after idling, want 100", n.Load())
	}
}

// TestForWithStalledWorker runs loops while one worker's chunks are slow
// (as when its core is busy): the others take the remaining chunks, so a
// loop costs about one slow chunk, not a share of the work per worker.
func TestForWithStalledWorker(t *testing.T) {
	p := New(2)
	defer p.Close()
	var covered, stalled atomic.Int64
	start := time.Now()
	p.For(200, 1, func(w, lo, hi int) {
		if w == 1 {
			stalled.Add(1)
			time.Sleep(50 * time.Millisecond)
		} else {
			time.Sleep(time.Millisecond)
		}
		covered.Add(int64(hi - lo))
	})
	if covered.Load() != 200 {
		t.Fatalf("covered %d items, want 200", covered.Load())
	}
	if stalled.Load() == 0 {
		t.Fatalf("the second worker never took a chunk")
	}
	// Static halves would take 100 × 50ms on the stalled worker.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("loop with a stalled worker took %v (%d chunks on it)", d, stalled.Load())
	}
}

// TestForRunsAloneUnderContention simulates a worker that keeps being
// descheduled in the middle of its chunks: the pool's measurement finds
// loops faster on the caller alone (one call covering the whole range) and
// switches to that; when the worker is fast again, a later measurement
// brings it back.
func TestForRunsAloneUnderContention(t *testing.T) {
	defer func(l int, f, e time.Duration) { probeSamples, probeFirst, probeEvery = l, f, e }(probeSamples, probeFirst, probeEvery)
	probeSamples, probeFirst, probeEvery = 4, time.Millisecond, 20*time.Millisecond
	p := New(2)
	defer p.Close()
	var stalling atomic.Bool
	stalling.Store(true)
	busy := func(d time.Duration) {
		for start := time.Now(); time.Since(start) < d; {
		}
	}
	var calls, worker1 atomic.Int32
	loop := func() {
		calls.Store(0)
		worker1.Store(0)
		p.For(64, 1, func(w, lo, hi int) {
			calls.Add(1)
			if w == 1 {
				worker1.Add(1)
				if stalling.Load() {
					time.Sleep(3 * time.Millisecond)
					return
				}
			}
			busy(10 * time.Microsecond)
		})
	}
	alone := func() bool { return calls.Load() == 1 && worker1.Load() == 0 }
	deadline := time.Now().Add(5 * time.Second)
	for run := 0; ; run++ {
		loop()
		if !alone() {
			run = 0
		}
		if run == 20 { // twenty loops in a row alone: switched
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool kept using a worker that stalls every loop")
		}
	}
	stalling.Store(false)
	for used := false; !used; {
		loop()
		used = worker1.Load() > 0
		if !used && time.Now().After(deadline.Add(5*time.Second)) {
			t.Fatalf("the pool did not use its worker again once it was fast")
		}
	}
}
