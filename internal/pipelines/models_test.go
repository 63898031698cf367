package pipelines

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const chainPipe = `"""
name: Chain
kind: pipe
"""
def pipe(body, user):
    q = body["messages"][-1]["content"]
    draft = models.chat(model = "writer", messages = [{"role": "user", "content": q}])
    final = models.chat(model = "editor", messages = [{"role": "user", "content": draft}])
    names = [m["id"] for m in models.list()]
    if body.get("stream"):
        for chunk in models.stream(model = "writer", messages = [{"role": "user", "content": final}]):
            emit(chunk.upper())
        return None
    return final + " | " + ",".join(names)
`

func TestModelsBuiltinChainsModels(t *testing.T) {
	golem := newFakeOpenAI(t, "", []string{"writer", "editor"}, func(req map[string]any) string {
		msgs := req["messages"].([]any)
		return req["model"].(string) + "(" + msgs[len(msgs)-1].(map[string]any)["content"].(string) + ") done"
	})
	f := newFixture(t, "", Options{ModelsURL: golem.base()}, map[string]string{"chain": chainPipe})
	msgs := []any{map[string]any{"role": "user", "content": "q"}}
	got := f.ok("POST", "/v1/chat/completions", map[string]any{"model": "chain", "stream": false, "messages": msgs})
	text := got["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]
	if text != "editor(writer(q) done) done | writer,editor" {
		t.Fatalf("chained: %v", text)
	}
	status, data := f.do("POST", "/v1/chat/completions", map[string]any{"model": "chain", "stream": true, "messages": msgs})
	if status != 200 {
		t.Fatalf("%d %s", status, data)
	}
	if text := streamText(t, data); text != "WRITER(EDITOR(WRITER(Q) DONE) DONE) DONE" {
		t.Fatalf("streamed: %q", text)
	}
	if n := len(sseEvents(t, data)); n < 4 {
		t.Fatalf("chunks were not emitted one by one: %d events", n)
	}
}

func TestModelsStreamErrorsReachTheScript(t *testing.T) {
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n")
		fmt.Fprintf(w, "data: {\"error\":{\"message\":\"engine crashed\"}}\n\n")
	}))
	defer broken.Close()
	src := `"""
kind: pipe
"""
def pipe(body, user):
    got = []
    for chunk in models.stream(model = "m", messages = body["messages"]):
        got.append(chunk)
    return "finished with " + ",".join(got)
`
	f := newFixture(t, "", Options{ModelsURL: broken.URL + "/v1", Limits: fastLimits()}, map[string]string{"s": src})
	d := f.detail(500, "POST", "/v1/chat/completions", map[string]any{"model": "s", "stream": false,
		"messages": []any{map[string]any{"role": "user", "content": "x"}}})
	if !strings.Contains(d, "engine crashed") || !strings.Contains(d, "s.star:6:") {
		t.Fatalf("error: %s", d)
	}
	// The same stream returned from pipe(): the client sees the error as
	// an error event after the first chunk.
	src2 := "\"\"\"\nkind: pipe\n\"\"\"\ndef pipe(body, user):\n    return models.stream(model = \"m\", messages = body[\"messages\"])\n"
	g := newFixture(t, "", Options{ModelsURL: broken.URL + "/v1", Limits: fastLimits()}, map[string]string{"s": src2})
	status, data := g.do("POST", "/v1/chat/completions", map[string]any{"model": "s", "messages": []any{map[string]any{"role": "user", "content": "x"}}})
	evs := sseEvents(t, data)
	if status != 200 || len(evs) != 3 || !strings.Contains(evs[0], `"par"`) || !strings.Contains(evs[1], "engine crashed") || evs[2] != "[DONE]" {
		t.Fatalf("streamed error: %d %q", status, evs)
	}
}
