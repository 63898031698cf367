package webui

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/pipelines"
)

// tagFilter is a Starlark filter for Golem's Pipelines server: its inlet puts a system message first
// (and refuses messages that say "forbidden"), its outlet marks the answer.
const tagFilter = `"""
name: Tag
kind: filter
priority: 0
pipelines: *
"""

def inlet(body, user):
    for m in body["messages"]:
        if "forbidden" in m["content"]:
            fail("Blocked for " + user["email"])
    body["messages"] = [{"role": "system", "content": "filtered"}] + body["messages"]
    return body

def outlet(body, user):
    msgs = body["messages"]
    msgs[-1]["content"] = msgs[-1]["content"] + " [checked]"
    return body
`

// The default filters speak the Pipelines protocol to a real Pipelines server (internal/pipelines).
func TestPipelinesServerFilters(t *testing.T) {
	ctx := context.Background()
	m, err := pipelines.Open(ctx, pipelines.Options{Dir: t.TempDir(), APIKey: "0p3n-w3bu!"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Install(ctx, "tag.star", []byte(tagFilter)); err != nil {
		t.Fatal(err)
	}
	ps := httptest.NewServer(m.Handler())
	defer ps.Close()
	engine := newFakeOllama("stories260K:latest")
	A, _ := admin(t, engine, map[string]string{"OPENAI_API_BASE_URL": ps.URL, "OPENAI_API_KEY": "0p3n-w3bu!"})
	if v := A.must(200, "POST", "/api/v1/connections/env-openai-0/verify", nil); v["pipelines"] != true {
		t.Fatalf("verify of the Pipelines server: %v", v)
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
	evs = A.complete(id, map[string]any{"content": "something forbidden", "model": "stories260K:latest", "connection_id": "builtin"})
	if eventNames(evs) != "start,error" || !strings.Contains(evs[1].data["detail"].(string), "Blocked for ada@example.com") {
		t.Fatalf("blocked request: %v", evs)
	}
	if len(engine.seen()) != len(seen) {
		t.Fatal("a blocked request reached the engine")
	}
	// The OpenAI-compatible endpoint runs the inlet too; a refusal is a 400 with the filter's words.
	r := A.do("POST", "/api/v1/chat/completions", map[string]any{"model": "stories260K:latest",
		"messages": []map[string]string{{"role": "user", "content": "forbidden"}}})
	if r.status != 400 || !strings.Contains(r.detail(), "Blocked for") {
		t.Fatalf("blocked OpenAI-style request: %d %s", r.status, r.body)
	}
}
