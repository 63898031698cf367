package template

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/template/jinja"
	"github.com/golem-llm/golem/internal/testutil"
)

var fixedNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type caseMessage struct {
	Role             string `json:"role"`
	Content          string `json:"content"`
	ReasoningContent string `json:"reasoning_content"`
	ToolCalls        []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
	ToolCallID string `json:"tool_call_id"`
	Name       string `json:"name"`
}

func toMessages(in []caseMessage) []Message {
	out := make([]Message, len(in))
	for i, m := range in {
		out[i] = Message{Role: m.Role, Content: m.Content, Thinking: m.ReasoningContent, ToolCallID: m.ToolCallID, ToolName: m.Name}
		for _, tc := range m.ToolCalls {
			out[i].ToolCalls = append(out[i].ToolCalls, ToolCall{ID: tc.ID, Function: ToolCallFunction{Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
		}
	}
	return out
}

type jinjaCase struct {
	Name                string                     `json:"name"`
	Messages            []caseMessage              `json:"messages"`
	Tools               []json.RawMessage          `json:"tools"`
	AddGenerationPrompt bool                       `json:"add_generation_prompt"`
	BOS                 string                     `json:"bos_token"`
	EOS                 string                     `json:"eos_token"`
	Extra               map[string]json.RawMessage `json:"extra"`
	Expected            *string                    `json:"expected"`
	Error               *string                    `json:"error"`
}

type goCase struct {
	Name                 string        `json:"name"`
	Template             string        `json:"template"`
	Messages             []caseMessage `json:"messages"`
	Prompt               string        `json:"prompt"`
	Suffix               string        `json:"suffix"`
	Expected             string        `json:"expected"`
	TrimOneTrailingSpace bool          `json:"trim_one_trailing_space"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestTemplateFolder renders every case of ../shared/testdata/templates
// through the server-facing API: the 65 Hugging Face chat templates
// (byte-exact output, or the raise_exception message) and Ollama's Go
// templates with their expected renderings.
func TestTemplateFolder(t *testing.T) {
	root := testutil.Shared(t, "testdata", "templates")
	jinjaPassed, jinjaTotal := 0, 0
	t.Run("jinja", func(t *testing.T) {
		dir := filepath.Join(root, "jinja")
		files, _ := filepath.Glob(filepath.Join(dir, "*.cases.json"))
		if len(files) != 65 {
			t.Fatalf("found %d jinja case files, want 65", len(files))
		}
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".cases.json")
			src, err := os.ReadFile(filepath.Join(dir, name+".jinja"))
			if err != nil {
				t.Fatal(err)
			}
			var cases []jinjaCase
			readJSON(t, f, &cases)
			tmpl, perr := ParseJinja(string(src))
			for _, c := range cases {
				jinjaTotal++
				t.Run(name+"/"+c.Name, func(t *testing.T) {
					if perr != nil {
						t.Fatal(perr)
					}
					req := &Request{
						Messages:            toMessages(c.Messages),
						Tools:               c.Tools,
						AddGenerationPrompt: c.AddGenerationPrompt,
						BOSToken:            c.BOS,
						EOSToken:            c.EOS,
						Extra:               c.Extra,
						Now:                 fixedNow,
					}
					out, err := tmpl.Render(req)
					if c.Error != nil {
						var je *jinja.Error
						if !errors.As(err, &je) || je.Kind != jinja.Raised || je.Msg != *c.Error {
							t.Fatalf("want raised error %q, got %v (output %q)", *c.Error, err, out)
						}
						jinjaPassed++
						return
					}
					if c.Expected == nil {
						t.Fatal("case has neither expected nor error")
					}
					if err != nil {
						t.Fatal(err)
					}
					if out != *c.Expected {
						t.Fatalf("mismatch:\n%s", firstDiff(*c.Expected, out))
					}
					jinjaPassed++
				})
			}
		}
	})
	goPassed, goTotal := 0, 0
	t.Run("gotmpl", func(t *testing.T) {
		dir := filepath.Join(root, "gotmpl")
		files, _ := filepath.Glob(filepath.Join(dir, "*.cases.json"))
		if len(files) != 21 {
			t.Fatalf("found %d gotmpl case files, want 21", len(files))
		}
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".cases.json")
			var cases []goCase
			readJSON(t, f, &cases)
			var shared *GoTemplate
			var perr error
			if name != "inline" {
				src, err := os.ReadFile(filepath.Join(dir, name+".gotmpl"))
				if err != nil {
					t.Fatal(err)
				}
				shared, perr = ParseGo(string(src))
			}
			for _, c := range cases {
				goTotal++
				t.Run(name+"/"+c.Name, func(t *testing.T) {
					tmpl := shared
					if c.Template != "" {
						tmpl, perr = ParseGo(c.Template)
					}
					if perr != nil {
						t.Fatal(perr)
					}
					out, err := tmpl.Render(&Request{Messages: toMessages(c.Messages), Prompt: c.Prompt, Suffix: c.Suffix, Now: fixedNow})
					if err != nil {
						t.Fatal(err)
					}
					if c.TrimOneTrailingSpace {
						out = strings.TrimSuffix(out, " ")
					}
					if out != c.Expected {
						t.Fatalf("mismatch:\n%s", firstDiff(c.Expected, out))
					}
					goPassed++
				})
			}
		}
	})
	t.Logf("jinja: %d/%d cases passed; go templates: %d/%d cases passed", jinjaPassed, jinjaTotal, goPassed, goTotal)
	if jinjaTotal != 857 || goTotal != 73 {
		t.Errorf("case counts %d and %d, want 857 and 73", jinjaTotal, goTotal)
	}
}

// TestStringArgumentsProbe checks that templates which concatenate tool-call
// arguments as text (DeepSeek V3.1, functionary) are detected and get the
// JSON text when the caller passes an object: the .string-arguments cases
// must render the same from object arguments.
func TestStringArgumentsProbe(t *testing.T) {
	dir := testutil.Shared(t, "testdata", "templates", "jinja")
	checked := 0
	for _, name := range []string{"deepseek-ai-DeepSeek-V3.1", "meetkai-functionary-medium-v3.1", "meetkai-functionary-medium-v3.2"} {
		src, err := os.ReadFile(filepath.Join(dir, name+".jinja"))
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := ParseJinja(string(src))
		if err != nil {
			t.Fatal(err)
		}
		if !tmpl.stringArgs {
			t.Errorf("%s: string-arguments template not detected", name)
		}
		var cases []jinjaCase
		readJSON(t, filepath.Join(dir, name+".cases.json"), &cases)
		for _, c := range cases {
			if !strings.HasSuffix(c.Name, ".string-arguments") || c.Expected == nil {
				continue
			}
			msgs := toMessages(c.Messages)
			for i := range msgs {
				for j := range msgs[i].ToolCalls {
					var s string
					if err := json.Unmarshal(msgs[i].ToolCalls[j].Function.Arguments, &s); err != nil {
						t.Fatalf("%s/%s: arguments are not a string", name, c.Name)
					}
					msgs[i].ToolCalls[j].Function.Arguments = json.RawMessage(s)
				}
			}
			out, err := tmpl.Render(&Request{Messages: msgs, Tools: c.Tools, AddGenerationPrompt: c.AddGenerationPrompt, BOSToken: c.BOS, EOSToken: c.EOS, Extra: c.Extra, Now: fixedNow})
			if err != nil {
				t.Fatalf("%s/%s: %v", name, c.Name, err)
			}
			if out != *c.Expected {
				t.Fatalf("%s/%s with object arguments:\n%s", name, c.Name, firstDiff(*c.Expected, out))
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no .string-arguments cases found")
	}
	// Ordinary templates take objects.
	tmpl, err := ParseJinja(`{% for m in messages %}{% for c in m.tool_calls %}{{ c.function.arguments|tojson }}{% endfor %}{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.stringArgs {
		t.Fatal("object-arguments template taken for a string-arguments one")
	}
}

func firstDiff(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	lo := max(0, i-100)
	return "first difference at byte " + itoa(i) + "\n--- want\n" + want[lo:min(len(want), i+100)] + "\n--- got\n" + got[lo:min(len(got), i+100)]
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestConcurrentRender renders one parsed template from many goroutines
// (run with -race): templates are shared by all requests of a model.
func TestConcurrentRender(t *testing.T) {
	dir := testutil.Shared(t, "testdata", "templates")
	src, err := os.ReadFile(filepath.Join(dir, "jinja", "gemma4_31b.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	jt, err := ParseJinja(string(src))
	if err != nil {
		t.Fatal(err)
	}
	gsrc, err := os.ReadFile(filepath.Join(dir, "gotmpl", "llama3-instruct.gotmpl"))
	if err != nil {
		t.Fatal(err)
	}
	gt, err := ParseGo(string(gsrc))
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{
		Messages:            []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}, {Role: "assistant", ToolCalls: []ToolCall{probeCall("get_current_weather", "abcdefghi")}}, {Role: "tool", Content: "22", ToolName: "get_current_weather"}},
		Tools:               probeTools,
		AddGenerationPrompt: true,
		Now:                 fixedNow,
	}
	for _, tmpl := range []Template{jt, gt} {
		want, err := tmpl.Render(req)
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		for g := 0; g < 8; g++ {
			go func() {
				for i := 0; i < 20; i++ {
					got, err := tmpl.Render(req)
					if err == nil && got != want {
						err = errors.New("concurrent rendering differs")
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for g := 0; g < 8; g++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestThinkOptions checks how Request.Think and ThinkLevel reach Jinja
// templates (enable_thinking, thinking, reasoning_effort) and Go templates
// (.Think, .IsThinkSet, .ThinkLevel).
func TestThinkOptions(t *testing.T) {
	jt, err := ParseJinja(`{{ enable_thinking is defined }}|{{ enable_thinking }}|{{ thinking }}|{{ reasoning_effort|default('unset') }}`)
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	for _, c := range []struct {
		req  Request
		want string
	}{
		{Request{}, "False|||unset"},
		{Request{Think: &yes}, "True|True|True|unset"},
		{Request{Think: &no}, "True|False|False|unset"},
		{Request{ThinkLevel: "high"}, "True|True|True|high"},
		{Request{Think: &yes, Extra: map[string]json.RawMessage{"enable_thinking": json.RawMessage("false")}}, "True|False|True|unset"},
	} {
		got, err := jt.Render(&c.req)
		if err != nil || got != c.want {
			t.Errorf("%+v: got %q (%v), want %q", c.req, got, err, c.want)
		}
	}
	gt, err := ParseGo(`{{ range .Messages }}{{ end }}{{ .Think }} {{ .IsThinkSet }} {{ .ThinkLevel }} {{ currentDate }}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gt.Render(&Request{Think: &no, ThinkLevel: "low", Now: fixedNow})
	if err != nil || got != "false true low 2026-01-01" {
		t.Fatalf("go template: %q, %v", got, err)
	}
}

// TestGoTemplateToolData checks the tool data Go templates see: tools and
// arguments print as JSON, properties range by name, TypeScript types.
func TestGoTemplateToolData(t *testing.T) {
	src := `{{ range .Tools }}{{ .Function.Name }}:{{ range $k, $v := .Function.Parameters.Properties }}{{ $k }}={{ toTypeScriptType $v }};{{ end }}{{ end }}|{{ json .Tools }}|{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Name }}{{ .Function.Arguments }}{{ end }}{{ end }}`
	gt, err := ParseGo(src)
	if err != nil {
		t.Fatal(err)
	}
	tool := json.RawMessage(`{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object", "required": ["b"], "properties": {"b": {"type": ["string", "null"], "description": "x"}, "a": {"type": "integer"}}}}}`)
	got, err := gt.Render(&Request{
		Messages: []Message{{Role: "assistant", ToolCalls: []ToolCall{{Function: ToolCallFunction{Name: "f", Arguments: json.RawMessage(`{"z": 1, "a": "<x>"}`)}}}}},
		Tools:    []json.RawMessage{tool},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `f:a=number;b=string | null;|[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","required":["b"],"properties":{"a":{"type":"integer"},"b":{"type":["string","null"],"description":"x"}}}}}]|f{"a":"\u003cx\u003e","z":1}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestGoTemplateLimits checks that Go templates built to hang or to
// exhaust memory are refused at parse time or stopped while executing.
func TestGoTemplateLimits(t *testing.T) {
	for _, src := range []string{
		`{{ range 1000000000 }}{{ end }}`,
		`{{ $n := 99999999 }}{{ range $n }}{{ range $n }}{{ end }}{{ end }}`,
		`{{ range len (printf "%0999999d" 0) }}{{ end }}`,
		`{{ printf "%.99999f" 1.0 }}`,
		`{{ printf "%*d" 999999 1 }}`,
	} {
		if _, err := ParseGo(src); err == nil {
			t.Errorf("ParseGo(%q) accepted a hostile template", src)
		}
	}
	// Output is capped: 5000 x 5000 bytes would be 25 MB.
	g, err := ParseGo(`{{ $s := printf "%0999d" 0 }}{{ range 5000 }}{{ range 5 }}{{ $s }}{{ end }}{{ end }}{{ .Messages }}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Render(&Request{}); err == nil || !strings.Contains(err.Error(), "exceeded") {
		t.Fatalf("want an output-limit error, got %v", err)
	}
	// Ordinary numbers and formats are fine.
	if _, err := ParseGo(`{{ if gt (len .Messages) 2 }}{{ printf "%05d" 42 }}{{ end }}`); err != nil {
		t.Fatal(err)
	}
}

// TestHostileJinjaParse checks that parsing (which renders probe
// conversations to derive markers) stays quick for a template that loops
// for ever, and that rendering it stops with an error.
func TestHostileJinjaParse(t *testing.T) {
	start := time.Now()
	tmpl, err := ParseJinja(`{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("parsing took %v", d)
	}
	if _, err := tmpl.Render(&Request{Deadline: time.Now().Add(100 * time.Millisecond)}); err == nil {
		t.Fatal("endless template rendered")
	}
}
