package model_test

import (
	"path/filepath"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/testutil"
)

// TestBatchedSequencesMatchAlone evaluates the three traced prompts of a
// model as three sequences sharing every forward pass — prompts together,
// then one token of each per step, then uneven chunks — and checks each
// sequence's logits are identical to evaluating it alone.
func TestBatchedSequencesMatchAlone(t *testing.T) {
	for _, rc := range []refCase{
		{"syn-llama-256-Q4_K_M", "f32ref", 0},
		{"syn-qwen2-256-Q8_0", "f32ref", 0},
		{"syn-gemma3-256-F32", "f32ref-gelu-exact", 0},
		{"syn-gemma2-32-Q4_0", "f32ref-gelu-exact", 0},
	} {
		t.Run(rc.stem, func(t *testing.T) {
			tr := loadTrace(t, rc.dir, rc.stem)
			f, err := gguf.Open(testutil.Shared(t, filepath.FromSlash(tr.Model.File)))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := model.Load(f, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()

			// Each sequence's full token stream and its logits alone.
			var streams [][]int32
			var alone [][][]float32
			for _, p := range tr.Prompts {
				ids := append(append([]int32{}, p.PromptIDs...), p.GeneratedIDs...)
				streams = append(streams, ids)
				s, err := m.NewSession(256)
				if err != nil {
					t.Fatal(err)
				}
				var per [][]float32
				for _, id := range ids {
					l, err := s.Eval([]int32{id})
					if err != nil {
						t.Fatal(err)
					}
					per = append(per, append([]float32(nil), l...))
				}
				alone = append(alone, per)
			}

			const batch = 16
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
			// Interleave: each pass takes a different number of tokens from
			// each sequence (1..5, rotating), asking for logits after each.
			next := make([]int, len(streams))
			var b model.Batch
			for round := 0; ; round++ {
				b.Reset()
				type want struct{ seq, idx int }
				var wants []want
				for i := range streams {
					take := 1 + (round+i)%5
					for k := 0; k < take && next[i] < len(streams[i]) && b.Len() < batch; k++ {
						b.Add(seqs[i], streams[i][next[i]], true)
						wants = append(wants, want{i, next[i]})
						next[i]++
					}
				}
				if b.Len() == 0 {
					break
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
							t.Fatalf("round %d: sequence %d token %d: logit %d is %g batched, %g alone", round, w.seq, w.idx, v, out[j][v], ref[v])
						}
					}
				}
			}
			for i, s := range seqs {
				if s.Pos() != len(streams[i]) {
					t.Errorf("sequence %d at position %d, want %d", i, s.Pos(), len(streams[i]))
				}
			}
		})
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
