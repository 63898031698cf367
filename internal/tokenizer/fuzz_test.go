package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRoundTrip encodes arbitrary text with an SPM vocabulary (stories260K,
// mostly byte fallback) and byte-level BPE vocabularies (the Llama-3 and
// Qwen2 stand-ins), checks that decoding gives the text back, that
// streaming gives what Decode gives, and that nothing panics. It also
// checks the fast Qwen2 splitter against the regex path on the same input.
//
// Exceptions, all llama.cpp behaviour: SPM writes spaces as U+2581, so
// input that already holds U+2581 decodes with spaces there; SPM cuts text
// into characters by lead bytes alone, so an invalid lead byte swallows the
// bytes of a following U+2581 and the space comes back as U+2581; byte-level
// BPE replaces invalid UTF-8 with U+FFFD before tokenizing. So only valid
// input (for SPM: without U+2581) must round-trip.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{
		"", " ", "Hello world", "  Hello\n\n  world ", "I'm 1234567 ok?!", "中文 😀 ﷽ Führer",
		"<|im_start|>user\nhi<|im_end|>", "<s> </s> <unk>", "\xff\xfe\xed\xa0\x80", "a\u2581b", "\t\v\f\r\u00a0\u3000",
	} {
		f.Add(s)
	}
	spm := openCached(f, modelPath(f, "stories260K.gguf"))
	bpes := []*Tokenizer{llama3StandIn(f), qwenStandIn(f)}
	qwenRegex, err := compileSplitRegex(reQwen2)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(name string, tok *Tokenizer, wantRoundTrip bool) {
			ids := tok.Encode(s, false, false)
			dec := tok.Decode(ids)
			if wantRoundTrip && dec != s {
				t.Fatalf("%s: %q -> %v -> %q", name, s, ids, dec)
			}
			var b strings.Builder
			d := tok.NewStreamDecoder()
			for _, id := range ids {
				b.WriteString(d.Add(id))
			}
			b.WriteString(d.Flush())
			if b.String() != dec {
				t.Fatalf("%s: streamed %q, Decode %q", name, b.String(), dec)
			}
			for _, special := range []bool{false, true} {
				ids := tok.Encode(s, true, special)
				tok.Decode(ids)
				tok.Detokenize(ids, true, true)
			}
		}
		check("spm", spm, utf8.ValidString(s) && !strings.Contains(s, "\u2581"))
		for _, tok := range bpes {
			check(tok.Pre(), tok, utf8.ValidString(s))
		}
		a, b := splitWords(llama3Splitter{maxDigits: 1}, s), splitWords(qwenRegex, s)
		if strings.Join(a, "\x00|") != strings.Join(b, "\x00|") {
			t.Fatalf("qwen2 splitters disagree on %q:\n fast  %q\n regex %q", s, a, b)
		}
	})
}
