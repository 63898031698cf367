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
	gemm := w.order[t]&tensor.Batch != 0

	// Scores: each K row once, against every query head of the group.
	for j := 0; j < n; j++ {
		r := (first + j) % rows
		off := r*kvDim + kvh*hd
		if m.exact {
			krow := seq.k[layer][off : off+hd]
			for i := 0; i < G; i++ {
				scores[i*n+j] = v.DotF32(q[i*hd:(i+1)*hd], krow)
			}
		} else {
			krow := seq.k16[layer][off : off+hd]
			for i := 0; i < G; i++ {
				scores[i*n+j] = v.DotF16(krow, q[i*hd:(i+1)*hd], gemm)
			}
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
		if m.exact {
			sum := v.ExpSub(row, v.Max(row))
			v.Scale(row, float32(1/sum))
		} else {
			sum := v.SoftmaxExp(row, v.Max(row))
			v.Scale(row, float32(1/sum))
			v.RoundF16(row)
		}
	}

	out := at.out[(t*c.NHead+kvh*G)*hdv : (t*c.NHead+(kvh+1)*G)*hdv]
	if m.exact {
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
		return
	}

	// The fast mode's weighted sum follows ggml's F16 product of the
	// probabilities with each column of V: position p feeds accumulator lane
	// p mod 8 (tinyBLAS, several rows) or p mod 32 (ggml_vec_dot_f16, one
	// row: four eight-lane accumulators), reduced at the end as ggml does.
	L := 32
	if gemm {
		L = 8
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
			v.MadF16(acc[a:a+hdv], scores[i*n+j], vrow)
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
