package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// pipelinesFixture is a UI with a stand-in engine and two stand-in Pipelines servers, added as OpenAI
// connections with their keys (A first, then B).
type pipelinesFixture struct {
	A      *client
	engine *fakeOllama
	log    *callLog
	a, b   *standInPipelines
	srvA   *httptest.Server
	srvB   *httptest.Server
	connA  string
	connB  string
}

func newPipelinesFixture(t *testing.T) *pipelinesFixture {
	t.Helper()
	f := &pipelinesFixture{engine: newFakeOllama("stories260K:latest"), log: &callLog{}}
	f.a = &standInPipelines{name: "A", key: "key-a", log: f.log, valves: map[string]map[string]any{
		"f_early": {"zeta_limit": 10, "mode": "mask", "alpha_flag": false, "words": []any{}, "note": nil}},
		pipes: []standInPipe{
			{ID: "f_late", Name: "Late", Type: "filter", Targets: []string{"*"}, Priority: 5},
			{ID: "f_early", Name: "Early", Type: "filter", Targets: []string{"*"}, Priority: -1},
			{ID: "f_target", Name: "Targeted", Type: "filter", Targets: []string{"stories260K:latest"}, Priority: 2},
			{ID: "f_elsewhere", Name: "Elsewhere", Type: "filter", Targets: []string{"other:latest"}, Priority: 0},
			{ID: "blocker", Name: "Blocker", Type: "filter", Targets: []string{"*"}, Priority: 3},
			{ID: "echo_pipe", Name: "Echo", Type: "pipe"},
			{ID: "mani", Name: "Mani/", Type: "manifold", Subs: []string{"alpha", "beta"}},
		}}
	f.b = &standInPipelines{name: "B", key: "key-b", log: f.log, pipes: []standInPipe{
		{ID: "b_filter", Name: "B filter", Type: "filter", Targets: []string{"*"}, Priority: 2},
	}}
	f.srvA = httptest.NewServer(f.a)
	f.srvB = httptest.NewServer(f.b)
	t.Cleanup(f.srvA.Close)
	t.Cleanup(f.srvB.Close)
	f.A, _ = admin(t, f.engine, nil)
	f.connA = f.A.must(201, "POST", "/api/v1/connections", map[string]string{"type": "openai", "url": f.srvA.URL, "key": "key-a", "name": "Pipes A"})["id"].(string)
	time.Sleep(5 * time.Millisecond) // connections list in the order they were added (by milliseconds)
	f.connB = f.A.must(201, "POST", "/api/v1/connections", map[string]string{"type": "openai", "url": f.srvB.URL, "key": "key-b", "name": "Pipes B"})["id"].(string)
	return f
}

// Filters of two Pipelines servers run by priority (ties in the servers' order), at the inlet and at the
// outlet; a pipe's own inlet runs last and its own outlet first; the model picker lists pipes and
// manifold models but no filters.
func TestStandInPipelinesChain(t *testing.T) {
	f := newPipelinesFixture(t)
	A := f.A
	list := A.must(200, "GET", "/api/v1/models", nil)["data"].([]any)
	got := map[string]string{}
	for _, m := range list {
		m := m.(map[string]any)
		typ := "model"
		if pl, ok := m["pipeline"].(map[string]any); ok {
			typ = pl["type"].(string)
		}
		if m["connection_id"] == f.connA || m["connection_id"] == f.connB {
			if m["pipelines"] != true {
				t.Errorf("model %v of a Pipelines server without pipelines: true", m["id"])
			}
		}
		got[m["id"].(string)] = typ
	}
	want := map[string]string{"stories260K:latest": "model", "echo_pipe": "pipe", "mani.alpha": "manifold", "mani.beta": "manifold"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("models %v, want %v (no filters)", got, want)
	}
	for _, c := range A.must(200, "GET", "/api/v1/connections", nil)["connections"].([]any) {
		c := c.(map[string]any)
		if want := c["id"] == f.connA || c["id"] == f.connB; c["pipelines"] != want {
			t.Errorf("connection %v: pipelines %v, want %v", c["id"], c["pipelines"], want)
		}
	}
	f.log.take()

	// A model of the built-in engine.
	id := A.must(201, "POST", "/api/v1/chats", map[string]any{"title": "t"})["id"].(string)
	evs := A.complete(id, map[string]any{"content": "hello", "model": "stories260K:latest", "connection_id": "builtin"})
	const order = "f_early f_target b_filter blocker f_late"
	wantLog := "inlet:A:f_early inlet:A:f_target inlet:B:b_filter inlet:A:blocker inlet:A:f_late " +
		"outlet:A:f_early outlet:A:f_target outlet:B:b_filter outlet:A:blocker outlet:A:f_late"
	if got := f.log.take(); got != wantLog {
		t.Fatalf("filter calls:\n got %s\nwant %s", got, wantLog)
	}
	seen := f.engine.seen()
	if got := turnsText(seen[len(seen)-1].Messages); got != "user:hello"+marks(">", order) {
		t.Fatalf("the engine got %q", got)
	}
	streamed := "You said: hello" + marks(">", order)
	if deltas(evs) != streamed {
		t.Fatalf("streamed %q", deltas(evs))
	}
	final := streamed + marks("<", order)
	done := evs[len(evs)-1]
	if done.name != "done" || msgOf(done, "message")["content"] != final {
		t.Fatalf("events %s, final %v; want the outlet's %q", eventNames(evs), done.data, final)
	}
	reply := msgOf(evs[0], "assistant_message")["id"].(string)
	if _, by := chatState(t, A, id); by[reply]["content"] != final {
		t.Fatalf("stored %q, want the outlet's answer", by[reply]["content"])
	}
	// The outlet saw the conversation as written (not as the inlet changed it), with the ids.
	out := f.a.outlets[0]
	msgs := out["messages"].([]any)
	if out["chat_id"] != id || out["id"] != reply || len(msgs) != 2 ||
		msgs[0].(map[string]any)["content"] != "hello" || msgs[1].(map[string]any)["content"] != streamed ||
		out["user"].(map[string]any)["email"] != "ada@example.com" {
		t.Fatalf("the first outlet got %v", out)
	}

	// A pipe: its own inlet after the filters, its own outlet before them; f_target does not apply.
	evs = A.complete(id, map[string]any{"content": "hi", "model": "echo_pipe", "connection_id": f.connA})
	wantLog = "inlet:A:f_early inlet:B:b_filter inlet:A:blocker inlet:A:f_late inlet:A:echo_pipe " +
		"outlet:A:echo_pipe outlet:A:f_early outlet:B:b_filter outlet:A:blocker outlet:A:f_late"
	if got := f.log.take(); got != wantLog {
		t.Fatalf("filter calls for a pipe:\n got %s\nwant %s", got, wantLog)
	}
	piped := "echo_pipe got: hi" + marks(">", "f_early b_filter blocker f_late echo_pipe")
	if got := msgOf(evs[len(evs)-1], "message")["content"]; deltas(evs) != piped ||
		got != piped+marks("<", "echo_pipe f_early b_filter blocker f_late") {
		t.Fatalf("pipe: streamed %q, final %q", deltas(evs), got)
	}
	// A manifold's model: this server answers 404 to its filter calls, which are passed over.
	evs = A.complete(id, map[string]any{"content": "yo", "model": "mani.alpha", "connection_id": f.connA})
	if got := msgOf(evs[len(evs)-1], "message")["content"]; !strings.HasPrefix(fmt.Sprint(got), "mani.alpha got: yo >f_early") {
		t.Fatalf("manifold: %s %v", eventNames(evs), evs[len(evs)-1].data)
	}
	f.log.take()

	// The inlet refuses: the filter's words arrive as the error, and the engine is not asked.
	n := len(f.engine.seen())
	evs = A.complete(id, map[string]any{"content": "something forbidden", "model": "stories260K:latest", "connection_id": "builtin"})
	if eventNames(evs) != "start,error" || evs[1].data["detail"] != "Blocked: ada@example.com may not say that" {
		t.Fatalf("blocked request: %v", evs)
	}
	if got := f.log.take(); got != "inlet:A:f_early inlet:A:f_target inlet:B:b_filter inlet:A:blocker" {
		t.Fatalf("calls of a refused request: %s", got)
	}
	if len(f.engine.seen()) != n {
		t.Fatal("a refused request reached the engine")
	}
	// The outlet refuses the answer: it is not kept.
	evs = A.complete(id, map[string]any{"content": "tell me a secret", "model": "stories260K:latest", "connection_id": "builtin"})
	last := evs[len(evs)-1]
	if last.name != "error" || last.data["detail"] != "Answer withheld" || msgOf(last, "message")["content"] != "" ||
		msgOf(last, "message")["error"] != "Answer withheld" {
		t.Fatalf("answer refused by the outlet: %s %v", eventNames(evs), last.data)
	}
	reply = msgOf(evs[0], "assistant_message")["id"].(string)
	if _, by := chatState(t, A, id); by[reply]["content"] != "" || by[reply]["error"] != "Answer withheld" {
		t.Fatalf("stored refused answer: %v", by[reply])
	}

	// Titles: the automatic one asks the model with the first message as the inlets made it, without
	// running them again (a rate limit would count it); the title endpoint runs them, marked as a title task.
	f.log.take()
	fresh := A.must(201, "POST", "/api/v1/chats", map[string]any{})["id"].(string)
	evs = A.complete(fresh, map[string]any{"content": "hello", "model": "stories260K:latest", "connection_id": "builtin"})
	if eventNames(evs) != "start,delta,delta,delta,done,title" || strings.Count(f.log.take(), "inlet:") != 5 {
		t.Fatalf("a first completion: %s", eventNames(evs))
	}
	seen = f.engine.seen()
	if got := seen[len(seen)-1].Messages; len(got) != 1 || !strings.HasSuffix(got[0].Content, "Message:\nhello"+marks(">", order)) {
		t.Fatalf("the title request carried %q", got)
	}
	A.must(200, "POST", "/api/v1/chats/"+fresh+"/title", nil)
	if got := f.log.take(); got != "inlet:A:f_early inlet:A:f_target inlet:B:b_filter inlet:A:blocker inlet:A:f_late" {
		t.Fatalf("filter calls of the title endpoint: %s", got)
	}
	seen = f.engine.seen()
	if got := seen[len(seen)-1].Messages; len(got) != 1 || !strings.HasSuffix(got[0].Content, "Message:\nhello"+marks(">", order)) {
		t.Fatalf("the title endpoint's request carried %q", got)
	}
	// A refused first message gets the first words as its title; the model is not asked.
	refused := A.must(201, "POST", "/api/v1/chats", map[string]any{})["id"].(string)
	A.complete(refused, map[string]any{"content": "forbidden words here", "model": "stories260K:latest", "connection_id": "builtin"})
	n = len(f.engine.seen())
	if got := A.must(200, "POST", "/api/v1/chats/"+refused+"/title", nil)["title"]; got != "forbidden words here" || len(f.engine.seen()) != n {
		t.Fatalf("title of a refused message: %v, %d model calls", got, len(f.engine.seen())-n)
	}

	// A Pipelines server that cannot list its filters stops completions rather than skip them.
	f.srvB.Close()
	evs = A.complete(id, map[string]any{"content": "hello", "model": "stories260K:latest", "connection_id": "builtin"})
	if last := evs[len(evs)-1]; last.name != "error" || !strings.Contains(fmt.Sprint(last.data["detail"]), "listing the filters of "+f.srvB.URL) {
		t.Fatalf("with a Pipelines server down: %s %v", eventNames(evs), last.data)
	}
}

// marks is what the stand-in's filters append: " >a >b" or " <a <b".
func marks(sign, ids string) string {
	var b strings.Builder
	for _, id := range strings.Fields(ids) {
		b.WriteString(" " + sign + id)
	}
	return b.String()
}

// openaiEvents reads the data lines of an OpenAI event stream.
func openaiEvents(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(string(body), "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

// The OpenAI-compatible endpoint runs the outlets too: a whole answer comes as the outlet returns it; a
// stream is relayed as it comes, then one event carries the outlet's text before [DONE].
func TestStandInPipelinesOpenAIEndpoint(t *testing.T) {
	f := newPipelinesFixture(t)
	A := f.A
	A.must(200, "GET", "/api/v1/models", nil)
	ask := func(model, text string, stream bool) response {
		return A.do("POST", "/api/v1/chat/completions", map[string]any{"model": model, "stream": stream,
			"messages": []map[string]string{{"role": "user", "content": text}}})
	}
	const order = "f_early f_target b_filter blocker f_late"

	r := ask("stories260K:latest", "hi", true)
	evs := openaiEvents(t, r.body)
	if r.status != 200 || len(evs) < 3 || evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("stream: %d %s", r.status, r.body)
	}
	var text strings.Builder
	for _, e := range evs[:len(evs)-2] {
		var ch openaiChunk
		if err := json.Unmarshal([]byte(e), &ch); err != nil {
			t.Fatalf("event %s: %v", e, err)
		}
		for _, c := range ch.Choices {
			text.WriteString(c.Delta.Content)
		}
	}
	streamed := "You said: hi" + marks(">", order)
	var outlet struct {
		Choices []any
		Outlet  struct{ Role, Content string }
	}
	json.Unmarshal([]byte(evs[len(evs)-2]), &outlet)
	if text.String() != streamed || outlet.Choices == nil || len(outlet.Choices) != 0 ||
		outlet.Outlet.Role != "assistant" || outlet.Outlet.Content != streamed+marks("<", order) {
		t.Fatalf("stream: text %q, last events %q", text.String(), evs[len(evs)-2:])
	}
	if got := f.log.take(); !strings.HasSuffix(got, "outlet:A:f_early outlet:A:f_target outlet:B:b_filter outlet:A:blocker outlet:A:f_late") {
		t.Fatalf("calls: %s", got)
	}

	// A whole answer, from a pipe.
	r = ask("echo_pipe", "hi", false)
	var whole struct {
		Choices []struct{ Message struct{ Content string } }
		Usage   struct {
			TotalTokens int `json:"total_tokens"`
		}
	}
	json.Unmarshal(r.body, &whole)
	want := "echo_pipe got: hi" + marks(">", "f_early b_filter blocker f_late echo_pipe") + marks("<", "echo_pipe f_early b_filter blocker f_late")
	if r.status != 200 || len(whole.Choices) != 1 || whole.Choices[0].Message.Content != want || whole.Usage.TotalTokens != 7 {
		t.Fatalf("whole answer: %d %s\nwant content %q", r.status, r.body, want)
	}
	// The pipe got the body the inlets made.
	if got := fmt.Sprint(f.a.chats[len(f.a.chats)-1]["messages"]); !strings.Contains(got, "hi >f_early >b_filter >blocker >f_late >echo_pipe") {
		t.Fatalf("the pipe got %s", got)
	}

	// Refusals: at the inlet a 400; at the outlet a 400 for a whole answer, an error event in a stream.
	if r := ask("stories260K:latest", "forbidden", true); r.status != 400 || r.detail() != "Blocked: ada@example.com may not say that" {
		t.Fatalf("inlet refusal: %d %s", r.status, r.body)
	}
	if r := ask("echo_pipe", "a secret", false); r.status != 400 || r.detail() != "Answer withheld" {
		t.Fatalf("outlet refusal, whole: %d %s", r.status, r.body)
	}
	r = ask("stories260K:latest", "a secret", true)
	evs = openaiEvents(t, r.body)
	if len(evs) < 2 || evs[len(evs)-1] != "[DONE]" || !strings.Contains(evs[len(evs)-2], `"message":"Answer withheld"`) {
		t.Fatalf("outlet refusal, stream: %s", r.body)
	}
}

// multipartFile is a form with one file in its field "file".
func multipartFile(t *testing.T, name, content string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, content)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// The admin endpoints of the Pipelines tab manage a stand-in server's pipelines.
func TestStandInPipelinesAdmin(t *testing.T) {
	f := newPipelinesFixture(t)
	A := f.A
	plain := httptest.NewServer(&fakeOpenAI{})
	defer plain.Close()
	notPipes := A.must(201, "POST", "/api/v1/connections", map[string]string{"type": "openai", "url": plain.URL})["id"].(string)
	wrongKey := A.must(201, "POST", "/api/v1/connections", map[string]string{"type": "openai", "url": f.srvA.URL, "key": "nope"})["id"].(string)

	servers := A.must(200, "GET", "/api/v1/pipelines/list", nil)["data"].([]any)
	if len(servers) != 2 || servers[0].(map[string]any)["connection_id"] != f.connA || servers[1].(map[string]any)["url"] != f.srvB.URL {
		t.Fatalf("Pipelines servers: %v", servers)
	}
	q := "?connection_id=" + f.connA
	list := func() map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, p := range A.must(200, "GET", "/api/v1/pipelines"+q, nil)["data"].([]any) {
			p := p.(map[string]any)
			out[p["id"].(string)] = p
		}
		return out
	}
	ps := list()
	if len(ps) != 7 || fmt.Sprint(ps["f_target"]["pipelines"]) != "[stories260K:latest]" || ps["f_early"]["priority"] != float64(-1) ||
		ps["f_early"]["valves"] != true || len(ps["mani"]["models"].([]any)) != 2 || ps["echo_pipe"]["type"] != "pipe" {
		t.Fatalf("pipelines: %v", ps)
	}

	// Upload, install from a URL, delete, reload.
	ct, form := multipartFile(t, "uploaded.py", "class Pipeline: pass\n")
	req := A.req("POST", "/api/v1/pipelines/upload"+q, form)
	req.Header.Set("Content-Type", ct)
	if r := A.send(req); r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	ct, form = multipartFile(t, "broken.py", "class Pipeline:\n  syntax error\n")
	req = A.req("POST", "/api/v1/pipelines/upload"+q, form)
	req.Header.Set("Content-Type", ct)
	if r := A.send(req); r.status != 400 || r.detail() != "invalid syntax (line 3)" {
		t.Fatalf("upload of a broken file: %d %s", r.status, r.body)
	}
	A.must(200, "POST", "/api/v1/pipelines/add"+q, map[string]string{"url": "https://example.com/p/from_url.py"})
	if r := A.do("POST", "/api/v1/pipelines/add"+q, map[string]string{"url": "https://example.com/p/x.txt"}); r.status != 400 || r.detail() != "Invalid URL: not a Python file" {
		t.Fatalf("add of a bad URL: %d %s", r.status, r.body)
	}
	if ps := list(); ps["uploaded"] == nil || ps["uploaded"]["priority"] != float64(9) || ps["from_url"] == nil || len(ps) != 9 {
		t.Fatalf("after upload and add: %v", ps)
	}
	if fmt.Sprint(f.a.added) != "[https://example.com/p/from_url.py]" {
		t.Fatalf("URLs given to the server: %v", f.a.added)
	}
	A.must(200, "DELETE", "/api/v1/pipelines/from_url"+q, nil)
	if r := A.do("DELETE", "/api/v1/pipelines/from_url"+q, nil); r.status != 404 {
		t.Fatalf("second delete: %d %s", r.status, r.body)
	}
	if ps := list(); ps["from_url"] != nil {
		t.Fatal("deleted pipeline still listed")
	}
	A.must(200, "POST", "/api/v1/pipelines/reload"+q, nil)
	if f.a.reloads != 1 {
		t.Fatalf("reloads: %d", f.a.reloads)
	}

	// Valves: the spec comes in its own order; an update is checked by the server and saved.
	r := A.do("GET", "/api/v1/pipelines/f_early/valves/spec"+q, nil)
	s := string(r.body)
	if r.status != 200 || !(strings.Index(s, "zeta_limit") < strings.Index(s, `"mode"`) && strings.Index(s, `"mode"`) < strings.Index(s, "alpha_flag")) {
		t.Fatalf("spec (in declaration order): %d %s", r.status, s)
	}
	if v := A.must(200, "GET", "/api/v1/pipelines/f_early/valves"+q, nil); v["zeta_limit"] != float64(10) {
		t.Fatalf("valves: %v", v)
	}
	if v := A.must(200, "POST", "/api/v1/pipelines/f_early/valves/update"+q, map[string]any{"zeta_limit": 3, "words": []string{"x"}}); v["zeta_limit"] != float64(3) || fmt.Sprint(v["words"]) != "[x]" {
		t.Fatalf("update: %v", v)
	}
	if r := A.do("POST", "/api/v1/pipelines/f_early/valves/update"+q, map[string]any{"zeta_limit": "many"}); r.status != 400 || !strings.Contains(r.detail(), "valid integer") {
		t.Fatalf("bad update: %d %s", r.status, r.body)
	}
	if v := A.must(200, "GET", "/api/v1/pipelines/f_early/valves"+q, nil); v["zeta_limit"] != float64(3) {
		t.Fatalf("valves after a refused update: %v", v)
	}
	if r := A.do("GET", "/api/v1/pipelines/nope/valves"+q, nil); r.status != 404 {
		t.Fatalf("valves of an unknown pipeline: %d", r.status)
	}

	// Wrong connections, wrong callers.
	for _, c := range []struct {
		path   string
		status int
		detail string
	}{
		{"/api/v1/pipelines", 400, "connection_id is required"},
		{"/api/v1/pipelines?connection_id=nope", 404, "no connection"},
		{"/api/v1/pipelines?connection_id=builtin", 400, "an Ollama API"},
		{"/api/v1/pipelines?connection_id=" + notPipes, 400, "not a Pipelines server"},
		{"/api/v1/pipelines?connection_id=" + wrongKey, 502, "Invalid API key"},
	} {
		if r := A.do("GET", c.path, nil); r.status != c.status || !strings.Contains(r.detail(), c.detail) {
			t.Errorf("GET %s: %d %s; want %d with %q", c.path, r.status, r.body, c.status, c.detail)
		}
	}
	bobTok, _ := signup(t, newClient(t, A.base), "bob@example.com")
	bob := A.as(bobTok)
	bobID := A.must(200, "GET", "/api/v1/users", nil)["users"].([]any)[1].(map[string]any)["id"].(string)
	A.must(200, "POST", "/api/v1/users/"+bobID+"/role", map[string]string{"role": "user"})
	for _, c := range [][2]string{{"GET", "/api/v1/pipelines/list"}, {"GET", "/api/v1/pipelines" + q},
		{"POST", "/api/v1/pipelines/reload" + q}, {"DELETE", "/api/v1/pipelines/f_early" + q},
		{"GET", "/api/v1/pipelines/f_early/valves/spec" + q}} {
		if r := bob.do(c[0], c[1], nil); r.status != 403 {
			t.Errorf("a user's %s %s: %d", c[0], c[1], r.status)
		}
	}
	if f.a.reloads != 1 || list()["f_early"] == nil {
		t.Fatal("a user's call reached the server")
	}
}

// A Pipelines server nobody has listed yet (a client that goes straight to a completion) is asked before
// the completion, so its filters are not skipped.
func TestStandInPipelinesUnlisted(t *testing.T) {
	f := newPipelinesFixture(t)
	r := f.A.do("POST", "/api/v1/chat/completions", map[string]any{"model": "stories260K:latest", "connection_id": "builtin",
		"messages": []map[string]string{{"role": "user", "content": "forbidden"}}})
	if r.status != 400 || r.detail() != "Blocked: ada@example.com may not say that" {
		t.Fatalf("first completion, servers not listed: %d %s", r.status, r.body)
	}
	if len(f.engine.seen()) != 0 {
		t.Fatal("the refused request reached the engine")
	}
	for _, c := range f.A.must(200, "GET", "/api/v1/connections", nil)["connections"].([]any) {
		c := c.(map[string]any)
		if want := c["id"] == f.connA || c["id"] == f.connB; c["pipelines"] != want {
			t.Errorf("connection %v: pipelines %v after the probe, want %v", c["id"], c["pipelines"], want)
		}
	}
}
