package model_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/testutil"
)

// TestEncoderEmbeddings compares the bert models' pooled, normalised
// embeddings with llama.cpp's: within 1e-5 per component of the exact-GELU
// reference of the same weights (README §9), and cosine ≥ 0.9999 with the
// native output.
func TestEncoderEmbeddings(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testutil.Shared(t, "reference", "embeddings"), "*.json"))
	if err != nil || len(files) != 2 {
		t.Fatalf("want 2 embedding references, got %d (%v)", len(files), err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var ref struct {
				Model struct {
					File string `json:"file"`
				} `json:"model"`
				Inputs []struct {
					TokenIDs  []int32   `json:"token_ids"`
					Embedding []float64 `json:"embedding"`
					Exact     []float64 `json:"embedding_f32ref_gelu_exact"`
				} `json:"inputs"`
			}
			if err := json.Unmarshal(data, &ref); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Open(testutil.Shared(t, filepath.FromSlash(ref.Model.File)))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if !model.IsEncoder(f) {
				t.Fatal("not recognised as an encoder")
			}
			e, err := model.LoadEncoder(f, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			for i, in := range ref.Inputs {
				got, err := e.Embed(in.TokenIDs)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(in.Exact) {
					t.Fatalf("input %d: %d components, want %d", i, len(got), len(in.Exact))
				}
				var worst, dotp, na, nb float64
				for k := range got {
					worst = math.Max(worst, math.Abs(float64(got[k])-in.Exact[k]))
					dotp += float64(got[k]) * in.Embedding[k]
					na += float64(got[k]) * float64(got[k])
					nb += in.Embedding[k] * in.Embedding[k]
				}
				if worst > 1e-5 {
					t.Errorf("input %d: max |Δ| %.2g from the exact-GELU reference (> 1e-5)", i, worst)
				}
				if cos := dotp / math.Sqrt(na*nb); cos < 0.9999 {
					t.Errorf("input %d: cosine %.6f with llama.cpp's native embedding (< 0.9999)", i, cos)
				}
				t.Logf("input %d: max |Δ| %.2g", i, worst)
			}
			if _, err := e.Embed(make([]int32, e.NCtxTrain+1)); err == nil {
				t.Errorf("an input longer than the position table was accepted")
			}
		})
	}
}
