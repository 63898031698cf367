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
	return newBudgeted(g.NewMatcher(v.v), &v.bytes, l.tok.EOGTokens(), budget), nil
}

// vocab is the grammar's view of a vocabulary plus its single-byte tokens.
type vocab struct {
	v     *grammar.Vocab
	bytes [256]int32
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
	v := &vocab{}
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
		}
	}
	v.v = grammar.NewVocab(pieces, tok.EOGTokens())
	vocabs.m[tok] = v
	return v
}
