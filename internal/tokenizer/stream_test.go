package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// streamAll feeds ids one at a time and checks that every emitted string
// ends on a character boundary.
func streamAll(t *testing.T, d *StreamDecoder, ids []int32, validInput bool) string {
	t.Helper()
	var b strings.Builder
	for i, id := range ids {
		s := d.Add(id)
		if validInput && !utf8.ValidString(s) {
			t.Errorf("Add(#%d = %d) emitted %q, not whole characters", i, id, s)
		}
		b.WriteString(s)
	}
	b.WriteString(d.Flush())
	return b.String()
}

func TestStreamDecoder(t *testing.T) {
	texts := []string{
		"Héllo wörld, 中文 and 😀 emoji; Ελληνικά, русский, ﷽.",
		" leading space\nand\ttabs, über 𓀀  ",
		"😀😀😀",
	}
	toks := map[string]*Tokenizer{
		"stories260K (SPM, byte fallback)": openCached(t, modelPath(t, "stories260K.gguf")),
		"syn-qwen2 (byte-level BPE)":       openCached(t, modelPath(t, "synthetic", "syn-qwen2-256-F32.gguf")),
		"llama-spm":                        openCached(t, modelPath(t, "vocab", "ggml-vocab-llama-spm.gguf")),
	}
	for name, tok := range toks {
		for _, text := range texts {
			ids := tok.Encode(text, false, false)
			// The texts must really be cut inside characters for the test
			// to mean something.
			split := 0
			for _, id := range ids {
				if p := tok.Piece(id); len(p) > 0 && !utf8.Valid(p) {
					split++
				}
			}
			if split == 0 {
				t.Errorf("%s %q: no token holds a partial character; test is too weak", name, text)
			}
			want := tok.Decode(ids)
			if want != text {
				t.Errorf("%s: Decode = %q, want %q", name, want, text)
			}
			if got := streamAll(t, tok.NewStreamDecoder(), ids, true); got != want {
				t.Errorf("%s: streamed %q, Decode %q", name, got, want)
			}
			// With BOS in front (which renders as nothing) as well.
			ids = tok.Encode(text, true, false)
			if got, want := streamAll(t, tok.NewStreamDecoder(), ids, true), tok.Decode(ids); got != want {
				t.Errorf("%s with BOS: streamed %q, Decode %q", name, got, want)
			}
		}
	}
}

func TestStreamDecoderHoldsAndFlushes(t *testing.T) {
	tok := openCached(t, modelPath(t, "stories260K.gguf"))
	b := func(c byte) int32 { return tok.byteTok[c] }
	d := tok.NewContinuationDecoder()
	// "中" is E4 B8 AD: nothing comes out until the last byte.
	if s := d.Add(b(0xE4)); s != "" {
		t.Errorf("after E4: %q", s)
	}
	if s := d.Add(b(0xB8)); s != "" {
		t.Errorf("after E4 B8: %q", s)
	}
	if s := d.Add(b(0xAD)); s != "中" {
		t.Errorf("after E4 B8 AD: %q", s)
	}
	// A sequence that can no longer complete is released at once, raw.
	d.Add(b(0xE4))
	if s := d.Add(b('a')); s != "\xe4a" {
		t.Errorf("E4 then a: %q", s)
	}
	if s := d.Add(b(0x80)); s != "\x80" {
		t.Errorf("stray continuation byte: %q", s)
	}
	// The stream ends inside a character: Flush hands over what is held.
	d.Add(b(0xF0))
	d.Add(b(0x9F))
	if s := d.Flush(); s != "\xf0\x9f" {
		t.Errorf("Flush: %q", s)
	}
	if s := d.Flush(); s != "" {
		t.Errorf("second Flush: %q", s)
	}
	// An encoded surrogate can never complete.
	d.Add(b(0xED))
	if s := d.Add(b(0xA0)); s != "\xed\xa0" {
		t.Errorf("surrogate prefix: %q", s)
	}
}

// NewStreamDecoder drops the SPM space prefix of the first token like
// Decode; NewContinuationDecoder keeps it.
func TestStreamFirstToken(t *testing.T) {
	tok := openCached(t, modelPath(t, "stories260K.gguf"))
	ids := tok.Encode("Once upon", false, false)
	if got := streamAll(t, tok.NewStreamDecoder(), ids, true); got != "Once upon" {
		t.Errorf("stream: %q", got)
	}
	if got := streamAll(t, tok.NewContinuationDecoder(), ids, true); got != " Once upon" {
		t.Errorf("continuation: %q", got)
	}
	// With BOS first, nothing is stripped: BOS takes the strip and renders
	// as nothing, as in llama.cpp.
	ids = tok.Encode("Once upon", true, false)
	if got := tok.Decode(ids); got != " Once upon" {
		t.Errorf("Decode with BOS: %q", got)
	}
	// llama.cpp: removing the BOS also cancels the strip.
	if got := tok.Detokenize(ids, true, false); got != " Once upon" {
		t.Errorf("Detokenize(removeSpecial) with BOS: %q", got)
	}
}

func TestCleanSpaces(t *testing.T) {
	cases := map[string]string{
		"Hello , world !":  "Hello, world!",
		"it ' s":           "it's",
		"you 're he 's":    "you're he's",
		"don 't":           "don 't",
		"a ' b":            "a'b",
		"":                 "",
		" .":               ".",
		"x ' ' y":          "x'' y",
		"we 'll , 've ok.": "we 'll,'ve ok.",
	}
	for in, want := range cases {
		if got := string(cleanSpaces([]byte(in))); got != want {
			t.Errorf("cleanSpaces(%q) = %q, want %q", in, got, want)
		}
	}
	// Detokenize applies it for GPT-2 style vocabularies, Decode never.
	tok := openCached(t, modelPath(t, "vocab", "ggml-vocab-gpt-2.gguf"))
	ids := tok.Encode("Hello , world !", false, false)
	if got := tok.Detokenize(ids, false, false); got != "Hello, world!" {
		t.Errorf("Detokenize: %q", got)
	}
	if got := tok.Decode(ids); got != "Hello , world !" {
		t.Errorf("Decode: %q", got)
	}
}

// A Tokenizer is shared by concurrent requests.
func TestConcurrentUse(t *testing.T) {
	tok := llama3StandIn(t)
	text := benchText(t, 3000)
	want := tok.Encode(text, true, false)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			ok := true
			for i := 0; i < 5; i++ {
				ok = ok && equalIDs(tok.Encode(text, true, false), want) && tok.Decode(want[1:]) == text
			}
			done <- ok
		}()
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("concurrent Encode/Decode gave a different result")
		}
	}
}
