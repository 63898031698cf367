package model

import (
	"fmt"
	"math"
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
// forward pass at a time.
type Workspace struct {
	m         *Model
	batch     int
	maxLogits int

	pos     []int     // per token: its position in its sequence
	x, xn   []float32 // residual stream and its normalised copy, batch×NEmbd
	q       []float32 // batch×NHead*HeadDim
	kb, vb  []float32 // batch×kvDim, batch×vDim
	qkv     []float32 // fused projection output (phi3)
	att     []float32 // batch×NHead*HeadDimV
	gate    []float32 // batch×NFF (fused: batch×2·NFF)
	up      []float32
	rowBuf  [][]float32 // per worker: one dequantized weight row
	scores  [][]float32 // per worker: attention scores over a context
	cos     [][]float32 // per RoPE table: batch×RopeDim/2
	sin     [][]float32
	outX    []float32 // maxLogits×NEmbd: final hidden states wanting logits
	logits  []float32 // maxLogits×NVocab
	out     [][]float32
	touched []*Sequence
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
	for i := range w.rowBuf {
		w.rowBuf[i] = make([]float32, maxCols)
	}
	for range m.ropes {
		w.cos = append(w.cos, make([]float32, b*c.RopeDim/2))
		w.sin = append(w.sin, make([]float32, b*c.RopeDim/2))
	}
	w.outX = make([]float32, maxLogits*c.NEmbd)
	w.logits = make([]float32, maxLogits*c.NVocab)
	w.out = make([][]float32, 0, maxLogits)
	return w, nil
}

// Batch is the most tokens one forward pass of this workspace takes.
func (w *Workspace) Batch() int { return w.batch }

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
	nOut, maxSeen := 0, 0
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
		maxSeen = max(maxSeen, w.pos[t]+1)
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
	for i := range w.scores {
		if len(w.scores[i]) < maxSeen {
			w.scores[i] = make([]float32, maxSeen)
		}
	}

	w.forward(b)

	for _, seq := range w.touched {
		seq.pos += seq.pending
		seq.pending = 0
	}

	// Final norm and output projection for the rows that want logits.
	E, V := c.NEmbd, c.NVocab
	w.out = w.out[:0]
	k := 0
	for t := range b.Tokens {
		if b.Logits[t] {
			row := w.outX[k*E : (k+1)*E]
			w.rmsnorm(row, w.x[t*E:(t+1)*E], m.OutputNorm)
			k++
		}
	}
	if nOut > 0 {
		logits := w.logits[:nOut*V]
		w.matmul(logits, m.Output, w.outX[:nOut*E], nOut)
		if fc := c.FinalSoftcap; fc != 0 {
			for i, v := range logits {
				logits[i] = softcap(v, fc)
			}
		}
		for i := 0; i < nOut; i++ {
			w.out = append(w.out, logits[i*V:(i+1)*V])
		}
	}
	return w.out, nil
}

// forward runs the batch through every layer, leaving the final residual
// stream in w.x.
func (w *Workspace) forward(b *Batch) {
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
			w.matmul(qkv, l.Wqkv, xn, T)
			for t := 0; t < T; t++ {
				row := qkv[t*all : (t+1)*all]
				copy(q[t*qDim:(t+1)*qDim], row[:qDim])
				copy(k[t*kvDim:(t+1)*kvDim], row[qDim:qDim+kvDim])
				copy(v[t*vDim:(t+1)*vDim], row[qDim+kvDim:])
			}
		} else {
			w.matmul(q, l.Wq, xn, T)
			w.matmul(k, l.Wk, xn, T)
			w.matmul(v, l.Wv, xn, T)
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
		for t := 0; t < T; t++ {
			seq := b.Seqs[t]
			r := w.pos[t] % seq.kvRows[li]
			copy(seq.k[li][r*kvDim:(r+1)*kvDim], k[t*kvDim:(t+1)*kvDim])
			copy(seq.v[li][r*vDim:(r+1)*vDim], v[t*vDim:(t+1)*vDim])
		}

		att := w.att[:T*c.NHead*c.HeadDimV]
		w.attention(att, q, b, li)
		w.matmul(xn, l.Wo, att, T)
		w.addBranch(x, xn, l.PostAttnNorm, T)

		for t := 0; t < T; t++ {
			w.rmsnorm(xn[t*E:(t+1)*E], x[t*E:(t+1)*E], l.FFNNorm)
		}
		F := c.NFF
		up := w.up[:T*F]
		if l.Wgate == nil {
			both := w.gate[:T*2*F]
			w.matmul(both, l.Wup, xn, T)
			for t := 0; t < T; t++ {
				g, u := both[t*2*F:t*2*F+F], both[t*2*F+F:(t+1)*2*F]
				dst := up[t*F : (t+1)*F]
				for i := range dst {
					dst[i] = w.act(g[i]) * u[i]
				}
			}
		} else {
			gate := w.gate[:T*F]
			w.matmul(gate, l.Wgate, xn, T)
			w.matmul(up, l.Wup, xn, T)
			for i := range up {
				up[i] = w.act(gate[i]) * up[i]
			}
		}
		w.matmul(xn, l.Wdown, up, T)
		w.addBranch(x, xn, l.PostFFNNorm, T)
	}
}

// matmul computes dst[t][r] = W[r]·x[t] for T input rows, splitting the
// weight rows over the worker pool so each row is read once per pass.
func (w *Workspace) matmul(dst []float32, m *Matrix, x []float32, T int) {
	w.m.pool.For(m.Rows, 16, func(worker, lo, hi int) {
		buf := w.rowBuf[worker]
		for r := lo; r < hi; r++ {
			row := m.Row(r, buf)
			for t := 0; t < T; t++ {
				dst[t*m.Rows+r] = dot(row, x[t*m.Cols:(t+1)*m.Cols])
			}
		}
	})
}

// rmsnorm writes x/sqrt(mean(x²)+eps)·w into dst (which may be x), with
// the sum of squares in float64 as ggml does.
func (w *Workspace) rmsnorm(dst, x []float32, weight Vector) {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	mean := float32(sum / float64(len(x)))
	scale := float32(1 / math.Sqrt(float64(mean+w.m.NormEps)))
	for i, v := range x {
		dst[i] = v * scale * weight[i]
	}
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
	for i := range x {
		x[i] += branch[i]
	}
}

// act is the FFN gate activation.
func (w *Workspace) act(x float32) float32 {
	if w.m.GELU {
		return gelu(x)
	}
	return silu(x)
}

// gelu is the tanh approximation of GELU, computed in float32 precision.
func gelu(x float32) float32 {
	const sqrt2OverPi = 0.7978845608028654
	x64 := float64(x)
	return float32(0.5 * x64 * (1 + math.Tanh(sqrt2OverPi*x64*(1+0.044715*x64*x64))))
}

func silu(x float32) float32 {
	return x / (1 + float32(math.Exp(float64(-x))))
}

func softcap(v, c float32) float32 {
	return c * float32(math.Tanh(float64(v/c)))
}

func addBias(x []float32, b Vector) {
	n := len(b)
	for i := range x {
		x[i] += b[i%n]
	}
}

// ropeTables fills cos/sin of RoPE table set for the positions of the T
// tokens of this batch.
func (w *Workspace) ropeTables(set, T int) {
	c := &w.m.Config
	r := &w.m.ropes[set]
	half := c.RopeDim / 2
	var corr0, corr1, mscale float64 = 0, 0, 1
	if r.yarn {
		corr0, corr1 = yarnCorrDims(c.RopeDim, c.YarnOrigCtx, c.RopeBase)
		mscale = c.YarnAttnFactor * (1 + 0.1*math.Log(1/r.freqScale))
	}
	cs, sn := w.cos[set], w.sin[set]
	for t := 0; t < T; t++ {
		pos := float64(w.pos[t])
		for i := 0; i < half; i++ {
			extrap := pos * r.invFreq[i]
			theta := extrap * r.freqScale
			if r.yarn {
				ramp := yarnRamp(corr0, corr1, 2*i) * c.YarnExtFactor
				theta = theta*(1-ramp) + extrap*ramp
			}
			cs[t*half+i] = float32(math.Cos(theta) * mscale)
			sn[t*half+i] = float32(math.Sin(theta) * mscale)
		}
	}
}

// yarnCorrDims returns the range of rotated dimensions YaRN blends between
// interpolation and extrapolation (β_fast = 32, β_slow = 1).
func yarnCorrDims(nDims, origCtx int, base float64) (float64, float64) {
	corr := func(nRot float64) float64 {
		return float64(nDims) * math.Log(float64(origCtx)/(nRot*2*math.Pi)) / (2 * math.Log(base))
	}
	lo := math.Max(0, math.Floor(corr(32)))
	hi := math.Min(float64(nDims-1), math.Ceil(corr(1)))
	return lo, hi
}

func yarnRamp(lo, hi float64, i0 int) float64 {
	y := (float64(i0/2) - lo) / math.Max(0.001, hi-lo)
	return 1 - math.Min(1, math.Max(0, y))
}

// rope rotates the first RopeDim elements of each of the nHeads heads of
// the T rows of x, in the architecture's pairing.
func (w *Workspace) rope(x []float32, nHeads, T, set int) {
	c := &w.m.Config
	half := c.RopeDim / 2
	hd := c.HeadDim
	for t := 0; t < T; t++ {
		cs, sn := w.cos[set][t*half:(t+1)*half], w.sin[set][t*half:(t+1)*half]
		for h := 0; h < nHeads; h++ {
			v := x[(t*nHeads+h)*hd : (t*nHeads+h+1)*hd]
			if c.RopeStyle == RopeNeoX {
				for i := 0; i < half; i++ {
					a, b := v[i], v[i+half]
					v[i] = a*cs[i] - b*sn[i]
					v[i+half] = a*sn[i] + b*cs[i]
				}
			} else {
				for i := 0; i < half; i++ {
					a, b := v[2*i], v[2*i+1]
					v[2*i] = a*cs[i] - b*sn[i]
					v[2*i+1] = a*sn[i] + b*cs[i]
				}
			}
		}
	}
}

// attention computes, for each token of the batch and each query head,
// softmax(scale·q·K) over the positions of the token's own sequence that it
// sees (all up to its own, or the last Window of them), times V. Query head
// h reads KV head h/(NHead/NHeadKV).
func (w *Workspace) attention(out, q []float32, b *Batch, layer int) {
	c := &w.m.Config
	T := len(b.Tokens)
	hd, hdv := c.HeadDim, c.HeadDimV
	kvDim, vDim := c.NHeadKV*hd, c.NHeadKV*hdv
	group := c.NHead / c.NHeadKV
	scale, capv := c.AttnScale, c.AttnSoftcap
	window := w.m.Layers[layer].Window
	w.m.pool.For(T*c.NHead, 1, func(worker, lo, hi int) {
		scores := w.scores[worker]
		for job := lo; job < hi; job++ {
			t, h := job/c.NHead, job%c.NHead
			seq := b.Seqs[t]
			rows := seq.kvRows[layer]
			K, V := seq.k[layer], seq.v[layer]
			kvh := h / group
			last := w.pos[t]
			first := 0
			if window > 0 {
				first = max(0, last-window+1)
			}
			n := last - first + 1
			qh := q[(t*c.NHead+h)*hd : (t*c.NHead+h+1)*hd]
			maxv := float32(math.Inf(-1))
			for j := 0; j < n; j++ {
				r := (first + j) % rows
				sc := dot(qh, K[r*kvDim+kvh*hd:r*kvDim+(kvh+1)*hd]) * scale
				if capv != 0 {
					sc = softcap(sc, capv)
				}
				scores[j] = sc
				if sc > maxv {
					maxv = sc
				}
			}
			var sum float64
			for j := 0; j < n; j++ {
				e := float32(math.Exp(float64(scores[j] - maxv)))
				scores[j] = e
				sum += float64(e)
			}
			inv := float32(1 / sum)
			o := out[(t*c.NHead+h)*hdv : (t*c.NHead+h+1)*hdv]
			clear(o)
			for j := 0; j < n; j++ {
				p := scores[j] * inv
				r := (first + j) % rows
				vr := V[r*vDim+kvh*hdv : r*vDim+(kvh+1)*hdv]
				for i := range o {
					o[i] += p * vr[i]
				}
			}
		}
	})
}
