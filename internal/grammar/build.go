package grammar

import (
	"fmt"
	"strings"
	"sync"
)

// builder assembles a Grammar's nodes, sharing identical lexical nodes so
// that their mask-cache entries are shared too.
type builder struct {
	g     *Grammar
	lexes map[string]int32
	any   int32 // the any-value node, -1 until needed
}

func newBuilder() *builder {
	return &builder{g: &Grammar{}, lexes: map[string]int32{}, any: -1}
}

// lex returns the node of the lexical automaton named key, building it
// with mk the first time.
func (b *builder) lex(key string, mk func() (*dfa, error)) (int32, error) {
	if id, ok := b.lexes[key]; ok {
		return id, nil
	}
	d, err := sharedDFA(key, mk)
	if err != nil {
		return -1, err
	}
	id := b.g.add(node{kind: kLex, lex: d})
	b.lexes[key] = id
	return id, nil
}

// The key of a lexical automaton determines it, so automata are shared
// between grammars; their mask entries, cached per vocabulary by automaton,
// then serve every grammar that uses them (plain strings and numbers in
// particular). The table is bounded; past the bound, automata are built
// per grammar.
var dfaTable struct {
	sync.Mutex
	m map[string]*dfa
}

const maxSharedDFAs = 512

func sharedDFA(key string, mk func() (*dfa, error)) (*dfa, error) {
	dfaTable.Lock()
	d := dfaTable.m[key]
	dfaTable.Unlock()
	if d != nil {
		return d, nil
	}
	d, err := mk()
	if err != nil {
		return nil, err
	}
	dfaTable.Lock()
	if dfaTable.m == nil {
		dfaTable.m = map[string]*dfa{}
	}
	if old := dfaTable.m[key]; old != nil {
		d = old
	} else if len(dfaTable.m) < maxSharedDFAs {
		dfaTable.m[key] = d
	}
	dfaTable.Unlock()
	return d, nil
}

func (b *builder) mustLex(key string, mk func() (*dfa, error)) int32 {
	id, err := b.lex(key, mk)
	if err != nil {
		panic("grammar: building " + key + ": " + err.Error())
	}
	return id
}

func (b *builder) plainString() int32 {
	return b.mustLex("string", func() (*dfa, error) { return plainStringDFA(), nil })
}

// countedString is a plain string of minLen..maxLen characters (maxLen < 0:
// no upper bound), counted at run time so that its mask entries are shared
// across bounds (see Matcher.lexEntry).
func (b *builder) countedString(minLen, maxLen int64) int32 {
	key := fmt.Sprintf("counted\x00%d\x00%d", minLen, maxLen)
	if id, ok := b.lexes[key]; ok {
		return id
	}
	id := b.g.add(node{kind: kLex, lex: plainStringDFA(), counted: true, minLen: minLen, maxLen: maxLen})
	b.lexes[key] = id
	return id
}

func (b *builder) plainNumber(integer bool) int32 {
	if integer {
		return b.mustLex("integer", func() (*dfa, error) { return patternDFA(rxInteger) })
	}
	return b.mustLex("number", func() (*dfa, error) { return patternDFA(rxNumber) })
}

// patternDFA compiles an anchored pattern as a whole token (no quotes).
func patternDFA(pat string) (*dfa, error) {
	t, err := regexTable(pat)
	if err != nil {
		return nil, err
	}
	return t.compile()
}

// literal returns the node matching exactly one of the given JSON texts.
func (b *builder) literal(texts []string) (int32, error) {
	if len(texts) == 0 {
		return -1, fmt.Errorf("no value is allowed")
	}
	key := "lit\x00" + strings.Join(texts, "\x00")
	return b.lex(key, func() (*dfa, error) {
		lits := make([][]byte, len(texts))
		for i, s := range texts {
			lits[i] = []byte(s)
		}
		return literals(lits).compile()
	})
}

func (b *builder) alt(alts []int32) int32 {
	if len(alts) == 1 {
		return alts[0]
	}
	return b.g.add(node{kind: kAlt, alts: alts})
}

// object adds an object node (and its key node).
func (b *builder) object(o *objInfo) int32 {
	o.finish()
	o.keyLex = -1
	if len(o.props) == 0 {
		o.keyLex = b.plainString()
	}
	id := b.g.add(node{kind: kObj, obj: o})
	o.key = b.g.add(node{kind: kKey, child: id})
	return id
}

func (b *builder) array(a *arrInfo) int32 {
	a.cap = a.min
	if int64(len(a.prefix)) > a.cap {
		a.cap = int64(len(a.prefix))
	}
	if a.max >= 0 {
		a.cap = a.max
	}
	return b.g.add(node{kind: kArr, arr: a})
}

// anyValue is the node of every JSON value.
func (b *builder) anyValue() int32 {
	if b.any >= 0 {
		return b.any
	}
	b.any = b.g.add(node{kind: kAlt})
	lit, _ := b.literal([]string{"true", "false", "null"})
	alts := []int32{b.anyObject(), b.anyArray(), b.plainString(), b.plainNumber(false), lit}
	b.g.nodes[b.any].alts = alts
	return b.any
}

func (b *builder) anyObject() int32 {
	return b.object(&objInfo{addl: b.anyValue()})
}

func (b *builder) anyArray() int32 {
	return b.array(&arrInfo{items: b.anyValue(), max: -1})
}

// finish adds the root, removes what cannot finish (see finite.go) and
// resolves choices into their concrete alternatives. A choice may lead
// back to itself ({"anyOf": [{"$ref": "#"}, ...]}); such a loop adds
// nothing, so the sets are computed as a fixpoint.
func (b *builder) finish(value int32) (*Grammar, error) {
	g := b.g
	g.root = g.add(node{kind: kRoot, child: value})
	g.cost = g.costs()
	if err := g.prune(g.cost); err != nil {
		return nil, err
	}
	g.concrete = make([][]int32, len(g.nodes))
	for n := range g.nodes {
		if g.nodes[n].kind != kAlt {
			g.concrete[n] = []int32{int32(n)}
		}
	}
	for changed := true; changed; {
		changed = false
		for n := range g.nodes {
			nd := &g.nodes[n]
			if nd.kind != kAlt {
				continue
			}
			have := map[int32]bool{}
			for _, c := range g.concrete[n] {
				have[c] = true
			}
			for _, a := range nd.alts {
				for _, c := range g.concrete[a] {
					if !have[c] {
						have[c] = true
						g.concrete[n] = append(g.concrete[n], c)
						changed = true
					}
				}
			}
		}
	}
	return g, nil
}
