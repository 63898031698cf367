package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

func (ts *testServer) openai(key string) openai.Client {
	if key == "" {
		key = "unused"
	}
	return openai.NewClient(option.WithBaseURL(ts.url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func qwenServer(t *testing.T) (*testServer, string) {
	ts := newTestServer(t, nil)
	path := modelFile(t, "synthetic", "syn-qwen2-256-Q8_0.gguf")
	ts.create(t, "qwen", path, "TEMPLATE \"\"\""+chatMLTemplate(t)+"\"\"\"")
	return ts, path
}

// TestOpenAIChat drives /v1/chat/completions with the official SDK: the
// greedy answer equals the engine's solo run on the ChatML prompt,
// streamed (accumulated) and not, with usage.
func TestOpenAIChat(t *testing.T) {
	ts, path := qwenServer(t)
	c := ts.openai("")
	ctx := context.Background()
	const n = 10
	rendered := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n"
	prompt := tokenize(t, path, rendered)
	want, _ := soloGreedy(t, path, prompt, n)
	want = wire(want)
	params := openai.ChatCompletionNewParams{
		Model:       "qwen",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello!")},
		Temperature: openai.Float(0),
		MaxTokens:   openai.Int(n),
	}
	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != want || resp.Object != "chat.completion" ||
		!strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Model != "qwen" {
		t.Fatalf("completion: %+v\nwant content %q", resp, want)
	}
	if fr := resp.Choices[0].FinishReason; fr != "length" && fr != "stop" {
		t.Fatalf("finish_reason %q", fr)
	}
	if int(resp.Usage.PromptTokens) != len(prompt) || resp.Usage.CompletionTokens <= 0 ||
		resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens {
		t.Fatalf("usage %+v (prompt is %d tokens)", resp.Usage, len(prompt))
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	chunks := 0
	usageChunks := 0
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		chunks++
		if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
			usageChunks++
			if len(ch.Choices) != 0 {
				t.Fatalf("usage chunk has choices: %+v", ch)
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != want || chunks < 3 || usageChunks != 1 || acc.Usage.CompletionTokens <= 0 {
		t.Fatalf("stream: %d chunks, %d usage chunks, content %q (want %q), usage %+v", chunks, usageChunks,
			acc.Choices[0].Message.Content, want, acc.Usage)
	}

	// On the wire: SSE data lines, the last one [DONE].
	body := `{"model":"qwen","stream":true,"max_tokens":3,"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}`
	req, _ := http.NewRequest("POST", ts.url+"/v1/chat/completions", strings.NewReader(body))
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer hr.Body.Close()
	if ct := hr.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	var datas []string
	sc := bufio.NewScanner(hr.Body)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			if !strings.HasPrefix(line, "data: ") {
				t.Fatalf("not an SSE data line: %q", line)
			}
			datas = append(datas, strings.TrimPrefix(line, "data: "))
		}
	}
	if len(datas) < 2 || datas[len(datas)-1] != "[DONE]" {
		t.Fatalf("SSE stream: %q", datas)
	}
}

// TestOpenAIModels lists and retrieves models and checks the 404 shape.
func TestOpenAIModels(t *testing.T) {
	ts, _ := qwenServer(t)
	ts.create(t, "team/other:v2", modelFile(t, "stories260K.gguf"))
	c := ts.openai("")
	ctx := context.Background()
	page, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, m := range page.Data {
		ids[m.ID] = m.OwnedBy
		if m.Object != "model" || m.Created == 0 {
			t.Fatalf("model object %+v", m)
		}
	}
	if len(ids) != 2 || ids["qwen:latest"] != "library" || ids["team/other:v2"] != "team" {
		t.Fatalf("models: %v", ids)
	}
	m, err := c.Models.Get(ctx, "team/other:v2")
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "team/other:v2" {
		t.Fatalf("get: %+v", m)
	}
	_, err = c.Models.Get(ctx, "missing")
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != "model_not_found" || !strings.Contains(ae.Message, "missing") {
		t.Fatalf("missing model: %v", err)
	}
	_, err = c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "qwen",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !strings.Contains(ae.Message, "does not support embeddings") {
		t.Fatalf("embeddings of a generative model: %v", err)
	}
}

// TestOpenAICompletions: /v1/completions continues a prompt greedily as
// llama.cpp does.
func TestOpenAICompletions(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	prompt, want, _ := storiesGolden(t)
	c := ts.openai("")
	resp, err := c.Completions.New(context.Background(), openai.CompletionNewParams{
		Model:       "stories",
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		Temperature: openai.Float(0),
		MaxTokens:   openai.Int(20),
		Logprobs:    openai.Int(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Choices[0].Text
	if !strings.HasPrefix(want, got) || len(got) < 40 || resp.Choices[0].FinishReason != "length" || resp.Usage.CompletionTokens != 20 {
		t.Fatalf("completion %q (finish %q, usage %+v); want a prefix of %q", got, resp.Choices[0].FinishReason, resp.Usage, want)
	}
	lp := resp.Choices[0].Logprobs
	if len(lp.Tokens) != 20 || len(lp.TokenLogprobs) != 20 || len(lp.TopLogprobs) != 20 || strings.Join(lp.Tokens, "") != got {
		t.Fatalf("logprobs: %+v", lp)
	}
	for i, top := range lp.TopLogprobs {
		// Greedy: the chosen token is the most likely one.
		best := -1e9
		for _, v := range top {
			best = max(best, v)
		}
		if len(top) == 0 || lp.TokenLogprobs[i] < best-1e-6 || lp.TokenLogprobs[i] > 0 {
			t.Fatalf("token %d: logprob %v, top %v", i, lp.TokenLogprobs[i], top)
		}
	}

	stream := c.Completions.NewStreaming(context.Background(), openai.CompletionNewParams{
		Model: "stories", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		Temperature: openai.Float(0), MaxTokens: openai.Int(20)})
	var b strings.Builder
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			b.WriteString(ch.Text)
		}
	}
	if err := stream.Err(); err != nil || b.String() != got {
		t.Fatalf("streamed completion %q, err %v; want %q", b.String(), err, got)
	}
}

// weatherTools are two tools whose calls tests validate.
func weatherTools() []openai.ChatCompletionToolUnionParam {
	return []openai.ChatCompletionToolUnionParam{
		openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        "get_weather",
			Description: openai.String("Current weather in a city"),
			Parameters: shared.FunctionParameters{
				"type": "object",
				"properties": map[string]any{
					"city": map[string]any{"type": "string", "maxLength": 20},
					"unit": map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
				},
				"required":             []string{"city", "unit"},
				"additionalProperties": false,
			},
		}),
		openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: "add",
			Parameters: shared.FunctionParameters{
				"type":                 "object",
				"properties":           map[string]any{"a": map[string]any{"type": "integer"}, "b": map[string]any{"type": "integer"}},
				"required":             []string{"a", "b"},
				"additionalProperties": false,
			},
		}),
	}
}

func checkWeatherArgs(t *testing.T, name, args string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(args), &m); err != nil {
		t.Fatalf("%s arguments are not a JSON object: %q", name, args)
	}
	switch name {
	case "get_weather":
		city, ok1 := m["city"].(string)
		unit, ok2 := m["unit"].(string)
		if !ok1 || !ok2 || len(m) != 2 || len([]rune(city)) > 20 || (unit != "celsius" && unit != "fahrenheit") {
			t.Fatalf("get_weather arguments do not match the schema: %q", args)
		}
	case "add":
		a, ok1 := m["a"].(float64)
		b, ok2 := m["b"].(float64)
		if !ok1 || !ok2 || len(m) != 2 || a != float64(int64(a)) || b != float64(int64(b)) {
			t.Fatalf("add arguments do not match the schema: %q", args)
		}
	default:
		t.Fatalf("call of unknown tool %q", name)
	}
}

// TestOpenAIToolChoice: "required" and a named function force a valid
// call by constrained decoding, even from a random-weight model; "none"
// never calls.
func TestOpenAIToolChoice(t *testing.T) {
	ts, _ := qwenServer(t)
	c := ts.openai("")
	ctx := context.Background()
	base := openai.ChatCompletionNewParams{
		Model:     "qwen",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")},
		Tools:     weatherTools(),
		MaxTokens: openai.Int(200),
	}
	for seed := int64(0); seed < 3; seed++ {
		p := base
		p.Seed = openai.Int(seed)
		p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
		resp, err := c.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		ch := resp.Choices[0]
		if len(ch.Message.ToolCalls) != 1 || ch.FinishReason != "tool_calls" {
			t.Fatalf("required: %+v", ch)
		}
		tc := ch.Message.ToolCalls[0]
		if !strings.HasPrefix(tc.ID, "call_") || tc.Type != "function" {
			t.Fatalf("tool call %+v", tc)
		}
		checkWeatherArgs(t, tc.Function.Name, tc.Function.Arguments)

		p.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "add"})
		stream := c.Chat.Completions.NewStreaming(ctx, p)
		acc := openai.ChatCompletionAccumulator{}
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].Function.Name != "add" || acc.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("named function (streamed): %+v", acc.Choices[0])
		}
		checkWeatherArgs(t, "add", calls[0].Function.Arguments)
	}
	// allowed_tools with mode required: a call of one of the allowed tools.
	body := `{"model": "qwen", "max_tokens": 200, "messages": [{"role": "user", "content": "Add 2 and 3"}],
		"tools": ` + mustJSON(t, base.Tools) + `,
		"tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "add"}}]}}}`
	status, b := ts.do(t, "POST", "/v1/chat/completions", body)
	var cc struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
			Message      struct {
				ToolCalls []struct {
					Function struct{ Name, Arguments string }
				} `json:"tool_calls"`
			}
		}
	}
	if status != 200 || json.Unmarshal(b, &cc) != nil || len(cc.Choices) != 1 || len(cc.Choices[0].Message.ToolCalls) != 1 ||
		cc.Choices[0].Message.ToolCalls[0].Function.Name != "add" || cc.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("allowed_tools: %d %s", status, b)
	}
	checkWeatherArgs(t, "add", cc.Choices[0].Message.ToolCalls[0].Function.Arguments)

	p := base
	p.MaxTokens = openai.Int(8)
	p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}
	resp, err := c.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices[0].Message.ToolCalls) != 0 {
		t.Fatalf("tool_choice none called %+v", resp.Choices[0].Message.ToolCalls)
	}
	p.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "nope"})
	_, err = c.Chat.Completions.New(ctx, p)
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Fatalf("unknown named function: %v", err)
	}
}

// TestOpenAIJSONSchema: response_format json_schema yields JSON that
// validates against the schema.
func TestOpenAIJSONSchema(t *testing.T) {
	ts, _ := qwenServer(t)
	c := ts.openai("")
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"name": map[string]any{"type": "string", "maxLength": 12},
			"age":  map[string]any{"type": "integer", "minimum": 0, "maximum": 150},
			"tags": map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []string{"a", "b"}}, "maxItems": 3},
		},
		"required":             []string{"name", "age", "tags"},
		"additionalProperties": false,
	}
	for seed := int64(0); seed < 4; seed++ {
		resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "qwen",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Describe a person.")},
			Seed:     openai.Int(seed),
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Schema: schema, Strict: openai.Bool(true)}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Name *string
			Age  *float64
			Tags *[]string
		}
		text := resp.Choices[0].Message.Content
		var raw map[string]any
		if err := json.Unmarshal([]byte(text), &raw); err != nil || json.Unmarshal([]byte(text), &v) != nil {
			t.Fatalf("seed %d: not JSON: %q", seed, text)
		}
		if len(raw) != 3 || v.Name == nil || len([]rune(*v.Name)) > 12 || v.Age == nil || *v.Age != float64(int(*v.Age)) ||
			*v.Age < 0 || *v.Age > 150 || v.Tags == nil || len(*v.Tags) > 3 {
			t.Fatalf("seed %d: does not validate: %q", seed, text)
		}
		for _, tag := range *v.Tags {
			if tag != "a" && tag != "b" {
				t.Fatalf("seed %d: tag %q not in the enum: %q", seed, tag, text)
			}
		}
	}
}
