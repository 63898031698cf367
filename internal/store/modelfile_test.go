package store

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseModelfile(t *testing.T) {
	src := `# a comment
FROM ./model.gguf
parameter temperature 0.7
PARAMETER stop "<|im_end|>"
PARAMETER stop <|endoftext|>
PARAMETER num_ctx 4096
TEMPLATE """{{ if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ .Prompt }}"""
SYSTEM You are "helpful".
MESSAGE user Is it "quoted"?
MESSAGE assistant """Yes.
Two lines."""
LICENSE """MIT
License"""
`
	mf, err := ParseModelfile(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Command{
		{"model", "./model.gguf"},
		{"temperature", "0.7"},
		{"stop", "<|im_end|>"},
		{"stop", "<|endoftext|>"},
		{"num_ctx", "4096"},
		{"template", "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ .Prompt }}"},
		{"system", `You are "helpful".`},
		{"message", `user: Is it "quoted"?`},
		{"message", "assistant: Yes.\nTwo lines."},
		{"license", "MIT\nLicense"},
	}
	if !reflect.DeepEqual(mf.Commands, want) {
		t.Fatalf("got %q\nwant %q", mf.Commands, want)
	}
	params, err := mf.Parameters()
	if err != nil {
		t.Fatal(err)
	}
	wantParams := map[string]any{"temperature": 0.7, "stop": []string{"<|im_end|>", "<|endoftext|>"}, "num_ctx": 4096}
	if !reflect.DeepEqual(params, wantParams) {
		t.Errorf("parameters %v, want %v", params, wantParams)
	}
	if msgs := mf.Messages(); len(msgs) != 2 || msgs[1].Role != "assistant" || msgs[1].Content != "Yes.\nTwo lines." {
		t.Errorf("messages %+v", msgs)
	}

	// Rendering reads back to the same commands.
	again, err := ParseModelfile(strings.NewReader(mf.String()))
	if err != nil {
		t.Fatalf("reparsing the rendered Modelfile: %v\n%s", err, mf.String())
	}
	if !reflect.DeepEqual(again.Commands, mf.Commands) {
		t.Errorf("round trip changed the commands:\n%q\n%q\nrendered:\n%s", again.Commands, mf.Commands, mf.String())
	}
}

func TestParseModelfileErrors(t *testing.T) {
	cases := map[string]string{
		"PARAMETER temperature 0.7\n":         "no FROM",
		"FROM x\nBOGUS y\n":                   "line 2: unknown instruction \"BOGUS\"",
		"FROM x\nPARAMETER nope 1\n":          "line 2: unknown parameter \"nope\"",
		"FROM x\nPARAMETER top_k many\n":      "not an integer",
		"FROM x\nPARAMETER temperature hot\n": "not a number",
		"FROM x\nMESSAGE robot hi\n":          "role",
		"FROM x\nTEMPLATE \"\"\"open\n":       "unterminated",
		"FROM x\nSYSTEM \"a\" b\n":            "after the closing \"",
		"FROM\n":                              "FROM needs a value",
		"FROM x\nPARAMETER\n":                 "needs a name and a value",
		"FROM x\nREQUIRES 0.5\n":              "not supported",
		"FROM x\n\xff\n":                      "UTF-8",
	}
	for src, want := range cases {
		_, err := ParseModelfile(strings.NewReader(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseModelfile(%q) = %v, want an error containing %q", src, err, want)
		}
	}
	// Deprecated parameters are accepted and dropped, as in Ollama.
	mf, err := ParseModelfile(strings.NewReader("FROM x\nPARAMETER mirostat 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := mf.Parameters(); len(p) != 0 {
		t.Errorf("deprecated parameter kept: %v", p)
	}
}

func FuzzParseModelfile(f *testing.F) {
	f.Add("FROM a\nPARAMETER stop \"x\"\nTEMPLATE \"\"\"t\n\"\"\"\n")
	f.Add("FROM a\nSYSTEM \"\"\"\"\"\"\nMESSAGE user hi\n")
	f.Fuzz(func(t *testing.T, src string) {
		mf, err := ParseModelfile(strings.NewReader(src))
		if err != nil {
			return
		}
		for _, c := range mf.Commands {
			_, v, _ := strings.Cut(c.Args, ": ")
			if !CanQuote(c.Args) || c.Name == "message" && !CanQuote(v) {
				return // not representable; String cannot round-trip it
			}
		}
		again, err := ParseModelfile(strings.NewReader(mf.String()))
		if err != nil {
			t.Fatalf("rendered Modelfile does not parse: %v\n%q", err, mf.String())
		}
		if !reflect.DeepEqual(again.Commands, mf.Commands) {
			t.Fatalf("round trip changed %q into %q", mf.Commands, again.Commands)
		}
	})
}
