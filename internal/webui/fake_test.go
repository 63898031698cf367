package webui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOllama is a stand-in model server written from Ollama's API description: /api/version, /api/tags,
// /api/chat (NDJSON stream), /api/pull (NDJSON progress), /api/delete, and the OpenAI-compatible
// /v1/chat/completions. Its answer echoes the last user message, so tests can tell what it was sent.
type fakeOllama struct {
	mu       sync.Mutex
	models   []string
	chats    []chatSeen // every /api/chat request, in order
	deleted  []string
	pullDone chan error // receives how each pull ended: nil, or the context's error
	// gate, when set, holds every chat answer after its first piece until it is closed or the
	// request ends.
	gate chan struct{}
	// reply overrides the answer's pieces.
	reply func(last string) []string
	// firstSent, when set, receives the time each answer's first piece was flushed.
	firstSent chan time.Time
}

type chatSeen struct {
	Model    string         `json:"model"`
	Messages []turn         `json:"messages"`
	Options  map[string]any `json:"options"`
}

func newFakeOllama(models ...string) *fakeOllama {
	return &fakeOllama{models: models, pullDone: make(chan error, 8)}
}

func (f *fakeOllama) seen() []chatSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chatSeen{}, f.chats...)
}

// answer is the stand-in's reply to a conversation, in pieces.
func (f *fakeOllama) answer(msgs []turn) []string {
	last := ""
	if len(msgs) > 0 {
		last = msgs[len(msgs)-1].Content
	}
	if f.reply != nil {
		return f.reply(last)
	}
	if strings.HasPrefix(last, "Write a short title") {
		return []string{"\"Sky ", "Colour ", "Talk.\"\nmore"}
	}
	return []string{"You ", "said: ", last}
}

func (f *fakeOllama) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	switch r.Method + " " + r.URL.Path {
	case "GET /api/version":
		json.NewEncoder(w).Encode(map[string]string{"version": "0.0.1-fake"})
	case "GET /api/tags":
		f.mu.Lock()
		var ms []map[string]any
		for _, m := range f.models {
			ms = append(ms, map[string]any{"name": m, "model": m, "size": 1234, "modified_at": "2024-07-13T10:00:00Z",
				"details": map[string]string{"family": "llama", "parameter_size": "260K"}})
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"models": ms})
	case "POST /api/chat":
		var req chatSeen
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		if !f.has(req.Model) {
			w.WriteHeader(404)
			json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf("model %q not found, try pulling it first", req.Model)})
			return
		}
		f.mu.Lock()
		f.chats = append(f.chats, req)
		gate := f.gate
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		pieces := f.answer(req.Messages)
		for i, p := range pieces {
			enc.Encode(map[string]any{"model": req.Model, "message": map[string]string{"role": "assistant", "content": p}, "done": false})
			w.(http.Flusher).Flush()
			if i == 0 && f.firstSent != nil {
				select {
				case f.firstSent <- time.Now():
				default: // nobody is measuring this answer
				}
			}
			if i == 0 && gate != nil {
				select {
				case <-gate:
				case <-ctx.Done():
					return
				}
			}
		}
		enc.Encode(map[string]any{"model": req.Model, "message": map[string]string{"role": "assistant", "content": ""},
			"done": true, "done_reason": "stop", "prompt_eval_count": 7, "eval_count": len(pieces), "total_duration": 5e6})
	case "POST /v1/chat/completions":
		var req chatSeen
		json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, p := range f.answer(req.Messages) {
			b, _ := json.Marshal(map[string]any{"object": "chat.completion.chunk", "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "delta": map[string]string{"content": p}}}})
			fmt.Fprintf(w, "data: %s\n\n", b)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	case "POST /api/pull":
		var req struct {
			Model string `json:"model"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if req.Model == "missing" {
			w.WriteHeader(404)
			json.NewEncoder(w).Encode(map[string]string{"error": "pull model manifest: file does not exist"})
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		enc.Encode(map[string]string{"status": "pulling manifest"})
		const total = 1000
		for done := 0; done <= total; done += 250 {
			enc.Encode(map[string]any{"status": "pulling abc", "digest": "sha256:abc", "total": total, "completed": done})
			w.(http.Flusher).Flush()
			if req.Model == "slow" {
				select {
				case <-time.After(2 * time.Second):
				case <-ctx.Done():
					f.pullDone <- ctx.Err()
					return
				}
			}
		}
		enc.Encode(map[string]string{"status": "success"})
		f.mu.Lock()
		f.models = append(f.models, req.Model+":latest")
		f.mu.Unlock()
		f.pullDone <- nil
	case "DELETE /api/delete":
		var req struct {
			Model string `json:"model"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, m := range f.models {
			if m == req.Model {
				f.models = append(f.models[:i], f.models[i+1:]...)
				f.deleted = append(f.deleted, m)
				return
			}
		}
		w.WriteHeader(404)
		json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf("model '%s' not found", req.Model)})
	default:
		w.WriteHeader(404)
		fmt.Fprint(w, "404 page not found")
	}
}

func (f *fakeOllama) has(model string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.models {
		if m == model {
			return true
		}
	}
	return false
}

// fakeOpenAI is a stand-in OpenAI-compatible server (base URL includes /v1 as OpenAI's does); with
// pipelines set it answers /models as a Pipelines server, with one filter pipeline.
type fakeOpenAI struct {
	key       string
	pipelines bool
	mu        sync.Mutex
	bodies    []map[string]any
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.key != "" && r.Header.Get("Authorization") != "Bearer "+f.key {
		w.WriteHeader(401)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": "Incorrect API key provided"}})
		return
	}
	switch r.Method + " " + strings.TrimPrefix(r.URL.Path, "/v1") {
	case "GET /models":
		data := []any{map[string]any{"id": "gpt-fake", "object": "model", "owned_by": "fake"}}
		if f.pipelines {
			data = append(data, map[string]any{"id": "rate_limit_filter", "name": "Rate Limit Filter", "object": "model",
				"pipeline": map[string]any{"type": "filter", "pipelines": []string{"*"}}})
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "pipelines": f.pipelines})
	case "POST /chat/completions":
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.bodies = append(f.bodies, body)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		for _, p := range []string{"Hello", " from", " OpenAI"} {
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", p)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":3}}\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
	default:
		w.WriteHeader(404)
	}
}

// Test client.

type client struct {
	t     testing.TB
	base  string
	token string
	hc    *http.Client
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

func (r response) detail() string {
	var m struct {
		Detail string `json:"detail"`
	}
	json.Unmarshal(r.body, &m)
	return m.Detail
}

func newClient(t testing.TB, base string) *client {
	return &client{t: t, base: base, hc: &http.Client{Timeout: 30 * time.Second}}
}

// as returns a copy of the client that sends the token.
func (c *client) as(token string) *client {
	d := *c
	d.token = token
	return &d
}

func (c *client) req(method, path string, body any) *http.Request {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	r, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	return r
}

func (c *client) send(r *http.Request) response {
	c.t.Helper()
	resp, err := c.hc.Do(r)
	if err != nil {
		c.t.Fatalf("%s %s: %v", r.Method, r.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	return c.send(c.req(method, path, body))
}

// must does a request and fails the test unless the status is want; it returns the JSON object.
func (c *client) must(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r.json(c.t)
}

type sseEvent struct {
	name string
	data map[string]any
}

// stream posts a completion and returns its events as they come, on a channel closed at the end.
func (c *client) stream(ctx context.Context, path string, body any) (*http.Response, <-chan sseEvent) {
	c.t.Helper()
	r := c.req("POST", path, body).WithContext(ctx)
	resp, err := c.hc.Do(r)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	ch := make(chan sseEvent, 64)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		close(ch)
		return resp, ch
	}
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[len("data: "):]), &ev.data)
			case line == "" && ev.name != "":
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return resp, ch
}

// complete posts a completion and collects all its events.
func (c *client) complete(chatID string, body any) []sseEvent {
	c.t.Helper()
	resp, ch := c.stream(context.Background(), "/api/v1/chats/"+chatID+"/completions", body)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.t.Fatalf("completion: status %d: %s", resp.StatusCode, b)
	}
	var evs []sseEvent
	for ev := range ch {
		evs = append(evs, ev)
	}
	return evs
}

// uiServer starts a Handler over the database and returns its test server.
func uiServer(t testing.TB, cfg Config) (*httptest.Server, *Handler) {
	t.Helper()
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	return srv, h
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// signup creates an account and returns its token.
func signup(t testing.TB, c *client, email string) (string, map[string]any) {
	t.Helper()
	m := c.must(200, "POST", "/api/v1/auths/signup", map[string]string{"email": email, "password": "password1"})
	tok, _ := m["token"].(string)
	if tok == "" {
		t.Fatalf("sign-up returned no token: %v", m)
	}
	return tok, m
}
