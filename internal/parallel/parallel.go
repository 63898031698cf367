// Package parallel runs the engine's data-parallel loops on a persistent
// pool of worker goroutines, so that a forward pass does not spawn
// goroutines for every matrix it multiplies.
//
// Work is split in chunks, and each worker first takes the chunks of its
// own contiguous share in order (so that each streams through memory
// sequentially, which the hardware prefetchers need to reach full
// bandwidth); a worker whose share is done steals chunks from the far end
// of the others'. So a worker that the operating system deschedules (a
// busy neighbour on the same core) only delays the chunk it holds: the
// others take the rest of its share, and a worker that has not started by
// the time the work is gone is not waited for at all.
//
// When another process competes for the cores, workers get descheduled in
// the middle of their chunks and loops end up waiting for them, so that
// two threads can be slower than one. The pool therefore measures, now and
// then, loops run with its workers against loops run by the caller alone
// (picked at random among the same stream of loops, so both see the same
// mix of work and the same load) and keeps whichever is faster until the
// next measurement.
//
// Idle workers spin for a short, bounded time waiting for the next loop
// (forward passes issue hundreds of loops per token, microseconds apart)
// and then block, so an idle pool costs no CPU.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinFor bounds how long an idle worker, or a caller waiting for the last
// chunks, polls before blocking.
const spinFor = 100 * time.Microsecond

// Mode selection: every so often (probeEvery, doubled while the choice
// stays the same, up to probeMax) loops run in the other mode than the
// current one at random, one in four, until probeSamples loops of each mode
// have been timed among the sizes seen in both (at most probeLoops loops or
// probeDur; without enough samples the mode stays). Loops are grouped by size (a forward pass
// repeats the same few loop sizes), and running alone is chosen when the
// mix of loops seen would take at least soloGain times longer with the
// workers, each size's average time in each mode weighted by how often it
// came; going back to the workers likewise needs them soloGain times
// faster.
var (
	probeSamples = 48
	probeLoops   = 4096
	probeDur     = time.Second
	probeFirst   = 200 * time.Millisecond
	probeEvery   = 500 * time.Millisecond
	probeMax     = 8 * time.Second
)

const soloGain = 1.1

// Pool is a fixed set of workers. Its For method splits a range of work
// items into chunks, runs them on the workers and the calling goroutine,
// and waits for all of them. Concurrent For calls are serialised.
type Pool struct {
	n  int
	mu sync.Mutex // one For at a time

	// The loop under way, published by bumping gen.
	fn     func(worker, lo, hi int)
	total  int
	chunk  int
	shares []share // per worker: the chunks it has left

	// state is the loop's generation (high 32 bits), a closed bit and the
	// number of workers inside the loop: a worker joins only an open loop
	// of the generation it was woken for, and the caller, once no chunk is
	// left, closes the loop and waits only for the workers that joined.
	state atomic.Uint64
	gen   atomic.Uint64

	workers []*worker
	done    wakeup // the caller, waiting for the joined workers
	allDone func() bool
	closed  atomic.Bool
	wg      sync.WaitGroup

	// Mode selection (caller only, under mu).
	solo      bool          // loops run on the caller alone
	nextProbe time.Time     // when to measure again (zero: not started)
	probeFor  time.Duration // the wait before the next measurement
	probeLeft int           // loops left in the measurement under way
	probeEnd  time.Time     // when the measurement under way ends at the latest
	probe     [64]probeSlot // per loop size: time and count in each mode
	rng       uint64
}

// probeSlot holds the measurements of loops of one size (n items, the
// slot's key) in each mode: 0 with the workers, 1 alone.
type probeSlot struct {
	n     int
	time  [2]time.Duration
	count [2]int
}

const (
	closedBit  = 1 << 31
	activeMask = closedBit - 1
)

// wakeup lets one goroutine block until another signals it, without a
// lost wake-up: sleeping is set before the final check, and the waker
// only sends when it wins the sleeping→awake transition.
type wakeup struct {
	sleeping atomic.Bool
	ch       chan struct{}
}

func newWakeup() wakeup { return wakeup{ch: make(chan struct{}, 1)} }

// wait blocks until ready() is true, spinning briefly first.
func (w *wakeup) wait(ready func() bool) {
	if spin(ready) {
		return
	}
	for {
		w.sleeping.Store(true)
		if ready() {
			if w.sleeping.CompareAndSwap(true, false) {
				return
			}
			<-w.ch // the waker won and is sending
			return
		}
		<-w.ch
		if ready() {
			return
		}
	}
}

// wake wakes the goroutine if it is blocked (or about to block) in wait.
func (w *wakeup) wake() {
	if w.sleeping.CompareAndSwap(true, false) {
		w.ch <- struct{}{}
	}
}

// spin polls ready for up to spinFor.
func spin(ready func() bool) bool {
	var start time.Time
	for i := 0; ; i++ {
		if ready() {
			return true
		}
		if i&63 == 63 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > spinFor {
				return false
			}
			if i&1023 == 1023 {
				runtime.Gosched()
			}
		}
	}
}

// share is a worker's remaining chunks [lo, hi), packed in one word so
// that the owner (taking from lo) and thieves (taking from hi) agree with
// one compare-and-swap. Padded to its own cache line.
type share struct {
	r atomic.Uint64
	_ [56]byte
}

func pack(lo, hi int) uint64 { return uint64(lo)<<32 | uint64(uint32(hi)) }

// take removes the first chunk (owner) or the last (thief) of the share.
func (s *share) take(last bool) (int, bool) {
	for {
		v := s.r.Load()
		lo, hi := int(v>>32), int(uint32(v))
		if lo >= hi {
			return 0, false
		}
		c, nv := lo, pack(lo+1, hi)
		if last {
			c, nv = hi-1, pack(lo, hi-1)
		}
		if s.r.CompareAndSwap(v, nv) {
			return c, true
		}
	}
}

type worker struct {
	id    int
	seen  uint64
	wake  wakeup
	ready func() bool // gen has moved past seen
}

// New starts a pool of n workers; n <= 0 means one per CPU. The caller's
// goroutine takes part in every loop, so n-1 goroutines are started.
func New(n int) *Pool {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	p := &Pool{n: n, done: newWakeup(), shares: make([]share, n), probeFor: probeEvery, rng: 0x9e3779b97f4a7c15}
	p.allDone = func() bool { return p.state.Load()&activeMask == 0 }
	for i := 1; i < n; i++ {
		w := &worker{id: i, wake: newWakeup()}
		w.ready = func() bool { return p.gen.Load() != w.seen }
		p.workers = append(p.workers, w)
		p.wg.Add(1)
		go p.run(w)
	}
	return p
}

// Size is the number of workers, the caller included.
func (p *Pool) Size() int { return p.n }

func (p *Pool) run(w *worker) {
	defer p.wg.Done()
	for {
		w.wake.wait(w.ready)
		g := p.gen.Load()
		w.seen = g
		if p.closed.Load() {
			return
		}
		if !p.join(g) {
			continue // that loop is already over
		}
		p.work(w.id)
		if s := p.state.Add(^uint64(0)); s&activeMask == 0 && s&closedBit != 0 {
			p.done.wake()
		}
	}
}

// join enters the loop of generation g if it is still open.
func (p *Pool) join(g uint64) bool {
	for {
		s := p.state.Load()
		if s>>32 != g&0xffffffff || s&closedBit != 0 {
			return false
		}
		if p.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// work runs the chunks of worker id's share, then steals the others'
// until none are left.
func (p *Pool) work(id int) {
	fn, total, chunk := p.fn, p.total, p.chunk
	run := func(c int) { fn(id, c*chunk, min((c+1)*chunk, total)) }
	for {
		c, ok := p.shares[id].take(false)
		if !ok {
			break
		}
		run(c)
	}
	for k := 1; k < p.n; k++ {
		s := &p.shares[(id+k)%p.n]
		for {
			c, ok := s.take(true)
			if !ok {
				break
			}
			run(c)
		}
	}
}

// For calls fn over [0, n) in chunks of grain items (the last may be
// shorter) and returns when all are done. Chunks are handed out
// dynamically; worker, below Size(), identifies the goroutine running the
// chunk, so callers can give each worker its own scratch memory. Each
// worker starts with a contiguous share of the chunks. A loop of a single
// chunk runs on the caller alone, and so do all loops while running alone
// measured faster (see the package comment).
func (p *Pool) For(n, grain int, fn func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	if n <= grain || p.n <= 1 || len(p.workers) == 0 {
		fn(0, 0, n)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	solo := p.solo
	switch {
	case p.probeLeft > 0:
		p.rng ^= p.rng << 13
		p.rng ^= p.rng >> 7
		p.rng ^= p.rng << 17
		solo = p.solo != (p.rng&3 == 0)
	case p.nextProbe.IsZero():
		p.nextProbe = start.Add(probeFirst)
	case start.After(p.nextProbe):
		p.probeLeft, p.probe, p.probeEnd = probeLoops, [64]probeSlot{}, start.Add(probeDur)
	}
	if solo {
		fn(0, 0, n)
	} else {
		p.parallel(n, grain, fn)
	}
	if p.probeLeft > 0 {
		m := 0
		if solo {
			m = 1
		}
		// Open addressing by n; a full table drops the sample.
		for i, k := 0, uint(uint32(n)*0x9e3779b1>>26); i < len(p.probe); i, k = i+1, (k+1)%uint(len(p.probe)) {
			sl := &p.probe[k]
			if sl.n == n || sl.count == [2]int{} {
				sl.n = n
				sl.time[m] += time.Since(start)
				sl.count[m]++
				break
			}
		}
		if p.probeLeft--; p.probeLeft == 0 || start.After(p.probeEnd) || p.sampled() {
			p.probeLeft = 0
			p.choose(start)
		}
	}
}

// parallel runs one loop on the workers and the caller.
func (p *Pool) parallel(n, grain int, fn func(worker, lo, hi int)) {
	p.fn, p.total, p.chunk = fn, n, grain
	chunks := (n + grain - 1) / grain
	for i := range p.shares {
		p.shares[i].r.Store(pack(chunks*i/p.n, chunks*(i+1)/p.n))
	}
	g := p.gen.Add(1)
	p.state.Store((g & 0xffffffff) << 32)
	for _, w := range p.workers {
		w.wake.wake()
	}
	p.work(0)
	// No chunk is left to take: close the loop to latecomers and wait for
	// the workers inside it.
	if s := p.state.Add(closedBit); s&activeMask != 0 {
		p.done.wait(p.allDone)
	}
	p.fn = nil
}

// matched returns the time and count of each mode over the loop sizes
// measured in both modes.
func (p *Pool) matched() (t [2]float64, c [2]int) {
	for _, sl := range p.probe {
		if sl.count[0] > 0 && sl.count[1] > 0 {
			w := float64(sl.count[0] + sl.count[1])
			for m := range t {
				t[m] += w * sl.time[m].Seconds() / float64(sl.count[m])
				c[m] += sl.count[m]
			}
		}
	}
	return t, c
}

// sampled reports whether the measurement has enough loops of each mode.
func (p *Pool) sampled() bool {
	_, c := p.matched()
	return c[0] >= probeSamples && c[1] >= probeSamples
}

// choose ends a measurement: it keeps running alone or with the workers,
// whichever had the shorter loops, and schedules the next measurement,
// later when the choice did not change.
func (p *Pool) choose(now time.Time) {
	t, c := p.matched()
	par, alone := t[0], t[1]
	solo := p.solo
	if c[0] >= probeSamples && c[1] >= probeSamples {
		switch {
		case alone*soloGain < par:
			solo = true
		case par*soloGain < alone:
			solo = false
		}
	}
	if solo == p.solo {
		p.probeFor = min(2*p.probeFor, probeMax)
	} else {
		p.probeFor = probeEvery
	}
	p.solo = solo
	p.nextProbe = now.Add(p.probeFor)
}

// Chunks is a helper for callers choosing a grain: it returns a chunk size
// that splits n items into about k chunks per worker, at least min items.
func (p *Pool) Chunks(n, k, min int) int {
	c := (n + p.n*k - 1) / (p.n * k)
	if c < min {
		c = min
	}
	return c
}

// Close stops the workers. The pool must not be used afterwards.
func (p *Pool) Close() {
	if p.closed.Swap(true) {
		return
	}
	p.gen.Add(1)
	for _, w := range p.workers {
		w.wake.wake()
	}
	p.wg.Wait()
	p.workers = nil
	p.n = 1
}
