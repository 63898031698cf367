package grammar

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
)

// Matcher follows one sequence through a grammar. It is not safe for
// concurrent use; give each sequence its own (they share the grammar's
// cache).
type Matcher struct {
	g     *Grammar
	v     *Vocab
	cache *maskCache
	alts  [][]frame // the stacks the text so far may be in, bottom first
	done  bool      // an end-of-generation token was accepted

	w    walker // full walks over the real stack
	lw   walker // local walks from a lone top frame
	bits []uint64
	tmp  [][]uint64
	dfs  []dfsItem
	buf  []state
	keep []kept
}

type dfsItem struct {
	n int32
	s state
}

// maxAlternatives caps how many stacks a matcher tracks at once. Dropping
// extra alternatives only narrows the accepted language; every kept stack
// still has a way to finish, so masks never run dry.
const maxAlternatives = 32

// NewMatcher starts a sequence at the beginning of the value.
func (g *Grammar) NewMatcher(v *Vocab) *Matcher {
	m := &Matcher{g: g, v: v, cache: g.cacheFor(v)}
	m.w.g, m.lw.g = g, g
	m.alts = [][]frame{{{node: g.root}}}
	m.bits = make([]uint64, v.words)
	return m
}

// Clone returns an independent copy of the matcher's position.
func (m *Matcher) Clone() *Matcher {
	c := m.g.NewMatcher(m.v)
	c.done = m.done
	c.alts = make([][]frame, len(m.alts))
	for i, a := range m.alts {
		c.alts[i] = append([]frame(nil), a...)
	}
	return c
}

// Done reports whether a complete value has been written and nothing may
// follow but the end: either an end-of-generation token was accepted, or
// the value can take no further byte. Generation must stop there.
func (m *Matcher) Done() bool {
	if m.done {
		return true
	}
	for _, a := range m.alts {
		if len(a) != 1 || a[0].st != 1 {
			return false
		}
	}
	return true
}

// CanEnd reports whether the text so far is a complete value (so an
// end-of-generation token is allowed now).
func (m *Matcher) CanEnd() bool {
	if m.done {
		return true
	}
	for _, a := range m.alts {
		if m.accepting(m.load(&m.w, a)) {
			return true
		}
	}
	return false
}

func (m *Matcher) load(w *walker, stack []frame) state {
	w.arena = w.arena[:0]
	for i, f := range stack[:len(stack)-1] {
		w.alloc(f, int32(i)-1)
	}
	return state{top: stack[len(stack)-1], rest: int32(len(stack)) - 2}
}

func unload(w *walker, s state) []frame {
	var rev []frame
	rev = append(rev, s.top)
	for r := s.rest; r >= 0; r = w.arena[r].parent {
		rev = append(rev, w.arena[r].f)
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

func (m *Matcher) accepting(s state) bool {
	return len(m.w.step(s, eof, m.buf[:0])) > 0
}

// Accept advances the matcher by token id. It fails, leaving the matcher
// unchanged, when the token may not come next.
func (m *Matcher) Accept(id int32) error {
	if m.done {
		return fmt.Errorf("grammar: token %d after the end of the value", id)
	}
	if id < 0 || int(id) >= m.v.size {
		return fmt.Errorf("grammar: token id %d outside the vocabulary (%d tokens)", id, m.v.size)
	}
	if m.v.isEOG[id] {
		if !m.CanEnd() {
			return fmt.Errorf("grammar: end-of-generation token %d before the value is complete", id)
		}
		m.done = true
		return nil
	}
	piece := m.v.pieces[id]
	if len(piece) == 0 {
		return fmt.Errorf("grammar: token %d is a special token, never allowed in constrained output", id)
	}
	var next [][]frame
	seen := map[string]bool{}
	for _, a := range m.alts {
		cur := []state{m.load(&m.w, a)}
		for _, c := range piece {
			var nx []state
			for _, s := range cur {
				nx = m.w.step(s, int(c), nx)
			}
			if len(nx) > maxAlternatives {
				// Keep every distinct stack (the mask counted them all),
				// but no duplicates.
				nx = m.dedupe(nx)
			}
			cur = nx
			if len(cur) == 0 {
				break
			}
		}
		for _, s := range cur {
			stack := normalize(m.g, unload(&m.w, s))
			k := stackKey(stack)
			if !seen[k] && len(next) < maxAlternatives {
				seen[k] = true
				next = append(next, stack)
			}
		}
	}
	if len(next) == 0 {
		return fmt.Errorf("grammar: token %d (%q) does not fit here", id, piece)
	}
	m.alts = next
	return nil
}

// dedupe drops states whose stacks are equal.
func (m *Matcher) dedupe(states []state) []state {
	seen := map[string]bool{}
	out := states[:0]
	for _, s := range states {
		k := stackKey(unload(&m.w, s))
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}

func stackKey(stack []frame) string {
	b := make([]byte, 0, len(stack)*24)
	for _, f := range stack {
		b = appendU64(b, uint64(uint32(f.node))|uint64(uint32(f.st))<<32)
		b = appendU64(b, uint64(f.a))
		b = appendU64(b, uint64(f.b))
	}
	return string(b)
}

func appendU64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// Mask sets to -Inf the logits of every token that may not come next:
// tokens whose bytes cannot continue the value, empty (special) tokens,
// ids beyond the vocabulary, and end-of-generation tokens unless the value
// is complete. logits is indexed by token id.
func (m *Matcher) Mask(logits []float32) {
	v := m.v
	inf := float32(math.Inf(-1))
	if m.done {
		fill(logits, inf)
		return
	}
	set := m.allowed()
	eog := m.CanEnd()
	count := 0
	for _, w := range set {
		count += bits.OnesCount64(w)
	}
	if count < len(v.rankID)/2 {
		// Few allowed: keep their values, clear everything, put them back.
		m.keep = m.keep[:0]
		for w, word := range set {
			for ; word != 0; word &= word - 1 {
				if id := v.rankID[w*64+bits.TrailingZeros64(word)]; int(id) < len(logits) {
					m.keep = append(m.keep, kept{id, logits[id]})
				}
			}
		}
		if eog {
			for _, id := range v.eog {
				if int(id) < len(logits) {
					m.keep = append(m.keep, kept{id, logits[id]})
				}
			}
		}
		fill(logits, inf)
		for _, k := range m.keep {
			logits[k.id] = k.v
		}
		return
	}
	// Many allowed: clear the refused ones.
	for i := v.size; i < len(logits); i++ {
		logits[i] = inf
	}
	for _, id := range v.unranked {
		if int(id) < len(logits) && !(eog && v.isEOG[id]) {
			logits[id] = inf
		}
	}
	for w, word := range set {
		if word == ^uint64(0) {
			continue
		}
		base := w * 64
		for miss := ^word; miss != 0; miss &= miss - 1 {
			r := base + bits.TrailingZeros64(miss)
			if r >= len(v.rankID) {
				break
			}
			if id := v.rankID[r]; int(id) < len(logits) {
				logits[id] = inf
			}
		}
	}
}

// fill sets every element to v by doubling copies (memmove is much faster
// than an element loop on 100k+ logits).
func fill(x []float32, v float32) {
	if len(x) == 0 {
		return
	}
	x[0] = v
	for n := 1; n < len(x); n *= 2 {
		copy(x[n:], x[:n])
	}
}

type kept struct {
	id int32
	v  float32
}

// Allowed appends to dst the ids of the tokens that may come next (end
// tokens included when the value is complete) and returns it.
func (m *Matcher) Allowed(dst []int32) []int32 {
	if m.done {
		return dst
	}
	for w, word := range m.allowed() {
		for ; word != 0; word &= word - 1 {
			dst = append(dst, m.v.rankID[w*64+bits.TrailingZeros64(word)])
		}
	}
	if m.CanEnd() {
		dst = append(dst, m.v.eog...)
	}
	return dst
}

// allowed computes the rank bit set of the tokens that may come next.
func (m *Matcher) allowed() []uint64 {
	clear(m.bits)
	for _, a := range m.alts {
		s := m.load(&m.w, a)
		m.addMask(m.bits, s, 0)
	}
	return m.bits
}

// addMask ORs into out the tokens allowed from s: the cached local part of
// its top frame, plus, where the top frame ends inside a token, what the
// frames below allow for the rest of that token.
func (m *Matcher) addMask(out []uint64, s state, depth int) {
	e := m.entry(s.top)
	e.orInto(out)
	for _, rp := range e.rootPops {
		ps := m.popState(s, rp.result)
		for len(m.tmp) <= depth {
			m.tmp = append(m.tmp, make([]uint64, m.v.words))
		}
		tmp := m.tmp[depth]
		clear(tmp)
		m.addMask(tmp, ps, depth+1)
		for c := 0; c < 256; c++ {
			if rp.first[c>>6]&(1<<(c&63)) != 0 {
				if n := m.v.rootAt[c]; n >= 0 {
					orRange(out, tmp, m.v.nStart[n], m.v.nEnd[n])
				}
			}
		}
	}
	for _, dp := range e.deepPops {
		ps := m.popState(s, dp.result)
		m.walk(out, &m.w, dp.node, dp.c, ps, nil)
	}
}

func (m *Matcher) popState(s state, res int64) state {
	below := m.w.arena[s.rest]
	return state{top: childDone(m.g, below.f, res), rest: below.parent}
}

// walk feeds byte c to s and walks the trie below node n (reached by c)
// with every successor, marking the tokens it reaches in out. In a local
// walk (pops != nil) popping below the start is recorded instead.
func (m *Matcher) walk(out []uint64, w *walker, n int32, c byte, s state, pops *popSet) {
	v := m.v
	stack := m.dfs[:0]
	m.buf = w.step(s, int(c), m.buf[:0])
	for _, t := range m.buf {
		if t.top.node == popMarker {
			if pops != nil {
				pops.add(0, n, c, t.top.b)
			}
			continue
		}
		stack = append(stack, dfsItem{n, t})
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		t := v.nodes[it.n]
		setRange(out, t.lo, t.hi)
		for _, e := range v.edges[t.e0:t.e1] {
			k, b := e.child, e.b
			m.buf = w.step(it.s, int(b), m.buf[:0])
			for _, t := range m.buf {
				if t.top.node == popMarker {
					if pops != nil {
						pops.add(it.n, k, b, t.top.b)
					}
					continue
				}
				stack = append(stack, dfsItem{k, t})
			}
		}
	}
	m.dfs = stack
}

// entry returns the cache entry of a top frame, computing it on a miss by
// walking the whole trie from a stack holding only that frame.
func (m *Matcher) entry(f frame) *entry {
	if nd := &m.g.nodes[f.node]; nd.kind == kLex {
		return m.lexEntry(nd, f)
	}
	if e := m.cache.get(f); e != nil {
		return e
	}
	v := m.v
	bitsLocal := make([]uint64, v.words)
	pops := &popSet{}
	m.lw.arena = m.lw.arena[:0]
	start := state{top: f, rest: -1}
	root := v.nodes[0]
	for _, e := range v.edges[root.e0:root.e1] {
		m.walk(bitsLocal, &m.lw, e.child, e.b, start, pops)
	}
	e := newEntry(bitsLocal, pops)
	m.cache.put(f, e)
	return e
}

// popSet collects the places where a local walk popped its start frame.
type popSet struct {
	root map[int64]*[4]uint64
	deep map[deepPop]bool
	list []deepPop
}

type rootPop struct {
	result int64
	first  [4]uint64 // first bytes of the tokens that pop right away
}

type deepPop struct {
	node   int32 // trie node reached by c, where the walk goes on
	c      byte  // the byte the frame below must take first
	result int64
}

func (p *popSet) add(parent, node int32, c byte, res int64) {
	if parent == 0 {
		if p.root == nil {
			p.root = map[int64]*[4]uint64{}
		}
		r := p.root[res]
		if r == nil {
			r = &[4]uint64{}
			p.root[res] = r
		}
		r[c>>6] |= 1 << (c & 63)
		return
	}
	d := deepPop{node, c, res}
	if p.deep == nil {
		p.deep = map[deepPop]bool{}
	}
	if !p.deep[d] {
		p.deep[d] = true
		p.list = append(p.list, d)
	}
}

// entry is the cached, top-frame-only part of a mask.
type entry struct {
	dense    []uint64 // rank bits, or nil when sparse is used
	sparse   []int32  // allowed ranks
	rootPops []rootPop
	deepPops []deepPop
	size     int // bytes, for the cache budget
}

func newEntry(b []uint64, pops *popSet) *entry {
	e := &entry{}
	count := 0
	for _, w := range b {
		count += bits.OnesCount64(w)
	}
	if count*4 < len(b)*8 {
		e.sparse = make([]int32, 0, count)
		for w, word := range b {
			for ; word != 0; word &= word - 1 {
				e.sparse = append(e.sparse, int32(w*64+bits.TrailingZeros64(word)))
			}
		}
		e.size = 4 * count
	} else {
		e.dense = b
		e.size = 8 * len(b)
	}
	for r, first := range pops.root {
		e.rootPops = append(e.rootPops, rootPop{r, *first})
	}
	e.deepPops = pops.list
	e.size += 48*len(e.rootPops) + 24*len(e.deepPops) + 64
	return e
}

func (e *entry) orInto(out []uint64) {
	if e.dense != nil {
		for i, w := range e.dense {
			out[i] |= w
		}
		return
	}
	for _, r := range e.sparse {
		out[r>>6] |= 1 << (uint(r) & 63)
	}
}

// maskCache maps top frames to entries for one grammar and vocabulary.
type maskCache struct {
	mu    sync.Mutex
	m     map[frame]*entry
	bytes int
}

// maxCacheBytes bounds one grammar's cache for one vocabulary; past it the
// cache starts over.
const maxCacheBytes = 64 << 20

func (c *maskCache) get(f frame) *entry {
	c.mu.Lock()
	e := c.m[f]
	c.mu.Unlock()
	return e
}

func (c *maskCache) put(f frame, e *entry) {
	c.mu.Lock()
	if c.bytes+e.size > maxCacheBytes {
		c.m = map[frame]*entry{}
		c.bytes = 0
	}
	if _, ok := c.m[f]; !ok {
		c.m[f] = e
		c.bytes += e.size
	}
	c.mu.Unlock()
}

func (g *Grammar) cacheFor(v *Vocab) *maskCache {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.caches == nil {
		g.caches = map[*Vocab]*maskCache{}
	}
	c := g.caches[v]
	if c == nil {
		c = &maskCache{m: map[frame]*entry{}}
		g.caches[v] = c
	}
	return c
}

// lexKey names a lexical automaton's state for the vocabulary-wide cache.
// For counted strings, rmax and rmin are the characters still allowed and
// still needed; clamped at the longest token (no token can tell larger
// values apart), they let every length bound share entries. rmax -1 means
// no limit.
type lexKey struct {
	d          *dfa
	st         int32
	rmax, rmin int32
}

// lexEntry is entry for a lexical frame: the automaton alone decides, so
// the walk carries only its state (and a character count), and the result
// is cached per vocabulary for every grammar sharing the automaton.
func (m *Matcher) lexEntry(nd *node, f frame) *entry {
	v := m.v
	d := nd.lex
	k := lexKey{d: d, st: f.st, rmax: -1}
	if nd.counted {
		l := int64(v.maxPiece)
		if nd.maxLen >= 0 && nd.maxLen-f.a < l {
			k.rmax = int32(nd.maxLen - f.a)
		}
		k.rmin = int32(min(max(nd.minLen-f.a, 0), l+1))
	}
	v.lexMu.Lock()
	e := v.lexCache[k]
	v.lexMu.Unlock()
	if e != nil {
		return e
	}
	b := make([]uint64, v.words)
	pops := &popSet{}
	type item struct{ n, s, k int32 }
	var stack []item
	nc := d.nclass
	class := &d.class
	root := v.nodes[0]
	if d.accept[f.st] {
		for _, e := range v.edges[root.e0:root.e1] {
			pops.add(0, e.child, e.b, 0)
		}
	}
	for _, e := range v.edges[root.e0:root.e1] {
		if to, kk := m.lexNext(nd, k, f.st, 0, e.b); to >= 0 {
			stack = append(stack, item{e.child, to, kk})
		}
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		t := &v.nodes[it.n]
		if lo, hi := t.lo, t.hi; hi == lo+1 {
			b[lo>>6] |= 1 << (uint(lo) & 63)
		} else {
			setRange(b, lo, hi)
		}
		edges := v.edges[t.e0:t.e1]
		if d.accept[it.s] {
			// Each trie node is reached once (the automaton is
			// deterministic), so pops need no de-duplication.
			for _, e := range edges {
				pops.list = append(pops.list, deepPop{e.child, e.b, 0})
			}
		}
		if !nd.counted {
			row := d.next[int(it.s)*nc : int(it.s)*nc+nc]
			for _, e := range edges {
				if to := row[class[e.b]]; to >= 0 {
					stack = append(stack, item{e.child, to, 0})
				}
			}
			continue
		}
		for _, e := range edges {
			if to, kk := m.lexNext(nd, k, it.s, it.k, e.b); to >= 0 {
				stack = append(stack, item{e.child, to, kk})
			}
		}
	}
	e = newEntry(b, pops)
	v.lexMu.Lock()
	if v.lexBytes+e.size > maxCacheBytes {
		v.lexCache = map[lexKey]*entry{}
		v.lexBytes = 0
	}
	if old := v.lexCache[k]; old != nil {
		e = old
	} else {
		v.lexCache[k] = e
		v.lexBytes += e.size
	}
	v.lexMu.Unlock()
	return e
}

// lexNext steps a lexical automaton by byte c from state s after k
// characters of this walk, applying the limits of key (counted strings).
func (m *Matcher) lexNext(nd *node, key lexKey, s, k int32, c byte) (int32, int32) {
	d := nd.lex
	to := d.step(s, c)
	if to < 0 || !nd.counted {
		return to, k
	}
	if d.closing(to) {
		if k < key.rmin {
			return -1, k
		}
	} else if d.bound[s] {
		k++
		if key.rmax >= 0 && k > key.rmax {
			return -1, k
		}
	}
	return to, k
}
