package grammar

import "errors"

// Every state the matcher can reach must have a way to finish, or a model
// could be led into a value that never closes (a required property whose
// schema requires itself, an anyOf branch with no finite value). finish
// computes, for every node, the length of its shortest complete value by
// iterating to a fixpoint (as for the productive symbols of a grammar),
// then removes what cannot finish: choices lose such branches, objects
// lose such optional properties, arrays stop before such items. A schema
// whose root cannot finish is refused.

const infCost = int64(1) << 40

func addCost(a, b int64) int64 {
	if a >= infCost || b >= infCost {
		return infCost
	}
	return min(a+b, infCost)
}

// lexCost is the length of the shortest token of a lexical node.
func lexCost(nd *node) int64 {
	d := nd.lex
	dist := map[int32]int64{0: 0}
	queue := []int32{0}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if d.accept[s] {
			if nd.counted {
				return dist[s] + nd.minLen // one byte per character
			}
			return dist[s]
		}
		for c := 0; c < d.nclass; c++ {
			to := d.next[int(s)*d.nclass+c]
			if _, seen := dist[to]; to >= 0 && !seen {
				dist[to] = dist[s] + 1
				queue = append(queue, to)
			}
		}
	}
	return infCost
}

// numWitness writes a number within the bounds, digit by digit: every
// feasible prefix has a feasible next byte or may end, so no backtracking
// is needed.
func numWitness(n *numInfo, f frame) ([]byte, bool) {
	var out []byte
	for steps := 0; steps < 64; steps++ {
		if n.canEnd(f) {
			return out, true
		}
		moved := false
		for _, c := range []byte("0123456789.-") {
			if g, ok := n.step(f, c); ok {
				f, out, moved = g, append(out, c), true
				break
			}
		}
		if !moved {
			return nil, false
		}
	}
	return nil, false
}

// costs returns each node's shortest value length (infCost: none).
func (g *Grammar) costs() []int64 {
	c := make([]int64, len(g.nodes))
	for i := range c {
		c[i] = infCost
		nd := &g.nodes[i]
		switch nd.kind {
		case kLex:
			c[i] = lexCost(nd)
		case kNum:
			if w, ok := numWitness(nd.num, frame{node: int32(i)}); ok {
				c[i] = int64(len(w))
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for i := range g.nodes {
			nd := &g.nodes[i]
			v := c[i]
			switch nd.kind {
			case kAlt:
				for _, a := range nd.alts {
					v = min(v, c[a])
				}
			case kRoot:
				v = c[nd.child]
			case kObj:
				v = objCost(nd.obj, c)
			case kArr:
				v = arrCost(nd.arr, c)
			}
			if v < c[i] {
				c[i], changed = v, true
			}
		}
	}
	return c
}

func objCost(o *objInfo, c []int64) int64 {
	v, n := int64(2), 0
	for _, p := range o.props {
		if p.required {
			v = addCost(v, int64(len(p.enc))+3+c[p.node])
			if n > 0 {
				v = addCost(v, 1)
			}
			n++
		}
	}
	return v
}

func arrCost(a *arrInfo, c []int64) int64 {
	v := int64(2)
	for i := int64(0); i < a.min; i++ {
		n := a.itemNode(i)
		if n < 0 {
			return infCost
		}
		v = addCost(v, c[n])
		if i > 0 {
			v = addCost(v, 1)
		}
		if v >= infCost || i > 1<<20 {
			return v
		}
	}
	return v
}

// prune removes what cannot finish, given the costs.
func (g *Grammar) prune(c []int64) error {
	if c[g.root] >= infCost {
		return errors.New("no finite JSON value satisfies the schema (a $ref loop, or a required property or item that can never end)")
	}
	for i := range g.nodes {
		nd := &g.nodes[i]
		switch nd.kind {
		case kAlt:
			var keep []int32
			for _, a := range nd.alts {
				if c[a] < infCost {
					keep = append(keep, a)
				}
			}
			nd.alts = keep
		case kObj:
			o := nd.obj
			var keep []prop
			for _, p := range o.props {
				if c[p.node] < infCost {
					keep = append(keep, p)
				}
			}
			if len(keep) != len(o.props) {
				o.props = keep
				o.finish()
			}
			if o.addl >= 0 && c[o.addl] >= infCost {
				o.addl = -1
			}
		case kArr:
			a := nd.arr
			for i, p := range a.prefix {
				if c[p] >= infCost {
					a.prefix = a.prefix[:i]
					if a.max < 0 || a.max > int64(i) {
						a.max = int64(i)
					}
					break
				}
			}
			if a.items >= 0 && c[a.items] >= infCost {
				a.items = -1
			}
			a.cap = max(a.min, int64(len(a.prefix)))
			if a.max >= 0 {
				a.cap = a.max
			}
		}
	}
	return nil
}
