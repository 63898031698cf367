package model_test

import (
	"path/filepath"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/testutil"
)

// TestBatchedSequencesMatchAlone evaluates the three traced prompts of a
// model as three sequences sharing every forward pass — each pass takes a
// different number of tokens (1 to 5) of each sequence — and checks that
// each sequence's logits are bit for bit those of the same sequence fed the
// same chunks alone: batching other sequences alongside changes nothing.
//
// Like llama.cpp, the fast mode sums a chunk of several tokens in another
// order than a single token (tensor.Order), so feeding a sequence token by
// token gives slightly different (equally valid) logits than feeding it in
// chunks; that is why "alone" uses the same chunks. In the exact mode the
// chunking does not matter either, which is checked too.
func TestBatchedSequencesMatchAlone(t *testing.T) {
	for _, stem := range []string{"syn-llama-256-Q4_K_M", "syn-qwen2-256-Q8_0", "syn-gemma3-256-F32", "syn-gemma2-32-Q4_0", "syn-llama-256-F16"} {
		for _, md := range testModes() {
			t.Run(stem+"/"+md.name, func(t *testing.T) {
				t.Parallel()
				testBatchedMatchAlone(t, stem, md)
			})
		}
	}
}

// forwardChunks feeds a sequence its tokens in the given chunks, alone,
// and returns the logits after every token.
func forwardChunks(t *testing.T, m *model.Model, ids []int32, chunks []int) [][]float32 {
	t.Helper()
	const batch = 16
	ws, err := m.NewWorkspace(batch, batch)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := m.NewSequence(256, batch)
	if err != nil {
		t.Fatal(err)
	}
	var b model.Batch
	var per [][]float32
	next := 0
	for _, n := range chunks {
		b.Reset()
		for _, id := range ids[next : next+n] {
			b.Add(seq, id, true)
		}
		next += n
		out, err := ws.Forward(&b)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range out {
			per = append(per, append([]float32(nil), l...))
		}
	}
	return per
}

func testBatchedMatchAlone(t *testing.T, stem string, md mode) {
	tr := loadTrace(t, "llamacpp", stem)
	f, m := loadMode(t, testutil.Shared(t, filepath.FromSlash(tr.Model.File)), md, 2)
	defer f.Close()
	defer m.Close()

	var streams [][]int32
	for _, p := range tr.Prompts {
		streams = append(streams, append(append([]int32{}, p.PromptIDs...), p.GeneratedIDs...))
	}
	// The schedule: each pass takes 1..5 tokens of each sequence (rotating),
	// up to 16 tokens in all.
	const batch = 16
	type take struct{ seq, n int }
	var rounds [][]take
	chunks := make([][]int, len(streams))
	next := make([]int, len(streams))
	for round := 0; ; round++ {
		var r []take
		total := 0
		for i := range streams {
			n := min(1+(round+i)%5, len(streams[i])-next[i], batch-total)
			if n > 0 {
				r = append(r, take{i, n})
				chunks[i] = append(chunks[i], n)
				next[i] += n
				total += n
			}
		}
		if total == 0 {
			break
		}
		rounds = append(rounds, r)
	}

	// Each sequence alone, in the same chunks.
	alone := make([][][]float32, len(streams))
	for i, ids := range streams {
		alone[i] = forwardChunks(t, m, ids, chunks[i])
		if md.exact {
			one := make([]int, len(ids))
			for k := range one {
				one[k] = 1
			}
			for k, l := range forwardChunks(t, m, ids, one) {
				for v := range l {
					if l[v] != alone[i][k][v] {
						t.Fatalf("exact mode: sequence %d token %d: logit %d is %g fed one token at a time, %g in chunks", i, k, v, l[v], alone[i][k][v])
					}
				}
			}
		}
	}

	ws, err := m.NewWorkspace(batch, batch)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]*model.Sequence, len(streams))
	for i := range seqs {
		if seqs[i], err = m.NewSequence(256, batch); err != nil {
			t.Fatal(err)
		}
	}
	var b model.Batch
	pos := make([]int, len(streams))
	for ri, r := range rounds {
		b.Reset()
		type want struct{ seq, idx int }
		var wants []want
		for _, tk := range r {
			for k := 0; k < tk.n; k++ {
				b.Add(seqs[tk.seq], streams[tk.seq][pos[tk.seq]], true)
				wants = append(wants, want{tk.seq, pos[tk.seq]})
				pos[tk.seq]++
			}
		}
		out, err := ws.Forward(&b)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(wants) {
			t.Fatalf("%d logit rows for %d requests", len(out), len(wants))
		}
		for j, w := range wants {
			ref := alone[w.seq][w.idx]
			for v := range ref {
				if out[j][v] != ref[v] {
					t.Fatalf("round %d: sequence %d token %d: logit %d is %g batched, %g alone", ri, w.seq, w.idx, v, out[j][v], ref[v])
				}
			}
		}
	}
	for i, s := range seqs {
		if s.Pos() != len(streams[i]) {
			t.Errorf("sequence %d at position %d, want %d", i, s.Pos(), len(streams[i]))
		}
	}
}

// TestForwardRejectsBadBatches checks that a malformed batch is refused
// without changing any sequence.
func TestForwardRejectsBadBatches(t *testing.T) {
	f, err := gguf.Open(testutil.Shared(t, "testdata", "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ws, _ := m.NewWorkspace(4, 1)
	seq, _ := m.NewSequence(8, 4)
	var b model.Batch
	for name, fill := range map[string]func(){
		"bad token":       func() { b.Add(seq, 1, false); b.Add(seq, 99999, true) },
		"no sequence":     func() { b.Add(nil, 1, true) },
		"too many logits": func() { b.Add(seq, 1, true); b.Add(seq, 2, true) },
		"too many tokens": func() {
			for i := 0; i < 5; i++ {
				b.Add(seq, 1, false)
			}
		},
	} {
		b.Reset()
		fill()
		if _, err := ws.Forward(&b); err == nil {
			t.Errorf("%s: no error", name)
		}
		if seq.Pos() != 0 {
			t.Fatalf("%s: sequence moved to %d", name, seq.Pos())
		}
	}
	// Overflowing the context.
	for i := 0; i < 2; i++ {
		b.Reset()
		for k := 0; k < 4; k++ {
			b.Add(seq, 1, k == 3)
		}
		if _, err := ws.Forward(&b); err != nil {
			t.Fatal(err)
		}
	}
	b.Reset()
	b.Add(seq, 1, true)
	if _, err := ws.Forward(&b); err == nil {
		t.Errorf("a ninth token in an 8-token context was accepted")
	}
}

// TestRewind checks that a sequence rewinds where its caches still hold
// what the next token needs, always to 0, and refuses otherwise.
func TestRewind(t *testing.T) {
	f, err := gguf.Open(testutil.Shared(t, "testdata", "models", "synthetic", "syn-gemma2-32-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSessionBatch(128, 4) // windowed layers keep 16+4-1 = 19 rows
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int32, 40)
	for i := range ids {
		ids[i] = int32(3 + i)
	}
	want, err := s.Eval(ids[:37])
	if err != nil {
		t.Fatal(err)
	}
	want = append([]float32(nil), want...)
	if _, err := s.Eval(ids[37:]); err != nil {
		t.Fatal(err)
	}
	// The windowed layers hold positions 21…39; a token at n needs n-15…n-1.
	if err := s.Rewind(30); err == nil {
		t.Errorf("rewind to 30 from 40 accepted though the window cache lost positions < 21")
	}
	if s.Pos() != 40 {
		t.Fatalf("failed rewind moved the sequence to %d", s.Pos())
	}
	if err := s.Rewind(36); err != nil {
		t.Fatalf("rewind to 36 from 40: %v", err)
	}
	got, err := s.Eval(ids[36:37])
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d after rewind: %g, want %g", i, got[i], want[i])
		}
	}
	if err := s.Rewind(0); err != nil || s.Pos() != 0 {
		t.Fatalf("rewind to 0: %v (at %d)", err, s.Pos())
	}
}
