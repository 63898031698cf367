package model

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/parallel"
	"github.com/golem-llm/golem/internal/tensor"
)

// Pooling says how an embedding model turns its per-token outputs into one
// vector (GGUF <arch>.pooling_type).
type Pooling int

const (
	PoolNone Pooling = 0
	PoolMean Pooling = 1
	PoolCLS  Pooling = 2
	PoolLast Pooling = 3
)

func (p Pooling) String() string {
	switch p {
	case PoolMean:
		return "mean"
	case PoolCLS:
		return "cls"
	case PoolLast:
		return "last"
	}
	return "none"
}

// encLayer is one post-LayerNorm BERT block.
type encLayer struct {
	Wq, Wk, Wv, Wo       *Matrix
	Bq, Bk, Bv, Bo       Vector
	AttnNormW, AttnNormB Vector
	Wup, Wdown           *Matrix
	Bup, Bdown           Vector
	OutNormW, OutNormB   Vector
}

// Encoder is a BERT-style embedding model: bidirectional attention over
// one input, learned absolute positions, LayerNorm after each block, and a
// pooled, L2-normalised output vector.
type Encoder struct {
	Arch                       string
	NEmbd, NLayer, NFF, NHead  int
	NVocab, NCtxTrain          int
	Eps                        float32
	Pooling                    Pooling
	TokenEmbd, TokenTypes, Pos *Matrix
	EmbNormW, EmbNormB         Vector
	Layers                     []encLayer

	pool *parallel.Pool
}

// IsEncoder reports whether the GGUF file holds an embedding-only encoder
// (architecture bert), which LoadEncoder reads instead of Load.
func IsEncoder(f *gguf.File) bool { return f.Architecture() == "bert" }

// LoadEncoder binds the weights of a BERT-style model in f.
func LoadEncoder(f *gguf.File, threads int) (*Encoder, error) {
	arch := f.Architecture()
	if arch != "bert" {
		return nil, fmt.Errorf("unsupported embedding architecture %q (supported: bert)", arch)
	}
	u := func(key string) (int, error) {
		v, ok := f.Uint(arch + "." + key)
		if !ok || v == 0 || v > 1<<24 {
			return 0, fmt.Errorf("model is missing or has a bad %s.%s", arch, key)
		}
		return int(v), nil
	}
	e := &Encoder{Arch: arch}
	var err error
	if e.NEmbd, err = u("embedding_length"); err != nil {
		return nil, err
	}
	if e.NLayer, err = u("block_count"); err != nil {
		return nil, err
	}
	if e.NFF, err = u("feed_forward_length"); err != nil {
		return nil, err
	}
	if e.NHead, err = u("attention.head_count"); err != nil {
		return nil, err
	}
	if e.NEmbd%e.NHead != 0 {
		return nil, fmt.Errorf("embedding length %d is not a multiple of %d heads", e.NEmbd, e.NHead)
	}
	if e.NCtxTrain, err = u("context_length"); err != nil {
		return nil, err
	}
	eps, ok := f.Float(arch + ".attention.layer_norm_epsilon")
	if !ok {
		eps = 1e-12
	}
	e.Eps = float32(eps)
	if p, ok := f.Uint(arch + ".pooling_type"); ok {
		e.Pooling = Pooling(p)
	} else {
		e.Pooling = PoolCLS
	}
	if e.Pooling != PoolMean && e.Pooling != PoolCLS && e.Pooling != PoolLast {
		return nil, fmt.Errorf("unsupported pooling type %d", e.Pooling)
	}

	get := func(name string) (*gguf.TensorInfo, error) {
		t, ok := f.Tensor(name)
		if !ok {
			return nil, fmt.Errorf("%s model is missing tensor %q", arch, name)
		}
		return t, nil
	}
	mat := func(name string, cols, rows int) (*Matrix, error) {
		t, err := get(name)
		if err != nil {
			return nil, err
		}
		return newMatrix(t, cols, rows, tensor.DefaultLevel())
	}
	vec := func(name string, n int) (Vector, error) {
		t, err := get(name)
		if err != nil {
			return nil, err
		}
		return newVector(t, n)
	}
	emb, err := get("token_embd.weight")
	if err != nil {
		return nil, err
	}
	if len(emb.Dims) != 2 || emb.Dims[0] != uint64(e.NEmbd) || emb.Dims[1] == 0 || emb.Dims[1] > 1<<24 {
		return nil, fmt.Errorf("tensor %q has shape %v, want [%d n_vocab]", emb.Name, emb.Dims, e.NEmbd)
	}
	e.NVocab = int(emb.Dims[1])
	if e.TokenEmbd, err = newMatrix(emb, e.NEmbd, e.NVocab, tensor.DefaultLevel()); err != nil {
		return nil, err
	}
	tt, err := get("token_types.weight")
	if err != nil {
		return nil, err
	}
	if len(tt.Dims) != 2 || tt.Dims[1] == 0 || tt.Dims[1] > 16 {
		return nil, fmt.Errorf("tensor %q has shape %v", tt.Name, tt.Dims)
	}
	if e.TokenTypes, err = newMatrix(tt, e.NEmbd, int(tt.Dims[1]), tensor.DefaultLevel()); err != nil {
		return nil, err
	}
	if e.Pos, err = mat("position_embd.weight", e.NEmbd, e.NCtxTrain); err != nil {
		return nil, err
	}
	if e.EmbNormW, err = vec("token_embd_norm.weight", e.NEmbd); err != nil {
		return nil, err
	}
	if e.EmbNormB, err = vec("token_embd_norm.bias", e.NEmbd); err != nil {
		return nil, err
	}
	E, F := e.NEmbd, e.NFF
	e.Layers = make([]encLayer, e.NLayer)
	for i := range e.Layers {
		l := &e.Layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		for _, m := range []struct {
			dst        **Matrix
			name       string
			cols, rows int
		}{
			{&l.Wq, "attn_q.weight", E, E}, {&l.Wk, "attn_k.weight", E, E}, {&l.Wv, "attn_v.weight", E, E},
			{&l.Wo, "attn_output.weight", E, E}, {&l.Wup, "ffn_up.weight", E, F}, {&l.Wdown, "ffn_down.weight", F, E},
		} {
			if *m.dst, err = mat(p+m.name, m.cols, m.rows); err != nil {
				return nil, err
			}
		}
		for _, v := range []struct {
			dst  *Vector
			name string
			n    int
		}{
			{&l.Bq, "attn_q.bias", E}, {&l.Bk, "attn_k.bias", E}, {&l.Bv, "attn_v.bias", E},
			{&l.Bo, "attn_output.bias", E}, {&l.AttnNormW, "attn_output_norm.weight", E},
			{&l.AttnNormB, "attn_output_norm.bias", E}, {&l.Bup, "ffn_up.bias", F},
			{&l.Bdown, "ffn_down.bias", E}, {&l.OutNormW, "layer_output_norm.weight", E},
			{&l.OutNormB, "layer_output_norm.bias", E},
		} {
			if *v.dst, err = vec(p+v.name, v.n); err != nil {
				return nil, err
			}
		}
	}
	e.pool = parallel.New(threads)
	return e, nil
}

// Close stops the encoder's workers.
func (e *Encoder) Close() {
	if e.pool != nil {
		e.pool.Close()
		e.pool = nil
	}
}

// Embed returns the pooled, L2-normalised embedding of one input (token
// ids including [CLS] and [SEP]).
func (e *Encoder) Embed(tokens []int32) ([]float32, error) {
	T, E := len(tokens), e.NEmbd
	if T == 0 {
		return nil, fmt.Errorf("no tokens to embed")
	}
	if T > e.NCtxTrain {
		return nil, fmt.Errorf("input of %d tokens exceeds the model's %d positions", T, e.NCtxTrain)
	}
	for i, id := range tokens {
		if id < 0 || int(id) >= e.NVocab {
			return nil, fmt.Errorf("token %d (id %d) is outside the vocabulary of %d", i, id, e.NVocab)
		}
	}
	row := make([]float32, max(E, e.NFF))
	x := make([]float32, T*E)
	for t, id := range tokens {
		xr := x[t*E : (t+1)*E]
		copy(xr, e.TokenEmbd.Row(int(id), row))
		add(xr, e.TokenTypes.Row(0, row))
		add(xr, e.Pos.Row(t, row))
		e.layerNorm(xr, e.EmbNormW, e.EmbNormB)
	}
	q, k, v := make([]float32, T*E), make([]float32, T*E), make([]float32, T*E)
	att, tmp := make([]float32, T*E), make([]float32, T*E)
	up := make([]float32, T*e.NFF)
	hd := E / e.NHead
	scale := float32(1 / math.Sqrt(float64(hd)))
	for li := range e.Layers {
		l := &e.Layers[li]
		e.matmul(q, l.Wq, l.Bq, x, T)
		e.matmul(k, l.Wk, l.Bk, x, T)
		e.matmul(v, l.Wv, l.Bv, x, T)
		scores := make([]float32, T)
		for t := 0; t < T; t++ {
			for h := 0; h < e.NHead; h++ {
				qh := q[t*E+h*hd : t*E+(h+1)*hd]
				maxv := float32(math.Inf(-1))
				for j := 0; j < T; j++ {
					scores[j] = dot(qh, k[j*E+h*hd:j*E+(h+1)*hd]) * scale
					maxv = max(maxv, scores[j])
				}
				var sum float64
				for j := range scores {
					scores[j] = float32(math.Exp(float64(scores[j] - maxv)))
					sum += float64(scores[j])
				}
				inv := float32(1 / sum)
				o := att[t*E+h*hd : t*E+(h+1)*hd]
				clear(o)
				for j := 0; j < T; j++ {
					p := scores[j] * inv
					vr := v[j*E+h*hd : j*E+(h+1)*hd]
					for i := range o {
						o[i] += p * vr[i]
					}
				}
			}
		}
		e.matmul(tmp, l.Wo, l.Bo, att, T)
		for t := 0; t < T; t++ {
			xr := x[t*E : (t+1)*E]
			add(xr, tmp[t*E:(t+1)*E])
			e.layerNorm(xr, l.AttnNormW, l.AttnNormB)
		}
		e.matmul(up, l.Wup, l.Bup, x, T)
		for i, u := range up {
			up[i] = gelu(u)
		}
		e.matmul(tmp, l.Wdown, l.Bdown, up, T)
		for t := 0; t < T; t++ {
			xr := x[t*E : (t+1)*E]
			add(xr, tmp[t*E:(t+1)*E])
			e.layerNorm(xr, l.OutNormW, l.OutNormB)
		}
	}

	out := make([]float32, E)
	switch e.Pooling {
	case PoolMean:
		for t := 0; t < T; t++ {
			add(out, x[t*E:(t+1)*E])
		}
		inv := 1 / float32(T)
		for i := range out {
			out[i] *= inv
		}
	case PoolCLS:
		copy(out, x[:E])
	case PoolLast:
		copy(out, x[(T-1)*E:])
	}
	Normalize(out)
	return out, nil
}

// Normalize scales v to unit L2 norm (the squares summed in float64), as
// llama.cpp's embedding example does; a zero vector stays zero.
func Normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}

// matmul computes dst[t] = W·x[t] + b for T rows.
func (e *Encoder) matmul(dst []float32, w *Matrix, b Vector, x []float32, T int) {
	bufs := make([][]float32, e.pool.Size())
	e.pool.For(w.Rows, 16, func(worker, lo, hi int) {
		if bufs[worker] == nil {
			bufs[worker] = make([]float32, w.Cols)
		}
		for r := lo; r < hi; r++ {
			row := w.Row(r, bufs[worker])
			for t := 0; t < T; t++ {
				dst[t*w.Rows+r] = dot(row, x[t*w.Cols:(t+1)*w.Cols]) + b[r]
			}
		}
	})
}

// layerNorm normalises x in place to zero mean and unit (biased) variance,
// then scales and shifts it.
func (e *Encoder) layerNorm(x []float32, w, b Vector) {
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := float32(sum / float64(len(x)))
	var ss float64
	for i, v := range x {
		d := v - mean
		x[i] = d
		ss += float64(d) * float64(d)
	}
	scale := float32(1 / math.Sqrt(ss/float64(len(x))+float64(e.Eps)))
	for i := range x {
		x[i] = x[i]*scale*w[i] + b[i]
	}
}

func add(dst, src []float32) {
	for i := range dst {
		dst[i] += src[i]
	}
}
