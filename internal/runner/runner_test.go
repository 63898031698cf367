package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/sample"
	"github.com/golem-llm/golem/internal/testutil"
)

func load(t *testing.T, name string) *Loaded {
	t.Helper()
	l, err := LoadFile(testutil.Shared(t, "testdata", "models", name), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func greedy() Options {
	return Options{NumPredict: 24, Sample: sample.Options{Temperature: 0, RepeatPenalty: 1, TopK: 0, TopP: 1}}
}

// soloGreedy generates with a private session, token by token: the
// reference each batched stream must equal.
func soloGreedy(t *testing.T, l *Loaded, prompt []int32, n int) string {
	t.Helper()
	s, err := l.Model.NewSession(256)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := s.Eval(prompt)
	if err != nil {
		t.Fatal(err)
	}
	dec := l.Tokenizer.NewContinuationDecoder()
	var out strings.Builder
	for i := 0; i < n; i++ {
		best := int32(0)
		for k, v := range logits {
			if v > logits[best] {
				best = int32(k)
			}
		}
		if l.Tokenizer.IsEOG(best) {
			break
		}
		out.WriteString(dec.Add(best))
		if logits, err = s.Eval([]int32{best}); err != nil {
			t.Fatal(err)
		}
	}
	out.WriteString(dec.Flush())
	return out.String()
}

func collect(t *testing.T, st *Stream) (string, Stats, error) {
	t.Helper()
	var text strings.Builder
	var stats Stats
	var err error
	for {
		ev, ok := st.Next(context.Background())
		if !ok {
			return text.String(), stats, err
		}
		text.WriteString(ev.Text)
		if ev.Done {
			stats, err = ev.Stats, ev.Err
		}
	}
}

// TestParallelStreamsEqualSolo runs more concurrent requests than slots on
// two models and checks each stream equals its greedy output alone.
func TestParallelStreamsEqualSolo(t *testing.T) {
	for _, name := range []string{"stories260K.gguf", "synthetic/syn-qwen2-256-Q4_K_M.gguf", "synthetic/syn-gemma3-256-Q8_0.gguf"} {
		t.Run(name, func(t *testing.T) {
			l := load(t, name)
			r, err := NewRunner(l, Config{NumParallel: 4, NumCtx: 256, Batch: 32})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			prompts := []string{"Once upon a time", "The quick brown fox", "In 1492, 3+4=7; ok?", "Lily and Tom went to the park",
				"One day", "The cat sat on the mat and looked at the big red ball that", "Hello"}
			var wg sync.WaitGroup
			for _, p := range prompts {
				ids := l.Tokenizer.Encode(p, true, false)
				want := soloGreedy(t, l, ids, 24)
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := r.Submit(context.Background(), &Request{Prompt: ids, Options: greedy()})
					if err != nil {
						t.Error(err)
						return
					}
					got, stats, err := collect(t, st)
					if err != nil {
						t.Errorf("%q: %v", p, err)
					}
					if got != want {
						t.Errorf("%q: batched %q, alone %q", p, got, want)
					}
					if stats.PromptTokens+stats.CachedTokens != len(ids) {
						t.Errorf("%q: %d prompt + %d cached tokens, want %d", p, stats.PromptTokens, stats.CachedTokens, len(ids))
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestPrefixCache checks that a follow-up request that extends an earlier
// conversation reuses its cached tokens and still gives the right output.
func TestPrefixCache(t *testing.T) {
	l := load(t, "stories260K.gguf")
	r, err := NewRunner(l, Config{NumParallel: 2, NumCtx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first := l.Tokenizer.Encode("Once upon a time", true, false)
	st, err := r.Submit(context.Background(), &Request{Prompt: first, Options: greedy()})
	if err != nil {
		t.Fatal(err)
	}
	var gen []int32
	for {
		ev, ok := st.Next(context.Background())
		if !ok {
			break
		}
		gen = append(gen, ev.Tokens...)
	}
	second := append(append(append([]int32{}, first...), gen...), l.Tokenizer.Encode(" Then", false, false)...)
	st, err = r.Submit(context.Background(), &Request{Prompt: second, Options: greedy()})
	if err != nil {
		t.Fatal(err)
	}
	got, stats, err := collect(t, st)
	if err != nil {
		t.Fatal(err)
	}
	if stats.CachedTokens < len(first)+len(gen)-1 {
		t.Errorf("second turn reused %d cached tokens, want at least %d", stats.CachedTokens, len(first)+len(gen)-1)
	}
	if want := soloGreedy(t, l, second, 24); got != want {
		t.Errorf("second turn %q, want %q", got, want)
	}
}

// TestCancel checks that cancelling a request ends it promptly and frees
// its slot for the next one.
func TestCancel(t *testing.T) {
	l := load(t, "stories260K.gguf")
	r, err := NewRunner(l, Config{NumParallel: 1, NumCtx: 2048})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	opts := greedy()
	opts.NumPredict = -1
	opts.Sample.Temperature = 1
	st, err := r.Submit(ctx, &Request{Prompt: l.Tokenizer.Encode("Once upon a time", true, false), Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	if ev, _ := st.Next(context.Background()); ev.Done {
		t.Fatalf("ended before cancel: %+v", ev)
	}
	cancel()
	deadline := time.After(5 * time.Second)
	done := make(chan error, 1)
	go func() { _, _, err := collect(t, st); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled stream ended with %v", err)
		}
	case <-deadline:
		t.Fatal("cancelled request did not end")
	}
	st, err = r.Submit(context.Background(), &Request{Prompt: l.Tokenizer.Encode("One day", true, false), Options: greedy()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := collect(t, st); err != nil {
		t.Errorf("request after a cancelled one: %v", err)
	}
}

// TestQueueFull checks the bounded queue.
func TestQueueFull(t *testing.T) {
	l := load(t, "stories260K.gguf")
	r, err := NewRunner(l, Config{NumParallel: 1, NumCtx: 2048, MaxQueue: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	opts := greedy()
	opts.NumPredict = 2000
	ids := l.Tokenizer.Encode("Once upon a time", true, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var full int
	for i := 0; i < 4; i++ {
		if _, err := r.Submit(ctx, &Request{Prompt: ids, Options: opts}); errors.Is(err, ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full == 0 {
		t.Errorf("4 long requests on 1 slot with a queue of 1: none refused")
	}
}

// TestStopAndLimits checks stop sequences, num_predict and over-long prompts.
func TestStopAndLimits(t *testing.T) {
	l := load(t, "stories260K.gguf")
	r, err := NewRunner(l, Config{NumParallel: 2, NumCtx: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ids := l.Tokenizer.Encode("Once upon a time", true, false)
	opts := greedy()
	opts.NumPredict = 64
	opts.Stop = []string{"Lily"}
	st, _ := r.Submit(context.Background(), &Request{Prompt: ids, Options: opts})
	got, stats, err := collect(t, st)
	if err != nil || got != ", there was a little girl named " || stats.DoneReason != DoneStop {
		t.Errorf("stop at Lily: %q %q %v", got, stats.DoneReason, err)
	}
	opts.Stop = nil
	opts.NumPredict = 3
	st, _ = r.Submit(context.Background(), &Request{Prompt: ids, Options: opts})
	_, stats, _ = collect(t, st)
	if stats.EvalTokens != 3 || stats.DoneReason != DoneLength {
		t.Errorf("num_predict 3: %d tokens, reason %q", stats.EvalTokens, stats.DoneReason)
	}
	long := make([]int32, 65)
	for i := range long {
		long[i] = 1
	}
	if _, err := r.Submit(context.Background(), &Request{Prompt: long, Options: opts}); !errors.Is(err, ErrPromptTooLong) {
		t.Errorf("65-token prompt in a 64 context: %v", err)
	}
	// Generation stops when the context is full.
	opts.NumPredict = -1
	st, _ = r.Submit(context.Background(), &Request{Prompt: ids, Options: opts})
	_, stats, _ = collect(t, st)
	if stats.DoneReason != DoneLength || len(ids)+stats.EvalTokens > 65 {
		t.Errorf("unbounded generation in 64 positions: %d tokens, reason %q", stats.EvalTokens, stats.DoneReason)
	}
}

// digitsOnly is a constraint that allows only tokens made of ASCII digits
// and ends after five of them.
type digitsOnly struct {
	l *Loaded
	n int
}

func (d *digitsOnly) ok(id int32) bool {
	p := d.l.Tokenizer.Piece(id)
	if len(p) == 0 || d.l.Tokenizer.IsControl(id) {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
func (d *digitsOnly) Mask(logits []float32) {
	for i := range logits {
		if !d.ok(int32(i)) {
			logits[i] = float32(-1e30)
		}
	}
}
func (d *digitsOnly) Accept(id int32) error {
	if !d.ok(id) {
		return fmt.Errorf("token %d is not digits", id)
	}
	d.n++
	return nil
}
func (d *digitsOnly) Done() bool { return d.n >= 5 }

func TestConstraint(t *testing.T) {
	l := load(t, "stories260K.gguf")
	r, err := NewRunner(l, Config{NumParallel: 1, NumCtx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	opts := greedy()
	opts.Sample.Temperature = 1
	opts.Sample.Seed = 3
	st, _ := r.Submit(context.Background(), &Request{Prompt: l.Tokenizer.Encode("Once upon a time", true, false), Options: opts, Constraint: &digitsOnly{l: l}})
	got, stats, err := collect(t, st)
	if err != nil {
		t.Fatal(err)
	}
	if stats.EvalTokens != 5 || strings.Trim(got, "0123456789") != "" || got == "" {
		t.Errorf("digits-only generation gave %q in %d tokens", got, stats.EvalTokens)
	}
}

// noEOG keeps a generation going: end-of-generation tokens are masked.
type noEOG struct{ l *Loaded }

func (c noEOG) Mask(logits []float32) {
	for i := range logits {
		if c.l.Tokenizer.IsEOG(int32(i)) {
			logits[i] = float32(math.Inf(-1))
		}
	}
}
func (noEOG) Accept(int32) error { return nil }
func (noEOG) Done() bool         { return false }

// TestContextShift generates past a full context: with Shift the runner
// must produce exactly what a private session shifting at the same points
// produces (the first NumKeep tokens kept, half the rest dropped), stop at
// ten contexts when unbounded, and not reuse shifted cache for a new
// prompt; without Shift it stops at the full context.
func TestContextShift(t *testing.T) {
	l := load(t, "stories260K.gguf")
	const numCtx, numKeep, n = 64, 4, 150
	r, err := NewRunner(l, Config{NumParallel: 1, NumCtx: numCtx})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ids := l.Tokenizer.Encode("Once upon a time", true, false)
	opts := greedy()
	opts.NumPredict, opts.Shift, opts.NumKeep = n, true, numKeep
	st, err := r.Submit(context.Background(), &Request{Prompt: ids, Options: opts, Constraint: noEOG{l}})
	if err != nil {
		t.Fatal(err)
	}
	got, stats, err := collect(t, st)
	if err != nil || stats.EvalTokens != n || stats.DoneReason != DoneLength || stats.Shifts < 2 {
		t.Fatalf("shifted generation: %d tokens, reason %q, %d shifts, %v", stats.EvalTokens, stats.DoneReason, stats.Shifts, err)
	}

	// The reference: a session that shifts by the same rule.
	s, err := l.Model.NewSession(numCtx)
	if err != nil {
		t.Fatal(err)
	}
	held := append([]int32(nil), ids...) // the tokens the session's cache holds
	logits, err := s.Eval(ids)
	if err != nil {
		t.Fatal(err)
	}
	dec := l.Tokenizer.NewContinuationDecoder()
	var want strings.Builder
	shifts := 0
	for i := 0; i < n; i++ {
		noEOG{l}.Mask(logits)
		best := int32(0)
		for k, v := range logits {
			if v > logits[best] {
				best = int32(k)
			}
		}
		want.WriteString(dec.Add(best))
		if i == n-1 {
			break
		}
		if s.Pos() == numCtx {
			discard := (numCtx - numKeep) / 2
			if err := s.Shift(numKeep, discard); err != nil {
				t.Fatal(err)
			}
			held = append(held[:numKeep], held[numKeep+discard:]...)
			shifts++
		}
		held = append(held, best)
		if logits, err = s.Eval([]int32{best}); err != nil {
			t.Fatal(err)
		}
	}
	want.WriteString(dec.Flush())
	if got != want.String() || stats.Shifts != shifts {
		t.Fatalf("shifted generation (%d shifts):\n%q\nwant (%d shifts):\n%q", stats.Shifts, got, shifts, want.String())
	}

	// A prompt equal to what the shifted cache holds may reuse only the
	// tokens before the shift point.
	st, err = r.Submit(context.Background(), &Request{Prompt: append(append([]int32(nil), held[:len(held)-1]...), 42), Options: greedy()})
	if err != nil {
		t.Fatal(err)
	}
	if _, stats, err = collect(t, st); err != nil || stats.CachedTokens > numKeep {
		t.Fatalf("after a shift, a new prompt reused %d cached tokens (at most %d are sound): %v", stats.CachedTokens, numKeep, err)
	}

	// Unbounded: ten contexts' worth.
	opts.NumPredict = -1
	st, _ = r.Submit(context.Background(), &Request{Prompt: ids, Options: opts, Constraint: noEOG{l}})
	if _, stats, err = collect(t, st); err != nil || stats.EvalTokens != 10*numCtx || stats.DoneReason != DoneLength {
		t.Fatalf("unbounded shifted generation: %d tokens, reason %q, %v", stats.EvalTokens, stats.DoneReason, err)
	}

	// Without Shift: stops when the context is full.
	opts.NumPredict, opts.Shift = n, false
	st, _ = r.Submit(context.Background(), &Request{Prompt: ids, Options: opts, Constraint: noEOG{l}})
	if _, stats, err = collect(t, st); err != nil || len(ids)+stats.EvalTokens > numCtx+1 || stats.DoneReason != DoneLength || stats.Shifts != 0 {
		t.Fatalf("generation without shift: %d tokens, reason %q, %d shifts, %v", stats.EvalTokens, stats.DoneReason, stats.Shifts, err)
	}
}
