package grammar

import (
	"fmt"
	"testing"
)

// greedyTokens splits text into the longest vocabulary pieces, left to
// right (not a real tokenizer's choice, but a valid segmentation).
func greedyTokens(tv *testVocab, text string) []int32 {
	v := tv.vocab
	var ids []int32
	for i := 0; i < len(text); {
		n, best, bestLen := int32(0), int32(-1), 0
		for j := i; j < len(text); j++ {
			n = v.child(n, text[j])
			if n < 0 {
				break
			}
			if t := v.nodes[n]; t.hi > t.lo {
				best, bestLen = v.rankID[t.lo], j-i+1
			}
		}
		if best < 0 {
			panic(fmt.Sprintf("no token for %q", text[i:]))
		}
		ids = append(ids, best)
		i += bestLen
	}
	return ids
}

func positioned(tb testing.TB, g *Grammar, tv *testVocab, prefix string) *Matcher {
	tb.Helper()
	m := g.NewMatcher(tv.vocab)
	for _, id := range greedyTokens(tv, prefix) {
		if err := m.Accept(id); err != nil {
			tb.Fatalf("prefix %q: %v", prefix, err)
		}
	}
	return m
}

const benchSchema = `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":150},
"email":{"type":"string","format":"email"},"tags":{"type":"array","items":{"type":"string","maxLength":16}},
"address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}},"required":["street","city"]}},
"required":["name","age","email","tags","address"]}`

var benchStates = []struct {
	name, schema, prefix string
}{
	{"json/string", "", `{"description": "The quick brown fox`},
	{"json/key", "", `{"a": 1, "`},
	{"json/after-number", "", `{"list": [1, 2, 3`},
	{"json/after-string", "", `{"a": {"b": "c"`},
	{"schema/string", benchSchema, `{"name": "Ada Lovel`},
	{"schema/integer", benchSchema, `{"name": "Ada", "age": 3`},
	{"schema/email", benchSchema, `{"name": "Ada", "age": 36, "email": "ada@ana`},
	{"schema/maxlength", benchSchema, `{"name": "Ada", "age": 36, "email": "a@b.c", "tags": ["mathem`},
	{"schema/nested-key", benchSchema, `{"name": "Ada", "age": 36, "email": "a@b.c", "tags": [], "address": {"`},
}

func benchGrammar(b *testing.B, schema string) *Grammar {
	if schema == "" {
		return JSON()
	}
	g, err := FromSchema([]byte(schema))
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// BenchmarkMask measures Mask in typical states with a warm cache, the
// steady state of a server that has seen the grammar before.
func BenchmarkMask(b *testing.B) {
	for _, mk := range []func(testing.TB) *testVocab{llama3Vocab, spmVocab} {
		tv := mk(b)
		for _, st := range benchStates {
			b.Run(tv.name+"/"+st.name, func(b *testing.B) {
				g := benchGrammar(b, st.schema)
				m := positioned(b, g, tv, st.prefix)
				logits := make([]float32, tv.vocab.Size())
				m.Mask(logits)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					m.Mask(logits)
				}
			})
		}
	}
}

// BenchmarkMaskCold measures Mask with an empty cache (a grammar never
// seen before), the worst case for a state.
func BenchmarkMaskCold(b *testing.B) {
	for _, mk := range []func(testing.TB) *testVocab{llama3Vocab, spmVocab} {
		tv := mk(b)
		for _, st := range benchStates {
			b.Run(tv.name+"/"+st.name, func(b *testing.B) {
				logits := make([]float32, tv.vocab.Size())
				ms := make([]*Matcher, b.N)
				for i := range ms {
					// A distinct schema text defeats the grammar cache.
					s := st.schema
					if s == "" {
						s = "{}"
					}
					g, err := FromSchema([]byte(fmt.Sprintf(`{"allOf":[%s],"title":"%d"}`, s, i)))
					if err != nil {
						b.Fatal(err)
					}
					ms[i] = positioned(b, g, tv, st.prefix)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					ms[i].Mask(logits)
				}
			})
		}
	}
}

// BenchmarkGeneration runs whole constrained documents: Mask and Accept per
// token along a fixed greedy tokenization of a realistic answer, fresh
// grammar cache each time (first request with this schema) and warm.
func BenchmarkGeneration(b *testing.B) {
	doc := `{"name": "Ada Lovelace", "age": 36, "email": "ada@analytical.org", "tags": ["mathematician", "writer"], "address": {"street": "12 St James's Square", "city": "London"}}`
	for _, mk := range []func(testing.TB) *testVocab{llama3Vocab, spmVocab} {
		tv := mk(b)
		ids := greedyTokens(tv, doc)
		logits := make([]float32, tv.vocab.Size())
		run := func(b *testing.B, g *Grammar) {
			m := g.NewMatcher(tv.vocab)
			for _, id := range ids {
				m.Mask(logits)
				if err := m.Accept(id); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(tv.name+"/cold", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				g, err := FromSchema([]byte(fmt.Sprintf(`{"allOf":[%s],"title":"%d"}`, benchSchema, i)))
				if err != nil {
					b.Fatal(err)
				}
				run(b, g)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(ids)), "µs/token")
		})
		b.Run(tv.name+"/warm", func(b *testing.B) {
			g := benchGrammar(b, benchSchema)
			run(b, g)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run(b, g)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(ids)), "µs/token")
		})
	}
}

// BenchmarkLexEntryCold measures the worst single miss: the walk of the
// whole vocabulary trie for the string automaton's body state, with the
// vocabulary's lexical cache emptied each time.
func BenchmarkLexEntryCold(b *testing.B) {
	for _, mk := range []func(testing.TB) *testVocab{llama3Vocab, spmVocab} {
		tv := mk(b)
		b.Run(tv.name, func(b *testing.B) {
			m := positioned(b, JSON(), tv, `{"a": "b`)
			top := m.alts[0][len(m.alts[0])-1]
			nd := &m.g.nodes[top.node]
			for i := 0; i < b.N; i++ {
				tv.vocab.lexMu.Lock()
				clear(tv.vocab.lexCache)
				tv.vocab.lexBytes = 0
				tv.vocab.lexMu.Unlock()
				m.lexEntry(nd, top)
			}
		})
	}
}
