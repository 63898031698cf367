package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/store"
)

// The OpenAI API (/v1) is served by the same inference path as Ollama's:
// requests are translated to chat or generate parameters, answers are
// shaped as OpenAI's objects, and streams are server-sent events ending
// with "data: [DONE]".

type oaiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func writeOpenAIError(w http.ResponseWriter, status int, msg, code string) {
	typ := "invalid_request_error"
	switch {
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		typ = "server_error"
		if code == "" {
			code = "overloaded"
		}
	case status >= 500:
		typ = "api_error"
	}
	if status == http.StatusNotFound && code == "" {
		code = "model_not_found"
	}
	e := oaiError{Message: msg, Type: typ}
	if code != "" {
		e.Code = &code
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func writeOAIErr(w http.ResponseWriter, err error) {
	writeOpenAIError(w, statusOf(err), err.Error(), "")
}

// oaiMessage is a chat message in OpenAI's shape; content is a string or
// a list of parts.
type oaiMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content,omitempty"`
	Name       string          `json:"name,omitempty"`
	ToolCalls  []oaiToolCall   `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
	Reasoning  string          `json:"reasoning,omitempty"`
}

type oaiToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type oaiStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type oaiChatRequest struct {
	Model               string            `json:"model"`
	Messages            []oaiMessage      `json:"messages"`
	Stream              bool              `json:"stream"`
	StreamOptions       *oaiStreamOptions `json:"stream_options"`
	MaxTokens           *int              `json:"max_tokens"`
	MaxCompletionTokens *int              `json:"max_completion_tokens"`
	Seed                *int64            `json:"seed"`
	Stop                json.RawMessage   `json:"stop"`
	Temperature         *float64          `json:"temperature"`
	TopP                *float64          `json:"top_p"`
	FrequencyPenalty    *float64          `json:"frequency_penalty"`
	PresencePenalty     *float64          `json:"presence_penalty"`
	N                   *int              `json:"n"`
	ResponseFormat      *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict *bool           `json:"strict"`
		} `json:"json_schema"`
	} `json:"response_format"`
	Tools           []api.Tool      `json:"tools"`
	ToolChoice      json.RawMessage `json:"tool_choice"`
	Logprobs        *bool           `json:"logprobs"`
	TopLogprobs     int             `json:"top_logprobs"`
	ReasoningEffort *string         `json:"reasoning_effort"`
	Reasoning       *struct {
		Effort string `json:"effort"`
	} `json:"reasoning"`
	KeepAlive *api.Duration `json:"keep_alive"`
}

// textOf reads OpenAI message content: a string, or parts of which only
// text is supported.
func textOf(raw json.RawMessage, i int) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errorf(http.StatusBadRequest, "messages[%d].content must be a string or a list of content parts", i)
	}
	var b strings.Builder
	for _, p := range parts {
		switch p.Type {
		case "text", "input_text":
			b.WriteString(p.Text)
		case "image_url", "input_image", "input_audio", "file":
			return "", errorf(http.StatusBadRequest, "messages[%d]: %s content is not supported (Golem runs text models only)", i, p.Type)
		default:
			return "", errorf(http.StatusBadRequest, "messages[%d]: unknown content part type %q", i, p.Type)
		}
	}
	return b.String(), nil
}

// stopOf reads "stop": a string or a list of strings.
func stopOf(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, errorf(http.StatusBadRequest, "stop must be a string or a list of strings")
	}
	return ss, nil
}

func parseToolChoice(raw json.RawMessage) (toolChoice, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return toolChoice{mode: "auto"}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto", "none", "required":
			return toolChoice{mode: s}, nil
		}
		return toolChoice{}, errorf(http.StatusBadRequest, "tool_choice %q: use \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}", s)
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
		AllowedTools struct {
			Mode  string `json:"mode"`
			Tools []struct {
				Type     string `json:"type"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
		} `json:"allowed_tools"`
	}
	err := json.Unmarshal(raw, &obj)
	switch {
	case err == nil && obj.Type == "allowed_tools":
		// {"type": "allowed_tools", "allowed_tools": {"mode": "auto" |
		// "required", "tools": [...]}}: the tools offered are cut to
		// these, then the mode applies.
		tc := toolChoice{mode: obj.AllowedTools.Mode}
		if tc.mode != "auto" && tc.mode != "required" {
			return toolChoice{}, errorf(http.StatusBadRequest, "tool_choice.allowed_tools.mode %q: use \"auto\" or \"required\"", tc.mode)
		}
		for _, t := range obj.AllowedTools.Tools {
			tc.allowed = append(tc.allowed, t.Function.Name)
		}
		return tc, nil
	case err == nil && obj.Function.Name != "":
		return toolChoice{mode: "function", function: obj.Function.Name}, nil
	}
	return toolChoice{}, errorf(http.StatusBadRequest, "tool_choice must be a string, {\"type\": \"function\", \"function\": {\"name\": ...}} or {\"type\": \"allowed_tools\", ...}")
}

// openAIOptions maps OpenAI sampling fields to Ollama options. Unset
// temperature and top_p are 1, OpenAI's defaults (as Ollama does).
func openAIOptions(maxTokens *int, temperature, topP, freq, pres *float64, seed *int64, stop []string) map[string]any {
	o := map[string]any{"temperature": 1.0, "top_p": 1.0}
	if maxTokens != nil {
		o["num_predict"] = *maxTokens
	}
	if temperature != nil {
		o["temperature"] = *temperature
	}
	if topP != nil {
		o["top_p"] = *topP
	}
	if freq != nil {
		o["frequency_penalty"] = *freq
	}
	if pres != nil {
		o["presence_penalty"] = *pres
	}
	if seed != nil {
		o["seed"] = *seed
	}
	if stop != nil {
		o["stop"] = stop
	}
	return o
}

type oaiUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func usageOf(d delta) *oaiUsage {
	u := &oaiUsage{PromptTokens: d.Stats.PromptTokens + d.Stats.CachedTokens, CompletionTokens: d.Stats.EvalTokens}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	u.PromptTokensDetails.CachedTokens = d.Stats.CachedTokens
	return u
}

type oaiLogprobs struct {
	Content []api.Logprob `json:"content"`
}

type oaiChoice struct {
	Index        int          `json:"index"`
	Message      *oaiOutMsg   `json:"message,omitempty"`
	Delta        *oaiOutMsg   `json:"delta,omitempty"`
	FinishReason *string      `json:"finish_reason"`
	Logprobs     *oaiLogprobs `json:"logprobs"`
}

type oaiOutMsg struct {
	Role      string        `json:"role,omitempty"`
	Content   *string       `json:"content,omitempty"`
	Reasoning string        `json:"reasoning,omitempty"`
	ToolCalls []oaiToolCall `json:"tool_calls,omitempty"`
	Refusal   *string       `json:"refusal,omitempty"`
}

type oaiChatCompletion struct {
	ID                string      `json:"id"`
	Object            string      `json:"object"`
	Created           int64       `json:"created"`
	Model             string      `json:"model"`
	SystemFingerprint string      `json:"system_fingerprint"`
	Choices           []oaiChoice `json:"choices"`
	Usage             *oaiUsage   `json:"usage"`
}

const fingerprint = "fp_golem"

func finishReason(reason string, toolCalls bool) *string {
	if toolCalls {
		reason = "tool_calls"
	}
	if reason == "" {
		return nil
	}
	return &reason
}

func oaiToolCalls(calls []api.ToolCall, base int) []oaiToolCall {
	var out []oaiToolCall
	for i, c := range calls {
		idx := base + i
		tc := oaiToolCall{Index: &idx, ID: c.ID, Type: "function"}
		tc.Function.Name = c.Function.Name
		tc.Function.Arguments = c.Function.Arguments.String()
		out = append(out, tc)
	}
	return out
}

// sse writes server-sent events.
type sse struct {
	w       http.ResponseWriter
	started bool
}

func (s *sse) data(v any) error {
	if !s.started {
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("Connection", "keep-alive")
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	var b []byte
	if str, ok := v.(string); ok {
		b = []byte(str)
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(s.w, "data: %s\n\n", b); err != nil {
		return err
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

func (s *sse) done() { s.data("[DONE]") }

// fail reports err as a status before the stream started, as an error
// event followed by [DONE] after.
func (s *sse) fail(err error) {
	if !s.started {
		writeOAIErr(s.w, err)
		return
	}
	st := statusOf(err)
	typ := "api_error"
	if st < 500 {
		typ = "invalid_request_error"
	}
	s.data(map[string]any{"error": oaiError{Message: err.Error(), Type: typ}})
	s.done()
}

func (s *Server) handleOpenAIChat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req oaiChatRequest
	if err := decodeBody(r, &req); err != nil {
		writeOAIErr(w, err)
		return
	}
	if req.N != nil && *req.N > 1 {
		writeOAIErr(w, errorf(http.StatusBadRequest, "n > 1 is not supported"))
		return
	}
	if err := checkTopLogprobs(req.TopLogprobs); err != nil {
		writeOAIErr(w, err)
		return
	}
	if len(req.Messages) == 0 {
		writeOAIErr(w, errorf(http.StatusBadRequest, "messages must not be empty"))
		return
	}
	var msgs []api.Message
	for i, m := range req.Messages {
		text, err := textOf(m.Content, i)
		if err != nil {
			writeOAIErr(w, err)
			return
		}
		role := strings.ToLower(m.Role)
		if role == "developer" {
			role = "system"
		}
		am := api.Message{Role: role, Content: text, Thinking: m.Reasoning, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			var args api.Arguments
			a := tc.Function.Arguments
			if strings.TrimSpace(a) == "" {
				a = "{}"
			}
			if err := args.UnmarshalJSON([]byte(a)); err != nil {
				writeOAIErr(w, errorf(http.StatusBadRequest, "messages[%d]: tool call %q: arguments are not a JSON object", i, tc.Function.Name))
				return
			}
			am.ToolCalls = append(am.ToolCalls, api.ToolCall{ID: tc.ID, Function: api.ToolCallFunction{Name: tc.Function.Name, Arguments: args}})
		}
		if role == "tool" {
			am.ToolName = m.Name
			if am.ToolName == "" {
				am.ToolName = toolNameFor(req.Messages, m.ToolCallID)
			}
		}
		msgs = append(msgs, am)
	}
	stop, err := stopOf(req.Stop)
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	maxTokens := req.MaxCompletionTokens
	if maxTokens == nil {
		maxTokens = req.MaxTokens
	}
	choice, err := parseToolChoice(req.ToolChoice)
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	var format json.RawMessage
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "", "text":
		case "json_object":
			format = json.RawMessage(`"json"`)
		case "json_schema":
			if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
				writeOAIErr(w, errorf(http.StatusBadRequest, "response_format json_schema needs json_schema.schema"))
				return
			}
			format = rf.JSONSchema.Schema
		default:
			writeOAIErr(w, errorf(http.StatusBadRequest, "response_format type %q: use text, json_object or json_schema", rf.Type))
			return
		}
	}
	var think *api.ThinkValue
	effort := ""
	if req.ReasoningEffort != nil {
		effort = *req.ReasoningEffort
	} else if req.Reasoning != nil {
		effort = req.Reasoning.Effort
	}
	switch effort {
	case "":
	case "none":
		think = &api.ThinkValue{Value: false}
	case "low", "medium", "high", "minimal":
		think = &api.ThinkValue{Value: true}
	default:
		writeOAIErr(w, errorf(http.StatusBadRequest, "invalid reasoning effort %q (use none, low, medium or high)", effort))
		return
	}

	mi, err := s.lookup(r.Context(), req.Model, openAIOptions(maxTokens, req.Temperature, req.TopP, req.FrequencyPenalty, req.PresencePenalty, req.Seed, stop))
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	l, err := s.acquire(r.Context(), mi, req.KeepAlive, "")
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	defer l.release()
	if !l.caps.completion {
		writeOAIErr(w, errorf(http.StatusBadRequest, "%q does not support chat", req.Model))
		return
	}
	if think != nil && think.Enabled() && !l.caps.thinking {
		think = nil // OpenAI clients send reasoning_effort to every model
	}
	if think == nil && l.caps.thinking {
		think = &api.ThinkValue{Value: true}
	}
	if len(req.Tools) > 0 && !l.caps.tools && choice.mode == "auto" {
		writeOAIErr(w, errorf(http.StatusBadRequest, "%s does not support tools", req.Model))
		return
	}
	logprobs := req.Logprobs != nil && *req.Logprobs
	j, _, err := s.prepareChat(l, &chatParams{messages: msgs, tools: req.Tools, choice: choice, think: think, format: format,
		truncate: true, logprobs: logprobs, topLogprobs: req.TopLogprobs, start: start})
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	id := "chatcmpl-" + randomID(24)
	created := time.Now().Unix()
	calls := 0
	mkCalls := func(d delta) []api.ToolCall {
		var out []api.ToolCall
		for _, c := range d.ToolCalls {
			c.ID = toolCallID()
			c.Function.Index = calls
			calls++
			out = append(out, c)
		}
		return out
	}
	if !req.Stream {
		var content, reasoning strings.Builder
		var lps []api.Logprob
		var tcs []api.ToolCall
		var final delta
		err := s.generate(r.Context(), j, func(d delta) error {
			content.WriteString(d.Content)
			reasoning.WriteString(d.Thinking)
			lps = append(lps, d.Logprobs...)
			tcs = append(tcs, mkCalls(d)...)
			if d.Done {
				final = d
			}
			return nil
		})
		if err != nil {
			writeOAIErr(w, err)
			return
		}
		text := content.String()
		msg := &oaiOutMsg{Role: "assistant", Content: &text, Reasoning: reasoning.String(), ToolCalls: oaiToolCalls(tcs, 0)}
		if len(tcs) > 0 && text == "" {
			msg.Content = nil
		}
		ch := oaiChoice{Index: 0, Message: msg, FinishReason: finishReason(final.DoneReason, len(tcs) > 0)}
		if logprobs {
			ch.Logprobs = &oaiLogprobs{Content: lps}
		}
		writeJSON(w, http.StatusOK, oaiChatCompletion{ID: id, Object: "chat.completion", Created: created, Model: req.Model,
			SystemFingerprint: fingerprint, Choices: []oaiChoice{ch}, Usage: usageOf(final)})
		return
	}
	out := &sse{w: w}
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	first := true
	sentCalls := false
	chunk := func(c oaiChoice) oaiChatCompletion {
		return oaiChatCompletion{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model,
			SystemFingerprint: fingerprint, Choices: []oaiChoice{c}}
	}
	err = s.generate(r.Context(), j, func(d delta) error {
		base := calls
		tcs := mkCalls(d)
		if d.Content != "" || d.Thinking != "" || len(tcs) > 0 || len(d.Logprobs) > 0 || first {
			m := &oaiOutMsg{Reasoning: d.Thinking, ToolCalls: oaiToolCalls(tcs, base)}
			if first {
				m.Role = "assistant"
			}
			if d.Content != "" || (first && len(tcs) == 0) {
				c := d.Content
				m.Content = &c
			}
			first = false
			c := oaiChoice{Delta: m}
			if logprobs && len(d.Logprobs) > 0 {
				c.Logprobs = &oaiLogprobs{Content: d.Logprobs}
			}
			sentCalls = sentCalls || len(tcs) > 0
			if err := out.data(chunk(c)); err != nil {
				return err
			}
		}
		if d.Done {
			if err := out.data(chunk(oaiChoice{Delta: &oaiOutMsg{}, FinishReason: finishReason(d.DoneReason, sentCalls)})); err != nil {
				return err
			}
			if includeUsage {
				u := oaiChatCompletion{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model,
					SystemFingerprint: fingerprint, Choices: []oaiChoice{}, Usage: usageOf(d)}
				if err := out.data(u); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		out.fail(err)
		return
	}
	out.done()
}

// toolNameFor finds the function name of the tool call a tool message
// answers.
func toolNameFor(msgs []oaiMessage, id string) string {
	for _, m := range msgs {
		for _, tc := range m.ToolCalls {
			if tc.ID == id && id != "" {
				return tc.Function.Name
			}
		}
	}
	return ""
}

type oaiCompletionRequest struct {
	Model            string            `json:"model"`
	Prompt           json.RawMessage   `json:"prompt"`
	Suffix           string            `json:"suffix"`
	MaxTokens        *int              `json:"max_tokens"`
	Temperature      *float64          `json:"temperature"`
	TopP             *float64          `json:"top_p"`
	FrequencyPenalty *float64          `json:"frequency_penalty"`
	PresencePenalty  *float64          `json:"presence_penalty"`
	Seed             *int64            `json:"seed"`
	Stop             json.RawMessage   `json:"stop"`
	Stream           bool              `json:"stream"`
	StreamOptions    *oaiStreamOptions `json:"stream_options"`
	Logprobs         *int              `json:"logprobs"`
	Echo             bool              `json:"echo"`
	N                *int              `json:"n"`
	KeepAlive        *api.Duration     `json:"keep_alive"`
}

type oaiTextChoice struct {
	Text         string          `json:"text"`
	Index        int             `json:"index"`
	Logprobs     *oaiTextLogprob `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

// oaiTextLogprob is the legacy completions logprobs shape.
type oaiTextLogprob struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

func (t *oaiTextLogprob) add(lps []api.Logprob, offset *int) {
	for _, lp := range lps {
		t.Tokens = append(t.Tokens, lp.Token)
		t.TokenLogprobs = append(t.TokenLogprobs, lp.Logprob)
		top := map[string]float64{}
		for _, x := range lp.TopLogprobs {
			top[x.Token] = x.Logprob
		}
		t.TopLogprobs = append(t.TopLogprobs, top)
		t.TextOffset = append(t.TextOffset, *offset)
		*offset += len(lp.Token)
	}
}

type oaiCompletion struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           int64           `json:"created"`
	Model             string          `json:"model"`
	SystemFingerprint string          `json:"system_fingerprint"`
	Choices           []oaiTextChoice `json:"choices"`
	Usage             *oaiUsage       `json:"usage"`
}

// handleOpenAICompletion serves /v1/completions as Ollama does: the
// prompt goes through the model's template (a model without one has the
// plain {{ .Prompt }} template, so its prompt is continued as is).
func (s *Server) handleOpenAICompletion(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req oaiCompletionRequest
	if err := decodeBody(r, &req); err != nil {
		writeOAIErr(w, err)
		return
	}
	var prompt string
	if p := bytes.TrimSpace(req.Prompt); len(p) > 0 {
		if json.Unmarshal(p, &prompt) != nil {
			var list []string
			if err := json.Unmarshal(p, &list); err != nil || len(list) != 1 {
				writeOAIErr(w, errorf(http.StatusBadRequest, "prompt must be a string (or a list of one string)"))
				return
			}
			prompt = list[0]
		}
	}
	if prompt == "" {
		writeOAIErr(w, errorf(http.StatusBadRequest, "prompt is required"))
		return
	}
	if req.N != nil && *req.N > 1 {
		writeOAIErr(w, errorf(http.StatusBadRequest, "n > 1 is not supported"))
		return
	}
	top := 0
	if req.Logprobs != nil {
		top = *req.Logprobs
		if top < 0 || top > 20 {
			writeOAIErr(w, errorf(http.StatusBadRequest, "logprobs must be between 0 and 20"))
			return
		}
	}
	stop, err := stopOf(req.Stop)
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	mi, err := s.lookup(r.Context(), req.Model, openAIOptions(req.MaxTokens, req.Temperature, req.TopP, req.FrequencyPenalty, req.PresencePenalty, req.Seed, stop))
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	l, err := s.acquire(r.Context(), mi, req.KeepAlive, "")
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	defer l.release()
	if !l.caps.completion {
		writeOAIErr(w, errorf(http.StatusBadRequest, "%q does not support generate", req.Model))
		return
	}
	v := templateValues{}
	if req.Suffix != "" {
		if !l.caps.insert {
			writeOAIErr(w, errorf(http.StatusBadRequest, "%q does not support insert", req.Model))
			return
		}
		v.Prompt, v.Suffix = prompt, req.Suffix
	} else {
		if mi.res.System != "" {
			v.Messages = append(v.Messages, api.Message{Role: "system", Content: mi.res.System})
		}
		v.Messages = append(v.Messages, api.Message{Role: "user", Content: prompt})
	}
	text, err := l.render(v)
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	ids, err := l.fit(l.tokenize(text, true), true)
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	ropts, err := l.opts.runnerOptions(true)
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	j := &genJob{l: l, prompt: ids, opts: ropts, logprobs: req.Logprobs != nil, topLogprobs: top, start: start}
	id := "cmpl-" + randomID(24)
	created := time.Now().Unix()
	echo := ""
	if req.Echo {
		echo = prompt
	}
	if !req.Stream {
		var b strings.Builder
		b.WriteString(echo)
		var lp *oaiTextLogprob
		if req.Logprobs != nil {
			lp = &oaiTextLogprob{}
		}
		off := len(echo)
		var final delta
		err := s.generate(r.Context(), j, func(d delta) error {
			b.WriteString(d.Content)
			if lp != nil {
				lp.add(d.Logprobs, &off)
			}
			if d.Done {
				final = d
			}
			return nil
		})
		if err != nil {
			writeOAIErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, oaiCompletion{ID: id, Object: "text_completion", Created: created, Model: req.Model,
			SystemFingerprint: fingerprint, Usage: usageOf(final),
			Choices: []oaiTextChoice{{Text: b.String(), Logprobs: lp, FinishReason: finishReason(final.DoneReason, false)}}})
		return
	}
	out := &sse{w: w}
	off := 0
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	err = s.generate(r.Context(), j, func(d delta) error {
		c := oaiTextChoice{Text: echo + d.Content}
		echo = ""
		if req.Logprobs != nil && len(d.Logprobs) > 0 {
			c.Logprobs = &oaiTextLogprob{}
			c.Logprobs.add(d.Logprobs, &off)
		}
		if d.Done {
			c.FinishReason = finishReason(d.DoneReason, false)
		}
		if err := out.data(oaiCompletion{ID: id, Object: "text_completion", Created: created, Model: req.Model,
			SystemFingerprint: fingerprint, Choices: []oaiTextChoice{c}}); err != nil {
			return err
		}
		if d.Done && includeUsage {
			return out.data(oaiCompletion{ID: id, Object: "text_completion", Created: created, Model: req.Model,
				SystemFingerprint: fingerprint, Choices: []oaiTextChoice{}, Usage: usageOf(d)})
		}
		return nil
	})
	if err != nil {
		out.fail(err)
		return
	}
	out.done()
}

type oaiModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func oaiModelOf(name string, modified time.Time) oaiModel {
	owner := store.DefaultNamespace
	if n, err := store.ParseName(name); err == nil {
		owner = n.Namespace
	}
	return oaiModel{ID: name, Object: "model", Created: modified.Unix(), OwnedBy: owner}
}

func (s *Server) handleOpenAIModels(w http.ResponseWriter, r *http.Request) {
	models, err := s.listModels()
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	data := []oaiModel{}
	for _, m := range models {
		data = append(data, oaiModelOf(m.Name, m.ModifiedAt))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) handleOpenAIModel(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("model")
	m, err := s.store.Get(name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeOpenAIError(w, http.StatusNotFound, fmt.Sprintf("model %q not found", name), "model_not_found")
			return
		}
		writeOAIErr(w, errorf(http.StatusBadRequest, "invalid model name %q: %v", name, err))
		return
	}
	writeJSON(w, http.StatusOK, oaiModelOf(name, m.ModifiedAt))
}
