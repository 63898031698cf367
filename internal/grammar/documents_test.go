package grammar

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// Documents written by hand are accepted token by token whatever the
// tokenization (the model's own BPE/SPM encoding, single bytes, random
// splits), and end exactly at their last byte; invalid ones are refused at
// some token, with the mask refusing that token too.

var validDocs = []struct {
	schema string // "" is format "json"
	docs   []string
}{
	{"", []string{
		`{}`,
		`{"a":1}`,
		`{"name": "Ada", "age": 36, "tags": ["x", "y"], "nested": {"ok": true, "none": null}}`,
		"{\n  \"a\": [\n    1,\n    2.5e-3,\n    -0.75E+2\n  ],\n  \"b\": {\n    \"c\": \"d\"\n  }\n}",
		"{\n\t\"tab\": \"\\t\\n\\\"\\\\\\/\\u00e9\\u20AC\",\n\t\"utf8\": \"héllo wörld — ✓ 😀\"\n}",
		`{"":"","deep":[[[[{"x":[[]]}]]]],"n":-12345678901234.5}`,
	}},
	{`{"type":"object","properties":{"name":{"type":"string","maxLength":20},"age":{"type":"integer","minimum":0,"maximum":150},
		"email":{"type":"string","format":"email"},"born":{"type":"string","format":"date"},"id":{"type":"string","format":"uuid"},
		"tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":3},
		"nick":{"anyOf":[{"type":"string"},{"type":"null"}]}},"required":["name","age","email","born","id","tags"]}`, []string{
		`{"name":"Ada Lovelace","age":36,"email":"ada@analytical.org","born":"1815-12-10","id":"123e4567-e89b-12d3-a456-426614174000","tags":["math"]}`,
		`{"name": "Ada", "age": 150, "email": "a.b+c@x-y.example.co", "born": "2000-02-29", "id": "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE", "tags": ["a", "b", "c"], "nick": null}`,
		"{\n  \"name\": \"\",\n  \"age\": 0,\n  \"email\": \"x@y.z\",\n  \"born\": \"1999-12-31\",\n  \"id\": \"00000000-0000-0000-0000-000000000000\",\n  \"tags\": [\n    \"q\"\n  ],\n  \"nick\": \"Ad\"\n}",
	}},
	{`{"type":"object","properties":{"when":{"type":"string","format":"date-time"},"at":{"type":"string","format":"time"},
		"p":{"type":"number","minimum":0,"maximum":1},"t":{"type":"number","exclusiveMinimum":-273.15},"code":{"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"}},
		"required":["when","at","p","t","code"],"additionalProperties":false}`, []string{
		`{"when":"2024-02-29T23:59:59.123456789+05:30","at":"00:00:00Z","p":1,"t":-273.149999999,"code":"AB-123"}`,
		`{"when":"1970-01-01T00:00:00Z","at":"12:34:56.7-08:00","p":0.5,"t":1000000,"code":"ZZ-000"}`,
	}},
	{`{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},"$ref":"#/$defs/node"}`, []string{
		`{"v":1}`,
		`{"v":1,"kids":[{"v":2,"kids":[]},{"v":3,"kids":[{"v":4}]}]}`,
	}},
	{`{"type":"array","prefixItems":[{"type":"string"},{"type":"number"},{"const":true}],"items":false}`, []string{
		`["a",1,true]`, `[]`, `["x"]`, `["", -2.5]`,
	}},
	{`{"enum":["red","green",1,null,{"k":[1,2]}]}`, []string{`"red"`, `"green"`, `1`, `null`, `{"k":[1,2]}`}},
	{`{"type":"object","properties":{"a\"b":{"type":"integer"},"ünï":{"type":"boolean"}},"required":["a\"b"],"additionalProperties":{"type":"string"}}`, []string{
		`{"a\"b":1}`, `{"a\"b":1,"ünï":true}`, `{"a\"b":1,"other":"x","ünï":false,"more":""}`,
	}},
	{`{"type":"integer","minimum":-40,"maximum":40}`, []string{`-40`, `0`, `-0`, `7`, `40`}},
	{`{"type":"string","pattern":"^a\\nb[\"\\\\]$"}`, []string{`"a\nb\""`, `"a\nb\\"`}},
}

var invalidDocs = []struct {
	schema string
	docs   []string
	policy []string // valid under the schema, refused by the output rules
}{
	{"", []string{
		`[]`, `"x"`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, "{\"a\":\"\x01\"}", `{"a":"\ud800"}`, `{'a':1}`,
		`{"a":tru}`, `{"a" :  1}`, `{"a":1,}`, `{,}`, `{"a":NaN}`, "{\"a\":\"\x7f\"}", "{\"a\":\"\xff\"}",
		"{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xed\xa0\x80\"}",
		`{"a":"\x"}`, `{"a":"\u12"}`, `{"a":1}}`, `{"a"}`, `{"a":[1 2]}`,
	}, []string{`{"a":12345678901234567}`, "{\r\n\"a\":1}", "{\n                     \"a\":1}", `{"a":1e1234}`, ` {}`, `{} `}},
	{`{"type":"object","properties":{"name":{"type":"string","maxLength":5},"age":{"type":"integer","minimum":0,"maximum":150},
		"born":{"type":"string","format":"date"},"id":{"type":"string","format":"uuid"},"tags":{"type":"array","items":{"enum":["a","b"]},"minItems":1,"maxItems":2}},
		"required":["name","age"],"additionalProperties":false}`, []string{
		`{"name":"x"}`,               // missing required
		`{"name":"x","age":1,"z":1}`, // extra property
		`{"name":"abcdef","age":1}`,  // too long
		`{"name":"x","age":151}`,     // above maximum
		`{"name":"x","age":-1}`,      // below minimum
		`{"name":"x","age":1.5}`,     // not an integer
		`{"name":"x","age":1,"born":"2023-02-29"}`,
		`{"name":"x","age":1,"born":"2024-13-01"}`,
		`{"name":"x","age":1,"id":"123e4567-e89b-12d3-a456-42661417400"}`,
		`{"name":"x","age":1,"tags":[]}`,
		`{"name":"x","age":1,"tags":["a","b","a"]}`,
		`{"name":"x","age":1,"tags":["c"]}`,
	}, []string{
		`{"age":1,"name":"x"}`,            // properties in schema order
		`{"name":"x","name":"y","age":1}`, // no repeated key
		`{"name":"x",  "age":1}`,          // one whitespace run
	}},
	{`{"type":"array","prefixItems":[{"type":"string"},{"const":true}],"items":false}`, []string{`["a",true,1]`, `[true]`, `["a",false]`}, nil},
	{`{"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"x":{"type":"integer"}},"required":["kind","x"],"additionalProperties":false},
		{"type":"object","properties":{"kind":{"const":"b"},"y":{"type":"string"}},"required":["kind","y"],"additionalProperties":false}]}`, []string{
		`{"kind":"a","y":"s"}`, `{"kind":"c","x":1}`,
	}, nil},
	{`{"type":"number","exclusiveMinimum":0.25,"exclusiveMaximum":0.5}`, []string{`0.25`, `0.5`, `0.2`, `1`, `-0.3`}, nil},
	{`{"type":"string","pattern":"^[a-c]+$"}`, []string{`""`, `"abd"`, `"A"`}, []string{`"a\u0062"`}},
}

func grammarFor(t *testing.T, schema string) *Grammar {
	t.Helper()
	if schema == "" {
		return JSON()
	}
	g, err := FromSchema([]byte(schema))
	if err != nil {
		t.Fatalf("FromSchema(%s): %v", schema, err)
	}
	return g
}

// tokenizations returns several token sequences spelling doc.
func tokenizations(t *testing.T, tv *testVocab, doc string, rng *rand.Rand) map[string][]int32 {
	out := map[string][]int32{}
	enc := tv.tok.Encode(doc, false, false)
	if len(enc) > 0 && tv.name == "spm" {
		// SentencePiece prefixes a space; the grammar allows none before
		// the value, so spell the first piece without it.
		if p := tv.pieces[enc[0]]; len(p) > 0 && p[0] == ' ' {
			enc = append(greedyTokens(tv, string(p[1:])), enc[1:]...)
		}
	}
	if utf8.ValidString(doc) { // the tokenizer reads text as characters
		out["model"] = enc
	}
	var bytesIDs []int32
	for i := 0; i < len(doc); i++ {
		bytesIDs = append(bytesIDs, greedyTokens(tv, doc[i:i+1])...)
	}
	out["bytes"] = bytesIDs
	out["greedy"] = greedyTokens(tv, doc)
	for k := 0; k < 3; k++ {
		var ids []int32
		for i := 0; i < len(doc); {
			var cands []int32
			var lens []int
			n := int32(0)
			for j := i; j < len(doc); j++ {
				if n = tv.vocab.child(n, doc[j]); n < 0 {
					break
				}
				nd := tv.vocab.nodes[n]
				for r := nd.lo; r < nd.hi; r++ {
					cands = append(cands, tv.vocab.rankID[r])
					lens = append(lens, j-i+1)
				}
			}
			c := rng.IntN(len(cands))
			ids = append(ids, cands[c])
			i += lens[c]
		}
		out["random"+string(rune('0'+k))] = ids
	}
	for name, ids := range out {
		var b strings.Builder
		for _, id := range ids {
			b.Write(tv.pieces[id])
		}
		if b.String() != doc {
			t.Fatalf("%s tokenization %s spells %q, not %q", tv.name, name, b.String(), doc)
		}
	}
	return out
}

func TestValidDocumentsAccepted(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tv := range []*testVocab{llama3Vocab(t), spmVocab(t)} {
		for _, tc := range validDocs {
			g := grammarFor(t, tc.schema)
			for _, doc := range tc.docs {
				if tc.schema != "" {
					if err := validateDoc([]byte(tc.schema), []byte(doc)); err != nil {
						t.Fatalf("test document %s is itself invalid: %v", doc, err)
					}
				}
				for name, ids := range tokenizations(t, tv, doc, rng) {
					m := g.NewMatcher(tv.vocab)
					var allowed []int32
					for i, id := range ids {
						allowed = m.Allowed(allowed[:0])
						if !contains(allowed, id) {
							t.Fatalf("%s/%s: %q: mask refuses token %d %q after %q", tv.name, name, doc, i, tv.pieces[id], piecesOf(tv, ids[:i]))
						}
						if err := m.Accept(id); err != nil {
							t.Fatalf("%s/%s: %q: %v", tv.name, name, doc, err)
						}
					}
					if !m.CanEnd() {
						t.Fatalf("%s/%s: %q: complete document not accepted as complete", tv.name, name, doc)
					}
					if err := m.Accept(tv.eog[0]); err != nil || !m.Done() {
						t.Fatalf("%s/%s: %q: end token: %v (done %v)", tv.name, name, doc, err, m.Done())
					}
				}
			}
		}
	}
}

func contains(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func piecesOf(tv *testVocab, ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.Write(tv.pieces[id])
	}
	return b.String()
}

func TestInvalidDocumentsRefused(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tv := range []*testVocab{llama3Vocab(t), spmVocab(t)} {
		for _, tc := range invalidDocs {
			g := grammarFor(t, tc.schema)
			for i, doc := range append(append([]string(nil), tc.docs...), tc.policy...) {
				if i < len(tc.docs) && tc.schema != "" && jsonValid(doc) {
					if err := validateDoc([]byte(tc.schema), []byte(doc)); err == nil {
						t.Fatalf("test document %s is valid; it should not be", doc)
					}
				}
				for name, ids := range tokenizations(t, tv, doc, rng) {
					m := g.NewMatcher(tv.vocab)
					refused := false
					var allowed []int32
					for _, id := range ids {
						allowed = m.Allowed(allowed[:0])
						err := m.Accept(id)
						if contains(allowed, id) != (err == nil) {
							t.Fatalf("%s/%s: %q: mask and Accept disagree on %q: %v", tv.name, name, doc, tv.pieces[id], err)
						}
						if err != nil {
							refused = true
							break
						}
					}
					if !refused && m.CanEnd() {
						t.Fatalf("%s/%s: invalid document %q accepted", tv.name, name, doc)
					}
					if !refused && m.Accept(tv.eog[0]) == nil {
						t.Fatalf("%s/%s: %q: end token accepted on an incomplete value", tv.name, name, doc)
					}
				}
			}
		}
	}
}

func jsonValid(s string) bool { _, err := decodeJSON([]byte(s)); return err == nil }
