package store

import (
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	cases := []struct {
		in, full, short string
	}{
		{"llama3.2", "registry.ollama.ai/library/llama3.2:latest", "llama3.2:latest"},
		{"llama3.2:1b", "registry.ollama.ai/library/llama3.2:1b", "llama3.2:1b"},
		{"user/model", "registry.ollama.ai/user/model:latest", "user/model:latest"},
		{"example.com/user/model:v1", "example.com/user/model:v1", "example.com/user/model:v1"},
		{"127.0.0.1:5000/ns/model", "127.0.0.1:5000/ns/model:latest", "127.0.0.1:5000/ns/model:latest"},
		{"127.0.0.1:5000/ns/model:q4", "127.0.0.1:5000/ns/model:q4", "127.0.0.1:5000/ns/model:q4"},
		{"hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"},
		{"huggingface.co/bartowski/X-GGUF", "hf.co/bartowski/X-GGUF:latest", "hf.co/bartowski/X-GGUF:latest"},
		{"Registry.Ollama.AI/Library/Llama3:Latest", "Registry.Ollama.AI/Library/Llama3:Latest", "Llama3:Latest"},
	}
	for _, c := range cases {
		n, err := ParseName(c.in)
		if err != nil {
			t.Errorf("ParseName(%q): %v", c.in, err)
			continue
		}
		if n.String() != c.full || n.DisplayShortest() != c.short {
			t.Errorf("ParseName(%q) = %s (short %s), want %s (short %s)", c.in, n, n.DisplayShortest(), c.full, c.short)
		}
	}
	bad := map[string]string{
		"":                       "empty",
		"a/b/c/d":                "too many parts",
		"model:":                 "empty tag",
		"../etc/passwd":          "not allowed",
		"ns/../model":            "not allowed",
		"/model":                 "empty namespace",
		"model@sha256:abcd":      "digest",
		"mo del":                 "not allowed",
		"ns/-model":              "not allowed",
		"host//model":            "empty namespace",
		strings.Repeat("a", 200): "longer than",
	}
	for in, want := range bad {
		if _, err := ParseName(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseName(%q) = %v, want an error containing %q", in, err, want)
		}
	}
	a, _ := ParseName("LLAMA3")
	b, _ := ParseName("registry.ollama.ai/library/llama3:latest")
	if !a.EqualFold(b) {
		t.Errorf("%s and %s should be the same model", a, b)
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"llama3", "hf.co/a/b:Q4_K_M", "h:1/n/m:t", "a/b/c/d", "..", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			return
		}
		for _, p := range n.parts() {
			if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "/\\\x00") {
				t.Fatalf("ParseName(%q) gave unsafe part %q", s, p)
			}
		}
		again, err := ParseName(n.String())
		if err != nil || again != n {
			t.Fatalf("ParseName(%q) = %v; reparsing %q gave %v, %v", s, n, n.String(), again, err)
		}
	})
}
