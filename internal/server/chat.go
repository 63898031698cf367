package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golem-llm/golem/api"
)

// toolChoice is OpenAI's tool_choice: "auto" (the default), "none",
// "required", or one function by name. Ollama's own API has no such field
// and behaves as "auto".
type toolChoice struct {
	mode     string   // "auto", "none", "required", "function"
	function string   // for "function"
	allowed  []string // when set, only these tools are offered
}

// chatParams is a chat request in either API's terms.
type chatParams struct {
	messages    []api.Message
	tools       []api.Tool
	choice      toolChoice
	think       *api.ThinkValue
	format      json.RawMessage
	truncate    bool
	noShift     bool // stop when the context fills instead of shifting it (shift: false)
	logprobs    bool
	topLogprobs int
	start       time.Time
}

// prepareChat renders the conversation, fits it in the context and sets
// up constraints and output parsing. It returns the job and the rendered
// prompt.
func (s *Server) prepareChat(l *loaded, p *chatParams) (*genJob, string, error) {
	for i, m := range p.messages {
		switch m.Role {
		case "system", "user", "assistant", "tool":
		default:
			return nil, "", errorf(http.StatusBadRequest, "messages[%d]: unknown role %q (use system, user, assistant or tool)", i, m.Role)
		}
		if len(m.Images) > 0 {
			return nil, "", errorf(http.StatusBadRequest, "%q does not support images (Golem runs text models only)", l.name)
		}
	}
	var msgs []api.Message
	if l.res.System != "" && (len(p.messages) == 0 || p.messages[0].Role != "system") {
		msgs = append(msgs, api.Message{Role: "system", Content: l.res.System})
	}
	for _, m := range l.res.Messages {
		msgs = append(msgs, api.Message{Role: m.Role, Content: m.Content})
	}
	msgs = append(msgs, p.messages...)

	tools := p.tools
	if p.choice.allowed != nil {
		var keep []api.Tool
		for _, t := range tools {
			if slices.Contains(p.choice.allowed, t.Function.Name) {
				keep = append(keep, t)
			}
		}
		if len(keep) == 0 {
			return nil, "", errorf(http.StatusBadRequest, "tool_choice allows none of the tools offered")
		}
		tools = keep
	}
	forced := false
	var schema json.RawMessage
	switch p.choice.mode {
	case "none":
		tools = nil
	case "required", "function":
		if len(tools) == 0 {
			return nil, "", errorf(http.StatusBadRequest, "tool_choice %q needs tools", p.choice.mode)
		}
		if p.choice.mode == "function" {
			var pick []api.Tool
			for _, t := range tools {
				if t.Function.Name == p.choice.function {
					pick = append(pick, t)
				}
			}
			if len(pick) == 0 {
				return nil, "", errorf(http.StatusBadRequest, "tool_choice names function %q, which is not among the tools", p.choice.function)
			}
			tools = pick
		}
		if len(p.format) > 0 {
			return nil, "", errorf(http.StatusBadRequest, "a response format cannot be combined with tool_choice %q", p.choice.mode)
		}
		var err error
		if schema, err = toolCallSchema(tools); err != nil {
			return nil, "", err
		}
		forced = true
	}

	render := func(ms []api.Message) (string, []int32, error) {
		text, err := l.render(templateValues{Messages: ms, Tools: tools, Think: p.think})
		if err != nil {
			return "", nil, err
		}
		return text, l.tokenize(text, true), nil
	}
	prompt, ids, err := render(msgs)
	if err != nil {
		return nil, "", err
	}
	// Too long: drop the oldest messages, keeping the system messages and
	// the last message, as Ollama does.
	numCtx := l.r.Config().NumCtx
	if len(ids) > numCtx && p.truncate {
		for i := 1; i < len(msgs); i++ {
			var kept []api.Message
			for _, m := range msgs[:i] {
				if m.Role == "system" {
					kept = append(kept, m)
				}
			}
			kept = append(kept, msgs[i:]...)
			pr, ii, err := render(kept)
			if err != nil {
				return nil, "", err
			}
			prompt, ids = pr, ii
			if len(ids) <= numCtx {
				break
			}
		}
	}
	if ids, err = l.fit(ids, p.truncate); err != nil {
		return nil, "", err
	}
	ropts, err := l.opts.runnerOptions(!p.noShift)
	if err != nil {
		return nil, "", err
	}
	format := p.format
	if forced {
		format = schema
	}
	constraint, err := s.formatConstraint(l, format, budgetOf(l, len(ids), ropts.NumPredict))
	if err != nil {
		return nil, "", err
	}
	j := &genJob{l: l, prompt: ids, opts: ropts, constraint: constraint, logprobs: p.logprobs || p.topLogprobs > 0,
		topLogprobs: p.topLogprobs, start: p.start}
	// A constrained answer is JSON from its first token: no thinking block.
	j.parser = newOutputParser(l.tmpl, prompt, p.think.Enabled() && constraint == nil, tools, forced)
	return j, prompt, nil
}

// toolCallSchema is the JSON Schema of one call of one of tools:
// {"name": <one of the names>, "arguments": <that tool's parameters>},
// with "name" first so the model writes which tool before its arguments.
func toolCallSchema(tools []api.Tool) (json.RawMessage, error) {
	var alts []string
	for _, t := range tools {
		params := json.RawMessage(`{"type":"object"}`)
		if p := bytes.TrimSpace(t.Function.Parameters); len(p) > 0 && string(p) != "null" {
			var obj map[string]any
			if err := json.Unmarshal(p, &obj); err != nil {
				return nil, errorf(http.StatusBadRequest, "tool %q: parameters are not a JSON Schema object: %v", t.Function.Name, err)
			}
			params = p
		}
		name, _ := json.Marshal(t.Function.Name)
		alts = append(alts, `{"type":"object","properties":{"name":{"const":`+string(name)+`},"arguments":`+string(params)+
			`},"required":["name","arguments"],"additionalProperties":false}`)
	}
	if len(alts) == 1 {
		return json.RawMessage(alts[0]), nil
	}
	return json.RawMessage(`{"anyOf":[` + strings.Join(alts, ",") + `]}`), nil
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req api.ChatRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if err := checkTopLogprobs(req.TopLogprobs); err != nil {
		writeError(w, err)
		return
	}
	mi, err := s.lookup(r.Context(), req.Model, req.Options)
	if err != nil {
		writeError(w, err)
		return
	}
	if len(req.Messages) == 0 && req.KeepAlive != nil && req.KeepAlive.Duration == 0 {
		s.sched.Unload(mi.id)
		writeJSON(w, http.StatusOK, api.ChatResponse{Model: req.Model, CreatedAt: time.Now().UTC(),
			Message: api.Message{Role: "assistant"}, Done: true, DoneReason: "unload"})
		return
	}
	for i := range req.Messages {
		req.Messages[i].Role = strings.ToLower(req.Messages[i].Role)
	}
	l, err := s.acquire(r.Context(), mi, req.KeepAlive, "")
	if err != nil {
		writeError(w, err)
		return
	}
	defer l.release()
	if !l.caps.completion {
		writeError(w, errorf(http.StatusBadRequest, "%q does not support chat", req.Model))
		return
	}
	if err := checkThink(req.Model, req.Think, l.caps); err != nil {
		writeError(w, err)
		return
	}
	if req.Think == nil && l.caps.thinking {
		req.Think = &api.ThinkValue{Value: true}
	}
	if len(req.Tools) > 0 && !l.caps.tools {
		writeError(w, errorf(http.StatusBadRequest, "%s does not support tools", req.Model))
		return
	}
	if len(req.Messages) == 0 {
		writeJSON(w, http.StatusOK, api.ChatResponse{Model: req.Model, CreatedAt: time.Now().UTC(),
			Message: api.Message{Role: "assistant"}, Done: true, DoneReason: "load"})
		return
	}
	j, prompt, err := s.prepareChat(l, &chatParams{messages: req.Messages, tools: req.Tools, choice: toolChoice{mode: "auto"},
		think: req.Think, format: req.Format, truncate: req.Truncate == nil || *req.Truncate,
		noShift: req.Shift != nil && !*req.Shift, logprobs: req.Logprobs, topLogprobs: req.TopLogprobs, start: start})
	if err != nil {
		writeError(w, err)
		return
	}
	if req.DebugRenderOnly {
		writeJSON(w, http.StatusOK, api.ChatResponse{Model: req.Model, CreatedAt: time.Now().UTC(),
			DebugInfo: &api.DebugInfo{RenderedTemplate: prompt}})
		return
	}
	calls := 0
	chunk := func(d delta) api.ChatResponse {
		resp := api.ChatResponse{Model: req.Model, CreatedAt: time.Now().UTC(), Done: d.Done, Logprobs: d.Logprobs,
			Message: api.Message{Role: "assistant", Content: d.Content, Thinking: d.Thinking}}
		for _, c := range d.ToolCalls {
			c.ID = toolCallID()
			c.Function.Index = calls
			calls++
			resp.Message.ToolCalls = append(resp.Message.ToolCalls, c)
		}
		if d.Done {
			resp.DoneReason = d.DoneReason
			resp.Metrics = metricsOf(d.Stats, l.loadDuration, start)
		}
		return resp
	}
	if !streamOf(req.Stream) {
		var final api.ChatResponse
		var content, thinking strings.Builder
		var lps []api.Logprob
		var tcs []api.ToolCall
		err := s.generate(r.Context(), j, func(d delta) error {
			c := chunk(d)
			content.WriteString(c.Message.Content)
			thinking.WriteString(c.Message.Thinking)
			lps = append(lps, c.Logprobs...)
			tcs = append(tcs, c.Message.ToolCalls...)
			if d.Done {
				final = c
			}
			return nil
		})
		if err != nil {
			writeError(w, err)
			return
		}
		final.Message.Content, final.Message.Thinking, final.Message.ToolCalls, final.Logprobs = content.String(), thinking.String(), tcs, lps
		writeJSON(w, http.StatusOK, final)
		return
	}
	out := &ndjson{w: w}
	if err := s.generate(r.Context(), j, func(d delta) error { return out.send(chunk(d)) }); err != nil {
		out.fail(err)
	}
}

// toolCallID makes an id for a tool call, in OpenAI's style.
func toolCallID() string {
	return fmt.Sprintf("call_%s", randomID(8))
}
