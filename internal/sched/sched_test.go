package sched

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/testutil"
)

func resolver(t *testing.T) func(string) (string, error) {
	files := map[string]string{
		"stories":  testutil.Shared(t, "testdata", "models", "stories260K.gguf"),
		"stories8": testutil.Shared(t, "testdata", "models", "stories260K-q8_0-mix.gguf"),
		"qwen2":    testutil.Shared(t, "testdata", "models", "synthetic", "syn-qwen2-256-Q8_0.gguf"),
		"llama":    testutil.Shared(t, "testdata", "models", "synthetic", "syn-llama-256-Q4_0.gguf"),
		"bert":     testutil.Shared(t, "testdata", "models", "synthetic", "syn-bert-128-Q8_0.gguf"),
	}
	return func(name string) (string, error) {
		if p, ok := files[name]; ok {
			return p, nil
		}
		return "", fmt.Errorf("model %q not found", name)
	}
}

func names(s *Scheduler) []string {
	var out []string
	for _, m := range s.Running() {
		out = append(out, m.Name)
	}
	return out
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLoadShareAndKeepAlive(t *testing.T) {
	s := New(Config{Resolve: resolver(t), NumParallel: 2, Threads: 1})
	defer s.Close()
	ctx := context.Background()
	a, err := s.Acquire(ctx, "stories", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Acquire(ctx, "stories", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Runner != b.Runner {
		t.Fatalf("two leases of one model got different runners")
	}
	if got := s.Running(); len(got) != 1 || got[0].InUse != 2 || got[0].NumCtx != 2048 {
		t.Fatalf("running: %+v", got)
	}
	a.Release()
	b.Release()
	if got := s.Running(); len(got) != 1 || got[0].ExpiresAt.Before(time.Now().Add(4*time.Minute)) {
		t.Fatalf("after release, want loaded with ~5m left: %+v", got)
	}
	// A short keep_alive unloads after it passes.
	short := 50 * time.Millisecond
	c, err := s.Acquire(ctx, "stories", LoadOptions{KeepAlive: &short})
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	waitFor(t, func() bool { return len(s.Running()) == 0 }, "keep_alive expiry")
	// keep_alive 0 unloads at once.
	zero := time.Duration(0)
	d, err := s.Acquire(ctx, "stories", LoadOptions{KeepAlive: &zero})
	if err != nil {
		t.Fatal(err)
	}
	d.Release()
	if n := len(s.Running()); n != 0 {
		t.Fatalf("keep_alive 0: %d models still loaded", n)
	}
	if _, err := s.Acquire(ctx, "nope", LoadOptions{}); err == nil {
		t.Errorf("unknown model loaded")
	}
}

func TestMaxLoadedEvictsIdle(t *testing.T) {
	s := New(Config{Resolve: resolver(t), MaxLoaded: 2, NumParallel: 1, Threads: 1})
	defer s.Close()
	ctx := context.Background()
	for _, n := range []string{"stories", "qwen2", "llama"} {
		l, err := s.Acquire(ctx, n, LoadOptions{NumCtx: 128})
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		time.Sleep(5 * time.Millisecond) // distinct expiry times
	}
	got := names(s)
	if len(got) != 2 || got[0] != "llama" || got[1] != "qwen2" {
		t.Fatalf("with 2 allowed, loaded %v; want the two most recent", got)
	}
	// Unload by name.
	if ok, err := s.Unload("qwen2"); !ok || err != nil {
		t.Fatalf("unload: %v %v", ok, err)
	}
	if got := names(s); len(got) != 1 || got[0] != "llama" {
		t.Fatalf("after unload: %v", got)
	}
}

func TestMemoryBudgetWaitsForBusyModel(t *testing.T) {
	need, err := estimate(testutil.Shared(t, "testdata", "models", "synthetic", "syn-qwen2-256-Q8_0.gguf"), 128, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Room for the qwen2 model, not for it and the llama one together.
	s := New(Config{Resolve: resolver(t), MemoryBudget: need * 3 / 2, NumParallel: 1, Threads: 1})
	defer s.Close()
	ctx := context.Background()
	q, err := s.Acquire(ctx, "qwen2", LoadOptions{NumCtx: 128})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := s.Acquire(ctx, "llama", LoadOptions{NumCtx: 128})
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second model loaded while the first was busy and memory short: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	q.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second model never loaded after the first was released")
	}
	if n := names(s); len(n) != 1 || n[0] != "llama" {
		t.Fatalf("loaded %v, want only llama", n)
	}
	// A model bigger than the whole budget fails at once.
	tiny := New(Config{Resolve: resolver(t), MemoryBudget: 1000})
	defer tiny.Close()
	if _, err := tiny.Acquire(ctx, "stories", LoadOptions{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("model over the budget: %v", err)
	}
	// Waiting honours the context: qwen2 (busy) now holds the memory.
	q, err = s.Acquire(ctx, "qwen2", LoadOptions{NumCtx: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Release()
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.Acquire(cctx, "llama", LoadOptions{NumCtx: 128}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for memory with a 100ms deadline: %v", err)
	}
}

func TestReloadForOtherContextSize(t *testing.T) {
	s := New(Config{Resolve: resolver(t), NumParallel: 1, Threads: 1})
	defer s.Close()
	ctx := context.Background()
	a, err := s.Acquire(ctx, "stories", LoadOptions{NumCtx: 128})
	if err != nil {
		t.Fatal(err)
	}
	r1 := a.Runner
	a.Release()
	b, err := s.Acquire(ctx, "stories", LoadOptions{NumCtx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if b.Runner == r1 || b.Runner.Config().NumCtx != 256 {
		t.Fatalf("num_ctx 256 after 128: same runner %v, ctx %d", b.Runner == r1, b.Runner.Config().NumCtx)
	}
	if n := len(s.Running()); n != 1 {
		t.Fatalf("%d copies loaded", n)
	}
}

// TestEmbeddingModel loads an encoder with the default context size (its
// own) and unloads it on Close.
func TestEmbeddingModel(t *testing.T) {
	s := New(Config{Resolve: resolver(t), NumParallel: 2, Threads: 1})
	l, err := s.Acquire(context.Background(), "bert", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Runner.Loaded().Encoder == nil || l.Runner.Config().NumCtx != 128 {
		t.Fatalf("bert loaded as %+v", l.Runner.Config())
	}
	l.Release()
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung")
	}
}
