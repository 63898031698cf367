package tokenizer

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golem-llm/golem/internal/testutil"
)

// splitWords runs one splitter over the whole of s and returns the words.
func splitWords(sp splitter, s string) []string {
	cps := decodeCodePoints(s, nil)
	var sc splitScratch
	pieces := sp.split(cps, []int{len(cps)}, &sc)
	var words []string
	pos := 0
	for _, n := range pieces {
		var b []byte
		for _, cp := range cps[pos : pos+n] {
			b = appendCodePoint(b, cp)
		}
		words = append(words, string(b))
		pos += n
	}
	return words
}

// samplePool mixes the classes the splitters distinguish: ASCII and other
// letters, decimal and other numbers, punctuation, symbols, marks, ASCII and
// non-ASCII white space, line breaks, apostrophes before contraction
// letters, controls, unassigned and private-use code points.
var samplePool = []string{
	"a", "Z", "s", "t", "m", "d", "r", "e", "v", "l", "S", "T", "L", "E",
	"é", "ß", "Ж", "ж", "λ", "ا", "中", "文", "한", "ｱ", "𝒜", "ǅ",
	"0", "7", "٣", "½", "Ⅻ", "①",
	"'", "’", ".", ",", "!", "?", "-", "_", "(", "\"", "¿", "。", "、",
	"$", "+", "<", "=", "^", "`", "|", "~", "€", "©", "😀", "→",
	"\u0301", "\u0903",
	" ", " ", " ", "  ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\u00a0", "\u3000", "\u2009", "\u0085", "\u2028",
	"\x00", "\x1f", "\u200d", "\u0378", "\ue000", "\U0010FFFF",
}

func randomSample(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(samplePool[r.Intn(len(samplePool))])
	}
	return b.String()
}

func vocabInputs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.Shared(t, "testdata", "models", "vocab"), "ggml-vocab-llama-spm.gguf.inp"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(data), "\n__ggml_vocab_test__\n")
}

// The hand-written splitters must agree with the patterns they stand for,
// run through the regex path. For Qwen2 the regex path is what llama.cpp
// itself runs, so this is what makes the fast splitter exact.
func TestSplittersMatchRegex(t *testing.T) {
	pairs := []struct {
		name  string
		fast  splitter
		regex string
	}{
		{"qwen2", llama3Splitter{maxDigits: 1}, reQwen2},
		{"llama3", llama3Splitter{maxDigits: 3}, reLlama3},
		// llama.cpp's GPT-2 splitter implements the pattern with a final
		// \s+ alternative, which the pattern string leaves out.
		{"gpt2", gpt2Splitter{}, reGPT2 + `|\s+`},
	}
	inputs := vocabInputs(t)
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 3000; i++ {
		inputs = append(inputs, randomSample(r, 1+r.Intn(24)))
	}
	inputs = append(inputs, "\xff\xfe a\xc3", "x\xed\xa0\x80y", "  \n\n  \t x", "'S'LL'Re", "a  ", "  ")
	for _, p := range pairs {
		rs, err := compileSplitRegex(p.regex)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if !rs.wsTail || !rs.collapsed {
			t.Fatalf("%s: wsTail %v collapsed %v", p.name, rs.wsTail, rs.collapsed)
		}
		bad := 0
		for _, in := range inputs {
			a, b := splitWords(p.fast, in), splitWords(rs, in)
			if strings.Join(a, "\x00|") != strings.Join(b, "\x00|") {
				t.Errorf("%s %q:\n fast  %q\n regex %q", p.name, in, a, b)
				if bad++; bad > 5 {
					break
				}
			}
		}
	}
}

// Expected words for a few patterns, worked out by hand from the pattern.
func TestSplitExamples(t *testing.T) {
	cases := []struct {
		pre, in string
		want    []string
	}{
		{"llama-bpe", "Hello world's  12345 ok!!\n\n  x", []string{"Hello", " world", "'s", " ", " ", "123", "45", " ok", "!!\n\n", " ", " x"}},
		{"qwen2", "ab12 3", []string{"ab", "1", "2", " ", "3"}},
		{"gpt-2", "I'm  here 42x", []string{"I", "'m", " ", " here", " 42", "x"}},
		{"deepseek-coder", "foo(1, 2)\nbar", []string{"foo", "(", "1", ",", " ", "2", ")", "\n", "bar"}},
		{"deepseek-llm", "Hi 中文 99!  ", []string{"Hi", " ", "中文", " ", "99", "!", "  "}},
		{"starcoder", " 123abc", []string{" ", "1", "2", "3", "abc"}},
		{"falcon", "12345 a,b", []string{"123", "45", " a", ",", "b"}},
		{"default", "x+=1000", []string{"x", "+=", "100", "0"}},
	}
	for _, c := range cases {
		spec, ok := preSpecs[c.pre]
		if !ok {
			t.Fatalf("no pre-tokenizer %q", c.pre)
		}
		p, err := newPreTokenizer(c.pre, spec)
		if err != nil {
			t.Fatal(err)
		}
		cps := decodeCodePoints(c.in, nil)
		var sc splitScratch
		var got []string
		pos := 0
		for _, n := range p.split(cps, &sc) {
			got = append(got, string(cps[pos:pos+n]))
			pos += n
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s %q:\n got %q\nwant %q", c.pre, c.in, got, c.want)
		}
	}
}

// Every accepted pre-tokenizer name builds, and splitting covers the input
// exactly (no code point lost or repeated).
func TestAllPreTokenizersBuild(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for name, spec := range preSpecs {
		p, err := newPreTokenizer(name, spec)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for i := 0; i < 50; i++ {
			in := randomSample(r, r.Intn(30))
			cps := decodeCodePoints(in, nil)
			var sc splitScratch
			total := 0
			for _, n := range p.split(cps, &sc) {
				if n <= 0 {
					t.Fatalf("%s %q: empty piece", name, in)
				}
				total += n
			}
			if total != len(cps) {
				t.Fatalf("%s %q: pieces cover %d of %d code points", name, in, total, len(cps))
			}
		}
	}
	for name := range unsupportedPre {
		if _, ok := preSpecs[name]; ok {
			t.Errorf("%s is both supported and unsupported", name)
		}
	}
}

func TestDecodeCodePoints(t *testing.T) {
	cases := []struct {
		in   string
		want []rune
	}{
		{"aé中😀", []rune{'a', 'é', '中', '😀'}},
		{"\xff", []rune{0xFFFD}},
		{"\xc3", []rune{0xFFFD}},
		{"\xc3(", []rune{0xFFFD, '('}},
		{"\xe4\xb8", []rune{0xFFFD, 0xFFFD}},
		{"\xc0\x80", []rune{0}},              // overlong, accepted as llama.cpp does
		{"\xed\xa0\x80", []rune{0xD800}},     // surrogate, likewise
		{"\xf7\xbf\xbf\xbf", []rune{0xFFFD}}, // above U+10FFFF
	}
	for _, c := range cases {
		got := decodeCodePoints(c.in, nil)
		if string(got) != string(c.want) || len(got) != len(c.want) {
			t.Errorf("%q: got %U want %U", c.in, got, c.want)
		}
	}
	// Re-encoding what decodes gives back valid input unchanged.
	for _, s := range []string{"plain", "ünïcødé", "中文😀", "\u0085\u2028"} {
		var b []byte
		for _, cp := range decodeCodePoints(s, nil) {
			b = appendCodePoint(b, cp)
		}
		if string(b) != s || !utf8.Valid(b) {
			t.Errorf("%q round-trips to %q", s, b)
		}
	}
}

func TestCategories(t *testing.T) {
	cases := map[rune]uint8{
		'a': catLetter, 'Z': catLetter, 'é': catLetter, '中': catLetter, 'ǅ': catLetter,
		'5': catNumber, '½': catNumber, '٣': catNumber,
		'!': catPunct, '_': catPunct, '¿': catPunct,
		'$': catSymbol, '~': catSymbol, '€': catSymbol, '😀': catSymbol,
		'\u0301': catMark, ' ': catSeparator, '\u00a0': catSeparator,
		'\n': catControl, '\u200d': catControl, '\ue000': catControl,
		'\u0378': catUndefined, 0x110000: catUndefined,
	}
	for cp, want := range cases {
		if got := category(cp); got != want {
			t.Errorf("category(%U) = %d, want %d", cp, got, want)
		}
	}
	for _, cp := range []rune{'\t', '\n', '\v', '\f', '\r', ' ', 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000} {
		if !isSpace(cp) {
			t.Errorf("isSpace(%U) = false", cp)
		}
	}
	for _, cp := range []rune{'a', 0x1C, 0x200B, 0xFEFF, 0x180E} {
		if isSpace(cp) {
			t.Errorf("isSpace(%U) = true", cp)
		}
	}
}
