package grammar

// The pushdown automaton, one byte at a time.
//
// A state is a stack of frames. The top frame is held by value; the frames
// below live in an arena of links (frame, parent index), so a step that
// only changes the top costs no allocation and a push costs one link.
// Steps may branch (anyOf alternatives, a value that may end or go on), so
// step appends every successor to a slice; none means the byte is refused.

// eof is the end-of-input symbol fed to decide whether a state accepts.
const eof = 256

// frame is one level of the stack. Its meaning depends on the node's kind;
// fields that do not matter in a phase are kept zero so that equal
// situations give equal frames (frames key the mask cache).
type frame struct {
	node int32
	st   int32
	a, b int64
}

type state struct {
	top  frame
	rest int32 // arena index of the frame below, -1 for none
}

type link struct {
	f      frame
	parent int32
}

// popMarker is the top of a pseudo-state reporting that the walk popped
// below its bottom frame (local walks start from a lone top frame); b holds
// the popped frame's result.
const popMarker = -1

// Object phases (frame.st & 15; whitespace state in st >> 4). a is the
// index of the next candidate property, b the property whose value comes
// next.
const (
	obStart    = iota // before '{'
	obOpen            // after '{'
	obAfterKey        // after a key, before ':'
	obColon           // after ':'
	obAfterVal        // after a value
	obComma           // after ','
	obClosed          // after '}'
)

// Array phases; a is the item count (saturating at arrInfo.cap).
const (
	arStart = iota
	arOpen
	arAfterVal
	arComma
	arClosed
)

// Key frames: b is -1 before the opening quote, -2 once closed (a then
// holds the property index, -1 for an additional property), otherwise the
// state of the string-content automaton; st is the node of the names trie,
// -1 once the key left it; a is the object's candidate index.
const (
	keyBefore = -1
	keyClosed = -2
)

// Whitespace runs: 0 none yet, 1 a single space, 2+k a newline and k
// spaces or tabs.
const maxIndent = 20

func wsNext(ws int32, c int) int32 {
	switch {
	case ws == 0 && c == ' ':
		return 1
	case ws == 0 && c == '\n':
		return 2
	case ws >= 2 && ws < 2+maxIndent && (c == ' ' || c == '\t'):
		return ws + 1
	}
	return -1
}

func isWS(c int) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

type walker struct {
	g     *Grammar
	arena []link
}

func (w *walker) alloc(f frame, parent int32) int32 {
	w.arena = append(w.arena, link{f, parent})
	return int32(len(w.arena) - 1)
}

// pop ends the top frame (which can end) and feeds c to the frame below.
func (w *walker) pop(s state, result int64, c int, out []state) []state {
	if s.rest < 0 {
		return append(out, state{top: frame{node: popMarker, b: result}, rest: -1})
	}
	below := w.arena[s.rest]
	p := state{top: childDone(w.g, below.f, result), rest: below.parent}
	return w.step(p, c, out)
}

// push starts a value of node v above parent and feeds it c.
func (w *walker) push(parent state, v int32, c int, out []state) []state {
	ref := w.alloc(parent.top, parent.rest)
	for _, n := range w.g.concrete[v] {
		child := state{top: frame{node: n}, rest: ref}
		out = w.step(child, c, out)
	}
	return out
}

// childDone updates a frame whose child just ended with result.
func childDone(g *Grammar, f frame, result int64) frame {
	if nd := &g.nodes[f.node]; nd.kind == kObj && f.st&15 == obAfterKey {
		if nd.obj.keyLex >= 0 {
			result = -1 // a plain string key: an additional property
		}
		f.b = result
		if result >= 0 {
			f.a = result + 1
		}
	}
	return f
}

// result is what an ending frame tells its parent.
func result(g *Grammar, f frame) int64 {
	if g.nodes[f.node].kind == kKey {
		return f.a
	}
	return 0
}

// step feeds c (a byte or eof) to s and appends the successors to out.
func (w *walker) step(s state, c int, out []state) []state {
	f := s.top
	nd := &w.g.nodes[f.node]
	switch nd.kind {
	case kLex:
		d := nd.lex
		if c < 256 {
			if to := d.step(f.st, byte(c)); to >= 0 {
				n, ok := f.a, true
				if nd.counted {
					switch {
					case d.closing(to):
						n, ok = 0, n >= nd.minLen
					case d.bound[f.st]:
						n++
						if nd.maxLen >= 0 {
							ok = n <= nd.maxLen
						} else if n > nd.minLen {
							n = nd.minLen
						}
					}
				}
				if ok {
					out = append(out, state{frame{node: f.node, st: to, a: n}, s.rest})
				}
			}
		}
		if d.accept[f.st] {
			out = w.pop(s, 0, c, out)
		}
	case kNum:
		if c < 256 {
			if g, ok := nd.num.step(f, byte(c)); ok {
				out = append(out, state{g, s.rest})
			}
		}
		if nd.num.canEnd(f) {
			out = w.pop(s, 0, c, out)
		}
	case kObj:
		out = w.stepObj(s, nd.obj, c, out)
	case kKey:
		out = w.stepKey(s, w.g.nodes[nd.child].obj, c, out)
	case kArr:
		out = w.stepArr(s, nd.arr, c, out)
	case kRoot:
		if f.st == 0 && c < 256 {
			out = w.push(state{frame{node: f.node, st: 1}, s.rest}, nd.child, c, out)
		} else if f.st == 1 && c == eof {
			out = append(out, s)
		}
	}
	return out
}

func (w *walker) stepObj(s state, o *objInfo, c int, out []state) []state {
	f := s.top
	ph, ws := f.st&15, f.st>>4
	set := func(ph int32, a, b int64) []state {
		return append(out, state{frame{node: f.node, st: ph, a: a, b: b}, s.rest})
	}
	if ph == obClosed {
		return w.pop(s, 0, c, out)
	}
	if ph != obStart && isWS(c) {
		if nw := wsNext(ws, c); nw >= 0 {
			out = append(out, state{frame{node: f.node, st: ph | nw<<4, a: f.a, b: f.b}, s.rest})
		}
		return out
	}
	switch ph {
	case obStart:
		if c == '{' {
			return set(obOpen, 0, 0)
		}
	case obOpen, obComma:
		if c == '"' && o.keyPossible(f.a) {
			parent := state{frame{node: f.node, st: obAfterKey, a: f.a}, s.rest}
			ref := w.alloc(parent.top, parent.rest)
			if o.keyLex >= 0 {
				return w.step(state{frame{node: o.keyLex}, ref}, c, out)
			}
			return w.stepKey(state{frame{node: o.key, a: f.a, b: keyBefore}, ref}, o, c, out)
		}
		if c == '}' && ph == obOpen && o.closable(f.a) {
			return set(obClosed, 0, 0)
		}
	case obAfterKey:
		if c == ':' {
			return set(obColon, f.a, f.b)
		}
	case obColon:
		if c < 256 {
			v := o.addl
			if f.b >= 0 {
				v = o.props[f.b].node
			}
			return w.push(state{frame{node: f.node, st: obAfterVal, a: f.a}, s.rest}, v, c, out)
		}
	case obAfterVal:
		if c == ',' && o.keyPossible(f.a) {
			return set(obComma, f.a, 0)
		}
		if c == '}' && o.closable(f.a) {
			return set(obClosed, 0, 0)
		}
	}
	return out
}

func (w *walker) stepKey(s state, o *objInfo, c int, out []state) []state {
	f := s.top
	switch f.b {
	case keyClosed:
		return w.pop(s, f.a, c, out)
	case keyBefore:
		if c == '"' {
			st := int32(0)
			if len(o.props) == 0 {
				st = -1
			}
			out = append(out, state{frame{node: f.node, st: st, a: f.a, b: psBody}, s.rest})
		}
		return out
	}
	if c == eof {
		return out
	}
	q := int32(f.b)
	if c == '"' && q == psBody {
		if f.st >= 0 && o.tTerm[f.st] >= 0 {
			j := int64(o.tTerm[f.st])
			if o.candidate(j, f.a) {
				out = append(out, state{frame{node: f.node, a: j, b: keyClosed}, s.rest})
			}
			return out // a declared name that may not come here
		}
		if o.extraOK(f.a) {
			out = append(out, state{frame{node: f.node, a: -1, b: keyClosed}, s.rest})
		}
		return out
	}
	nq := keyContent().step(q, byte(c))
	if nq < 0 {
		return out
	}
	ns := int32(-1)
	if f.st >= 0 {
		ns = o.nameNext(f.st, byte(c))
	}
	switch {
	case ns >= 0 && (o.inRange(ns, f.a) || o.extraOK(f.a)):
	case ns < 0 && o.extraOK(f.a) && (len(o.props) == 0 || (c != '\\' && !inEscape(q))):
		// An additional name. Next to declared names it is written
		// without escapes, so that its text is its value and it can
		// never spell a declared name another way.
	default:
		return out
	}
	return append(out, state{frame{node: f.node, st: ns, a: f.a, b: int64(nq)}, s.rest})
}

func (w *walker) stepArr(s state, a *arrInfo, c int, out []state) []state {
	f := s.top
	ph, ws := f.st&15, f.st>>4
	if ph == arClosed {
		return w.pop(s, 0, c, out)
	}
	if ph != arStart && isWS(c) {
		if nw := wsNext(ws, c); nw >= 0 {
			out = append(out, state{frame{node: f.node, st: ph | nw<<4, a: f.a}, s.rest})
		}
		return out
	}
	switch ph {
	case arStart:
		if c == '[' {
			out = append(out, state{frame{node: f.node, st: arOpen}, s.rest})
		}
		return out
	case arAfterVal:
		if c == ',' && a.itemAllowed(f.a) {
			return append(out, state{frame{node: f.node, st: arComma, a: f.a}, s.rest})
		}
	}
	if c == ']' && ph != arComma {
		if f.a >= a.min {
			out = append(out, state{frame{node: f.node, st: arClosed}, s.rest})
		}
		return out
	}
	if (ph == arOpen || ph == arComma) && c < 256 && a.itemAllowed(f.a) {
		n := min(f.a+1, a.cap)
		return w.push(state{frame{node: f.node, st: arAfterVal, a: n}, s.rest}, a.itemNode(f.a), c, out)
	}
	return out
}

// closed reports whether a frame has ended and can take no further byte,
// so it may be popped right away.
func closed(g *Grammar, f frame) bool {
	nd := &g.nodes[f.node]
	switch nd.kind {
	case kLex:
		return nd.lex.accept[f.st] && !nd.lex.open[f.st]
	case kNum:
		if !nd.num.canEnd(f) {
			return false
		}
		for _, c := range []byte("0123456789.") {
			if _, ok := nd.num.step(f, c); ok {
				return false
			}
		}
		return true
	case kObj:
		return f.st&15 == obClosed
	case kArr:
		return f.st&15 == arClosed
	case kKey:
		return f.b == keyClosed
	}
	return false
}

// normalize pops ended frames off the top of a stack (bottom first).
func normalize(g *Grammar, stack []frame) []frame {
	for len(stack) > 1 && closed(g, stack[len(stack)-1]) {
		r := result(g, stack[len(stack)-1])
		stack = stack[:len(stack)-1]
		stack[len(stack)-1] = childDone(g, stack[len(stack)-1], r)
	}
	return stack
}
