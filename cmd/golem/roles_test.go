package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/registry"
	"github.com/golem-llm/golem/internal/registry/registrytest"
	"github.com/golem-llm/golem/internal/server"
	"github.com/golem-llm/golem/internal/testutil"
)

// cleanServeEnv clears what could leak into a served role from the
// environment the tests run in, and points the data folder at a new one.
func cleanServeEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for _, k := range []string{"GOLEM_HOST", "OLLAMA_HOST", "GOLEM_MODELS", "OLLAMA_MODELS", "GOLEM_API_KEYS", "GOLEM_PRELOAD",
		"GOLEM_PULL", "GOLEM_REGISTRY_MIRROR", "DATABASE_URL", "WEBUI_SECRET_KEY", "OLLAMA_BASE_URL", "OLLAMA_BASE_URLS",
		"OPENAI_API_BASE_URL", "OPENAI_API_BASE_URLS", "OPENAI_API_KEY", "OPENAI_API_KEYS", "ENABLE_SIGNUP",
		"DEFAULT_USER_ROLE", "GOLEM_TRUSTED_EMAIL_HEADER", "PIPELINES_API_KEY", "PIPELINES_DIR", "PIPELINES_URLS",
		"PIPELINES_HOST", "PIPELINES_MODELS_URL", "PIPELINES_HTTP_ALLOW", "GOLEM_LOG_LEVEL"} {
		t.Setenv(k, "")
	}
	t.Setenv("GOLEM_HOME", home)
	t.Setenv("GOLEM_SHUTDOWN_TIMEOUT", "2s")
	return home
}

// served is `golem serve` running in this process.
type served struct {
	base string
	stop func() int // ends it as a signal would; returns the exit status
}

// startServe runs `golem serve args...` on a free loopback port and waits
// for its listening line.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	old := serveSignals
	serveSignals = func(io.Writer) (context.Context, context.CancelFunc) { return ctx, cancel }
	t.Cleanup(func() { serveSignals = old })
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(append([]string{"serve", "--host", "127.0.0.1:0"}, args...), strings.NewReader(""), pw, stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("golem serve %v printed no listening line: %v\n%s", args, err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("listening line %q", line)
	}
	s := &served{base: strings.TrimSpace(line[i:])}
	stopped := false
	s.stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatalf("golem serve %v did not stop", args)
			return -1
		}
	}
	t.Cleanup(func() {
		if code := s.stop(); code != 0 {
			t.Errorf("golem serve %v exited with %d: %s", args, code, stderr.String())
		}
	})
	return s
}

// call sends a request with an optional bearer token and JSON body.
func call(t *testing.T, method, url, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// jsonOf decodes a JSON object answer.
func jsonOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	return m
}

// testRegistry publishes stories260K as library/stories260k:latest; with
// throttle (bytes per second) its download takes a while.
func testRegistry(t *testing.T, throttle int64) *registrytest.Server {
	t.Helper()
	reg := registrytest.New(t, registrytest.Options{Throttle: throttle})
	if _, err := reg.AddModel("library/stories260k", "latest", registrytest.Model{
		GGUF: testutil.Shared(t, "testdata", "models", "stories260K.gguf"),
	}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// waitReady polls /readyz until it answers 200.
func waitReady(t *testing.T, base string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		status, _, body := call(t, "GET", base+"/readyz", "", nil)
		if status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after %v: %s", status, within, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeAllInOne: `golem serve` without a role serves the model APIs,
// the web UI and its API, and the pipelines on one port; GOLEM_PULL holds
// /readyz at 503 until the model is pulled; with GOLEM_API_KEYS the UI's
// own API keys and sessions open the model APIs too.
func TestServeAllInOne(t *testing.T) {
	home := cleanServeEnv(t)
	reg := testRegistry(t, 1<<20) // about a second for the 1.2 MB model
	t.Setenv("GOLEM_REGISTRY_MIRROR", reg.URL)
	t.Setenv("GOLEM_PULL", "stories260k")
	t.Setenv("GOLEM_API_KEYS", "server-key")
	s := startServe(t)

	if status, _, body := call(t, "GET", s.base+"/readyz", "", nil); status != 503 {
		t.Fatalf("/readyz while GOLEM_PULL downloads: %d %s", status, body)
	}
	if status, _, body := call(t, "GET", s.base+"/healthz", "", nil); status != 200 {
		t.Fatalf("/healthz: %d %s", status, body)
	}
	waitReady(t, s.base, 30*time.Second)

	// The model APIs, with the server's key.
	status, _, body := call(t, "GET", s.base+"/api/tags", "server-key", nil)
	if status != 200 || !strings.Contains(string(body), "stories260k:latest") {
		t.Fatalf("/api/tags: %d %s", status, body)
	}
	if status, _, body := call(t, "GET", s.base+"/v1/models", "server-key", nil); status != 200 || !strings.Contains(string(body), "stories260k") {
		t.Fatalf("/v1/models: %d %s", status, body)
	}
	if status, _, _ := call(t, "GET", s.base+"/api/tags", "", nil); status != 401 {
		t.Fatalf("/api/tags without a key: %d", status)
	}
	// The web UI and its API need no server key.
	status, hdr, body := call(t, "GET", s.base+"/", "", nil)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(strings.ToLower(string(body)), "<!doctype html") {
		t.Fatalf("/: %d %s %.200s", status, hdr.Get("Content-Type"), body)
	}
	if status, _, body := call(t, "GET", s.base+"/api/v1/config", "", nil); status != 200 || jsonOf(t, body)["onboarding"] != true {
		t.Fatalf("/api/v1/config: %d %s", status, body)
	}
	// The pipelines, with the key made at the first start.
	keyFile := filepath.Join(home, "pipelines", ".api-key")
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("the pipelines key was not kept: %v", err)
	}
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", keyFile, fi.Mode().Perm())
	}
	pkey := strings.TrimSpace(string(kb))
	if status, _, body := call(t, "GET", s.base+"/pipelines/v1/models", pkey, nil); status != 200 || jsonOf(t, body)["pipelines"] != true {
		t.Fatalf("/pipelines/v1/models with its key: %d %s", status, body)
	}
	for _, key := range []string{"", "server-key", "wrong"} {
		if status, _, body := call(t, "GET", s.base+"/pipelines/v1/models", key, nil); status != 401 {
			t.Fatalf("/pipelines/v1/models with key %q: %d %s", key, status, body)
		}
	}
	if status, _, body := call(t, "GET", s.base+"/pipelines/healthz", "", nil); status != 200 {
		t.Fatalf("/pipelines/healthz: %d %s", status, body)
	}

	// The first account is the admin; the UI lists its built-in connections.
	status, _, body = call(t, "POST", s.base+"/api/v1/auths/signup", "", map[string]string{"email": "ada@example.com", "password": "password1"})
	if status != 200 {
		t.Fatalf("sign-up: %d %s", status, body)
	}
	session := jsonOf(t, body)["token"].(string)
	status, _, body = call(t, "GET", s.base+"/api/v1/connections", session, nil)
	if status != 200 || !strings.Contains(string(body), `"id":"builtin"`) || !strings.Contains(string(body), `"id":"builtin-pipelines"`) || strings.Contains(string(body), pkey) {
		t.Fatalf("connections: %d %s", status, body)
	}
	if status, _, body := call(t, "POST", s.base+"/api/v1/connections/builtin-pipelines/verify", session, nil); status != 200 || jsonOf(t, body)["pipelines"] != true {
		t.Fatalf("verify the built-in pipelines: %d %s", status, body)
	}
	if status, _, body := call(t, "GET", s.base+"/api/v1/models", session, nil); status != 200 || !strings.Contains(string(body), "stories260k:latest") {
		t.Fatalf("the UI's models: %d %s", status, body)
	}

	// A UI API key opens the model APIs.
	status, _, body = call(t, "POST", s.base+"/api/v1/auths/api_key", session, nil)
	if status != 200 {
		t.Fatalf("create an API key: %d %s", status, body)
	}
	uiKey := jsonOf(t, body)["api_key"].(string)
	if !strings.HasPrefix(uiKey, "sk-") {
		t.Fatalf("UI API key %q", uiKey)
	}
	chat := map[string]any{"model": "stories260k", "stream": false, "options": map[string]any{"num_predict": 3},
		"messages": []map[string]string{{"role": "user", "content": "Once upon a time"}}}
	status, _, body = call(t, "POST", s.base+"/api/chat", uiKey, chat)
	if status != 200 || jsonOf(t, body)["done"] != true {
		t.Fatalf("/api/chat with the UI key: %d %s", status, body)
	}
	if status, _, body := call(t, "GET", s.base+"/v1/models", session, nil); status != 200 {
		t.Fatalf("/v1/models with a UI session: %d %s", status, body)
	}
	if status, _, body := call(t, "POST", s.base+"/api/chat", "sk-not-a-key", chat); status != 401 {
		t.Fatalf("/api/chat with an unknown sk- key: %d %s", status, body)
	}
	// A second account: pending, then approved (its key works), then set
	// back to pending (its key stops working).
	status, _, body = call(t, "POST", s.base+"/api/v1/auths/signup", "", map[string]string{"email": "bob@example.com", "password": "password2"})
	if status != 200 {
		t.Fatalf("second sign-up: %d %s", status, body)
	}
	bob := jsonOf(t, body)
	bobID, bobSession := bob["id"].(string), bob["token"].(string)
	if status, _, body := call(t, "POST", s.base+"/api/v1/users/"+bobID+"/role", session, map[string]string{"role": "user"}); status != 200 {
		t.Fatalf("approve: %d %s", status, body)
	}
	status, _, body = call(t, "POST", s.base+"/api/v1/auths/api_key", bobSession, nil)
	if status != 200 {
		t.Fatalf("bob's key: %d %s", status, body)
	}
	bobKey := jsonOf(t, body)["api_key"].(string)
	if status, _, body := call(t, "GET", s.base+"/api/tags", bobKey, nil); status != 200 {
		t.Fatalf("/api/tags with an approved user's key: %d %s", status, body)
	}
	if status, _, body := call(t, "POST", s.base+"/api/v1/users/"+bobID+"/role", session, map[string]string{"role": "pending"}); status != 200 {
		t.Fatalf("back to pending: %d %s", status, body)
	}
	if status, _, body := call(t, "GET", s.base+"/api/tags", bobKey, nil); status != 403 || !strings.Contains(string(body), "pending") {
		t.Fatalf("/api/tags with a pending user's key: %d %s", status, body)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}

	// A second start keeps the pipelines key.
	s = startServe(t)
	if status, _, body := call(t, "GET", s.base+"/pipelines/v1/models", pkey, nil); status != 200 {
		t.Fatalf("after a restart, the first key: %d %s", status, body)
	}
}

// TestServeEngineRole: the model server alone: its APIs, no web UI.
func TestServeEngineRole(t *testing.T) {
	cleanServeEnv(t)
	s := startServe(t, "--role", "engine")
	if status, _, body := call(t, "GET", s.base+"/api/tags", "", nil); status != 200 || !strings.Contains(string(body), `"models"`) {
		t.Fatalf("/api/tags: %d %s", status, body)
	}
	if status, _, body := call(t, "GET", s.base+"/v1/models", "", nil); status != 200 {
		t.Fatalf("/v1/models: %d %s", status, body)
	}
	if status, _, body := call(t, "GET", s.base+"/api/v1/config", "", nil); status != 404 {
		t.Fatalf("/api/v1/config on the engine: %d %s", status, body)
	}
	if status, _, body := call(t, "GET", s.base+"/", "", nil); status != 200 || string(body) != "Ollama is running" {
		t.Fatalf("/ on the engine: %d %q", status, body)
	}
	if status, _, body := call(t, "GET", s.base+"/pipelines/v1/models", "", nil); status != 404 {
		t.Fatalf("/pipelines/ on the engine: %d %s", status, body)
	}
	if status, _, _ := call(t, "GET", s.base+"/readyz", "", nil); status != 200 {
		t.Fatalf("/readyz: %d", status)
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("GOLEM_HOME"), "golem.db")); err == nil {
		t.Fatal("the engine role opened the UI's database")
	}
}

// TestServeUIRole: the web UI alone, with its models on a model server
// named by OLLAMA_BASE_URL.
func TestServeUIRole(t *testing.T) {
	home := cleanServeEnv(t)
	// A model server elsewhere, with stories260k pulled.
	reg := testRegistry(t, 0)
	eng, err := server.New(server.Config{ModelsDir: t.TempDir(), NumParallel: 1, Threads: 1,
		Registry: registry.Config{Mirrors: map[string]string{"registry.ollama.ai": reg.URL}}, Pull: []string{"stories260k"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Preload(context.Background()); err != nil {
		t.Fatal(err)
	}
	engine := httptest.NewServer(eng.Handler())
	t.Cleanup(func() { engine.Close(); eng.Close() })
	t.Setenv("OLLAMA_BASE_URL", engine.URL)

	s := startServe(t, "--role", "ui")
	for _, p := range []string{"/healthz", "/readyz", "/api/v1/config"} {
		if status, _, body := call(t, "GET", s.base+p, "", nil); status != 200 {
			t.Fatalf("%s: %d %s", p, status, body)
		}
	}
	if status, hdr, _ := call(t, "GET", s.base+"/", "", nil); status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("/: %d %s", status, hdr.Get("Content-Type"))
	}
	for _, p := range []string{"/api/tags", "/v1/models", "/pipelines/v1/models"} {
		status, hdr, body := call(t, "GET", s.base+p, "", nil)
		if p == "/pipelines/v1/models" {
			// The front end's pages answer unknown paths; it is no Pipelines server.
			if strings.Contains(string(body), `"pipelines"`) || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
				t.Fatalf("%s on the UI: %d %s", p, status, body)
			}
			continue
		}
		if status != 404 {
			t.Fatalf("%s on the UI: %d %s", p, status, body)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "golem.db")); err != nil {
		t.Fatalf("the UI's database is not in GOLEM_HOME: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, "models")); err == nil {
		t.Fatal("the UI role made a model store")
	}
	status, _, body := call(t, "POST", s.base+"/api/v1/auths/signup", "", map[string]string{"email": "ada@example.com", "password": "password1"})
	if status != 200 {
		t.Fatalf("sign-up: %d %s", status, body)
	}
	session := jsonOf(t, body)["token"].(string)
	status, _, body = call(t, "GET", s.base+"/api/v1/connections", session, nil)
	if status != 200 || strings.Contains(string(body), `"id":"builtin`) || !strings.Contains(string(body), engine.URL) {
		t.Fatalf("connections of the UI alone: %d %s", status, body)
	}
	if status, _, body := call(t, "GET", s.base+"/api/v1/models", session, nil); status != 200 || !strings.Contains(string(body), "stories260k:latest") {
		t.Fatalf("models through OLLAMA_BASE_URL: %d %s", status, body)
	}
	chat := map[string]any{"model": "stories260k:latest", "stream": false, "max_tokens": 3,
		"messages": []map[string]string{{"role": "user", "content": "Once upon a time"}}}
	if status, _, body := call(t, "POST", s.base+"/api/v1/chat/completions", session, chat); status != 200 || !strings.Contains(string(body), `"choices"`) {
		t.Fatalf("a completion through the UI: %d %s", status, body)
	}
}

// TestServeRoleErrors: a role that does not exist is refused with a
// message that names the ones that do.
func TestServeRoleErrors(t *testing.T) {
	cleanServeEnv(t)
	var out, errb strings.Builder
	if code := Main([]string{"serve", "--role", "gpu"}, strings.NewReader(""), &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), `unknown role "gpu"`) || !strings.Contains(errb.String(), "engine") {
		t.Fatalf("--role gpu: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := Main([]string{"serve", "--help"}, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(errb.String(), "-role") {
		t.Fatalf("serve --help does not list --role: %q", errb.String())
	}
}

func TestListenAddr(t *testing.T) {
	for _, c := range []struct{ in, def, want string }{
		{"", "8080", "127.0.0.1:8080"},
		{"0.0.0.0", "8080", "0.0.0.0:8080"},
		{"0.0.0.0:9000", "8080", "0.0.0.0:9000"},
		{":11434", "8080", ":11434"},
		{"0.0.0.0:11434", "8080", "0.0.0.0:11434"},
		{"", "11434", "127.0.0.1:11434"},
		{"[::]", "8080", "[::]:8080"},
	} {
		got, err := listenAddr(c.in, c.def)
		if err != nil || got != c.want {
			t.Errorf("listenAddr(%q, %s) = %q, %v; want %q", c.in, c.def, got, err, c.want)
		}
	}
	if _, err := listenAddr("ftp://x", "8080"); err == nil {
		t.Error("ftp://x accepted")
	}
}

func TestStoredKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", ".api-key")
	k1, err := storedKey(path)
	if err != nil || len(k1) < 32 {
		t.Fatalf("first key %q: %v", k1, err)
	}
	k2, err := storedKey(path)
	if err != nil || k2 != k1 {
		t.Fatalf("second read %q, %v; want %q", k2, err, k1)
	}
	if other, _ := storedKey(filepath.Join(t.TempDir(), ".api-key")); other == k1 {
		t.Fatal("two folders got the same key")
	}
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := storedKey(path); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("an empty key file: %v", err)
	}
}
