package grammar

import (
	"bytes"
	"fmt"
	"sort"
	"sync"
)

// Vocab is a model's vocabulary arranged for masking: the token byte
// strings sorted into a trie, so that one walk of the trie with the
// automaton decides every token sharing a prefix at once. Build it once per
// model and share it; it is immutable.
//
// Tokens are numbered twice: by id (the model's numbering) and by rank
// (their position in byte order). Masks are bit sets over ranks, where the
// tokens below one trie node form a contiguous run.
type Vocab struct {
	size   int     // number of token ids
	eog    []int32 // end-of-generation ids
	isEOG  map[int32]bool
	pieces [][]byte
	rankID []int32 // rank -> id
	// maxPiece is the longest maskable piece in bytes: no token adds more
	// characters to a string.
	maxPiece int
	// unranked are the ids never allowed by a mask bit: empty pieces and
	// end-of-generation tokens.
	unranked []int32
	words    int // uint64 words of a rank bit set

	// Trie nodes in preorder; node 0 is the root (the empty prefix).
	nodes  []tnode
	edges  []tedge
	nStart []int32 // ranks [nStart, nEnd) are the tokens at and below a node
	nEnd   []int32
	rootAt [256]int32 // root child for each first byte, -1 if none

	// Mask entries of lexical automata, shared by all grammars.
	lexMu    sync.Mutex
	lexCache map[lexKey]*entry
	lexBytes int
}

// tnode is a trie node: the tokens ending at it are ranks [lo, hi), its
// children are edges [e0, e1), in byte order.
type tnode struct {
	lo, hi int32
	e0, e1 int32
}

type tedge struct {
	child int32
	b     byte
}

// NewVocab prepares a vocabulary. pieces[id] is the text token id stands
// for, as raw bytes (SentencePiece's U+2581 already turned into a space,
// byte tokens <0xXX> into their byte, byte-level BPE characters mapped back
// to bytes). A token whose piece is empty (nil) is never allowed: give
// control, unused and other special tokens an empty piece, so that a
// constrained sequence cannot emit them. eog lists the end-of-generation
// tokens, allowed exactly when a complete value has been produced; their
// pieces are ignored.
func NewVocab(pieces [][]byte, eog []int32) *Vocab {
	v := &Vocab{size: len(pieces), pieces: pieces, isEOG: map[int32]bool{}, lexCache: map[lexKey]*entry{}}
	for _, id := range eog {
		if id >= 0 && int(id) < len(pieces) && !v.isEOG[id] {
			v.isEOG[id] = true
			v.eog = append(v.eog, id)
		}
	}
	for id, p := range pieces {
		if len(p) > 0 && !v.isEOG[int32(id)] {
			v.rankID = append(v.rankID, int32(id))
			v.maxPiece = max(v.maxPiece, len(p))
		} else {
			v.unranked = append(v.unranked, int32(id))
		}
	}
	sort.SliceStable(v.rankID, func(i, j int) bool {
		return bytes.Compare(pieces[v.rankID[i]], pieces[v.rankID[j]]) < 0
	})
	v.words = (len(v.rankID) + 63) / 64

	var nByte []byte
	var nChild, nSib, nLo, nHi []int32
	newNode := func(b byte) int32 {
		nByte = append(nByte, b)
		nChild = append(nChild, -1)
		nSib = append(nSib, -1)
		nLo = append(nLo, 0)
		nHi = append(nHi, 0)
		return int32(len(nByte) - 1)
	}
	newNode(0)
	last := []int32{-1} // last child of each node, grown with the node arrays
	path := []int32{0}
	var prev []byte
	for rank, id := range v.rankID {
		p := pieces[id]
		l := 0
		for l < len(p) && l < len(prev) && p[l] == prev[l] {
			l++
		}
		path = path[:l+1]
		for d := l; d < len(p); d++ {
			parent := path[d]
			n := newNode(p[d])
			last = append(last, -1)
			if last[parent] < 0 {
				nChild[parent] = n
			} else {
				nSib[last[parent]] = n
			}
			last[parent] = n
			path = append(path, n)
		}
		n := path[len(p)]
		if nHi[n] == nLo[n] {
			nLo[n] = int32(rank)
		}
		nHi[n] = int32(rank + 1)
		prev = p
	}
	count := len(nByte)
	v.nStart = make([]int32, count)
	v.nEnd = make([]int32, count)
	for n := count - 1; n >= 0; n-- {
		if nHi[n] > nLo[n] {
			v.nStart[n] = nLo[n]
		} else if c := nChild[n]; c >= 0 {
			v.nStart[n] = v.nStart[c]
		}
		if l := last[n]; l >= 0 {
			v.nEnd[n] = v.nEnd[l]
		} else {
			v.nEnd[n] = nHi[n]
		}
	}
	for i := range v.rootAt {
		v.rootAt[i] = -1
	}
	v.nodes = make([]tnode, count)
	v.edges = make([]tedge, 0, count)
	for n := 0; n < count; n++ {
		t := &v.nodes[n]
		t.lo, t.hi = nLo[n], nHi[n]
		t.e0 = int32(len(v.edges))
		for c := nChild[n]; c >= 0; c = nSib[c] {
			v.edges = append(v.edges, tedge{c, nByte[c]})
			if n == 0 {
				v.rootAt[nByte[c]] = c
			}
		}
		t.e1 = int32(len(v.edges))
	}
	return v
}

// Size returns the number of token ids.
func (v *Vocab) Size() int { return v.size }

// EOG returns the end-of-generation ids.
func (v *Vocab) EOG() []int32 { return append([]int32(nil), v.eog...) }

func (v *Vocab) String() string {
	return fmt.Sprintf("grammar.Vocab(%d tokens, %d maskable, %d trie nodes)", v.size, len(v.rankID), len(v.nodes))
}

// child returns the child of trie node n along byte c, or -1.
func (v *Vocab) child(n int32, c byte) int32 {
	if n == 0 {
		return v.rootAt[c]
	}
	t := v.nodes[n]
	for _, e := range v.edges[t.e0:t.e1] {
		if e.b == c {
			return e.child
		}
		if e.b > c {
			break
		}
	}
	return -1
}

// setRange sets bits [lo, hi) of a rank bit set.
func setRange(bits []uint64, lo, hi int32) {
	if lo >= hi {
		return
	}
	i, j := lo>>6, (hi-1)>>6
	first := ^uint64(0) << (uint(lo) & 63)
	lastMask := ^uint64(0) >> (63 - (uint(hi-1) & 63))
	if i == j {
		bits[i] |= first & lastMask
		return
	}
	bits[i] |= first
	for k := i + 1; k < j; k++ {
		bits[k] = ^uint64(0)
	}
	bits[j] |= lastMask
}

// orRange ORs bits [lo, hi) of src into dst.
func orRange(dst, src []uint64, lo, hi int32) {
	if lo >= hi {
		return
	}
	i, j := lo>>6, (hi-1)>>6
	first := ^uint64(0) << (uint(lo) & 63)
	lastMask := ^uint64(0) >> (63 - (uint(hi-1) & 63))
	if i == j {
		dst[i] |= src[i] & first & lastMask
		return
	}
	dst[i] |= src[i] & first
	for k := i + 1; k < j; k++ {
		dst[k] |= src[k]
	}
	dst[j] |= src[j] & lastMask
}
