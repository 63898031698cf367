package grammar

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
)

// maskedIDs applies Mask to logits holding each id's own value and
// returns the ids left untouched, checking that nothing else changed.
func maskedIDs(t *testing.T, m *Matcher, n int) []int32 {
	t.Helper()
	logits := make([]float32, n)
	for i := range logits {
		logits[i] = float32(i)
	}
	m.Mask(logits)
	var ids []int32
	for i, l := range logits {
		switch {
		case math.IsInf(float64(l), -1):
		case l == float32(i):
			ids = append(ids, int32(i))
		default:
			t.Fatalf("Mask changed logit %d to %v", i, l)
		}
	}
	return ids
}

func sameIDs(a, b []int32) bool {
	a, b = append([]int32(nil), a...), append([]int32(nil), b...)
	sort.Slice(a, func(i, j int) bool { return a[i] < a[j] })
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMaskSemantics(t *testing.T) {
	for _, tv := range []*testVocab{llama3Vocab(t), spmVocab(t)} {
		size := tv.vocab.Size()
		padded := size + 100 // models pad their output layer
		g := grammarFor(t, `{"type":"object","properties":{"n":{"type":"integer"}}}`)
		m := g.NewMatcher(tv.vocab)
		for _, prefix := range []string{``, `{`, `{"n"`, `{"n":`, `{"n":1`, `{"n":12`, `{"n":12}`} {
			m = positioned(t, g, tv, prefix)
			ids := maskedIDs(t, m, padded)
			if !sameIDs(ids, m.Allowed(nil)) {
				t.Fatalf("%s after %q: Mask and Allowed differ", tv.name, prefix)
			}
			for _, id := range ids {
				if int(id) >= size {
					t.Fatalf("%s after %q: padding id %d allowed", tv.name, prefix, id)
				}
				if len(tv.pieces[id]) == 0 && !tv.vocab.isEOG[id] {
					t.Fatalf("%s after %q: special token %d allowed", tv.name, prefix, id)
				}
				if tv.vocab.isEOG[id] != (prefix == `{"n":12}`) {
					t.Fatalf("%s after %q: end token %d allowed=%v", tv.name, prefix, id, true)
				}
			}
			if len(ids) == 0 {
				t.Fatalf("%s after %q: nothing allowed", tv.name, prefix)
			}
			if prefix == `{"n":12}` {
				if !m.Done() || len(ids) != len(tv.eog) {
					t.Fatalf("%s: a closed object must be done and allow only end tokens, got %d ids", tv.name, len(ids))
				}
			} else if m.Done() || m.CanEnd() {
				t.Fatalf("%s after %q: done too early", tv.name, prefix)
			}
		}
		// A refused token leaves the matcher as it was.
		m = positioned(t, g, tv, `{"n":1`)
		before := m.Allowed(nil)
		for _, bad := range []string{`"`, `x`, `}}`, `.`} {
			id := greedyTokens(tv, bad)[0]
			if err := m.Accept(id); err == nil {
				t.Fatalf("%s: %q accepted after {\"n\":1", tv.name, bad)
			}
		}
		if !sameIDs(before, m.Allowed(nil)) {
			t.Fatalf("%s: refused tokens changed the matcher", tv.name)
		}
		if err := m.Accept(int32(size)); err == nil {
			t.Fatalf("%s: out-of-range id accepted", tv.name)
		}
		if err := m.Accept(tv.eog[0]); err == nil {
			t.Fatalf("%s: end token accepted inside a value", tv.name)
		}
		for id := range tv.pieces {
			if len(tv.pieces[id]) == 0 && !tv.vocab.isEOG[int32(id)] {
				if err := m.Accept(int32(id)); err == nil {
					t.Fatalf("%s: special token %d accepted", tv.name, id)
				}
				break
			}
		}
		// Clones are independent.
		c := m.Clone()
		if err := c.Accept(greedyTokens(tv, "}")[0]); err != nil {
			t.Fatal(err)
		}
		if !c.Done() || m.Done() {
			t.Fatalf("%s: clone and original share state", tv.name)
		}
		// After the end token nothing more.
		if err := c.Accept(tv.eog[0]); err != nil {
			t.Fatal(err)
		}
		if ids := maskedIDs(t, c, padded); len(ids) != 0 {
			t.Fatalf("%s: %d tokens allowed after the end", tv.name, len(ids))
		}
		if err := c.Accept(greedyTokens(tv, " ")[0]); err == nil {
			t.Fatalf("%s: token accepted after the end", tv.name)
		}
		// A value that may go on: complete, not done, digits and end allowed.
		gi := grammarFor(t, `{"type":"integer"}`)
		mi := positioned(t, gi, tv, `12`)
		if !mi.CanEnd() || mi.Done() {
			t.Fatalf("%s: integer 12: CanEnd %v Done %v", tv.name, mi.CanEnd(), mi.Done())
		}
		ids := mi.Allowed(nil)
		if !contains(ids, tv.eog[0]) || !contains(ids, greedyTokens(tv, "3")[0]) {
			t.Fatalf("%s: integer 12 should allow a digit and the end", tv.name)
		}
	}
}

func TestConcurrentMatchers(t *testing.T) {
	tv := llama3Vocab(t)
	schema := `{"type":"object","properties":{"id":{"type":"integer","minimum":1},"note":{"type":"string","maxLength":30},
		"when":{"type":"string","format":"date"},"xs":{"type":"array","items":{"type":"number"},"maxItems":4}},"required":["id","note","when","xs"]}`
	g := grammarFor(t, schema)
	close := closers(tv)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for k := 0; k < 3; k++ {
				r, err := walkDoc(g, tv, close, rng, k == 0)
				if err == nil {
					err = validateDoc([]byte(schema), r.doc)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// byteVocab is a small vocabulary for fuzzing: every byte plus a few JSON
// pieces, and one end token.
func byteVocab() (*Vocab, [][]byte) {
	var pieces [][]byte
	for b := 0; b < 256; b++ {
		pieces = append(pieces, []byte{byte(b)})
	}
	for _, s := range []string{`{"`, `":`, `",`, `"}`, `true`, `null`, `false`, `0`, `12`, `abc`, `  `, "\n  ", `[]`, `{}`, `"a"`, `-1.5`} {
		pieces = append(pieces, []byte(s))
	}
	pieces = append(pieces, nil, nil) // a special token and the end token
	eog := int32(len(pieces) - 1)
	return NewVocab(pieces, []int32{eog}), pieces
}

var fuzzVocab = sync.OnceValues(byteVocab)

func FuzzFromSchema(f *testing.F) {
	for _, tc := range walkSchemas {
		f.Add([]byte(tc.schema), uint64(1))
	}
	for _, s := range []string{`{"type":"string","pattern":"^(a|b)*c{2,4}$"}`, `{"anyOf":[{"type":"integer","minimum":5},{"enum":["x",[1]]}]}`,
		`{"type":"array","prefixItems":[{"const":1}],"items":{"type":"string","format":"uuid"}}`} {
		f.Add([]byte(s), uint64(2))
	}
	f.Fuzz(func(t *testing.T, schema []byte, seed uint64) {
		g, err := FromSchema(schema)
		if err != nil {
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a SchemaError: %v", err)
			}
			return
		}
		v, pieces := fuzzVocab()
		m := g.NewMatcher(v)
		rng := rand.New(rand.NewPCG(seed, 7))
		var doc []byte
		var allowed []int32
		for step := 0; step < 60 && !m.Done(); step++ {
			allowed = m.Allowed(allowed[:0])
			if len(allowed) == 0 {
				t.Fatalf("empty mask after %q", doc)
			}
			id := allowed[rng.IntN(len(allowed))]
			if err := m.Accept(id); err != nil {
				t.Fatalf("allowed token refused after %q: %v", doc, err)
			}
			if v.isEOG[id] {
				break
			}
			doc = append(doc, pieces[id]...)
		}
		rest := m.Completion()
		for _, c := range rest {
			if err := m.Accept(int32(c)); err != nil { // token c is byte c
				t.Fatalf("completion %q of %q refused: %v", rest, doc, err)
			}
		}
		doc = append(doc, rest...)
		if !m.CanEnd() {
			t.Fatalf("completion %q leaves %q open", rest, doc)
		}
		if !json.Valid(doc) {
			t.Fatalf("finished document is not JSON: %q", doc)
		}
	})
}
