package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"

	oapi "github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"

	"github.com/golem-llm/golem/internal/testutil"
)

type embedRef struct {
	Inputs []struct {
		Text      string    `json:"text"`
		NTokens   int       `json:"n_tokens"`
		Embedding []float64 `json:"embedding"`
	} `json:"inputs"`
}

func cosine(a []float32, b []float64) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * b[i]
		na += float64(a[i]) * float64(a[i])
		nb += b[i] * b[i]
	}
	return dot / math.Sqrt(na*nb)
}

// TestEmbed computes embeddings of the BERT test model through Ollama's
// /api/embed, the legacy /api/embeddings and OpenAI's /v1/embeddings, and
// compares them with llama.cpp's reference vectors.
func TestEmbed(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.create(t, "bert", modelFile(t, "synthetic", "syn-bert-128-F32.gguf"))
	b, err := os.ReadFile(testutil.Shared(t, "reference", "embeddings", "syn-bert-128-F32.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref embedRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	var texts []string
	tokens := 0
	for _, in := range ref.Inputs {
		texts = append(texts, in.Text)
		tokens += in.NTokens
	}
	ctx := context.Background()
	c := ts.ollama(t, "")
	resp, err := c.Embed(ctx, &oapi.EmbedRequest{Model: "bert", Input: texts})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Embeddings) != len(texts) || resp.PromptEvalCount != tokens || resp.TotalDuration <= 0 {
		t.Fatalf("embed: %d vectors, prompt_eval_count %d (want %d)", len(resp.Embeddings), resp.PromptEvalCount, tokens)
	}
	for i, in := range ref.Inputs {
		if cs := cosine(resp.Embeddings[i], in.Embedding); cs < 0.9999 || len(resp.Embeddings[i]) != len(in.Embedding) {
			t.Fatalf("input %q: cosine %v to the reference", in.Text, cs)
		}
	}
	one, err := c.Embeddings(ctx, &oapi.EmbeddingRequest{Model: "bert", Prompt: texts[0]})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range one.Embedding {
		if float32(v) != resp.Embeddings[0][k] {
			t.Fatalf("legacy /api/embeddings differs at %d", k)
		}
	}

	oc := ts.openai("")
	res, err := oc.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "bert",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts}, Dimensions: openai.Int(64)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != len(texts) || int(res.Usage.PromptTokens) != tokens {
		t.Fatalf("openai embeddings: %d items, usage %+v", len(res.Data), res.Usage)
	}
	for i, d := range res.Data {
		var norm float64
		for _, x := range d.Embedding {
			norm += x * x
		}
		if len(d.Embedding) != 64 || int(d.Index) != i || math.Abs(norm-1) > 1e-4 {
			t.Fatalf("item %d: %d dims, norm² %v", i, len(d.Embedding), norm)
		}
	}
	// base64: little-endian float32s, the same numbers.
	status, body := ts.do(t, "POST", "/v1/embeddings", `{"model":"bert","input":"Once upon a time","encoding_format":"base64"}`)
	var b64 struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	if status != 200 || json.Unmarshal(body, &b64) != nil || len(b64.Data) != 1 {
		t.Fatalf("base64 embeddings: %d %s", status, body)
	}
	raw, err := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	if err != nil || len(raw) != 4*len(resp.Embeddings[0]) {
		t.Fatalf("base64 payload: %v, %d bytes", err, len(raw))
	}
	for k := range resp.Embeddings[0] {
		if math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:])) != resp.Embeddings[0][k] {
			t.Fatalf("base64 component %d differs", k)
		}
	}
	// An embedding model cannot generate.
	err = c.Generate(ctx, &oapi.GenerateRequest{Model: "bert", Prompt: "hi"}, func(oapi.GenerateResponse) error { return nil })
	var se oapi.StatusError
	if !errors.As(err, &se) || se.StatusCode != 400 {
		t.Fatalf("generate with an embedding model: %v", err)
	}
}
