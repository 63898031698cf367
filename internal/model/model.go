// Package model runs decoder-only transformers stored in GGUF files: it
// reads an architecture's hyper-parameters, binds its weights straight from
// the memory-mapped file, and evaluates tokens through a KV cache.
//
// A model computes in one of two modes, chosen at load (Options.Exact):
//
//   - fast (the default) does what llama.cpp's CPU backend does: each matrix
//     input is converted once to the weights' vec-dot type (8-bit blocks for
//     quantized weights, half precision for F16/BF16) and shared by the
//     matrices that read it, the products use integer dot products per
//     block, and the KV cache holds F16. Its results follow llama.cpp's own
//     ("llamacpp") reference traces.
//   - exact computes in float32 throughout with weights dequantized exactly
//     as ggml does and an F32 KV cache: the math of the "f32ref" traces.
package model

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/parallel"
	"github.com/golem-llm/golem/internal/tensor"
)

// Layer holds the weights of one transformer block.
type Layer struct {
	AttnNorm   Vector
	Wq, Wk, Wv *Matrix // nil when the model fuses them (Wqkv)
	Wqkv       *Matrix
	Bq, Bk, Bv Vector // qwen2 biases
	QNorm      Vector // qwen3 per-head norms
	KNorm      Vector
	Wo         *Matrix

	FFNNorm Vector
	Wgate   *Matrix // nil when fused into Wup (phi3)
	Wup     *Matrix
	Wdown   *Matrix

	PostAttnNorm Vector // gemma: norms of the branch outputs
	PostFFNNorm  Vector

	Window int // sliding attention window in positions; 0 = full attention
	Rope   int // index into Model.ropes
}

// ropeSet is one RoPE frequency table; models whose layers use different
// bases (gemma3) have several.
type ropeSet struct {
	base       float64
	thetaScale float32   // base^(-2/RopeDim), the angle ratio of successive pairs
	factors    []float32 // per pair frequency divisors (rope_freqs.weight), or nil
	freqScale  float64   // linear scaling: 1/factor
	yarn       bool
}

// Model is a loaded model. It is read-only after Load and may be shared by
// many sessions.
type Model struct {
	Config
	File *gguf.File

	TokenEmbd  *Matrix
	OutputNorm Vector
	Output     *Matrix // the tied embedding when the file has no output.weight
	Layers     []Layer

	ropes []ropeSet
	pool  *parallel.Pool

	exact bool
	level tensor.Level
	vec   *tensor.VecKernels
	f16   *tensor.Kernels // F16 products of the fast mode's attention
	gelu  []float32       // fast mode: ggml's GELU table, by half bit pattern
}

// Options control how a model computes.
type Options struct {
	// Threads is the number of workers of each forward pass; <= 0 uses one
	// per CPU.
	Threads int
	// Exact selects float32 math with an F32 KV cache (the f32ref traces'
	// math) instead of the default fast mode (llama.cpp's CPU numerics:
	// 8-bit activations for quantized weights, F16 KV cache).
	Exact bool
	// SIMD names the kernel tier: "" for tensor.DefaultLevel() (the best
	// the CPU has), or "generic", "avx2", "avx512".
	SIMD string
}

// Load binds the weights of f in the fast mode with the default kernels.
// f must stay open while the model is used. threads <= 0 uses one worker
// per CPU.
func Load(f *gguf.File, threads int) (*Model, error) {
	return LoadWithOptions(f, Options{Threads: threads})
}

// LoadWithOptions binds the weights of f to compute as opts says.
func LoadWithOptions(f *gguf.File, opts Options) (*Model, error) {
	level := tensor.DefaultLevel()
	if opts.SIMD != "" {
		l, ok := tensor.ParseLevel(opts.SIMD)
		if !ok {
			return nil, fmt.Errorf("unknown kernel level %q (want generic, avx2 or avx512)", opts.SIMD)
		}
		if !tensor.Available(l) {
			return nil, fmt.Errorf("kernel level %s is not available on this CPU or build (have %v)", l, tensor.Levels())
		}
		level = l
	}
	cfg, err := readConfig(f)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: *cfg, File: f, exact: opts.Exact, level: level}
	m.vec, _ = tensor.VecAt(level)
	m.f16, _ = tensor.KernelsAt(tensor.F16, level)
	if err := m.bind(); err != nil {
		return nil, err
	}
	if m.GELU && !m.exact {
		m.gelu = geluTable()
	}
	m.pool = parallel.New(opts.Threads)
	return m, nil
}

// Exact reports whether the model computes in the exact float32 mode.
func (m *Model) Exact() bool { return m.exact }

// Level is the kernel tier the model computes with.
func (m *Model) Level() tensor.Level { return m.level }

// WeightBytes is the size of the weights one token's forward pass reads:
// every layer matrix and the output matrix (the embedding only gives one
// row per token).
func (m *Model) WeightBytes() int64 {
	var n int64
	add := func(x *Matrix) {
		if x != nil {
			n += int64(len(x.data))
		}
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		for _, x := range []*Matrix{l.Wq, l.Wk, l.Wv, l.Wqkv, l.Wo, l.Wgate, l.Wup, l.Wdown} {
			add(x)
		}
	}
	add(m.Output)
	return n
}

// Close stops the model's worker goroutines. The GGUF file is the caller's.
func (m *Model) Close() {
	if m.pool != nil {
		m.pool.Close()
		m.pool = nil
	}
}

// Threads is the number of workers used for each forward pass.
func (m *Model) Threads() int { return m.pool.Size() }

func (m *Model) tensor(name string) (*gguf.TensorInfo, error) {
	t, ok := m.File.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("%s model is missing tensor %q", m.Arch, name)
	}
	return t, nil
}

// matrix binds a weight matrix multiplied by activations. llama.cpp's CPU
// backend repacks such matrices of some types for its interleaved kernels
// (the token embedding, read by rows, is never repacked, even when it is
// also the output matrix).
func (m *Model) matrix(name string, cols, rows int) (*Matrix, error) {
	t, err := m.tensor(name)
	if err != nil {
		return nil, err
	}
	x, err := newMatrix(t, cols, rows, m.level)
	if err != nil {
		return nil, err
	}
	if tensor.Interleaves(x.Type, rows) {
		x.order = tensor.Interleaved
	}
	return x, nil
}

func (m *Model) vector(name string, n int) (Vector, error) {
	t, err := m.tensor(name)
	if err != nil {
		return nil, err
	}
	return newVector(t, n)
}

func (m *Model) bind() error {
	c := &m.Config
	emb, err := m.tensor("token_embd.weight")
	if err != nil {
		return err
	}
	if len(emb.Dims) != 2 || emb.Dims[0] != uint64(c.NEmbd) || emb.Dims[1] == 0 || emb.Dims[1] > 1<<24 {
		return fmt.Errorf("tensor %q has shape %v, want [%d n_vocab]", emb.Name, emb.Dims, c.NEmbd)
	}
	c.NVocab = int(emb.Dims[1])
	if m.TokenEmbd, err = newMatrix(emb, c.NEmbd, c.NVocab, m.level); err != nil {
		return err
	}
	if m.OutputNorm, err = m.vector("output_norm.weight", c.NEmbd); err != nil {
		return err
	}
	if _, ok := m.File.Tensor("output.weight"); ok {
		if m.Output, err = m.matrix("output.weight", c.NEmbd, c.NVocab); err != nil {
			return err
		}
	} else {
		// Tied: the embedding is also the output matrix. llama.cpp loads a
		// second copy of it for the product, which its CPU backend repacks
		// like any other matrix, so the view here gets its own order.
		out := *m.TokenEmbd
		if tensor.Interleaves(out.Type, out.Rows) {
			out.order = tensor.Interleaved
		}
		m.Output = &out
	}

	qDim, kvDim, vDim := c.NHead*c.HeadDim, c.NHeadKV*c.HeadDim, c.NHeadKV*c.HeadDimV
	m.Layers = make([]Layer, c.NLayer)
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		if l.AttnNorm, err = m.vector(p+"attn_norm.weight", c.NEmbd); err != nil {
			return err
		}
		if c.FusedQKV {
			if l.Wqkv, err = m.matrix(p+"attn_qkv.weight", c.NEmbd, qDim+kvDim+vDim); err != nil {
				return err
			}
		} else {
			if l.Wq, err = m.matrix(p+"attn_q.weight", c.NEmbd, qDim); err != nil {
				return err
			}
			if l.Wk, err = m.matrix(p+"attn_k.weight", c.NEmbd, kvDim); err != nil {
				return err
			}
			if l.Wv, err = m.matrix(p+"attn_v.weight", c.NEmbd, vDim); err != nil {
				return err
			}
		}
		if c.QKVBias {
			if l.Bq, err = m.vector(p+"attn_q.bias", qDim); err != nil {
				return err
			}
			if l.Bk, err = m.vector(p+"attn_k.bias", kvDim); err != nil {
				return err
			}
			if l.Bv, err = m.vector(p+"attn_v.bias", vDim); err != nil {
				return err
			}
		}
		if c.QKNorm {
			if l.QNorm, err = m.vector(p+"attn_q_norm.weight", c.HeadDim); err != nil {
				return err
			}
			if l.KNorm, err = m.vector(p+"attn_k_norm.weight", c.HeadDim); err != nil {
				return err
			}
		}
		if l.Wo, err = m.matrix(p+"attn_output.weight", c.NHead*c.HeadDimV, c.NEmbd); err != nil {
			return err
		}
		if l.FFNNorm, err = m.vector(p+"ffn_norm.weight", c.NEmbd); err != nil {
			return err
		}
		if c.FusedGateUp {
			if l.Wup, err = m.matrix(p+"ffn_up.weight", c.NEmbd, 2*c.NFF); err != nil {
				return err
			}
		} else {
			if l.Wgate, err = m.matrix(p+"ffn_gate.weight", c.NEmbd, c.NFF); err != nil {
				return err
			}
			if l.Wup, err = m.matrix(p+"ffn_up.weight", c.NEmbd, c.NFF); err != nil {
				return err
			}
		}
		if l.Wdown, err = m.matrix(p+"ffn_down.weight", c.NFF, c.NEmbd); err != nil {
			return err
		}
		if c.PostNorms {
			if l.PostAttnNorm, err = m.vector(p+"post_attention_norm.weight", c.NEmbd); err != nil {
				return err
			}
			if l.PostFFNNorm, err = m.vector(p+"post_ffw_norm.weight", c.NEmbd); err != nil {
				return err
			}
		}
		if c.SlidingLayer != nil && c.SlidingLayer(i) {
			l.Window = c.SlidingWindow
			if c.LocalRopeBase != 0 {
				l.Rope = 1
			}
		}
	}

	// RoPE frequencies, with Llama 3.1-style per-frequency factors when the
	// file carries them (rope_freqs.weight).
	half := c.RopeDim / 2
	var factors Vector
	if _, ok := m.File.Tensor("rope_freqs.weight"); ok {
		if factors, err = m.vector("rope_freqs.weight", half); err != nil {
			return err
		}
		for i, f := range factors {
			if !(f > 0) {
				return fmt.Errorf("rope_freqs.weight[%d] = %g is not positive", i, f)
			}
		}
	}
	set := func(base float64, factors Vector, freqScale float64, yarn bool) ropeSet {
		return ropeSet{
			base:       base,
			thetaScale: float32(math.Pow(float64(float32(base)), float64(float32(-2)/float32(c.RopeDim)))),
			factors:    factors,
			freqScale:  freqScale,
			yarn:       yarn,
		}
	}
	m.ropes = []ropeSet{set(c.RopeBase, factors, c.RopeFreqScale, c.YarnExtFactor != 0)}
	if c.LocalRopeBase != 0 {
		// Sliding-window layers use a fixed base, unscaled.
		m.ropes = append(m.ropes, set(c.LocalRopeBase, nil, 1, false))
	}
	return nil
}
