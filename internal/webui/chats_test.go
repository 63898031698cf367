package webui

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/db/dbtest"
)

func eventNames(evs []sseEvent) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.name)
	}
	return strings.Join(s, ",")
}

func deltas(evs []sseEvent) string {
	var b strings.Builder
	for _, e := range evs {
		if e.name == "delta" {
			b.WriteString(e.data["content"].(string))
		}
	}
	return b.String()
}

func msgOf(e sseEvent, key string) map[string]any {
	m, _ := e.data[key].(map[string]any)
	return m
}

// chatState fetches a chat and indexes its messages.
func chatState(t *testing.T, c *client, id string) (map[string]any, map[string]map[string]any) {
	t.Helper()
	chat := c.must(200, "GET", "/api/v1/chats/"+id, nil)
	by := map[string]map[string]any{}
	for _, m := range chat["messages"].([]any) {
		m := m.(map[string]any)
		by[m["id"].(string)] = m
	}
	return chat, by
}

func turnsText(ts []turn) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Role+":"+t.Content)
	}
	return strings.Join(s, " | ")
}

func TestChatTreeAndHistory(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL, dir string) {
		engine := newFakeOllama("stories260K:latest")
		srv, _ := uiServer(t, Config{DatabaseURL: dbURL, DataDir: dir, Engine: engine})
		c := newClient(t, srv.URL)
		tok, _ := signup(t, c, "ada@example.com")
		A := c.as(tok)

		chat := A.must(201, "POST", "/api/v1/chats", map[string]any{"system": "Be brief.", "params": map[string]any{"temperature": 0, "seed": 42}})
		id := chat["id"].(string)
		if chat["title"] != "New chat" || chat["current_id"] != nil {
			t.Fatalf("new chat %v", chat)
		}

		// Send the first message.
		evs := A.complete(id, map[string]any{"parent_id": nil, "content": "Why is the sky blue?", "model": "stories260K:latest"})
		if got := eventNames(evs); got != "start,delta,delta,delta,done,title" {
			t.Fatalf("events %s", got)
		}
		if got := deltas(evs); got != "You said: Why is the sky blue?" {
			t.Fatalf("streamed %q", got)
		}
		u1, a1 := msgOf(evs[0], "user_message"), msgOf(evs[0], "assistant_message")
		done := msgOf(evs[4], "message")
		if u1["parent_id"] != nil || a1["parent_id"] != u1["id"] || a1["done"] != false || done["id"] != a1["id"] ||
			done["content"] != "You said: Why is the sky blue?" || done["done"] != true || done["connection_id"] != "builtin" {
			t.Fatalf("start %v / done %v", evs[0].data, done)
		}
		if usage := done["usage"].(map[string]any); usage["completion_tokens"] != 3.0 || usage["prompt_tokens"] != 7.0 {
			t.Fatalf("usage %v", usage)
		}
		if evs[5].data["title"] != "Sky Colour Talk" {
			t.Fatalf("title %v: want the model's first line, cleaned", evs[5].data)
		}
		seen := engine.seen()
		first := seen[0]
		if turnsText(first.Messages) != "system:Be brief. | user:Why is the sky blue?" || first.Options["seed"] != 42.0 || first.Options["temperature"] != 0.0 {
			t.Fatalf("model was sent %+v", first)
		}
		if len(seen) != 2 || !strings.HasPrefix(seen[1].Messages[0].Content, "Write a short title") {
			t.Fatalf("no title request: %+v", seen)
		}

		// Follow-up, regenerate (sibling answer), edit (sibling question = new branch).
		evs = A.complete(id, map[string]any{"parent_id": a1["id"], "content": "And at sunset?"})
		u2, a2 := msgOf(evs[0], "user_message"), msgOf(evs[0], "assistant_message")
		if eventNames(evs) != "start,delta,delta,delta,done" {
			t.Fatalf("second turn events %s (no second title)", eventNames(evs))
		}
		if got := turnsText(engine.seen()[2].Messages); got != "system:Be brief. | user:Why is the sky blue? | assistant:You said: Why is the sky blue? | user:And at sunset?" {
			t.Fatalf("follow-up context %q", got)
		}
		evs = A.complete(id, map[string]any{"parent_id": u2["id"]})
		a2b := msgOf(evs[0], "assistant_message")
		if msgOf(evs[0], "user_message") != nil || a2b["parent_id"] != u2["id"] || evs[0].data["user_message"] != nil {
			t.Fatalf("regenerate start %v", evs[0].data)
		}
		if got := turnsText(engine.seen()[3].Messages); !strings.HasSuffix(got, "user:And at sunset?") || strings.Count(got, "And at sunset?") != 1 {
			t.Fatalf("regenerate context %q", got)
		}
		evs = A.complete(id, map[string]any{"parent_id": a1["id"], "content": "And at night?"})
		u2e, a2e := msgOf(evs[0], "user_message"), msgOf(evs[0], "assistant_message")
		if got := turnsText(engine.seen()[4].Messages); strings.Contains(got, "sunset") || !strings.HasSuffix(got, "user:And at night?") {
			t.Fatalf("edited branch context %q", got)
		}

		ch, by := chatState(t, A, id)
		if len(by) != 7 || ch["current_id"] != a2e["id"] || ch["model"] != "stories260K:latest" || ch["connection_id"] != "builtin" {
			t.Fatalf("chat %v with %d messages", ch, len(by))
		}
		kids := by[a1["id"].(string)]["children_ids"].([]any)
		if len(kids) != 2 || kids[0] != u2["id"] || kids[1] != u2e["id"] {
			t.Fatalf("branches under the first answer %v", kids)
		}
		if k := by[u2["id"].(string)]["children_ids"].([]any); len(k) != 2 || k[0] != a2["id"] || k[1] != a2b["id"] {
			t.Fatalf("regenerated answers %v", k)
		}

		// Switch back to the first branch; the next message continues there.
		A.must(200, "PATCH", "/api/v1/chats/"+id, map[string]any{"current_id": a2b["id"]})
		if r := A.do("PATCH", "/api/v1/chats/"+id, map[string]any{"current_id": "nope"}); r.status != 400 {
			t.Fatalf("current_id of another chat: %d", r.status)
		}
		if ch, _ := chatState(t, A, id); ch["current_id"] != a2b["id"] {
			t.Fatalf("current_id after a refused patch: %v", ch["current_id"])
		}

		// Bad completions write nothing.
		for _, bad := range []struct {
			body   any
			status int
		}{
			{map[string]any{"parent_id": a1["id"]}, 400},                                       // regenerate under an answer
			{map[string]any{"parent_id": "nope", "content": "x"}, 400},                         // unknown parent
			{map[string]any{"content": "   "}, 400},                                            // empty
			{map[string]any{"content": "x", "model": "nope:latest", "connection_id": ""}, 404}, // unknown model
			{map[string]any{"content": "x", "connection_id": "nope"}, 404},                     // unknown connection
			{`{"content": `, 400},
		} {
			r := A.do("POST", "/api/v1/chats/"+id+"/completions", bad.body)
			if r.status != bad.status {
				t.Errorf("completion %v: %d %s, want %d", bad.body, r.status, r.body, bad.status)
			}
		}
		if _, by := chatState(t, A, id); len(by) != 7 {
			t.Fatalf("%d messages after refused completions, want 7", len(by))
		}

		// Model errors are stored on the answer and reported.
		engine.mu.Lock()
		engine.models = append(engine.models, "gone:latest")
		engine.mu.Unlock()
		A.must(200, "PATCH", "/api/v1/chats/"+id, map[string]any{"model": "gone:latest", "connection_id": "builtin"})
		engine.mu.Lock()
		engine.models = engine.models[:1]
		engine.mu.Unlock()
		evs = A.complete(id, map[string]any{"parent_id": a2b["id"], "content": "hello?"})
		if eventNames(evs) != "start,error" || !strings.Contains(evs[1].data["detail"].(string), "not found") {
			t.Fatalf("model error events %v", evs)
		}
		if _, by := chatState(t, A, id); !strings.Contains(by[msgOf(evs[0], "assistant_message")["id"].(string)]["error"].(string), "not found") {
			t.Fatal("error not stored on the answer")
		}

		// History: list, search (title and text), rename, export, delete; other users see none of it.
		other := A.must(201, "POST", "/api/v1/chats", map[string]any{"title": "Cooking 100% rice_fast"})
		list := A.must(200, "GET", "/api/v1/chats", nil)["chats"].([]any)
		if len(list) != 2 || list[0].(map[string]any)["id"] != other["id"] {
			t.Fatalf("list %v: want newest first", list)
		}
		for q, want := range map[string]int{"SUNSET": 1, "colour": 1, "100%": 1, "_f": 1, "0%r": 0, "%": 1, "zzz": 0} {
			got := A.must(200, "GET", "/api/v1/chats?q="+strings.ReplaceAll(q, "%", "%25"), nil)["chats"].([]any)
			if len(got) != want {
				t.Errorf("search %q: %d chats, want %d", q, len(got), want)
			}
		}
		A.must(200, "PATCH", "/api/v1/chats/"+id, map[string]any{"title": "Sky", "system": "Be kind.", "params": map[string]any{"top_k": 10}})
		for _, bad := range []map[string]any{{"params": map[string]any{"top_k": 1.5}}, {"params": map[string]any{"temperature": "hot"}},
			{"params": map[string]any{"bogus": 1}}, {"params": map[string]any{"stop": "x"}}, {"title": strings.Repeat("x", 201)}} {
			if r := A.do("PATCH", "/api/v1/chats/"+id, bad); r.status != 400 {
				t.Errorf("patch %v: %d", bad, r.status)
			}
		}
		r := A.do("GET", "/api/v1/chats/"+id+"/export?format=markdown", nil)
		md := string(r.body)
		if r.status != 200 || !strings.Contains(r.header.Get("Content-Disposition"), `filename="Sky.md"`) ||
			!strings.HasPrefix(md, "# Sky\n\n### System\n\nBe kind.\n\n### User\n\nWhy is the sky blue?\n\n### Assistant (stories260K:latest)\n\nYou said: Why is the sky blue?\n\n### User\n\nAnd at sunset?") ||
			strings.Contains(md, "night") {
			t.Fatalf("markdown export %d %q", r.status, md)
		}
		r = A.do("GET", "/api/v1/chats/"+id+"/export?format=json", nil)
		var exp chatWithMessages
		if err := json.Unmarshal(r.body, &exp); err != nil || len(exp.Messages) != 9 || exp.Title != "Sky" ||
			!strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("json export: %v %d messages", err, len(exp.Messages))
		}
		if r := A.do("GET", "/api/v1/chats/"+id+"/export?format=pdf", nil); r.status != 400 {
			t.Fatalf("pdf export: %d", r.status)
		}

		btok, bob := signup(t, c, "bob@example.com")
		A.must(200, "POST", "/api/v1/users/"+bob["id"].(string)+"/role", map[string]string{"role": "user"})
		B := c.as(btok)
		if n := len(B.must(200, "GET", "/api/v1/chats", nil)["chats"].([]any)); n != 0 {
			t.Fatalf("bob sees %d of ada's chats", n)
		}
		for _, m := range []string{"GET", "DELETE"} {
			if r := B.do(m, "/api/v1/chats/"+id, nil); r.status != 404 {
				t.Errorf("bob %s ada's chat: %d", m, r.status)
			}
		}
		if r := B.do("POST", "/api/v1/chats/"+id+"/completions", map[string]any{"content": "hi"}); r.status != 404 {
			t.Errorf("bob completes in ada's chat: %d", r.status)
		}
		A.must(200, "DELETE", "/api/v1/chats/"+id, nil)
		if r := A.do("GET", "/api/v1/chats/"+id, nil); r.status != 404 {
			t.Fatalf("deleted chat: %d", r.status)
		}
	})
}

// Stop: the browser aborts mid-answer; the partial answer is kept and marked stopped, and the model
// server's request ends too.
func TestStopKeepsPartialAnswer(t *testing.T) {
	engine := newFakeOllama("stories260K:latest")
	engine.gate = make(chan struct{}) // never opened: the answer stalls after its first piece
	A, h := admin(t, engine, nil)
	id := A.must(201, "POST", "/api/v1/chats", map[string]any{"model": "stories260K:latest", "connection_id": "builtin"})["id"].(string)
	ctx, cancel := context.WithCancel(context.Background())
	resp, evs := A.stream(ctx, "/api/v1/chats/"+id+"/completions", map[string]any{"content": "Tell me a story"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	start := <-evs
	first := <-evs
	if start.name != "start" || first.name != "delta" || first.data["content"] != "You " {
		t.Fatalf("first events %v %v", start, first)
	}
	cancel()
	for range evs {
	}
	aid := msgOf(start, "assistant_message")["id"].(string)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, by := chatState(t, A, id)
		m := by[aid]
		if m["done"] == true {
			if m["stopped"] != true || m["content"] != "You " || m["error"] != "" {
				t.Fatalf("stopped answer %v", m)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("answer never saved after stop: %v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ch, _ := chatState(t, A, id); ch["title"] != "New chat" {
		t.Fatalf("a stopped first answer made a title: %v", ch["title"])
	}
	_ = h
}

// Tokens reach the browser while the model is still generating: the engine holds its answer after the
// first piece until the test has received that piece through the UI.
func TestStreamingIsIncremental(t *testing.T) {
	for _, builtin := range []bool{true, false} {
		t.Run(fmt.Sprint("builtin=", builtin), func(t *testing.T) {
			A, engine, id, conn := latencySetup(t, builtin)
			engine.gate = make(chan struct{})
			// Both the start event and the first piece must arrive while the engine holds the rest (well
			// before the 15-second keep-alive would flush them).
			began := time.Now()
			timeout := time.After(5 * time.Second)
			_, evs := A.stream(context.Background(), "/api/v1/chats/"+id+"/completions",
				map[string]any{"content": "Go", "model": "stories260K:latest", "connection_id": conn})
			for _, want := range []string{"start", "delta"} {
				select {
				case ev := <-evs:
					if ev.name != want || want == "delta" && ev.data["content"] != "You " {
						t.Fatalf("event %v, want %s", ev, want)
					}
				case <-timeout:
					t.Fatalf("%s event did not arrive while the engine held the rest", want)
				}
			}
			if d := time.Since(began); d > 5*time.Second {
				t.Fatalf("first token took %v to reach the client", d)
			}
			close(engine.gate)
			var rest []sseEvent
			for ev := range evs {
				rest = append(rest, ev)
			}
			if eventNames(rest) != "delta,delta,done" {
				t.Fatalf("rest %s", eventNames(rest))
			}
		})
	}
}

func TestOpenAIConnectionAndAPIKeyCompletions(t *testing.T) {
	oa := &fakeOpenAI{key: "sk-upstream-key-1"}
	openai := httptest.NewServer(oa)
	defer openai.Close()
	engine := newFakeOllama("stories260K:latest")
	A, _ := admin(t, engine, map[string]string{"OPENAI_API_BASE_URL": openai.URL + "/v1", "OPENAI_API_KEY": "sk-upstream-key-1"})

	// A chat on the OpenAI connection, with parameters mapped to OpenAI's names.
	id := A.must(201, "POST", "/api/v1/chats", map[string]any{"params": map[string]any{"num_predict": 50, "top_k": 5, "temperature": 0.5}})["id"].(string)
	evs := A.complete(id, map[string]any{"content": "Hi", "model": "gpt-fake"})
	if deltas(evs) != "Hello from OpenAI" || eventNames(evs) != "start,delta,delta,delta,done,title" {
		t.Fatalf("OpenAI chat: %s %q", eventNames(evs), deltas(evs))
	}
	if u := msgOf(evs[4], "message")["usage"].(map[string]any); u["completion_tokens"] != 3.0 {
		t.Fatalf("usage %v", u)
	}
	oa.mu.Lock()
	body := oa.bodies[0]
	oa.mu.Unlock()
	if body["max_tokens"] != 50.0 || body["temperature"] != 0.5 || body["top_k"] != nil || body["stream"] != true {
		t.Fatalf("OpenAI request %v", body)
	}

	// The OpenAI-compatible endpoint with a personal API key, on both kinds of connection.
	key := A.must(200, "POST", "/api/v1/auths/api_key", nil)["api_key"].(string)
	K := A.as(key)
	for model, want := range map[string]string{"gpt-fake": "Hello from OpenAI", "stories260K:latest": "You said: ping"} {
		r := K.do("POST", "/api/v1/chat/completions", map[string]any{"model": model, "stream": true,
			"messages": []map[string]string{{"role": "user", "content": "ping"}}})
		var text strings.Builder
		for _, line := range strings.Split(string(r.body), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
				var ch openaiChunk
				json.Unmarshal([]byte(d), &ch)
				for _, c := range ch.Choices {
					text.WriteString(c.Delta.Content)
				}
			}
		}
		if r.status != 200 || text.String() != want {
			t.Errorf("%s via API key: %d %q", model, r.status, r.body)
		}
	}
	if r := K.do("POST", "/api/v1/chat/completions", map[string]any{"model": "gpt-fake"}); r.status != 400 {
		t.Fatalf("no messages: %d", r.status)
	}
	if r := A.as("sk-wrong").do("POST", "/api/v1/chat/completions", map[string]any{"model": "gpt-fake"}); r.status != 401 {
		t.Fatalf("wrong key: %d", r.status)
	}
}

// recordingFilters stands in for the Pipelines client: the inlet adds a system message, the outlet
// appends to the answer.
type recordingFilters struct {
	mu    sync.Mutex
	calls []string
}

func (f *recordingFilters) Inlet(ctx context.Context, call FilterCall) (map[string]any, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("inlet %s %s %d", call.Model, call.User.Email, len(call.Servers)))
	f.mu.Unlock()
	msgs := call.Body["messages"].([]turn)
	call.Body["messages"] = append([]turn{{Role: "system", Content: "filtered"}}, msgs...)
	return call.Body, nil
}

func (f *recordingFilters) Outlet(ctx context.Context, call FilterCall) (map[string]any, error) {
	f.mu.Lock()
	f.calls = append(f.calls, "outlet")
	f.mu.Unlock()
	msgs := call.Body["messages"].([]turn)
	msgs[len(msgs)-1].Content += " [checked]"
	return call.Body, nil
}

func TestPipelinesFilters(t *testing.T) {
	pipes := httptest.NewServer(&fakeOpenAI{pipelines: true})
	defer pipes.Close()
	engine := newFakeOllama("stories260K:latest")
	f := &recordingFilters{}
	srv, _ := uiServer(t, Config{DataDir: t.TempDir(), Engine: engine, Filters: f})
	c := newClient(t, srv.URL)
	tok, _ := signup(t, c, "ada@example.com")
	A := c.as(tok)
	id := A.must(201, "POST", "/api/v1/chats", map[string]any{"title": "t"})["id"].(string)

	// No Pipelines server among the connections: filters are not called.
	A.complete(id, map[string]any{"content": "one", "model": "stories260K:latest", "connection_id": "builtin"})
	if len(f.calls) != 0 {
		t.Fatalf("filters called without a Pipelines server: %v", f.calls)
	}
	A.must(201, "POST", "/api/v1/connections", map[string]string{"type": "openai", "url": pipes.URL})
	A.must(200, "GET", "/api/v1/models", nil) // learns that it is a Pipelines server
	evs := A.complete(id, map[string]any{"content": "two", "model": "stories260K:latest", "connection_id": "builtin"})
	if got := msgOf(evs[len(evs)-1], "message")["content"]; got != "You said: two [checked]" {
		t.Fatalf("answer after outlet %q", got)
	}
	if deltas(evs) != "You said: two" {
		t.Fatalf("streamed %q", deltas(evs))
	}
	seen := engine.seen()
	if got := seen[len(seen)-1].Messages[0]; got.Role != "system" || got.Content != "filtered" {
		t.Fatalf("inlet change did not reach the model: %+v", seen[len(seen)-1].Messages)
	}
	if strings.Join(f.calls, ";") != "inlet stories260K:latest ada@example.com 1;outlet" {
		t.Fatalf("filter calls %v", f.calls)
	}
	_, by := chatState(t, A, id)
	if by[msgOf(evs[0], "assistant_message")["id"].(string)]["content"] != "You said: two [checked]" {
		t.Fatal("stored answer is not the outlet's")
	}
}

func TestAssetsAndUnknownPaths(t *testing.T) {
	srv, _ := uiServer(t, Config{DataDir: t.TempDir()})
	c := newClient(t, srv.URL)
	for _, p := range []string{"/", "/c/123", "/admin/settings"} {
		r := c.do("GET", p, nil)
		if r.status != 200 || !strings.Contains(string(r.body), "<html") || r.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: %d %q", p, r.status, r.header)
		}
	}
	if r := c.do("GET", "/assets/missing-abc.js", nil); r.status != 404 {
		t.Errorf("missing asset: %d", r.status)
	}
	for _, p := range []string{"/api/tags", "/v1/models", "/api/v1/nope"} {
		r := c.do("GET", p, nil)
		if r.status != 404 || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s", p, r.status, r.header.Get("Content-Type"))
		}
	}
	if r := c.do("POST", "/", "{}"); r.status != 405 {
		t.Errorf("POST /: %d", r.status)
	}
}

// Every text file of the build goes gzipped to clients that accept it, and plain to others; both
// decode to the embedded bytes.
func TestAssetsGzip(t *testing.T) {
	srv, _ := uiServer(t, Config{DataDir: t.TempDir()})
	c := newClient(t, srv.URL)
	n := 0
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !compressible[path.Ext(p)] {
			return err
		}
		want, _ := dist.ReadFile(p)
		url := strings.TrimPrefix(p, "dist")
		for _, enc := range []string{"gzip, deflate, br", "identity", "gzip;q=0"} {
			req := c.req("GET", url, nil)
			req.Header.Set("Accept-Encoding", enc)
			r := c.send(req)
			body := r.body
			if r.header.Get("Content-Encoding") == "gzip" {
				if enc != "gzip, deflate, br" {
					t.Errorf("%s: gzip sent for Accept-Encoding %q", url, enc)
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("%s: %v", url, err)
				}
				body, _ = io.ReadAll(zr)
			} else if enc == "gzip, deflate, br" && len(want) > 1024 {
				t.Errorf("%s (%d bytes) not gzipped", url, len(want))
			}
			if r.status != 200 || !bytes.Equal(body, want) {
				t.Errorf("%s with %q: %d, %d bytes, want the %d embedded", url, enc, r.status, len(body), len(want))
			}
		}
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walked %d files: %v", n, err)
	}
}
