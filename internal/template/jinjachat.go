package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/golem-llm/golem/internal/template/jinja"
)

// JinjaTemplate is a Hugging Face chat template (GGUF tokenizer.chat_template).
type JinjaTemplate struct {
	src  string
	tmpl *jinja.Template
	// reasoningKey is the message field the template reads an assistant's
	// reasoning from: reasoning_content (Qwen3, DeepSeek, most), thinking
	// (gpt-oss) or reasoning (Gemma 4, Laguna).
	reasoningKey string
	// stringArgs is set for templates that concatenate tool-call arguments
	// as text and fail on a JSON object (DeepSeek V3.1, functionary).
	stringArgs bool
	markers    Markers
}

// ParseJinja parses a chat template. Syntax errors name the line.
func ParseJinja(src string) (*JinjaTemplate, error) {
	t, err := jinja.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	jt := &JinjaTemplate{src: src, tmpl: t, reasoningKey: reasoningKey(src)}
	jt.stringArgs = jt.probeStringArgs()
	jt.markers = jinjaMarkers(jt)
	return jt, nil
}

// Source returns the template text.
func (t *JinjaTemplate) Source() string { return t.src }

// Markers returns the output markers derived from the template.
func (t *JinjaTemplate) Markers() Markers { return t.markers }

// reasoningKey picks the message key for Message.Thinking by looking at the
// keys the template reads.
func reasoningKey(src string) string {
	for _, k := range []string{"reasoning_content", "thinking", "reasoning"} {
		for _, pat := range []string{"." + k, "['" + k + "']", `["` + k + `"]`, "('" + k + "'", `("` + k + `"`} {
			if strings.Contains(src, pat) {
				return k
			}
		}
	}
	return "reasoning_content"
}

// probeStringArgs renders a small tool-calling conversation with the
// arguments as a JSON object and as JSON text. A template that fails with
// the object but renders the text needs text (transformers would fail on
// it; llama.cpp probes the same way).
func (t *JinjaTemplate) probeStringArgs() bool {
	if !strings.Contains(t.src, "tool_calls") {
		return false
	}
	probe := func(args string) error {
		req := &Request{
			Messages: []Message{
				{Role: "user", Content: "probe"},
				{Role: "assistant", ToolCalls: []ToolCall{{ID: "call00001", Function: ToolCallFunction{Name: "probe_tool", Arguments: json.RawMessage(args)}}}},
				{Role: "tool", Content: "ok", ToolName: "probe_tool", ToolCallID: "call00001"},
			},
			Tools:               []json.RawMessage{json.RawMessage(`{"type":"function","function":{"name":"probe_tool","description":"probe","parameters":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}}}`)},
			AddGenerationPrompt: true,
			maxSteps:            probeSteps,
		}
		_, err := t.render(req, false)
		return err
	}
	errObj := probe(`{"q":"x"}`)
	if errObj == nil {
		return false
	}
	var je *jinja.Error
	if !errors.As(errObj, &je) || je.Kind == jinja.Raised {
		return false
	}
	return probe(`"{\"q\": \"x\"}"`) == nil
}

// Render renders the conversation as transformers' apply_chat_template
// would (tokenize=False).
func (t *JinjaTemplate) Render(req *Request) (string, error) {
	return t.render(req, t.stringArgs)
}

func (t *JinjaTemplate) render(req *Request, stringArgs bool) (string, error) {
	vars, err := t.Vars(req, stringArgs)
	if err != nil {
		return "", err
	}
	out, err := t.tmpl.Execute(vars, jinja.Config{Now: req.now(), Deadline: req.Deadline, MaxSteps: req.maxSteps})
	if err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return out, nil
}

// Vars builds the template variables transformers passes: messages, tools
// (none when absent), documents (none), add_generation_prompt, bos_token,
// eos_token, the think options and any extra variables.
func (t *JinjaTemplate) Vars(req *Request, stringArgs bool) (map[string]jinja.Value, error) {
	msgs := make([]jinja.Value, 0, len(req.Messages))
	for i := range req.Messages {
		m, err := t.messageValue(&req.Messages[i], stringArgs)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		msgs = append(msgs, m)
	}
	vars := map[string]jinja.Value{
		"messages":              msgs,
		"tools":                 nil,
		"documents":             nil,
		"add_generation_prompt": req.AddGenerationPrompt,
		"bos_token":             req.BOSToken,
		"eos_token":             req.EOSToken,
	}
	if req.Tools != nil {
		tools := make([]jinja.Value, 0, len(req.Tools))
		for i, raw := range req.Tools {
			v, err := jinja.FromJSON(raw)
			if err != nil {
				return nil, fmt.Errorf("tool %d: %w", i, err)
			}
			tools = append(tools, v)
		}
		vars["tools"] = tools
	}
	// The think option under the names templates use for it.
	if req.Think != nil {
		vars["enable_thinking"] = *req.Think
		vars["thinking"] = *req.Think
	}
	if req.ThinkLevel != "" {
		vars["reasoning_effort"] = req.ThinkLevel
		if req.Think == nil {
			vars["enable_thinking"] = true
			vars["thinking"] = true
		}
	}
	keys := make([]string, 0, len(req.Extra))
	for k := range req.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := jinja.FromJSON(req.Extra[k])
		if err != nil {
			return nil, fmt.Errorf("extra variable %q: %w", k, err)
		}
		vars[k] = v
	}
	return vars, nil
}

// messageValue converts a message to the dict a chat template sees:
// role, content, then (when set) the reasoning field, tool_calls,
// tool_call_id and name, in that order.
func (t *JinjaTemplate) messageValue(m *Message, stringArgs bool) (jinja.Value, error) {
	d := jinja.NewDict()
	d.SetStr("role", m.Role)
	d.SetStr("content", m.Content)
	if m.Thinking != "" {
		d.SetStr(t.reasoningKey, m.Thinking)
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]jinja.Value, 0, len(m.ToolCalls))
		for j, tc := range m.ToolCalls {
			fn := jinja.NewDict()
			fn.SetStr("name", tc.Function.Name)
			args, err := argumentsValue(tc.Function.Arguments, stringArgs)
			if err != nil {
				return nil, fmt.Errorf("tool call %d: %w", j, err)
			}
			fn.SetStr("arguments", args)
			c := jinja.NewDict()
			if tc.ID != "" {
				c.SetStr("id", tc.ID)
			}
			c.SetStr("type", "function")
			c.SetStr("function", fn)
			calls = append(calls, c)
		}
		d.SetStr("tool_calls", calls)
	}
	if m.ToolCallID != "" {
		d.SetStr("tool_call_id", m.ToolCallID)
	}
	if m.ToolName != "" {
		d.SetStr("name", m.ToolName)
	}
	return d, nil
}

// argumentsValue decodes tool-call arguments, or keeps them as JSON text
// (written as Python's json.dumps would) for templates that need text.
func argumentsValue(raw json.RawMessage, asText bool) (jinja.Value, error) {
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	v, err := jinja.FromJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("arguments are not valid JSON: %w", err)
	}
	if !asText {
		return v, nil
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	return jinja.ToJSON(v)
}
