package runner

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/testutil"
)

func TestEmbed(t *testing.T) {
	l := load(t, "synthetic/syn-bert-128-F32.gguf")
	r, err := NewRunner(l, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Submit(context.Background(), &Request{Prompt: []int32{2, 3}}); !errors.Is(err, ErrNoGenerate) {
		t.Errorf("generate on an embedding model: %v", err)
	}
	inputs := []string{"Once upon a time", "The quick brown fox jumps over the lazy dog."}
	res, err := r.Embed(context.Background(), inputs, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Embeddings) != 2 || len(res.Embeddings[0]) != 128 || res.PromptTokens != len(l.Tokenizer.Encode(inputs[0], true, true))+len(l.Tokenizer.Encode(inputs[1], true, true)) {
		t.Fatalf("got %d embeddings of %d, %d tokens", len(res.Embeddings), len(res.Embeddings[0]), res.PromptTokens)
	}
	norm := func(v []float32) float64 {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		return math.Sqrt(s)
	}
	if n := norm(res.Embeddings[0]); math.Abs(n-1) > 1e-5 {
		t.Errorf("norm %g", n)
	}
	// dimensions: the first 32 components, renormalised.
	short, err := r.Embed(context.Background(), inputs[:1], true, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(short.Embeddings[0]) != 32 || math.Abs(norm(short.Embeddings[0])-1) > 1e-5 {
		t.Errorf("dimensions 32: len %d norm %g", len(short.Embeddings[0]), norm(short.Embeddings[0]))
	}
	// Truncation.
	long := ""
	for i := 0; i < 200; i++ {
		long += "the "
	}
	if _, err := r.Embed(context.Background(), []string{long}, false, 0); !errors.Is(err, ErrPromptTooLong) {
		t.Errorf("over-long input without truncate: %v", err)
	}
	if res, err := r.Embed(context.Background(), []string{long}, true, 0); err != nil || res.PromptTokens != 128 {
		t.Errorf("over-long input with truncate: %v, %d tokens", err, res.PromptTokens)
	}
	// A generative model without pooling refuses embeddings.
	g := load(t, "stories260K.gguf")
	gr, err := NewRunner(g, Config{NumParallel: 1, NumCtx: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer gr.Close()
	if _, err := gr.Embed(context.Background(), inputs, true, 0); !errors.Is(err, ErrNoEmbed) {
		t.Errorf("embeddings from a generative model: %v", err)
	}
}

// TestDecoderEmbed gives a generative model a pooling type (last token, as
// Qwen3-Embedding declares) and checks its embedding is the direction of
// the final hidden state: the output projection of the embedding must be
// parallel to the logits a session computes for the same tokens.
func TestDecoderEmbed(t *testing.T) {
	src := testutil.Shared(t, "testdata", "models", "synthetic", "syn-qwen3-256-F32.gguf")
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	kvs := append(append([]gguf.KV{}, f.KVs...), gguf.KV{Key: "qwen3.pooling_type", Value: uint32(model.PoolLast)})
	var tensors []gguf.WriteTensor
	for _, ti := range f.Tensors {
		tensors = append(tensors, gguf.WriteTensor{Name: ti.Name, Dims: ti.Dims, Type: ti.Type, Data: ti.Data})
	}
	path := filepath.Join(t.TempDir(), "qwen3-embedding.gguf")
	if err := gguf.WriteFile(path, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l, err := LoadFile(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Model.Pooling != model.PoolLast {
		t.Fatalf("pooling %v", l.Model.Pooling)
	}
	r, err := NewRunner(l, Config{NumParallel: 1, NumCtx: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	inputs := []string{"Once upon a time", "The quick brown fox"}
	res, err := r.Embed(context.Background(), inputs, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range inputs {
		ids := l.Tokenizer.Encode(text, true, true)
		s, err := l.Model.NewSession(128)
		if err != nil {
			t.Fatal(err)
		}
		logits, err := s.Eval(ids)
		if err != nil {
			t.Fatal(err)
		}
		emb := res.Embeddings[i]
		row := make([]float32, l.Model.NEmbd)
		var dotp, na, nb float64
		for v := range logits {
			w := l.Model.Output.Row(v, row)
			var p float64
			for k := range emb {
				p += float64(w[k]) * float64(emb[k])
			}
			dotp += p * float64(logits[v])
			na += p * p
			nb += float64(logits[v]) * float64(logits[v])
		}
		if cos := dotp / math.Sqrt(na*nb); cos < 0.99999 {
			t.Errorf("%q: output projection of the embedding has cosine %.7f with the logits", text, cos)
		}
	}
	if math.Abs(norm32(res.Embeddings[0])-1) > 1e-5 {
		t.Errorf("embedding not normalised")
	}
}

func norm32(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}
