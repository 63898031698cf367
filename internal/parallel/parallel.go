// Package parallel runs the engine's data-parallel loops on a persistent
// pool of worker goroutines, so that a forward pass does not spawn
// goroutines for every matrix it multiplies.
package parallel

import (
	"runtime"
	"sync"
)

// Pool is a fixed set of workers. Its For method splits a range of work
// items into contiguous chunks, one per worker, and waits for all of them.
// A Pool is safe for use by one caller at a time per For call; concurrent
// For calls are serialised.
type Pool struct {
	n    int
	mu   sync.Mutex
	jobs []chan job
	wg   sync.WaitGroup
}

type job struct {
	fn     func(worker, lo, hi int)
	worker int
	lo, hi int
}

// New starts a pool of n workers; n <= 0 means one per CPU. The caller's
// goroutine does the first chunk itself, so n-1 goroutines are started.
func New(n int) *Pool {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	p := &Pool{n: n}
	for i := 1; i < n; i++ {
		ch := make(chan job)
		p.jobs = append(p.jobs, ch)
		go func() {
			for j := range ch {
				j.fn(j.worker, j.lo, j.hi)
				p.wg.Done()
			}
		}()
	}
	return p
}

// Size is the number of workers, the caller included.
func (p *Pool) Size() int { return p.n }

// For calls fn over [0, n) split into at most Size() contiguous chunks whose
// boundaries are multiples of grain (except the last), and returns when all
// chunks are done. worker is the chunk's index, below Size(), so callers can
// give each chunk its own scratch memory.
func (p *Pool) For(n, grain int, fn func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	units := (n + grain - 1) / grain
	workers := p.n
	if workers > units {
		workers = units
	}
	if workers <= 1 {
		fn(0, 0, n)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	per := units / workers
	extra := units % workers
	chunk := func(w int) (lo, hi int) {
		// Units before worker w: w*per plus one for each earlier worker
		// that took an extra unit.
		before := w*per + min(w, extra)
		u := per
		if w < extra {
			u++
		}
		return min(before*grain, n), min((before+u)*grain, n)
	}
	p.wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		lo, hi := chunk(w)
		p.jobs[w-1] <- job{fn, w, lo, hi}
	}
	lo, hi := chunk(0)
	fn(0, lo, hi)
	p.wg.Wait()
}

// Close stops the workers. The pool must not be used afterwards.
func (p *Pool) Close() {
	for _, ch := range p.jobs {
		close(ch)
	}
	p.jobs = nil
	p.n = 1
}
