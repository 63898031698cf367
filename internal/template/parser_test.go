package template

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/golem-llm/golem/internal/testutil"
)

var (
	markersMu    sync.Mutex
	markersCache = map[string]Markers{}
)

// sharedMarkers derives the markers of a template from the shared folder.
func sharedMarkers(t *testing.T, name string) Markers {
	t.Helper()
	markersMu.Lock()
	defer markersMu.Unlock()
	if m, ok := markersCache[name]; ok {
		return m
	}
	src, err := os.ReadFile(filepath.Join(testutil.Shared(t, "testdata", "templates", "jinja"), name+".jinja"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := ParseJinja(string(src))
	if err != nil {
		t.Fatal(err)
	}
	markersCache[name] = tmpl.Markers()
	return tmpl.Markers()
}

type wantCall struct{ name, args, id string }

type streamCase struct {
	name       string
	template   string // jinja template in the shared folder
	opts       ParserOptions
	output     string
	content    string
	thinking   string
	calls      []wantCall
	noThinking bool // do not enable thinking even if the markers know it
}

var weather = []string{"get_current_weather", "get_current_time"}

var streamCases = []streamCase{
	{
		name: "qwen3 thinking, text, two calls", template: "Qwen-Qwen3-0.6B",
		output:   "<think>\nThe user wants the weather.\n</think>\n\nLet me check.\n<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"Paris, France\", \"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_current_time\", \"arguments\": {\"timezone\": \"Europe/Paris\"}}\n</tool_call>",
		thinking: "The user wants the weather.", content: "Let me check.\n",
		calls: []wantCall{{"get_current_weather", `{"location":"Paris, France","unit":"celsius"}`, ""}, {"get_current_time", `{"timezone":"Europe/Paris"}`, ""}},
	},
	{
		name: "qwen3 plain answer with unicode", template: "Qwen-Qwen3-0.6B",
		output:   "<think>\n\n</think>\n\n巴黎今天晴 😀, 22°C.",
		thinking: "", content: "巴黎今天晴 😀, 22°C.",
	},
	{
		name: "qwen3 thinking disabled keeps tags", template: "Qwen-Qwen3-0.6B", noThinking: true,
		output:  "<think>x</think>Hi",
		content: "<think>x</think>Hi",
	},
	{
		name: "qwen2.5 text that only looks like a marker", template: "Qwen-Qwen2.5-7B-Instruct",
		output:  "Use <tool to fix <b>bold</b> and <tool_cal text.",
		content: "Use <tool to fix <b>bold</b> and <tool_cal text.",
	},
	{
		name: "qwen2.5 unfinished call becomes content", template: "Qwen-Qwen2.5-7B-Instruct",
		output:  "<tool_call>\n{\"name\": \"get_current_weather\", \"argu",
		content: "<tool_call>\n{\"name\": \"get_current_weather\", \"argu",
	},
	{
		name: "qwen2.5 call to an unknown tool stays content", template: "Qwen-Qwen2.5-7B-Instruct",
		output:  "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>",
		content: "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>",
	},
	{
		name: "deepseek r1: prompt opened thinking", template: "deepseek-ai-DeepSeek-R1-Distill-Llama-8B",
		opts:     ParserOptions{StartInThinking: true},
		output:   "Okay, 2+2 is 4.\n</think>\n\nThe answer is **4**.",
		thinking: "Okay, 2+2 is 4.", content: "The answer is **4**.",
	},
	{
		name: "mistral nemo array of calls", template: "mistralai-Mistral-Nemo-Instruct-2407",
		output: "[TOOL_CALLS][{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"Paris\"}, \"id\": \"abcDEF123\"}, {\"name\": \"get_current_time\", \"arguments\": {\"timezone\": \"Europe/Paris\"}, \"id\": \"xyzXYZ789\"}]",
		calls:  []wantCall{{"get_current_weather", `{"location":"Paris"}`, "abcDEF123"}, {"get_current_time", `{"timezone":"Europe/Paris"}`, "xyzXYZ789"}},
	},
	{
		name: "mistral small 3.2 name [ARGS] json", template: "Mistral-Small-3.2-24B-Instruct-2506",
		output: "[TOOL_CALLS]get_current_weather[ARGS]{\"location\": \"Paris\"}[TOOL_CALLS]get_current_time[CALL_ID]a1B2c3D4e[ARGS]{\"timezone\": \"UTC\"}",
		calls:  []wantCall{{"get_current_weather", `{"location":"Paris"}`, ""}, {"get_current_time", `{"timezone":"UTC"}`, ""}},
	},
	{
		name: "llama 3.1 bare json", template: "meta-llama-Llama-3.1-8B-Instruct",
		output: "{\"name\": \"get_current_weather\", \"parameters\": {\"location\": \"Paris, France\"}}",
		calls:  []wantCall{{"get_current_weather", `{"location":"Paris, France"}`, ""}},
	},
	{
		name: "llama 3.1 python_tag", template: "meta-llama-Llama-3.1-8B-Instruct",
		output: "<|python_tag|>{\"name\": \"get_current_time\", \"parameters\": {\"timezone\": \"Asia/Tokyo\"}}",
		calls:  []wantCall{{"get_current_time", `{"timezone":"Asia/Tokyo"}`, ""}},
	},
	{
		name: "llama 3.2 json answer is not a call", template: "meta-llama-Llama-3.2-3B-Instruct",
		output:  "{\"answer\": 42, \"unit\": \"none\"}",
		content: "{\"answer\": 42, \"unit\": \"none\"}",
	},
	{
		name: "llama 3.2 plain text", template: "meta-llama-Llama-3.2-3B-Instruct",
		output:  "  The weather in {Paris} is nice.",
		content: "  The weather in {Paris} is nice.",
	},
	{
		name: "kimi k2 numbered calls", template: "moonshotai-Kimi-K2",
		output:  "Checking.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_current_weather:0<|tool_call_argument_begin|>{\"location\": \"Paris\"}<|tool_call_end|><|tool_call_begin|>functions.get_current_time:1<|tool_call_argument_begin|>{\"timezone\": \"Europe/Paris\"}<|tool_call_end|><|tool_calls_section_end|>",
		content: "Checking.",
		calls:   []wantCall{{"get_current_weather", `{"location":"Paris"}`, ""}, {"get_current_time", `{"timezone":"Europe/Paris"}`, ""}},
	},
	{
		name: "qwen3-coder style xml", template: "nemotron3nano",
		output:   "<think>\nNeed weather.\n</think>\n<tool_call>\n<function=get_current_weather>\n<parameter=location>\nParis, France\n</parameter>\n<parameter=unit>\ncelsius\n</parameter>\n</function>\n</tool_call>",
		thinking: "Need weather.",
		calls:    []wantCall{{"get_current_weather", `{"location":"Paris, France","unit":"celsius"}`, ""}},
	},
	{
		name: "gpt-oss analysis then a call", template: "openai-gpt-oss-120b",
		output:   "<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant to=functions.get_current_weather<|channel|>commentary json<|message|>{\"location\": \"Paris\"}<|call|>",
		thinking: "Need the weather.",
		calls:    []wantCall{{"get_current_weather", `{"location":"Paris"}`, ""}},
	},
	{
		name: "gpt-oss analysis then final", template: "openai-gpt-oss-120b",
		output:   "<|channel|>analysis<|message|>Simple greeting.<|end|><|start|>assistant<|channel|>final<|message|>Hello!",
		thinking: "Simple greeting.", content: "Hello!",
	},
	{
		name: "deepseek v3.1 call", template: "deepseek-ai-DeepSeek-V3.1",
		output: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_current_weather<｜tool▁sep｜>{\"location\": \"東京\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
		calls:  []wantCall{{"get_current_weather", `{"location":"東京"}`, ""}},
	},
	{
		name: "functionary v3.1 function tag", template: "meetkai-functionary-medium-v3.1",
		output: "<function=get_current_weather>{\"location\": \"Paris\"}</function>",
		calls:  []wantCall{{"get_current_weather", `{"location":"Paris"}`, ""}},
	},
	{
		name: "functionary v3.2 name at the start", template: "meetkai-functionary-medium-v3.2",
		output: "get_current_weather\n{\"location\": \"Paris\"}>>>get_current_time\n{\"timezone\": \"UTC\"}",
		calls:  []wantCall{{"get_current_weather", `{"location":"Paris"}`, ""}, {"get_current_time", `{"timezone":"UTC"}`, ""}},
	},
	{
		name: "functionary v3.2 text answer", template: "meetkai-functionary-medium-v3.2",
		output:  "all\nIt is sunny.",
		content: "It is sunny.",
	},
	{
		name: "gemma 4 quoted arguments", template: "gemma4_31b",
		output: "<|tool_call>call:get_current_weather{location:<|\"|>Paris, France<|\"|>,unit:<|\"|>celsius<|\"|>}<tool_call|>",
		calls:  []wantCall{{"get_current_weather", `{"location":"Paris, France","unit":"celsius"}`, ""}},
	},
	{
		name: "command r7b thinking then action", template: "CohereForAI-c4ai-command-r7b-12-2024-tool_use",
		output:   "<|START_THINKING|>I will look it up.<|END_THINKING|><|START_ACTION|>[\n    {\"tool_call_id\": \"0\", \"tool_name\": \"get_current_weather\", \"parameters\": {\"location\": \"Paris\"}}\n]<|END_ACTION|>",
		thinking: "I will look it up.",
		calls:    []wantCall{{"get_current_weather", `{"location":"Paris"}`, ""}},
	},
	{
		name: "seed-oss thinking and xml call", template: "ByteDance-Seed-OSS",
		output:   "<seed:think>Weather needed.</seed:think>\n<seed:tool_call>\n<function=get_current_weather>\n<parameter=location>\nParis\n</parameter>\n</function>\n</seed:tool_call>",
		thinking: "Weather needed.",
		calls:    []wantCall{{"get_current_weather", `{"location":"Paris"}`, ""}},
	},
	{
		name: "granite 3.3 tool_call array", template: "ibm-granite-granite-3.3-2B-Instruct",
		output: "<|tool_call|>[{\"name\": \"get_current_time\", \"arguments\": {\"timezone\": \"UTC\"}}]",
		calls:  []wantCall{{"get_current_time", `{"timezone":"UTC"}`, ""}},
	},
}

// runStream feeds the output split into the given pieces and collects
// everything released.
func runStream(t *testing.T, m Markers, o ParserOptions, pieces []string) Chunk {
	t.Helper()
	p := NewParser(m, o)
	var all Chunk
	for _, s := range pieces {
		c := p.Add(s)
		if !utf8.ValidString(c.Content) || !utf8.ValidString(c.Thinking) {
			t.Fatalf("released a broken UTF-8 sequence: %q / %q (pieces %q)", c.Content, c.Thinking, pieces)
		}
		all.add(c)
	}
	all.add(p.Finish())
	return all
}

func checkChunk(t *testing.T, c streamCase, got Chunk, split string) {
	t.Helper()
	if got.Content != c.content {
		t.Fatalf("%s: content %q, want %q", split, got.Content, c.content)
	}
	if got.Thinking != c.thinking {
		t.Fatalf("%s: thinking %q, want %q", split, got.Thinking, c.thinking)
	}
	if len(got.ToolCalls) != len(c.calls) {
		t.Fatalf("%s: %d tool calls %+v, want %d", split, len(got.ToolCalls), got.ToolCalls, len(c.calls))
	}
	for i, w := range c.calls {
		g := got.ToolCalls[i]
		if g.Function.Name != w.name || string(g.Function.Arguments) != w.args || g.ID != w.id || g.Function.Index != i {
			t.Fatalf("%s: call %d = {%s %s id=%q index=%d}, want {%s %s id=%q index=%d}", split, i, g.Function.Name, g.Function.Arguments, g.ID, g.Function.Index, w.name, w.args, w.id, i)
		}
	}
}

// TestParserStreams parses realistic outputs of several model families,
// with the markers derived from their real templates, fed whole, split
// at every byte position into two pieces, and one byte at a time.
func TestParserStreams(t *testing.T) {
	for _, c := range streamCases {
		t.Run(c.name, func(t *testing.T) {
			m := sharedMarkers(t, c.template)
			o := c.opts
			o.Tools = true
			o.ToolNames = weather
			o.Thinking = !c.noThinking
			checkChunk(t, c, runStream(t, m, o, []string{c.output}), "whole")
			for i := 1; i < len(c.output); i++ {
				checkChunk(t, c, runStream(t, m, o, []string{c.output[:i], c.output[i:]}), "split at "+itoa(i))
			}
			bytes := make([]string, len(c.output))
			for i := 0; i < len(c.output); i++ {
				bytes[i] = c.output[i : i+1]
			}
			checkChunk(t, c, runStream(t, m, o, bytes), "byte by byte")
		})
	}
}

// TestParserHoldsBackMarkers checks that text which may begin a marker is
// not released until it is decided, and is released once it is not one.
func TestParserHoldsBackMarkers(t *testing.T) {
	m := sharedMarkers(t, "Qwen-Qwen3-0.6B")
	p := NewParser(m, ParserOptions{Thinking: true, Tools: true})
	steps := []struct{ in, content, thinking string }{
		{"<thi", "", ""},
		{"nk>\nI", "", "I"},
		{" think", "", " think"},
		{" </th", "", ""},
		{"ink>\n\nOK <tool", "OK ", ""},
		{"_ca", "", ""},
		{"t", "<tool_cat", ""},
	}
	for i, s := range steps {
		c := p.Add(s.in)
		if c.Content != s.content || c.Thinking != s.thinking || len(c.ToolCalls) != 0 {
			t.Fatalf("step %d (%q): released content %q thinking %q calls %d, want %q %q", i, s.in, c.Content, c.Thinking, len(c.ToolCalls), s.content, s.thinking)
		}
	}
	if c := p.Finish(); c.Content != "" || c.Thinking != "" {
		t.Fatalf("finish released %+v", c)
	}
}

// TestPromptOpensThinking checks the start-in-thinking rule on prompts.
func TestPromptOpensThinking(t *testing.T) {
	m := Markers{ThinkOpen: "<think>", ThinkClose: "</think>"}
	for prompt, want := range map[string]bool{
		"<｜Assistant｜><think>\n":                         true,
		"<|im_start|>assistant\n<think>\n\n</think>\n\n": false,
		"<|im_start|>assistant\n":                        false,
		"<think> then text":                              false,
	} {
		if got := m.PromptOpensThinking(prompt); got != want {
			t.Errorf("PromptOpensThinking(%q) = %v, want %v", prompt, got, want)
		}
	}
}

// TestGoTemplateMarkers derives markers from Ollama-style Go templates.
func TestGoTemplateMarkers(t *testing.T) {
	src := `{{- range $i, $_ := .Messages }}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}
{{- if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- end }}<|im_start|>assistant
`
	g, err := ParseGo(src)
	if err != nil {
		t.Fatal(err)
	}
	m := g.Markers()
	if m.ThinkOpen != "<think>" || m.ThinkClose != "</think>" || m.ToolSyntax != ToolJSON || len(m.ToolOpen) != 1 || m.ToolOpen[0] != "<tool_call>" || m.ToolClose != "</tool_call>" {
		t.Fatalf("markers %+v", m)
	}
	c := runStream(t, m, ParserOptions{Thinking: true, Tools: true}, []string{"<think>hm</think>", "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": [true, null, 1.5]}}\n</tool_call>"})
	if c.Thinking != "hm" || len(c.ToolCalls) != 1 || string(c.ToolCalls[0].Function.Arguments) != `{"b":1,"a":[true,null,1.5]}` {
		t.Fatalf("parsed %+v", c)
	}
	// Ollama's rule when probing finds nothing: the first text inside
	// {{ if .ToolCalls }}, cut at "{".
	g2, err := ParseGo(`{{ range .Messages }}{{ if .ToolCalls }}[TOOL_CALLS] [{{ range .ToolCalls }}{"name": "{{ .Function.Name }}"}{{ end }}]{{ end }}{{ end }}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := goToolTag(g2.tmpl.Tree.Root); got != "[TOOL_CALLS] [" {
		t.Fatalf("goToolTag = %q", got)
	}
}

// TestParserNoMarkers passes everything through as content.
func TestParserNoMarkers(t *testing.T) {
	c := runStream(t, Markers{}, ParserOptions{Thinking: true, Tools: true}, []string{"<think>a", "</think>{\"name\": \"x\"}"})
	if c.Content != "<think>a</think>{\"name\": \"x\"}" || c.Thinking != "" || len(c.ToolCalls) != 0 {
		t.Fatalf("%+v", c)
	}
	if !strings.Contains(ToolJSON.String()+ToolNameArgs.String()+ToolXML.String()+ToolNone.String(), "name-args") {
		t.Fatal("ToolSyntax names")
	}
}

// FuzzParserSplit checks that the parser's result does not depend on how
// the output is split into pieces, and that with nothing to extract the
// content is the output unchanged.
//
//	go test ./internal/template -run '^$' -fuzz FuzzParserSplit -fuzztime 20s
func FuzzParserSplit(f *testing.F) {
	for _, c := range streamCases {
		f.Add(c.template, c.output, uint16(len(c.output)/2), uint16(3))
	}
	names := map[string]bool{}
	for _, c := range streamCases {
		names[c.template] = true
	}
	f.Fuzz(func(t *testing.T, template, output string, cut, step uint16) {
		if !names[template] || !utf8.ValidString(output) {
			return
		}
		m := sharedMarkers(t, template)
		o := ParserOptions{Thinking: true, Tools: true}
		whole := runStream(t, m, o, []string{output})
		k := int(cut) % (len(output) + 1)
		var pieces []string
		pieces = append(pieces, output[:k])
		st := int(step)%7 + 1
		for i := k; i < len(output); i += st {
			pieces = append(pieces, output[i:min(i+st, len(output))])
		}
		split := runStream(t, m, o, pieces)
		if whole.Content != split.Content || whole.Thinking != split.Thinking || len(whole.ToolCalls) != len(split.ToolCalls) {
			t.Fatalf("split changed the result:\nwhole %+v\nsplit %+v", whole, split)
		}
		for i := range whole.ToolCalls {
			if whole.ToolCalls[i].Function.Name != split.ToolCalls[i].Function.Name || string(whole.ToolCalls[i].Function.Arguments) != string(split.ToolCalls[i].Function.Arguments) {
				t.Fatalf("split changed call %d", i)
			}
		}
		plain := runStream(t, Markers{}, o, pieces)
		if plain.Content != output {
			t.Fatalf("pass-through changed the text: %q -> %q", output, plain.Content)
		}
	})
}
