package grammar

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Random walks: a "model" that picks random allowed tokens from a real
// vocabulary must always produce a document that parses and validates,
// the mask must never be empty before the end, and Accept (which steps the
// automaton byte by byte, without the trie or the cache) must agree with
// the mask on sampled allowed and refused tokens.

var walkSchemas = []struct {
	name   string
	schema string
}{
	{"pydantic-user", `{"title":"User","type":"object","properties":{
		"id":{"title":"Id","type":"integer"},
		"name":{"title":"Name","type":"string","description":"full name"},
		"email":{"type":"string","format":"email"},
		"tags":{"type":"array","items":{"type":"string"},"maxItems":3},
		"address":{"$ref":"#/$defs/Address"},
		"nickname":{"anyOf":[{"type":"string","maxLength":8},{"type":"null"}],"default":null}},
		"required":["id","name","email","tags","address"],
		"$defs":{"Address":{"type":"object","properties":{"street":{"type":"string"},"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["street","zip"]}}}`},
	{"openai-strict", `{"type":"object","additionalProperties":false,"required":["steps","final_answer"],"properties":{
		"steps":{"type":"array","maxItems":3,"items":{"type":"object","additionalProperties":false,"required":["explanation","output","kind"],
			"properties":{"explanation":{"type":"string","maxLength":20},"output":{"type":"string"},"kind":{"type":"string","enum":["calc","lookup","guess"]}}}},
		"final_answer":{"type":"string"}}}`},
	{"recursive-tree", `{"$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},
		"children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["value","children"],"additionalProperties":false}},
		"$ref":"#/$defs/node"}`},
	{"numbers", `{"type":"object","properties":{"p":{"type":"number","minimum":0,"maximum":1},"t":{"type":"number","exclusiveMinimum":-273.15},
		"i":{"type":"integer","minimum":-5,"exclusiveMaximum":5},"big":{"type":"integer","minimum":1000000},"neg":{"type":"number","maximum":-0.5},
		"n":{"type":"number"},"k":{"type":"integer"},"e":{"type":"integer","minimum":7,"maximum":7},"x":{"type":"number","exclusiveMinimum":0.25,"exclusiveMaximum":0.5}},
		"required":["p","t","i","big","neg","n","k","e","x"]}`},
	{"strings", `{"type":"object","properties":{"short":{"type":"string","minLength":2,"maxLength":4},"long":{"type":"string","minLength":3},
		"when":{"type":"string","format":"date-time"},"day":{"type":"string","format":"date"},"at":{"type":"string","format":"time"},
		"id":{"type":"string","format":"uuid"},"ip":{"type":"string","format":"ipv4"},"host":{"type":"string","format":"hostname"},
		"code":{"type":"string","pattern":"^(?:[A-Z]{2}|x+)-\\d{2,3}$"},"free":{"type":"string","pattern":"ab"},
		"url":{"type":"string","format":"uri"}},
		"required":["short","long","when","day","at","id","ip","host","code","free","url"]}`},
	{"array-top", `{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":4}`},
	{"enum-top", `{"type":"string","enum":["red","green","blue"]}`},
	{"integer-top", `{"type":"integer"}`},
	{"nullable-string", `{"type":["string","null"]}`},
	{"boolean", `{"type":"boolean"}`},
	{"tuple", `{"type":"array","prefixItems":[{"type":"string"},{"type":"number"},{"const":true}],"items":false,"minItems":2}`},
	{"allof", `{"allOf":[{"$ref":"#/$defs/base"},{"type":"object","properties":{"extra":{"type":"integer","minimum":1}},"required":["extra"]}],
		"$defs":{"base":{"type":"object","properties":{"id":{"type":"string","maxLength":6}},"required":["id"]}}}`},
	{"map", `{"type":"object","additionalProperties":{"type":"integer"},"maxProperties_is_ignored_here":1}`},
	{"oneof", `{"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"x":{"type":"integer"}},"required":["kind","x"],"additionalProperties":false},
		{"type":"object","properties":{"kind":{"const":"b"},"y":{"type":"string"}},"required":["kind","y"],"additionalProperties":false}]}`},
	{"empty", `{}`},
	{"true", `true`},
	{"escaped-keys", `{"type":"object","properties":{"a\"b":{"type":"integer"},"ünï":{"type":"boolean"},"tab\tkey":{"type":"null"},"x/y~z":{"type":"string","maxLength":2}},
		"required":["a\"b","ünï","tab\tkey"]}`},
	{"optional-extra", `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string","maxLength":3},"c":{"type":"boolean"}},"required":["b"],"additionalProperties":true}`},
	{"nullable-openapi", `{"type":"string","nullable":true,"maxLength":3}`},
	{"escape-pattern", `{"type":"string","pattern":"^a\\nb[\"\\\\]$"}`},
	{"enum-mixed", `{"enum":[1,2.5,"x",null,true,{"k":[1,2]},"dup","dup"]}`},
	{"required-undeclared", `{"type":"object","properties":{"a":{"type":"integer"}},"required":["a","zz"]}`},
	{"extra-with-schema", `{"type":"object","properties":{"name":{"type":"string","maxLength":4}},"additionalProperties":{"type":"boolean"}}`},
	{"lengths", `{"type":"object","properties":{"e":{"type":"string","format":"email","maxLength":12},
		"w":{"type":"string","pattern":"^[a-z]+$","minLength":3,"maxLength":5},"d":{"type":"string","maxLength":2000},
		"m":{"type":"string","minLength":40},"u":{"type":"string","minLength":2,"maxLength":2}},"required":["e","w","d","m","u"]}`},
	{"pruned", `{"$defs":{"inf":{"type":"object","properties":{"c":{"$ref":"#/$defs/inf"}},"required":["c"]},
		"loop":{"anyOf":[{"type":"integer"},{"$ref":"#/$defs/loop"}]}},
		"type":"object","properties":{"a":{"anyOf":[{"$ref":"#/$defs/inf"},{"type":"string","maxLength":3}]},"b":{"$ref":"#/$defs/inf"},
		"l":{"$ref":"#/$defs/loop"},"arr":{"type":"array","items":{"$ref":"#/$defs/inf"}}},"required":["a","l","arr"]}`},
	{"draft4", `{"type":"array","items":[{"type":"integer","minimum":0,"exclusiveMinimum":true},{"type":"string","maxLength":2}],"additionalItems":false}`},
}

// closers marks tokens that contain a byte ending a string, object or
// array: the walk favours them so that documents finish.
func closers(tv *testVocab) []bool {
	out := make([]bool, len(tv.pieces))
	for id, p := range tv.pieces {
		out[id] = bytes.ContainsAny(p, `"}]`)
	}
	return out
}

type walkResult struct {
	doc   []byte
	steps int
}

// randomWalk generates one document. It fails the test on an empty mask,
// on a mask/Accept disagreement and when the walk does not finish.
func randomWalk(t *testing.T, g *Grammar, tv *testVocab, close []bool, rng *rand.Rand, check bool) walkResult {
	t.Helper()
	r, err := walkDoc(g, tv, close, rng, check)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// walkDoc is randomWalk without the test, for other goroutines.
func walkDoc(g *Grammar, tv *testVocab, close []bool, rng *rand.Rand, check bool) (walkResult, error) {
	m := g.NewMatcher(tv.vocab)
	var doc []byte
	var allowed, favoured []int32
	isAllowed := make([]bool, len(tv.pieces))
	const maxSteps = 4000
	finishAfter := 100 + rng.IntN(200)
	for step := 0; step < maxSteps; step++ {
		if m.Done() {
			return walkResult{doc, step}, nil
		}
		allowed = m.Allowed(allowed[:0])
		if len(allowed) == 0 {
			return walkResult{}, fmt.Errorf("empty mask after %q", doc)
		}
		if check {
			for _, id := range allowed {
				isAllowed[id] = true
			}
			for k := 0; k < 8; k++ {
				id := allowed[rng.IntN(len(allowed))]
				if err := m.Clone().Accept(id); err != nil {
					return walkResult{}, fmt.Errorf("after %q: mask allows %d %q but Accept refuses: %v", doc, id, tv.pieces[id], err)
				}
				other := int32(rng.IntN(len(tv.pieces)))
				if !isAllowed[other] {
					if err := m.Clone().Accept(other); err == nil {
						return walkResult{}, fmt.Errorf("after %q: mask refuses %d %q but Accept takes it", doc, other, tv.pieces[other])
					}
				}
			}
			for _, id := range allowed {
				isAllowed[id] = false
			}
		}
		favoured = favoured[:0]
		for _, id := range allowed {
			if tv.vocab.isEOG[id] || close[id] {
				favoured = append(favoured, id)
			}
		}
		if step >= finishAfter {
			// Finish with the matcher's own completion, one byte token
			// at a time.
			rest := m.Completion()
			for _, c := range rest {
				if err := m.Accept(tv.byteToken(c)); err != nil {
					return walkResult{}, fmt.Errorf("after %q: completion %q refused at %q: %v", doc, rest, c, err)
				}
			}
			doc = append(doc, rest...)
			if !m.CanEnd() {
				return walkResult{}, fmt.Errorf("after %q: completion %q leaves the value open", doc, rest)
			}
			return walkResult{doc, step}, nil
		}
		var id int32
		if len(favoured) > 0 && rng.IntN(3) > 0 {
			id = favoured[rng.IntN(len(favoured))]
		} else {
			id = allowed[rng.IntN(len(allowed))]
		}
		if err := m.Accept(id); err != nil {
			return walkResult{}, fmt.Errorf("after %q: Accept(%d %q) of an allowed token: %v", doc, id, tv.pieces[id], err)
		}
		if tv.vocab.isEOG[id] {
			if !m.Done() {
				return walkResult{}, fmt.Errorf("after %q: not done after an end token", doc)
			}
			return walkResult{doc, step + 1}, nil
		}
		doc = append(doc, tv.pieces[id]...)
	}
	return walkResult{}, fmt.Errorf("walk did not finish in %d steps: %q", maxSteps, doc)
}

func TestRandomWalksValidate(t *testing.T) {
	vocabs := []*testVocab{llama3Vocab(t), spmVocab(t)}
	walks := 6
	if testing.Short() {
		walks = 2
	}
	for _, tc := range walkSchemas {
		t.Run(tc.name, func(t *testing.T) {
			g, err := FromSchema([]byte(tc.schema))
			if err != nil {
				t.Fatalf("FromSchema: %v", err)
			}
			for vi, tv := range vocabs {
				close := closers(tv)
				rng := rand.New(rand.NewPCG(uint64(vi), uint64(len(tc.name))))
				for w := 0; w < walks; w++ {
					r := randomWalk(t, g, tv, close, rng, w < 2)
					if err := validateDoc([]byte(tc.schema), r.doc); err != nil {
						t.Fatalf("%s walk %d: %v\n%s", tv.name, w, err, r.doc)
					}
					if w == 0 {
						t.Logf("%s: %q", tv.name, r.doc)
					}
				}
			}
		})
	}
}

func TestRandomWalksJSONMode(t *testing.T) {
	for vi, tv := range []*testVocab{llama3Vocab(t), spmVocab(t)} {
		close := closers(tv)
		rng := rand.New(rand.NewPCG(7, uint64(vi)))
		for w := 0; w < 8; w++ {
			r := randomWalk(t, JSON(), tv, close, rng, w < 3)
			v, err := decodeJSON(r.doc)
			if err != nil {
				t.Fatalf("%s walk %d: %v\n%s", tv.name, w, err, r.doc)
			}
			if _, ok := v.(map[string]any); !ok {
				t.Fatalf("%s walk %d: format json gave %T, want an object: %s", tv.name, w, v, r.doc)
			}
			if r.doc[0] != '{' || r.doc[len(r.doc)-1] != '}' {
				t.Fatalf("%s walk %d: whitespace around the object: %q", tv.name, w, r.doc)
			}
		}
	}
}

// byteToken returns the token spelling the single byte c.
func (tv *testVocab) byteToken(c byte) int32 {
	tv.bytesOnce.Do(func() {
		for i := range tv.bytes {
			tv.bytes[i] = -1
		}
		for id, p := range tv.pieces {
			if len(p) == 1 && tv.bytes[p[0]] < 0 && !tv.vocab.isEOG[int32(id)] {
				tv.bytes[p[0]] = int32(id)
			}
		}
	})
	return tv.bytes[c]
}

// TestCompletionEverywhere completes random prefixes at every step: the
// completion must be accepted byte by byte, leave the value complete, and
// give a document that validates.
func TestCompletionEverywhere(t *testing.T) {
	tv := spmVocab(t)
	close := closers(tv)
	for _, tc := range walkSchemas {
		g := grammarFor(t, tc.schema)
		rng := rand.New(rand.NewPCG(31, uint64(len(tc.schema))))
		m := g.NewMatcher(tv.vocab)
		var doc []byte
		var allowed []int32
		for step := 0; step < 80 && !m.Done(); step++ {
			c := m.Clone()
			rest := c.Completion()
			for _, b := range rest {
				if err := c.Accept(tv.byteToken(b)); err != nil {
					t.Fatalf("%s: after %q: completion %q refused at %q: %v", tc.name, doc, rest, b, err)
				}
			}
			if !c.CanEnd() {
				t.Fatalf("%s: completion %q leaves %q open", tc.name, rest, doc)
			}
			full := append(append([]byte(nil), doc...), rest...)
			if err := validateDoc([]byte(tc.schema), full); err != nil {
				t.Fatalf("%s: %q completed as %q: %v", tc.name, doc, full, err)
			}
			allowed = m.Allowed(allowed[:0])
			var id int32
			if rng.IntN(2) == 0 {
				id = allowed[rng.IntN(len(allowed))]
			} else {
				id = allowed[0]
				for _, a := range allowed {
					if close[a] && rng.IntN(4) == 0 {
						id = a
						break
					}
				}
			}
			if tv.vocab.isEOG[id] {
				break
			}
			if err := m.Accept(id); err != nil {
				t.Fatal(err)
			}
			doc = append(doc, tv.pieces[id]...)
		}
	}
}

// TestManyAlternatives drives a schema whose values stay ambiguous across
// many anyOf branches for several bytes: the mask and Accept must agree
// while dozens of stacks run side by side.
func TestManyAlternatives(t *testing.T) {
	var alts []string
	for i := 0; i < 40; i++ {
		alts = append(alts, fmt.Sprintf(`{"type":"object","properties":{"kind":{"const":"k%02d"},"v":{"type":"integer"}},"required":["kind","v"],"additionalProperties":false}`, i))
	}
	schema := `{"type":"array","items":{"anyOf":[` + strings.Join(alts, ",") + `]},"maxItems":3}`
	g := grammarFor(t, schema)
	for vi, tv := range []*testVocab{llama3Vocab(t), spmVocab(t)} {
		rng := rand.New(rand.NewPCG(41, uint64(vi)))
		for w := 0; w < 4; w++ {
			r := randomWalk(t, g, tv, closers(tv), rng, true)
			if err := validateDoc([]byte(schema), r.doc); err != nil {
				t.Fatalf("%s: %v\n%s", tv.name, err, r.doc)
			}
		}
	}
}
