package grammar

import (
	"bytes"
	"fmt"
	"sort"
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
	// unranked are the ids never allowed by a mask bit: empty pieces and
	// end-of-generation tokens.
	unranked []int32
	words    int // uint64 words of a rank bit set

	// Trie nodes in preorder; node 0 is the root (the empty prefix).
	nByte  []byte
	nChild []int32 // first child, -1 if none
	nSib   []int32 // next sibling, -1 if none
	nLo    []int32 // ranks [nLo, nHi) are the tokens ending here
	nHi    []int32
	nStart []int32 // ranks [nStart, nEnd) are the tokens below (and at) this node
	nEnd   []int32
	rootAt [256]int32 // root child for each first byte, -1 if none
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
	v := &Vocab{size: len(pieces), pieces: pieces, isEOG: map[int32]bool{}}
	for _, id := range eog {
		if id >= 0 && int(id) < len(pieces) && !v.isEOG[id] {
			v.isEOG[id] = true
			v.eog = append(v.eog, id)
		}
	}
	for id, p := range pieces {
		if len(p) > 0 && !v.isEOG[int32(id)] {
			v.rankID = append(v.rankID, int32(id))
		} else {
			v.unranked = append(v.unranked, int32(id))
		}
	}
	sort.SliceStable(v.rankID, func(i, j int) bool {
		return bytes.Compare(pieces[v.rankID[i]], pieces[v.rankID[j]]) < 0
	})
	v.words = (len(v.rankID) + 63) / 64

	newNode := func(b byte) int32 {
		v.nByte = append(v.nByte, b)
		v.nChild = append(v.nChild, -1)
		v.nSib = append(v.nSib, -1)
		v.nLo = append(v.nLo, 0)
		v.nHi = append(v.nHi, 0)
		return int32(len(v.nByte) - 1)
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
				v.nChild[parent] = n
			} else {
				v.nSib[last[parent]] = n
			}
			last[parent] = n
			path = append(path, n)
		}
		n := path[len(p)]
		if v.nHi[n] == v.nLo[n] {
			v.nLo[n] = int32(rank)
		}
		v.nHi[n] = int32(rank + 1)
		prev = p
	}
	nodes := len(v.nByte)
	v.nStart = make([]int32, nodes)
	v.nEnd = make([]int32, nodes)
	for n := nodes - 1; n >= 0; n-- {
		if v.nHi[n] > v.nLo[n] {
			v.nStart[n] = v.nLo[n]
		} else if c := v.nChild[n]; c >= 0 {
			v.nStart[n] = v.nStart[c]
		}
		if l := last[n]; l >= 0 {
			v.nEnd[n] = v.nEnd[l]
		} else {
			v.nEnd[n] = v.nHi[n]
		}
	}
	for i := range v.rootAt {
		v.rootAt[i] = -1
	}
	for c := v.nChild[0]; c >= 0; c = v.nSib[c] {
		v.rootAt[v.nByte[c]] = c
	}
	return v
}

// Size returns the number of token ids.
func (v *Vocab) Size() int { return v.size }

// EOG returns the end-of-generation ids.
func (v *Vocab) EOG() []int32 { return append([]int32(nil), v.eog...) }

func (v *Vocab) String() string {
	return fmt.Sprintf("grammar.Vocab(%d tokens, %d maskable, %d trie nodes)", v.size, len(v.rankID), len(v.nByte))
}

// child returns the child of trie node n along byte c, or -1.
func (v *Vocab) child(n int32, c byte) int32 {
	if n == 0 {
		return v.rootAt[c]
	}
	for k := v.nChild[n]; k >= 0; k = v.nSib[k] {
		if v.nByte[k] == c {
			return k
		}
		if v.nByte[k] > c {
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
