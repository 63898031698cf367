package jinja

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/testutil"
)

// FuzzParse feeds arbitrary text to the parser and renders whatever parses
// with small budgets. Any outcome is fine except a panic (caught and
// reported as "internal error") or an error that is not a *jinja.Error.
//
//	go test ./internal/template/jinja -run '^$' -fuzz FuzzParse -fuzztime 20s
func FuzzParse(f *testing.F) {
	dir := testutil.Shared(f, "testdata", "templates", "jinja")
	srcs, _ := filepath.Glob(filepath.Join(dir, "*.jinja"))
	for _, p := range srcs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	if data, err := os.ReadFile("testdata/semantics.json"); err == nil {
		var sf semanticsFile
		if json.Unmarshal(data, &sf) == nil {
			for _, c := range sf.Cases {
				f.Add(c.Template)
			}
		}
	}
	msgs, err := FromJSON([]byte(`[{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
		{"role": "assistant", "content": "", "tool_calls": [{"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
		{"role": "tool", "content": "{\"r\": 2}", "tool_call_id": "abcdefghi", "name": "f"}]`))
	if err != nil {
		f.Fatal(err)
	}
	tools, err := FromJSON([]byte(`[{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}]`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse(src)
		if err != nil {
			checkErr(t, err)
			return
		}
		vars := map[string]Value{
			"messages": msgs, "tools": tools, "add_generation_prompt": true,
			"bos_token": "<s>", "eos_token": "</s>", "documents": nil,
		}
		_, err = tmpl.Execute(vars, Config{MaxSteps: 20000, MaxOutput: 1 << 16, MaxDepth: 20, Now: fixedNow})
		if err != nil {
			checkErr(t, err)
		}
	})
}

func checkErr(t *testing.T, err error) {
	var je *Error
	if !errors.As(err, &je) {
		t.Fatalf("error of type %T: %v", err, err)
	}
	if strings.Contains(je.Msg, "internal error") {
		t.Fatalf("interpreter panicked: %v", err)
	}
}
