package server

import (
	"math"

	"github.com/golem-llm/golem/internal/grammar"
)

// budgeted wraps a grammar matcher so that a constrained answer is always
// complete: when the tokens left (num_predict, or the room left in the
// context) are about to run out before the value closes, it stops letting
// the model choose and writes the shortest completion it finds, one byte
// token at a time, so that the answer still parses and validates.
//
// The completion is found by a depth-first search over single-byte tokens
// in an order that closes values early (quotes, brackets, zero, commas),
// using only the matcher's own Clone and Accept, so it honours everything
// the grammar enforces (required properties, enums, bounds, patterns).
type budgeted struct {
	m      *grammar.Matcher
	v      *vocab
	eog    []int32
	left   int // tokens that may still be generated, counting the next one
	path   []int32
	forced bool
	last   int // length of the last completion found, -1 if none yet
}

// closeWindow is how close to the end of the budget completions are
// searched for. The model is stopped when the shortest completion found
// (L tokens) plus a margin of max(closeMargin, L) reaches the tokens left:
// one token of the model's can open a structure that lengthens the
// completion by more than one (a new array item with required
// properties), so the margin must cover such a jump.
const (
	closeWindow = 160
	closeMargin = 32
)

func newBudgeted(m *grammar.Matcher, v *vocab, eog []int32, budget int) *budgeted {
	return &budgeted{m: m, v: v, eog: eog, left: budget, last: -1}
}

func (b *budgeted) Mask(logits []float32) {
	window := max(closeWindow, 3*b.last)
	if !b.forced && b.left <= window && (b.last < 0 || b.left <= 2*b.last+2*closeMargin || b.left%4 == 0) {
		if p, ok := b.completion(); ok && len(p) <= b.left {
			b.last = len(p)
			if len(p)+max(closeMargin, len(p)) >= b.left {
				b.path, b.forced = p, true
			}
		} else {
			b.last = -1
		}
	}
	if b.forced && len(b.path) > 0 {
		keep := b.path[0]
		for i := range logits {
			if int32(i) != keep {
				logits[i] = float32(math.Inf(-1))
			}
		}
		return
	}
	b.m.Mask(logits)
}

func (b *budgeted) Accept(id int32) error {
	if err := b.m.Accept(id); err != nil {
		return err
	}
	b.left--
	if b.forced && len(b.path) > 0 && b.path[0] == id {
		b.path = b.path[1:]
	}
	return nil
}

func (b *budgeted) Done() bool { return b.m.Done() }

// closeOrder is the order bytes are tried in when completing a value:
// closers first, then the shortest values, then anything printable.
var closeOrder = func() []byte {
	order := []byte(`"a}]0,:123456789-[{nultrefs`)
	seen := map[byte]bool{}
	for _, c := range order {
		seen[c] = true
	}
	for c := byte('a'); c <= 'z'; c++ {
		if !seen[c] {
			order = append(order, c)
			seen[c] = true
		}
	}
	for c := byte(' '); c < 0x7f; c++ {
		if !seen[c] {
			order = append(order, c)
		}
	}
	// UTF-8 continuation bytes finish a character a token left open;
	// lead bytes come last.
	for c := 0x80; c <= 0xff; c++ {
		order = append(order, byte(c))
	}
	return order
}()

// completion finds tokens that complete the value from the matcher's
// position, ending with an end-of-generation token when the value is
// complete but could go on (the caller checks the length against the
// tokens left); ok is false when none was found. It searches for the
// bytes of a completion, one byte token at a time, then writes those
// bytes with the fewest tokens (longest pieces first): the grammar reads
// bytes, so any tokenization of a valid completion is valid.
func (b *budgeted) completion() ([]int32, bool) {
	tries := 20000
	const maxBytes = 4096
	var path []byte
	ends := false
	var dfs func(m *grammar.Matcher) bool
	dfs = func(m *grammar.Matcher) bool {
		if m.Done() {
			return true
		}
		if m.CanEnd() && len(b.eog) > 0 {
			ends = true
			return true
		}
		if len(path) >= maxBytes {
			return false
		}
		// A failed Accept leaves the matcher as it was, so one copy
		// serves every failed try; only a success needs a fresh one.
		next := m.Clone()
		for _, c := range closeOrder {
			id := b.v.bytes[c]
			if id < 0 || tries <= 0 {
				continue
			}
			tries--
			if next.Accept(id) != nil {
				continue
			}
			path = append(path, c)
			if dfs(next) {
				return true
			}
			path = path[:len(path)-1]
			next = m.Clone()
		}
		return false
	}
	if !dfs(b.m.Clone()) {
		return nil, false
	}
	toks := b.v.tokenize(path)
	if ends {
		toks = append(toks, b.eog[0])
	}
	return toks, true
}

// minTokens is the length of the shortest completion found from the
// start, or -1 when the search found none.
func (b *budgeted) minTokens() int {
	p, ok := b.completion()
	if !ok {
		return -1
	}
	return len(p)
}
