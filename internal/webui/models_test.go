package webui

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// admin starts a UI with the given engine and environment and signs up its admin.
func admin(t testing.TB, engine *fakeOllama, env map[string]string) (*client, *Handler) {
	t.Helper()
	cfg := Config{DataDir: t.TempDir(), Getenv: envMap(env)}
	if engine != nil {
		cfg.Engine = engine
	}
	srv, h := uiServer(t, cfg)
	c := newClient(t, srv.URL)
	tok, _ := signup(t, c, "ada@example.com")
	return c.as(tok), h
}

func TestConnections(t *testing.T) {
	remote := httptest.NewServer(newFakeOllama("llama3:latest"))
	defer remote.Close()
	openai := httptest.NewServer(&fakeOpenAI{key: "sk-test-123456789"})
	defer openai.Close()
	A, _ := admin(t, newFakeOllama("stories260K:latest"), map[string]string{
		"OLLAMA_BASE_URLS":     remote.URL + "/;http://127.0.0.1:1",
		"OPENAI_API_BASE_URLS": openai.URL + "/v1",
		"OPENAI_API_KEYS":      "sk-test-123456789",
	})
	cs := A.must(200, "GET", "/api/v1/connections", nil)["connections"].([]any)
	if len(cs) != 4 {
		t.Fatalf("connections %v: want built-in, two Ollama and one OpenAI from the environment", cs)
	}
	want := []struct {
		id, typ, url string
		builtin, env bool
	}{{"builtin", "ollama", "", true, false}, {"env-ollama-0", "ollama", remote.URL, false, true},
		{"env-ollama-1", "ollama", "http://127.0.0.1:1", false, true}, {"env-openai-0", "openai", openai.URL + "/v1", false, true}}
	for i, w := range want {
		c := cs[i].(map[string]any)
		if c["id"] != w.id || c["type"] != w.typ || c["url"] != w.url || c["builtin"] != w.builtin || c["env"] != w.env {
			t.Errorf("connection %d = %v, want %+v", i, c, w)
		}
	}
	oa := cs[3].(map[string]any)
	if oa["has_key"] != true || strings.Contains(oa["key_hint"].(string), "123456") {
		t.Fatalf("OpenAI key shown: %v", oa)
	}
	raw := A.do("GET", "/api/v1/connections", nil)
	if strings.Contains(string(raw.body), "sk-test-123456789") {
		t.Fatal("the API key appears in the connection list")
	}

	// Verify each kind.
	if v := A.must(200, "POST", "/api/v1/connections/builtin/verify", nil); v["ok"] != true || v["version"] != "0.0.1-fake" || v["models"] != 1.0 {
		t.Fatalf("verify built-in: %v", v)
	}
	if v := A.must(200, "POST", "/api/v1/connections/env-openai-0/verify", nil); v["ok"] != true || v["models"] != 1.0 {
		t.Fatalf("verify OpenAI: %v", v)
	}
	if r := A.do("POST", "/api/v1/connections/env-ollama-1/verify", nil); r.status != 502 || !strings.Contains(r.detail(), "127.0.0.1:1") {
		t.Fatalf("verify dead server: %d %s", r.status, r.body)
	}
	if r := A.do("POST", "/api/v1/connections/verify", map[string]string{"type": "openai", "url": openai.URL + "/v1", "key": "wrong"}); r.status != 502 || !strings.Contains(r.detail(), "Incorrect API key") {
		t.Fatalf("verify with a wrong key: %d %s", r.status, r.body)
	}

	// Add, edit, verify and delete a stored connection; fixed ones refuse.
	second := httptest.NewServer(newFakeOllama("qwen:0.5b"))
	defer second.Close()
	if v := A.must(200, "POST", "/api/v1/connections/verify", map[string]string{"type": "ollama", "url": second.URL}); v["models"] != 1.0 {
		t.Fatalf("verify before adding: %v", v)
	}
	c := A.must(201, "POST", "/api/v1/connections", map[string]string{"type": "ollama", "url": second.URL + "/", "name": "GPU box"})
	id := c["id"].(string)
	if c["url"] != second.URL || c["name"] != "GPU box" || c["env"] != false {
		t.Fatalf("added %v", c)
	}
	A.must(200, "POST", "/api/v1/connections/"+id+"/verify", nil)
	if c := A.must(200, "PUT", "/api/v1/connections/"+id, map[string]any{"enabled": false}); c["enabled"] != false || c["url"] != second.URL {
		t.Fatalf("disable: %v", c)
	}
	for _, bad := range []map[string]string{{"type": "ollama", "url": "ftp://x"}, {"type": "grpc", "url": "http://x"}, {"type": "ollama"}} {
		if r := A.do("POST", "/api/v1/connections", bad); r.status != 400 {
			t.Errorf("add %v: %d %s", bad, r.status, r.body)
		}
	}
	for _, fixed := range []string{"builtin", "env-ollama-0"} {
		if r := A.do("PUT", "/api/v1/connections/"+fixed, map[string]string{"url": "http://x"}); r.status != 409 {
			t.Errorf("edit %s: %d", fixed, r.status)
		}
		if r := A.do("DELETE", "/api/v1/connections/"+fixed, nil); r.status != 409 {
			t.Errorf("delete %s: %d", fixed, r.status)
		}
	}
	if n := len(A.must(200, "GET", "/api/v1/connections", nil)["connections"].([]any)); n != 5 {
		t.Fatalf("%d connections after refused edits, want 5", n)
	}
	A.must(200, "DELETE", "/api/v1/connections/"+id, nil)
	if r := A.do("DELETE", "/api/v1/connections/"+id, nil); r.status != 404 {
		t.Fatalf("delete twice: %d", r.status)
	}
}

func TestModelsAcrossConnections(t *testing.T) {
	remote := httptest.NewServer(newFakeOllama("llama3:latest"))
	defer remote.Close()
	pipes := httptest.NewServer(&fakeOpenAI{pipelines: true})
	defer pipes.Close()
	A, _ := admin(t, newFakeOllama("stories260K:latest"), map[string]string{"OLLAMA_BASE_URL": remote.URL})
	A.must(201, "POST", "/api/v1/connections", map[string]string{"type": "openai", "url": pipes.URL, "key": "0p3n-w3bu!"})
	A.must(201, "POST", "/api/v1/connections", map[string]string{"type": "ollama", "url": "http://127.0.0.1:1"})
	m := A.must(200, "GET", "/api/v1/models", nil)
	data := m["data"].([]any)
	got := map[string]map[string]any{}
	for _, d := range data {
		d := d.(map[string]any)
		got[d["id"].(string)] = d
	}
	if len(data) != 3 || got["stories260K:latest"]["connection_id"] != "builtin" ||
		got["llama3:latest"]["connection_id"] != "env-ollama-0" || got["gpt-fake"]["pipelines"] != true {
		t.Fatalf("models %v", data)
	}
	if got["llama3:latest"]["size"] != 1234.0 || got["llama3:latest"]["details"] == nil {
		t.Fatalf("Ollama model details missing: %v", got["llama3:latest"])
	}
	if _, ok := got["rate_limit_filter"]; ok {
		t.Fatal("a filter pipeline is listed as a chat model")
	}
	errs := m["errors"].([]any)
	if len(errs) != 1 || !strings.Contains(errs[0].(map[string]any)["detail"].(string), "127.0.0.1:1") {
		t.Fatalf("errors %v: want the dead connection", errs)
	}
	// The listing recorded which connection is a Pipelines server.
	for _, c := range A.must(200, "GET", "/api/v1/connections", nil)["connections"].([]any) {
		c := c.(map[string]any)
		if want := c["url"] == pipes.URL; c["pipelines"] != want {
			t.Errorf("connection %v: pipelines %v, want %v", c["id"], c["pipelines"], want)
		}
	}
}

func TestPullAndDelete(t *testing.T) {
	engine := newFakeOllama("stories260K:latest")
	A, _ := admin(t, engine, nil)

	r := A.do("POST", "/api/v1/models/pull", map[string]string{"connection_id": "builtin", "name": "llama3"})
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("pull: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	var last, progress map[string]any
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	json.Unmarshal([]byte(lines[len(lines)-2]), &progress)
	if len(lines) != 7 || last["status"] != "success" || progress["completed"] != progress["total"] {
		t.Fatalf("pull stream %q", lines)
	}
	if err := <-engine.pullDone; err != nil {
		t.Fatal(err)
	}
	if !engine.has("llama3:latest") {
		t.Fatal("pull did not reach the engine")
	}
	if r := A.do("POST", "/api/v1/models/pull", map[string]string{"connection_id": "builtin", "name": "missing"}); r.status != 404 || !strings.Contains(r.detail(), "file does not exist") {
		t.Fatalf("pull of a missing model: %d %s", r.status, r.body)
	}
	if r := A.do("POST", "/api/v1/models/pull", map[string]string{"connection_id": "builtin"}); r.status != 400 {
		t.Fatalf("pull without a name: %d", r.status)
	}
	if r := A.do("POST", "/api/v1/models/pull", map[string]string{"connection_id": "nope", "name": "x"}); r.status != 404 {
		t.Fatalf("pull on an unknown connection: %d", r.status)
	}

	// Cancel: abort after the first progress line; the engine's pull ends with the request.
	ctx, cancel := context.WithCancel(context.Background())
	req := A.req("POST", "/api/v1/models/pull", map[string]string{"connection_id": "builtin", "name": "slow"}).WithContext(ctx)
	resp, err := A.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, "pulling manifest") {
		t.Fatalf("first line %q %v", line, err)
	}
	cancel()
	resp.Body.Close()
	select {
	case err := <-engine.pullDone:
		if err == nil {
			t.Fatal("slow pull finished instead of being cancelled")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the engine's pull was not cancelled")
	}

	A.must(200, "DELETE", "/api/v1/models?connection_id=builtin&name=llama3:latest", nil)
	if engine.has("llama3:latest") {
		t.Fatal("delete did not reach the engine")
	}
	if r := A.do("DELETE", "/api/v1/models?connection_id=builtin&name=llama3:latest", nil); r.status != 404 {
		t.Fatalf("delete twice: %d %s", r.status, r.body)
	}
}
