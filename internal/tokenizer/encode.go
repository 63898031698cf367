package tokenizer

import (
	"fmt"
	"strings"
	"sync"
)

// fragment is a span of the input that is either raw text (token < 0) or
// one special token matched in it.
type fragment struct {
	token      int32
	start, end int
}

// Encode turns text into token ids.
//
// With addSpecial, BOS and EOS are added as the vocabulary asks (AddBOS,
// AddEOS). With parseSpecial, the texts of control tokens (and of the
// unknown token) found in text become those tokens; without it only
// user-defined tokens are matched, as llama.cpp does (they are part of the
// vocabulary's normal text handling). Encode never fails: bytes that no
// token covers fall back to byte tokens, or for SPM vocabularies without
// them to the unknown token.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	frags := t.partition(text, parseSpecial)
	out := make([]int32, 0, len(text)/3+2)
	st := statePool.Get().(*encodeState)
	defer statePool.Put(st)
	switch t.kind {
	case SPM:
		prevSpecial := true // the first text gets the space prefix
		if addSpecial && t.addBOS {
			out = append(out, t.bos)
		}
		for _, f := range frags {
			if f.token >= 0 {
				out = append(out, f.token)
				prevSpecial = true
				continue
			}
			s := text[f.start:f.end]
			if t.addSpacePrefix && prevSpecial {
				s = " " + s
			}
			out = t.encodeSPM(strings.ReplaceAll(s, " ", "\u2581"), out, st)
			prevSpecial = false
		}
	case BPE, WPM:
		if addSpecial && t.addBOS {
			out = append(out, t.bos)
		}
		for _, f := range frags {
			if f.token >= 0 {
				out = append(out, f.token)
				continue
			}
			if t.kind == WPM {
				out = t.encodeWPM(text[f.start:f.end], out)
			} else {
				out = t.encodeBPE(text[f.start:f.end], out, st)
			}
		}
	}
	if addSpecial && t.addEOS {
		out = append(out, t.eos)
	}
	if addSpecial && t.addSEP && t.sep != NoToken {
		out = append(out, t.sep)
	}
	return out
}

// partition cuts text at the special tokens it contains, as llama.cpp's
// tokenizer_st_partition does: special tokens are tried longest first, each
// splitting every remaining text fragment at all its occurrences.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil
	}
	frags := []fragment{{token: -1, start: 0, end: len(text)}}
	var next []fragment
	for _, id := range t.special {
		a := t.attrs[id]
		if !parseSpecial && a&(attrControl|attrUnknown) != 0 {
			continue
		}
		tok := t.tokens[id]
		if !strings.Contains(text, tok) {
			continue
		}
		next = next[:0]
		for _, f := range frags {
			if f.token >= 0 {
				next = append(next, f)
				continue
			}
			s, e := f.start, f.end
			for s < e {
				k := strings.Index(text[s:e], tok)
				if k < 0 {
					break
				}
				m := s + k
				le := m
				if a&attrLStrip != 0 {
					for le > s && isCSpace(text[le-1]) {
						le--
					}
				}
				if le > s {
					next = append(next, fragment{token: -1, start: s, end: le})
				}
				next = append(next, fragment{token: id})
				s = m + len(tok)
				if a&attrRStrip != 0 {
					for s < e && isCSpace(text[s]) {
						s++
					}
				}
			}
			if s < e {
				next = append(next, fragment{token: -1, start: s, end: e})
			}
		}
		frags, next = next, frags
	}
	return frags
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// encodeState holds reusable buffers for one Encode call.
type encodeState struct {
	syms  []symbol
	heap  bigramHeap
	cps   []rune
	word  []byte
	split splitScratch
}

var statePool = sync.Pool{New: func() any { return new(encodeState) }}

// symbol is a span of the word being merged, linked to its live neighbours.
type symbol struct {
	start, n   int32
	prev, next int32
	sym        int32 // BPE: merge-table symbol id, or -1
}

// splitSymbols cuts s into llama.cpp's initial symbols: one per UTF-8
// sequence as announced by its lead byte (clipped at the end of s).
func splitSymbols(s string, syms []symbol) []symbol {
	syms = syms[:0]
	for off := 0; off < len(s); {
		n := utf8Len(s[off])
		if off+n > len(s) {
			n = len(s) - off
		}
		i := int32(len(syms))
		next := i + 1
		if off+n == len(s) {
			next = -1
		}
		syms = append(syms, symbol{start: int32(off), n: int32(n), prev: i - 1, next: next, sym: -1})
		off += n
	}
	return syms
}

// bigram is a candidate merge of two adjacent symbols. For SPM, score is
// the merged token's score (higher first); for BPE, rank is the merge's
// position in the merge list (lower first). size is the merged length when
// the candidate was made; if either symbol has changed since, it no longer
// matches and the candidate is dropped.
type bigram struct {
	score       float32
	rank        int32
	left, right int32
	size        int32
	result      int32 // BPE: symbol id of the merged text
}

// bigramHeap is a binary heap ordered by less.
type bigramHeap struct {
	items []bigram
	spm   bool
}

func (h *bigramHeap) less(a, b *bigram) bool {
	if h.spm {
		if a.score != b.score {
			return a.score > b.score
		}
	} else if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.left < b.left
}

func (h *bigramHeap) push(b bigram) {
	h.items = append(h.items, b)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(&h.items[i], &h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *bigramHeap) pop() bigram {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.less(&h.items[l], &h.items[m]) {
			m = l
		}
		if r < last && h.less(&h.items[r], &h.items[m]) {
			m = r
		}
		if m == i {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}

// encodeSPM tokenizes one escaped text fragment: start from single
// characters and repeatedly merge the adjacent pair whose concatenation is
// the best-scoring vocabulary entry (leftmost on ties). Pieces left that are
// not tokens become byte tokens.
func (t *Tokenizer) encodeSPM(s string, out []int32, st *encodeState) []int32 {
	if s == "" {
		return out
	}
	syms := splitSymbols(s, st.syms)
	h := &st.heap
	h.items, h.spm = h.items[:0], true
	try := func(l, r int32) {
		if l < 0 || r < 0 {
			return
		}
		a, b := &syms[l], &syms[r]
		id, ok := t.toID[s[a.start:b.start+b.n]]
		if !ok {
			return
		}
		h.push(bigram{score: t.scores[id], left: l, right: r, size: a.n + b.n})
	}
	for i := 1; i < len(syms); i++ {
		try(int32(i-1), int32(i))
	}
	for len(h.items) > 0 {
		bg := h.pop()
		l, r := &syms[bg.left], &syms[bg.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != bg.size {
			continue
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bg.left
		}
		try(l.prev, bg.left)
		try(bg.left, l.next)
	}
	for i := int32(0); i != -1; i = syms[i].next {
		sy := syms[i]
		piece := s[sy.start : sy.start+sy.n]
		if id, ok := t.toID[piece]; ok {
			out = append(out, id)
			continue
		}
		for k := 0; k < len(piece); k++ {
			if id := t.byteTok[piece[k]]; id != NoToken {
				out = append(out, id)
			}
		}
	}
	st.syms = syms
	return out
}

// mergeTable holds BPE merges keyed by the pair of symbol ids. Every text
// that appears as a merge part gets a symbol id, so merging needs no string
// building: a symbol whose text is in no merge can never merge again.
type mergeTable struct {
	sym   map[string]int32
	pairs map[uint64]mergeRule
}

type mergeRule struct {
	rank   int32
	result int32 // symbol id of left+right, or -1 if it is in no merge
}

func newMergeTable(merges []string) (*mergeTable, error) {
	mt := &mergeTable{sym: map[string]int32{}, pairs: make(map[uint64]mergeRule, len(merges))}
	intern := func(s string) int32 {
		id, ok := mt.sym[s]
		if !ok {
			id = int32(len(mt.sym))
			mt.sym[s] = id
		}
		return id
	}
	type pair struct{ l, r string }
	parts := make([]pair, len(merges))
	for i, m := range merges {
		// llama.cpp splits at the first space after the first byte.
		k := -1
		if len(m) > 1 {
			k = strings.IndexByte(m[1:], ' ')
		}
		if k < 0 {
			return nil, fmt.Errorf("tokenizer: merge %d (%q) is not two space-separated parts", i, m)
		}
		l, r := m[:k+1], m[k+2:]
		if r == "" {
			return nil, fmt.Errorf("tokenizer: merge %d (%q) has an empty right part", i, m)
		}
		parts[i] = pair{l, r}
		intern(l)
		intern(r)
	}
	for i, p := range parts {
		key := uint64(mt.sym[p.l])<<32 | uint64(mt.sym[p.r])
		if _, dup := mt.pairs[key]; dup {
			continue // the first occurrence keeps its rank, as in llama.cpp
		}
		res, ok := mt.sym[p.l+p.r]
		if !ok {
			res = -1
		}
		mt.pairs[key] = mergeRule{rank: int32(i), result: res}
	}
	return mt, nil
}

// encodeBPE pre-tokenizes one text fragment and runs BPE on each word.
func (t *Tokenizer) encodeBPE(text string, out []int32, st *encodeState) []int32 {
	st.cps = decodeCodePoints(text, st.cps)
	cps := st.cps
	pieces := t.pre.split(cps, &st.split)
	pos := 0
	for _, n := range pieces {
		w := st.word[:0]
		for _, cp := range cps[pos : pos+n] {
			var u [4]byte
			w = appendByteLevel(w, appendCodePoint(u[:0], cp))
		}
		pos += n
		st.word = w
		out = t.bpeWord(string(w), out, st)
	}
	return out
}

// bpeWord merges one byte-level word: repeatedly apply the lowest-ranked
// merge among adjacent pairs (leftmost on ties), then map the pieces to ids.
func (t *Tokenizer) bpeWord(w string, out []int32, st *encodeState) []int32 {
	if t.ignoreMerges {
		if id, ok := t.toID[w]; ok {
			return append(out, id)
		}
	}
	syms := splitSymbols(w, st.syms)
	mt := t.merges
	for i := range syms {
		if id, ok := mt.sym[w[syms[i].start:syms[i].start+syms[i].n]]; ok {
			syms[i].sym = id
		}
	}
	h := &st.heap
	h.items, h.spm = h.items[:0], false
	try := func(l, r int32) {
		if l < 0 || r < 0 {
			return
		}
		a, b := &syms[l], &syms[r]
		if a.sym < 0 || b.sym < 0 {
			return
		}
		rule, ok := mt.pairs[uint64(a.sym)<<32|uint64(b.sym)]
		if !ok {
			return
		}
		h.push(bigram{rank: rule.rank, left: l, right: r, size: a.n + b.n, result: rule.result})
	}
	for i := 1; i < len(syms); i++ {
		try(int32(i-1), int32(i))
	}
	for len(h.items) > 0 {
		bg := h.pop()
		l, r := &syms[bg.left], &syms[bg.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != bg.size {
			continue
		}
		l.n += r.n
		l.sym = bg.result
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bg.left
		}
		try(l.prev, bg.left)
		try(bg.left, l.next)
	}
	for i := int32(0); i != -1 && len(syms) > 0; i = syms[i].next {
		sy := syms[i]
		piece := w[sy.start : sy.start+sy.n]
		if id, ok := t.toID[piece]; ok {
			out = append(out, id)
			continue
		}
		// Not a token: llama.cpp looks each byte up as a one-byte token
		// text and drops bytes that are not tokens.
		for k := 0; k < len(piece); k++ {
			if id, ok := t.toID[piece[k:k+1]]; ok {
				out = append(out, id)
			}
		}
	}
	st.syms = syms
	return out
}
