package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	oapi "github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"
)

// TestBadInput sends malformed and wrong requests: each gets Ollama's
// status and an {"error": "..."} body naming the problem, and the server
// keeps serving.
func TestBadInput(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	long := strings.Repeat("Once upon a time there was a little girl. ", 20)
	cases := []struct {
		name, method, path, body string
		status                   int
		contains                 string
	}{
		{"malformed JSON", "POST", "/api/generate", `{"model": "stories", "prompt": `, 400, "JSON"},
		{"not JSON", "POST", "/api/chat", `hello`, 400, "invalid"},
		{"missing body", "POST", "/api/generate", ``, 400, "missing request body"},
		{"wrong field type", "POST", "/api/generate", `{"model": 5}`, 400, "model"},
		{"missing model", "POST", "/api/chat", `{"messages": []}`, 400, "model is required"},
		{"invalid name", "POST", "/api/generate", `{"model": "a/b/c/d/e", "prompt": "x"}`, 400, "invalid model name"},
		{"unknown model generate", "POST", "/api/generate", `{"model": "nope", "prompt": "x"}`, 404, "model 'nope' not found"},
		{"unknown model chat", "POST", "/api/chat", `{"model": "nope:7b", "messages": [{"role": "user", "content": "x"}]}`, 404, "not found"},
		{"unknown model show", "POST", "/api/show", `{"model": "nope"}`, 404, "not found"},
		{"unknown model delete", "DELETE", "/api/delete", `{"model": "nope"}`, 404, "not found"},
		{"unknown model copy", "POST", "/api/copy", `{"source": "nope", "destination": "x"}`, 404, "not found"},
		{"bad option type float", "POST", "/api/generate", `{"model": "stories", "prompt": "x", "options": {"temperature": "hot"}}`, 400, "temperature"},
		{"bad option type int", "POST", "/api/generate", `{"model": "stories", "prompt": "x", "options": {"num_predict": "5"}}`, 400, "num_predict"},
		{"bad option type stop", "POST", "/api/chat", `{"model": "stories", "messages": [{"role": "user", "content": "x"}], "options": {"stop": 5}}`, 400, "stop"},
		{"bad option value", "POST", "/api/generate", `{"model": "stories", "prompt": "x", "options": {"top_p": 7}}`, 400, "top_p"},
		{"bad options type", "POST", "/api/generate", `{"model": "stories", "prompt": "x", "options": [1]}`, 400, "options"},
		{"bad keep_alive", "POST", "/api/generate", `{"model": "stories", "keep_alive": "soon"}`, 400, "duration"},
		{"bad think", "POST", "/api/chat", `{"model": "stories", "think": "maybe", "messages": []}`, 400, "think"},
		{"think unsupported", "POST", "/api/chat", `{"model": "stories", "think": true, "messages": [{"role": "user", "content": "x"}]}`, 400, "does not support thinking"},
		{"tools unsupported", "POST", "/api/chat", `{"model": "stories", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}]}`, 400, "does not support tools"},
		{"top_logprobs", "POST", "/api/generate", `{"model": "stories", "prompt": "x", "logprobs": true, "top_logprobs": 21}`, 400, "top_logprobs"},
		{"bad format", "POST", "/api/generate", `{"model": "stories", "prompt": "x", "format": "xml"}`, 400, "format"},
		{"bad schema", "POST", "/api/generate", `{"model": "stories", "prompt": "x", "format": {"type": "nonsense"}}`, 400, ""},
		{"unknown role", "POST", "/api/chat", `{"model": "stories", "messages": [{"role": "wizard", "content": "x"}]}`, 400, "role"},
		{"raw with template", "POST", "/api/generate", `{"model": "stories", "prompt": "x", "raw": true, "template": "{{ .Prompt }}"}`, 400, "raw mode"},
		{"bad template", "POST", "/api/generate", `{"model": "stories", "prompt": "x", "template": "{{ .Prompt "}`, 400, "template"},
		{"over-long prompt, truncate false", "POST", "/api/generate",
			`{"model": "stories", "prompt": "` + long + `", "truncate": false, "options": {"num_ctx": 64}}`, 400, "exceeds the context length"},
		{"over-long chat, truncate false", "POST", "/api/chat",
			`{"model": "stories", "messages": [{"role": "user", "content": "` + long + `"}], "truncate": false, "options": {"num_ctx": 64}}`, 400, "exceeds the context length"},
		{"bad blob digest", "POST", "/api/blobs/sha256:xyz", `data`, 400, "digest"},
		{"missing blob", "HEAD", "/api/blobs/sha256:" + strings.Repeat("a", 64), ``, 404, ""},
		{"create without from", "POST", "/api/create", `{"model": "m"}`, 400, "from"},
		{"create bad parameter", "POST", "/api/create", `{"model": "m", "from": "stories", "parameters": {"temperature": "hot"}}`, 400, "temperature"},
		{"pull bad name", "POST", "/api/pull", `{"model": "a/b/c/d/e"}`, 400, "invalid model name"},
		{"embed bad input", "POST", "/api/embed", `{"model": "stories", "input": [1, 2]}`, 400, "input"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := ts.do(t, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.method == "HEAD" {
				return
			}
			msg := errorBody(t, body)
			if !strings.Contains(msg, tc.contains) {
				t.Fatalf("message %q does not mention %q", msg, tc.contains)
			}
		})
	}
	// Unknown routes and methods.
	if status, _ := ts.do(t, "GET", "/api/nothing", ""); status != 404 {
		t.Fatalf("unknown path: %d", status)
	}
	if status, _ := ts.do(t, "GET", "/api/generate", ""); status != 405 {
		t.Fatalf("wrong method: %d", status)
	}
	// OpenAI errors come in OpenAI's shape.
	status, body := ts.do(t, "POST", "/v1/chat/completions", `{"model": "nope", "messages": [{"role": "user", "content": "x"}]}`)
	var oe struct {
		Error struct {
			Message, Type string
			Code          *string
		}
	}
	if status != 404 || json.Unmarshal(body, &oe) != nil || oe.Error.Type != "invalid_request_error" || !strings.Contains(oe.Error.Message, "nope") {
		t.Fatalf("OpenAI 404: %d %s", status, body)
	}
	status, body = ts.do(t, "POST", "/v1/chat/completions", `{"model": "stories", "messages": "x"}`)
	if status != 400 || json.Unmarshal(body, &oe) != nil || oe.Error.Message == "" {
		t.Fatalf("OpenAI bad body: %d %s", status, body)
	}

	// Truncation on (the default) fits the prompt in the context.
	c := ts.ollama(t, "")
	f := false
	var r oapi.GenerateResponse
	if err := c.Generate(context.Background(), &oapi.GenerateRequest{Model: "stories", Prompt: long, Stream: &f,
		Options: map[string]any{"num_ctx": 64, "num_predict": 4, "temperature": 0}}, func(g oapi.GenerateResponse) error { r = g; return nil }); err != nil {
		t.Fatal(err)
	}
	if r.PromptEvalCount > 64 || r.PromptEvalCount < 32 || r.EvalCount == 0 {
		t.Fatalf("truncated prompt: prompt_eval_count %d, eval_count %d", r.PromptEvalCount, r.EvalCount)
	}
	// Still serving after all that.
	if err := c.Generate(context.Background(), &oapi.GenerateRequest{Model: "stories", Prompt: "Once", Stream: &f,
		Options: map[string]any{"num_predict": 3}}, func(g oapi.GenerateResponse) error { r = g; return nil }); err != nil || r.EvalCount != 3 {
		t.Fatalf("after bad input: %v %+v", err, r)
	}
}

// TestAPIKeys: with GOLEM_API_KEYS set every endpoint but /healthz needs
// one of the keys, for the Ollama client and the OpenAI SDK alike.
func TestAPIKeys(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.APIKeys = []string{"k-one", "k-two"} })
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	ctx := context.Background()

	// The Ollama client sends no key unless configured.
	_, err := ts.ollama(t, "").List(ctx)
	var ae oapi.AuthorizationError
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("no key: %v", err)
	}
	_, err = ts.ollama(t, "wrong").List(ctx)
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("wrong key: %v", err)
	}
	err = ts.ollama(t, "wrong").Generate(ctx, &oapi.GenerateRequest{Model: "stories", Prompt: "x"}, func(oapi.GenerateResponse) error { return nil })
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("wrong key, streaming: %v", err)
	}
	list, err := ts.ollama(t, "k-two").List(ctx)
	if err != nil || len(list.Models) != 1 {
		t.Fatalf("right key: %v", err)
	}
	f := false
	if err := ts.ollama(t, "k-one").Generate(ctx, &oapi.GenerateRequest{Model: "stories", Prompt: "Once", Stream: &f,
		Options: map[string]any{"num_predict": 2}}, func(oapi.GenerateResponse) error { return nil }); err != nil {
		t.Fatal(err)
	}

	bad, good := ts.openai("wrong"), ts.openai("k-one")
	_, err = bad.Models.List(ctx)
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != 401 || oe.Code != "invalid_api_key" {
		t.Fatalf("OpenAI wrong key: %v", err)
	}
	if _, err := good.Models.List(ctx); err != nil {
		t.Fatal(err)
	}

	for _, p := range []string{"/", "/api/version", "/metrics", "/v1/models"} {
		if status, body := ts.do(t, "GET", p, ""); status != 401 {
			t.Fatalf("%s without a key: %d %s", p, status, body)
		}
		if status, body := ts.do(t, "GET", p, "", "Authorization", "Bearer k-two"); status != 200 {
			t.Fatalf("%s with a key: %d %s", p, status, body)
		}
	}
	if status, _ := ts.do(t, "GET", "/healthz", ""); status != 200 {
		t.Fatalf("/healthz needs no key: %d", status)
	}
	// Probes carry no key: /readyz answers without one, with the status
	// alone; with a key it tells more.
	if status, body := ts.do(t, "GET", "/readyz", ""); status != 200 || string(bytes.TrimSpace(body)) != `{"status":"ready"}` {
		t.Fatalf("/readyz without a key: %d %s", status, body)
	}
	if status, _ := ts.do(t, "GET", "/api/tags", "", "X-Api-Key", "k-one"); status != 200 {
		t.Fatalf("x-api-key header: %d", status)
	}
	if status, _ := ts.do(t, "GET", "/api/tags", "", "Authorization", "Basic azpvbmU="); status != 401 {
		t.Fatalf("basic auth is not a key: %d", status)
	}
	_ = http.StatusOK
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRequestLog: one structured JSON line per request, with the model
// and token counts of generations.
func TestRequestLog(t *testing.T) {
	var buf syncBuffer
	ts := newTestServer(t, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	ts.do(t, "POST", "/api/generate", `{"model": "stories", "prompt": "Once", "stream": false, "options": {"num_predict": 5}}`)
	ts.do(t, "POST", "/api/show", `{"model": "nope"}`)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d request lines: %v", len(lines), lines)
	}
	g := lines[0]
	if g["path"] != "/api/generate" || g["status"] != 200.0 || g["model"] != "stories:latest" || g["eval_tokens"] != 5.0 ||
		g["done_reason"] != "length" || g["duration"] == nil || g["method"] != "POST" {
		t.Fatalf("generate log line: %v", g)
	}
	if lines[1]["status"] != 404.0 || lines[1]["path"] != "/api/show" {
		t.Fatalf("show log line: %v", lines[1])
	}
}
