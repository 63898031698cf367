package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	oapi "github.com/ollama/ollama/api"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/testutil"
)

// withChatTemplate writes a copy of a GGUF file whose
// tokenizer.chat_template is tmpl.
func withChatTemplate(t *testing.T, src, tmpl string) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kvs []gguf.KV
	for _, kv := range f.KVs {
		if kv.Key != "tokenizer.chat_template" {
			kvs = append(kvs, kv)
		}
	}
	kvs = append(kvs, gguf.KV{Key: "tokenizer.chat_template", Value: tmpl})
	var ts []gguf.WriteTensor
	for _, ti := range f.Tensors {
		ts = append(ts, gguf.WriteTensor{Name: ti.Name, Dims: ti.Dims, Type: ti.Type, Data: ti.Data})
	}
	out := filepath.Join(t.TempDir(), "with-template.gguf")
	if err := gguf.WriteFile(out, kvs, ts); err != nil {
		t.Fatal(err)
	}
	return out
}

func jinjaTemplate(t *testing.T, name string) string {
	b, err := os.ReadFile(testutil.Shared(t, "testdata", "templates", "jinja", name+".jinja"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestThinking uses a GGUF whose Jinja chat template (QwQ) opens the
// thinking block in the prompt: the answer streams as "thinking" when
// think is on (the default for a thinking model) and as content when it is
// off, and a model without thinking refuses think.
func TestThinking(t *testing.T) {
	ts := newTestServer(t, nil)
	path := withChatTemplate(t, modelFile(t, "synthetic", "syn-qwen2-256-Q8_0.gguf"), jinjaTemplate(t, "Qwen-QwQ-32B"))
	ts.create(t, "qwq", path)
	c := ts.ollama(t, "")
	ctx := context.Background()
	f := false
	msgs := []oapi.Message{{Role: "user", Content: "Why is the sky blue?"}}
	var rendered string
	if err := c.Chat(ctx, &oapi.ChatRequest{Model: "qwq", Messages: msgs, DebugRenderOnly: true, Stream: &f},
		func(r oapi.ChatResponse) error { rendered = r.DebugInfo.RenderedTemplate; return nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(rendered, "<|im_start|>assistant\n<think>\n") || !strings.Contains(rendered, "Why is the sky blue?") {
		t.Fatalf("rendered QwQ prompt: %q", rendered)
	}
	show, err := c.Show(ctx, &oapi.ShowRequest{Model: "qwq"})
	if err != nil {
		t.Fatal(err)
	}
	if !contains(capsOf(show), "thinking") {
		t.Fatalf("capabilities %v lack thinking", show.Capabilities)
	}
	const n = 12
	want, _ := soloGreedy(t, path, tokenize(t, path, rendered), n)
	want = wire(want)
	if strings.Contains(want, "</think>") {
		t.Fatalf("the reference output closes the thinking block; pick another prompt: %q", want)
	}
	opts := map[string]any{"temperature": 0, "num_predict": n}
	var thinking, content strings.Builder
	if err := c.Chat(ctx, &oapi.ChatRequest{Model: "qwq", Messages: msgs, Options: opts}, func(r oapi.ChatResponse) error {
		thinking.WriteString(r.Message.Thinking)
		content.WriteString(r.Message.Content)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if thinking.String() != want || content.Len() != 0 {
		t.Fatalf("think on: thinking %q content %q; want thinking %q", thinking.String(), content.String(), want)
	}
	var r oapi.ChatResponse
	if err := c.Chat(ctx, &oapi.ChatRequest{Model: "qwq", Messages: msgs, Options: opts, Stream: &f, Think: &oapi.ThinkValue{Value: false}},
		func(cr oapi.ChatResponse) error { r = cr; return nil }); err != nil {
		t.Fatal(err)
	}
	if r.Message.Content != want || r.Message.Thinking != "" {
		t.Fatalf("think off: content %q thinking %q; want content %q", r.Message.Content, r.Message.Thinking, want)
	}
}

func capsOf(s *oapi.ShowResponse) []string {
	var out []string
	for _, c := range s.Capabilities {
		out = append(out, string(c))
	}
	return out
}

// TestToolsTemplate: a model whose Jinja template takes tools accepts
// them, renders them into the prompt, and its output parser turns the
// model's <tool_call> syntax into tool calls, however the text is split.
func TestToolsTemplate(t *testing.T) {
	ts := newTestServer(t, nil)
	path := withChatTemplate(t, modelFile(t, "synthetic", "syn-qwen2-256-Q8_0.gguf"), jinjaTemplate(t, "Qwen-Qwen2.5-7B-Instruct"))
	ts.create(t, "qwen25", path)
	body := `{"model": "qwen25", "stream": false, "_debug_render_only": true,
		"messages": [{"role": "user", "content": "Weather in Paris?"}],
		"tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
			"parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]}`
	status, b := ts.do(t, "POST", "/api/chat", body)
	var dr oapi.ChatResponse
	if status != 200 || json.Unmarshal(b, &dr) != nil || dr.DebugInfo == nil ||
		!strings.Contains(dr.DebugInfo.RenderedTemplate, "<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"") {
		t.Fatalf("render with tools: %d %s", status, b)
	}
	// A real (non-debug) request with tools runs.
	status, b = ts.do(t, "POST", "/api/chat", strings.Replace(body, `"_debug_render_only": true`, `"options": {"num_predict": 4}`, 1))
	if status != 200 {
		t.Fatalf("chat with tools: %d %s", status, b)
	}

	l := &loaded{}
	var err error
	if l.tmpl, err = chooseTemplate("", "", jinjaTemplate(t, "Qwen-Qwen2.5-7B-Instruct")); err != nil {
		t.Fatal(err)
	}
	tools := []api.Tool{{Type: "function", Function: api.ToolFunction{Name: "get_weather"}}}
	out := "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>"
	for split := 1; split < len(out); split += 7 {
		p := newOutputParser(l.tmpl, "", false, tools, false)
		var calls []api.ToolCall
		var content string
		for i := 0; i < len(out); i += split {
			cc, _, tc := p.add(out[i:min(i+split, len(out))], false)
			content += cc
			calls = append(calls, tc...)
		}
		cc, _, tc := p.add("", true)
		content += cc
		calls = append(calls, tc...)
		if len(calls) != 1 || calls[0].Function.Name != "get_weather" || calls[0].Function.Arguments.String() != `{"city":"Paris","days":2}` ||
			strings.TrimSpace(content) != "" {
			t.Fatalf("split %d: calls %+v content %q", split, calls, content)
		}
	}
	// A call of an unknown function stays content.
	p := newOutputParser(l.tmpl, "", false, tools, false)
	cc, _, tc := p.add(`<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>`, true)
	if len(tc) != 0 || !strings.Contains(cc, "rm_rf") {
		t.Fatalf("unknown tool: calls %+v content %q", tc, cc)
	}
}

// TestLogprobs: logprobs and top_logprobs in Ollama's shape; under greedy
// decoding the chosen token is the most likely one.
func TestLogprobs(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	c := ts.ollama(t, "")
	var lps []oapi.Logprob
	var text strings.Builder
	err := c.Generate(context.Background(), &oapi.GenerateRequest{Model: "stories", Prompt: "Once upon a time", Raw: true,
		Logprobs: true, TopLogprobs: 3, Options: map[string]any{"temperature": 0, "num_predict": 16}},
		func(r oapi.GenerateResponse) error {
			lps = append(lps, r.Logprobs...)
			text.WriteString(r.Response)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(lps) != 16 {
		t.Fatalf("%d logprobs for 16 tokens", len(lps))
	}
	var joined strings.Builder
	for i, lp := range lps {
		joined.WriteString(lp.Token)
		if len(lp.TopLogprobs) != 3 || lp.Logprob > 0 || len(lp.Bytes) != len(lp.Token) {
			t.Fatalf("token %d: %+v", i, lp)
		}
		if lp.TopLogprobs[0].Token != lp.Token || lp.TopLogprobs[0].Logprob != lp.Logprob {
			t.Fatalf("token %d: greedy choice %q is not the top alternative %+v", i, lp.Token, lp.TopLogprobs)
		}
		for k := 1; k < 3; k++ {
			if lp.TopLogprobs[k].Logprob > lp.TopLogprobs[k-1].Logprob {
				t.Fatalf("token %d: top_logprobs not in order: %+v", i, lp.TopLogprobs)
			}
		}
	}
	if joined.String() != text.String() {
		t.Fatalf("logprob tokens %q differ from the text %q", joined.String(), text.String())
	}
}
