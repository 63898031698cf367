package pipelines

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a settable clock for time.time().
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func chatBody(model string, msgs ...string) map[string]any {
	var list []any
	for i, m := range msgs {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		list = append(list, map[string]any{"role": role, "content": m})
	}
	return map[string]any{"model": model, "messages": list}
}

func lastContent(t *testing.T, data []byte, role string) any {
	t.Helper()
	var out struct {
		Messages []map[string]any `json:"messages"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	for i := len(out.Messages) - 1; i >= 0; i-- {
		if out.Messages[i]["role"] == role {
			return out.Messages[i]["content"]
		}
	}
	t.Fatalf("no %s message in %s", role, data)
	return nil
}

func TestExamplesAllLoad(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("..", "..", "examples", "pipelines"))
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string]string{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".star") {
			scripts[strings.TrimSuffix(e.Name(), ".star")] = readExample(t, e.Name())
		}
	}
	if len(scripts) < 5 {
		t.Fatalf("only %d examples", len(scripts))
	}
	f := newFixture(t, "", Options{}, scripts) // fails on any load error
	for _, p := range f.m.List() {
		if p.Name == p.ID || p.Description == "" {
			t.Errorf("example %s has no name or description in its header", p.ID)
		}
	}
}

func TestExampleRateLimit(t *testing.T) {
	clock := &testClock{t: time.Unix(1_700_000_000, 0)}
	f := newFixture(t, "", Options{Now: clock.now}, map[string]string{"rate_limit": readExample(t, "rate_limit.star")})
	f.ok("POST", "/rate_limit/valves/update", map[string]any{"requests_per_minute": 3, "requests_per_hour": 5})
	body := chatBody("llama3", "hello")
	u1 := map[string]any{"id": "u1", "role": "user"}
	u2 := map[string]any{"id": "u2", "role": "user"}
	admin := map[string]any{"id": "boss", "role": "admin"}
	pass := func(user map[string]any) {
		t.Helper()
		if status, data := f.inlet("rate_limit", body, user); status != 200 || !strings.Contains(string(data), `"hello"`) {
			t.Fatalf("%v should pass: %d %s", user["id"], status, data)
		}
	}
	block := func(user map[string]any, want string) {
		t.Helper()
		status, data := f.inlet("rate_limit", body, user)
		var d struct{ Detail string }
		json.Unmarshal(data, &d)
		if status != 400 || d.Detail != want {
			t.Fatalf("%v should be blocked with %q: %d %s", user["id"], want, status, data)
		}
	}
	perMinute := "Rate limit exceeded: at most 3 requests per minute. Please try again later."
	perHour := "Rate limit exceeded: at most 5 requests per hour. Please try again later."
	for i := 0; i < 3; i++ {
		pass(u1)
		clock.advance(time.Second)
	}
	block(u1, perMinute)
	pass(u2) // other users have their own count
	for i := 0; i < 10; i++ {
		pass(admin) // exempt role
	}
	clock.advance(61 * time.Second)
	pass(u1) // 4 this hour
	pass(u1) // 5 this hour
	block(u1, perHour)
	clock.advance(time.Hour)
	pass(u1)
	// Setting the limit to 0 lifts it.
	f.ok("POST", "/rate_limit/valves/update", map[string]any{"requests_per_minute": 0, "requests_per_hour": 0})
	for i := 0; i < 10; i++ {
		pass(u2)
	}
}

func TestExampleRedact(t *testing.T) {
	f := newFixture(t, "", Options{}, map[string]string{"redact": readExample(t, "redact.star")})
	f.ok("POST", "/redact/valves/update", map[string]any{"words": []string{"secret", "Project Falcon"}})
	in := "Mail me at jane.doe+work@example.co.uk or call 555-123-4567, +1 415 555 2671, 06 12 34 56 78 or (415) 555-2671. " +
		"The SECRET plan for project falcon starts on 2024-01-31 (31.01.2024) at 10:30; version 1.2.3; secretary stays."
	want := "Mail me at [REDACTED] or call [REDACTED], [REDACTED], [REDACTED] or [REDACTED]. " +
		"The [REDACTED] plan for [REDACTED] starts on 2024-01-31 (31.01.2024) at 10:30; version 1.2.3; secretary stays."
	body := chatBody("llama3", "earlier: bob@example.com", "I will not repeat bob@example.com", in)
	status, data := f.inlet("redact", body, map[string]any{"id": "u"})
	if status != 200 {
		t.Fatalf("%d %s", status, data)
	}
	if got := lastContent(t, data, "user"); got != want {
		t.Fatalf("redacted:\n got %q\nwant %q", got, want)
	}
	if !strings.Contains(string(data), `"earlier: [REDACTED]"`) {
		t.Fatalf("earlier user messages are not redacted: %s", data)
	}
	if got := lastContent(t, data, "assistant"); got != "I will not repeat bob@example.com" {
		t.Fatalf("the inlet changed an answer: %q", got)
	}
	// Multimodal content: text parts are redacted, images kept.
	mm := map[string]any{"model": "m", "messages": []any{map[string]any{"role": "user", "content": []any{
		map[string]any{"type": "text", "text": "write to a@b.io"},
		map[string]any{"type": "image_url", "image_url": map[string]any{"url": "data:image/png;base64,AAAA"}},
	}}}}
	_, data = f.inlet("redact", mm, nil)
	if !strings.Contains(string(data), `"text":"write to [REDACTED]"`) || !strings.Contains(string(data), "base64,AAAA") {
		t.Fatalf("multimodal: %s", data)
	}
	// Answers only with redact_answers, and with the chosen replacement.
	out := map[string]any{"body": chatBody("m", "q", "reach me at x@y.org")}
	status, data = f.do("POST", "/redact/filter/outlet", out)
	if status != 200 || lastContent(t, data, "assistant") != "reach me at x@y.org" {
		t.Fatalf("outlet without redact_answers: %s", data)
	}
	f.ok("POST", "/redact/valves/update", map[string]any{"redact_answers": true, "replacement": "***", "redact_phones": false})
	_, data = f.do("POST", "/redact/filter/outlet", out)
	if lastContent(t, data, "assistant") != "reach me at ***" {
		t.Fatalf("outlet with redact_answers: %s", data)
	}
	_, data = f.inlet("redact", chatBody("m", "call 555-123-4567"), nil)
	if lastContent(t, data, "user") != "call 555-123-4567" {
		t.Fatalf("redact_phones off: %s", data)
	}
}

func TestExampleTurnLimit(t *testing.T) {
	f := newFixture(t, "", Options{}, map[string]string{"turn_limit": readExample(t, "turn_limit.star")})
	f.ok("POST", "/turn_limit/valves/update", map[string]any{"max_turns": 2})
	user := map[string]any{"id": "u", "role": "user"}
	if status, data := f.inlet("turn_limit", chatBody("m", "1", "a", "2"), user); status != 200 {
		t.Fatalf("two turns: %d %s", status, data)
	}
	status, data := f.inlet("turn_limit", chatBody("m", "1", "a", "2", "b", "3"), user)
	if status != 400 || !strings.Contains(string(data), "Conversation turn limit exceeded: at most 2 messages per conversation") {
		t.Fatalf("three turns: %d %s", status, data)
	}
	if status, data := f.inlet("turn_limit", chatBody("m", "1", "a", "2", "b", "3"), map[string]any{"id": "a", "role": "admin"}); status != 200 {
		t.Fatalf("admin: %d %s", status, data)
	}
}

// fakeTranslator answers translation requests with LANG(text), taking
// the language from the system prompt.
func fakeTranslator(req map[string]any) string {
	msgs := req["messages"].([]any)
	sys := msgs[0].(map[string]any)["content"].(string)
	text := msgs[len(msgs)-1].(map[string]any)["content"].(string)
	lang := strings.TrimSuffix(strings.TrimPrefix(sys, "Translate the following text to "), ". Answer with the translation only.")
	return strings.ToUpper(lang[:2]) + "(" + text + ")"
}

func TestExampleTranslate(t *testing.T) {
	golem := newFakeOpenAI(t, "golem-key", []string{"llama3"}, fakeTranslator)
	f := newFixture(t, "", Options{ModelsURL: golem.base(), ModelsAPIKey: "golem-key"},
		map[string]string{"translate": readExample(t, "translate.star")})
	status, data := f.inlet("translate", chatBody("llama3", "hola", "EN-ANSWER", "¿qué tal?"), map[string]any{"id": "u"})
	if status != 200 {
		t.Fatalf("%d %s", status, data)
	}
	if got := lastContent(t, data, "user"); got != "EN(¿qué tal?)" {
		t.Fatalf("inlet: %q", got)
	}
	reqs := golem.reqs()
	if len(reqs) != 1 || reqs[0]["model"] != "llama3" || reqs[0]["stream"] != false {
		t.Fatalf("translation request: %v", reqs)
	}
	status, data = f.do("POST", "/translate/filter/outlet", map[string]any{"body": chatBody("llama3", "EN(¿qué tal?)", "Fine, thanks")})
	if status != 200 || lastContent(t, data, "assistant") != "SP(Fine, thanks)" {
		t.Fatalf("outlet: %d %s", status, data)
	}
	// Title generation passes untouched.
	title := chatBody("llama3", "q", "a")
	title["title"] = true
	_, data = f.do("POST", "/translate/filter/outlet", map[string]any{"body": title})
	if lastContent(t, data, "assistant") != "a" {
		t.Fatalf("title: %s", data)
	}
	// Another translation model, and another target language.
	f.ok("POST", "/translate/valves/update", map[string]any{"model": "translator", "user_language": "German"})
	_, data = f.do("POST", "/translate/filter/outlet", map[string]any{"body": chatBody("llama3", "x", "Good")})
	if lastContent(t, data, "assistant") != "GE(Good)" {
		t.Fatalf("German: %s", data)
	}
	reqs = golem.reqs()
	if reqs[len(reqs)-1]["model"] != "translator" {
		t.Fatalf("translation model: %v", reqs[len(reqs)-1])
	}
	for _, a := range golem.auth {
		if a != "Bearer golem-key" {
			t.Fatalf("models API key not sent: %q", a)
		}
	}
	// A translation URL off the allow-list is refused, and the request
	// fails rather than reaching the model untranslated.
	f.ok("POST", "/translate/valves/update", map[string]any{"url": "http://elsewhere.example/v1"})
	status, data = f.inlet("translate", chatBody("llama3", "hola"), nil)
	if status != 500 || !strings.Contains(string(data), "not on the pipelines allow-list") {
		t.Fatalf("off-list URL: %d %s", status, data)
	}
}

func TestExampleManifold(t *testing.T) {
	remote := newFakeOpenAI(t, "remote-key", []string{"m1", "m2-large"}, func(req map[string]any) string {
		msgs := req["messages"].([]any)
		return "remote " + req["model"].(string) + " says hi to " + msgs[len(msgs)-1].(map[string]any)["content"].(string)
	})
	f := newFixture(t, "", Options{ModelsURL: "http://127.0.0.1:1/v1", AllowHosts: []string{remote.host()}},
		map[string]string{"openai_manifold": readExample(t, "openai_manifold.star")})
	models := func() []string {
		var ids []string
		for _, m := range f.ok("GET", "/v1/models", nil)["data"].([]any) {
			m := m.(map[string]any)
			ids = append(ids, m["id"].(string)+"="+m["name"].(string))
		}
		return ids
	}
	// Default URL (api.openai.com) is not on the allow-list: no models, no crash.
	if got := models(); len(got) != 0 {
		t.Fatalf("models before configuring: %v", got)
	}
	f.ok("POST", "/openai_manifold/valves/update", map[string]any{"url": remote.base(), "api_key": "remote-key"})
	if got := strings.Join(models(), " "); got != "openai_manifold.m1=Remote: m1 openai_manifold.m2-large=Remote: m2-large" {
		t.Fatalf("models: %s", got)
	}
	f.ok("POST", "/openai_manifold/valves/update", map[string]any{"name_filter": "large"})
	if got := strings.Join(models(), " "); got != "openai_manifold.m2-large=Remote: m2-large" {
		t.Fatalf("filtered models: %s", got)
	}

	msgs := []any{map[string]any{"role": "user", "content": "Ann"}}
	got := f.ok("POST", "/v1/chat/completions", map[string]any{"model": "openai_manifold.m1", "stream": false, "temperature": 0.2,
		"messages": msgs, "user": map[string]any{"id": "u"}})
	if got["object"] != "chat.completion" || got["usage"] == nil ||
		got["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"] != "remote m1 says hi to Ann" {
		t.Fatalf("non-streaming: %v", got)
	}
	req := remote.reqs()[0]
	if req["model"] != "m1" || req["temperature"] != 0.2 || req["user"] != nil {
		t.Fatalf("request the remote got: %v", req)
	}
	status, data := f.do("POST", "/v1/chat/completions", map[string]any{"model": "openai_manifold.m2-large", "stream": true, "messages": msgs})
	if status != 200 {
		t.Fatalf("%d %s", status, data)
	}
	if text := streamText(t, data); text != "remote m2-large says hi to Ann" {
		t.Fatalf("streamed: %q", text)
	}
	if n := len(sseEvents(t, data)); n < 7 {
		t.Fatalf("the remote's chunks were not forwarded one by one: %d events", n)
	}
	// A wrong key: the remote's error reaches the client.
	f.ok("POST", "/openai_manifold/valves/update", map[string]any{"api_key": "nope"})
	if d := f.detail(500, "POST", "/v1/chat/completions", map[string]any{"model": "openai_manifold.m1", "stream": false, "messages": msgs}); !strings.Contains(d, "401") || !strings.Contains(d, "bad key") {
		t.Fatalf("wrong key: %s", d)
	}
}

// The example in examples/pipelines/README.md works as written.
func TestReadmeExample(t *testing.T) {
	readme := readExample(t, "README.md")
	start := strings.Index(readme, "```python\n")
	end := strings.Index(readme[start+1:], "\n```")
	if start < 0 || end < 0 {
		t.Fatal("no python block in the README")
	}
	src := readme[start+len("```python\n") : start+1+end+1]
	f := newFixture(t, "", Options{}, map[string]string{"shout": src})
	_, data := f.inlet("shout", chatBody("m", "hello", "ok", "again"), nil)
	if lastContent(t, data, "user") != "AGAIN" || !strings.Contains(string(data), `"HELLO"`) || lastContent(t, data, "assistant") != "ok" {
		t.Fatalf("README example: %s", data)
	}
	f.ok("POST", "/shout/valves/update", map[string]any{"enabled": false})
	_, data = f.inlet("shout", chatBody("m", "hello"), nil)
	if lastContent(t, data, "user") != "hello" {
		t.Fatalf("README example disabled: %s", data)
	}
	// What the README says Starlark lacks, it lacks.
	if _, err := f.m.load(context.Background(), "pow", []byte("x = 2 ** 3\n")); err == nil {
		t.Fatal("** parsed")
	}
}
