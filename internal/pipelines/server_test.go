package pipelines

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const echoPipe = `"""
name: Echo
kind: pipe
description: Answers with the last message.
"""
valves = Valves(prefix = valve(str, "echo: ", "Put before the answer"))

def pipe(body, user):
    last = body["messages"][-1]["content"]
    mode = body.get("mode", "text")
    if mode == "text":
        return valves.prefix + last
    if mode == "list":
        return ["a", "b", "c"]
    if mode == "dict":
        return {"id": "custom", "object": "chat.completion", "model": "echo",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "from dict"}, "finish_reason": "stop"}]}
    if mode == "emit":
        emit("first ")
        http.get(body["gate"])
        emit("second")
        return None
    if mode == "user":
        return json.encode(user)
    if mode == "fail":
        x = body["nothing"]
    return ""
`

const multiManifold = `"""
name: Multi
kind: manifold
"""
def pipelines():
    return [{"id": "a", "name": "Alpha"}, {"id": "b", "name": "Beta"}]

def pipe(body, user):
    return "model " + body["model"]
`

const tagFilter = `"""
name: Tagger
kind: filter
priority: 5
pipelines: echo, multi.a
"""
valves = Valves(
    tag = valve(str, "[tagged]", "Text added to the last user message"),
    times = valve(int, 1, "How many tags"),
    loud = valve(bool, False, "Upper-case the message"),
    ratio = valve(float, 0.5, "A number"),
    mode = valve(str, "append", "Where the tag goes", choices = ["append", "prepend"]),
    topics = valve(list, ["a", "b"], "Some words"),
)

def on_valves_updated():
    log("valves now", valves.tag, valves.times)
    if valves.tag == "explode":
        fail("refusing the tag explode")

def inlet(body, user):
    msg = body["messages"][-1]
    text = msg["content"]
    tag = valves.tag * valves.times
    if valves.mode == "append":
        text = text + " " + tag
    else:
        text = tag + " " + text
    if valves.loud:
        text = text.upper()
    msg["content"] = text
    return body

def outlet(body, user):
    body["messages"][-1]["content"] += " (checked)"
`

func protocolFixture(t *testing.T, dir string, opts Options) *fixture {
	if opts.Limits == (Limits{}) {
		opts.Limits = fastLimits()
	}
	return newFixture(t, dir, opts, map[string]string{"echo": echoPipe, "multi": multiManifold, "tagger": tagFilter})
}

// endpoints lists every route of the protocol with a request that would
// be valid with the key.
var endpoints = []struct{ method, path, body string }{
	{"GET", "/", ""},
	{"GET", "/models", ""},
	{"POST", "/chat/completions", `{"model":"echo","stream":false,"messages":[{"role":"user","content":"hi"}]}`},
	{"POST", "/tagger/filter/inlet", `{"body":{"model":"echo","messages":[{"role":"user","content":"hi"}]}}`},
	{"POST", "/tagger/filter/outlet", `{"body":{"model":"echo","messages":[{"role":"assistant","content":"hi"}]}}`},
	{"GET", "/pipelines", ""},
	{"POST", "/pipelines/add", `{"url":"http://127.0.0.1:1/x.star"}`},
	{"POST", "/pipelines/upload", ""},
	{"DELETE", "/pipelines/delete", `{"id":"nothing"}`},
	{"POST", "/pipelines/reload", ""},
	{"GET", "/tagger/valves", ""},
	{"GET", "/tagger/valves/spec", ""},
	{"POST", "/tagger/valves/update", `{"times":2}`},
}

func TestProtocolRequiresTheKeyEverywhere(t *testing.T) {
	f := protocolFixture(t, "", Options{})
	before, _ := os.ReadDir(f.dir)
	for _, prefix := range []string{"", "/v1"} {
		for _, e := range endpoints {
			for _, key := range []string{"", "wrong-key", testKey + "x", "Basic " + testKey} {
				status, data := f.do(e.method, prefix+e.path, e.body, key)
				if status != http.StatusUnauthorized {
					t.Errorf("%s %s%s with key %q: got %d %s, want 401", e.method, prefix, e.path, key, status, data)
				}
			}
			// Unknown paths too: nothing is served without the key.
			if status, _ := f.do("GET", prefix+"/no/such/path", nil, ""); status != http.StatusUnauthorized {
				t.Errorf("unknown path without key: %d", status)
			}
		}
	}
	// None of them had an effect.
	after, _ := os.ReadDir(f.dir)
	if len(before) != len(after) {
		t.Fatalf("unauthorized requests changed the directory: %d -> %d entries", len(before), len(after))
	}
	if v := f.ok("GET", "/tagger/valves", nil); v["times"] != float64(1) {
		t.Fatalf("unauthorized update changed valves: %v", v)
	}
	// With the key, every route answers something other than 401.
	for _, prefix := range []string{"", "/v1"} {
		for _, e := range endpoints {
			if e.path == "/pipelines/upload" {
				continue // needs a multipart body; tested below
			}
			status, data := f.do(e.method, prefix+e.path, e.body)
			if status == http.StatusUnauthorized || status == http.StatusNotFound && !strings.Contains(e.path, "delete") {
				t.Errorf("%s %s%s with the key: %d %s", e.method, prefix, e.path, status, data)
			}
		}
	}
}

// TestProbesWithoutKey: an orchestrator's probes carry no key, so /healthz
// and /readyz answer without one (and with a wrong one); nothing else does.
func TestProbesWithoutKey(t *testing.T) {
	f := protocolFixture(t, "", Options{})
	for _, path := range []string{"/healthz", "/readyz"} {
		for _, key := range []string{"", "wrong-key", testKey} {
			if status, data := f.do("GET", path, nil, key); status != http.StatusOK || !strings.Contains(string(data), `"status":true`) {
				t.Errorf("GET %s with key %q: %d %s, want 200 {\"status\":true}", path, key, status, data)
			}
		}
		if status, _ := f.do("POST", path, "{}", ""); status != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", path, status)
		}
	}
	// Paths that only resemble them still need the key, and the probes
	// list nothing.
	for _, path := range []string{"/healthz/valves", "/v1/healthz", "/healthzx", "/models"} {
		if status, data := f.do("GET", path, nil, ""); status != http.StatusUnauthorized {
			t.Errorf("GET %s without key: %d %s, want 401", path, status, data)
		}
	}
	if _, data := f.do("GET", "/healthz", nil, ""); strings.Contains(string(data), "echo") {
		t.Errorf("/healthz tells about the pipelines: %s", data)
	}
}

func TestProtocolStatusAndModels(t *testing.T) {
	f := protocolFixture(t, "", Options{})
	if got := f.ok("GET", "/", nil); got["status"] != true {
		t.Fatalf("/: %v", got)
	}
	if got := f.ok("GET", "/v1", nil); got["status"] != true {
		t.Fatalf("/v1: %v", got)
	}
	status, data := f.do("GET", "/v1/models", nil)
	if status != 200 {
		t.Fatalf("%d %s", status, data)
	}
	var ml struct {
		Object    string `json:"object"`
		Pipelines bool   `json:"pipelines"`
		Data      []struct {
			ID       string         `json:"id"`
			Name     string         `json:"name"`
			Object   string         `json:"object"`
			OwnedBy  string         `json:"owned_by"`
			Created  int64          `json:"created"`
			Pipeline map[string]any `json:"pipeline"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &ml); err != nil {
		t.Fatal(err)
	}
	if !ml.Pipelines || ml.Object != "list" {
		t.Fatalf("not a pipelines model list: %s", data)
	}
	got := map[string]map[string]any{}
	names := map[string]string{}
	for _, d := range ml.Data {
		if d.Object != "model" || d.Created == 0 || d.OwnedBy == "" {
			t.Errorf("entry %s lacks OpenAI model fields: %+v", d.ID, d)
		}
		got[d.ID] = d.Pipeline
		names[d.ID] = d.Name
	}
	want := map[string]map[string]any{
		"echo":    {"type": "pipe", "valves": true},
		"multi.a": {"type": "manifold", "valves": false},
		"multi.b": {"type": "manifold", "valves": false},
		"tagger":  {"type": "filter", "valves": true, "pipelines": []any{"echo", "multi.a"}, "priority": float64(5)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pipeline objects:\n got %v\nwant %v", got, want)
	}
	if names["echo"] != "Echo" || names["multi.a"] != "Multi: Alpha" || names["tagger"] != "Tagger" {
		t.Fatalf("names: %v", names)
	}
	// /pipelines lists the installed files, not the manifold's models.
	list := f.ok("GET", "/pipelines", nil)["data"].([]any)
	var ids []string
	for _, e := range list {
		m := e.(map[string]any)
		ids = append(ids, m["id"].(string)+":"+m["type"].(string))
	}
	if strings.Join(ids, " ") != "echo:pipe multi:manifold tagger:filter" {
		t.Fatalf("/pipelines: %v", list)
	}
}

func TestProtocolFilters(t *testing.T) {
	f := protocolFixture(t, "", Options{})
	body := map[string]any{"model": "echo", "chat_id": "c1", "messages": []any{map[string]any{"role": "user", "content": "hello"}}}
	status, data := f.inlet("tagger", body, map[string]any{"id": "u1", "role": "user"})
	if status != 200 {
		t.Fatalf("%d %s", status, data)
	}
	var out map[string]any
	json.Unmarshal(data, &out)
	msgs := out["messages"].([]any)
	if msgs[0].(map[string]any)["content"] != "hello [tagged]" || out["chat_id"] != "c1" {
		t.Fatalf("inlet: %s", data)
	}
	// outlet that changes the body in place and returns None.
	status, data = f.do("POST", "/v1/tagger/filter/outlet", map[string]any{"body": map[string]any{"model": "echo",
		"messages": []any{map[string]any{"role": "assistant", "content": "answer"}}}})
	if status != 200 || !strings.Contains(string(data), `"answer (checked)"`) {
		t.Fatalf("outlet: %d %s", status, data)
	}
	// A pipe without inlet returns the body as it is (Open WebUI calls the
	// chosen pipe's own inlet too), also for a manifold's model id.
	for _, id := range []string{"echo", "multi.a"} {
		status, data = f.inlet(id, body, nil)
		if status != 200 || !strings.Contains(string(data), `"content":"hello"`) {
			t.Fatalf("inlet of %s: %d %s", id, status, data)
		}
	}
	if d := f.detail(404, "POST", "/nope/filter/inlet", map[string]any{"body": body}); !strings.Contains(d, "nope") {
		t.Fatalf("unknown filter: %s", d)
	}
	f.detail(400, "POST", "/tagger/filter/inlet", `{"body": 3}`)
	f.detail(400, "POST", "/tagger/filter/inlet", `not json`)
	f.detail(405, "GET", "/tagger/filter/inlet", nil)
}

func TestProtocolChatCompletions(t *testing.T) {
	gate := make(chan struct{})
	gateSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-gate:
		case <-time.After(5 * time.Second):
			w.WriteHeader(500)
		}
	}))
	defer gateSrv.Close()
	f := protocolFixture(t, "", Options{AllowHosts: []string{strings.TrimPrefix(gateSrv.URL, "http://")}})
	msgs := []any{map[string]any{"role": "user", "content": "hi there"}}

	// Non-streaming: a chat.completion object.
	got := f.ok("POST", "/v1/chat/completions", map[string]any{"model": "echo", "stream": false, "messages": msgs})
	choice := got["choices"].([]any)[0].(map[string]any)
	if got["object"] != "chat.completion" || got["model"] != "echo" || choice["finish_reason"] != "stop" ||
		choice["message"].(map[string]any)["content"] != "echo: hi there" || choice["message"].(map[string]any)["role"] != "assistant" {
		t.Fatalf("non-streaming: %v", got)
	}
	// A list of chunks, non-streaming, is joined.
	got = f.ok("POST", "/chat/completions", map[string]any{"model": "echo", "stream": false, "mode": "list", "messages": msgs})
	if c := got["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]; c != "abc" {
		t.Fatalf("list: %v", got)
	}
	// A response dict is passed through as it is.
	got = f.ok("POST", "/v1/chat/completions", map[string]any{"model": "echo", "stream": false, "mode": "dict", "messages": msgs})
	if got["id"] != "custom" {
		t.Fatalf("dict: %v", got)
	}
	// Streaming (the default when stream is absent): SSE chunks then [DONE].
	status, data := f.do("POST", "/v1/chat/completions", map[string]any{"model": "echo", "messages": msgs})
	if status != 200 || streamText(t, data) != "echo: hi there" {
		t.Fatalf("stream: %d %s", status, data)
	}
	status, data = f.do("POST", "/v1/chat/completions", map[string]any{"model": "echo", "stream": true, "mode": "list", "messages": msgs})
	if status != 200 || streamText(t, data) != "abc" || len(sseEvents(t, data)) != 5 {
		t.Fatalf("stream list: %d %s", status, data)
	}
	status, data = f.do("POST", "/v1/chat/completions", map[string]any{"model": "echo", "stream": true, "mode": "dict", "messages": msgs})
	if status != 200 || streamText(t, data) != "from dict" {
		t.Fatalf("stream dict: %d %s", status, data)
	}
	// A manifold model: the pipe sees its own model id.
	got = f.ok("POST", "/v1/chat/completions", map[string]any{"model": "multi.b", "stream": false, "messages": msgs})
	if c := got["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]; c != "model b" {
		t.Fatalf("manifold: %v", got)
	}
	// Open WebUI's user field reaches the pipe as its second argument.
	got = f.ok("POST", "/v1/chat/completions", map[string]any{"model": "echo", "stream": false, "mode": "user", "messages": msgs,
		"user": map[string]any{"id": "u9", "role": "admin"}})
	if c := got["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]; c != `{"id":"u9","role":"admin"}` {
		t.Fatalf("user: %v", got)
	}
	// Errors: unknown model, a filter is not a model, a failing pipe.
	f.detail(404, "POST", "/v1/chat/completions", map[string]any{"model": "nope", "messages": msgs})
	f.detail(404, "POST", "/v1/chat/completions", map[string]any{"model": "tagger", "messages": msgs})
	if d := f.detail(500, "POST", "/v1/chat/completions", map[string]any{"model": "echo", "mode": "fail", "messages": msgs}); !strings.Contains(d, "echo.star:26:17:") {
		t.Fatalf("failing pipe: %s", d)
	}

	// Streaming is real: the first chunk reaches the client while the
	// pipe is still running (it waits on the gate, which opens only once
	// the client has read that chunk).
	body, _ := json.Marshal(map[string]any{"model": "echo", "stream": true, "mode": "emit", "gate": gateSrv.URL, "messages": msgs})
	req, _ := http.NewRequest("POST", f.url+"/v1/chat/completions", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	if err != nil || !strings.Contains(line, `"content":"first "`) || !strings.Contains(line, `"role":"assistant"`) {
		t.Fatalf("first chunk: %q %v", line, err)
	}
	close(gate)
	rest := make([]byte, 0, 1024)
	buf := make([]byte, 1024)
	for {
		n, err := rd.Read(buf)
		rest = append(rest, buf[:n]...)
		if err != nil {
			break
		}
	}
	if text := streamText(t, append([]byte(line), rest...)); text != "first second" {
		t.Fatalf("streamed text %q", text)
	}
}

func TestProtocolValvesPersistAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	f := protocolFixture(t, dir, Options{})
	spec := f.ok("GET", "/tagger/valves/spec", nil)
	props := spec["properties"].(map[string]any)
	wantTypes := map[string]string{"pipelines": "array", "priority": "integer", "tag": "string", "times": "integer", "loud": "boolean", "ratio": "number", "mode": "string", "topics": "array"}
	for name, typ := range wantTypes {
		p, ok := props[name].(map[string]any)
		if !ok || p["type"] != typ || p["title"] == "" {
			t.Errorf("spec of %s: %v", name, props[name])
		}
	}
	if props["times"].(map[string]any)["title"] != "Times" || props["tag"].(map[string]any)["description"] != "Text added to the last user message" ||
		props["times"].(map[string]any)["default"] != float64(1) {
		t.Errorf("spec details: %v", props)
	}
	if e := props["mode"].(map[string]any)["enum"]; !reflect.DeepEqual(e, []any{"append", "prepend"}) {
		t.Errorf("enum: %v", e)
	}
	v := f.ok("GET", "/tagger/valves", nil)
	if v["tag"] != "[tagged]" || v["times"] != float64(1) || v["priority"] != float64(5) || !reflect.DeepEqual(v["pipelines"], []any{"echo", "multi.a"}) {
		t.Fatalf("valves: %v", v)
	}

	// The web UI sends numbers and booleans as text from its form.
	v = f.ok("POST", "/tagger/valves/update", map[string]any{"tag": "[x]", "times": "2", "loud": "true", "ratio": "1.5",
		"mode": "prepend", "priority": 1, "pipelines": []string{"*"}, "topics": "c, d"})
	if v["times"] != float64(2) || v["loud"] != true || v["ratio"] != 1.5 || !reflect.DeepEqual(v["topics"], []any{"c", "d"}) {
		t.Fatalf("update: %v", v)
	}
	// on_valves_updated ran and saw the new values.
	found := false
	for _, l := range f.logLines() {
		if l == "tagger: valves now [x] 2" {
			found = true
		}
	}
	if !found {
		t.Fatalf("on_valves_updated did not log: %v", f.logLines())
	}
	// Bad updates change nothing.
	f.detail(400, "POST", "/tagger/valves/update", map[string]any{"times": "many"})
	f.detail(400, "POST", "/tagger/valves/update", map[string]any{"mode": "sideways"})
	f.detail(400, "POST", "/tagger/valves/update", map[string]any{"unknown": 1})
	if d := f.detail(400, "POST", "/tagger/valves/update", map[string]any{"tag": "explode"}); !strings.Contains(d, "refusing the tag explode") {
		t.Fatalf("failing on_valves_updated: %s", d)
	}
	f.detail(404, "GET", "/nope/valves", nil)
	f.detail(404, "GET", "/multi/valves", nil) // no valves declared
	if v := f.ok("GET", "/tagger/valves", nil); v["tag"] != "[x]" {
		t.Fatalf("a failed update changed valves: %v", v)
	}

	// The new values are used.
	check := func(f *fixture) {
		t.Helper()
		status, data := f.inlet("tagger", map[string]any{"model": "echo", "messages": []any{map[string]any{"role": "user", "content": "hi"}}}, nil)
		if status != 200 || !strings.Contains(string(data), `"content":"[X][X] HI"`) {
			t.Fatalf("inlet with new valves: %d %s", status, data)
		}
		models := f.ok("GET", "/v1/models", nil)["data"].([]any)
		for _, m := range models {
			m := m.(map[string]any)
			if m["id"] == "tagger" {
				p := m["pipeline"].(map[string]any)
				if p["priority"] != float64(1) || !reflect.DeepEqual(p["pipelines"], []any{"*"}) {
					t.Fatalf("models after update: %v", p)
				}
			}
		}
	}
	check(f)
	if _, err := os.Stat(filepath.Join(dir, "tagger.valves.json")); err != nil {
		t.Fatal(err)
	}

	// Restart: a new server over the same directory.
	f.srv.Close()
	g := newFixture(t, dir, Options{Limits: fastLimits()}, nil)
	if v := g.ok("GET", "/tagger/valves", nil); v["tag"] != "[x]" || v["times"] != float64(2) || v["mode"] != "prepend" {
		t.Fatalf("valves after restart: %v", v)
	}
	check(g)
	// Reload keeps them too.
	g.ok("POST", "/pipelines/reload", nil)
	check(g)
}

func TestProtocolManagePipelines(t *testing.T) {
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/repo/added.star":
			w.Write([]byte(strings.Replace(echoPipe, "name: Echo", "name: Added", 1)))
		case "/repo/broken.star":
			w.Write([]byte("def pipe(:\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer files.Close()
	f := protocolFixture(t, "", Options{})

	// add from a URL
	got := f.ok("POST", "/pipelines/add", map[string]any{"url": files.URL + "/repo/added.star"})
	if got["status"] != true {
		t.Fatalf("add: %v", got)
	}
	if d := f.detail(400, "POST", "/pipelines/add", map[string]any{"url": files.URL + "/repo/broken.star"}); !strings.Contains(d, "broken.star:1:") {
		t.Fatalf("add broken: %s", d)
	}
	f.detail(400, "POST", "/pipelines/add", map[string]any{"url": files.URL + "/repo/missing.star"})
	f.detail(400, "POST", "/pipelines/add", map[string]any{"url": files.URL + "/repo/page.html"})
	f.detail(400, "POST", "/pipelines/add", map[string]any{})

	// upload
	status, data := f.upload("uploaded.star", strings.Replace(echoPipe, "name: Echo", "name: Uploaded", 1))
	if status != 200 || !strings.Contains(string(data), `"status":true`) {
		t.Fatalf("upload: %d %s", status, data)
	}
	status, _ = f.upload("../escape.star", multiManifold)
	if status != 200 {
		t.Fatalf("upload with a path: %d", status)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "escape.star")); err != nil {
		t.Fatalf("upload with a path was not kept to its base name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(f.dir), "escape.star")); err == nil {
		t.Fatal("upload escaped the data directory")
	}
	f.detail(400, "POST", "/pipelines/upload", `{}`)

	ids := func() string {
		var out []string
		for _, e := range f.ok("GET", "/pipelines", nil)["data"].([]any) {
			out = append(out, e.(map[string]any)["id"].(string))
		}
		return strings.Join(out, " ")
	}
	if got := ids(); got != "added echo escape multi tagger uploaded" {
		t.Fatalf("after add and upload: %s", got)
	}
	// The added pipe is a model at once.
	got = f.ok("POST", "/v1/chat/completions", map[string]any{"model": "added", "stream": false, "messages": []any{map[string]any{"role": "user", "content": "x"}}})
	if got["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"] != "echo: x" {
		t.Fatalf("added pipe: %v", got)
	}

	// delete
	f.ok("POST", "/tagger/valves/update", map[string]any{"times": 3})
	f.ok("DELETE", "/pipelines/delete", map[string]any{"id": "tagger"})
	f.ok("DELETE", "/v1/pipelines/delete", map[string]any{"id": "escape"})
	if d := f.detail(404, "DELETE", "/pipelines/delete", map[string]any{"id": "tagger"}); !strings.Contains(d, "tagger") {
		t.Fatalf("delete twice: %s", d)
	}
	for _, name := range []string{"tagger.star", "tagger.valves.json", "escape.star"} {
		if _, err := os.Stat(filepath.Join(f.dir, name)); !os.IsNotExist(err) {
			t.Fatalf("%s still exists after delete: %v", name, err)
		}
	}
	if got := ids(); got != "added echo multi uploaded" {
		t.Fatalf("after delete: %s", got)
	}

	// reload picks up files put in the directory by hand, and drops
	// removed ones.
	os.WriteFile(filepath.Join(f.dir, "byhand.star"), []byte(tagFilter), 0o644)
	os.Remove(filepath.Join(f.dir, "uploaded.star"))
	if got := f.ok("POST", "/pipelines/reload", nil); got["message"] == nil {
		t.Fatalf("reload: %v", got)
	}
	if got := ids(); got != "added byhand echo multi" {
		t.Fatalf("after reload: %s", got)
	}
	f.detail(405, "GET", "/pipelines/reload", nil)
	f.detail(404, "GET", "/no/such/thing/here", nil)
}

func TestInstallURLs(t *testing.T) {
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a.star":
			w.Write([]byte(echoPipe))
		case "/b.star":
			w.Write([]byte(multiManifold))
		default:
			http.NotFound(w, r)
		}
	}))
	defer files.Close()
	local := filepath.Join(t.TempDir(), "c.star")
	os.WriteFile(local, []byte(tagFilter), 0o644)

	m, err := Open(context.Background(), Options{Dir: t.TempDir(), APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	errs := m.InstallURLs(context.Background(), files.URL+"/a.star;"+files.URL+"/b.star, file://"+local+";"+files.URL+"/missing.star")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "missing.star") {
		t.Fatalf("errors: %v", errs)
	}
	var ids []string
	for _, p := range m.List() {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, " ") != "a b c" {
		t.Fatalf("installed: %v", ids)
	}
}

func TestRawURL(t *testing.T) {
	got := rawURL("https://github.com/someone/repo/blob/main/examples/rate_limit.star")
	if got != "https://raw.githubusercontent.com/someone/repo/main/examples/rate_limit.star" {
		t.Fatal(got)
	}
	if got := rawURL("https://example.com/x.star"); got != "https://example.com/x.star" {
		t.Fatal(got)
	}
	if got := SplitURLs("a;b, c\nd"); !reflect.DeepEqual(got, []string{"a", "b", "c", "d"}) {
		t.Fatal(got)
	}
}
