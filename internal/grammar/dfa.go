package grammar

import (
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
)

// Lexical pieces of JSON (a string, a number, a literal) are byte-level
// DFAs. They are built as tables ([256]int32 per state), transformed
// (length counting, quoting, trimming) and finally compressed into byte
// classes for the matcher, where a step is one table lookup.

// maxTableStates bounds every table built from a schema (a table row is
// 1 KiB), so that a hostile pattern is refused quickly instead of
// exhausting memory.
const maxTableStates = 1 << 14

var errTooLarge = errors.New("automaton too large")

// table is a DFA under construction. State 0 is the start; -1 is "no
// transition". boundary marks the states that lie between two characters
// (not inside a UTF-8 sequence or a JSON escape): leaving such a state
// starts a character, which is how lengths are counted in characters.
type table struct {
	next     [][256]int32
	accept   []bool
	boundary []bool
}

func (t *table) add(accept, boundary bool) int32 {
	var row [256]int32
	for i := range row {
		row[i] = -1
	}
	t.next = append(t.next, row)
	t.accept = append(t.accept, accept)
	t.boundary = append(t.boundary, boundary)
	return int32(len(t.next) - 1)
}

func (t *table) states() int { return len(t.next) }

// trim keeps the states that are reachable from the start and can reach an
// accepting state, so that every state of the result has a way to finish.
// It fails when the start itself cannot finish (the language is empty).
func (t *table) trim() (*table, error) {
	n := t.states()
	live := make([]bool, n)
	rev := make([][]int32, n)
	for s := 0; s < n; s++ {
		for _, to := range t.next[s] {
			if to >= 0 {
				rev[to] = append(rev[to], int32(s))
			}
		}
	}
	var queue []int32
	for s := 0; s < n; s++ {
		if t.accept[s] {
			live[s] = true
			queue = append(queue, int32(s))
		}
	}
	for len(queue) > 0 {
		s := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, p := range rev[s] {
			if !live[p] {
				live[p] = true
				queue = append(queue, p)
			}
		}
	}
	if n == 0 || !live[0] {
		return nil, errors.New("no string can satisfy it")
	}
	id := make([]int32, n)
	for i := range id {
		id[i] = -1
	}
	out := &table{}
	id[0] = out.add(t.accept[0], t.boundary[0])
	order := []int32{0}
	for i := 0; i < len(order); i++ {
		s := order[i]
		for _, to := range t.next[s] {
			if to >= 0 && live[to] && id[to] < 0 {
				id[to] = out.add(t.accept[to], t.boundary[to])
				order = append(order, to)
			}
		}
	}
	for _, s := range order {
		row := &out.next[id[s]]
		for b, to := range t.next[s] {
			if to >= 0 && live[to] {
				row[b] = id[to]
			}
		}
	}
	return out, nil
}

// quoted wraps a string-content table in the quotes: a new start state
// takes '"' into the content, and every accepting content state takes '"'
// to a final state. Content tables never contain a raw '"'.
func (t *table) quoted() *table {
	out := &table{}
	start := out.add(false, false)
	off := int32(1)
	for s := 0; s < t.states(); s++ {
		out.add(false, t.boundary[s])
	}
	end := out.add(true, true)
	for s := 0; s < t.states(); s++ {
		row := &out.next[int32(s)+off]
		for b, to := range t.next[s] {
			if to >= 0 {
				row[b] = to + off
			}
		}
		if t.accept[s] {
			row['"'] = end
		}
	}
	out.next[start]['"'] = off
	return out
}

// literals builds the trie of a set of byte strings.
func literals(lits [][]byte) *table {
	t := &table{}
	t.add(false, true)
	for _, lit := range lits {
		s := int32(0)
		for _, b := range lit {
			to := t.next[s][b]
			if to < 0 {
				to = t.add(false, true)
				t.next[s][b] = to
			}
			s = to
		}
		t.accept[s] = true
	}
	return t
}

// dfa is a finished automaton: trimmed, with bytes grouped into classes
// that behave alike in every state.
type dfa struct {
	class  [256]uint8
	nclass int
	next   []int32 // next[s*nclass+class]
	accept []bool
	open   []bool // the state has at least one transition
	bound  []bool // leaving the state starts a character (see table)
}

func (d *dfa) step(s int32, b byte) int32 {
	return d.next[int(s)*d.nclass+int(d.class[b])]
}

// compile trims and compresses a table.
func (t *table) compile() (*dfa, error) {
	t, err := t.trim()
	if err != nil {
		return nil, err
	}
	return t.compileKeep()
}

// compileKeep compresses a table into byte classes, keeping its states.
func (t *table) compileKeep() (*dfa, error) {
	n := t.states()
	d := &dfa{accept: t.accept, open: make([]bool, n), bound: t.boundary}
	// Group bytes by their column of targets.
	byHash := map[uint64][]int{}
	var reps []int // representative byte of each class
	for b := 0; b < 256; b++ {
		h := fnv.New64a()
		var buf [4]byte
		for s := 0; s < n; s++ {
			v := uint32(t.next[s][b])
			buf[0], buf[1], buf[2], buf[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
			h.Write(buf[:])
		}
		sum := h.Sum64()
		found := -1
		for _, c := range byHash[sum] {
			same := true
			rb := reps[c]
			for s := 0; s < n; s++ {
				if t.next[s][b] != t.next[s][rb] {
					same = false
					break
				}
			}
			if same {
				found = c
				break
			}
		}
		if found < 0 {
			found = len(reps)
			reps = append(reps, b)
			byHash[sum] = append(byHash[sum], found)
		}
		d.class[b] = uint8(found)
	}
	d.nclass = len(reps)
	d.next = make([]int32, n*d.nclass)
	for s := 0; s < n; s++ {
		for c, b := range reps {
			to := t.next[s][b]
			d.next[s*d.nclass+c] = to
			if to >= 0 {
				d.open[s] = true
			}
		}
	}
	return d, nil
}

// nfa is a Thompson automaton with byte-range edges, the intermediate form
// of patterns and formats.
type nfa struct {
	eps   [][]int32
	edges [][]nedge
	bound []bool
}

type nedge struct {
	lo, hi byte
	to     int32
}

// maxNFAStates bounds pattern expansion ({n,m} copies its operand).
const maxNFAStates = 1 << 18

func (n *nfa) state(boundary bool) int32 {
	n.eps = append(n.eps, nil)
	n.edges = append(n.edges, nil)
	n.bound = append(n.bound, boundary)
	return int32(len(n.eps) - 1)
}

// determinize runs the subset construction from start; final is the
// accepting NFA state.
func (n *nfa) determinize(start, final int32) (*table, error) {
	t := &table{}
	ids := map[string]int32{}
	var sets [][]int32
	mark := make([]int32, len(n.eps))
	gen := int32(0)
	closure := func(seed []int32) []int32 {
		gen++
		var out []int32
		stack := append([]int32(nil), seed...)
		for len(stack) > 0 {
			s := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if mark[s] == gen {
				continue
			}
			mark[s] = gen
			out = append(out, s)
			stack = append(stack, n.eps[s]...)
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}
	keyOf := func(set []int32) string {
		b := make([]byte, 0, 4*len(set))
		for _, s := range set {
			b = append(b, byte(s), byte(s>>8), byte(s>>16), byte(s>>24))
		}
		return string(b)
	}
	intern := func(set []int32) (int32, error) {
		k := keyOf(set)
		if id, ok := ids[k]; ok {
			return id, nil
		}
		if t.states() >= maxTableStates {
			return 0, errTooLarge
		}
		acc, bound := false, false
		for _, s := range set {
			if s == final {
				acc = true
			}
			if n.bound[s] {
				bound = true
			}
		}
		id := t.add(acc, bound)
		ids[k] = id
		sets = append(sets, set)
		return id, nil
	}
	if _, err := intern(closure([]int32{start})); err != nil {
		return nil, err
	}
	for i := 0; i < len(sets); i++ {
		set := sets[i]
		// Cut the byte range into intervals where the edge set is constant.
		var cuts []int
		for _, s := range set {
			for _, e := range n.edges[s] {
				cuts = append(cuts, int(e.lo), int(e.hi)+1)
			}
		}
		if len(cuts) == 0 {
			continue
		}
		sort.Ints(cuts)
		for j := 0; j+1 < len(cuts); j++ {
			lo, hi := cuts[j], cuts[j+1]-1
			if lo > hi {
				continue
			}
			var seed []int32
			for _, s := range set {
				for _, e := range n.edges[s] {
					if int(e.lo) <= lo && hi <= int(e.hi) {
						seed = append(seed, e.to)
					}
				}
			}
			if len(seed) == 0 {
				continue
			}
			to, err := intern(closure(seed))
			if err != nil {
				return nil, err
			}
			for b := lo; b <= hi; b++ {
				t.next[i][b] = to
			}
		}
	}
	return t, nil
}

// closing reports whether s is the final state of a quoted string (or any
// token): accepting with no way on.
func (d *dfa) closing(s int32) bool { return d.accept[s] && !d.open[s] }

// maxProductStates bounds the states of a length-limited string automaton.
const maxProductStates = 1 << 18

// lengthDFA builds the automaton of a whole JSON string (quotes included)
// whose content follows content and has minLen..maxLen characters (maxLen
// < 0: no upper bound). States are (content state, characters so far)
// pairs, the count saturating at minLen without an upper bound; the
// transition table stays in the content's byte classes plus one for '"'.
func lengthDFA(content *dfa, minLen, maxLen int) (*dfa, error) {
	if maxLen >= 0 && minLen > maxLen {
		return nil, fmt.Errorf("minLength %d is above maxLength %d", minLen, maxLen)
	}
	limit := minLen
	if maxLen >= 0 {
		limit = maxLen
	}
	cc := content.nclass
	nc := cc + 1
	quote := int32(cc)
	// States 0 (before the opening quote) and 1 (after the closing one),
	// then the pairs.
	type key struct{ q, n int32 }
	ids := map[key]int32{}
	var order []key
	var next []int32
	add := func() int32 {
		for i := 0; i < nc; i++ {
			next = append(next, -1)
		}
		return int32(len(next)/nc - 1)
	}
	add()
	add()
	get := func(k key) (int32, error) {
		if id, ok := ids[k]; ok {
			return id, nil
		}
		if len(order) >= maxProductStates || len(next) >= 1<<24 {
			return 0, fmt.Errorf("length bound %d is too large for this string: %w", limit, errTooLarge)
		}
		id := add()
		ids[k] = id
		order = append(order, k)
		return id, nil
	}
	first, err := get(key{0, 0})
	if err != nil {
		return nil, err
	}
	next[0*nc+int(quote)] = first
	for i := 0; i < len(order); i++ {
		k := order[i]
		from := ids[k]
		if content.accept[k.q] && int(k.n) >= minLen {
			next[int(from)*nc+int(quote)] = 1
		}
		n := k.n
		if content.bound[k.q] {
			n++
		}
		if maxLen >= 0 && int(n) > maxLen {
			continue
		}
		if maxLen < 0 && int(n) > limit {
			n = int32(limit)
		}
		for c := 0; c < cc; c++ {
			to := content.next[int(k.q)*cc+c]
			if to < 0 {
				continue
			}
			id, err := get(key{to, n})
			if err != nil {
				return nil, err
			}
			next[int(from)*nc+c] = id
		}
		// '"' now has a class of its own: give it the content's own
		// transition (an escaped quote), which never meets a closing one.
		if to := content.next[int(k.q)*cc+int(content.class['"'])]; to >= 0 {
			if next[int(from)*nc+int(quote)] >= 0 {
				return nil, errors.New("grammar: internal error: string content takes a raw '\"'")
			}
			id, err := get(key{to, n})
			if err != nil {
				return nil, err
			}
			next[int(from)*nc+int(quote)] = id
		}
	}
	// Trim: keep states from which the closing quote can be reached.
	states := len(next) / nc
	rev := make([][]int32, states)
	for s := 0; s < states; s++ {
		for c := 0; c < nc; c++ {
			if to := next[s*nc+c]; to >= 0 {
				rev[to] = append(rev[to], int32(s))
			}
		}
	}
	live := make([]bool, states)
	live[1] = true
	stack := []int32{1}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range rev[s] {
			if !live[p] {
				live[p] = true
				stack = append(stack, p)
			}
		}
	}
	if !live[0] {
		return nil, errors.New("no string can satisfy it")
	}
	d := &dfa{class: content.class, nclass: nc, next: next, accept: make([]bool, states), open: make([]bool, states), bound: make([]bool, states)}
	d.class['"'] = uint8(quote)
	d.accept[1] = true
	for s := 0; s < states; s++ {
		for c := 0; c < nc; c++ {
			if to := next[s*nc+c]; to >= 0 {
				if live[to] {
					d.open[s] = true
				} else {
					next[s*nc+c] = -1
				}
			}
		}
	}
	for k, id := range ids {
		d.bound[id] = content.bound[k.q]
	}
	return d, nil
}
