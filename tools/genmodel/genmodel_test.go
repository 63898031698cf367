package genmodel

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/internal/tokenizer"
)

// TestGenerateLoadsAndIsDeterministic generates the tiny shape twice with
// the same seed (identical bytes) and once with another (different bytes),
// and checks the model loads, evaluates and tokenizes.
func TestGenerateLoadsAndIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for _, ft := range []string{"Q4_K_M", "F16"} {
		a, b, c := filepath.Join(dir, ft+"a.gguf"), filepath.Join(dir, ft+"b.gguf"), filepath.Join(dir, ft+"c.gguf")
		for _, x := range []struct {
			path string
			seed uint64
		}{{a, 1}, {b, 1}, {c, 2}} {
			if err := Generate(ctx, x.path, Shapes["tiny"], ft, Options{Seed: x.seed}); err != nil {
				t.Fatal(err)
			}
		}
		da, _ := os.ReadFile(a)
		db, _ := os.ReadFile(b)
		dc, _ := os.ReadFile(c)
		if !bytes.Equal(da, db) {
			t.Errorf("%s: same seed gave different files", ft)
		}
		if bytes.Equal(da, dc) {
			t.Errorf("%s: different seeds gave the same file", ft)
		}
		f, err := gguf.Open(a)
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.Load(f, 1)
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.NewSession(64)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Eval([]int32{1, 300, 301}); err != nil {
			t.Fatal(err)
		}
		tok, err := tokenizer.FromGGUF(f)
		if err != nil {
			t.Fatal(err)
		}
		if tok.VocabSize() != m.NVocab {
			t.Errorf("tokenizer has %d tokens, model %d", tok.VocabSize(), m.NVocab)
		}
		if ft == "Q4_K_M" {
			// The mix with 2 layers: llama.cpp's use_more_bits picks layer 1
			// (the last eighth) and not layer 0, so attn_v and ffn_down are
			// Q6_K in layer 1 only; the output matrix is Q6_K.
			want := map[string]tensor.Type{"output.weight": tensor.Q6_K, "blk.1.attn_v.weight": tensor.Q6_K,
				"blk.1.ffn_down.weight": tensor.Q6_K, "blk.0.attn_v.weight": tensor.Q4_K, "blk.0.ffn_down.weight": tensor.Q4_K,
				"blk.1.attn_q.weight": tensor.Q4_K, "token_embd.weight": tensor.Q4_K}
			for name, ty := range want {
				ti, ok := f.Tensor(name)
				if !ok {
					t.Errorf("%s missing", name)
				} else if ti.Type != ty {
					t.Errorf("%s: type %s, want %s", name, ti.Type, ty)
				}
			}
		}
		m.Close()
		f.Close()
	}
}

func TestPlanRejectsBadInput(t *testing.T) {
	if _, err := Plan(Shapes["tiny"], "Q9_9"); err == nil {
		t.Error("unknown type accepted")
	}
	bad := Shapes["tiny"]
	bad.NHead = 3
	if _, err := Plan(bad, "F16"); err == nil {
		t.Error("heads that do not divide the embedding accepted")
	}
	odd := Shapes["tiny"]
	odd.NEmbd, odd.NHead, odd.NHeadKV = 96, 2, 2
	if _, err := Plan(odd, "Q4_K"); err == nil {
		t.Error("a 96-wide row accepted for a 256-element type")
	}
}
