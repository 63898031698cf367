package model

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/internal/tensor"
)

// Batch lists the tokens of one forward pass. Tokens may come from several
// sequences; the tokens of each sequence must be in order, and continue it
// from its current position.
type Batch struct {
	Tokens []int32
	Seqs   []*Sequence
	Logits []bool // whether the pass returns the logits after this token
}

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	b.Tokens, b.Seqs, b.Logits = b.Tokens[:0], b.Seqs[:0], b.Logits[:0]
}

// Add appends a token of seq; logits asks for the distribution after it.
func (b *Batch) Add(seq *Sequence, token int32, logits bool) {
	b.Tokens = append(b.Tokens, token)
	b.Seqs = append(b.Seqs, seq)
	b.Logits = append(b.Logits, logits)
}

// Len is the number of tokens in the batch.
func (b *Batch) Len() int { return len(b.Tokens) }

// Workspace holds the scratch memory of forward passes of up to batch
// tokens, of which up to maxLogits ask for logits. A workspace serves one
// forward pass at a time. After the first passes have sized its buffers,
// a forward pass allocates nothing.
type Workspace struct {
	m         *Model
	batch     int
	maxLogits int

	pos     []int          // per token: its position in its sequence
	order   []tensor.Order // per row of the current products: ggml's path for it (Batch, Group4)
	rowTok  []int          // last layer: the token of each output row
	x, xn   []float32      // residual stream and its normalised copy, batch×NEmbd
	q       []float32      // batch×NHead*HeadDim
	kb, vb  []float32      // batch×kvDim, batch×vDim
	qkv     []float32      // fused projection output (phi3)
	att     []float32      // batch×NHead*HeadDimV
	gate    []float32      // batch×NFF (fused: batch×2·NFF)
	up      []float32
	rowBuf  [][]float32 // per worker: one dequantized weight row
	scores  [][]float32 // per worker: attention scores of one KV head group
	lanes   [][]float32 // per worker: attention's lane accumulators (fast mode)
	half    []uint16    // one V row as F16, for the transposed cache
	cos     [][]float32 // per RoPE table: batch×RopeDim/2
	sin     [][]float32
	outX    []float32 // maxLogits×NEmbd: final hidden states wanting logits
	logits  []float32 // maxLogits×NVocab
	out     [][]float32
	touched []*Sequence

	// The loop bodies handed to the worker pool, made once so that a
	// forward pass does not allocate closures, and their arguments.
	mm     mmState
	mmFn   func(worker, lo, hi int)
	convFn func(worker, lo, hi int)
	at     attnState
	attnFn func(worker, lo, hi int)
}

// NewWorkspace allocates scratch memory for batches of up to batch tokens
// with up to maxLogits logit rows.
func (m *Model) NewWorkspace(batch, maxLogits int) (*Workspace, error) {
	c := &m.Config
	if batch <= 0 || maxLogits <= 0 {
		return nil, fmt.Errorf("workspace sizes must be positive, got batch %d, logits %d", batch, maxLogits)
	}
	maxLogits = min(maxLogits, batch)
	kvDim, vDim := c.NHeadKV*c.HeadDim, c.NHeadKV*c.HeadDimV
	b := batch
	w := &Workspace{m: m, batch: b, maxLogits: maxLogits}
	w.pos = make([]int, b)
	w.order = make([]tensor.Order, b)
	for i := range w.mm.runs {
		w.mm.runs[i] = make([]colRun, 0, b)
	}
	w.rowTok = make([]int, b)
	w.x = make([]float32, b*c.NEmbd)
	w.xn = make([]float32, b*c.NEmbd)
	w.q = make([]float32, b*c.NHead*c.HeadDim)
	w.kb = make([]float32, b*kvDim)
	w.vb = make([]float32, b*vDim)
	if c.FusedQKV {
		w.qkv = make([]float32, b*(c.NHead*c.HeadDim+kvDim+vDim))
	}
	w.att = make([]float32, b*c.NHead*c.HeadDimV)
	if c.FusedGateUp {
		w.gate = make([]float32, b*2*c.NFF)
	} else {
		w.gate = make([]float32, b*c.NFF)
	}
	w.up = make([]float32, b*c.NFF)
	maxCols := max(c.NEmbd, c.NFF, c.NHead*c.HeadDimV)
	workers := m.pool.Size()
	w.rowBuf = make([][]float32, workers)
	w.scores = make([][]float32, workers)
	w.lanes = make([][]float32, workers)
	for i := range w.lanes {
		w.lanes[i] = make([]float32, 32*c.HeadDimV*(c.NHead/c.NHeadKV))
	}
	for i := range w.rowBuf {
		w.rowBuf[i] = make([]float32, maxCols)
	}
	w.half = make([]uint16, vDim)
	for range m.ropes {
		w.cos = append(w.cos, make([]float32, b*c.RopeDim/2))
		w.sin = append(w.sin, make([]float32, b*c.RopeDim/2))
	}
	w.outX = make([]float32, maxLogits*c.NEmbd)
	w.logits = make([]float32, maxLogits*c.NVocab)
	w.out = make([][]float32, 0, maxLogits)
	w.mmFn = w.mulMatChunks
	w.convFn = w.convertRows
	w.attnFn = w.attentionUnits
	return w, nil
}

// Batch is the most tokens one forward pass of this workspace takes.
func (w *Workspace) Batch() int { return w.batch }

// MaxLogits is the most rows of one pass that may ask for logits.
func (w *Workspace) MaxLogits() int { return w.maxLogits }

// Forward evaluates the batch: it appends each token to its sequence's KV
// cache and returns, in batch order, the logits after each token whose
// Logits flag is set. The returned slices belong to the workspace and are
// overwritten by the next pass.
func (w *Workspace) Forward(b *Batch) ([][]float32, error) {
	m := w.m
	c := &m.Config
	T := len(b.Tokens)
	if T == 0 {
		return nil, fmt.Errorf("empty batch")
	}
	if T > w.batch || len(b.Seqs) != T || len(b.Logits) != T {
		return nil, fmt.Errorf("batch of %d tokens (%d sequences, %d logit flags) does not fit a workspace of %d", T, len(b.Seqs), len(b.Logits), w.batch)
	}
	// Give each token its position, checking everything before touching
	// any cache so a bad batch changes nothing.
	w.touched = w.touched[:0]
	nOut, maxCtx := 0, 0
	var err error
	for t, id := range b.Tokens {
		seq := b.Seqs[t]
		if seq == nil || seq.m != m {
			err = fmt.Errorf("token %d of the batch belongs to no sequence of this model", t)
			break
		}
		if id < 0 || int(id) >= c.NVocab {
			err = fmt.Errorf("token %d (id %d) is outside the vocabulary of %d", t, id, c.NVocab)
			break
		}
		if seq.pending == 0 {
			w.touched = append(w.touched, seq)
		}
		w.pos[t] = seq.pos + seq.pending
		seq.pending++
		if seq.pending > seq.maxBatch || w.pos[t] >= seq.numCtx {
			err = fmt.Errorf("sequence overflow: %d tokens at position %d (context %d, batch %d)", seq.pending, seq.pos, seq.numCtx, seq.maxBatch)
			break
		}
		maxCtx = max(maxCtx, seq.numCtx)
		if b.Logits[t] {
			nOut++
		}
	}
	if err == nil && nOut > w.maxLogits {
		err = fmt.Errorf("batch asks for %d logit rows, the workspace holds %d", nOut, w.maxLogits)
	}
	if err != nil {
		for _, seq := range w.touched {
			seq.pending = 0
		}
		return nil, err
	}
	// ggml multiplies a batch of rows in a different order than a single
	// row (see tensor.Order); each sequence's rows use the order they
	// would have if the sequence were alone.
	for _, seq := range w.touched {
		seq.outRows = 0 // rows seen so far
	}
	for t := range b.Tokens {
		seq := b.Seqs[t]
		w.order[t] = rowOrder(seq.outRows, seq.pending)
		seq.outRows++
	}
	// Score buffers for a whole context (rounded up to 32 positions) of
	// every query head of a group, sized by the longest context once rather
	// than growing per token.
	if need := (maxCtx + 31) &^ 31 * (c.NHead / c.NHeadKV); len(w.scores[0]) < need {
		for i := range w.scores {
			w.scores[i] = make([]float32, need)
		}
	}

	nOut = w.forward(b)

	for _, seq := range w.touched {
		seq.pos += seq.pending
		seq.pending = 0
	}

	// Final norm and output projection of the rows that want logits, which
	// forward left first in w.x.
	E, V := c.NEmbd, c.NVocab
	w.out = w.out[:0]
	for k := 0; k < nOut; k++ {
		w.rmsnorm(w.outX[k*E:(k+1)*E], w.x[k*E:(k+1)*E], m.OutputNorm)
	}
	if nOut > 0 {
		logits := w.logits[:nOut*V]
		w.mulMat(w.outX[:nOut*E], nOut, E, job{logits, m.Output})
		if fc := c.FinalSoftcap; fc != 0 {
			softcapAll(logits, fc)
		}
		for i := 0; i < nOut; i++ {
			w.out = append(w.out, logits[i*V:(i+1)*V])
		}
	}
	return w.out, nil
}

// Hidden returns the final hidden state (after the output norm) of the
// i-th row that asked for logits in the last Forward, in batch order: the
// per-token output that pooled embeddings are made of. It belongs to the
// workspace and is overwritten by the next pass.
func (w *Workspace) Hidden(i int) []float32 {
	E := w.m.NEmbd
	return w.outX[i*E : (i+1)*E]
}

// forward runs the batch through every layer. As llama.cpp does, the last
// layer's feed-forward block runs only on the tokens that want logits:
// forward leaves their final residual rows first in w.x, in batch order,
// with w.gemm set for the output projection, and returns their number.
func (w *Workspace) forward(b *Batch) int {
	m := w.m
	c := &m.Config
	T := len(b.Tokens)
	E := c.NEmbd
	qDim, kvDim, vDim := c.NHead*c.HeadDim, c.NHeadKV*c.HeadDim, c.NHeadKV*c.HeadDimV
	x := w.x[:T*E]
	for t, id := range b.Tokens {
		row := x[t*E : (t+1)*E]
		copy(row, m.TokenEmbd.Row(int(id), w.rowBuf[0]))
		if c.EmbedScale != 0 {
			for i := range row {
				row[i] *= c.EmbedScale
			}
		}
	}
	for i := range m.ropes {
		w.ropeTables(i, T)
	}

	for li := range m.Layers {
		l := &m.Layers[li]
		xn := w.xn[:T*E]
		for t := 0; t < T; t++ {
			w.rmsnorm(xn[t*E:(t+1)*E], x[t*E:(t+1)*E], l.AttnNorm)
		}
		q, k, v := w.q[:T*qDim], w.kb[:T*kvDim], w.vb[:T*vDim]
		if l.Wqkv != nil {
			all := qDim + kvDim + vDim
			qkv := w.qkv[:T*all]
			w.mulMat(xn, T, E, job{qkv, l.Wqkv})
			for t := 0; t < T; t++ {
				row := qkv[t*all : (t+1)*all]
				copy(q[t*qDim:(t+1)*qDim], row[:qDim])
				copy(k[t*kvDim:(t+1)*kvDim], row[qDim:qDim+kvDim])
				copy(v[t*vDim:(t+1)*vDim], row[qDim+kvDim:])
			}
		} else {
			w.mulMat(xn, T, E, job{q, l.Wq}, job{k, l.Wk}, job{v, l.Wv})
		}
		if l.Bq != nil {
			addBias(q, l.Bq)
			addBias(k, l.Bk)
			addBias(v, l.Bv)
		}
		if l.QNorm != nil {
			for h := 0; h < T*c.NHead; h++ {
				hq := q[h*c.HeadDim : (h+1)*c.HeadDim]
				w.rmsnorm(hq, hq, l.QNorm)
			}
			for h := 0; h < T*c.NHeadKV; h++ {
				hk := k[h*c.HeadDim : (h+1)*c.HeadDim]
				w.rmsnorm(hk, hk, l.KNorm)
			}
		}
		w.rope(q, c.NHead, T, l.Rope)
		w.rope(k, c.NHeadKV, T, l.Rope)
		if c.QPrescale {
			m.vec.Scale(q, c.AttnScale)
		}
		w.storeKV(b, li, k, v)

		att := w.att[:T*c.NHead*c.HeadDimV]
		w.attention(att, q, b, li)
		w.mulMat(att, T, c.NHead*c.HeadDimV, job{xn, l.Wo})
		w.addBranch(x, xn, l.PostAttnNorm, T)
		if li == len(m.Layers)-1 {
			T = w.selectOutputRows(b)
			if T == 0 {
				return 0
			}
			x, xn = w.x[:T*E], w.xn[:T*E]
		}

		for t := 0; t < T; t++ {
			w.rmsnorm(xn[t*E:(t+1)*E], x[t*E:(t+1)*E], l.FFNNorm)
		}
		F := c.NFF
		up := w.up[:T*F]
		if l.Wgate == nil {
			both := w.gate[:T*2*F]
			w.mulMat(xn, T, E, job{both, l.Wup})
			for t := 0; t < T; t++ {
				w.gatedAct(up[t*F:(t+1)*F], both[t*2*F:t*2*F+F], both[t*2*F+F:(t+1)*2*F])
			}
		} else {
			gate := w.gate[:T*F]
			w.mulMat(xn, T, E, job{gate, l.Wgate}, job{up, l.Wup})
			for t := 0; t < T; t++ {
				w.gatedAct(up[t*F:(t+1)*F], gate[t*F:(t+1)*F], up[t*F:(t+1)*F])
			}
		}
		w.mulMat(up, T, F, job{xn, l.Wdown})
		w.addBranch(x, xn, l.PostFFNNorm, T)
	}
	return T
}

// selectOutputRows moves the residual rows of the tokens that want logits
// to the front of w.x (rows only move down, so in place), sets the product
// order of each for the remaining products, and returns their number.
func (w *Workspace) selectOutputRows(b *Batch) int {
	E := w.m.NEmbd
	n := 0
	for t, want := range b.Logits {
		if want {
			if n != t {
				copy(w.x[n*E:(n+1)*E], w.x[t*E:(t+1)*E])
			}
			w.rowTok[n] = t
			n++
		}
	}
	// Rows per sequence among the output rows, then each row's order.
	for _, seq := range w.touched {
		seq.outRows, seq.outSeen = 0, 0
	}
	for k := 0; k < n; k++ {
		b.Seqs[w.rowTok[k]].outRows++
	}
	for k := 0; k < n; k++ {
		seq := b.Seqs[w.rowTok[k]]
		w.order[k] = rowOrder(seq.outSeen, seq.outRows)
		seq.outSeen++
	}
	return n
}

// rowOrder is ggml's product path for row i of count rows of one sequence:
// a batch path from two rows on, and within a batch of more than three,
// the four-row groups of its interleaved kernels for all but the last
// count%4 rows.
func rowOrder(i, count int) tensor.Order {
	var o tensor.Order
	if count >= 2 {
		o |= tensor.Batch
	}
	if count > 3 && i < count-count%4 {
		o |= tensor.Group4
	}
	return o
}

// storeKV writes the batch's keys and values into each token's sequence
// cache: as float32 in the exact mode, rounded to F16 in the fast mode.
func (w *Workspace) storeKV(b *Batch, li int, k, v []float32) {
	c := &w.m.Config
	kvDim, vDim := c.NHeadKV*c.HeadDim, c.NHeadKV*c.HeadDimV
	for t := range b.Tokens {
		seq := b.Seqs[t]
		r := w.pos[t] % seq.kvRows[li]
		kt, vt := k[t*kvDim:(t+1)*kvDim], v[t*vDim:(t+1)*vDim]
		switch {
		case w.m.exact:
			copy(seq.k[li][r*kvDim:(r+1)*kvDim], kt)
			copy(seq.v[li][r*vDim:(r+1)*vDim], vt)
		case seq.vT[li]:
			w.m.vec.F32ToF16(seq.k16[li][r*kvDim:(r+1)*kvDim], kt)
			h := w.half[:vDim]
			w.m.vec.F32ToF16(h, vt)
			v16 := seq.v16[li]
			for d, x := range h {
				v16[d*seq.vStride+r] = x
			}
		default:
			w.m.vec.F32ToF16(seq.k16[li][r*kvDim:(r+1)*kvDim], kt)
			w.m.vec.F32ToF16(seq.v16[li][r*vDim:(r+1)*vDim], vt)
		}
	}
}

// rmsnorm writes x/sqrt(mean(x²)+eps)·w into dst (which may be x) as ggml
// does: float32 squares summed in float64, the scale 1/sqrtf(mean+eps) in
// float32, then (x·scale)·w.
func (w *Workspace) rmsnorm(dst, x []float32, weight Vector) {
	v := w.m.vec
	mean := float32(v.SumSq(x) / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+w.m.NormEps)))
	v.ScaleMul(dst, x, scale, weight)
}

// addBranch adds a branch output to the residual stream, normalising it
// first when the architecture has post-norms.
func (w *Workspace) addBranch(x, branch []float32, postNorm Vector, T int) {
	if postNorm != nil {
		E := w.m.NEmbd
		for t := 0; t < T; t++ {
			row := branch[t*E : (t+1)*E]
			w.rmsnorm(row, row, postNorm)
		}
	}
	w.m.vec.Add(x, branch[:len(x)])
}

// gatedAct sets dst = act(gate)·up for one row (dst may be up): SiLU, or
// GELU in its tanh form, computed exactly in the exact mode and through
// ggml's F16 table in the fast mode. It works a row at a time because
// ggml's vectorised SiLU does (its last partial vector goes through expf).
func (w *Workspace) gatedAct(dst, gate, up []float32) {
	m := w.m
	switch {
	case !m.GELU && !m.exact:
		m.vec.SiluMul(dst, gate, up)
	case !m.GELU:
		for i, g := range gate {
			dst[i] = silu(g) * up[i]
		}
	case m.exact:
		for i, g := range gate {
			dst[i] = gelu(g) * up[i]
		}
	default:
		for i, g := range gate {
			dst[i] = geluF16(m.gelu, g) * up[i]
		}
	}
}

func addBias(x []float32, b Vector) {
	n := len(b)
	for i := range x {
		x[i] += b[i%n]
	}
}
