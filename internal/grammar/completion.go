package grammar

import "fmt"

// Completion returns bytes that finish the value from the matcher's
// position: fed one byte at a time they are all accepted and leave a
// complete value (CanEnd). It is short, built from each pending frame's
// cheapest ending (required properties with their shortest values, the
// fewest items, the nearest end of a string or number), though not always
// the shortest possible. A server uses it to close a constrained answer
// when its token budget runs out. It returns nil when the matcher is done.
func (m *Matcher) Completion() []byte {
	if m.Done() {
		return nil
	}
	var best []byte
	found := false
	for _, stack := range m.alts {
		if c, ok := m.g.completeStack(stack); ok && (!found || len(c) < len(best)) {
			best, found = c, true
		}
	}
	return best
}

// completeStack finishes every frame from the top down; each finished
// frame hands its result to the one below.
func (g *Grammar) completeStack(stack []frame) ([]byte, bool) {
	var out []byte
	memo := map[int32][]byte{}
	res := int64(0)
	for i := len(stack) - 1; i >= 0; i-- {
		f := stack[i]
		if i < len(stack)-1 {
			f = childDone(g, f, res)
		}
		tail, r, ok := g.finishFrame(f, memo)
		if !ok {
			return nil, false
		}
		out = append(out, tail...)
		res = r
	}
	return out, true
}

// cheapest returns the concrete alternative of v with the shortest value.
func (g *Grammar) cheapest(v int32) int32 {
	best := int32(-1)
	for _, c := range g.concrete[v] {
		if best < 0 || g.cost[c] < g.cost[best] {
			best = c
		}
	}
	return best
}

// witness returns a short complete value of node v.
func (g *Grammar) witness(v int32, memo map[int32][]byte) []byte {
	if w, ok := memo[v]; ok {
		return w
	}
	n := g.cheapest(v)
	var w []byte
	if n >= 0 {
		w, _, _ = g.finishFrame(frame{node: n}, memo)
	}
	memo[v] = w
	return w
}

// finishFrame returns the bytes that end frame f and its result.
func (g *Grammar) finishFrame(f frame, memo map[int32][]byte) ([]byte, int64, bool) {
	nd := &g.nodes[f.node]
	switch nd.kind {
	case kRoot:
		if f.st == 0 {
			return g.witness(nd.child, memo), 0, true
		}
		return nil, 0, true
	case kNum:
		w, ok := numWitness(nd.num, f)
		return w, 0, ok
	case kLex, kKey:
		return g.searchFrame(f)
	case kObj:
		return g.finishObject(f, nd.obj, memo), 0, true
	case kArr:
		return g.finishArray(f, nd.arr, memo), 0, true
	}
	return nil, 0, false
}

func (g *Grammar) member(out []byte, p prop, memo map[int32][]byte) []byte {
	out = append(out, '"')
	out = append(out, p.enc...)
	out = append(out, '"', ':')
	return append(out, g.witness(p.node, memo)...)
}

// finishObject writes the required properties still missing and closes.
func (g *Grammar) finishObject(f frame, o *objInfo, memo map[int32][]byte) []byte {
	var out []byte
	ph := f.st & 15
	idx := f.a
	switch ph {
	case obStart:
		out = append(out, '{')
		ph, idx = obOpen, 0
	case obClosed:
		return nil
	case obAfterKey, obColon:
		if ph == obAfterKey {
			out = append(out, ':')
		}
		v := o.addl
		if f.b >= 0 {
			v = o.props[f.b].node
		}
		out = append(out, g.witness(v, memo)...)
		ph = obAfterVal
	}
	first := ph == obOpen || ph == obComma
	if ph == obComma && o.closable(idx) {
		// A key must follow the comma: the cheapest property allowed here,
		// or an additional one.
		best := -1
		for j := int(idx); j < len(o.props); j++ {
			if best < 0 || g.cost[o.props[j].node] < g.cost[o.props[best].node] {
				best = j
			}
		}
		if best >= 0 {
			out = g.member(out, o.props[best], memo)
		} else {
			out = append(out, `"`+g.extraName(o)+`":`...)
			out = append(out, g.witness(o.addl, memo)...)
		}
		return append(out, '}')
	}
	for j := int(idx); j < len(o.props); j++ {
		if !o.props[j].required {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = g.member(out, o.props[j], memo)
	}
	return append(out, '}')
}

// extraName is a key that no declared property spells.
func (g *Grammar) extraName(o *objInfo) string {
	for i := 0; ; i++ {
		name := fmt.Sprintf("_%d", i)
		if i == 0 {
			name = ""
		}
		taken := false
		for _, p := range o.props {
			if p.enc == name {
				taken = true
			}
		}
		if !taken {
			return name
		}
	}
}

// finishArray writes the items still needed for minItems and closes.
func (g *Grammar) finishArray(f frame, a *arrInfo, memo map[int32][]byte) []byte {
	var out []byte
	ph, count := f.st&15, f.a
	switch ph {
	case arStart:
		out = append(out, '[')
		ph, count = arOpen, 0
	case arClosed:
		return nil
	case arComma:
		out = append(out, g.witness(a.itemNode(count), memo)...)
		count++
		ph = arAfterVal
	}
	for ; count < a.min; count++ {
		if ph == arAfterVal {
			out = append(out, ',')
		}
		ph = arAfterVal
		out = append(out, g.witness(a.itemNode(count), memo)...)
	}
	return append(out, ']')
}

// searchFrame finds the shortest bytes that let a lone string, literal or
// key frame end, by breadth-first search over its states, trying one byte
// per byte class (letters and digits first).
func (g *Grammar) searchFrame(f frame) ([]byte, int64, bool) {
	w := &walker{g: g}
	type item struct {
		f    frame
		prev int32
		c    byte
	}
	canEnd := func(f frame) (int64, bool) {
		nd := &g.nodes[f.node]
		if nd.kind == kKey {
			return f.a, f.b == keyClosed
		}
		return 0, nd.lex.accept[f.st]
	}
	items := []item{{f, -1, 0}}
	seen := map[frame]bool{f: true}
	var buf []state
	for i := 0; i < len(items) && i < 200000; i++ {
		it := items[i]
		if r, ok := canEnd(it.f); ok {
			var out []byte
			for j := int32(i); items[j].prev >= 0; j = items[j].prev {
				out = append(out, items[j].c)
			}
			for l, r := 0, len(out)-1; l < r; l, r = l+1, r-1 {
				out[l], out[r] = out[r], out[l]
			}
			return out, r, true
		}
		for _, c := range g.candidateBytes(it.f) {
			buf = w.step(state{top: it.f}, int(c), buf[:0])
			for _, s := range buf {
				if s.top.node == popMarker || seen[s.top] {
					continue
				}
				seen[s.top] = true
				items = append(items, item{s.top, int32(i), c})
			}
		}
	}
	return nil, 0, false
}

// byteOrder lists bytes from the most to the least pleasant to emit.
var byteOrder = func() []byte {
	var out []byte
	add := func(lo, hi byte) {
		for c := int(lo); c <= int(hi); c++ {
			out = append(out, byte(c))
		}
	}
	add('a', 'z')
	add('0', '9')
	add('A', 'Z')
	out = append(out, '"', '_', '-', '.', '@', ':', '+')
	seen := map[byte]bool{}
	for _, c := range out {
		seen[c] = true
	}
	for c := 0; c < 256; c++ {
		if !seen[byte(c)] {
			out = append(out, byte(c))
		}
	}
	return out
}()

// candidateBytes gives one byte of each class of the frame's automaton
// (for keys: the names' next bytes too).
func (g *Grammar) candidateBytes(f frame) []byte {
	nd := &g.nodes[f.node]
	d := nd.lex
	var extra []byte
	if nd.kind == kKey {
		d = keyContent()
		o := g.nodes[nd.child].obj
		if f.st >= 0 {
			for _, e := range o.tEdges[f.st] {
				extra = append(extra, e.b)
			}
		}
	}
	var out []byte
	var seen [256]bool
	for _, c := range extra {
		out = append(out, c)
		seen[d.class[c]] = true
	}
	for _, c := range byteOrder {
		if k := d.class[c]; !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}
