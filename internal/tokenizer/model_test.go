package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golem-llm/golem/internal/testutil"
)

func modelPath(t testing.TB, elem ...string) string {
	t.Helper()
	return testutil.Shared(t, append([]string{"testdata", "models"}, elem...)...)
}

// Prompts and ids from MANIFEST.md (produced by llama.cpp).
func TestModelPrompts(t *testing.T) {
	cases := []struct {
		file   []string
		text   string
		addBOS bool
		want   []int32
	}{
		{[]string{"stories260K.gguf"}, "Once upon a time", true, []int32{1, 403, 407, 261, 378}},
		{[]string{"synthetic", "syn-llama-256-Q8_0.gguf"}, "In 1492, 3+4=7; ok?", true,
			[]int32{1, 359, 416, 410, 475, 484, 483, 479, 432, 410, 472, 496, 484, 64, 491, 474, 334, 433, 450}},
		{[]string{"synthetic", "syn-qwen2-256-F32.gguf"}, "Once upon a time", false, []int32{46, 77, 341, 427, 78, 77, 259, 378}},
		{[]string{"synthetic", "syn-qwen2-256-F32.gguf"}, "The quick brown fox", false, []int32{276, 401, 301, 500, 285, 477}},
		{[]string{"synthetic", "syn-qwen2-256-F32.gguf"}, "In 1492, 3+4=7; ok?", false,
			[]int32{432, 220, 16, 19, 24, 17, 11, 220, 18, 10, 19, 28, 22, 26, 267, 74, 30}},
	}
	for _, c := range cases {
		tok := openCached(t, modelPath(t, c.file...))
		if tok.AddBOS() != c.addBOS {
			t.Errorf("%s: AddBOS = %v, want %v", c.file[len(c.file)-1], tok.AddBOS(), c.addBOS)
		}
		got := tok.Encode(c.text, true, false)
		if !equalIDs(got, c.want) {
			t.Errorf("%s %q:\n got %v\nwant %v", c.file[len(c.file)-1], c.text, got, c.want)
		}
	}
}

// traceFile is the part of a reference trace (shared/reference/README.md)
// this package checks.
type traceFile struct {
	Model struct {
		File string `json:"file"`
	} `json:"model"`
	Vocab struct {
		NVocab int     `json:"n_vocab"`
		AddBOS bool    `json:"add_bos"`
		BOS    int32   `json:"bos_id"`
		EOS    int32   `json:"eos_id"`
		EOG    []int32 `json:"eog_ids"`
	} `json:"vocab"`
	Prompts []struct {
		Text          string  `json:"text"`
		PromptIDs     []int32 `json:"prompt_ids"`
		BOSAdded      bool    `json:"bos_added"`
		GeneratedIDs  []int32 `json:"generated_ids"`
		GeneratedText string  `json:"generated_text"`
	} `json:"prompts"`
}

func readTraces(t *testing.T) map[string]traceFile {
	t.Helper()
	dir := testutil.Shared(t, "reference", "f32ref")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 60 {
		t.Fatalf("found %d traces in %s, want 64", len(files), dir)
	}
	out := map[string]traceFile{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tr traceFile
		if err := json.Unmarshal(data, &tr); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(tr.Prompts) != 3 {
			t.Fatalf("%s: %d prompts, want 3", f, len(tr.Prompts))
		}
		out[filepath.Base(f)] = tr
	}
	return out
}

// Every prompt of every reference trace tokenizes to llama.cpp's ids (with
// add_special=true, parse_special=false), and the vocabulary facts llama.cpp
// reported match.
func TestReferencePromptIDs(t *testing.T) {
	for name, tr := range readTraces(t) {
		tok := openCached(t, testutil.Shared(t, filepath.FromSlash(tr.Model.File)))
		if tok.VocabSize() != tr.Vocab.NVocab || tok.AddBOS() != tr.Vocab.AddBOS ||
			tok.BOS() != tr.Vocab.BOS || tok.EOS() != tr.Vocab.EOS {
			t.Errorf("%s: vocab %d add_bos %v bos %d eos %d, want %d %v %d %d", name,
				tok.VocabSize(), tok.AddBOS(), tok.BOS(), tok.EOS(),
				tr.Vocab.NVocab, tr.Vocab.AddBOS, tr.Vocab.BOS, tr.Vocab.EOS)
		}
		if eog := tok.EOGTokens(); !equalIDs(eog, tr.Vocab.EOG) {
			t.Errorf("%s: EOG tokens %v, want %v", name, eog, tr.Vocab.EOG)
		}
		for _, p := range tr.Prompts {
			got := tok.Encode(p.Text, true, false)
			if !equalIDs(got, p.PromptIDs) {
				t.Errorf("%s %q:\n got %v\nwant %v", name, p.Text, got, p.PromptIDs)
			}
			if p.BOSAdded != (len(got) > 0 && got[0] == tok.BOS() && tok.AddBOS()) {
				t.Errorf("%s %q: bos_added %v disagrees with %v", name, p.Text, p.BOSAdded, got)
			}
		}
	}
}

// The traces' generated_text is llama_detokenize(remove_special=false,
// unparse_special=true) of generated_ids, with invalid UTF-8 shown as
// U+FFFD. Detokenize must reproduce it.
func TestReferenceDetokenize(t *testing.T) {
	n := 0
	for name, tr := range readTraces(t) {
		tok := openCached(t, testutil.Shared(t, filepath.FromSlash(tr.Model.File)))
		for _, p := range tr.Prompts {
			got := tok.Detokenize(p.GeneratedIDs, false, true)
			if shown := replaceInvalid(got); shown != p.GeneratedText {
				t.Errorf("%s: Detokenize(%v) = %q, want %q", name, p.GeneratedIDs, shown, p.GeneratedText)
			}
			n++
		}
	}
	if n != 64*3 {
		t.Errorf("checked %d generations, want %d", n, 64*3)
	}
}

// replaceInvalid replaces each maximal ill-formed subsequence with U+FFFD,
// the Unicode-recommended practice (what Python's "replace" does).
func replaceInvalid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		// Skip the longest prefix of a well-formed sequence starting at i.
		n := maximalSubpart(s[i:])
		b.WriteRune(utf8.RuneError)
		i += n
	}
	return b.String()
}

func maximalSubpart(s string) int {
	c := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(s); k++ {
		b := s[n]
		if k > 0 {
			lo, hi = 0x80, 0xBF
		}
		if b < lo || b > hi {
			break
		}
		n++
	}
	return n
}

func TestSpecialTokenParsing(t *testing.T) {
	for _, c := range []struct {
		name string
		tok  *Tokenizer
		id   int32
	}{
		{"syn-qwen2", openCached(t, modelPath(t, "synthetic", "syn-qwen2-256-F32.gguf")), 510},
		{"qwen stand-in", qwenStandIn(t), 151644},
	} {
		text := "<|im_start|>user"
		with := c.tok.Encode(text, false, true)
		if len(with) < 2 || with[0] != c.id {
			t.Errorf("%s: parseSpecial=true: %v, want %d first", c.name, with, c.id)
		}
		if c.tok.Decode(with[1:]) != "user" {
			t.Errorf("%s: the rest decodes to %q", c.name, c.tok.Decode(with[1:]))
		}
		without := c.tok.Encode(text, false, false)
		for _, id := range without {
			if id == c.id {
				t.Errorf("%s: parseSpecial=false produced the control token: %v", c.name, without)
			}
		}
		if c.tok.Decode(without) != text {
			t.Errorf("%s: parseSpecial=false decodes to %q", c.name, c.tok.Decode(without))
		}
		// Control tokens render only when asked to.
		if got := c.tok.Decode(with); got != "user" {
			t.Errorf("%s: Decode = %q, want %q", c.name, got, "user")
		}
		if got := c.tok.Detokenize(with, false, true); got != text {
			t.Errorf("%s: Detokenize(unparse) = %q, want %q", c.name, got, text)
		}
		if !c.tok.IsControl(c.id) || string(c.tok.Piece(c.id)) != "<|im_start|>" {
			t.Errorf("%s: token %d: control %v, piece %q", c.name, c.id, c.tok.IsControl(c.id), c.tok.Piece(c.id))
		}
	}
}

// User-defined tokens are matched even without parseSpecial; control tokens
// are not. deepseek-coder stores "ü" as a user-defined token, which is why
// its "Führer" vector holds that token.
func TestUserDefinedTokens(t *testing.T) {
	tok := openCached(t, modelPath(t, "vocab", "ggml-vocab-deepseek-coder.gguf"))
	u, ok := tok.TokenID("ü")
	if !ok || tok.TokenType(u) != TypeUserDefined {
		t.Fatalf("ü: id %d ok %v type %d", u, ok, tok.TokenType(u))
	}
	ids := tok.Encode("Führer", false, false)
	found := false
	for _, id := range ids {
		found = found || id == u
	}
	if !found || tok.Decode(ids) != "Führer" {
		t.Errorf("Führer -> %v (decodes to %q), want the user-defined token %d", ids, tok.Decode(ids), u)
	}
	bos := tok.BOS()
	text := tok.TokenText(bos) + "x"
	if ids := tok.Encode(text, false, false); ids[0] == bos {
		t.Errorf("control token matched without parseSpecial: %v", ids)
	}
	if ids := tok.Encode(text, false, true); ids[0] != bos {
		t.Errorf("control token not matched with parseSpecial: %v", ids)
	}
}

func TestEOG(t *testing.T) {
	q := openCached(t, modelPath(t, "synthetic", "syn-qwen2-256-F32.gguf"))
	for id, want := range map[int32]bool{509: true, 510: false, 511: true, 0: false, -1: false, 512: false} {
		if q.IsEOG(id) != want {
			t.Errorf("qwen2 IsEOG(%d) = %v", id, !want)
		}
	}
	l := llama3StandIn(t)
	if !l.IsEOG(128001) || l.IsEOG(128000) {
		t.Errorf("llama3 stand-in: EOG %v", l.EOGTokens())
	}
	// A normal token whose text is an end marker becomes an EOG control token.
	tok, err := NewBPE([]string{"a", "b", "ab", "<|eot_id|>"}, nil, []string{"a b"}, "gpt-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.IsEOG(3) || !tok.IsControl(3) || tok.EOT() != 3 {
		t.Errorf("<|eot_id|>: EOG %v control %v EOT %d", tok.IsEOG(3), tok.IsControl(3), tok.EOT())
	}
}
