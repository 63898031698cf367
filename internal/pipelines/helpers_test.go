package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "test-key"

// fixture is a running pipelines server on loopback.
type fixture struct {
	t   *testing.T
	dir string
	m   *Manager
	srv *httptest.Server
	url string

	mu   sync.Mutex
	logs []string
}

// newFixture starts a server over dir (a fresh one if empty) holding the
// given scripts (id -> source).
func newFixture(t *testing.T, dir string, opts Options, scripts map[string]string) *fixture {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	for id, src := range scripts {
		if err := os.WriteFile(filepath.Join(dir, id+".star"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{t: t, dir: dir}
	opts.Dir = dir
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	opts.OnLog = func(p, msg string) {
		f.mu.Lock()
		f.logs = append(f.logs, p+": "+msg)
		f.mu.Unlock()
	}
	m, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for id, err := range m.Failed() {
		t.Fatalf("pipeline %s failed to load: %v", id, err)
	}
	f.m = m
	f.srv = httptest.NewServer(m.Handler())
	t.Cleanup(f.srv.Close)
	f.url = f.srv.URL
	return f
}

func (f *fixture) logLines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.logs...)
}

// do sends a request with the test key (or key, if given) and returns the
// status and body.
func (f *fixture) do(method, path string, body any, key ...string) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/json"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	k := testKey
	if len(key) > 0 {
		k = key[0]
	}
	if k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, data
}

// ok sends a request that must succeed and decodes its JSON answer.
func (f *fixture) ok(method, path string, body any) map[string]any {
	f.t.Helper()
	status, data := f.do(method, path, body)
	if status != http.StatusOK {
		f.t.Fatalf("%s %s: %d %s", method, path, status, data)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		f.t.Fatalf("%s %s: %v: %s", method, path, err, data)
	}
	return out
}

// detail sends a request that must fail with status and returns its detail.
func (f *fixture) detail(status int, method, path string, body any) string {
	f.t.Helper()
	got, data := f.do(method, path, body)
	if got != status {
		f.t.Fatalf("%s %s: got %d %s, want %d", method, path, got, data, status)
	}
	var out struct {
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.Detail == "" {
		f.t.Fatalf("%s %s: no detail in %s", method, path, data)
	}
	return out.Detail
}

// inlet runs a filter's inlet on a body and user.
func (f *fixture) inlet(id string, body, user any) (int, []byte) {
	return f.do("POST", "/"+id+"/filter/inlet", map[string]any{"body": body, "user": user})
}

func (f *fixture) upload(filename, src string) (int, []byte) {
	f.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", filename)
	fw.Write([]byte(src))
	mw.Close()
	req, _ := http.NewRequest("POST", f.url+"/pipelines/upload", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// sseEvents splits a text/event-stream body into its data payloads.
func sseEvents(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.Split(string(body), "\n\n") {
		ev = strings.TrimSpace(ev)
		if ev == "" {
			continue
		}
		if !strings.HasPrefix(ev, "data: ") {
			t.Fatalf("event without data: %q", ev)
		}
		out = append(out, strings.TrimPrefix(ev, "data: "))
	}
	return out
}

// streamText joins the content deltas of chat.completion.chunk events and
// checks the stream's shape: chunks, a stop chunk, then [DONE].
func streamText(t *testing.T, body []byte) string {
	t.Helper()
	evs := sseEvents(t, body)
	if len(evs) < 2 || evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", evs)
	}
	var text strings.Builder
	for i, ev := range evs[:len(evs)-1] {
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta        map[string]any `json:"delta"`
				FinishReason *string        `json:"finish_reason"`
			} `json:"choices"`
			Error any `json:"error"`
		}
		if err := json.Unmarshal([]byte(ev), &c); err != nil {
			t.Fatalf("bad chunk %q: %v", ev, err)
		}
		if c.Error != nil {
			t.Fatalf("stream error: %v", c.Error)
		}
		if c.Object != "chat.completion.chunk" || len(c.Choices) != 1 {
			t.Fatalf("not a chunk: %q", ev)
		}
		last := i == len(evs)-2
		if last != (c.Choices[0].FinishReason != nil) {
			t.Fatalf("finish_reason in the wrong chunk: %q", ev)
		}
		if s, ok := c.Choices[0].Delta["content"].(string); ok {
			text.WriteString(s)
		}
	}
	return text.String()
}

// fakeOpenAI is a stand-in OpenAI-compatible API written from the API's
// description: /models lists models, /chat/completions answers with
// answer(request) as one message or as a stream of word chunks.
type fakeOpenAI struct {
	srv    *httptest.Server
	key    string
	models []string
	answer func(req map[string]any) string

	mu       sync.Mutex
	requests []map[string]any
	auth     []string
}

func newFakeOpenAI(t *testing.T, key string, models []string, answer func(map[string]any) string) *fakeOpenAI {
	f := &fakeOpenAI{key: key, models: models, answer: answer}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		if !f.authorized(w, r) {
			return
		}
		var data []map[string]any
		for _, m := range f.models {
			data = append(data, map[string]any{"id": m, "object": "model", "created": 1, "owned_by": "test"})
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		if !f.authorized(w, r) {
			return
		}
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		text := f.answer(req)
		model, _ := req["model"].(string)
		if stream, _ := req["stream"].(bool); stream {
			w.Header().Set("Content-Type", "text/event-stream")
			words := strings.SplitAfter(text, " ")
			for _, word := range words {
				b, _ := json.Marshal(map[string]any{"id": "x", "object": "chat.completion.chunk", "model": model,
					"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": word}, "finish_reason": nil}}})
				fmt.Fprintf(w, "data: %s\n\n", b)
				w.(http.Flusher).Flush()
			}
			b, _ := json.Marshal(map[string]any{"id": "x", "object": "chat.completion.chunk", "model": model,
				"choices": []any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": "stop"}}})
			fmt.Fprintf(w, "data: %s\n\ndata: [DONE]\n\n", b)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "created": 1, "model": model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}},
			"usage":   map[string]any{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) authorized(w http.ResponseWriter, r *http.Request) bool {
	got := r.Header.Get("Authorization")
	f.mu.Lock()
	f.auth = append(f.auth, got)
	f.mu.Unlock()
	if f.key != "" && got != "Bearer "+f.key {
		w.WriteHeader(401)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": "bad key"}})
		return false
	}
	return true
}

func (f *fakeOpenAI) base() string { return f.srv.URL + "/v1" }

func (f *fakeOpenAI) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeOpenAI) reqs() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.requests...)
}

// readExample returns a shipped example pipeline.
func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "pipelines", name))
	if err != nil {
		t.Fatalf("example %s: %v", name, err)
	}
	return string(b)
}

// fastLimits keeps sandbox tests quick.
func fastLimits() Limits {
	return Limits{Steps: 2_000_000, Timeout: 2 * time.Second, Grace: 500 * time.Millisecond, AllocBudget: 64 << 20}
}
