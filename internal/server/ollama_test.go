package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	oapi "github.com/ollama/ollama/api"

	"github.com/golem-llm/golem/internal/registry/registrytest"
)

type golden struct {
	Generations []struct {
		Model        string `json:"model"`
		Prompt       string `json:"prompt"`
		NGenerated   int    `json:"n_generated_tokens"`
		Continuation string `json:"continuation"`
	} `json:"generations"`
}

func storiesGolden(t *testing.T) (prompt, continuation string, n int) {
	b, err := os.ReadFile(modelFile(t, "golden", "stories260K.greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	for _, gen := range g.Generations {
		if gen.Model == "stories260K.gguf" {
			return gen.Prompt, gen.Continuation, gen.NGenerated
		}
	}
	t.Fatal("no stories260K.gguf generation in the golden file")
	return
}

// TestOllamaGenerateGreedy drives /api/generate with the real Ollama
// client, streaming and not, and checks the greedy text against
// llama.cpp's reference output and the engine's own solo run, and the
// final chunk's fields.
func TestOllamaGenerateGreedy(t *testing.T) {
	ts := newTestServer(t, nil)
	path := modelFile(t, "stories260K.gguf")
	ts.create(t, "stories", path)
	prompt, want, n := storiesGolden(t)
	solo, _ := soloGreedy(t, path, tokenize(t, path, prompt), n)
	if solo != want {
		t.Fatalf("engine solo greedy differs from the llama.cpp reference:\n got %q\nwant %q", solo, want)
	}
	c := ts.ollama(t, "")
	ctx := context.Background()
	opts := map[string]any{"temperature": 0, "num_predict": n}

	var chunks []oapi.GenerateResponse
	err := c.Generate(ctx, &oapi.GenerateRequest{Model: "stories", Prompt: prompt, Raw: true, Options: opts},
		func(r oapi.GenerateResponse) error { chunks = append(chunks, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 10 {
		t.Fatalf("streaming sent %d chunks, want one per token or so", len(chunks))
	}
	var text strings.Builder
	for i, c := range chunks {
		text.WriteString(c.Response)
		if c.Done != (i == len(chunks)-1) {
			t.Fatalf("chunk %d: done=%v", i, c.Done)
		}
		if c.Model != "stories" || c.CreatedAt.IsZero() {
			t.Fatalf("chunk %d: model %q created_at %v", i, c.Model, c.CreatedAt)
		}
	}
	if text.String() != want {
		t.Fatalf("streamed greedy output:\n got %q\nwant %q", text.String(), want)
	}
	last := chunks[len(chunks)-1]
	if last.DoneReason != "length" || last.EvalCount != n || last.PromptEvalCount != 5 {
		t.Fatalf("final chunk: done_reason %q eval_count %d prompt_eval_count %d", last.DoneReason, last.EvalCount, last.PromptEvalCount)
	}
	if last.TotalDuration <= 0 || last.EvalDuration <= 0 || last.PromptEvalDuration <= 0 || last.LoadDuration <= 0 ||
		last.TotalDuration < last.EvalDuration {
		t.Fatalf("final chunk timings: %+v", last.Metrics)
	}
	if len(last.Context) != 0 {
		t.Fatalf("raw generate returned a context of %d tokens", len(last.Context))
	}

	// stream: false answers once with everything.
	calls := 0
	var one oapi.GenerateResponse
	f := false
	err = c.Generate(ctx, &oapi.GenerateRequest{Model: "stories", Prompt: prompt, Raw: true, Options: opts, Stream: &f},
		func(r oapi.GenerateResponse) error { calls++; one = r; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || !one.Done || one.Response != want || one.EvalCount != n {
		t.Fatalf("non-streaming: %d calls, done %v, eval_count %d, text %q", calls, one.Done, one.EvalCount, one.Response)
	}

	// The timing fields are integers of nanoseconds on the wire.
	status, body := ts.do(t, "POST", "/api/generate", `{"model":"stories","prompt":"Once","raw":true,"stream":false,"options":{"temperature":0,"num_predict":3}}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var raw map[string]any
	json.Unmarshal(body, &raw)
	for _, k := range []string{"total_duration", "load_duration", "prompt_eval_duration", "eval_duration"} {
		v, ok := raw[k].(float64)
		if !ok || v != float64(int64(v)) || v < 1000 {
			t.Fatalf("%s = %v: want an integer number of nanoseconds", k, raw[k])
		}
	}
}

// TestOllamaGenerateTemplate checks system/template overrides, the
// returned context, and that a context continues the conversation.
func TestOllamaGenerateTemplate(t *testing.T) {
	ts := newTestServer(t, nil)
	path := modelFile(t, "stories260K.gguf")
	ts.create(t, "stories", path, `TEMPLATE "{{ if .System }}{{ .System }} {{ end }}{{ .Prompt }}"`, "SYSTEM Once")
	c := ts.ollama(t, "")
	ctx := context.Background()
	f := false
	opts := map[string]any{"temperature": 0, "num_predict": 8}
	render := func(req *oapi.GenerateRequest) string {
		req.DebugRenderOnly = true
		req.Stream = &f
		var out string
		if err := c.Generate(ctx, req, func(r oapi.GenerateResponse) error {
			if r.DebugInfo == nil {
				return errors.New("no _debug_info")
			}
			out = r.DebugInfo.RenderedTemplate
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := render(&oapi.GenerateRequest{Model: "stories", Prompt: "upon a time"}); got != "Once upon a time" {
		t.Fatalf("model template and system: %q", got)
	}
	if got := render(&oapi.GenerateRequest{Model: "stories", Prompt: "upon a time", System: "Twice"}); got != "Twice upon a time" {
		t.Fatalf("system override: %q", got)
	}
	if got := render(&oapi.GenerateRequest{Model: "stories", Prompt: "x", Template: "<<{{ .Prompt }}>>"}); got != "<<x>>" {
		t.Fatalf("template override: %q", got)
	}

	// The templated request equals the raw one with the same text.
	var a, b oapi.GenerateResponse
	if err := c.Generate(ctx, &oapi.GenerateRequest{Model: "stories", Prompt: "upon a time", Options: opts, Stream: &f},
		func(r oapi.GenerateResponse) error { a = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Generate(ctx, &oapi.GenerateRequest{Model: "stories", Prompt: "Once upon a time", Raw: true, Options: opts, Stream: &f},
		func(r oapi.GenerateResponse) error { b = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if a.Response != b.Response || a.Response == "" {
		t.Fatalf("templated %q, raw %q", a.Response, b.Response)
	}
	want := tokenize(t, path, "Once upon a time")
	if len(a.Context) != len(want)+a.EvalCount {
		t.Fatalf("context has %d tokens, want %d prompt + %d generated", len(a.Context), len(want), a.EvalCount)
	}
	for i, id := range want {
		if a.Context[i] != int(id) {
			t.Fatalf("context[%d] = %d, want %d", i, a.Context[i], id)
		}
	}
	// Continuing from the context: the prompt tokens after it come from
	// the cache.
	var cont oapi.GenerateResponse
	if err := c.Generate(ctx, &oapi.GenerateRequest{Model: "stories", Prompt: " She", Context: a.Context, Options: opts, Stream: &f},
		func(r oapi.GenerateResponse) error { cont = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if cont.PromptEvalCount <= len(a.Context) || cont.Response == "" {
		t.Fatalf("continuation: prompt_eval_count %d (context %d), response %q", cont.PromptEvalCount, len(a.Context), cont.Response)
	}
	// raw with system is refused.
	err := c.Generate(ctx, &oapi.GenerateRequest{Model: "stories", Prompt: "x", Raw: true, System: "y"}, func(oapi.GenerateResponse) error { return nil })
	var se oapi.StatusError
	if !errors.As(err, &se) || se.StatusCode != 400 {
		t.Fatalf("raw with system: %v", err)
	}
}

// TestOllamaChat drives /api/chat with a ChatML model: the rendered
// prompt equals Ollama's expected rendering, and the greedy answer equals
// the engine's solo run on that prompt, streamed and not.
func TestOllamaChat(t *testing.T) {
	ts := newTestServer(t, nil)
	path := modelFile(t, "synthetic", "syn-qwen2-256-Q8_0.gguf")
	ts.create(t, "qwen", path, "TEMPLATE \"\"\""+chatMLTemplate(t)+"\"\"\"")
	var cases []struct {
		Name     string         `json:"name"`
		Messages []oapi.Message `json:"messages"`
		Expected string         `json:"expected"`
	}
	b, err := os.ReadFile(modelFile(t, "..", "templates", "gotmpl", "chatml.cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	c := ts.ollama(t, "")
	ctx := context.Background()
	f := false
	const n = 12
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var rendered string
			err := c.Chat(ctx, &oapi.ChatRequest{Model: "qwen", Messages: tc.Messages, DebugRenderOnly: true, Stream: &f},
				func(r oapi.ChatResponse) error { rendered = r.DebugInfo.RenderedTemplate; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if rendered != tc.Expected {
				t.Fatalf("rendered:\n%q\nwant\n%q", rendered, tc.Expected)
			}
			want, _ := soloGreedy(t, path, tokenize(t, path, tc.Expected), n)
			// JSON strings carry no invalid UTF-8: a random-weight model's
			// stray bytes arrive as U+FFFD, as they do from Ollama.
			want = wire(want)
			opts := map[string]any{"temperature": 0, "num_predict": n}
			var streamed strings.Builder
			var last oapi.ChatResponse
			if err := c.Chat(ctx, &oapi.ChatRequest{Model: "qwen", Messages: tc.Messages, Options: opts},
				func(r oapi.ChatResponse) error {
					streamed.WriteString(r.Message.Content)
					if r.Message.Role != "assistant" {
						return fmt.Errorf("role %q", r.Message.Role)
					}
					last = r
					return nil
				}); err != nil {
				t.Fatal(err)
			}
			if streamed.String() != want {
				t.Fatalf("streamed chat:\n got %q\nwant %q", streamed.String(), want)
			}
			if !last.Done || last.DoneReason == "" || last.EvalCount == 0 || last.PromptEvalCount != len(tokenize(t, path, tc.Expected)) {
				t.Fatalf("final chunk %+v", last)
			}
			var one oapi.ChatResponse
			if err := c.Chat(ctx, &oapi.ChatRequest{Model: "qwen", Messages: tc.Messages, Options: opts, Stream: &f},
				func(r oapi.ChatResponse) error { one = r; return nil }); err != nil {
				t.Fatal(err)
			}
			if one.Message.Content != want || !one.Done {
				t.Fatalf("non-streaming chat: %q, want %q", one.Message.Content, want)
			}
		})
	}
}

// TestOllamaModels pulls a model through the test registry with the Ollama
// client, then lists, shows, copies, creates, runs (ps) and deletes.
func TestOllamaModels(t *testing.T) {
	ts := newTestServer(t, nil)
	reg := registrytest.New(t, registrytest.Options{Auth: true, Redirect: true})
	path := modelFile(t, "stories260K.gguf")
	if _, err := reg.AddModel("library/stories", "latest", registrytest.Model{GGUF: path, System: "A story.",
		Params: map[string]any{"temperature": 0.5}}); err != nil {
		t.Fatal(err)
	}
	c := ts.ollama(t, "")
	ctx := context.Background()
	name := reg.Host + "/library/stories:latest"

	var events []oapi.ProgressResponse
	if err := c.Pull(ctx, &oapi.PullRequest{Model: name, Insecure: true}, func(p oapi.ProgressResponse) error {
		events = append(events, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var statuses []string
	sawBlob := false
	for _, e := range events {
		if len(statuses) == 0 || statuses[len(statuses)-1] != e.Status {
			statuses = append(statuses, e.Status)
		}
		if strings.HasPrefix(e.Status, "pulling ") && e.Status != "pulling manifest" {
			if e.Digest == "" || e.Total <= 0 {
				t.Fatalf("blob event without digest or total: %+v", e)
			}
			if e.Completed == e.Total && e.Total == fileSize(t, path) {
				sawBlob = true
			}
		}
	}
	if statuses[0] != "pulling manifest" || statuses[len(statuses)-1] != "success" || !sawBlob ||
		!contains(statuses, "verifying sha256 digest") || !contains(statuses, "writing manifest") {
		t.Fatalf("pull events: %v (model blob completed: %v)", statuses, sawBlob)
	}

	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Models) != 1 || list.Models[0].Name != name || list.Models[0].Size < fileSize(t, path) || len(list.Models[0].Digest) != 64 {
		t.Fatalf("list after pull: %+v", list.Models)
	}
	show, err := c.Show(ctx, &oapi.ShowRequest{Model: name})
	if err != nil {
		t.Fatal(err)
	}
	if show.System != "A story." || show.Details.Family != "llama" || !strings.Contains(show.Parameters, "temperature") ||
		!strings.Contains(show.Modelfile, "FROM") || show.ModelInfo["general.architecture"] != "llama" {
		t.Fatalf("show: %+v", show)
	}

	if err := c.Copy(ctx, &oapi.CopyRequest{Source: name, Destination: "mine:v1"}); err != nil {
		t.Fatal(err)
	}
	list, _ = c.List(ctx)
	if len(list.Models) != 2 || list.Models[0].Digest != list.Models[1].Digest {
		t.Fatalf("list after copy: %+v", list.Models)
	}

	// Create from a stored model with overrides, and from an uploaded blob.
	f := false
	var createEvents []string
	if err := c.Create(ctx, &oapi.CreateRequest{Model: "tuned", From: "mine:v1", System: "Tuned.",
		Parameters: map[string]any{"num_predict": 7, "stop": []string{"zzz"}}, Stream: &f},
		func(p oapi.ProgressResponse) error { createEvents = append(createEvents, p.Status); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(createEvents) != 1 || createEvents[0] != "success" {
		t.Fatalf("non-streaming create answered %v", createEvents)
	}
	data, err := os.ReadFile(modelFile(t, "stories260K-q8_0-mix.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if err := c.CreateBlob(ctx, digest, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBlob(ctx, "sha256:"+strings.Repeat("0", 64), bytes.NewReader(data)); err == nil {
		t.Fatal("a blob that does not match its digest was accepted")
	}
	createEvents = nil
	if err := c.Create(ctx, &oapi.CreateRequest{Model: "q8", Files: map[string]string{"model.gguf": digest}},
		func(p oapi.ProgressResponse) error { createEvents = append(createEvents, p.Status); return nil }); err != nil {
		t.Fatal(err)
	}
	if createEvents[len(createEvents)-1] != "success" {
		t.Fatalf("create events %v", createEvents)
	}

	// Run the created model: its num_predict parameter applies and the
	// request's options override the model's.
	var r oapi.GenerateResponse
	if err := c.Generate(ctx, &oapi.GenerateRequest{Model: "tuned", Prompt: "Once", Raw: true, Stream: &f,
		Options: map[string]any{"temperature": 0}}, func(g oapi.GenerateResponse) error { r = g; return nil }); err != nil {
		t.Fatal(err)
	}
	if r.EvalCount != 7 || r.DoneReason != "length" {
		t.Fatalf("tuned model: eval_count %d done_reason %q (num_predict 7 from the Modelfile)", r.EvalCount, r.DoneReason)
	}
	if err := c.Generate(ctx, &oapi.GenerateRequest{Model: "tuned", Prompt: "Once", Raw: true, Stream: &f,
		Options: map[string]any{"temperature": 0, "num_predict": 3}}, func(g oapi.GenerateResponse) error { r = g; return nil }); err != nil {
		t.Fatal(err)
	}
	if r.EvalCount != 3 {
		t.Fatalf("request num_predict 3 over the model's 7: eval_count %d", r.EvalCount)
	}
	ps, err := c.ListRunning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Models) != 1 || ps.Models[0].Name != "tuned:latest" || len(ps.Models[0].Digest) != 64 || ps.Models[0].Size <= 0 ||
		ps.Models[0].ContextLength <= 0 || time.Until(ps.Models[0].ExpiresAt) < time.Minute {
		t.Fatalf("ps: %+v", ps.Models)
	}

	if err := c.Delete(ctx, &oapi.DeleteRequest{Model: "mine:v1"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Show(ctx, &oapi.ShowRequest{Model: "mine:v1"})
	var se oapi.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusNotFound {
		t.Fatalf("show after delete: %v", err)
	}
	err = c.Delete(ctx, &oapi.DeleteRequest{Model: "mine:v1"})
	if !errors.As(err, &se) || se.StatusCode != http.StatusNotFound {
		t.Fatalf("second delete: %v", err)
	}
	// The pulled model still runs after its copy was deleted.
	if err := c.Generate(ctx, &oapi.GenerateRequest{Model: name, Prompt: "Once", Raw: true, Stream: &f,
		Options: map[string]any{"num_predict": 2}}, func(g oapi.GenerateResponse) error { r = g; return nil }); err != nil {
		t.Fatal(err)
	}

	// A generative model has no pooling: embeddings are refused clearly.
	_, err = c.Embed(ctx, &oapi.EmbedRequest{Model: name, Input: "hello"})
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest || !strings.Contains(se.ErrorMessage, "does not support embeddings") {
		t.Fatalf("embed: %v", err)
	}
}

// TestLoadUnload checks the idioms: a model name alone loads, keep_alive
// 0 with nothing to do unloads.
func TestLoadUnload(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	c := ts.ollama(t, "")
	ctx := context.Background()
	var r oapi.GenerateResponse
	if err := c.Generate(ctx, &oapi.GenerateRequest{Model: "stories"}, func(g oapi.GenerateResponse) error { r = g; return nil }); err != nil {
		t.Fatal(err)
	}
	if !r.Done || r.DoneReason != "load" || r.Response != "" {
		t.Fatalf("load: %+v", r)
	}
	ps, _ := c.ListRunning(ctx)
	if len(ps.Models) != 1 {
		t.Fatalf("ps after load: %+v", ps.Models)
	}
	var cr oapi.ChatResponse
	if err := c.Chat(ctx, &oapi.ChatRequest{Model: "stories", KeepAlive: &oapi.Duration{Duration: 0}},
		func(g oapi.ChatResponse) error { cr = g; return nil }); err != nil {
		t.Fatal(err)
	}
	if !cr.Done || cr.DoneReason != "unload" || cr.Message.Role != "assistant" {
		t.Fatalf("unload: %+v", cr)
	}
	ps, _ = c.ListRunning(ctx)
	if len(ps.Models) != 0 {
		t.Fatalf("ps after unload: %+v", ps.Models)
	}
	// keep_alive -1 keeps it forever.
	if err := c.Chat(ctx, &oapi.ChatRequest{Model: "stories", KeepAlive: &oapi.Duration{Duration: -1}},
		func(g oapi.ChatResponse) error { cr = g; return nil }); err != nil {
		t.Fatal(err)
	}
	ps, _ = c.ListRunning(ctx)
	if cr.DoneReason != "load" || len(ps.Models) != 1 || time.Until(ps.Models[0].ExpiresAt) < 24*time.Hour*365 {
		t.Fatalf("keep_alive -1: %q %+v", cr.DoneReason, ps.Models)
	}
	if err := c.Generate(ctx, &oapi.GenerateRequest{Model: "stories", KeepAlive: &oapi.Duration{Duration: 0}},
		func(g oapi.GenerateResponse) error { r = g; return nil }); err != nil {
		t.Fatal(err)
	}
	ps, _ = c.ListRunning(ctx)
	if r.DoneReason != "unload" || len(ps.Models) != 0 {
		t.Fatalf("generate unload: %q, ps %+v", r.DoneReason, ps.Models)
	}
}

// wire is s after a trip through a JSON string.
func wire(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

func fileSize(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
