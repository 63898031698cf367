package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/template"
	"github.com/golem-llm/golem/internal/tokenizer"
)

// defaultTemplate is what Ollama uses for a model without a template.
const defaultTemplate = "{{ .Prompt }}"

// renderTimeout bounds the rendering of one prompt (a hostile template
// cannot hold a request).
const renderTimeout = 5 * time.Second

// templateValues is what a prompt is rendered from.
type templateValues struct {
	Messages []api.Message
	Tools    []api.Tool
	Think    *api.ThinkValue
	// Prompt and Suffix are set instead of Messages for fill-in-the-middle
	// generate requests.
	Prompt, Suffix string
}

// chooseTemplate picks a model's template as Ollama and llama.cpp do: a
// request's template override, else the Modelfile TEMPLATE (Ollama's Go
// template), else the GGUF's tokenizer.chat_template (Jinja), else the
// plain {{ .Prompt }}.
func chooseTemplate(override, modelfile, chatTemplate string) (template.Template, error) {
	switch {
	case override != "":
		return parseGoTemplate(override)
	case modelfile != "":
		return parseGoTemplate(modelfile)
	case chatTemplate != "":
		return cachedTemplate("jinja", chatTemplate, func() (template.Template, error) {
			t, err := template.ParseJinja(chatTemplate)
			if err != nil {
				return nil, errorf(http.StatusInternalServerError, "the model's chat template: %v", err)
			}
			return t, nil
		})
	}
	return parseGoTemplate(defaultTemplate)
}

func parseGoTemplate(src string) (template.Template, error) {
	return cachedTemplate("go", src, func() (template.Template, error) {
		t, err := template.ParseGo(src)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "%v", err)
		}
		return t, nil
	})
}

// Parsed templates are kept (they are immutable and safe to share):
// parsing a Jinja template also probes it to derive its markers, which
// is worth doing once per model rather than once per request.
var templates struct {
	sync.Mutex
	m map[string]template.Template
}

func cachedTemplate(kind, src string, parse func() (template.Template, error)) (template.Template, error) {
	key := kind + "\x00" + src
	templates.Lock()
	t, ok := templates.m[key]
	templates.Unlock()
	if ok {
		return t, nil
	}
	t, err := parse()
	if err != nil {
		return nil, err
	}
	templates.Lock()
	if templates.m == nil || len(templates.m) >= 64 {
		templates.m = map[string]template.Template{}
	}
	templates.m[key] = t
	templates.Unlock()
	return t, nil
}

// capabilitiesOf derives what a template lets a model do.
func capabilitiesOf(t template.Template) capabilities {
	m := t.Markers()
	c := capabilities{tools: m.HasTools(), thinking: m.HasThinking()}
	src := t.Source()
	if g, ok := t.(*template.GoTemplate); ok {
		vars := g.Vars()
		c.insert = slices.Contains(vars, "suffix")
		c.tools = c.tools || slices.Contains(vars, "tools")
		c.thinking = c.thinking || slices.Contains(vars, "think")
		c.thinkLevels = slices.Contains(vars, "thinklevel")
	} else {
		c.tools = c.tools || strings.Contains(src, "tools")
		c.thinkLevels = strings.Contains(src, "reasoning_effort")
	}
	return c
}

// render turns values into prompt text with the model's template.
func (l *loaded) render(v templateValues) (string, error) {
	req := &template.Request{
		AddGenerationPrompt: true,
		Prompt:              v.Prompt,
		Suffix:              v.Suffix,
		Deadline:            time.Now().Add(renderTimeout),
		BOSToken:            specialText(l.tok, l.tok.BOS()),
		EOSToken:            specialText(l.tok, l.tok.EOS()),
	}
	if v.Think != nil {
		on := v.Think.Enabled()
		req.Think = &on
		req.ThinkLevel = v.Think.Level()
	}
	for _, m := range v.Messages {
		tm := template.Message{Role: m.Role, Content: m.Content, Thinking: m.Thinking, ToolName: m.ToolName, ToolCallID: m.ToolCallID}
		for _, img := range m.Images {
			tm.Images = append(tm.Images, img)
		}
		for _, c := range m.ToolCalls {
			args, _ := c.Function.Arguments.MarshalJSON()
			tm.ToolCalls = append(tm.ToolCalls, template.ToolCall{ID: c.ID,
				Function: template.ToolCallFunction{Index: c.Function.Index, Name: c.Function.Name, Arguments: args}})
		}
		req.Messages = append(req.Messages, tm)
	}
	for _, t := range v.Tools {
		if t.Type == "" {
			t.Type = "function"
		}
		b, err := json.Marshal(t)
		if err != nil {
			return "", err
		}
		req.Tools = append(req.Tools, b)
	}
	out, err := l.tmpl.Render(req)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "rendering the prompt template: %v", err)
	}
	return out, nil
}

// specialText is a special token's text, for templates' bos_token and
// eos_token.
func specialText(tok *tokenizer.Tokenizer, id int32) string {
	if id < 0 || int(id) >= tok.VocabSize() {
		return ""
	}
	return tok.TokenText(id)
}
