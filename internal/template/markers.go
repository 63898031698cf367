package template

import (
	"encoding/json"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// ToolSyntax is how a model writes a tool call after its tool-call marker.
type ToolSyntax int

const (
	// ToolNone: no tool-call syntax is known; output is all content.
	ToolNone ToolSyntax = iota
	// ToolJSON: a JSON value holding one or more {"name": ..., "arguments":
	// ...} objects ("parameters" for Llama 3.x), possibly in an array
	// (Qwen, Hermes, Mistral Nemo, Llama 3.x, Granite).
	ToolJSON
	// ToolNameArgs: the function name, a separator, then the arguments as
	// a JSON object (Mistral Small 3.2 [ARGS], gpt-oss, Kimi K2, DeepSeek).
	ToolNameArgs
	// ToolXML: <function=NAME><parameter=KEY>VALUE</parameter>...</function>
	// (Qwen3-Coder, Nemotron 3).
	ToolXML
)

func (s ToolSyntax) String() string {
	switch s {
	case ToolJSON:
		return "json"
	case ToolNameArgs:
		return "name-args"
	case ToolXML:
		return "xml"
	}
	return "none"
}

// Markers describe the thinking and tool-call syntax of a model's output.
// Whitespace inside a marker matches any run of whitespace in the output
// (including none), and in ToolSep and ToolNext a run of digits matches any
// number (Kimi K2 numbers its calls).
type Markers struct {
	// ThinkOpen and ThinkClose surround reasoning, e.g. <think> </think>.
	ThinkOpen, ThinkClose string
	// ContentOpen is a header the model writes before its answer (gpt-oss
	// "<|channel|>final<|message|>", Command R7B "<|START_RESPONSE|>"); it is
	// dropped from the start of the content.
	ContentOpen string
	// ToolOpen lists the texts that start tool calls. An empty string means
	// the output may also start directly with the call: the JSON value
	// (Llama 3.2) or the function name (functionary v3.2, whose prompt ends
	// with ">>>").
	ToolOpen []string
	// ToolSyntax is the form of the call after the opening marker.
	ToolSyntax ToolSyntax
	// ToolSep lists the texts that may separate the name from the
	// arguments (ToolNameArgs); the earliest match in the output wins.
	// A "\x1a" in a separator matches any identifier (a call id the model
	// writes, as in Mistral's [CALL_ID]...[ARGS]).
	ToolSep []string
	// ToolNext separates one call from the next when calls are written
	// back to back (e.g. "</tool_call><tool_call>"); after a call the
	// parser accepts either ToolNext (another call follows) or ToolClose.
	ToolNext string
	// ToolClose ends the call (or the run of calls); it may be missing at
	// the end of the output.
	ToolClose string
}

// HasThinking reports whether thinking markers are known.
func (m Markers) HasThinking() bool { return m.ThinkOpen != "" && m.ThinkClose != "" }

// HasTools reports whether a tool-call syntax is known.
func (m Markers) HasTools() bool { return m.ToolSyntax != ToolNone }

// PromptOpensThinking reports whether a rendered prompt ends inside an open
// thinking block (as DeepSeek-R1 and QwQ prompts end with "<think>\n"), in
// which case the model's output starts as thinking.
func (m Markers) PromptOpensThinking(prompt string) bool {
	if !m.HasThinking() {
		return false
	}
	i := strings.LastIndex(prompt, m.ThinkOpen)
	if i < 0 {
		return false
	}
	rest := prompt[i+len(m.ThinkOpen):]
	return !strings.Contains(rest, m.ThinkClose) && strings.TrimSpace(rest) == ""
}

// Sentinels of the probe conversations; they appear nowhere else.
const (
	probeFn      = "golem_probe_fn"
	probeArg     = "golem_probe_arg"
	probeVal     = "golem_probe_val"
	probeFn2     = "golem_probe_fn_two"
	probeText    = "golem_probe_text"
	probeThought = "golem_probe_thought"
	probeCallID  = "a1b2c3d4e" // nine alphanumerics, as Mistral templates demand
	probeCallID2 = "f5g6h7i8j"
	// probeSteps bounds each probe rendering; real chat templates need a
	// few thousand steps.
	probeSteps = 300000
)

// renderer is what marker derivation needs from a template.
type renderer interface {
	Render(req *Request) (string, error)
}

func probeCall(name, id string) ToolCall {
	return ToolCall{ID: id, Function: ToolCallFunction{Name: name, Arguments: json.RawMessage(`{"` + probeArg + `": "` + probeVal + `"}`)}}
}

var probeTools = []json.RawMessage{
	json.RawMessage(`{"type": "function", "function": {"name": "` + probeFn + `", "description": "probe", "parameters": {"type": "object", "properties": {"` + probeArg + `": {"type": "string", "description": "probe"}}, "required": ["` + probeArg + `"]}}}`),
	json.RawMessage(`{"type": "function", "function": {"name": "` + probeFn2 + `", "description": "probe", "parameters": {"type": "object", "properties": {"` + probeArg + `": {"type": "string", "description": "probe"}}, "required": ["` + probeArg + `"]}}}`),
}

// assistantOutput renders [user, assistant] and returns the part of the
// text that the model itself would have produced: what follows the
// generation prompt of [user].
func assistantOutput(t renderer, asst Message, think bool) (string, bool) {
	out, _, ok := assistantOutputExact(t, asst, think)
	return out, ok
}

// assistantOutputExact is assistantOutput that also reports whether the
// generation prompt was an exact prefix of the rendered turn (otherwise
// the split point was guessed from the common prefix).
func assistantOutputExact(t renderer, asst Message, think bool) (string, bool, bool) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	user := Message{Role: "user", Content: "golem probe question"}
	thinkOpt := &think
	prompt, err := t.Render(&Request{Messages: []Message{user}, Tools: probeTools, AddGenerationPrompt: true, Think: thinkOpt, Now: now, maxSteps: probeSteps})
	if err != nil {
		return "", false, false
	}
	full, err := t.Render(&Request{Messages: []Message{user, asst}, Tools: probeTools, AddGenerationPrompt: false, Think: thinkOpt, Now: now, maxSteps: probeSteps})
	if err != nil {
		return "", false, false
	}
	if strings.HasPrefix(full, prompt) {
		return full[len(prompt):], true, true
	}
	// The generation prompt is not a prefix (QwQ's ends with "<think>\n",
	// which history turns lack); fall back to the common prefix, cut back
	// to the start of any special token it ends inside.
	n := tokenStart(full, commonPrefix(prompt, full))
	return full[n:], false, true
}

// tokenStart moves a cut point k of s back to the start of a "<...>" or
// "[...]" token that it falls inside, so markers are not split.
func tokenStart(s string, k int) int {
	for i := k - 1; i >= 0; i-- {
		switch s[i] {
		case '>', ']', '\n':
			return k
		case '<', '[':
			return i
		}
	}
	return k
}

// tokenEnd moves the start q of a common suffix of s forward past the end
// of a "<...>" or "[...]" token it falls inside.
func tokenEnd(s string, q int) int {
	for i := q; i < len(s); i++ {
		switch s[i] {
		case '<', '[', '\n':
			return q
		case '>', ']':
			return i + 1
		}
	}
	return q
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func commonSuffix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}

// deriveMarkers finds the thinking and tool-call markers by rendering
// probe conversations through the template and looking at where the
// probe's reasoning, function name and arguments land (the rule is
// documented on Markers and in deriveTool).
func deriveMarkers(t renderer) Markers {
	var m Markers
	text, exact, ok := assistantOutputExact(t, Message{Role: "assistant", Content: probeText}, true)
	if !ok {
		return m
	}
	if exact {
		if i := strings.Index(text, probeText); i > 0 {
			m.ContentOpen = strings.TrimSpace(text[:i])
		}
	}
	if th, exactTh, ok := assistantOutputExact(t, Message{Role: "assistant", Content: probeText, Thinking: probeThought}, true); ok {
		i := strings.Index(th, probeThought)
		j := strings.Index(th, probeText)
		if i >= 0 && j > i {
			open := strings.TrimSpace(th[:i])
			if !exactTh {
				// Without a reliable start, keep only what differs from
				// the plain-text turn.
				if k := tokenStart(th, commonPrefix(th, text)); k <= i {
					open = strings.TrimSpace(th[k:i])
				}
			}
			closing := strings.TrimSpace(th[i+len(probeThought) : j])
			if open != "" && closing != "" {
				m.ThinkOpen, m.ThinkClose = open, closing
			}
		}
	}
	// A plain answer rendered with an (empty) thinking block in front is
	// not a content header.
	if m.ContentOpen != "" && (strings.Contains(m.ContentOpen, "think") || (m.ThinkOpen != "" && strings.Contains(m.ContentOpen, m.ThinkOpen))) {
		m.ContentOpen = ""
	}
	one, ok := assistantOutput(t, Message{Role: "assistant", ToolCalls: []ToolCall{probeCall(probeFn, probeCallID)}}, true)
	if !ok || !strings.Contains(one, probeFn) {
		return m
	}
	two, _ := assistantOutput(t, Message{Role: "assistant", ToolCalls: []ToolCall{probeCall(probeFn, probeCallID), probeCall(probeFn2, probeCallID2)}}, true)
	deriveTool(&m, one, two, text)
	return m
}

// tidyMarkers separates markers that the probes saw run together:
//
//   - a closing thinking marker that ends with the content header (gpt-oss
//     "<|end|><|start|>assistant<|channel|>final<|message|>") keeps only the
//     part before the header, so a tool call after thinking is still found;
//   - a tool-call marker rendered after an empty thinking block (Command
//     R7B "<|START_THINKING|><|END_THINKING|><|START_ACTION|>") keeps only
//     the part after the thinking block, which the parser handles first.
func tidyMarkers(m *Markers) {
	if m.ContentOpen != "" && len(m.ThinkClose) > len(m.ContentOpen) && strings.HasSuffix(m.ThinkClose, m.ContentOpen) {
		m.ThinkClose = strings.TrimSpace(strings.TrimSuffix(m.ThinkClose, m.ContentOpen))
	}
	if m.HasThinking() {
		for i, o := range m.ToolOpen {
			if k := strings.LastIndex(o, m.ThinkClose); k >= 0 && strings.Contains(o[:k], m.ThinkOpen) {
				m.ToolOpen[i] = strings.TrimSpace(o[k+len(m.ThinkClose):])
			}
		}
	}
}

// deriveTool locates the probe call in the rendered tool-call turn (one
// call, and two calls) after removing what it shares with a plain-text turn
// (turn header and end). The call is then one of:
//
//   - a JSON value containing the name: ToolJSON, with ToolOpen the text
//     before the value and ToolClose the text after it;
//   - <function=NAME> with <parameter=...> children: ToolXML;
//   - NAME, separator, JSON arguments: ToolNameArgs, with ToolOpen the text
//     before the name, ToolSep the separator and ToolClose the text after.
//
// With two calls, the text between the first call's end and the second
// call's name gives ToolNext.
func deriveTool(m *Markers, one, two, text string) {
	p := tokenStart(one, commonPrefix(one, text))
	q := tokenEnd(one, len(one)-commonSuffix(one[p:], text[min(p, len(text)):]))
	call := one[p:q]
	ni := strings.Index(call, probeFn)
	if ni < 0 {
		return
	}
	if start, end, ok := enclosingJSON(call, ni); ok {
		m.ToolSyntax = ToolJSON
		m.ToolOpen = []string{strings.TrimSpace(call[:start])}
		m.ToolClose = strings.TrimSpace(call[end:])
		if two != "" {
			if a, b := strings.Index(two, probeFn), strings.Index(two, probeFn2); a >= 0 && b > a {
				// The second value starts at the '{' or '[' that opens it.
				if s2, _, ok := enclosingJSON(two, b); ok {
					if _, e1, ok := enclosingJSON(two, a); ok && e1 <= s2 {
						if next := strings.TrimSpace(two[e1:s2]); next != "" && next != "," {
							m.ToolNext = next
						}
					}
				}
			}
		}
		return
	}
	if strings.Contains(call, "<function="+probeFn+">") && strings.Contains(call, "<parameter="+probeArg+">") {
		fi := strings.Index(call, "<function=")
		m.ToolSyntax = ToolXML
		m.ToolOpen = []string{strings.TrimSpace(call[:fi])}
		if ci := strings.LastIndex(call, "</function>"); ci >= 0 {
			m.ToolClose = strings.TrimSpace(call[ci+len("</function>"):])
		}
		if two != "" {
			a := strings.Index(two, "</function>")
			b := strings.Index(two, "<function="+probeFn2)
			if a >= 0 && b > a {
				if next := strings.TrimSpace(two[a+len("</function>") : b]); next != "" {
					m.ToolNext = next
				}
			}
		}
		return
	}
	// Name, separator, JSON arguments.
	ai := strings.Index(call, probeArg)
	if ai < ni {
		return
	}
	as := strings.LastIndex(call[:ai], "{")
	if as < ni+len(probeFn) {
		return
	}
	ae := jsonEnd(call, as)
	if ae < 0 {
		return
	}
	m.ToolSyntax = ToolNameArgs
	open := strings.TrimSpace(call[:ni])
	if open == "" {
		// The marker may be shared with plain answers (functionary's
		// ">>>all"): take it from the full turn.
		open = strings.TrimSpace(one[:strings.Index(one, probeFn)])
	}
	m.ToolOpen = []string{open}
	sep := strings.TrimSpace(call[ni+len(probeFn) : as])
	if strings.Contains(sep, probeCallID) {
		sep = strings.ReplaceAll(sep, probeCallID, "\x1a")
		m.ToolSep = []string{sep}
		if short := strings.TrimSpace(sep[strings.LastIndex(sep, "\x1a")+1:]); short != "" {
			m.ToolSep = append(m.ToolSep, short)
		}
	} else if sep != "" {
		m.ToolSep = []string{sep}
	}
	m.ToolClose = strings.TrimSpace(call[ae:])
	if two != "" {
		a := strings.Index(two, probeFn)
		b := strings.Index(two, probeFn2)
		if a >= 0 && b > a {
			if as1 := strings.Index(two[a:], "{"); as1 >= 0 {
				if ae1 := jsonEnd(two, a+as1); ae1 >= 0 && ae1 <= b {
					m.ToolNext = strings.TrimSpace(two[ae1:b])
				}
			}
		}
	}
	if m.ToolOpen[0] == "" && len(m.ToolSep) == 0 && !strings.HasPrefix(call, probeFn) {
		m.ToolSyntax = ToolNone
		m.ToolOpen, m.ToolNext, m.ToolClose = nil, "", ""
	}
}

// enclosingJSON finds the outermost JSON object or array in s that contains
// position at and parses, returning its bounds.
func enclosingJSON(s string, at int) (int, int, bool) {
	best := -1
	bestEnd := -1
	for i := at; i >= 0; i-- {
		if s[i] != '{' && s[i] != '[' {
			continue
		}
		e := jsonEnd(s, i)
		if e > at && json.Valid([]byte(s[i:e])) {
			best, bestEnd = i, e
		}
	}
	return best, bestEnd, best >= 0
}

// jsonEnd returns the index just after the JSON object or array starting
// at s[i], or -1 if it does not end in s.
func jsonEnd(s string, i int) int {
	depth := 0
	inStr, esc := false, false
	for j := i; j < len(s); j++ {
		c := s[j]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// knownMarkers fills in markers the probes could not find, from marker
// texts well-known model families write, when the template mentions them.
func knownMarkers(m *Markers, src string) {
	if !m.HasThinking() {
		for _, pair := range [][2]string{
			{"<think>", "</think>"},
			{"<seed:think>", "</seed:think>"},
			{"<|channel|>analysis<|message|>", "<|end|>"},
			{"<|START_THINKING|>", "<|END_THINKING|>"},
		} {
			if strings.Contains(src, pair[0]) && strings.Contains(src, pair[1]) {
				m.ThinkOpen, m.ThinkClose = pair[0], pair[1]
				break
			}
		}
	}
	if !m.HasTools() {
		for _, k := range []struct {
			open, close string
			syntax      ToolSyntax
		}{
			{"<tool_call>", "</tool_call>", ToolJSON},
			{"[TOOL_CALLS]", "", ToolJSON},
			{"<|tool_call|>", "", ToolJSON},
			{"<|python_tag|>", "", ToolJSON},
		} {
			if strings.Contains(src, k.open) {
				m.ToolSyntax, m.ToolOpen, m.ToolClose = k.syntax, []string{k.open}, k.close
				break
			}
		}
	}
	// Llama 3.x writes custom calls as bare JSON but may prefix them with
	// <|python_tag|>.
	if m.ToolSyntax == ToolJSON && strings.Contains(src, "<|python_tag|>") {
		has := false
		for _, o := range m.ToolOpen {
			has = has || o == "<|python_tag|>"
		}
		if !has {
			m.ToolOpen = append(m.ToolOpen, "<|python_tag|>")
		}
	}
}

func jinjaMarkers(t *JinjaTemplate) Markers {
	m := deriveMarkers(t)
	knownMarkers(&m, t.src)
	tidyMarkers(&m)
	return m
}

// goMarkers derives markers for an Ollama template by probing, and falls
// back to Ollama's own rules: the tool tag is the first text inside
// {{ if .ToolCalls }} (up to any "{"), defaulting to "{"; the thinking tags
// are the first and last text of the list around .Thinking in the
// .Messages loop.
func goMarkers(t *template.Template) Markers {
	g := &GoTemplate{tmpl: t, vars: templateVars(t)}
	m := deriveMarkers(g)
	if !m.HasTools() {
		if tag := goToolTag(t.Tree.Root); tag != "" {
			m.ToolSyntax = ToolJSON
			m.ToolOpen = []string{tag}
			if tag == "{" {
				m.ToolOpen = []string{""}
			}
		}
	}
	if !m.HasThinking() {
		m.ThinkOpen, m.ThinkClose = goThinkTags(t.Tree.Root)
		if m.ThinkOpen == "" || m.ThinkClose == "" {
			m.ThinkOpen, m.ThinkClose = "", ""
		}
	}
	tidyMarkers(&m)
	return m
}

// goToolTag is Ollama's rule: the first text node inside the first
// {{ if }} whose condition mentions .ToolCalls, trimmed and cut at "{".
func goToolTag(root *parse.ListNode) string {
	var find func(nodes []parse.Node) *parse.IfNode
	find = func(nodes []parse.Node) *parse.IfNode {
		for _, n := range nodes {
			switch x := n.(type) {
			case *parse.IfNode:
				for _, c := range x.Pipe.Cmds {
					for _, a := range c.Args {
						if f, ok := a.(*parse.FieldNode); ok {
							for _, id := range f.Ident {
								if id == "ToolCalls" {
									return x
								}
							}
						}
					}
				}
				if r := find(x.List.Nodes); r != nil {
					return r
				}
				if x.ElseList != nil {
					if r := find(x.ElseList.Nodes); r != nil {
						return r
					}
				}
			case *parse.RangeNode:
				if r := find(x.List.Nodes); r != nil {
					return r
				}
			case *parse.WithNode:
				if r := find(x.List.Nodes); r != nil {
					return r
				}
			}
		}
		return nil
	}
	ifn := find(root.Nodes)
	if ifn == nil {
		return ""
	}
	var text func(nodes []parse.Node) string
	text = func(nodes []parse.Node) string {
		for _, n := range nodes {
			switch x := n.(type) {
			case *parse.TextNode:
				return string(x.Text)
			case *parse.ActionNode:
				return ""
			case *parse.IfNode:
				if s := text(x.List.Nodes); s != "" {
					return s
				}
				return ""
			case *parse.RangeNode:
				if s := text(x.List.Nodes); s != "" {
					return s
				}
				return ""
			}
		}
		return ""
	}
	tag := strings.TrimSpace(text(ifn.List.Nodes))
	tag, _, _ = strings.Cut(tag, "{")
	if tag == "" {
		return "{"
	}
	return tag
}

// goThinkTags is Ollama's thinking-tag rule: inside a range over .Messages,
// the list holding {{ .Thinking }} starts and ends with the tags.
func goThinkTags(root *parse.ListNode) (string, string) {
	var open, closing string
	var visit func(n parse.Node, inRange bool, list *parse.ListNode)
	visit = func(n parse.Node, inRange bool, list *parse.ListNode) {
		if open != "" {
			return
		}
		switch x := n.(type) {
		case *parse.ListNode:
			for _, c := range x.Nodes {
				visit(c, inRange, x)
			}
		case *parse.RangeNode:
			uses := false
			for _, c := range x.Pipe.Cmds {
				for _, a := range c.Args {
					if f, ok := a.(*parse.FieldNode); ok && len(f.Ident) > 0 && f.Ident[0] == "Messages" {
						uses = true
					}
				}
			}
			visit(x.List, inRange || uses, list)
			if x.ElseList != nil {
				visit(x.ElseList, inRange, list)
			}
		case *parse.IfNode:
			visit(x.List, inRange, list)
			if x.ElseList != nil {
				visit(x.ElseList, inRange, list)
			}
		case *parse.WithNode:
			visit(x.List, inRange, list)
		case *parse.ActionNode:
			if !inRange || list == nil || x.Pipe == nil {
				return
			}
			for _, c := range x.Pipe.Cmds {
				for _, a := range c.Args {
					if f, ok := a.(*parse.FieldNode); ok && len(f.Ident) > 0 && f.Ident[0] == "Thinking" {
						if t, ok := list.Nodes[0].(*parse.TextNode); ok {
							open = strings.TrimSpace(string(t.Text))
						}
						if t, ok := list.Nodes[len(list.Nodes)-1].(*parse.TextNode); ok {
							closing = strings.TrimSpace(string(t.Text))
						}
					}
				}
			}
		}
	}
	visit(root, false, nil)
	return open, closing
}
