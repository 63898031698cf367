// Package tokenizer turns text into token ids and back, the way llama.cpp
// (commit 92ecdcc0, May 2025) does for GGUF vocabularies.
//
// Two model types are implemented:
//
//   - SPM ("llama" in tokenizer.ggml.model): SentencePiece-style BPE over
//     the text with spaces written as U+2581, merging the adjacent pair whose
//     concatenation is the highest-scoring vocabulary entry, with byte
//     fallback to <0xXX> tokens;
//
//   - BPE ("gpt2"): byte-level BPE with ranked merges, after a
//     pre-tokenizer chosen by tokenizer.ggml.pre has cut the text into words.
//
//   - WPM ("bert"): WordPiece, greedy longest-match over words split at
//     white space and punctuation, as BERT-style embedding models use.
//
// The other llama.cpp types (t5, rwkv, …) are not implemented; FromGGUF
// reports them as unsupported. A new type is one more Kind with its own
// encode loop; special-token handling and decoding are shared.
//
// Token ids are int32 as in llama.cpp. Texts are Go strings of raw bytes:
// Decode returns exactly the bytes the tokens stand for, which need not be
// valid UTF-8 (a sequence may end inside a character).
package tokenizer

import (
	"fmt"
	"sort"
	"strings"
)

// Kind is the tokenizer model type.
type Kind int

const (
	// SPM is SentencePiece-style BPE (tokenizer.ggml.model "llama").
	SPM Kind = iota + 1
	// BPE is byte-level BPE with merges (tokenizer.ggml.model "gpt2").
	BPE
	// WPM is WordPiece (tokenizer.ggml.model "bert").
	WPM
)

func (k Kind) String() string {
	switch k {
	case SPM:
		return "SPM"
	case BPE:
		return "BPE"
	case WPM:
		return "WPM"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Token types as stored in tokenizer.ggml.token_type.
const (
	TypeUndefined   int32 = 0
	TypeNormal      int32 = 1
	TypeUnknown     int32 = 2
	TypeControl     int32 = 3
	TypeUserDefined int32 = 4
	TypeUnused      int32 = 5
	TypeByte        int32 = 6
)

// NoToken is the id of an unset special token (llama.cpp's LLAMA_TOKEN_NULL).
const NoToken int32 = -1

// attr is a set of llama.cpp token attributes (llama_token_attr bits).
type attr uint16

const (
	attrUnknown     attr = 1 << 0
	attrUnused      attr = 1 << 1
	attrNormal      attr = 1 << 2
	attrControl     attr = 1 << 3
	attrUserDefined attr = 1 << 4
	attrByte        attr = 1 << 5
	attrLStrip      attr = 1 << 7
	attrRStrip      attr = 1 << 8
)

func attrOfType(t int32) attr {
	switch t {
	case TypeNormal:
		return attrNormal
	case TypeUnknown:
		return attrUnknown
	case TypeControl:
		return attrControl
	case TypeUserDefined:
		return attrUserDefined
	case TypeUnused:
		return attrUnused
	case TypeByte:
		return attrByte
	}
	return 0 // undefined, and any value llama.cpp does not know
}

// Options carries the special-token settings a GGUF file keeps beside the
// vocabulary. A nil field means the key is absent: llama.cpp's default for
// the model type applies (SPM: BOS 1, EOS 2, UNK 0, add BOS, add a space
// prefix; BPE: BOS and EOS 11, no UNK, no BOS unless the pre-tokenizer type
// asks for it, as llama3 does).
type Options struct {
	BOS, EOS, UNK, PAD, SEP, EOT, EOM *int32

	// Fill-in-the-middle tokens. FIMPad, FIMRep and FIMSep end generation.
	FIMPre, FIMSuf, FIMMid, FIMPad, FIMRep, FIMSep *int32

	AddBOS, AddEOS, AddSpacePrefix *bool

	// Name is general.name. llama.cpp gives special tokens of models named
	// like Phi-3 the "rstrip" attribute (white space after them is dropped
	// when they are matched in text); this is the only use.
	Name string
}

// Ptr returns a pointer to v, for filling Options.
func Ptr[T any](v T) *T { return &v }

// Tokenizer encodes and decodes text for one vocabulary. It is safe for
// concurrent use.
type Tokenizer struct {
	kind    Kind
	preName string // tokenizer.ggml.pre as given (BPE only)
	pre     *preTokenizer

	tokens []string
	scores []float32 // SPM only
	attrs  []attr
	toID   map[string]int32
	pieces [][]byte // each token's bytes as llama.cpp's token_to_piece(special=true) gives them

	// special holds the tokens matched in raw text before the model runs
	// (control, user-defined and unknown tokens), longest text first.
	special []int32

	merges       *mergeTable // BPE only
	ignoreMerges bool

	byteTok [256]int32 // SPM byte fallback: the <0xXX> token of each byte

	bos, eos, unk, pad, sep, eot, eom int32
	fimPre, fimSuf, fimMid            int32
	fimPad, fimRep, fimSep            int32
	addBOS, addEOS, addSpacePrefix    bool
	addSEP                            bool // WPM: end each input with the separator
	cleanSpaces                       bool
	eog                               map[int32]bool
}

// NewSPM builds a SentencePiece-style tokenizer. scores and types may be
// nil (all scores 0, all tokens normal); otherwise they must have one entry
// per token.
func NewSPM(tokens []string, scores []float32, types []int32, opts *Options) (*Tokenizer, error) {
	return build(SPM, tokens, scores, types, nil, "", opts)
}

// NewWPM builds a WordPiece tokenizer. Tokens that start a word carry the
// U+2581 prefix, continuation pieces are bare, as llama.cpp's converter
// stores BERT vocabularies. types may be nil (all tokens normal).
func NewWPM(tokens []string, types []int32, opts *Options) (*Tokenizer, error) {
	return build(WPM, tokens, nil, types, nil, "", opts)
}

// NewBPE builds a byte-level BPE tokenizer. Tokens are in GPT-2's byte-level
// alphabet (see ByteLevelEncode), except user-defined and control tokens,
// which hold their raw text. merges are "left right" pairs, highest
// priority first. pre is the tokenizer.ggml.pre value; "" means llama.cpp's
// "default". types may be nil (all tokens normal).
func NewBPE(tokens []string, types []int32, merges []string, pre string, opts *Options) (*Tokenizer, error) {
	return build(BPE, tokens, nil, types, merges, pre, opts)
}

func build(kind Kind, tokens []string, scores []float32, types []int32, merges []string, pre string, opts *Options) (*Tokenizer, error) {
	if opts == nil {
		opts = &Options{}
	}
	n := len(tokens)
	if n == 0 {
		return nil, fmt.Errorf("tokenizer: empty vocabulary")
	}
	if int64(n) > 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: %d tokens do not fit int32 ids", n)
	}
	if scores != nil && len(scores) != n {
		return nil, fmt.Errorf("tokenizer: %d scores for %d tokens", len(scores), n)
	}
	if types != nil && len(types) != n {
		return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(types), n)
	}

	t := &Tokenizer{
		kind: kind,
		bos:  NoToken, eos: NoToken, unk: NoToken, pad: NoToken, sep: NoToken,
		eot: NoToken, eom: NoToken,
		fimPre: NoToken, fimSuf: NoToken, fimMid: NoToken,
		fimPad: NoToken, fimRep: NoToken, fimSep: NoToken,
	}
	switch kind {
	case SPM:
		t.bos, t.eos, t.unk = 1, 2, 0
		t.addBOS, t.addSpacePrefix = true, true
	case WPM:
		// BERT's ids: [CLS] 101 starts and [SEP] 102 ends each input.
		t.bos, t.unk, t.sep, t.pad = 101, 100, 102, 0
		t.addBOS, t.addSEP = true, true
	case BPE:
		if len(merges) == 0 {
			return nil, fmt.Errorf("tokenizer: a BPE vocabulary needs merges")
		}
		name := pre
		if name == "" {
			name = "default"
		}
		spec, ok := preSpecs[name]
		if !ok {
			if unsupportedPre[name] {
				return nil, fmt.Errorf("tokenizer: pre-tokenizer type %q is not supported by this package yet", name)
			}
			return nil, fmt.Errorf("tokenizer: unknown pre-tokenizer type: %q", name)
		}
		p, err := newPreTokenizer(name, spec)
		if err != nil {
			return nil, err
		}
		t.preName, t.pre = name, p
		t.bos, t.eos = 11, 11
		t.ignoreMerges = spec.ignoreMerges
		t.addBOS = spec.addBOS
		t.cleanSpaces = spec.cleanSpaces
		if spec.noBOS {
			t.bos = NoToken
		}
	default:
		return nil, fmt.Errorf("tokenizer: unsupported model kind %v", kind)
	}
	// A default id outside a small vocabulary is unset rather than invalid.
	for _, id := range []*int32{&t.bos, &t.eos, &t.unk, &t.sep} {
		if *id >= int32(n) {
			*id = NoToken
		}
	}

	t.tokens = make([]string, n)
	t.attrs = make([]attr, n)
	t.toID = make(map[string]int32, n)
	for i, s := range tokens {
		if s == "" {
			s = fmt.Sprintf("[EMPTY_%d]", i) // as llama.cpp names empty tokens
		}
		t.tokens[i] = s
		t.toID[s] = int32(i) // a repeated text maps to its last id, as in llama.cpp
		t.attrs[i] = attrNormal
		if types != nil {
			t.attrs[i] = attrOfType(types[i])
		}
	}
	if kind == SPM {
		t.scores = make([]float32, n)
		copy(t.scores, scores)
	}
	if kind == BPE {
		mt, err := newMergeTable(merges)
		if err != nil {
			return nil, err
		}
		t.merges = mt
	}

	// Special ids from the file override the defaults.
	set := func(dst *int32, v *int32, key string) error {
		if v == nil {
			return nil
		}
		if *v < 0 || *v >= int32(n) {
			return fmt.Errorf("tokenizer: %s token id %d is outside the vocabulary (%d tokens)", key, *v, n)
		}
		*dst = *v
		return nil
	}
	for _, s := range []struct {
		dst *int32
		v   *int32
		key string
	}{
		{&t.bos, opts.BOS, "BOS"}, {&t.eos, opts.EOS, "EOS"}, {&t.unk, opts.UNK, "UNK"},
		{&t.pad, opts.PAD, "PAD"}, {&t.sep, opts.SEP, "SEP"}, {&t.eot, opts.EOT, "EOT"},
		{&t.eom, opts.EOM, "EOM"}, {&t.fimPre, opts.FIMPre, "FIM prefix"},
		{&t.fimSuf, opts.FIMSuf, "FIM suffix"}, {&t.fimMid, opts.FIMMid, "FIM middle"},
		{&t.fimPad, opts.FIMPad, "FIM pad"}, {&t.fimRep, opts.FIMRep, "FIM repo"},
		{&t.fimSep, opts.FIMSep, "FIM separator"},
	} {
		if err := set(s.dst, s.v, s.key); err != nil {
			return nil, err
		}
	}
	if opts.AddBOS != nil {
		t.addBOS = *opts.AddBOS
	}
	if opts.AddEOS != nil {
		t.addEOS = *opts.AddEOS
	}
	if opts.AddSpacePrefix != nil {
		t.addSpacePrefix = *opts.AddSpacePrefix
	}
	if t.addBOS && t.bos == NoToken {
		return nil, fmt.Errorf("tokenizer: add_bos_token is set but there is no BOS token")
	}
	if t.addEOS && t.eos == NoToken {
		return nil, fmt.Errorf("tokenizer: add_eos_token is set but there is no EOS token")
	}

	t.findEndTokens()

	// Tokens matched in raw text, longest first so that a long token wins
	// over a shorter one it contains (ties: lower id first).
	for id, a := range t.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.special = append(t.special, int32(id))
		}
	}
	sort.SliceStable(t.special, func(i, j int) bool {
		return len(t.tokens[t.special[i]]) > len(t.tokens[t.special[j]])
	})

	t.pieces = make([][]byte, n)
	for id := range t.tokens {
		t.pieces[id] = t.renderPiece(int32(id))
	}

	if lower := strings.ToLower(opts.Name); strings.Contains(lower, "phi-3") || strings.Contains(lower, "phi3") {
		for _, id := range t.special {
			t.attrs[id] |= attrRStrip
		}
		if id, ok := t.toID["</s>"]; ok {
			t.attrs[id] |= attrRStrip
		}
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			if id, ok := t.toID[s]; ok {
				t.attrs[id] &^= attrRStrip
			}
		}
	}

	if kind == SPM {
		const hex = "0123456789ABCDEF"
		for b := 0; b < 256; b++ {
			id, ok := t.toID["<0x"+string(hex[b>>4])+string(hex[b&15])+">"]
			if !ok {
				id, ok = t.toID[string([]byte{byte(b)})]
			}
			if !ok {
				id = t.unk // llama.cpp throws here; the unknown token is the honest stand-in
			}
			t.byteTok[b] = id
		}
	}
	return t, nil
}

// Token texts llama.cpp recognizes as special when no GGUF key names them.
var (
	eotTexts    = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>"}
	eomTexts    = []string{"<|eom_id|>"}
	fimPreTexts = []string{"<|fim_prefix|>", "<fim-prefix>", "<｜fim▁begin｜>", "<PRE>"}
	fimSufTexts = []string{"<|fim_suffix|>", "<fim-suffix>", "<｜fim▁hole｜>", "<SUF>"}
	fimMidTexts = []string{"<|fim_middle|>", "<fim-middle>", "<｜fim▁end｜>", "<MID>"}
	fimPadTexts = []string{"<|fim_pad|>", "<fim-pad>", "<PAD>"}
	fimRepTexts = []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"}
	fimSepTexts = []string{"<|file_sep|>"}
	// Texts that end generation wherever they occur in the vocabulary.
	eogTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>"}
)

// findEndTokens fills the EOT, EOM and FIM ids llama.cpp finds by token
// text, and the end-of-generation set. Every token found this way is made a
// control token, as llama.cpp does.
func (t *Tokenizer) findEndTokens() {
	byText := func(dst *int32, texts []string) {
		if *dst != NoToken {
			return
		}
		best := NoToken
		for _, s := range texts {
			if id, ok := t.toID[s]; ok && (best == NoToken || id < best) {
				best = id
			}
		}
		if best != NoToken {
			*dst = best
			t.attrs[best] |= attrControl
		}
	}
	byText(&t.eot, eotTexts)
	byText(&t.eom, eomTexts)
	byText(&t.fimPre, fimPreTexts)
	byText(&t.fimSuf, fimSufTexts)
	byText(&t.fimMid, fimMidTexts)
	byText(&t.fimPad, fimPadTexts)
	byText(&t.fimRep, fimRepTexts)
	byText(&t.fimSep, fimSepTexts)

	t.eog = map[int32]bool{}
	for _, id := range []int32{t.fimPad, t.fimRep, t.fimSep} {
		if id != NoToken {
			t.eog[id] = true
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.toID[s]; ok {
			t.eog[id] = true
			t.attrs[id] |= attrControl
		}
	}
	for _, id := range []int32{t.eos, t.eot, t.eom} {
		if id != NoToken {
			t.eog[id] = true
		}
	}
}

// renderPiece computes what llama.cpp's token_to_piece(special=true) gives
// for one token.
func (t *Tokenizer) renderPiece(id int32) []byte {
	text := t.tokens[id]
	a := t.attrs[id]
	if a&(attrUnknown|attrControl|attrUserDefined) != 0 {
		return []byte(text)
	}
	switch t.kind {
	case SPM:
		if a&attrNormal != 0 {
			return []byte(strings.ReplaceAll(text, "\u2581", " "))
		}
		if a&attrByte != 0 {
			return []byte{hexByte(text)}
		}
	case BPE:
		if a&attrNormal != 0 {
			return appendByteLevelDecode(nil, text)
		}
	case WPM:
		if a&attrNormal != 0 {
			return []byte(strings.ReplaceAll(text, "\u2581", " "))
		}
	}
	return nil // unused and undefined tokens render as nothing
}

// hexByte reads the byte of a "<0xXX>" token as llama.cpp does (strtol on
// the two characters after "<0x", stopping at the first non-hex one).
func hexByte(text string) byte {
	if len(text) < 4 {
		return 0
	}
	s := text[3:]
	if len(s) > 2 {
		s = s[:2]
	}
	var v byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return v
		}
		v = v<<4 | d
	}
	return v
}

// Kind returns the model type.
func (t *Tokenizer) Kind() Kind { return t.kind }

// Pre returns the pre-tokenizer type of a BPE vocabulary ("" for SPM).
func (t *Tokenizer) Pre() string { return t.preName }

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// BOS returns the beginning-of-sequence id, or NoToken.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence id, or NoToken.
func (t *Tokenizer) EOS() int32 { return t.eos }

// EOT returns the end-of-turn id, or NoToken.
func (t *Tokenizer) EOT() int32 { return t.eot }

// UNK returns the unknown-token id, or NoToken.
func (t *Tokenizer) UNK() int32 { return t.unk }

// PAD returns the padding id, or NoToken.
func (t *Tokenizer) PAD() int32 { return t.pad }

// AddBOS reports whether Encode with addSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether Encode with addSpecial appends EOS.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// IsEOG reports whether id ends generation: EOS, EOT, EOM, the FIM pad,
// repo and file-separator tokens, and tokens whose text is one of the usual
// end markers (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>,
// <|endoftext|>, <|eom_id|>, <EOT>, _<EOT>, <|end_of_text|>).
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// EOGTokens returns the end-of-generation ids in increasing order.
func (t *Tokenizer) EOGTokens() []int32 {
	ids := make([]int32, 0, len(t.eog))
	for id := range t.eog {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (t *Tokenizer) valid(id int32) bool { return id >= 0 && int(id) < len(t.tokens) }

// IsControl reports whether id is a control token (BOS, EOS, chat markers).
func (t *Tokenizer) IsControl(id int32) bool {
	return t.valid(id) && t.attrs[id]&attrControl != 0
}

// TokenType returns the token's type (TypeNormal, TypeControl, ...) after
// llama.cpp's adjustments: tokens it recognizes as end or FIM markers count
// as control tokens. Out-of-range ids give TypeUndefined.
func (t *Tokenizer) TokenType(id int32) int32 {
	if !t.valid(id) {
		return TypeUndefined
	}
	a := t.attrs[id]
	switch {
	case a&attrControl != 0:
		return TypeControl
	case a&attrUserDefined != 0:
		return TypeUserDefined
	case a&attrUnknown != 0:
		return TypeUnknown
	case a&attrByte != 0:
		return TypeByte
	case a&attrUnused != 0:
		return TypeUnused
	case a&attrNormal != 0:
		return TypeNormal
	}
	return TypeUndefined
}

// TokenID returns the id of the token whose vocabulary text is text.
func (t *Tokenizer) TokenID(text string) (int32, bool) {
	id, ok := t.toID[text]
	return id, ok
}

// TokenText returns the token's text as the vocabulary stores it ("" for an
// out-of-range id).
func (t *Tokenizer) TokenText(id int32) string {
	if !t.valid(id) {
		return ""
	}
	return t.tokens[id]
}

// Piece returns the bytes one token stands for. Control, unknown and
// user-defined tokens give their text; unused tokens and out-of-range ids
// give nothing. The slice is a copy.
func (t *Tokenizer) Piece(id int32) []byte {
	if !t.valid(id) {
		return nil
	}
	return append([]byte(nil), t.pieces[id]...)
}

// piece is llama.cpp's token_to_piece: control and unknown tokens render
// as nothing unless special is set, and lstrip drops one leading space.
func (t *Tokenizer) piece(id int32, lstrip, special bool) []byte {
	if !t.valid(id) {
		return nil
	}
	if !special && t.attrs[id]&(attrUnknown|attrControl) != 0 {
		return nil
	}
	p := t.pieces[id]
	if lstrip && len(p) > 0 && p[0] == ' ' {
		p = p[1:]
	}
	return p
}
