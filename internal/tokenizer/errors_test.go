package tokenizer

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
)

// kv is one metadata pair for ggufBytes: value is string, uint32, int32,
// float32, bool, []string, []int32 or []float32.
type kv struct {
	key   string
	value any
}

// ggufBytes writes a tensor-free GGUF v3 file holding kvs.
func ggufBytes(t *testing.T, kvs []kv) []byte {
	t.Helper()
	var b bytes.Buffer
	le := binary.LittleEndian
	w := func(v any) { binary.Write(&b, le, v) }
	str := func(s string) { w(uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	w(uint32(3))
	w(uint64(0))
	w(uint64(len(kvs)))
	for _, p := range kvs {
		str(p.key)
		switch v := p.value.(type) {
		case string:
			w(uint32(8))
			str(v)
		case uint32:
			w(uint32(4))
			w(v)
		case int32:
			w(uint32(5))
			w(v)
		case float32:
			w(uint32(6))
			w(v)
		case bool:
			w(uint32(7))
			w(v)
		case []string:
			w(uint32(9))
			w(uint32(8))
			w(uint64(len(v)))
			for _, s := range v {
				str(s)
			}
		case []int32:
			w(uint32(9))
			w(uint32(5))
			w(uint64(len(v)))
			w(v)
		case []float32:
			w(uint32(9))
			w(uint32(6))
			w(uint64(len(v)))
			w(v)
		default:
			t.Fatalf("ggufBytes: unsupported %T", v)
		}
	}
	return b.Bytes()
}

func fromKVs(t *testing.T, kvs []kv) (*Tokenizer, error) {
	t.Helper()
	f, err := gguf.Parse(ggufBytes(t, kvs))
	if err != nil {
		t.Fatalf("test file does not parse: %v", err)
	}
	return FromGGUF(f)
}

// A small valid BPE vocabulary, and variants with one thing wrong.
func bpeKVs() []kv {
	return []kv{
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", "gpt-2"},
		{"tokenizer.ggml.tokens", []string{"a", "b", "ab", "Ġ", "Ġab", "<|endoftext|>"}},
		{"tokenizer.ggml.token_type", []int32{1, 1, 1, 1, 1, 3}},
		{"tokenizer.ggml.merges", []string{"a b", "Ġ ab"}},
		{"tokenizer.ggml.eos_token_id", uint32(5)},
	}
}

func with(base []kv, key string, value any) []kv {
	out := append([]kv(nil), base...)
	for i := range out {
		if out[i].key == key {
			if value == nil {
				return append(out[:i], out[i+1:]...)
			}
			out[i].value = value
			return out
		}
	}
	return append(out, kv{key, value})
}

func TestFromGGUFSmall(t *testing.T) {
	tok, err := fromKVs(t, bpeKVs())
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("ab ab", false, false); !equalIDs(got, []int32{2, 4}) {
		t.Errorf("encode: %v", got)
	}
	// The BPE default BOS id 11 does not exist in 6 tokens: unset.
	if tok.BOS() != NoToken || tok.EOS() != 5 || tok.AddBOS() || !tok.IsEOG(5) {
		t.Errorf("specials: bos %d eos %d addBOS %v eog %v", tok.BOS(), tok.EOS(), tok.AddBOS(), tok.EOGTokens())
	}
	// A special id outside the vocabulary is ignored, as llama.cpp does.
	tok, err = fromKVs(t, with(bpeKVs(), "tokenizer.ggml.padding_token_id", uint32(0xFFFFFFFF)))
	if err != nil || tok.PAD() != NoToken {
		t.Errorf("out-of-range pad id: err %v pad %d", err, tok.PAD())
	}
}

func TestFromGGUFErrors(t *testing.T) {
	spm := []kv{
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>", "▁a"}},
		{"tokenizer.ggml.scores", []float32{0, 0, 0, -1}},
	}
	if _, err := fromKVs(t, spm); err != nil {
		t.Fatalf("valid SPM vocabulary: %v", err)
	}
	// Integer scores work like float ones: "▁a" (score -1) still merges.
	tok, err := fromKVs(t, with(spm, "tokenizer.ggml.scores", []int32{0, 0, 0, -1}))
	if err != nil {
		t.Fatalf("integer scores: %v", err)
	}
	if got := tok.Encode("a", false, false); !equalIDs(got, []int32{3}) {
		t.Errorf("integer scores: encode a = %v", got)
	}
	cases := []struct {
		name string
		kvs  []kv
		want string // a fragment the error must contain
	}{
		{"unknown pre", with(bpeKVs(), "tokenizer.ggml.pre", "klingon"), `unknown pre-tokenizer type: "klingon"`},
		{"unsupported pre", with(bpeKVs(), "tokenizer.ggml.pre", "tekken"), `"tekken" is not supported`},
		{"unknown model", with(bpeKVs(), "tokenizer.ggml.model", "sentencepiece9"), `unknown tokenizer model "sentencepiece9"`},
		{"t5", with(bpeKVs(), "tokenizer.ggml.model", "t5"), `"t5" is not supported`},
		{"no model", with(bpeKVs(), "tokenizer.ggml.model", nil), "no tokenizer.ggml.model"},
		{"no tokens", with(bpeKVs(), "tokenizer.ggml.tokens", nil), "no tokenizer.ggml.tokens"},
		{"tokens not strings", with(bpeKVs(), "tokenizer.ggml.tokens", []int32{1, 2}), "not a string array"},
		{"no merges", with(bpeKVs(), "tokenizer.ggml.merges", nil), "no tokenizer.ggml.merges"},
		{"bad merge", with(bpeKVs(), "tokenizer.ggml.merges", []string{"a b", "ab"}), `merge 1 ("ab")`},
		{"types length", with(bpeKVs(), "tokenizer.ggml.token_type", []int32{1, 1}), "token_type has 2 entries for 6 tokens"},
		{"scores length", with(spm, "tokenizer.ggml.scores", []float32{0}), "scores has 1 entries for 4 tokens"},
		{"scores type", with(spm, "tokenizer.ggml.scores", []string{"x", "y", "z", "w"}), "scores is not a number array"},
		{"add_bos type", with(bpeKVs(), "tokenizer.ggml.add_bos_token", uint32(1)), "add_bos_token is uint32, not a bool"},
	}
	for _, c := range cases {
		_, err := fromKVs(t, c.kvs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
	// add_bos_token with no BOS token at all (a BPE vocabulary too small
	// for the default id 11).
	if _, err := fromKVs(t, with(bpeKVs(), "tokenizer.ggml.add_bos_token", true)); err == nil ||
		!strings.Contains(err.Error(), "no BOS token") {
		t.Errorf("add_bos without BOS: %v", err)
	}
}

func TestConstructorErrors(t *testing.T) {
	if _, err := NewSPM(nil, nil, nil, nil); err == nil {
		t.Error("empty vocabulary accepted")
	}
	if _, err := NewSPM([]string{"a"}, []float32{1, 2}, nil, nil); err == nil {
		t.Error("mismatched scores accepted")
	}
	if _, err := NewBPE([]string{"a", "b"}, nil, nil, "gpt-2", nil); err == nil {
		t.Error("BPE without merges accepted")
	}
	if _, err := NewBPE([]string{"a", "b"}, nil, []string{"a b"}, "gpt-2", &Options{EOS: Ptr[int32](7)}); err == nil {
		t.Error("out-of-range EOS accepted")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tiktoken")
	os.WriteFile(bad, []byte("YQ== 0\nYg== 2\n"), 0o644)
	if _, err := LoadTiktoken(bad, "qwen2", nil, nil); err == nil || !strings.Contains(err.Error(), "rank 2, want 1") {
		t.Errorf("gap in ranks: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing.gguf")); err == nil {
		t.Error("missing file accepted")
	}
}

// Empty token texts get llama.cpp's placeholder name; out-of-range ids are
// harmless everywhere.
func TestOddInputs(t *testing.T) {
	tok, err := NewBPE([]string{"a", "", "b", "ab"}, nil, []string{"a b"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenText(1) != "[EMPTY_1]" || tok.Pre() != "default" {
		t.Errorf("token 1 %q, pre %q", tok.TokenText(1), tok.Pre())
	}
	for _, id := range []int32{-5, 4, 1 << 30} {
		if tok.Piece(id) != nil || tok.Decode([]int32{id}) != "" || tok.IsControl(id) || tok.IsEOG(id) || tok.TokenType(id) != TypeUndefined {
			t.Errorf("id %d is not harmless", id)
		}
	}
	if ids := tok.Encode("", true, true); len(ids) != 0 {
		t.Errorf("empty text: %v", ids)
	}
	spm := openCached(t, modelPath(t, "stories260K.gguf"))
	if ids := spm.Encode("", true, false); !equalIDs(ids, []int32{1}) {
		t.Errorf("empty text with BOS: %v", ids)
	}
}
