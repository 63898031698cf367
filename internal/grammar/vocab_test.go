package grammar

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/testutil"
	"github.com/golem-llm/golem/internal/tokenizer"
)

// Test vocabularies: Llama 3.2's byte-level BPE (128000 tokens from
// encoder.json plus 256 special tokens) and Llama 2's 32000-token
// SentencePiece vocabulary from a GGUF file.

type testVocab struct {
	name   string
	vocab  *Vocab
	pieces [][]byte
	eog    []int32
	tok    *tokenizer.Tokenizer // for encoding documents

	bytesOnce sync.Once
	bytes     [256]int32 // single-byte token of each byte
}

var (
	llama3Once, spmOnce sync.Once
	llama3V, spmV       *testVocab
	llama3Err, spmErr   error
)

// gpt2Bytes maps the GPT-2 byte-level alphabet back to bytes.
func gpt2Bytes() map[rune]byte {
	m := map[rune]byte{}
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[rune(b)] = byte(b)
		} else {
			m[rune(256+n)] = byte(b)
			n++
		}
	}
	return m
}

func llama3Vocab(t testing.TB) *testVocab {
	t.Helper()
	dir := testutil.Shared(t, "testdata", "models", "tokenizers", "llama3.2")
	llama3Once.Do(func() {
		data, err := os.ReadFile(filepath.Join(dir, "encoder.json"))
		if err != nil {
			llama3Err = err
			return
		}
		var enc map[string]int32
		if err := json.Unmarshal(data, &enc); err != nil {
			llama3Err = err
			return
		}
		rev := gpt2Bytes()
		pieces := make([][]byte, len(enc)+256) // specials 128000.. stay empty
		for s, id := range enc {
			var b []byte
			for _, r := range s {
				c, ok := rev[r]
				if !ok {
					llama3Err = &json.UnsupportedValueError{Str: s}
					return
				}
				b = append(b, c)
			}
			pieces[id] = b
		}
		tok, err := tokenizer.LoadGPT2Files(filepath.Join(dir, "encoder.json"), filepath.Join(dir, "vocab.bpe"),
			"llama-bpe", []string{"<|begin_of_text|>", "<|end_of_text|>"}, nil)
		if err != nil {
			llama3Err = err
			return
		}
		eog := []int32{128001, 128009}
		llama3V = &testVocab{name: "llama3", vocab: NewVocab(pieces, eog), pieces: pieces, eog: eog, tok: tok}
	})
	if llama3Err != nil {
		t.Fatalf("llama3.2 vocabulary: %v", llama3Err)
	}
	return llama3V
}

func spmVocab(t testing.TB) *testVocab {
	t.Helper()
	path := testutil.Shared(t, "testdata", "models", "vocab", "ggml-vocab-llama-spm.gguf")
	spmOnce.Do(func() {
		f, err := gguf.Open(path)
		if err != nil {
			spmErr = err
			return
		}
		defer f.Close()
		tok, err := tokenizer.FromGGUF(f)
		if err != nil {
			spmErr = err
			return
		}
		// Pieces straight from the GGUF token texts, decoded the
		// SentencePiece way, independent of the tokenizer package.
		texts, ok := f.Strings("tokenizer.ggml.tokens")
		types, ok2 := f.Int32s("tokenizer.ggml.token_type")
		if !ok || !ok2 || len(texts) != len(types) {
			spmErr = os.ErrInvalid
			return
		}
		pieces := make([][]byte, len(texts))
		for id, s := range texts {
			switch types[id] {
			case 1: // normal
				pieces[id] = []byte(strings.ReplaceAll(s, "\u2581", " "))
			case 6: // byte <0xXX>
				var b byte
				for _, c := range s[3:5] {
					b <<= 4
					switch {
					case c >= '0' && c <= '9':
						b |= byte(c - '0')
					case c >= 'A' && c <= 'F':
						b |= byte(c - 'A' + 10)
					}
				}
				pieces[id] = []byte{b}
			}
		}
		eog := []int32{2}
		spmV = &testVocab{name: "spm", vocab: NewVocab(pieces, eog), pieces: pieces, eog: eog, tok: tok}
	})
	if spmErr != nil {
		t.Fatalf("llama SPM vocabulary: %v", spmErr)
	}
	return spmV
}

func TestVocabTrie(t *testing.T) {
	for _, tv := range []*testVocab{llama3Vocab(t), spmVocab(t)} {
		v := tv.vocab
		// Every ranked token is found by walking its bytes, and the
		// ranks at that node map back to it.
		for id, p := range tv.pieces {
			if len(p) == 0 || v.isEOG[int32(id)] {
				continue
			}
			n := int32(0)
			for _, c := range p {
				n = v.child(n, c)
				if n < 0 {
					t.Fatalf("%s: token %d %q not in the trie", tv.name, id, p)
				}
			}
			found := false
			for r := v.nodes[n].lo; r < v.nodes[n].hi; r++ {
				if v.rankID[r] == int32(id) {
					found = true
				}
			}
			if !found {
				t.Fatalf("%s: token %d %q not at its node", tv.name, id, p)
			}
		}
		// Subtree rank ranges hold exactly the tokens with that prefix.
		for c := 0; c < 256; c++ {
			n := v.rootAt[c]
			if n < 0 {
				continue
			}
			for r := v.nStart[n]; r < v.nEnd[n]; r++ {
				if p := tv.pieces[v.rankID[r]]; p[0] != byte(c) {
					t.Fatalf("%s: rank %d (%q) in the range of first byte %q", tv.name, r, p, byte(c))
				}
			}
		}
		t.Logf("%v", v)
	}
}
