package server

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/golem-llm/golem/api"
)

// outputParser splits streamed model text into thinking, content and tool
// calls. Thinking is the text between the template's thinking tags at the
// start of the answer; tool calls are JSON objects naming one of the
// request's tools, optionally after the template's tool-call prefix (such
// as <tool_call>), and are recognised when the answer starts with one.
type outputParser struct {
	// thinking
	open, close string
	thinkState  int // thinkBefore, thinkInside, thinkDone
	thinkBuf    string

	// tool calls
	tools      []api.Tool
	toolPrefix string
	toolState  int // toolUndecided, toolCollect, toolPlain
	toolBuf    string
	// forced: the whole answer is one constrained tool call object.
	forced bool
}

const (
	thinkBefore = iota
	thinkInside
	thinkDone
)

const (
	toolUndecided = iota
	toolCollect
	toolPlain
)

// thinkTags infers a template's thinking tags.
func thinkTags(tmpl string) (open, close string) {
	for _, p := range [][2]string{{"<think>", "</think>"}, {"<thinking>", "</thinking>"}} {
		if strings.Contains(tmpl, p[0]) && strings.Contains(tmpl, p[1]) {
			return p[0], p[1]
		}
	}
	return "", ""
}

// toolCallPrefix infers the text a template puts before tool calls.
func toolCallPrefix(tmpl string) string {
	for _, p := range []string{"<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "<function_call>", "<|tool_call|>", "functools"} {
		if strings.Contains(tmpl, p) {
			return p
		}
	}
	return ""
}

// newOutputParser returns nil when there is nothing to parse.
func newOutputParser(tmpl, prompt string, think bool, tools []api.Tool, forced bool) *outputParser {
	p := &outputParser{tools: tools, forced: forced, thinkState: thinkDone, toolState: toolPlain}
	if think {
		if o, c := thinkTags(tmpl); o != "" {
			p.open, p.close, p.thinkState = o, c, thinkBefore
			// A template that opens the thinking block itself leaves the
			// model inside it.
			if strings.HasSuffix(strings.TrimSpace(prompt), o) {
				p.thinkState = thinkInside
			}
		}
	}
	if len(tools) > 0 {
		p.toolPrefix = toolCallPrefix(tmpl)
		p.toolState = toolUndecided
		if forced {
			p.toolState = toolCollect
		}
	}
	if p.thinkState == thinkDone && p.toolState == toolPlain {
		return nil
	}
	return p
}

// add takes the next piece of model output (done on the last call) and
// returns what can be released.
func (p *outputParser) add(text string, done bool) (content, thinking string, calls []api.ToolCall) {
	content, thinking = p.splitThinking(text, done)
	content, calls = p.splitTools(content, done)
	return
}

func (p *outputParser) splitThinking(text string, done bool) (content, thinking string) {
	switch p.thinkState {
	case thinkDone:
		return text, ""
	case thinkBefore:
		p.thinkBuf += text
		t := strings.TrimLeft(p.thinkBuf, " \t\r\n")
		switch {
		case strings.HasPrefix(t, p.open):
			p.thinkBuf = t[len(p.open):]
			p.thinkState = thinkInside
		case strings.HasPrefix(p.open, t) && !done:
			return "", "" // maybe the tag is still arriving
		default:
			p.thinkState = thinkDone
			out := p.thinkBuf
			p.thinkBuf = ""
			return out, ""
		}
		text = ""
	}
	// Inside the thinking block.
	p.thinkBuf += text
	if i := strings.Index(p.thinkBuf, p.close); i >= 0 {
		thinking = p.thinkBuf[:i]
		content = strings.TrimLeft(p.thinkBuf[i+len(p.close):], " \t\r\n")
		p.thinkBuf = ""
		p.thinkState = thinkDone
		return content, thinking
	}
	keep := partialSuffix(p.thinkBuf, p.close)
	if done {
		keep = 0
	}
	thinking = p.thinkBuf[:len(p.thinkBuf)-keep]
	p.thinkBuf = p.thinkBuf[len(p.thinkBuf)-keep:]
	return "", thinking
}

// partialSuffix is the length of the longest suffix of s that is a proper
// prefix of tag.
func partialSuffix(s, tag string) int {
	for n := min(len(tag)-1, len(s)); n > 0; n-- {
		if strings.HasSuffix(s, tag[:n]) {
			return n
		}
	}
	return 0
}

func (p *outputParser) splitTools(text string, done bool) (string, []api.ToolCall) {
	switch p.toolState {
	case toolPlain:
		return text, nil
	case toolUndecided:
		p.toolBuf += text
		t := strings.TrimLeft(p.toolBuf, " \t\r\n")
		switch {
		case t == "" && !done:
			return "", nil
		case p.toolPrefix != "" && strings.HasPrefix(t, p.toolPrefix),
			strings.HasPrefix(t, "{"), strings.HasPrefix(t, "["):
			p.toolState = toolCollect
		case p.toolPrefix != "" && strings.HasPrefix(p.toolPrefix, t) && !done:
			return "", nil
		default:
			p.toolState = toolPlain
			out := p.toolBuf
			p.toolBuf = ""
			return out, nil
		}
		text = ""
	}
	p.toolBuf += text
	if !done {
		return "", nil
	}
	calls := parseToolCalls(p.toolBuf, p.toolPrefix, p.tools)
	if len(calls) == 0 {
		out := p.toolBuf
		p.toolBuf = ""
		return out, nil
	}
	p.toolBuf = ""
	return "", calls
}

// parseToolCalls finds the tool calls in text: JSON objects (or arrays of
// them) of the form {"name": ..., "arguments": {...}} (also "parameters",
// or nested under "function"), naming one of tools.
func parseToolCalls(text, prefix string, tools []api.Tool) []api.ToolCall {
	known := map[string]bool{}
	for _, t := range tools {
		known[t.Function.Name] = true
	}
	if prefix != "" {
		text = strings.ReplaceAll(text, prefix, " ")
		if strings.HasPrefix(prefix, "<") && strings.HasSuffix(prefix, ">") {
			text = strings.ReplaceAll(text, "</"+prefix[1:], " ")
		}
	}
	var calls []api.ToolCall
	add := func(raw json.RawMessage) {
		var obj struct {
			Name       string          `json:"name"`
			Arguments  json.RawMessage `json:"arguments"`
			Parameters json.RawMessage `json:"parameters"`
			Function   *struct {
				Name      string          `json:"name"`
				Arguments json.RawMessage `json:"arguments"`
			} `json:"function"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			return
		}
		name, args := obj.Name, obj.Arguments
		if len(args) == 0 {
			args = obj.Parameters
		}
		if obj.Function != nil && name == "" {
			name, args = obj.Function.Name, obj.Function.Arguments
		}
		if !known[name] {
			return
		}
		var a api.Arguments
		if len(args) == 0 {
			args = json.RawMessage("{}")
		}
		if a.UnmarshalJSON(args) != nil {
			return
		}
		calls = append(calls, api.ToolCall{Function: api.ToolCallFunction{Index: len(calls), Name: name, Arguments: a}})
	}
	// Scan for JSON values starting at each '{' or '['.
	for i := 0; i < len(text); i++ {
		if text[i] != '{' && text[i] != '[' {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(text[i:]))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			continue
		}
		raw = bytes.TrimSpace(raw)
		if raw[0] == '[' {
			var arr []json.RawMessage
			if json.Unmarshal(raw, &arr) == nil {
				for _, e := range arr {
					add(e)
				}
			}
		} else {
			add(raw)
		}
		i += int(dec.InputOffset()) - 1
		if dec.InputOffset() <= 0 {
			break
		}
	}
	return calls
}
