package tokenizer

import (
	"os"
	"strings"
	"testing"
	"time"
)

// benchText returns at least minBytes of mixed text: English prose (the
// synthetic BPE corpus) and the llama.cpp tokenizer test strings (code,
// white space runs, CJK, emoji).
func benchText(t testing.TB, minBytes int) string {
	t.Helper()
	prose, err := os.ReadFile(modelPath(t, "synthetic", "bpe-corpus.txt"))
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := os.ReadFile(modelPath(t, "vocab", "ggml-vocab-llama-spm.gguf.inp"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(prose) + strings.ReplaceAll(string(mixed), "\n__ggml_vocab_test__\n", "\n")
	var b strings.Builder
	for b.Len() < minBytes {
		b.WriteString(unit)
	}
	return b.String()
}

func benchTokenizers(t testing.TB) map[string]*Tokenizer {
	return map[string]*Tokenizer{
		"llama3":   llama3StandIn(t),
		"qwen2":    qwenStandIn(t),
		"llamaSPM": openCached(t, modelPath(t, "vocab", "ggml-vocab-llama-spm.gguf")),
		"gpt2":     openCached(t, modelPath(t, "vocab", "ggml-vocab-gpt-2.gguf")),
		"deepseek": openCached(t, modelPath(t, "vocab", "ggml-vocab-deepseek-llm.gguf")),
	}
}

func BenchmarkEncode(b *testing.B) {
	text := benchText(b, 5000)
	for name, tok := range benchTokenizers(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				tok.Encode(text, true, false)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	text := benchText(b, 5000)
	for name, tok := range benchTokenizers(b) {
		ids := tok.Encode(text, false, false)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				tok.Decode(ids)
			}
		})
	}
}

// A 2,000-token prompt must encode well within 50 ms (best of three runs,
// so that a busy machine does not fail the test).
func TestEncodeSpeed(t *testing.T) {
	for name, tok := range benchTokenizers(t) {
		text := benchText(t, 1000)
		for len(tok.Encode(text, false, false)) < 2000 {
			text += benchText(t, 1000)
		}
		best := time.Hour
		for i := 0; i < 3; i++ {
			start := time.Now()
			tok.Encode(text, true, false)
			if d := time.Since(start); d < best {
				best = d
			}
		}
		t.Logf("%s: %d bytes in %v", name, len(text), best)
		if best > 50*time.Millisecond {
			t.Errorf("%s: encoding %d bytes took %v, want < 50ms", name, len(text), best)
		}
	}
}
