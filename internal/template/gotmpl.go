package template

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// GoTemplate is an Ollama prompt template: Go text/template source as in a
// Modelfile's TEMPLATE, executed with the data Ollama passes.
type GoTemplate struct {
	src     string
	tmpl    *template.Template
	vars    []string // lower-cased field and variable names the template uses
	markers Markers
}

// goFuncs are the functions Ollama adds to its templates. currentDate and
// yesterdayDate are rebound per rendering to the request's clock.
func goFuncs(now time.Time) template.FuncMap {
	return template.FuncMap{
		"json": func(v any) string {
			b, _ := json.Marshal(v)
			return string(b)
		},
		"currentDate":   func(args ...string) string { return now.Format("2006-01-02") },
		"yesterdayDate": func(args ...string) string { return now.AddDate(0, 0, -1).Format("2006-01-02") },
		"toTypeScriptType": func(v any) string {
			switch p := v.(type) {
			case goToolProperty:
				return p.typeScript()
			case *goToolProperty:
				if p != nil {
					return p.typeScript()
				}
			}
			return "any"
		},
	}
}

// ParseGo parses an Ollama Go template. As Ollama does, a template that
// mentions neither .Messages nor .Response gets {{ .Response }} appended,
// so a trailing assistant message is continued.
func ParseGo(src string) (*GoTemplate, error) {
	t, err := template.New("").Option("missingkey=zero").Funcs(goFuncs(time.Time{})).Parse(src)
	if err != nil {
		return nil, fmt.Errorf("go template: %w", err)
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			if err := checkGoNodes(tt.Tree.Root); err != nil {
				return nil, fmt.Errorf("go template: %w", err)
			}
		}
	}
	g := &GoTemplate{src: src, tmpl: t}
	g.vars = templateVars(t)
	if !slices.Contains(g.vars, "messages") && !slices.Contains(g.vars, "response") {
		t.Tree.Root.Nodes = append(t.Tree.Root.Nodes, responseNode())
	}
	g.markers = goMarkers(t)
	return g, nil
}

// Source returns the template text.
func (g *GoTemplate) Source() string { return g.src }

// Markers returns the output markers derived from the template.
func (g *GoTemplate) Markers() Markers { return g.markers }

// Vars returns the lower-cased names of the fields and variables the
// template refers to, sorted.
func (g *GoTemplate) Vars() []string { return slices.Clone(g.vars) }

// Limits that keep a hostile Go template (a Modelfile TEMPLATE, or a
// per-request template override) from hanging the server or exhausting
// memory. text/template has no step budget, so the dangerous constructs are
// refused at parse time: integer literals large enough to drive a long
// "range" over a number, and printf widths or precisions large enough to
// build big strings. Output is capped while executing.
const (
	goMaxNumber = 100000
	goMaxOutput = 16 << 20
)

var wideFormat = regexp.MustCompile(`%[-+# 0]*([1-9]\d{3,}|\*)|\.0*([1-9]\d{3,}|\*)`)

// checkGoNodes applies the parse-time limits to a template tree.
func checkGoNodes(n parse.Node) error {
	var err error
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		if err != nil || n == nil {
			return
		}
		switch x := n.(type) {
		case *parse.ListNode:
			if x == nil {
				return
			}
			for _, c := range x.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(x.Pipe)
		case *parse.IfNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.RangeNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.WithNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.TemplateNode:
			walk(x.Pipe)
		case *parse.PipeNode:
			if x == nil {
				return
			}
			for _, c := range x.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range x.Args {
				walk(a)
			}
		case *parse.ChainNode:
			walk(x.Node)
		case *parse.NumberNode:
			if (x.IsInt && (x.Int64 > goMaxNumber || x.Int64 < -goMaxNumber)) || (x.IsUint && x.Uint64 > goMaxNumber) {
				err = fmt.Errorf("number %s is larger than %d", x.Text, goMaxNumber)
			}
		case *parse.StringNode:
			if wideFormat.MatchString(x.Text) {
				err = fmt.Errorf("format %s has a width or precision that is too large", x.Quoted)
			}
		}
	}
	walk(n)
	return err
}

// limitedBuffer is a bytes.Buffer that refuses to grow past a limit.
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, fmt.Errorf("template output exceeded %d bytes", b.limit)
	}
	return b.Buffer.Write(p)
}

func responseNode() *parse.ActionNode {
	return &parse.ActionNode{
		NodeType: parse.NodeAction,
		Pipe: &parse.PipeNode{
			NodeType: parse.NodePipe,
			Cmds: []*parse.CommandNode{{
				NodeType: parse.NodeCommand,
				Args:     []parse.Node{&parse.FieldNode{NodeType: parse.NodeField, Ident: []string{"Response"}}},
			}},
		},
	}
}

// templateVars collects identifiers from every template in the set.
func templateVars(t *template.Template) []string {
	set := map[string]bool{}
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		for _, n := range tt.Tree.Root.Nodes {
			for _, id := range identifiers(n) {
				set[strings.ToLower(id)] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// identifiers lists field and variable names in actions, branch pipelines
// and bodies (the same walk Ollama uses to pick a rendering path).
func identifiers(n parse.Node) []string {
	switch n := n.(type) {
	case *parse.ListNode:
		var out []string
		for _, c := range n.Nodes {
			out = append(out, identifiers(c)...)
		}
		return out
	case *parse.TemplateNode:
		if n.Pipe != nil {
			return identifiers(n.Pipe)
		}
	case *parse.ActionNode:
		if n.Pipe != nil {
			return identifiers(n.Pipe)
		}
	case *parse.IfNode:
		return branchIdentifiers(&n.BranchNode)
	case *parse.RangeNode:
		return branchIdentifiers(&n.BranchNode)
	case *parse.WithNode:
		return branchIdentifiers(&n.BranchNode)
	case *parse.PipeNode:
		var out []string
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				out = append(out, identifiers(a)...)
			}
		}
		return out
	case *parse.FieldNode:
		return n.Ident
	case *parse.VariableNode:
		return n.Ident
	}
	return nil
}

func branchIdentifiers(b *parse.BranchNode) []string {
	var out []string
	if b.Pipe != nil {
		out = identifiers(b.Pipe)
	}
	if b.List != nil {
		out = append(out, identifiers(b.List)...)
	}
	if b.ElseList != nil {
		out = append(out, identifiers(b.ElseList)...)
	}
	return out
}

// Render executes the template the way Ollama does:
//
//   - with Prompt and Suffix set: once, for fill-in-the-middle;
//   - if the template uses .Messages: once, with all messages (consecutive
//     messages of one role merged, system messages joined into .System);
//   - otherwise (a legacy template): once per exchange with .System,
//     .Prompt and .Response, the last time cut after .Response so the
//     prompt ends where the assistant continues.
func (g *GoTemplate) Render(req *Request) (string, error) {
	now := req.now()
	tmpl, err := g.tmpl.Clone()
	if err != nil {
		return "", fmt.Errorf("go template: %w", err)
	}
	tmpl.Funcs(goFuncs(now))
	think := req.Think != nil && *req.Think
	isThinkSet := req.Think != nil
	b := limitedBuffer{limit: goMaxOutput}
	exec := func(t *template.Template, data map[string]any) error {
		if err := t.Execute(&b, data); err != nil {
			return fmt.Errorf("go template: %w", err)
		}
		return nil
	}
	if req.Prompt != "" && req.Suffix != "" {
		err := exec(tmpl, map[string]any{
			"Prompt": req.Prompt, "Suffix": req.Suffix, "Response": "",
			"Think": think, "ThinkLevel": req.ThinkLevel, "IsThinkSet": isThinkSet,
		})
		return b.String(), err
	}
	system, msgs := collate(req.Messages)
	if slices.Contains(g.vars, "messages") {
		tools, err := goToolsFrom(req.Tools)
		if err != nil {
			return "", err
		}
		gm, err := goMessagesFrom(msgs)
		if err != nil {
			return "", err
		}
		err = exec(tmpl, map[string]any{
			"System": system, "Messages": gm, "Tools": tools, "Response": "",
			"Think": think, "ThinkLevel": req.ThinkLevel, "IsThinkSet": isThinkSet,
		})
		return b.String(), err
	}

	var sys, prompt, response string
	legacy := func(t *template.Template) error {
		err := exec(t, map[string]any{
			"System": sys, "Prompt": prompt, "Response": response,
			"Think": think, "ThinkLevel": req.ThinkLevel, "IsThinkSet": isThinkSet,
		})
		sys, prompt, response = "", "", ""
		return err
	}
	for _, m := range msgs {
		switch m.Role {
		case "system":
			if prompt != "" || response != "" {
				if err := legacy(tmpl); err != nil {
					return "", err
				}
			}
			sys = m.Content
		case "user":
			if response != "" {
				if err := legacy(tmpl); err != nil {
					return "", err
				}
			}
			prompt = m.Content
		case "assistant":
			response = m.Content
		}
	}
	cut, err := cutAfterResponse(tmpl)
	if err != nil {
		return "", err
	}
	if err := legacy(cut); err != nil {
		return "", err
	}
	return b.String(), nil
}

// cutAfterResponse returns a copy of the template in which every node
// after the first {{ .Response }} action is removed.
func cutAfterResponse(t *template.Template) (*template.Template, error) {
	root := t.Tree.Root.CopyList()
	cut := false
	var walk func(n parse.Node) parse.Node
	walk = func(n parse.Node) parse.Node {
		if f, ok := n.(*parse.FieldNode); ok && slices.Contains(f.Ident, "Response") {
			cut = true
			return n
		}
		if cut {
			return nil
		}
		switch x := n.(type) {
		case *parse.ListNode:
			var kept []parse.Node
			for _, c := range x.Nodes {
				if k := walk(c); k != nil {
					kept = append(kept, k)
				}
			}
			x.Nodes = kept
		case *parse.IfNode:
			walkBranch(&x.BranchNode, walk)
		case *parse.RangeNode:
			walkBranch(&x.BranchNode, walk)
		case *parse.WithNode:
			walkBranch(&x.BranchNode, walk)
		case *parse.ActionNode:
			p := walk(x.Pipe)
			if p == nil {
				return nil
			}
			x.Pipe = p.(*parse.PipeNode)
		case *parse.PipeNode:
			var cmds []*parse.CommandNode
			for _, c := range x.Cmds {
				var args []parse.Node
				for _, a := range c.Args {
					if k := walk(a); k != nil {
						args = append(args, k)
					}
				}
				if len(args) == 0 {
					return nil
				}
				c.Args = args
				cmds = append(cmds, c)
			}
			if len(cmds) == 0 {
				return nil
			}
			x.Cmds = cmds
		}
		return n
	}
	walk(root)
	c, err := t.Clone()
	if err != nil {
		return nil, fmt.Errorf("go template: %w", err)
	}
	return c.AddParseTree(c.Name(), &parse.Tree{Name: c.Name(), Root: root})
}

func walkBranch(b *parse.BranchNode, walk func(parse.Node) parse.Node) {
	if b.List != nil {
		walk(b.List)
	}
	if b.ElseList != nil {
		walk(b.ElseList)
	}
}

// collate joins the system messages into one system text and merges
// consecutive messages of the same role (tool results excepted), as Ollama
// does before executing a template. The input is not modified.
func collate(msgs []Message) (string, []Message) {
	var system []string
	var out []Message
	for _, m := range msgs {
		if m.Role == "system" {
			system = append(system, m.Content)
		}
		if n := len(out); n > 0 && out[n-1].Role == m.Role && m.Role != "tool" {
			out[n-1].Content += "\n\n" + m.Content
			continue
		}
		out = append(out, m)
	}
	return strings.Join(system, "\n\n"), out
}

// The data types below give Go templates the field names and printed forms
// of Ollama's template data: maps and tool definitions print as JSON.

type goMessage struct {
	Role       string
	Content    string
	Thinking   string
	Images     [][]byte
	ToolCalls  []goToolCall
	ToolName   string
	ToolCallID string
}

type goToolCall struct {
	ID       string
	Function goToolCallFunction
}

type goToolCallFunction struct {
	Index     int
	Name      string
	Arguments goArgs
}

// goArgs are tool-call arguments; they range in sorted key order and print
// as JSON.
type goArgs map[string]any

func (a goArgs) String() string {
	if a == nil {
		return "{}"
	}
	b, _ := json.Marshal(map[string]any(a))
	return string(b)
}

func goMessagesFrom(msgs []Message) ([]*goMessage, error) {
	out := make([]*goMessage, len(msgs))
	for i, m := range msgs {
		gm := &goMessage{Role: m.Role, Content: m.Content, Thinking: m.Thinking, Images: m.Images, ToolName: m.ToolName, ToolCallID: m.ToolCallID}
		for j, tc := range m.ToolCalls {
			args, err := decodeArgs(tc.Function.Arguments)
			if err != nil {
				return nil, fmt.Errorf("message %d, tool call %d: %w", i, j, err)
			}
			gm.ToolCalls = append(gm.ToolCalls, goToolCall{ID: tc.ID, Function: goToolCallFunction{Index: tc.Function.Index, Name: tc.Function.Name, Arguments: args}})
		}
		out[i] = gm
	}
	return out, nil
}

// decodeArgs decodes a JSON object (or a JSON string holding one).
func decodeArgs(raw json.RawMessage) (goArgs, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return goArgs{}, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("arguments are not valid JSON: %w", err)
	}
	if s, ok := v.(string); ok {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) == nil {
			return goArgs(m), nil
		}
		return goArgs{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("arguments must be a JSON object")
	}
	return goArgs(m), nil
}

type goTools []goTool

func (t goTools) String() string {
	b, _ := json.Marshal([]goTool(t))
	return string(b)
}

type goTool struct {
	Type     string         `json:"type"`
	Items    any            `json:"items,omitempty"`
	Function goToolFunction `json:"function"`
}

func (t goTool) String() string {
	b, _ := json.Marshal(t)
	return string(b)
}

type goToolFunction struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Parameters  goToolParams `json:"parameters"`
}

func (f goToolFunction) String() string {
	b, _ := json.Marshal(f)
	return string(b)
}

type goToolParams struct {
	Type       string       `json:"type"`
	Defs       any          `json:"$defs,omitempty"`
	Items      any          `json:"items,omitempty"`
	Required   []string     `json:"required,omitempty"`
	Properties goProperties `json:"properties"`
}

// goProperties are a tool's parameter schemas; they range in sorted key
// order and print as JSON.
type goProperties map[string]goToolProperty

func (p goProperties) String() string {
	if p == nil {
		return "{}"
	}
	b, _ := json.Marshal(map[string]goToolProperty(p))
	return string(b)
}

type goToolProperty struct {
	AnyOf       []goToolProperty `json:"anyOf,omitempty"`
	Type        goPropertyType   `json:"type,omitempty"`
	Items       any              `json:"items,omitempty"`
	Description string           `json:"description,omitempty"`
	Enum        []any            `json:"enum,omitempty"`
	Properties  goProperties     `json:"properties,omitempty"`
	Required    []string         `json:"required,omitempty"`
}

// goPropertyType is a JSON Schema "type": one name or a list of names.
type goPropertyType []string

func (t *goPropertyType) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*t = goPropertyType{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("property type must be a string or a list of strings")
	}
	*t = list
	return nil
}

func (t goPropertyType) MarshalJSON() ([]byte, error) {
	if len(t) == 1 {
		return json.Marshal(t[0])
	}
	return json.Marshal([]string(t))
}

func (t goPropertyType) String() string {
	if len(t) == 1 {
		return t[0]
	}
	if len(t) == 0 {
		return ""
	}
	return fmt.Sprintf("%v", []string(t))
}

// typeScript renders the property's type as a TypeScript type, as Ollama's
// toTypeScriptType template function does.
func (p goToolProperty) typeScript() string {
	if len(p.AnyOf) > 0 {
		parts := make([]string, len(p.AnyOf))
		for i, a := range p.AnyOf {
			parts[i] = a.typeScript()
		}
		return strings.Join(parts, " | ")
	}
	if len(p.Type) == 0 {
		return "any"
	}
	parts := make([]string, len(p.Type))
	for i, t := range p.Type {
		switch t {
		case "string":
			parts[i] = "string"
		case "number", "integer":
			parts[i] = "number"
		case "boolean":
			parts[i] = "boolean"
		case "array":
			parts[i] = "any[]"
		case "object":
			parts[i] = "Record<string, any>"
		case "null":
			parts[i] = "null"
		default:
			parts[i] = "any"
		}
	}
	return strings.Join(parts, " | ")
}

func goToolsFrom(raw []json.RawMessage) (goTools, error) {
	if raw == nil {
		return nil, nil
	}
	out := make(goTools, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			return nil, fmt.Errorf("tool %d: %w", i, err)
		}
	}
	return out, nil
}
