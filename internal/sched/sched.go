// Package sched decides which models are loaded: it loads a model on first
// use, shares its runner among concurrent requests, keeps it for its
// keep_alive after the last one, and evicts idle models to stay within a
// memory budget and a count of loaded models.
package sched

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golem-llm/golem/internal/runner"
)

// Config sets the scheduler's limits. Zero values take the defaults.
type Config struct {
	NumParallel      int           // sequences per model (default 4)
	MaxLoaded        int           // models loaded at once (default 3)
	MemoryBudget     int64         // bytes for weights + KV caches (default: 90% of physical memory)
	DefaultKeepAlive time.Duration // how long an idle model stays loaded (default 5m)
	MaxQueue         int           // waiting requests per model before 503 (default 512)
	Threads          int           // worker threads per model (0 = one per CPU)
	Batch            int           // most tokens per forward pass (0 = model default)
	// Resolve maps a model name to its GGUF file. It is required.
	Resolve func(name string) (path string, err error)
}

// LoadOptions are the per-request settings that affect loading.
type LoadOptions struct {
	NumCtx    int            // context per sequence; 0 = default (4096 capped by the model)
	KeepAlive *time.Duration // nil = the default; negative = forever; 0 = unload when idle
}

// ErrTooLarge means the model cannot fit in the memory budget even alone.
var ErrTooLarge = errors.New("model requires more memory than the budget allows")

// Scheduler is safe for concurrent use.
type Scheduler struct {
	cfg Config

	mu      sync.Mutex
	models  map[string]*entry // by file path
	changed chan struct{}     // closed and replaced on every state change
	closed  bool
}

type entry struct {
	path      string
	name      string // the name it was last requested by
	numCtx    int
	runner    *runner.Runner
	loaded    *runner.Loaded
	size      int64
	refs      int
	keepAlive time.Duration
	expires   time.Time // when idle: the moment it is unloaded
	timer     *time.Timer
	loading   chan struct{} // closed when loading ends (runner or err set)
	err       error
	unloading bool
}

// New returns a scheduler. Close unloads everything.
func New(cfg Config) *Scheduler {
	if cfg.NumParallel <= 0 {
		cfg.NumParallel = 4
	}
	if cfg.MaxLoaded <= 0 {
		cfg.MaxLoaded = 3
	}
	if cfg.MemoryBudget <= 0 {
		cfg.MemoryBudget = physicalMemory() * 9 / 10
	}
	if cfg.DefaultKeepAlive == 0 {
		cfg.DefaultKeepAlive = 5 * time.Minute
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 512
	}
	return &Scheduler{cfg: cfg, models: map[string]*entry{}, changed: make(chan struct{})}
}

// Config returns the configuration after defaults.
func (s *Scheduler) Config() Config { return s.cfg }

// Lease is a model in use by one request.
type Lease struct {
	Runner *runner.Runner
	Name   string
	s      *Scheduler
	e      *entry
	once   sync.Once
}

// Release ends the lease; the model stays loaded for its keep-alive.
func (l *Lease) Release() {
	l.once.Do(func() { l.s.release(l.e) })
}

func (s *Scheduler) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Acquire returns the runner of model name, loading it if needed, and
// waiting while memory is held by models in use.
func (s *Scheduler) Acquire(ctx context.Context, name string, opts LoadOptions) (*Lease, error) {
	path, err := s.cfg.Resolve(name)
	if err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, runner.ErrClosed
		}
		e := s.models[path]
		switch {
		case e != nil && e.loading != nil:
			ch := e.loading
			s.mu.Unlock()
			if err := wait(ctx, ch); err != nil {
				return nil, err
			}
			continue
		case e != nil && e.err != nil:
			delete(s.models, path)
			s.mu.Unlock()
			continue
		case e != nil && !e.unloading && (opts.NumCtx == 0 || opts.NumCtx == e.numCtx || e.numCtx == 0 && opts.NumCtx == e.runner.Config().NumCtx):
			e.refs++
			e.name = name
			s.setKeepAlive(e, opts.KeepAlive)
			s.stopTimer(e)
			s.mu.Unlock()
			return &Lease{Runner: e.runner, Name: name, s: s, e: e}, nil
		case e != nil:
			// Loaded with another context size (or being unloaded): reload
			// once it is idle.
			if e.refs == 0 && !e.unloading {
				s.unloadLocked(e)
				s.mu.Unlock()
				continue
			}
			ch := s.changed
			s.mu.Unlock()
			if err := wait(ctx, ch); err != nil {
				return nil, err
			}
			continue
		}
		// Not loaded: make room, then load outside the lock.
		need, err := estimate(path, opts.NumCtx, s.cfg.NumParallel)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if need > s.cfg.MemoryBudget {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: %s needs about %s, the budget is %s", ErrTooLarge, name, humanBytes(need), humanBytes(s.cfg.MemoryBudget))
		}
		if !s.makeRoomLocked(need) {
			ch := s.changed
			s.mu.Unlock()
			if err := wait(ctx, ch); err != nil {
				return nil, err
			}
			continue
		}
		e = &entry{path: path, name: name, numCtx: opts.NumCtx, size: need, loading: make(chan struct{}), refs: 1}
		s.setKeepAlive(e, opts.KeepAlive)
		s.models[path] = e
		s.mu.Unlock()

		l, err := runner.LoadFile(path, s.cfg.Threads)
		var r *runner.Runner
		if err == nil {
			numCtx := opts.NumCtx
			if numCtx <= 0 {
				numCtx = min(4096, l.ContextLength())
			}
			r, err = runner.NewRunner(l, runner.Config{NumParallel: s.cfg.NumParallel, NumCtx: numCtx, Batch: s.cfg.Batch, MaxQueue: s.cfg.MaxQueue})
			if err != nil {
				l.Close()
			}
		}
		s.mu.Lock()
		e.runner, e.loaded, e.err = r, l, err
		if err == nil {
			e.numCtx = r.Config().NumCtx
			e.size = l.Size() + r.Stats().KVCacheBytes
		} else {
			e.refs = 0
		}
		close(e.loading)
		e.loading = nil
		s.broadcast()
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return &Lease{Runner: r, Name: name, s: s, e: e}, nil
	}
}

// wait blocks until ch is closed or ctx ends.
func wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Scheduler) setKeepAlive(e *entry, ka *time.Duration) {
	if ka != nil {
		e.keepAlive = *ka
	} else if e.keepAlive == 0 && e.runner == nil {
		e.keepAlive = s.cfg.DefaultKeepAlive
	}
}

func (s *Scheduler) stopTimer(e *entry) {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	e.expires = time.Time{}
}

// makeRoomLocked evicts idle models, soonest to expire first, until need
// more bytes and one more model fit. It reports whether they do.
func (s *Scheduler) makeRoomLocked(need int64) bool {
	for {
		var used int64
		count := 0
		var idle []*entry
		for _, e := range s.models {
			used += e.size
			count++
			if e.refs == 0 && e.loading == nil && !e.unloading {
				idle = append(idle, e)
			}
		}
		if used+need <= s.cfg.MemoryBudget && count < s.cfg.MaxLoaded {
			return true
		}
		if len(idle) == 0 {
			return false
		}
		sort.Slice(idle, func(i, j int) bool { return idle[i].expires.Before(idle[j].expires) })
		s.unloadLocked(idle[0])
	}
}

// unloadLocked removes an idle entry and frees it in the background.
func (s *Scheduler) unloadLocked(e *entry) {
	s.stopTimer(e)
	e.unloading = true
	delete(s.models, e.path)
	s.broadcast()
	r, l := e.runner, e.loaded
	go func() {
		if r != nil {
			r.Close()
		}
		if l != nil {
			l.Close()
		}
	}()
}

func (s *Scheduler) release(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.refs--
	if e.refs > 0 || e.unloading {
		s.broadcast()
		return
	}
	switch {
	case e.keepAlive == 0:
		s.unloadLocked(e)
	case e.keepAlive < 0:
		e.expires = time.Time{} // forever
	default:
		e.expires = time.Now().Add(e.keepAlive)
		e.timer = time.AfterFunc(e.keepAlive, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if cur := s.models[e.path]; cur == e && e.refs == 0 && !e.unloading && !e.expires.After(time.Now()) {
				s.unloadLocked(e)
			}
		})
	}
	s.broadcast()
}

// Unload unloads model name now if idle, or as soon as its requests end.
// It reports false when the model was not loaded.
func (s *Scheduler) Unload(name string) (bool, error) {
	path, err := s.cfg.Resolve(name)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.models[path]
	if e == nil || e.loading != nil {
		return false, nil
	}
	if e.refs == 0 {
		s.unloadLocked(e)
	} else {
		e.keepAlive = 0
	}
	return true, nil
}

// ModelStatus describes a loaded model, for /api/ps.
type ModelStatus struct {
	Name      string
	Path      string
	Size      int64     // bytes of weights and KV cache
	ExpiresAt time.Time // zero while in use or when kept forever
	Forever   bool
	NumCtx    int
	InUse     int
	Runner    *runner.Runner
}

// Running lists the loaded models, most recently expiring last.
func (s *Scheduler) Running() []ModelStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ModelStatus
	for _, e := range s.models {
		if e.loading != nil || e.runner == nil {
			continue
		}
		exp := e.expires
		if e.refs > 0 && e.keepAlive > 0 {
			exp = time.Now().Add(e.keepAlive)
		}
		out = append(out, ModelStatus{Name: e.name, Path: e.path, Size: e.size, ExpiresAt: exp,
			Forever: e.keepAlive < 0, NumCtx: e.numCtx, InUse: e.refs, Runner: e.runner})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Preload loads each model and keeps it loaded forever (until unloaded).
func (s *Scheduler) Preload(ctx context.Context, names []string) error {
	forever := time.Duration(-1)
	for _, n := range names {
		l, err := s.Acquire(ctx, n, LoadOptions{KeepAlive: &forever})
		if err != nil {
			return fmt.Errorf("preloading %s: %w", n, err)
		}
		l.Release()
	}
	return nil
}

// Close unloads every model; later Acquire calls fail.
func (s *Scheduler) Close() {
	s.mu.Lock()
	s.closed = true
	var all []*entry
	for _, e := range s.models {
		all = append(all, e)
	}
	s.models = map[string]*entry{}
	s.broadcast()
	s.mu.Unlock()
	for _, e := range all {
		if e.loading != nil {
			<-e.loading
		}
		s.stopTimer(e)
		if e.runner != nil {
			e.runner.Close()
		}
		if e.loaded != nil {
			e.loaded.Close()
		}
	}
}

// physicalMemory reads MemTotal from /proc/meminfo, or assumes 8 GiB.
func physicalMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 8 << 30
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
