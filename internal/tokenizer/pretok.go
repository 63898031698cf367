package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// A pre-tokenizer cuts text into words before BPE runs on each word alone.
// It is a sequence of steps; each step splits every current piece further.
// Within a piece, a regex step's matches become pieces and so does any text
// between or around them (llama.cpp's unicode_regex_split keeps unmatched
// text as its own piece rather than dropping it).
//
// llama.cpp runs two hand-written splitters for the GPT-2 and Llama-3
// patterns and std::regex (ECMAScript) for every other pattern. The regex
// path first "collapses" the text: each non-ASCII code point becomes one
// stand-in character for its category, non-ASCII white space becomes \v,
// and \p{..} in the pattern becomes a class of that stand-in plus the ASCII
// members of the category. Patterns without \p{..} run on the code points,
// again with non-ASCII white space turned into \v. This file reproduces both
// paths: the hand-written splitters as code, the regex path with Go's regexp
// (leftmost-first, so it picks the same match as a backtracking engine for
// these patterns) on the same collapsed or code point text.

// splitter refines a list of pieces, given as lengths in code points that
// cover cps.
type splitter interface {
	split(cps []rune, pieces []int, sc *splitScratch) []int
}

// preTokenizer is one of llama.cpp's LLAMA_VOCAB_PRE_TYPE_* settings.
type preTokenizer struct {
	name  string
	steps []splitter
}

// The regexes below are llama.cpp's (src/llama-vocab.cpp at 92ecdcc0, May
// 2025) for each pre-tokenizer type, written as the pattern strings it
// compiles.
const (
	// The GPT-2 pattern; llama.cpp runs its hand-written splitter for it.
	reGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
	// The Llama-3 pattern with (?i:...) spelled out; hand-written splitter too.
	reLlama3 = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// Qwen2: the Llama-3 pattern with single digits. Not one of llama.cpp's
	// hand-written cases, so it runs through the regex path.
	reQwen2 = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// deepseek-llm's Latin/Greek/Cyrillic/... letter ranges.
	reDeepseekLLMLetters = `\s?[` +
		`A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}` +
		`\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}` +
		`\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}` +
		`\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}` +
		`\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}` +
		`\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}` +
		`\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}` +
		`\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}` +
		`\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}` +
		`\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}` +
		`\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}` +
		`\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}` +
		`\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}` +
		`\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+`
	reCJK = `[\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+`
)

// preSpec describes one pre-tokenizer type: its regex steps and the vocab
// flags llama.cpp sets with it.
type preSpec struct {
	regexes      []string // in order
	ignoreMerges bool     // a whole word found in the vocab skips BPE
	addBOS       bool     // default for add_bos_token
	cleanSpaces  bool     // clean_up_tokenization_spaces on detokenize
	noBOS        bool     // llama.cpp unsets the BOS id (chatglm)
}

// preSpecs maps every tokenizer.ggml.pre value this package accepts to its
// spec. The aliases are the names llama.cpp maps to the same type.
var preSpecs = func() map[string]preSpec {
	gpt2 := preSpec{regexes: []string{reGPT2}, cleanSpaces: true}
	llama3 := preSpec{regexes: []string{reLlama3}, ignoreMerges: true, addBOS: true, cleanSpaces: true}
	qwen2 := preSpec{regexes: []string{reQwen2}}
	starcoder := preSpec{regexes: []string{`\p{N}`, reGPT2}, cleanSpaces: true}
	poro := preSpec{regexes: []string{` ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+`}}
	m := map[string]preSpec{
		"default": {regexes: []string{
			`[\p{P}\$\+<=>\^~\|]+`, reGPT2, `\p{N}+`, `[0-9][0-9][0-9]`,
		}, cleanSpaces: true},
		"deepseek-llm": {regexes: []string{
			`[\r\n]`, reDeepseekLLMLetters, `\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+`, `\s+$`, reCJK, `\p{N}+`,
		}},
		"deepseek-coder": {regexes: []string{
			`[\r\n]`, `\s?\p{L}+`, `\s?\p{P}+`, reCJK, `\p{N}`,
		}},
		"falcon": {regexes: []string{
			"[\\p{P}\\$\\+<=>\\^~\\|`]+", reGPT2, `[0-9][0-9][0-9]`,
		}, cleanSpaces: true},
		"dbrx":      {regexes: []string{reLlama3}, cleanSpaces: true},
		"smaug-bpe": {regexes: []string{reLlama3}, cleanSpaces: true},
		"chatglm-bpe": {regexes: []string{reLlama3},
			cleanSpaces: true, noBOS: true},
		"refact":       {regexes: starcoder.regexes, cleanSpaces: true},
		"command-r":    {regexes: starcoder.regexes},
		"smollm":       {regexes: starcoder.regexes},
		"poro-chat":    poro,
		"bloom":        {regexes: poro.regexes, cleanSpaces: true},
		"gpt3-finnish": {regexes: poro.regexes, cleanSpaces: true},
		"viking":       {regexes: []string{poro.regexes[0], `\p{N}`}},
		"chameleon": {regexes: []string{
			`<sentinel:[0-9]+>`, `(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z`, `([\t\n]|    |  )`,
			`\p{N}`, "[\\p{P}!-/:-@\\[-`{-~]", reGPT2,
		}, addBOS: true},
	}
	m["glm4"] = m["chatglm-bpe"]
	for _, n := range []string{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"} {
		m[n] = llama3
	}
	for _, n := range []string{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
		"jina-v1-en", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "exaone4", "a.x-4.0", "mellum"} {
		m[n] = gpt2
	}
	for _, n := range []string{"trillion", "granite-docling"} {
		s := gpt2
		s.cleanSpaces = false
		m[n] = s
	}
	for _, n := range []string{"qwen2", "deepseek-r1-qwen", "megrez", "stablelm2"} {
		s := qwen2
		if n == "stablelm2" || n == "megrez" {
			s.cleanSpaces = true
		}
		m[n] = s
	}
	for _, n := range []string{"starcoder", "codeshell", "exaone", "minerva-7b"} {
		m[n] = starcoder
	}
	return m
}()

// unsupportedPre lists pre-tokenizer types llama.cpp knows whose patterns
// need features this package does not implement (lookahead inside words,
// possessive quantifiers). Naming them gives a clearer error than "unknown".
var unsupportedPre = map[string]bool{
	"tekken": true, "gpt-4o": true, "llama4": true, "superbpe": true, "bailingmoe": true,
	"seed-coder": true, "deepseek-v3": true,
	"hunyuan": true, "kimi-k2": true, "grok-2": true, "afmoe": true, "minimax-m2": true,
}

// newPreTokenizer builds the pre-tokenizer for one spec.
func newPreTokenizer(name string, spec preSpec) (*preTokenizer, error) {
	p := &preTokenizer{name: name}
	for _, expr := range spec.regexes {
		switch {
		case expr == reGPT2:
			p.steps = append(p.steps, gpt2Splitter{})
		case expr == reLlama3:
			p.steps = append(p.steps, llama3Splitter{maxDigits: 3})
		case expr == reQwen2:
			// Same structure as the Llama-3 pattern with \p{N} matching one
			// digit; TestQwen2SplitterMatchesRegex checks the two agree.
			p.steps = append(p.steps, llama3Splitter{maxDigits: 1})
		default:
			rs, err := compileSplitRegex(expr)
			if err != nil {
				return nil, fmt.Errorf("tokenizer: pre-tokenizer %q: %w", name, err)
			}
			p.steps = append(p.steps, rs)
		}
	}
	return p, nil
}

// splitScratch holds per-call buffers, so that splitting allocates little.
type splitScratch struct {
	collapsed, wide   []byte  // the transformed texts, built on demand
	collapsedOff      []int32 // byte offset of each code point, plus the end
	wideOff           []int32
	haveCol, haveWide bool
	tmp               []int
}

// split cuts cps into words, returned as lengths in code points.
func (p *preTokenizer) split(cps []rune, sc *splitScratch) []int {
	sc.haveCol, sc.haveWide = false, false
	pieces := []int{len(cps)}
	if len(cps) == 0 {
		return nil
	}
	for _, st := range p.steps {
		pieces = st.split(cps, pieces, sc)
	}
	return pieces
}

// flagsAt returns the category and white-space flag of the code point at
// pos, or catNone outside [lo, hi), as llama.cpp's _get_flags does.
func flagsAt(cps []rune, pos, lo, hi int) (cat uint8, space bool) {
	if pos < lo || pos >= hi {
		return catNone, false
	}
	cp := cps[pos]
	return category(cp), isSpace(cp)
}

func cpAt(cps []rune, pos, lo, hi int) rune {
	if pos < lo || pos >= hi {
		return -1
	}
	return cps[pos]
}

// gpt2Splitter is llama.cpp's hand-written splitter for
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
type gpt2Splitter struct{}

func (gpt2Splitter) split(cps []rune, pieces []int, sc *splitScratch) []int {
	out := sc.tmp[:0]
	start := 0
	for _, n := range pieces {
		lo, hi := start, start+n
		start = hi
		prev := lo
		emit := func(end int) int {
			l := end - prev
			if l > 0 {
				out = append(out, l)
			}
			prev = end
			return l
		}
		for pos := lo; pos < hi; {
			cp := cps[pos]
			cat, _ := flagsAt(cps, pos, lo, hi)
			if cp == '\'' && pos+1 < hi {
				next := cps[pos+1]
				if next == 's' || next == 't' || next == 'm' || next == 'd' {
					pos += emit(pos + 2)
					continue
				}
				if pos+2 < hi {
					nn := cps[pos+2]
					if (next == 'r' && nn == 'e') || (next == 'v' && nn == 'e') || (next == 'l' && nn == 'l') {
						pos += emit(pos + 3)
						continue
					}
				}
			}
			cat2, space2 := cat, isSpace(cp)
			if cp == ' ' {
				cat2, space2 = flagsAt(cps, pos+1, lo, hi)
			}
			if cat2 == catLetter {
				if cp == ' ' {
					pos++
				}
				for cat2 == catLetter {
					pos++
					cat2, _ = flagsAt(cps, pos, lo, hi)
				}
				emit(pos)
				continue
			}
			if cat2 == catNumber {
				if cp == ' ' {
					pos++
				}
				for cat2 == catNumber {
					pos++
					cat2, _ = flagsAt(cps, pos, lo, hi)
				}
				emit(pos)
				continue
			}
			if !space2 && cat2 != catLetter && cat2 != catNumber && cat2 != catNone {
				if cp == ' ' {
					pos++
				}
				for !space2 && cat2 != catLetter && cat2 != catNumber && cat2 != catNone {
					pos++
					cat2, space2 = flagsAt(cps, pos, lo, hi)
				}
				emit(pos)
				continue
			}
			nws := 0
			for pos+nws < hi && isSpace(cps[pos+nws]) {
				nws++
			}
			if nws > 1 && pos+nws < hi { // \s+(?!\S)
				pos += nws - 1
				emit(pos)
				continue
			}
			if nws > 0 { // \s+
				pos += nws
				emit(pos)
				continue
			}
			pos++ // no match: the code point stands alone
			emit(pos)
		}
	}
	sc.tmp = pieces[:0]
	return out
}

// llama3Splitter is llama.cpp's hand-written splitter for the Llama-3
// pattern (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ . With maxDigits 1 it
// implements the Qwen2 pattern, whose only difference is \p{N}.
type llama3Splitter struct{ maxDigits int }

func lowerASCII(cp rune) rune {
	if cp >= 'A' && cp <= 'Z' {
		return cp + 'a' - 'A'
	}
	return cp
}

func (s llama3Splitter) split(cps []rune, pieces []int, sc *splitScratch) []int {
	out := sc.tmp[:0]
	start := 0
	for _, n := range pieces {
		lo, hi := start, start+n
		start = hi
		prev := lo
		emit := func(end int) int {
			l := end - prev
			if l > 0 {
				out = append(out, l)
			}
			prev = end
			return l
		}
		for pos := lo; pos < hi; {
			cp := cps[pos]
			cat, _ := flagsAt(cps, pos, lo, hi)
			// (?i:'s|'t|'re|'ve|'m|'ll|'d); only ASCII letters lower-case
			// to these, so ASCII case folding is exact.
			if cp == '\'' && pos+1 < hi {
				next := lowerASCII(cps[pos+1])
				if next == 's' || next == 't' || next == 'm' || next == 'd' {
					pos += emit(pos + 2)
					continue
				}
				if pos+2 < hi {
					nn := lowerASCII(cps[pos+2])
					if (next == 'r' && nn == 'e') || (next == 'v' && nn == 'e') || (next == 'l' && nn == 'l') {
						pos += emit(pos + 3)
						continue
					}
				}
			}
			// [^\r\n\p{L}\p{N}]?\p{L}+
			if !(cp == '\r' || cp == '\n' || cat == catNumber) {
				if nc, _ := flagsAt(cps, pos+1, lo, hi); cat == catLetter || nc == catLetter {
					pos++
					for c, _ := flagsAt(cps, pos, lo, hi); c == catLetter; c, _ = flagsAt(cps, pos, lo, hi) {
						pos++
					}
					emit(pos)
					continue
				}
			}
			// \p{N}{1,3}
			if cat == catNumber {
				ini := pos
				for c, _ := flagsAt(cps, pos, lo, hi); c == catNumber; c, _ = flagsAt(cps, pos, lo, hi) {
					pos++
					if pos-ini >= s.maxDigits {
						emit(pos)
						ini = pos
					}
				}
				emit(pos)
				continue
			}
			// ?[^\s\p{L}\p{N}]+[\r\n]*
			cat2, space2 := cat, isSpace(cp)
			if cp == ' ' {
				cat2, space2 = flagsAt(cps, pos+1, lo, hi)
			}
			if !space2 && cat2 != catLetter && cat2 != catNumber && cat != catNone {
				if cp == ' ' {
					pos++
				}
				for !space2 && cat2 != catLetter && cat2 != catNumber && cat2 != catNone {
					pos++
					cat2, space2 = flagsAt(cps, pos, lo, hi)
				}
				for c := cpAt(cps, pos, lo, hi); c == '\r' || c == '\n'; c = cpAt(cps, pos, lo, hi) {
					pos++
				}
				emit(pos)
				continue
			}
			nws, lastNL := 0, 0
			for pos+nws < hi && isSpace(cps[pos+nws]) {
				if c := cps[pos+nws]; c == '\r' || c == '\n' {
					lastNL = pos + nws + 1
				}
				nws++
			}
			if lastNL > 0 { // \s*[\r\n]+
				pos = lastNL
				emit(pos)
				continue
			}
			if nws > 1 && pos+nws < hi { // \s+(?!\S)
				pos += nws - 1
				emit(pos)
				continue
			}
			if nws > 0 { // \s+
				pos += nws
				emit(pos)
				continue
			}
			pos++
			emit(pos)
		}
	}
	sc.tmp = pieces[:0]
	return out
}

// regexSplitter runs one pattern through Go's regexp, on the same
// transformed text llama.cpp's std::regex sees.
type regexSplitter struct {
	expr      string
	re        *regexp.Regexp
	collapsed bool // the pattern uses \p{..}: match against collapsed text
	// wsTail: the pattern ended in \s+(?!\S)|\s+ and was compiled with a
	// final capture group (\s+) instead. Go has no lookahead, so a match of
	// that group that stops before a non-space is shortened by one code
	// point, which is exactly what the backtracking engine finds.
	wsTail  bool
	wsGroup int
}

// Stand-ins for collapsed non-ASCII code points (llama.cpp uses the bytes
// 0xD0..0xD5; any rune that cannot otherwise occur in collapsed text works).
const (
	colOther  = '\uE0D0'
	colNumber = '\uE0D1'
	colLetter = '\uE0D2'
	colPunct  = '\uE0D3'
	colMark   = '\uE0D4'
	colSymbol = '\uE0D5'
)

// ucatClass gives, for each \p{..} llama.cpp understands, the contents of a
// character class over collapsed text: the stand-in plus the ASCII members
// llama.cpp lists for the category. Note that its symbol list leaves out '~'.
var ucatClass = map[string]string{
	`\p{N}`:  `\x{E0D1}0-9`,
	`\p{L}`:  `\x{E0D2}A-Za-z`,
	`\p{Lu}`: `\x{E0D2}A-Za-z`,
	`\p{Ll}`: `\x{E0D2}A-Za-z`,
	`\p{Lt}`: `\x{E0D2}A-Za-z`,
	`\p{Lm}`: `\x{E0D2}A-Za-z`,
	`\p{Lo}`: `\x{E0D2}A-Za-z`,
	`\p{P}`:  `\x{E0D3}!-#%-*,-/:-;?-@\[-\]_\{\}`,
	`\p{M}`:  `\x{E0D4}`,
	`\p{S}`:  "\\x{E0D5}\\$\\+<->\\^`\\|",
}

const (
	spaceClass   = `\t\n\v\f\r `
	wsTailSuffix = `|\s+(?!\S)|\s+`
)

// compileSplitRegex translates one llama.cpp pattern into Go syntax.
func compileSplitRegex(expr string) (*regexSplitter, error) {
	rs := &regexSplitter{expr: expr}
	body := expr
	if strings.HasSuffix(body, wsTailSuffix) {
		body = strings.TrimSuffix(body, wsTailSuffix)
		rs.wsTail = true
	}
	for k := range ucatClass {
		if strings.Contains(body, k) {
			rs.collapsed = true
			break
		}
	}
	var b strings.Builder
	inside := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c >= 0x80 && rs.collapsed {
			return nil, fmt.Errorf("pattern %q mixes \\p{..} with non-ASCII characters", expr)
		}
		switch {
		// Escaped characters are consumed in pairs below, so any bracket
		// seen here is unescaped.
		case c == '[' && !inside:
			inside = true
			b.WriteByte(c)
		case c == ']' && inside:
			inside = false
			b.WriteByte(c)
		case c == '(' && i+2 < len(body) && body[i+1] == '?' && body[i+2] != ':':
			return nil, fmt.Errorf("pattern %q uses a lookaround or group flag this package does not support", expr)
		case c == '^' && !inside:
			return nil, fmt.Errorf("pattern %q uses ^, which this package does not support", expr)
		case c == '\\' && i+1 < len(body):
			d := body[i+1]
			switch {
			case d == 'p' && i+2 < len(body) && body[i+2] == '{':
				end := strings.IndexByte(body[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("pattern %q has an unterminated \\p{", expr)
				}
				cls, ok := ucatClass[body[i:i+end+1]]
				if !ok {
					return nil, fmt.Errorf("pattern %q uses %s, which llama.cpp does not support", expr, body[i:i+end+1])
				}
				if inside {
					b.WriteString(cls)
				} else {
					b.WriteString("[" + cls + "]")
				}
				i += end
			case d == 's':
				if inside {
					b.WriteString(spaceClass)
				} else {
					b.WriteString("[" + spaceClass + "]")
				}
				i++
			case d == 'S':
				if inside {
					return nil, fmt.Errorf("pattern %q uses \\S inside a class", expr)
				}
				b.WriteString("[^" + spaceClass + "]")
				i++
			default:
				b.WriteByte(c)
				b.WriteByte(d)
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	goExpr := b.String()
	if rs.wsTail {
		goExpr = "(?:" + goExpr + ")|([" + spaceClass + "]+)"
	}
	re, err := regexp.Compile(goExpr)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", expr, err)
	}
	if re.Match(nil) {
		// An empty match would make llama.cpp emit an empty word; no
		// supported pattern can produce one.
		return nil, fmt.Errorf("pattern %q can match the empty string", expr)
	}
	if rs.wsTail {
		rs.wsGroup = re.NumSubexp()
	}
	rs.re = re
	return rs, nil
}

// buildCollapsed writes the collapsed text: ASCII stays, non-ASCII white
// space becomes \v, and every other code point its category's stand-in.
func (sc *splitScratch) buildCollapsed(cps []rune) {
	if sc.haveCol {
		return
	}
	sc.haveCol = true
	sc.collapsed = sc.collapsed[:0]
	sc.collapsedOff = sc.collapsedOff[:0]
	for _, cp := range cps {
		sc.collapsedOff = append(sc.collapsedOff, int32(len(sc.collapsed)))
		if cp < 0x80 {
			sc.collapsed = append(sc.collapsed, byte(cp))
			continue
		}
		if isSpace(cp) {
			sc.collapsed = append(sc.collapsed, '\v')
			continue
		}
		r := rune(colOther)
		switch category(cp) {
		case catNumber:
			r = colNumber
		case catLetter:
			r = colLetter
		case catPunct:
			r = colPunct
		case catMark:
			r = colMark
		case catSymbol:
			r = colSymbol
		}
		sc.collapsed = utf8.AppendRune(sc.collapsed, r)
	}
	sc.collapsedOff = append(sc.collapsedOff, int32(len(sc.collapsed)))
}

// buildWide writes the code points with non-ASCII white space turned into
// \v (llama.cpp's std::wregex input). Surrogates, which Go strings cannot
// hold, become U+FFFD; no supported pattern mentions them.
func (sc *splitScratch) buildWide(cps []rune) {
	if sc.haveWide {
		return
	}
	sc.haveWide = true
	sc.wide = sc.wide[:0]
	sc.wideOff = sc.wideOff[:0]
	for _, cp := range cps {
		sc.wideOff = append(sc.wideOff, int32(len(sc.wide)))
		if cp >= 0x80 && isSpace(cp) {
			cp = '\v'
		}
		sc.wide = utf8.AppendRune(sc.wide, cp)
	}
	sc.wideOff = append(sc.wideOff, int32(len(sc.wide)))
}

func (rs *regexSplitter) split(cps []rune, pieces []int, sc *splitScratch) []int {
	var text []byte
	var off []int32
	if rs.collapsed {
		sc.buildCollapsed(cps)
		text, off = sc.collapsed, sc.collapsedOff
	} else {
		sc.buildWide(cps)
		text, off = sc.wide, sc.wideOff
	}
	// cpIndex maps a byte offset at a code point boundary back to the code
	// point index; off is increasing, so search from a hint.
	cpIndex := func(byteOff int, from int) int {
		i := from
		for int(off[i]) < byteOff {
			i++
		}
		return i
	}
	out := sc.tmp[:0]
	start := 0
	for _, n := range pieces {
		lo, hi := start, start+n
		start = hi
		seg := text[off[lo]:off[hi]]
		base := int(off[lo])
		pos := 0   // byte offset within seg
		cpos := lo // code point index of pos
		for pos < len(seg) {
			loc := rs.re.FindSubmatchIndex(seg[pos:])
			if loc == nil {
				break
			}
			ms, me := pos+loc[0], pos+loc[1]
			cs := cpIndex(base+ms, cpos)
			ce := cpIndex(base+me, cs)
			if rs.wsTail && loc[2*rs.wsGroup] >= 0 && me < len(seg) && ce-cs > 1 {
				ce-- // \s+(?!\S): give back the space before the non-space
				me = int(off[ce]) - base
			}
			if ce == cs {
				break // cannot happen: compileSplitRegex rejects empty matches
			}
			if cs > cpos {
				out = append(out, cs-cpos)
			}
			out = append(out, ce-cs)
			cpos, pos = ce, me
		}
		if cpos < hi {
			out = append(out, hi-cpos)
		}
	}
	sc.tmp = pieces[:0]
	return out
}
