package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	oapi "github.com/ollama/ollama/api"

	"github.com/golem-llm/golem/internal/registry/registrytest"
)

// TestParallelStreams runs more concurrent streams than the model has
// sequence slots: all complete, and each equals its greedy output alone.
func TestParallelStreams(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.NumParallel = 4 })
	path := modelFile(t, "stories260K.gguf")
	ts.create(t, "stories", path)
	c := ts.ollama(t, "")
	prompts := []string{"Once upon a time", "The quick brown fox", "Lily had a red ball", "One day, a big dog",
		"Tom and Sue went to the park", "The sun was", "In a small house", "Mom said"}
	const n = 40
	want := make([]string, len(prompts))
	for i, p := range prompts {
		want[i], _ = soloGreedy(t, path, tokenize(t, path, p), n)
	}
	got := make([]string, len(prompts))
	errs := make([]error, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b strings.Builder
			errs[i] = c.Generate(context.Background(), &oapi.GenerateRequest{Model: "stories", Prompt: p, Raw: true,
				Options: map[string]any{"temperature": 0, "num_predict": n}}, func(r oapi.GenerateResponse) error {
				b.WriteString(r.Response)
				return nil
			})
			got[i] = b.String()
		}()
	}
	wg.Wait()
	for i := range prompts {
		if errs[i] != nil {
			t.Fatalf("stream %d: %v", i, errs[i])
		}
		if got[i] != want[i] {
			t.Fatalf("stream %d (%q):\n got %q\nwant %q", i, prompts[i], got[i], want[i])
		}
	}
}

// TestQueueFullAndCancel: with one slot and a queue of one, a third
// request is refused with 503 (Ollama's shape), and a cancelled stream
// stops computing at once, freeing its slot.
func TestQueueFullAndCancel(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.NumParallel = 1; c.MaxQueue = 1 })
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	c := ts.ollama(t, "")
	long := &oapi.GenerateRequest{Model: "stories", Prompt: "Once upon a time", Raw: true,
		Options: map[string]any{"num_predict": -1, "num_ctx": 1 << 16}}

	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelA()
	defer cancelB()
	started := make(chan struct{})
	done := make(chan error, 2)
	go func() {
		var once sync.Once
		done <- c.Generate(ctxA, long, func(oapi.GenerateResponse) error { once.Do(func() { close(started) }); return nil })
	}()
	<-started
	go func() { done <- c.Generate(ctxB, long, func(oapi.GenerateResponse) error { return nil }) }()
	runner := func() (running, waiting int) {
		for _, m := range ts.s.sched.Running() {
			st := m.Runner.Stats()
			return st.Running, st.Waiting
		}
		return 0, 0
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r, w := runner(); r == 1 && w == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second request never queued")
		}
		time.Sleep(5 * time.Millisecond)
	}
	status, body := ts.do(t, "POST", "/api/generate", `{"model": "stories", "prompt": "x", "raw": true}`)
	if status != http.StatusServiceUnavailable || !strings.Contains(errorBody(t, body), "busy") {
		t.Fatalf("third request: %d %s", status, body)
	}
	status, body = ts.do(t, "POST", "/v1/completions", `{"model": "stories", "prompt": "x"}`)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), `"server_error"`) {
		t.Fatalf("third request (OpenAI): %d %s", status, body)
	}
	// Cancel both clients: their generations stop and the runner idles.
	cancelA()
	cancelB()
	for i := 0; i < 2; i++ {
		// (Ollama's client returns nil or the context's error.)
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled stream ended with %v", err)
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		if r, w := runner(); r == 0 && w == 0 {
			break
		}
		if time.Now().After(deadline) {
			r, w := runner()
			t.Fatalf("after cancelling: %d running, %d waiting", r, w)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f := false
	var r oapi.GenerateResponse
	if err := c.Generate(context.Background(), &oapi.GenerateRequest{Model: "stories", Prompt: "Once", Raw: true, Stream: &f,
		Options: map[string]any{"num_predict": 5}}, func(g oapi.GenerateResponse) error { r = g; return nil }); err != nil || r.EvalCount != 5 {
		t.Fatalf("after the queue drained: %v %+v", err, r)
	}
}

// scrape reads /metrics into "name{labels}" -> value.
func scrape(t *testing.T, ts *testServer) map[string]float64 {
	t.Helper()
	status, body := ts.do(t, "GET", "/metrics", "")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetrics checks the Prometheus series, under golem_ and vllm: names,
// against the requests made.
func TestMetrics(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	c := ts.ollama(t, "")
	f := false
	var prompt, gen int
	for i := 0; i < 3; i++ {
		var r oapi.GenerateResponse
		if err := c.Generate(context.Background(), &oapi.GenerateRequest{Model: "stories", Prompt: "Once upon a time", Raw: true, Stream: &f,
			Options: map[string]any{"num_predict": 7 + i}}, func(g oapi.GenerateResponse) error { r = g; return nil }); err != nil {
			t.Fatal(err)
		}
		prompt += r.PromptEvalCount
		gen += r.EvalCount
	}
	ts.do(t, "POST", "/api/generate", `{"model": "nope", "prompt": "x"}`)
	m := scrape(t, ts)
	const lbl = `{model_name="stories:latest"}`
	checks := map[string]float64{
		`vllm:generation_tokens_total` + lbl:                                               float64(gen),
		`golem_generation_tokens_total{model="stories:latest"}`:                            float64(gen),
		`vllm:prompt_tokens_total` + lbl:                                                   float64(prompt),
		`vllm:time_to_first_token_seconds_count` + lbl:                                     3,
		`vllm:time_per_output_token_seconds_count` + lbl:                                   3,
		`vllm:e2e_request_latency_seconds_count` + lbl:                                     3,
		`vllm:num_requests_running` + lbl:                                                  0,
		`vllm:num_requests_waiting` + lbl:                                                  0,
		`golem_loaded_models`:                                                              1,
		`golem_http_requests_total{code="200",endpoint="/api/generate"}`:                   3,
		`golem_http_requests_total{code="404",endpoint="/api/generate"}`:                   1,
		`vllm:request_success_total{finished_reason="length",model_name="stories:latest"}`: 3,
	}
	for k, want := range checks {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	for _, k := range []string{`vllm:gpu_cache_usage_perc` + lbl, `vllm:kv_cache_usage_perc` + lbl, `golem_kv_cache_usage_ratio{model="stories:latest"}`} {
		if v, ok := m[k]; !ok || v <= 0 || v > 1 {
			t.Errorf("%s = %v (present %v): want a fraction in (0, 1] (the prefix cache keeps tokens)", k, v, ok)
		}
	}
	if m[`vllm:time_to_first_token_seconds_sum`+lbl] <= 0 || m[`golem_model_memory_bytes{model="stories:latest"}`] <= 0 {
		t.Errorf("TTFT sum or model memory missing")
	}
}

// TestHealthReadyPreload: /healthz is always 200; /readyz is 503 until the
// GOLEM_PRELOAD models are loaded, and they then stay loaded.
func TestHealthReadyPreload(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Preload = []string{"stories"} })
	if status, _ := ts.do(t, "GET", "/healthz", ""); status != 200 {
		t.Fatalf("/healthz: %d", status)
	}
	if status, _ := ts.do(t, "GET", "/readyz", ""); status != 503 {
		t.Fatalf("/readyz before preloading: %d", status)
	}
	// The model is neither in the store nor in a registry that answers
	// (registry.ollama.ai is unreachable from tests: the mirror points at
	// a closed port).
	ts.s.reg.Config.Mirrors = map[string]string{"registry.ollama.ai": "http://127.0.0.1:1"}
	ts.s.reg.MaxRetries = 1
	if err := ts.s.Preload(context.Background()); err == nil {
		t.Fatal("preloading a model that is nowhere succeeded")
	}
	status, body := ts.do(t, "GET", "/readyz", "")
	if status != 503 || !strings.Contains(string(body), "preload failed") {
		t.Fatalf("/readyz after a failed preload: %d %s", status, body)
	}
	// Now the registry has it: preloading pulls it, then loads it.
	reg := registrytest.New(t, registrytest.Options{})
	if _, err := reg.AddModel("library/stories", "latest", registrytest.Model{GGUF: modelFile(t, "stories260K.gguf")}); err != nil {
		t.Fatal(err)
	}
	ts.s.reg.Config.Mirrors = map[string]string{"registry.ollama.ai": reg.URL}
	if err := ts.s.Preload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.s.store.Get("stories"); err != nil {
		t.Fatalf("preload did not pull the model: %v", err)
	}
	if status, body := ts.do(t, "GET", "/readyz", ""); status != 200 {
		t.Fatalf("/readyz after preloading: %d %s", status, body)
	}
	ps, err := ts.ollama(t, "").ListRunning(context.Background())
	if err != nil || len(ps.Models) != 1 || time.Until(ps.Models[0].ExpiresAt) < 100*365*24*time.Hour {
		t.Fatalf("preloaded model: %v %+v", err, ps)
	}
}

// TestCORS: local origins and GOLEM_ORIGINS patterns are allowed, others
// refused; preflights are answered without an API key.
func TestCORS(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Origins = []string{"https://*.example.com", "http://ui.internal:8080"}
		c.APIKeys = []string{"k"}
	})
	cases := []struct {
		origin string
		ok     bool
	}{
		{"http://localhost:3000", true}, {"http://127.0.0.1", true}, {"vscode-webview://abc", true},
		{"https://app.example.com", true}, {"http://ui.internal:8080", true},
		{"https://evil.com", false}, {"https://example.com.evil.com", false}, {"http://ui.internal:9090", false},
	}
	for _, tc := range cases {
		status, _ := ts.do(t, "GET", "/api/version", "", "Origin", tc.origin, "Authorization", "Bearer k")
		if (status == 200) != tc.ok || (!tc.ok && status != 403) {
			t.Errorf("origin %s: status %d, allowed %v", tc.origin, status, tc.ok)
		}
	}
	req, _ := http.NewRequest("OPTIONS", ts.url+"/v1/chat/completions", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestGracefulShutdown serves on a real loopback listener: on shutdown a
// stream that finishes within the grace period completes normally, and
// one that does not ends with a final error line; /readyz turns 503.
func TestGracefulShutdown(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.ShutdownTimeout = 300 * time.Millisecond })
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ts.s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	stream := func(numPredict int, first chan<- struct{}) ([]string, error) {
		body := fmt.Sprintf(`{"model": "stories", "prompt": "Once upon a time", "raw": true, "options": {"num_predict": %d, "num_ctx": 65536}}`, numPredict)
		resp, err := http.Post(base+"/api/generate", "application/json", strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var lines []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if len(lines) == 0 {
				close(first)
			}
			lines = append(lines, sc.Text())
		}
		return lines, nil
	}
	type result struct {
		lines []string
		err   error
	}
	longFirst, shortFirst := make(chan struct{}), make(chan struct{})
	longRes, shortRes := make(chan result, 1), make(chan result, 1)
	go func() { l, err := stream(-1, longFirst); longRes <- result{l, err} }()
	<-longFirst
	go func() { l, err := stream(30, shortFirst); shortRes <- result{l, err} }()
	<-shortFirst
	stop()
	short := <-shortRes
	if short.err != nil || !strings.Contains(short.lines[len(short.lines)-1], `"done":true`) {
		t.Fatalf("short stream across shutdown: %v, last line %q", short.err, short.lines[len(short.lines)-1])
	}
	long := <-longRes
	if long.err != nil || long.lines[len(long.lines)-1] != `{"error":"server is shutting down"}` {
		t.Fatalf("long stream: %v, %d lines, last %q", long.err, len(long.lines), long.lines[len(long.lines)-1])
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if status, _ := ts.do(t, "GET", "/readyz", ""); status != 503 {
		t.Fatalf("/readyz after shutdown: %d", status)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the listener still accepts connections after shutdown")
	}
}
