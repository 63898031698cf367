package model

import "fmt"

// DefaultBatch is the most tokens one forward pass evaluates at once;
// longer inputs are split, which bounds the scratch memory of a workspace.
const DefaultBatch = 512

// Sequence is the KV cache of one token sequence. Several sequences can be
// evaluated together in one Batch (continuous batching). A Sequence must
// not be used by two forward passes at once.
type Sequence struct {
	m        *Model
	numCtx   int
	maxBatch int
	pos      int
	pending  int // tokens of this sequence in the forward pass under way
	outRows  int // forward pass scratch: rows counted so far, rows wanting logits
	outSeen  int

	// Per layer: kvRows[l] rows of NHeadKV*HeadDim (K) and NHeadKV*HeadDimV
	// (V) values, float32 in the exact mode (k, v) and F16 in the fast mode
	// (k16, v16). Position p lives in row p % kvRows[l]: full-attention
	// layers keep numCtx rows, sliding-window layers only the window plus
	// one batch. In the fast mode, full-attention layers store V transposed
	// as ggml does without flash attention (vT[l]): NHeadKV*HeadDimV rows of
	// vStride positions each (numCtx rounded up to 32, the padding zero), so
	// that the product of the probabilities with V is a matrix product over
	// positions.
	k, v     [][]float32
	k16, v16 [][]uint16
	kvRows   []int
	vT       []bool
	vStride  int
}

// NewSequence allocates a KV cache for numCtx positions. maxBatch is the
// most tokens of this sequence one forward pass may hold; it sizes the
// caches of sliding-window layers.
func (m *Model) NewSequence(numCtx, maxBatch int) (*Sequence, error) {
	c := &m.Config
	if numCtx <= 0 {
		return nil, fmt.Errorf("context size must be positive, got %d", numCtx)
	}
	if maxBatch <= 0 {
		return nil, fmt.Errorf("batch size must be positive, got %d", maxBatch)
	}
	s := &Sequence{m: m, numCtx: numCtx, maxBatch: min(maxBatch, numCtx)}
	kvDim, vDim := c.NHeadKV*c.HeadDim, c.NHeadKV*c.HeadDimV
	s.kvRows = make([]int, c.NLayer)
	if m.exact {
		s.k = make([][]float32, c.NLayer)
		s.v = make([][]float32, c.NLayer)
	} else {
		s.k16 = make([][]uint16, c.NLayer)
		s.v16 = make([][]uint16, c.NLayer)
	}
	s.vT = make([]bool, c.NLayer)
	s.vStride = (numCtx + 31) &^ 31
	for i := range s.kvRows {
		rows := numCtx
		if w := m.Layers[i].Window; w > 0 {
			rows = min(numCtx, w+s.maxBatch-1)
		}
		s.kvRows[i] = rows
		switch {
		case m.exact:
			s.k[i] = make([]float32, rows*kvDim)
			s.v[i] = make([]float32, rows*vDim)
		case m.Layers[i].Window == 0:
			s.k16[i] = make([]uint16, rows*kvDim)
			s.v16[i] = make([]uint16, vDim*s.vStride)
			s.vT[i] = true
		default:
			s.k16[i] = make([]uint16, rows*kvDim)
			s.v16[i] = make([]uint16, rows*vDim)
		}
	}
	return s, nil
}

// NumCtx is the sequence's context size in tokens.
func (s *Sequence) NumCtx() int { return s.numCtx }

// Pos is the number of tokens in the cache.
func (s *Sequence) Pos() int { return s.pos }

// CacheRows is the number of positions the KV cache of layer l holds.
func (s *Sequence) CacheRows(l int) int { return s.kvRows[l] }

// CacheBytes is the memory the KV cache takes.
func (s *Sequence) CacheBytes() int64 {
	var n int64
	for l := range s.k {
		n += int64(len(s.k[l])+len(s.v[l])) * 4
	}
	for l := range s.k16 {
		n += int64(len(s.k16[l])+len(s.v16[l])) * 2
	}
	return n
}

// Rewind drops cached tokens from position n on, so evaluation continues
// at n (for a shared prefix, or to retry). It fails, changing nothing, when
// a sliding-window layer has already overwritten positions that a token at
// n would need; the caller must then start over with an empty sequence.
func (s *Sequence) Rewind(n int) error {
	if n < 0 || n > s.pos {
		return fmt.Errorf("cannot rewind to position %d of %d", n, s.pos)
	}
	// A token at position n attends to positions max(0, n-w+1) … n-1 in a
	// layer with window w; the ring still holds pos-rows … pos-1.
	for l, rows := range s.kvRows {
		w := s.m.Layers[l].Window
		if w > 0 && n > 0 && max(0, n-w+1) < s.pos-rows {
			return fmt.Errorf("cannot rewind to position %d: layer %d keeps only the last %d positions", n, l, rows)
		}
	}
	// The product with transposed V reads whole vectors of positions, with
	// zero probabilities past the last token: clear the dropped positions so
	// that no stale value (an infinity) can meet a zero probability.
	for l, t := range s.vT {
		if !t {
			continue
		}
		v := s.v16[l]
		for r := 0; r < len(v); r += s.vStride {
			clear(v[r+n : r+s.pos])
		}
	}
	s.pos = n
	return nil
}

// CanShift reports whether Shift works on this model's sequences: not when
// a layer has a sliding window, whose ring buffer would need reordering.
func (m *Model) CanShift() bool {
	for _, l := range m.Layers {
		if l.Window > 0 {
			return false
		}
	}
	return true
}

// Shift drops the discard cached positions that follow the first keep ones
// and moves the rest down, so evaluation continues at Pos()-discard: the
// context shift that lets generation go on once the context is full (the
// kept keys are rotated back by discard positions, which RoPE allows since
// a rotation by a and then by b is one by a+b). The dropped tokens' effect
// on the hidden states of those that follow stays, as in llama.cpp and
// Ollama. It fails, changing nothing, on bad arguments and for models with
// sliding-window layers (see CanShift).
func (s *Sequence) Shift(keep, discard int) error {
	if keep < 0 || discard <= 0 || keep+discard > s.pos {
		return fmt.Errorf("cannot shift out %d positions after the first %d of %d", discard, keep, s.pos)
	}
	if !s.m.CanShift() {
		return fmt.Errorf("context shift is not supported for models with sliding-window attention")
	}
	c := &s.m.Config
	kvDim, vDim := c.NHeadKV*c.HeadDim, c.NHeadKV*c.HeadDimV
	half := c.RopeDim / 2
	cs, sn := make([]float32, half), make([]float32, half)
	row := make([]float32, kvDim)
	rotate := func(row []float32) { s.m.ropeRow(row, c.NHeadKV, cs, sn) }
	lastSet := -1
	for l := range s.kvRows {
		if set := s.m.Layers[l].Rope; set != lastSet {
			s.m.ropeDelta(set, -discard, cs, sn)
			lastSet = set
		}
		for p := keep + discard; p < s.pos; p++ {
			q := p - discard
			if s.m.exact {
				dst := s.k[l][q*kvDim : (q+1)*kvDim]
				copy(dst, s.k[l][p*kvDim:(p+1)*kvDim])
				rotate(dst)
				copy(s.v[l][q*vDim:(q+1)*vDim], s.v[l][p*vDim:(p+1)*vDim])
				continue
			}
			s.m.vec.F16ToF32(row, s.k16[l][p*kvDim:(p+1)*kvDim])
			rotate(row)
			s.m.vec.F32ToF16(s.k16[l][q*kvDim:(q+1)*kvDim], row)
			if !s.vT[l] {
				copy(s.v16[l][q*vDim:(q+1)*vDim], s.v16[l][p*vDim:(p+1)*vDim])
			}
		}
		if !s.m.exact && s.vT[l] {
			v := s.v16[l]
			for r := 0; r < len(v); r += s.vStride {
				copy(v[r+keep:], v[r+keep+discard:r+s.pos])
				clear(v[r+s.pos-discard : r+s.pos]) // see Rewind
			}
		}
	}
	s.pos -= discard
	return nil
}

// Session is one sequence with a workspace of its own: the simple way to
// evaluate a single stream of tokens. It is not safe for concurrent use.
type Session struct {
	*Sequence
	ws    *Workspace
	batch Batch
}

// NewSession allocates a session for numCtx positions, evaluating up to
// DefaultBatch tokens per forward pass.
func (m *Model) NewSession(numCtx int) (*Session, error) {
	return m.NewSessionBatch(numCtx, DefaultBatch)
}

// NewSessionBatch is NewSession with a chosen batch size: longer inputs are
// split into forward passes of at most batch tokens.
func (m *Model) NewSessionBatch(numCtx, batch int) (*Session, error) {
	seq, err := m.NewSequence(numCtx, batch)
	if err != nil {
		return nil, err
	}
	ws, err := m.NewWorkspace(seq.maxBatch, 1)
	if err != nil {
		return nil, err
	}
	return &Session{Sequence: seq, ws: ws}, nil
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
	var logits []float32
	for len(tokens) > 0 {
		n := min(len(tokens), s.ws.batch)
		b := &s.batch
		b.Reset()
		for i, t := range tokens[:n] {
			b.Add(s.Sequence, t, n == len(tokens) && i == n-1)
		}
		out, err := s.ws.Forward(b)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 {
			logits = out[0]
		}
		tokens = tokens[n:]
	}
	return logits, nil
}
