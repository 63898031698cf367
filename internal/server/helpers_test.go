package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	oapi "github.com/ollama/ollama/api"

	"github.com/golem-llm/golem/internal/runner"
	"github.com/golem-llm/golem/internal/store"
	"github.com/golem-llm/golem/internal/testutil"
)

// chatML is the ChatML template Ollama ships (testdata/templates/gotmpl).
func chatMLTemplate(t testing.TB) string {
	b, err := os.ReadFile(testutil.Shared(t, "testdata", "templates", "gotmpl", "chatml.gotmpl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func modelFile(t testing.TB, rel ...string) string {
	return testutil.Shared(t, append([]string{"testdata", "models"}, rel...)...)
}

type testServer struct {
	s   *Server
	hs  *httptest.Server
	url string
}

// newTestServer starts a server over an empty store in a temporary folder,
// on a loopback httptest listener.
func newTestServer(t testing.TB, mod func(*Config)) *testServer {
	t.Helper()
	cfg := Config{
		ModelsDir:   t.TempDir(),
		NumParallel: 4,
		Threads:     2,
		KeepAlive:   5 * 60e9,
		Version:     "0.0.0-test",
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		s.Close()
	})
	return &testServer{s: s, hs: hs, url: hs.URL}
}

// create stores a model made from a GGUF file and Modelfile lines.
func (ts *testServer) create(t testing.TB, name, gguf string, lines ...string) {
	t.Helper()
	text := "FROM " + gguf + "\n" + strings.Join(lines, "\n") + "\n"
	mf, err := store.ParseModelfile(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.s.store.Create(context.Background(), name, mf, store.CreateOptions{}, nil); err != nil {
		t.Fatal(err)
	}
}

// ollama returns the real Ollama Go client pointed at the server, sending
// key as a Bearer token when set.
func (ts *testServer) ollama(t testing.TB, key string) *oapi.Client {
	u, err := url.Parse(ts.url)
	if err != nil {
		t.Fatal(err)
	}
	hc := http.DefaultClient
	if key != "" {
		hc = &http.Client{Transport: bearer{key: key, rt: http.DefaultTransport}}
	}
	return oapi.NewClient(u, hc)
}

type bearer struct {
	key string
	rt  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.rt.RoundTrip(r)
}

// post sends a raw request and returns status and body.
func (ts *testServer) do(t testing.TB, method, path, body string, hdr ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// errorBody checks Ollama's {"error": "..."} shape and returns the message.
func errorBody(t testing.TB, b []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("error body is not JSON: %q", b)
	}
	msg, ok := m["error"].(string)
	if !ok || msg == "" || len(m) != 1 {
		t.Fatalf("error body is not {\"error\": \"...\"}: %s", b)
	}
	return msg
}

// soloGreedy is the engine's own greedy continuation of prompt, computed
// with a private session token by token, outside the server and runner.
func soloGreedy(t testing.TB, path string, prompt []int32, n int) (string, []int32) {
	t.Helper()
	l, err := runner.LoadFile(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := l.Model.NewSession(len(prompt) + n + 1)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := s.Eval(prompt)
	if err != nil {
		t.Fatal(err)
	}
	dec := l.Tokenizer.NewContinuationDecoder()
	var out strings.Builder
	var ids []int32
	for i := 0; i < n; i++ {
		best := int32(0)
		for k, v := range logits {
			if v > logits[best] {
				best = int32(k)
			}
		}
		if l.Tokenizer.IsEOG(best) {
			break
		}
		ids = append(ids, best)
		out.WriteString(dec.Add(best))
		if logits, err = s.Eval([]int32{best}); err != nil {
			t.Fatal(err)
		}
	}
	out.WriteString(dec.Flush())
	return out.String(), ids
}

// tokenize encodes text as the server does for a model file.
func tokenize(t testing.TB, path, text string) []int32 {
	t.Helper()
	l, err := runner.LoadFile(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Tokenizer.Encode(text, true, true)
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ndjsonLines(t testing.TB, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("bad NDJSON line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}
