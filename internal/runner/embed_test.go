package runner

import (
	"context"
	"errors"
	"math"
	"testing"
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
