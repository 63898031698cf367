package model

import "github.com/golem-llm/golem/internal/tensor"

// attnState holds the arguments of the attention loop under way.
type attnState struct {
	b     *Batch
	q     []float32
	out   []float32
	layer int
}

// attention computes, for each token of the batch and each query head,
// softmax(scale·q·K) over the positions of the token's own sequence that it
// sees (all up to its own, or the last Window of them), times V. Query head
// h reads KV head h/(NHead/NHeadKV).
//
// The work is split by (token, KV head): the query heads sharing a KV head
// (grouped-query attention) are done together, so each cached K and V row
// is read once for the whole group. Scores are computed for all visible
// positions, then the softmax, then the weighted sum of V rows, in one pass
// over the cache per step, without materialising a score matrix across
// heads or tokens.
//
// In the fast mode the cache holds F16 and the numerics are those of
// ggml's attention without flash attention (llama.cpp's default, and the
// reference traces' setting): Q rounded to F16 for Q·K, scores and softmax
// in float32, the probabilities rounded to F16 for the product with V.
func (w *Workspace) attention(out, q []float32, b *Batch, layer int) {
	c := &w.m.Config
	if !w.m.exact {
		w.m.vec.RoundF16(q)
	}
	w.at = attnState{b: b, q: q, out: out, layer: layer}
	w.m.pool.For(len(b.Tokens)*c.NHeadKV, 1, w.attnFn)
	w.at = attnState{}
}

// attentionUnits does units [lo, hi) of the attention under way; unit u is
// token u/NHeadKV with KV head u%NHeadKV.
func (w *Workspace) attentionUnits(worker, lo, hi int) {
	nkv := w.m.NHeadKV
	for u := lo; u < hi; u++ {
		w.attendGroup(worker, u/nkv, u%nkv)
	}
}

// attendGroup computes the attention outputs of token t for the query heads
// of KV head kvh.
func (w *Workspace) attendGroup(worker, t, kvh int) {
	m := w.m
	if m.exact {
		w.attendGroupExact(worker, t, kvh)
		return
	}
	c := &m.Config
	v := m.vec
	at := &w.at
	layer := at.layer
	seq := at.b.Seqs[t]
	hd, hdv := c.HeadDim, c.HeadDimV
	kvDim, vDim := c.NHeadKV*hd, c.NHeadKV*hdv
	G := c.NHead / c.NHeadKV
	rows := seq.kvRows[layer]
	last := w.pos[t]
	first := 0
	if win := m.Layers[layer].Window; win > 0 {
		first = max(0, last-win+1)
	}
	n := last - first + 1
	gemm := w.order[t]&tensor.Batch != 0
	var order tensor.Order
	if gemm {
		order = tensor.Batch
	}
	// Each head's scores are a row of stride ns: n positions, then zeros up
	// to a multiple of 32 (the probabilities of positions no token sees).
	ns := (n + 31) &^ 31
	scores := w.scores[worker][:G*ns]
	q := at.q[(t*c.NHead+kvh*G)*hd : (t*c.NHead+(kvh+1)*G)*hd]
	qb := tensor.BytesOfF32(q)

	// Scores: the cached K rows (F16) times the group's query heads, as one
	// F16 matrix product per contiguous run of cache rows.
	k16 := seq.k16[layer]
	for j := 0; j < n; {
		r := (first + j) % rows
		run := min(n-j, rows-r)
		kb := tensor.BytesOfU16(k16[r*kvDim+kvh*hd:])
		m.f16.MulMat(hd, kb, 2*kvDim, run, qb, 4*hd, G, scores[j:], ns, order)
		j += run
	}
	if capv := c.AttnSoftcap; capv != 0 {
		for i := 0; i < G; i++ {
			softcapAll(scores[i*ns:i*ns+n], capv)
		}
	}
	scale := c.AttnScale
	if c.QPrescale {
		scale = 1
	}
	for i := 0; i < G; i++ {
		row := scores[i*ns : i*ns+n]
		if scale != 1 {
			v.Scale(row, scale)
		}
		sum := v.SoftmaxExp(row, v.Max(row))
		v.Scale(row, float32(1/sum))
		v.RoundF16(row)
		clear(scores[i*ns+n : (i+1)*ns])
	}

	// The weighted sum follows ggml's F16 product of the probabilities with
	// each column of V: position p feeds accumulator lane p mod 8 (tinyBLAS,
	// several rows) or p mod 32 (ggml_vec_dot_f16, one row: four eight-lane
	// accumulators), reduced at the end as ggml does.
	out := at.out[(t*c.NHead+kvh*G)*hdv : (t*c.NHead+(kvh+1)*G)*hdv]
	L := 32
	if gemm {
		L = 8
	}
	if seq.vT[layer] {
		// Transposed V: one F16 product of the V rows of this head, over
		// positions 0…n rounded up to L, with the probabilities.
		vb := tensor.BytesOfU16(seq.v16[layer][kvh*hdv*seq.vStride:])
		m.f16.MulMat((n+L-1)&^(L-1), vb, 2*seq.vStride, hdv, tensor.BytesOfF32(scores), 4*ns, G, out, hdv, order)
		return
	}
	acc := w.lanes[worker][:G*L*hdv]
	clear(acc)
	for j := 0; j < n; j++ {
		p := first + j
		off := (p%rows)*vDim + kvh*hdv
		vrow := seq.v16[layer][off : off+hdv]
		lane := p % L
		for i := 0; i < G; i++ {
			a := (i*L + lane) * hdv
			v.MadF16(acc[a:a+hdv], scores[i*ns+j], vrow)
		}
	}
	for i := 0; i < G; i++ {
		o := out[i*hdv : (i+1)*hdv]
		base := acc[i*L*hdv : (i+1)*L*hdv]
		for d := range o {
			if gemm {
				var l8 [8]float32
				for l := range l8 {
					l8[l] = base[l*hdv+d]
				}
				o[d] = tensor.HSum8(&l8)
			} else {
				var s [4][8]float32
				for a := range s {
					for l := range s[a] {
						s[a][l] = base[(8*a+l)*hdv+d]
					}
				}
				o[d] = tensor.Reduce4x8(&s)
			}
		}
	}
}

// attendGroupExact is attendGroup in the exact mode: float32 cache, dot
// products and weighted sums in plain float32.
func (w *Workspace) attendGroupExact(worker, t, kvh int) {
	m := w.m
	c := &m.Config
	v := m.vec
	at := &w.at
	layer := at.layer
	seq := at.b.Seqs[t]
	hd, hdv := c.HeadDim, c.HeadDimV
	kvDim, vDim := c.NHeadKV*hd, c.NHeadKV*hdv
	G := c.NHead / c.NHeadKV
	rows := seq.kvRows[layer]
	last := w.pos[t]
	first := 0
	if win := m.Layers[layer].Window; win > 0 {
		first = max(0, last-win+1)
	}
	n := last - first + 1
	scores := w.scores[worker][:G*n]
	q := at.q[(t*c.NHead+kvh*G)*hd : (t*c.NHead+(kvh+1)*G)*hd]
	for j := 0; j < n; j++ {
		r := (first + j) % rows
		off := r*kvDim + kvh*hd
		krow := seq.k[layer][off : off+hd]
		for i := 0; i < G; i++ {
			scores[i*n+j] = v.DotF32(q[i*hd:(i+1)*hd], krow)
		}
	}
	if capv := c.AttnSoftcap; capv != 0 {
		softcapAll(scores, capv)
	}
	scale := c.AttnScale
	if c.QPrescale {
		scale = 1
	}
	for i := 0; i < G; i++ {
		row := scores[i*n : (i+1)*n]
		if scale != 1 {
			v.Scale(row, scale)
		}
		sum := v.ExpSub(row, v.Max(row))
		v.Scale(row, float32(1/sum))
	}
	out := at.out[(t*c.NHead+kvh*G)*hdv : (t*c.NHead+(kvh+1)*G)*hdv]
	// Weighted sum of V rows, each read once for the group.
	clear(out)
	for j := 0; j < n; j++ {
		r := (first + j) % rows
		off := r*vDim + kvh*hdv
		vrow := seq.v[layer][off : off+hdv]
		for i := 0; i < G; i++ {
			v.AxpyF32(out[i*hdv:(i+1)*hdv], scores[i*n+j], vrow)
		}
	}
}
