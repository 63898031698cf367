package server

import (
	"context"
	"encoding/json"
	"testing"

	oapi "github.com/ollama/ollama/api"
)

// TestFormatJSON: format "json" yields a JSON object on every model and
// prompt, random weights included, because decoding is constrained.
func TestFormatJSON(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	ts.create(t, "qwen", modelFile(t, "synthetic", "syn-qwen2-256-Q8_0.gguf"), "TEMPLATE \"\"\""+chatMLTemplate(t)+"\"\"\"")
	c := ts.ollama(t, "")
	f := false
	for _, model := range []string{"stories", "qwen"} {
		for i, prompt := range []string{"Once upon a time", "Give me JSON", "The quick brown fox"} {
			var r oapi.ChatResponse
			err := c.Chat(context.Background(), &oapi.ChatRequest{Model: model, Stream: &f, Format: json.RawMessage(`"json"`),
				Messages: []oapi.Message{{Role: "user", Content: prompt}},
				Options:  map[string]any{"temperature": 0.9, "seed": i, "num_predict": 150}},
				func(cr oapi.ChatResponse) error { r = cr; return nil })
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(r.Message.Content), &v); err != nil {
				t.Fatalf("%s %q: not a JSON object (%v, done_reason %s, %d tokens): %q", model, prompt, err, r.DoneReason, r.EvalCount, r.Message.Content)
			}
			if r.DoneReason != "stop" {
				t.Fatalf("%s: done_reason %q", model, r.DoneReason)
			}
		}
	}
}
