// Package grammar constrains token sampling so that a model writes JSON:
// any JSON object (Ollama's format "json", OpenAI's json_object), or JSON
// that validates against a JSON Schema (Ollama's format with a schema,
// OpenAI's json_schema response format). See schema.go for the keywords.
//
// Use:
//
//	g, err := grammar.ParseFormat(req.Format) // or FromSchema, JSON()
//	v := grammar.NewVocab(pieces, eog)        // once per model
//	m := g.NewMatcher(v)                      // once per sequence
//	for !m.Done() {
//		logits := forward(...)
//		m.Mask(logits)                        // refused tokens get -Inf
//		id := sample(logits)
//		if err := m.Accept(id); err != nil { ... }
//	}
//
// When the token budget runs out first, Completion gives bytes that close
// the value validly.
//
// A Grammar is compiled once from a schema and is immutable. It is a
// pushdown automaton over bytes: objects, arrays, keys and the root are
// stack frames, and each lexical piece (a string, a number, a literal) is
// a small DFA. anyOf alternatives run side by side as separate stacks
// until the text tells them apart. A Matcher follows one sequence: Mask
// sets the logits of every token that cannot come next to -Inf, Accept
// advances by the sampled token, and Done tells when the value is complete
// and nothing may follow (end-of-generation tokens are allowed exactly when
// the text so far is a complete value, CanEnd).
//
// Masking walks a trie of the vocabulary (Vocab) with the automaton, so
// tokens sharing a prefix are decided together and dead branches are cut
// early. The part of a mask that depends only on the top stack frame is
// cached (per grammar and vocabulary; lexical automata per vocabulary,
// shared by all grammars); where a token runs past the end of the top
// frame, the frames below finish the job from the cached pop points. A
// warm mask for a 128k vocabulary costs tens of microseconds; the first
// visit of a string state walks the whole trie once (a few milliseconds).
// Compiled schemas are kept in a small cache keyed by their text.
//
// Output shape, chosen to match Ollama (llama.cpp grammars):
//   - no whitespace before the value and nothing after it;
//   - between JSON tokens at most one whitespace run: nothing, one space,
//     or a newline followed by up to 20 spaces or tabs, so a model cannot
//     loop on whitespace (no carriage returns);
//   - object properties come in the schema's order; optional ones may be
//     left out; additional properties (when allowed) may come at any point
//     after the required ones; a declared property never comes twice (the
//     names of additional ones are not tracked: a model may repeat one,
//     and JSON decoders keep the last);
//   - numbers: at most 16 integer digits, 16 fraction digits and 3 exponent
//     digits; bounded numbers have no exponent (see number.go);
//   - strings hold well-formed UTF-8, no DEL, no surrogate \u escapes;
//     strings under a pattern or format spell each character one way
//     (escapes only where JSON requires them).
//
// Generation ends because every value can close: whitespace and numbers
// are bounded, parts of a schema that can never finish are removed when it
// is compiled (see finite.go), and the caller stops at Done or at its own
// token limit. The vocabulary should hold a single-byte token for every
// byte (byte-level BPE and SentencePiece with byte fallback do), so that
// every state the automaton allows can be spelled.
package grammar

import (
	"sync"
)

type kind uint8

const (
	kRoot kind = iota // the document: one value, then the end
	kLex              // a lexical DFA: strings, unbounded numbers, literals
	kNum              // a bounded number
	kObj              // an object
	kKey              // an object's key
	kArr              // an array
	kAlt              // a choice (anyOf, $ref, type lists): never a frame
)

type node struct {
	kind kind
	lex  *dfa
	// A counted lexical node (a plain string with minLength/maxLength)
	// keeps its character count in frame.a, saturated at minLen when there
	// is no maxLen.
	counted        bool
	minLen, maxLen int64
	num            *numInfo
	obj            *objInfo
	arr            *arrInfo
	alts           []int32 // kAlt
	child          int32   // kRoot: the value; kKey: its object
}

type prop struct {
	name     string
	enc      string // the name as written inside the quotes
	node     int32
	required bool
}

type objInfo struct {
	props   []prop
	nextReq []int32 // nextReq[i]: first required index >= i, or len(props)
	addl    int32   // value node of additional properties, -1 if none
	key     int32   // the kKey node
	// keyLex is the plain string node used for keys when the object
	// declares no names (every key is then an additional property and a
	// key is just a string, sharing the string automaton's mask cache);
	// -1 otherwise.
	keyLex int32

	// Trie of the written names: node 0 is the root.
	tEdges [][]nameEdge
	tTerm  []int32   // index of the name ending here, or -1
	tNames [][]int32 // sorted indices of the names at or below
}

type nameEdge struct {
	b  byte
	to int32
}

type arrInfo struct {
	prefix []int32 // prefixItems
	items  int32   // items after the prefix, -1 if none
	min    int64
	max    int64 // -1: unbounded
	cap    int64 // the item count saturates here
}

// Grammar is a compiled constraint. It is immutable and safe to share
// between goroutines and sequences; its mask cache is internal and
// synchronized.
type Grammar struct {
	nodes    []node
	concrete [][]int32 // per node: the non-choice nodes a value may start as
	root     int32
	cost     []int64 // per node: bytes of its shortest value (see finite.go)

	mu     sync.Mutex
	caches map[*Vocab]*maskCache
}

func (g *Grammar) add(n node) int32 {
	g.nodes = append(g.nodes, n)
	return int32(len(g.nodes) - 1)
}

// JSON returns the grammar of Ollama's format "json": one JSON object,
// with any keys and values.
func JSON() *Grammar { return jsonGrammar() }

var jsonGrammar = sync.OnceValue(func() *Grammar {
	b := newBuilder()
	obj := b.anyObject()
	g, err := b.finish(obj)
	if err != nil {
		panic("grammar: building the JSON grammar: " + err.Error())
	}
	return g
})

// finishObj fills the derived tables of an object.
func (o *objInfo) finish() {
	n := len(o.props)
	o.nextReq = make([]int32, n+1)
	o.nextReq[n] = int32(n)
	for i := n - 1; i >= 0; i-- {
		if o.props[i].required {
			o.nextReq[i] = int32(i)
		} else {
			o.nextReq[i] = o.nextReq[i+1]
		}
	}
	o.tEdges = [][]nameEdge{nil}
	o.tTerm = []int32{-1}
	o.tNames = [][]int32{nil}
	for i, p := range o.props {
		s := int32(0)
		o.tNames[0] = append(o.tNames[0], int32(i))
		for j := 0; j < len(p.enc); j++ {
			c := p.enc[j]
			to := int32(-1)
			for _, e := range o.tEdges[s] {
				if e.b == c {
					to = e.to
				}
			}
			if to < 0 {
				o.tEdges = append(o.tEdges, nil)
				o.tTerm = append(o.tTerm, -1)
				o.tNames = append(o.tNames, nil)
				to = int32(len(o.tEdges) - 1)
				o.tEdges[s] = append(o.tEdges[s], nameEdge{c, to})
			}
			s = to
			o.tNames[s] = append(o.tNames[s], int32(i))
		}
		o.tTerm[s] = int32(i)
	}
}

func (o *objInfo) nameNext(s int32, c byte) int32 {
	for _, e := range o.tEdges[s] {
		if e.b == c {
			return e.to
		}
	}
	return -1
}

// limit is the last candidate index for the next key when the previous
// declared key had index idx-1: every name from idx up to the first
// required one.
func (o *objInfo) limit(idx int64) int64 {
	r := int64(o.nextReq[idx])
	if r == int64(len(o.props)) {
		return r - 1
	}
	return r
}

func (o *objInfo) candidate(j, idx int64) bool { return j >= idx && j <= o.limit(idx) }

// extraOK: an additional property may come now (all required seen).
func (o *objInfo) extraOK(idx int64) bool {
	return o.addl >= 0 && int(o.nextReq[idx]) == len(o.props)
}

func (o *objInfo) keyPossible(idx int64) bool { return int(idx) < len(o.props) || o.extraOK(idx) }

func (o *objInfo) closable(idx int64) bool { return int(o.nextReq[idx]) == len(o.props) }

// inRange: some candidate name lies at or below trie node s.
func (o *objInfo) inRange(s int32, idx int64) bool {
	names := o.tNames[s]
	lim := o.limit(idx)
	lo, hi := 0, len(names)
	for lo < hi {
		m := (lo + hi) / 2
		if int64(names[m]) < idx {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(names) && int64(names[lo]) <= lim
}

func (a *arrInfo) itemAllowed(count int64) bool {
	if a.max >= 0 && count >= a.max {
		return false
	}
	return count < int64(len(a.prefix)) || a.items >= 0
}

func (a *arrInfo) itemNode(count int64) int32 {
	if count < int64(len(a.prefix)) {
		return a.prefix[count]
	}
	return a.items
}
