package webui

import (
	"context"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/pipelines"
)

// An in-process Pipelines server (Config.Pipelines, as `golem serve` mounts its own) is the fixed
// connection "builtin-pipelines": listed after the engine with its key hidden, managed in the Pipelines
// tab, and its filters run around completions without any configuration.
func TestBuiltinPipelines(t *testing.T) {
	ctx := context.Background()
	const key = "builtin-secret-key-123"
	m, err := pipelines.Open(ctx, pipelines.Options{Dir: t.TempDir(), APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	engine := newFakeOllama("stories260K:latest")
	srv, _ := uiServer(t, Config{DataDir: t.TempDir(), Engine: engine, Pipelines: m.Handler(), PipelinesKey: key})
	c := newClient(t, srv.URL)
	tok, _ := signup(t, c, "ada@example.com")
	A := c.as(tok)

	raw := A.do("GET", "/api/v1/connections", nil)
	if strings.Contains(string(raw.body), key) {
		t.Fatal("the built-in Pipelines key appears in the connection list")
	}
	cs := A.must(200, "GET", "/api/v1/connections", nil)["connections"].([]any)
	if len(cs) != 2 {
		t.Fatalf("connections %v: want the engine and the pipelines", cs)
	}
	p := cs[1].(map[string]any)
	if p["id"] != "builtin-pipelines" || p["type"] != "openai" || p["builtin"] != true || p["has_key"] != true || p["enabled"] != true {
		t.Fatalf("built-in pipelines connection: %v", p)
	}
	if v := A.must(200, "POST", "/api/v1/connections/builtin-pipelines/verify", nil); v["ok"] != true || v["pipelines"] != true || v["models"] != 0.0 {
		t.Fatalf("verify: %v", v)
	}
	if r := A.do("DELETE", "/api/v1/connections/builtin-pipelines", nil); r.status != 409 {
		t.Fatalf("deleting the built-in pipelines: %d %s", r.status, r.body)
	}
	servers := A.must(200, "GET", "/api/v1/pipelines/list", nil)["data"].([]any)
	if len(servers) != 1 || servers[0].(map[string]any)["connection_id"] != "builtin-pipelines" {
		t.Fatalf("Pipelines servers: %v", servers)
	}

	// Upload a filter through the admin's Pipelines tab: it lands in the in-process server.
	ct, form := multipartFile(t, "tag.star", tagFilter)
	req := A.req("POST", "/api/v1/pipelines/upload?connection_id=builtin-pipelines", form)
	req.Header.Set("Content-Type", ct)
	if r := A.send(req); r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if ps := m.List(); len(ps) != 1 {
		t.Fatalf("the in-process server has %d pipelines after the upload, want 1", len(ps))
	}
	id := A.must(201, "POST", "/api/v1/chats", map[string]any{"title": "t"})["id"].(string)
	evs := A.complete(id, map[string]any{"content": "hello", "model": "stories260K:latest", "connection_id": "builtin"})
	if got := msgOf(evs[len(evs)-1], "message")["content"]; got != "You said: hello [checked]" {
		t.Fatalf("answer %q (events %s)", got, eventNames(evs))
	}
	seen := engine.seen()
	if got := turnsText(seen[len(seen)-1].Messages); got != "system:filtered | user:hello" {
		t.Fatalf("engine got %q", got)
	}
}

// OPENAI_API_KEYS pairs with OPENAI_API_BASE_URLS by position, and an empty entry is a connection without
// a key (the chart's keys arrive through $(VAR) expansion and may be empty).
func TestOpenAIKeysWithEmptyEntries(t *testing.T) {
	for _, c := range []struct {
		urls, keys string
		want       []string
	}{
		{"http://a/v1;http://b/v1;http://c/v1", ";kb;", []string{"", "kb", ""}},
		{"http://a/v1;http://b/v1", "ka;", []string{"ka", ""}},
		{"http://a/v1;http://b/v1", ";", []string{"", ""}},
		{"http://a/v1;http://b/v1;http://c/v1", "ka", []string{"ka", "", ""}},
		{"http://a/v1", "", []string{""}},
	} {
		e, err := readEnv(envMap(map[string]string{"OPENAI_API_BASE_URLS": c.urls, "OPENAI_API_KEYS": c.keys}))
		if err != nil {
			t.Fatalf("%q %q: %v", c.urls, c.keys, err)
		}
		var got []string
		for _, o := range e.openai {
			got = append(got, o.key)
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("URLs %q keys %q: keys %q, want %q", c.urls, c.keys, got, c.want)
		}
	}
	// Through the API: the keyless connection says so.
	A, _ := admin(t, nil, map[string]string{"OPENAI_API_BASE_URLS": "http://127.0.0.1:1/v1;http://127.0.0.1:2/v1", "OPENAI_API_KEYS": ";sk-second-key-1234"})
	cs := A.must(200, "GET", "/api/v1/connections", nil)["connections"].([]any)
	if len(cs) != 2 || cs[0].(map[string]any)["has_key"] != false || cs[1].(map[string]any)["has_key"] != true {
		t.Fatalf("connections: %v", cs)
	}
}
