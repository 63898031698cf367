package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/golem-llm/golem/api"
)

// templateValues is what a chat template renders.
type templateValues struct {
	Messages []api.Message
	Tools    []api.Tool
	Think    *api.ThinkValue
	// Prompt and Suffix are set instead of Messages for fill-in-the-middle
	// generate requests.
	Prompt, Suffix string
}

// promptTemplate renders a conversation as the prompt text a model was
// trained on.
type promptTemplate interface {
	Render(v templateValues) (string, error)
	// Text is the template source, for capability detection.
	Text() string
}

// defaultTemplate is what Ollama uses for a model without one.
const defaultTemplate = "{{ .Prompt }}"

// goTemplate is an Ollama Modelfile TEMPLATE: Go text/template with
// .System, .Prompt, .Response, .Messages, .Tools, .Think.
type goTemplate struct {
	src  string
	tmpl *template.Template
}

var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	"currentDate":   func(...string) string { return time.Now().Format("2006-01-02") },
	"yesterdayDate": func(...string) string { return time.Now().AddDate(0, 0, -1).Format("2006-01-02") },
	"toTypeScriptType": func(v any) string {
		m, _ := v.(map[string]any)
		switch t := m["type"].(type) {
		case string:
			return tsType(t)
		case []any:
			var parts []string
			for _, e := range t {
				s, _ := e.(string)
				parts = append(parts, tsType(s))
			}
			return strings.Join(parts, " | ")
		}
		return "any"
	},
}

func tsType(t string) string {
	switch t {
	case "string", "boolean", "null":
		return t
	case "number", "integer":
		return "number"
	case "array":
		return "any[]"
	case "object":
		return "Record<string, any>"
	}
	return "any"
}

func parseGoTemplate(src string) (*goTemplate, error) {
	t, err := template.New("").Option("missingkey=zero").Funcs(templateFuncs).Parse(src)
	if err != nil {
		return nil, fmt.Errorf("template: %v", err)
	}
	return &goTemplate{src: src, tmpl: t}, nil
}

func (g *goTemplate) Text() string { return g.src }

func (g *goTemplate) Render(v templateValues) (string, error) {
	think := v.Think.Enabled()
	base := map[string]any{"Think": think, "ThinkLevel": v.Think.Level(), "IsThinkSet": v.Think != nil}
	with := func(kv map[string]any) map[string]any {
		out := map[string]any{}
		for k, x := range base {
			out[k] = x
		}
		for k, x := range kv {
			out[k] = x
		}
		return out
	}
	var b bytes.Buffer
	if v.Suffix != "" {
		err := g.tmpl.Execute(&b, with(map[string]any{"Prompt": v.Prompt, "Suffix": v.Suffix, "Response": ""}))
		return b.String(), err
	}
	system, msgs := collate(v.Messages)
	if strings.Contains(g.src, ".Messages") {
		err := g.tmpl.Execute(&b, with(map[string]any{
			"System": system, "Messages": templateMessages(msgs), "Tools": templateTools(v.Tools), "Response": "",
		}))
		return b.String(), err
	}
	// Legacy templates see one exchange at a time: .System, .Prompt and
	// .Response; the last one is cut where its .Response would go.
	var sys, prompt, response string
	exec := func() error {
		err := g.tmpl.Execute(&b, with(map[string]any{"System": sys, "Prompt": prompt, "Response": response}))
		sys, prompt, response = "", "", ""
		return err
	}
	for _, m := range msgs {
		switch m.Role {
		case "system":
			if prompt != "" || response != "" {
				if err := exec(); err != nil {
					return "", err
				}
			}
			sys = m.Content
		case "user":
			if response != "" {
				if err := exec(); err != nil {
					return "", err
				}
			}
			prompt = m.Content
		case "assistant":
			response = m.Content
		}
	}
	const marker = "\x00golem-response\x00"
	var last bytes.Buffer
	if err := g.tmpl.Execute(&last, with(map[string]any{"System": sys, "Prompt": prompt, "Response": marker})); err != nil {
		return "", err
	}
	out := last.String()
	if i := strings.Index(out, marker); i >= 0 {
		out = out[:i] + response
	}
	b.WriteString(out)
	return b.String(), nil
}

// collate joins the system messages and merges consecutive messages of
// the same role (tool results stay separate), as Ollama does before
// rendering.
func collate(msgs []api.Message) (string, []api.Message) {
	var system []string
	var out []api.Message
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

type jsonMap map[string]any

func (m jsonMap) String() string {
	b, _ := json.Marshal(map[string]any(m))
	return string(b)
}

func templateMessages(msgs []api.Message) []map[string]any {
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		var calls []map[string]any
		for _, c := range m.ToolCalls {
			calls = append(calls, map[string]any{"ID": c.ID, "Function": map[string]any{
				"Index": c.Function.Index, "Name": c.Function.Name, "Arguments": jsonMap(c.Function.Arguments.Map()),
			}})
		}
		out[i] = map[string]any{"Role": m.Role, "Content": m.Content, "Thinking": m.Thinking, "Images": m.Images,
			"ToolCalls": calls, "ToolName": m.ToolName, "ToolCallID": m.ToolCallID}
	}
	return out
}

// toolList prints as the JSON of the tools, as Ollama's templates expect
// from {{ .Tools }}.
type toolList []map[string]any

func (t toolList) String() string {
	b, _ := json.Marshal([]map[string]any(t))
	return string(b)
}

func templateTools(tools []api.Tool) toolList {
	if len(tools) == 0 {
		return nil
	}
	var out toolList
	for _, t := range tools {
		b, _ := json.Marshal(t)
		var m map[string]any
		json.Unmarshal(b, &m)
		out = append(out, m)
	}
	return out
}
