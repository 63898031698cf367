package sample

import (
	"math"
	"slices"
)

// The candidate order used everywhere: higher logit first, lower id first
// among equal logits. A strict total order makes every partial selection
// agree with a full sort, so results do not depend on which one ran.
func better(a, b tok) bool {
	return a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
}

func cmpTok(a, b tok) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// siftDown restores the heap property below h[i] for a heap whose root is
// the worst element (a min-heap under better).
func siftDown(h []tok, i int) {
	n := len(h)
	for {
		w := i
		l, r := 2*i+1, 2*i+2
		if l < n && better(h[w], h[l]) {
			w = l
		}
		if r < n && better(h[w], h[r]) {
			w = r
		}
		if w == i {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// heapify turns h into a worst-at-root heap.
func heapify(h []tok) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
}

// heapSortBest sorts a worst-at-root heap into best-first order.
func heapSortBest(h []tok) {
	for end := len(h) - 1; end > 0; end-- {
		h[0], h[end] = h[end], h[0] // the current worst goes to the back
		siftDown(h[:end], 0)
	}
}

// topK writes the len(dst) best entries of src into dst, best first, and
// returns dst. It scans src once with a heap of len(dst) entries, so it costs
// O(n log k) and never sorts the whole vocabulary.
func topK(src []float32, dst []tok) []tok {
	k := len(dst)
	for i := range dst {
		dst[i] = tok{int32(i), clean(src[i])}
	}
	heapify(dst)
	for i := k; i < len(src); i++ {
		// Later ids lose ties, so only a strictly larger logit gets in.
		if v := clean(src[i]); v > dst[0].logit {
			dst[0] = tok{int32(i), v}
			siftDown(dst, 0)
		}
	}
	heapSortBest(dst)
	return dst
}

// partialSort puts the m best entries of c into c[:m], best first; the rest
// of c is left in some order. Small m uses a heap (O(n log m)); large m a
// full sort.
func partialSort(c []tok, m int) {
	if m >= len(c)/4 {
		slices.SortFunc(c, cmpTok)
		return
	}
	h := c[:m]
	heapify(h)
	for i := m; i < len(c); i++ {
		if better(c[i], h[0]) {
			h[0], c[i] = c[i], h[0]
			siftDown(h, 0)
		}
	}
	heapSortBest(h)
}

// maxLogit returns the largest logit of c; c[0]'s when c is sorted.
func maxLogit(c []tok, sorted bool) float32 {
	m := c[0].logit
	if !sorted {
		for _, t := range c[1:] {
			m = max(m, t.logit)
		}
	}
	return m
}

// topP keeps the most likely candidates up to and including the one where
// the cumulative probability first reaches p (at least one token), and
// reports whether the result is sorted best first. Unsorted input is not
// sorted in full: a 256-entry head is sorted first, which is enough for the
// peaked distributions models usually produce; if the head does not reach
// p, the rest of the cut is found by a weighted quickselect over the tail,
// in expected linear time, and the result comes back unsorted. w is scratch
// of at least len(c).
func topP(c []tok, w []float64, p float32, sorted bool) ([]tok, bool) {
	n := len(c)
	mx := maxLogit(c, sorted)
	if math.IsInf(float64(mx), -1) {
		// No token has any probability: keep the best by the tie rule.
		if !sorted {
			partialSort(c, 1)
		}
		return c[:1], true
	}
	m := n
	if !sorted {
		m = min(n, 256)
		partialSort(c, m)
	}
	// One exp per candidate, kept in w: the head's cumulative sum and the
	// tail's quickselect both read them.
	w = w[:n]
	var z float64
	for i, t := range c {
		w[i] = math.Exp(float64(t.logit - mx))
		z += w[i]
	}
	target := float64(p) * z
	var cum float64
	for i := range m {
		cum += w[i]
		if cum >= target {
			return c[:i+1], true
		}
	}
	if m == n {
		return c, true // rounding kept cum just below target: keep all
	}
	return c[:m+massSelect(c[m:], w[m:], target-cum)], false
}

// massSelect reorders c (and its weights w alongside) so that c[:k] holds
// the k best candidates, for the smallest k whose weights sum to at least
// target, and returns k (len(c) if the total falls short by rounding). The
// pivot is the median of three by position, so the result depends only on
// the input.
func massSelect(c []tok, w []float64, target float64) int {
	swap := func(i, j int) {
		c[i], c[j] = c[j], c[i]
		w[i], w[j] = w[j], w[i]
	}
	lo, hi := 0, len(c)
	var acc float64 // weight of c[:lo], which beats everything in c[lo:]
	for hi-lo > 1 {
		// Median of first, middle, last; then park it at hi-1.
		a, b, d := lo, lo+(hi-lo)/2, hi-1
		if better(c[b], c[a]) {
			a, b = b, a
		}
		if better(c[d], c[b]) {
			b = d
			if better(c[b], c[a]) {
				b = a
			}
		}
		swap(b, hi-1)
		piv := c[hi-1]
		i := lo
		var mass float64
		for j := lo; j < hi-1; j++ {
			if better(c[j], piv) {
				swap(i, j)
				mass += w[i]
				i++
			}
		}
		swap(i, hi-1) // pivot now at i, better ones in c[lo:i]
		if acc+mass >= target {
			hi = i // the cut falls among the better ones
			continue
		}
		acc += mass + w[i]
		if acc >= target {
			return i + 1
		}
		lo = i + 1
	}
	// One candidate left in c[lo:hi] (or none): it completes the cut if
	// anything is still missing.
	if lo < hi && acc < target {
		return lo + 1
	}
	return lo
}

// minP keeps the candidates whose probability is at least p times the
// largest one, i.e. logit >= max + ln p. The best always survives. Sorted
// input stays sorted; unsorted input keeps its order.
func minP(c []tok, p float32, sorted bool) []tok {
	thr := maxLogit(c, sorted) + float32(math.Log(float64(p)))
	if sorted {
		i := 1
		for i < len(c) && c[i].logit >= thr {
			i++
		}
		return c[:i]
	}
	j := 0
	for _, t := range c {
		if t.logit >= thr {
			c[j] = t
			j++
		}
	}
	return c[:j]
}
