package model

import (
	"fmt"
	"math"
)

// DefaultBatch is the most tokens one forward pass evaluates at once;
// longer inputs are split, which bounds the scratch memory of a session.
const DefaultBatch = 512

// Session is one sequence being evaluated: its KV cache and the scratch
// buffers of the forward pass. A Session is not safe for concurrent use.
type Session struct {
	m      *Model
	numCtx int
	pos    int

	// KV cache, per layer: kvRows[l] rows of NHeadKV*HeadDim (K) and
	// NHeadKV*HeadDimV (V) float32 values. Position p lives in row
	// p % kvRows[l]: full-attention layers keep numCtx rows, sliding-window
	// layers only the window plus one batch.
	k, v   [][]float32
	kvRows []int

	batch   int
	x, xn   []float32 // residual stream and its normalised copy, batch×NEmbd
	q       []float32 // batch×NHead*HeadDim
	kb, vb  []float32 // batch×kvDim, batch×vDim
	qkv     []float32 // fused projection output (phi3)
	att     []float32 // batch×NHead*HeadDimV
	gate    []float32 // batch×NFF (fused: batch×2·NFF)
	up      []float32
	rowBuf  [][]float32 // per worker: one dequantized weight row
	scores  [][]float32 // per worker: attention scores over the context
	cos     [][]float32 // per RoPE table: batch×RopeDim/2
	sin     [][]float32
	logits  []float32
	lastOut []float32
}

// NewSession allocates a KV cache for numCtx positions, evaluating up to
// DefaultBatch tokens per forward pass.
func (m *Model) NewSession(numCtx int) (*Session, error) {
	return m.NewSessionBatch(numCtx, DefaultBatch)
}

// NewSessionBatch is NewSession with a chosen batch size: longer inputs are
// split into forward passes of at most batch tokens. Sliding-window layers
// keep window+batch-1 cache rows.
func (m *Model) NewSessionBatch(numCtx, batch int) (*Session, error) {
	c := &m.Config
	if numCtx <= 0 {
		return nil, fmt.Errorf("context size must be positive, got %d", numCtx)
	}
	if batch <= 0 {
		return nil, fmt.Errorf("batch size must be positive, got %d", batch)
	}
	s := &Session{m: m, numCtx: numCtx, batch: min(batch, numCtx)}
	kvDim, vDim := c.NHeadKV*c.HeadDim, c.NHeadKV*c.HeadDimV
	b := s.batch
	s.k = make([][]float32, c.NLayer)
	s.v = make([][]float32, c.NLayer)
	s.kvRows = make([]int, c.NLayer)
	for i := range s.k {
		rows := numCtx
		if w := m.Layers[i].Window; w > 0 {
			rows = min(numCtx, w+b-1)
		}
		s.kvRows[i] = rows
		s.k[i] = make([]float32, rows*kvDim)
		s.v[i] = make([]float32, rows*vDim)
	}
	s.x = make([]float32, b*c.NEmbd)
	s.xn = make([]float32, b*c.NEmbd)
	s.q = make([]float32, b*c.NHead*c.HeadDim)
	s.kb = make([]float32, b*kvDim)
	s.vb = make([]float32, b*vDim)
	if c.FusedQKV {
		s.qkv = make([]float32, b*(c.NHead*c.HeadDim+kvDim+vDim))
	}
	s.att = make([]float32, b*c.NHead*c.HeadDimV)
	if c.FusedGateUp {
		s.gate = make([]float32, b*2*c.NFF)
	} else {
		s.gate = make([]float32, b*c.NFF)
	}
	s.up = make([]float32, b*c.NFF)
	maxCols := max(c.NEmbd, c.NFF, c.NHead*c.HeadDimV)
	workers := m.pool.Size()
	s.rowBuf = make([][]float32, workers)
	s.scores = make([][]float32, workers)
	for w := range s.rowBuf {
		s.rowBuf[w] = make([]float32, maxCols)
		s.scores[w] = make([]float32, numCtx)
	}
	for range m.ropes {
		s.cos = append(s.cos, make([]float32, b*c.RopeDim/2))
		s.sin = append(s.sin, make([]float32, b*c.RopeDim/2))
	}
	s.logits = make([]float32, c.NVocab)
	s.lastOut = make([]float32, c.NEmbd)
	return s, nil
}

// CacheRows is the number of positions the KV cache of layer l holds.
func (s *Session) CacheRows(l int) int { return s.kvRows[l] }

// NumCtx is the session's context size in tokens.
func (s *Session) NumCtx() int { return s.numCtx }

// Pos is the number of tokens in the cache.
func (s *Session) Pos() int { return s.pos }

// Rewind drops cached tokens from position n on, so evaluation continues
// at n (for a shared prefix, or to retry). It fails, changing nothing, when
// a sliding-window layer has already overwritten positions that a token at
// n would need; the caller must then start a new sequence.
func (s *Session) Rewind(n int) error {
	if n < 0 || n > s.pos {
		return fmt.Errorf("cannot rewind to position %d of %d", n, s.pos)
	}
	for l, rows := range s.kvRows {
		w := s.m.Layers[l].Window
		if w > 0 && s.pos-rows > n-w {
			return fmt.Errorf("cannot rewind to position %d: layer %d keeps only the last %d positions", n, l, rows)
		}
	}
	s.pos = n
	return nil
}

// Eval appends tokens to the sequence and returns the logits after the last
// one. The returned slice belongs to the session and is overwritten by the
// next call.
func (s *Session) Eval(tokens []int32) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("no tokens to evaluate")
	}
	if s.pos+len(tokens) > s.numCtx {
		return nil, fmt.Errorf("%d tokens do not fit in the context: %d of %d positions are in use", len(tokens), s.pos, s.numCtx)
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= s.m.NVocab {
			return nil, fmt.Errorf("token %d (id %d) is outside the vocabulary of %d", i, t, s.m.NVocab)
		}
	}
	for len(tokens) > 0 {
		n := min(len(tokens), s.batch)
		s.forward(tokens[:n])
		tokens = tokens[n:]
	}
	s.rmsnorm(s.lastOut, s.lastOut, s.m.OutputNorm)
	s.matmul(s.logits, s.m.Output, s.lastOut, 1)
	if c := s.m.FinalSoftcap; c != 0 {
		for i, v := range s.logits {
			s.logits[i] = softcap(v, c)
		}
	}
	return s.logits, nil
}

// addBranch adds a branch output to the residual stream, normalising it
// first when the architecture has post-norms.
func (s *Session) addBranch(x, branch []float32, postNorm Vector, T int) {
	if postNorm != nil {
		E := s.m.NEmbd
		for t := 0; t < T; t++ {
			row := branch[t*E : (t+1)*E]
			s.rmsnorm(row, row, postNorm)
		}
	}
	for i := range x {
		x[i] += branch[i]
	}
}

// act is the FFN gate activation.
func (s *Session) act(x float32) float32 {
	if s.m.GELU {
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

func softcap(v, c float32) float32 {
	return c * float32(math.Tanh(float64(v/c)))
}

// forward runs one batch of tokens through every layer, leaving the final
// residual of the last token in s.lastOut.
func (s *Session) forward(tokens []int32) {
	m := s.m
	c := &m.Config
	T := len(tokens)
	E := c.NEmbd
	qDim, kvDim, vDim := c.NHead*c.HeadDim, c.NHeadKV*c.HeadDim, c.NHeadKV*c.HeadDimV
	x := s.x[:T*E]
	for t, id := range tokens {
		row := x[t*E : (t+1)*E]
		copy(row, m.TokenEmbd.Row(int(id), s.rowBuf[0]))
		if c.EmbedScale != 0 {
			for i := range row {
				row[i] *= c.EmbedScale
			}
		}
	}
	for i := range m.ropes {
		s.ropeTables(i, T)
	}

	for li := range m.Layers {
		l := &m.Layers[li]
		xn := s.xn[:T*E]
		for t := 0; t < T; t++ {
			s.rmsnorm(xn[t*E:(t+1)*E], x[t*E:(t+1)*E], l.AttnNorm)
		}
		q, k, v := s.q[:T*qDim], s.kb[:T*kvDim], s.vb[:T*vDim]
		if l.Wqkv != nil {
			all := qDim + kvDim + vDim
			qkv := s.qkv[:T*all]
			s.matmul(qkv, l.Wqkv, xn, T)
			for t := 0; t < T; t++ {
				row := qkv[t*all : (t+1)*all]
				copy(q[t*qDim:(t+1)*qDim], row[:qDim])
				copy(k[t*kvDim:(t+1)*kvDim], row[qDim:qDim+kvDim])
				copy(v[t*vDim:(t+1)*vDim], row[qDim+kvDim:])
			}
		} else {
			s.matmul(q, l.Wq, xn, T)
			s.matmul(k, l.Wk, xn, T)
			s.matmul(v, l.Wv, xn, T)
		}
		if l.Bq != nil {
			addBias(q, l.Bq)
			addBias(k, l.Bk)
			addBias(v, l.Bv)
		}
		if l.QNorm != nil {
			for h := 0; h < T*c.NHead; h++ {
				hq := q[h*c.HeadDim : (h+1)*c.HeadDim]
				s.rmsnorm(hq, hq, l.QNorm)
			}
			for h := 0; h < T*c.NHeadKV; h++ {
				hk := k[h*c.HeadDim : (h+1)*c.HeadDim]
				s.rmsnorm(hk, hk, l.KNorm)
			}
		}
		s.rope(q, c.NHead, T, l.Rope)
		s.rope(k, c.NHeadKV, T, l.Rope)
		rows := s.kvRows[li]
		for t := 0; t < T; t++ {
			r := (s.pos + t) % rows
			copy(s.k[li][r*kvDim:(r+1)*kvDim], k[t*kvDim:(t+1)*kvDim])
			copy(s.v[li][r*vDim:(r+1)*vDim], v[t*vDim:(t+1)*vDim])
		}

		att := s.att[:T*c.NHead*c.HeadDimV]
		s.attention(att, q, li, T)
		s.matmul(xn, l.Wo, att, T)
		s.addBranch(x, xn, l.PostAttnNorm, T)

		for t := 0; t < T; t++ {
			s.rmsnorm(xn[t*E:(t+1)*E], x[t*E:(t+1)*E], l.FFNNorm)
		}
		F := c.NFF
		up := s.up[:T*F]
		if l.Wgate == nil {
			both := s.gate[:T*2*F]
			s.matmul(both, l.Wup, xn, T)
			for t := 0; t < T; t++ {
				g, u := both[t*2*F:t*2*F+F], both[t*2*F+F:(t+1)*2*F]
				dst := up[t*F : (t+1)*F]
				for i := range dst {
					dst[i] = s.act(g[i]) * u[i]
				}
			}
		} else {
			gate := s.gate[:T*F]
			s.matmul(gate, l.Wgate, xn, T)
			s.matmul(up, l.Wup, xn, T)
			for i := range up {
				up[i] = s.act(gate[i]) * up[i]
			}
		}
		s.matmul(xn, l.Wdown, up, T)
		s.addBranch(x, xn, l.PostFFNNorm, T)
	}
	copy(s.lastOut, x[(T-1)*E:T*E])
	s.pos += T
}

// matmul computes dst[t][r] = W[r]·x[t] for T input rows, splitting the
// weight rows over the worker pool.
func (s *Session) matmul(dst []float32, w *Matrix, x []float32, T int) {
	s.m.pool.For(w.Rows, 16, func(worker, lo, hi int) {
		buf := s.rowBuf[worker]
		for r := lo; r < hi; r++ {
			row := w.Row(r, buf)
			for t := 0; t < T; t++ {
				dst[t*w.Rows+r] = dot(row, x[t*w.Cols:(t+1)*w.Cols])
			}
		}
	})
}

// rmsnorm writes x/sqrt(mean(x²)+eps)·w into dst (which may be x), with
// the sum of squares in float64 as ggml does.
func (s *Session) rmsnorm(dst, x []float32, w Vector) {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	mean := float32(sum / float64(len(x)))
	scale := float32(1 / math.Sqrt(float64(mean+s.m.NormEps)))
	for i, v := range x {
		dst[i] = v * scale * w[i]
	}
}

func addBias(x []float32, b Vector) {
	n := len(b)
	for i := range x {
		x[i] += b[i%n]
	}
}

func silu(x float32) float32 {
	return x / (1 + float32(math.Exp(float64(-x))))
}

// ropeTables fills cos/sin of RoPE table set for the T positions of this
// batch.
func (s *Session) ropeTables(set, T int) {
	c := &s.m.Config
	r := &s.m.ropes[set]
	half := c.RopeDim / 2
	var corr0, corr1, mscale float64 = 0, 0, 1
	if r.yarn {
		corr0, corr1 = yarnCorrDims(c.RopeDim, c.YarnOrigCtx, c.RopeBase)
		mscale = c.YarnAttnFactor * (1 + 0.1*math.Log(1/r.freqScale))
	}
	cs, sn := s.cos[set], s.sin[set]
	for t := 0; t < T; t++ {
		pos := float64(s.pos + t)
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
func (s *Session) rope(x []float32, nHeads, T, set int) {
	c := &s.m.Config
	half := c.RopeDim / 2
	hd := c.HeadDim
	for t := 0; t < T; t++ {
		cs, sn := s.cos[set][t*half:(t+1)*half], s.sin[set][t*half:(t+1)*half]
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

// attention computes, for each of the T new tokens and each query head,
// softmax(scale·q·K) over the cached positions the token sees (all up to its
// own, or the last Window of them), times V. Query head h reads KV head
// h/(NHead/NHeadKV).
func (s *Session) attention(out, q []float32, layer, T int) {
	c := &s.m.Config
	hd, hdv := c.HeadDim, c.HeadDimV
	kvDim, vDim := c.NHeadKV*hd, c.NHeadKV*hdv
	group := c.NHead / c.NHeadKV
	scale, capv := c.AttnScale, c.AttnSoftcap
	window, rows := s.m.Layers[layer].Window, s.kvRows[layer]
	K, V := s.k[layer], s.v[layer]
	s.m.pool.For(T*c.NHead, 1, func(worker, lo, hi int) {
		scores := s.scores[worker]
		for job := lo; job < hi; job++ {
			t, h := job/c.NHead, job%c.NHead
			kvh := h / group
			last := s.pos + t // this token's position
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
