package server

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/template"
)

// outputParser splits streamed model output into content, thinking and
// tool calls: with the template package's parser, in the model's own
// syntax, or, for a tool call forced by constrained decoding, as the one
// {"name": ..., "arguments": ...} object the grammar made the model write.
type outputParser struct {
	p      *template.Parser
	forced bool
	buf    strings.Builder
	tools  []api.Tool
}

// newOutputParser returns nil when there is nothing to parse.
func newOutputParser(t template.Template, prompt string, think bool, tools []api.Tool, forced bool) *outputParser {
	if forced {
		return &outputParser{forced: true, tools: tools}
	}
	m := t.Markers()
	o := template.ParserOptions{Thinking: think && m.HasThinking(), Tools: len(tools) > 0 && m.HasTools()}
	if !o.Thinking && !o.Tools {
		return nil
	}
	o.StartInThinking = o.Thinking && m.PromptOpensThinking(prompt)
	for _, tool := range tools {
		o.ToolNames = append(o.ToolNames, tool.Function.Name)
	}
	return &outputParser{p: template.NewParser(m, o), tools: tools}
}

// add takes the next piece of model output (done on the last call) and
// returns what can be released.
func (o *outputParser) add(text string, done bool) (content, thinking string, calls []api.ToolCall) {
	if o.forced {
		o.buf.WriteString(text)
		if !done {
			return "", "", nil
		}
		if c, ok := forcedCall(o.buf.String(), o.tools); ok {
			return "", "", []api.ToolCall{c}
		}
		return o.buf.String(), "", nil
	}
	ch := o.p.Add(text)
	if done {
		f := o.p.Finish()
		ch.Content += f.Content
		ch.Thinking += f.Thinking
		ch.ToolCalls = append(ch.ToolCalls, f.ToolCalls...)
	}
	for _, c := range ch.ToolCalls {
		calls = append(calls, apiToolCall(c))
	}
	return ch.Content, ch.Thinking, calls
}

func apiToolCall(c template.ToolCall) api.ToolCall {
	var args api.Arguments
	if err := args.UnmarshalJSON(c.Function.Arguments); err != nil {
		// Arguments that are not an object are passed on as written,
		// under a single key, rather than dropped.
		b, _ := json.Marshal(map[string]json.RawMessage{"value": json.RawMessage(orNull(c.Function.Arguments))})
		args = api.Arguments(b)
	}
	return api.ToolCall{ID: c.ID, Function: api.ToolCallFunction{Index: c.Function.Index, Name: c.Function.Name, Arguments: args}}
}

func orNull(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

// forcedCall reads the call object of a forced tool call.
func forcedCall(text string, tools []api.Tool) (api.ToolCall, bool) {
	var obj struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if json.Unmarshal(bytes.TrimSpace([]byte(text)), &obj) != nil {
		return api.ToolCall{}, false
	}
	known := false
	for _, t := range tools {
		known = known || t.Function.Name == obj.Name
	}
	var args api.Arguments
	if !known || args.UnmarshalJSON(obj.Arguments) != nil {
		return api.ToolCall{}, false
	}
	return api.ToolCall{Function: api.ToolCallFunction{Name: obj.Name, Arguments: args}}, true
}
