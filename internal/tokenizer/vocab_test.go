package tokenizer

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/golem-llm/golem/internal/testutil"
)

// Vocabularies whose GGUF is not shipped (too large) are built from the
// stand-in files described in MANIFEST.md section 4. Every other .inp/.out
// pair in the folder is checked against the GGUF of the same name, so a new
// vocabulary is either a new file in the folder or one row here.
var standIns = map[string]func(t testing.TB) *Tokenizer{
	"ggml-vocab-llama-bpe.gguf": llama3StandIn,
	"ggml-vocab-qwen2.gguf":     qwenStandIn,
}

var (
	llama3Once, qwenOnce sync.Once
	llama3Tok, qwenTok   *Tokenizer
	llama3Err, qwenErr   error
)

func llama3StandIn(t testing.TB) *Tokenizer {
	t.Helper()
	dir := testutil.Shared(t, "testdata", "models", "tokenizers", "llama3.2")
	llama3Once.Do(func() {
		llama3Tok, llama3Err = LoadGPT2Files(filepath.Join(dir, "encoder.json"), filepath.Join(dir, "vocab.bpe"),
			"llama-bpe", []string{"<|begin_of_text|>", "<|end_of_text|>"},
			&Options{BOS: Ptr[int32](128000), EOS: Ptr[int32](128001)})
	})
	if llama3Err != nil {
		t.Fatalf("llama3.2 stand-in: %v", llama3Err)
	}
	return llama3Tok
}

func qwenStandIn(t testing.TB) *Tokenizer {
	t.Helper()
	path := testutil.Shared(t, "testdata", "models", "tokenizers", "qwen", "qwen.tiktoken")
	qwenOnce.Do(func() {
		qwenTok, qwenErr = LoadTiktoken(path, "qwen2", []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"},
			&Options{BOS: Ptr[int32](151643), EOS: Ptr[int32](151643), AddBOS: Ptr(false)})
	})
	if qwenErr != nil {
		t.Fatalf("qwen stand-in: %v", qwenErr)
	}
	return qwenTok
}

var ggufCache sync.Map // path -> *Tokenizer

func openCached(t testing.TB, path string) *Tokenizer {
	t.Helper()
	if v, ok := ggufCache.Load(path); ok {
		return v.(*Tokenizer)
	}
	tok, err := Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	ggufCache.Store(path, tok)
	return tok
}

type vocabCase struct {
	input string
	ids   []int32
}

// readVocabCases reads llama.cpp's test-tokenizer-0 files: inputs separated
// (and terminated) by "\n__ggml_vocab_test__\n", one line of ids per input.
func readVocabCases(t *testing.T, inp, out string) []vocabCase {
	t.Helper()
	in, err := os.ReadFile(inp)
	if err != nil {
		t.Fatal(err)
	}
	o, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	inputs := strings.Split(string(in), "\n__ggml_vocab_test__\n")
	if inputs[len(inputs)-1] != "" {
		t.Fatalf("%s: does not end with the separator", inp)
	}
	inputs = inputs[:len(inputs)-1]
	lines := strings.Split(strings.TrimSuffix(string(o), "\n"), "\n")
	if len(lines) != len(inputs) {
		t.Fatalf("%s has %d inputs but %s has %d lines", inp, len(inputs), out, len(lines))
	}
	cases := make([]vocabCase, len(inputs))
	for i, line := range lines {
		var ids []int32
		for _, f := range strings.Fields(line) {
			v, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				t.Fatalf("%s line %d: %v", out, i+1, err)
			}
			ids = append(ids, int32(v))
		}
		cases[i] = vocabCase{inputs[i], ids}
	}
	return cases
}

func TestVocabFiles(t *testing.T) {
	dir := testutil.Shared(t, "testdata", "models", "vocab")
	inps, err := filepath.Glob(filepath.Join(dir, "*.gguf.inp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inps) < 11 {
		t.Fatalf("found %d .inp files in %s, want at least 11", len(inps), dir)
	}
	for _, inp := range inps {
		name := strings.TrimSuffix(filepath.Base(inp), ".inp")
		t.Run(strings.TrimSuffix(strings.TrimPrefix(name, "ggml-vocab-"), ".gguf"), func(t *testing.T) {
			var tok *Tokenizer
			ggufPath := filepath.Join(dir, name)
			if _, err := os.Stat(ggufPath); err == nil {
				tok = openCached(t, ggufPath)
			} else if f, ok := standIns[name]; ok {
				tok = f(t)
			} else {
				t.Fatalf("no %s and no stand-in for it", name)
			}
			cases := readVocabCases(t, inp, strings.TrimSuffix(inp, ".inp")+".out")
			if len(cases) != 46 {
				t.Errorf("%d cases, want 46", len(cases))
			}
			for i, c := range cases {
				got := tok.Encode(c.input, false, false)
				if !equalIDs(got, c.ids) {
					t.Errorf("case %d %q:\n encode = %v\n   want = %v", i, c.input, got, c.ids)
				}
				if dec := tok.Decode(c.ids); dec != c.input {
					t.Errorf("case %d: decode(%v) = %q, want %q", i, c.ids, dec, c.input)
				}
			}
		})
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
