package jinja

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/testutil"
)

// fixedNow is the clock the expected renderings were produced with.
var fixedNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type jinjaCase struct {
	Name                string          `json:"name"`
	Messages            json.RawMessage `json:"messages"`
	Tools               json.RawMessage `json:"tools"`
	AddGenerationPrompt bool            `json:"add_generation_prompt"`
	BOS                 string          `json:"bos_token"`
	EOS                 string          `json:"eos_token"`
	Extra               json.RawMessage `json:"extra"`
	Expected            *string         `json:"expected"`
	Error               *string         `json:"error"`
}

// caseVars builds the variables transformers passes to a chat template.
func caseVars(t *testing.T, c jinjaCase) map[string]Value {
	t.Helper()
	msgs, err := FromJSON(c.Messages)
	if err != nil {
		t.Fatalf("messages: %v", err)
	}
	vars := map[string]Value{
		"messages":              msgs,
		"tools":                 nil,
		"documents":             nil,
		"add_generation_prompt": c.AddGenerationPrompt,
		"bos_token":             c.BOS,
		"eos_token":             c.EOS,
	}
	if len(c.Tools) > 0 && string(c.Tools) != "null" {
		if vars["tools"], err = FromJSON(c.Tools); err != nil {
			t.Fatalf("tools: %v", err)
		}
	}
	if len(c.Extra) > 0 {
		extra, err := FromJSON(c.Extra)
		if err != nil {
			t.Fatalf("extra: %v", err)
		}
		d := extra.(*Dict)
		for i, k := range d.Keys() {
			vars[k.(string)] = d.Values()[i]
		}
	}
	return vars
}

// TestHuggingFaceTemplates renders every case of the shared chat-template
// vectors and compares byte for byte (or checks the raise_exception text).
func TestHuggingFaceTemplates(t *testing.T) {
	dir := testutil.Shared(t, "testdata", "templates", "jinja")
	files, err := filepath.Glob(filepath.Join(dir, "*.cases.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no case files in %s: %v", dir, err)
	}
	total, passed := 0, 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".cases.json")
		src, err := os.ReadFile(filepath.Join(dir, name+".jinja"))
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []jinjaCase
		if err := json.Unmarshal(data, &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		tmpl, perr := Parse(string(src))
		for _, c := range cases {
			total++
			t.Run(name+"/"+c.Name, func(t *testing.T) {
				if perr != nil {
					t.Fatalf("parse: %v", perr)
				}
				out, err := tmpl.Execute(caseVars(t, c), Config{Now: fixedNow})
				switch {
				case c.Error != nil:
					var je *Error
					if err == nil {
						t.Fatalf("expected error %q, rendered:\n%s", *c.Error, out)
					}
					if !errors.As(err, &je) || je.Kind != Raised || je.Msg != *c.Error {
						t.Fatalf("expected raised error %q, got %v", *c.Error, err)
					}
				case c.Expected != nil:
					if err != nil {
						t.Fatalf("render: %v", err)
					}
					if out != *c.Expected {
						t.Fatalf("mismatch\n%s", diffText(*c.Expected, out))
					}
				default:
					t.Fatalf("case has neither expected nor error")
				}
				passed++
			})
		}
	}
	t.Logf("%d/%d cases passed", passed, total)
}

// diffText shows where two strings first differ.
func diffText(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	lo := max(0, i-120)
	wh := min(len(want), i+120)
	gh := min(len(got), i+120)
	return "first difference at byte " + itoa(i) + "\n--- want\n" + want[lo:wh] + "\n--- got\n" + got[lo:gh]
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
