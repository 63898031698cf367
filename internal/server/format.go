package server

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/golem-llm/golem/internal/grammar"
	"github.com/golem-llm/golem/internal/runner"
	"github.com/golem-llm/golem/internal/tokenizer"
)

// formatConstraint turns a request's "format" ("json" or a JSON Schema)
// into a decoding constraint, so that the output is valid JSON (matching
// the schema) by construction rather than by asking the model nicely.
// An invalid format or schema answers 400. budget is the most tokens the
// answer may take; the constraint closes the value before it runs out.
func (s *Server) formatConstraint(l *loaded, format json.RawMessage, budget int) (runner.Constraint, error) {
	g, err := grammar.ParseFormat(format)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	if g == nil {
		return nil, nil
	}
	v := vocabFor(l.tok)
	b := newBudgeted(g.NewMatcher(v.v), v, l.tok.EOGTokens(), budget)
	// An answer that cannot fit cannot be valid: say so instead of
	// returning truncated JSON.
	if n := b.minTokens(); n > budget {
		return nil, errorf(http.StatusBadRequest, "the format needs at least %d tokens of output but only %d can be generated (raise num_predict or num_ctx)", n, budget)
	}
	return b, nil
}

// vocab is the grammar's view of a vocabulary, with its single-byte
// tokens and the ids of its short pieces, to write forced completions.
type vocab struct {
	v      *grammar.Vocab
	bytes  [256]int32
	pieces map[string]int32 // pieces of up to maxPiece bytes
}

const maxPiece = 16

// tokenize writes text with the fewest tokens, longest piece first.
func (v *vocab) tokenize(text []byte) []int32 {
	var out []int32
	for i := 0; i < len(text); {
		for n := min(maxPiece, len(text)-i); n >= 1; n-- {
			if id, ok := v.pieces[string(text[i:i+n])]; ok {
				out = append(out, id)
				i += n
				break
			}
			if n == 1 {
				out = append(out, v.bytes[text[i]])
				i++
			}
		}
	}
	return out
}

var vocabs struct {
	sync.Mutex
	m map[*tokenizer.Tokenizer]*vocab
}

// vocabFor builds (once per loaded tokenizer) the grammar's view of a
// vocabulary: each token's bytes, with control, unknown, unused and
// user-defined tokens left empty so a constrained answer cannot contain
// them.
func vocabFor(tok *tokenizer.Tokenizer) *vocab {
	vocabs.Lock()
	defer vocabs.Unlock()
	if v, ok := vocabs.m[tok]; ok {
		return v
	}
	if vocabs.m == nil || len(vocabs.m) >= 8 {
		vocabs.m = map[*tokenizer.Tokenizer]*vocab{}
	}
	v := &vocab{pieces: map[string]int32{}}
	for i := range v.bytes {
		v.bytes[i] = -1
	}
	pieces := make([][]byte, tok.VocabSize())
	for id := range pieces {
		switch typ := tok.TokenType(int32(id)); typ {
		case tokenizer.TypeNormal, tokenizer.TypeByte:
			p := tok.Piece(int32(id))
			pieces[id] = p
			if len(p) == 1 && (v.bytes[p[0]] < 0 || typ == tokenizer.TypeNormal) {
				v.bytes[p[0]] = int32(id)
			}
			if len(p) > 1 && len(p) <= maxPiece {
				if _, dup := v.pieces[string(p)]; !dup {
					v.pieces[string(p)] = int32(id)
				}
			}
		}
	}
	v.v = grammar.NewVocab(pieces, tok.EOGTokens())
	vocabs.m[tok] = v
	return v
}
