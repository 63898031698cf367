// Package model runs decoder-only transformers stored in GGUF files: it
// reads an architecture's hyper-parameters, binds its weights straight from
// the memory-mapped file, and evaluates tokens through a KV cache.
//
// The arithmetic is float32 throughout with weights dequantized exactly as
// ggml does, which is the "f32ref" math the reference traces describe.
package model

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/parallel"
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
	invFreq   []float64 // per rotated pair: base^(-2i/ropeDim) / freq_factor
	freqScale float64   // linear scaling: 1/factor
	yarn      bool
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
}

// Load binds the weights of f. f must stay open while the model is used.
// threads <= 0 uses one worker per CPU.
func Load(f *gguf.File, threads int) (*Model, error) {
	cfg, err := readConfig(f)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: *cfg, File: f}
	if err := m.bind(); err != nil {
		return nil, err
	}
	m.pool = parallel.New(threads)
	return m, nil
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

func (m *Model) matrix(name string, cols, rows int) (*Matrix, error) {
	t, err := m.tensor(name)
	if err != nil {
		return nil, err
	}
	return newMatrix(t, cols, rows)
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
	if m.TokenEmbd, err = newMatrix(emb, c.NEmbd, c.NVocab); err != nil {
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
		m.Output = m.TokenEmbd
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
	table := func(base float64, factors Vector) []float64 {
		inv := make([]float64, half)
		for i := range inv {
			inv[i] = math.Pow(base, -2*float64(i)/float64(c.RopeDim))
			if factors != nil {
				inv[i] /= float64(factors[i])
			}
		}
		return inv
	}
	m.ropes = []ropeSet{{invFreq: table(c.RopeBase, factors), freqScale: c.RopeFreqScale, yarn: c.YarnExtFactor != 0}}
	if c.LocalRopeBase != 0 {
		// Sliding-window layers use a fixed base, unscaled.
		m.ropes = append(m.ropes, ropeSet{invFreq: table(c.LocalRopeBase, nil), freqScale: 1})
	}
	return nil
}
