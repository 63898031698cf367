package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/testutil"
)

func runGolem(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// TestRunGolden runs `golem run MODEL "Once upon a time" --temperature 0
// --num-predict N` for every model of the golden file and compares the
// printed text with llama.cpp's greedy continuation.
func TestRunGolden(t *testing.T) {
	data, err := os.ReadFile(testutil.Shared(t, "testdata", "models", "golden", "stories260K.greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Generations []struct {
			Model        string `json:"model"`
			Prompt       string `json:"prompt"`
			NGenerated   int    `json:"n_generated_tokens"`
			Continuation string `json:"continuation"`
		} `json:"generations"`
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Generations) != 4 {
		t.Fatalf("golden file has %d generations, want 4", len(golden.Generations))
	}
	for _, g := range golden.Generations {
		t.Run(g.Model, func(t *testing.T) {
			path := testutil.Shared(t, "testdata", "models", g.Model)
			out, errs, code := runGolem(t, "", "run", path, g.Prompt, "--temperature", "0", "--num-predict", itoa(g.NGenerated))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if out != g.Continuation+"\n" {
				t.Errorf("printed %q\nwant    %q", out, g.Continuation+"\n")
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestRunStdinAndFlagsBeforeModel reads the prompt from piped stdin, with
// flags before the model path, and checks --verbose statistics.
func TestRunStdinAndFlagsBeforeModel(t *testing.T) {
	path := testutil.Shared(t, "testdata", "models", "stories260K.gguf")
	out, errs, code := runGolem(t, "Once upon a time\n", "run", "--temperature", "0", "--num-predict", "8", "--verbose", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(out, ", there was a little girl") {
		t.Errorf("stdin prompt gave %q", out)
	}
	for _, want := range []string{"prompt eval count:    5 token(s)", "eval count:           8 token(s)", "eval rate:"} {
		if !strings.Contains(errs, want) {
			t.Errorf("--verbose output lacks %q:\n%s", want, errs)
		}
	}
}

// TestRunSeedRepeatable checks that the same seed gives the same sampled
// output and a different seed (very likely) a different one.
func TestRunSeedRepeatable(t *testing.T) {
	path := testutil.Shared(t, "testdata", "models", "stories260K.gguf")
	gen := func(seed string) string {
		out, errs, code := runGolem(t, "", "run", path, "Once upon a time", "--temperature", "1.5", "--seed", seed, "--num-predict", "40")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		return out
	}
	a, b, c := gen("42"), gen("42"), gen("7")
	if a != b {
		t.Errorf("seed 42 gave two outputs:\n%q\n%q", a, b)
	}
	if a == c {
		t.Errorf("seeds 42 and 7 gave the same 40 tokens: %q", a)
	}
}

// TestRunErrors checks that broken inputs give a one-line error and a
// non-zero exit status.
func TestRunErrors(t *testing.T) {
	src, err := os.ReadFile(testutil.Shared(t, "testdata", "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := map[string]string{
		"missing file": filepath.Join(dir, "nope.gguf"),
		"empty file":   write("empty.gguf", nil),
		"wrong magic":  write("magic.gguf", append([]byte("GGUX"), src[4:]...)),
	}
	for _, cut := range []int{3, 10, 30, 700, len(src) / 3, len(src) - 1} {
		cases["truncated at "+itoa(cut)] = write("cut"+itoa(cut)+".gguf", src[:cut])
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			out, errs, code := runGolem(t, "", "run", path, "hello", "--num-predict", "1")
			if code == 0 {
				t.Fatalf("exit 0, stdout %q", out)
			}
			if strings.Count(strings.TrimRight(errs, "\n"), "\n") != 0 || errs == "" {
				t.Errorf("want a one-line error, got %q", errs)
			}
		})
	}
	// A prompt longer than the context.
	_, errs, code := runGolem(t, "", "run", testutil.Shared(t, "testdata", "models", "stories260K.gguf"),
		strings.Repeat("Once upon a time ", 40), "--num-ctx", "16", "--num-predict", "1")
	if code == 0 || !strings.Contains(errs, "context") {
		t.Errorf("over-long prompt: exit %d, stderr %q", code, errs)
	}
}
