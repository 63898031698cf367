package model

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/internal/gguf"
)

// RopeStyle says which elements of a head RoPE rotates together.
type RopeStyle int

const (
	// RopeNormal rotates adjacent pairs (2i, 2i+1): llama.
	RopeNormal RopeStyle = iota
	// RopeNeoX rotates (i, i+n/2): qwen2, qwen3, phi3, gemma.
	RopeNeoX
)

func (s RopeStyle) String() string {
	if s == RopeNeoX {
		return "neox"
	}
	return "normal"
}

// Config holds the hyper-parameters of a decoder-only transformer, read
// from the GGUF metadata of its architecture.
type Config struct {
	Arch      string
	Name      string
	NEmbd     int
	NLayer    int
	NFF       int
	NHead     int
	NHeadKV   int
	HeadDim   int // key/query width per head
	HeadDimV  int // value width per head
	NVocab    int
	NCtxTrain int
	NormEps   float32

	RopeStyle     RopeStyle
	RopeBase      float64
	RopeDim       int     // rotated dimensions per head (<= HeadDim)
	RopeFreqScale float64 // 1/linear scaling factor; 1 when unscaled
	// YaRN parameters; YarnExtFactor 0 disables YaRN.
	YarnExtFactor  float64
	YarnOrigCtx    int
	YarnAttnFactor float64

	// Architecture switches.
	QKNorm      bool // per-head RMSNorm of Q and K before RoPE (qwen3, gemma3)
	QKVBias     bool // biases on the q/k/v projections (qwen2)
	FusedQKV    bool // one attn_qkv matrix (phi3)
	FusedGateUp bool // ffn_up holds gate rows then up rows (phi3)
	PostNorms   bool // RMSNorm of each branch before the residual add (gemma2, gemma3)
	GELU        bool // GELU (tanh form) instead of SiLU in the gated FFN (gemma)
	// QPrescale multiplies Q by AttnScale after RoPE, before Q·K (phi3,
	// gemma), instead of scaling the scores (llama, qwen). The math is the
	// same; the rounding of the F16 attention path is not.
	QPrescale bool

	EmbedScale   float32 // multiplies the token embedding; 0 = none (gemma: sqrt(n_embd))
	AttnScale    float32 // multiplies Q·K before the softmax
	AttnSoftcap  float32 // s ← c·tanh(s/c) on attention scores; 0 = none (gemma2)
	FinalSoftcap float32 // the same on the output logits; 0 = none (gemma2)

	// Sliding-window attention: layers for which SlidingLayer returns true
	// see only the SlidingWindow most recent positions, and use
	// LocalRopeBase (when non-zero) without frequency scaling.
	SlidingWindow int
	SlidingLayer  func(layer int) bool `json:"-"`
	LocalRopeBase float64

	// Pooling is the file's <arch>.pooling_type: a decoder that declares
	// one (e.g. Qwen3-Embedding, last-token pooling) also serves
	// embeddings. PoolNone for ordinary generative models.
	Pooling Pooling
}

func (c *Config) String() string {
	return fmt.Sprintf("%s: %d layers, embd %d, ffn %d, heads %d/%d (head dim %d), vocab %d, rope %s base %g dims %d",
		c.Arch, c.NLayer, c.NEmbd, c.NFF, c.NHead, c.NHeadKV, c.HeadDim, c.NVocab, c.RopeStyle, c.RopeBase, c.RopeDim)
}

// archSpec lists what differs between the supported architectures.
type archSpec struct {
	rope        RopeStyle
	qkNorm      bool
	qkvBias     bool
	fusedQKV    bool
	fusedGateUp bool
	gemma       bool                 // embedding scale, post-norms, GELU
	qPrescale   bool                 // Q scaled before Q·K
	sliding     func(layer int) bool // which layers use the sliding window
	localBase   float64              // RoPE base of the sliding-window layers
}

var archs = map[string]archSpec{
	"llama": {rope: RopeNormal},
	"qwen2": {rope: RopeNeoX, qkvBias: true},
	"qwen3": {rope: RopeNeoX, qkNorm: true},
	// phi3 files declare a sliding window, but llama.cpp (and so every
	// reference) runs all its layers with full attention.
	"phi3":   {rope: RopeNeoX, fusedQKV: true, fusedGateUp: true, qPrescale: true},
	"gemma2": {rope: RopeNeoX, gemma: true, qPrescale: true, sliding: func(l int) bool { return l%2 == 0 }},
	"gemma3": {rope: RopeNeoX, gemma: true, qPrescale: true, qkNorm: true, sliding: func(l int) bool { return l%6 < 5 }, localBase: 10000},
}

// SupportedArchitectures lists the values of general.architecture this
// engine runs.
func SupportedArchitectures() []string {
	return []string{"llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3"}
}

// readConfig fills a Config from GGUF metadata, with the defaults llama.cpp
// uses when optional keys are missing.
func readConfig(f *gguf.File) (*Config, error) {
	arch := f.Architecture()
	if arch == "" {
		return nil, fmt.Errorf("model has no general.architecture key")
	}
	spec, ok := archs[arch]
	if !ok {
		return nil, fmt.Errorf("unsupported model architecture %q (supported: %v)", arch, SupportedArchitectures())
	}
	c := &Config{Arch: arch, RopeStyle: spec.rope, QKNorm: spec.qkNorm, QKVBias: spec.qkvBias,
		FusedQKV: spec.fusedQKV, FusedGateUp: spec.fusedGateUp, PostNorms: spec.gemma, GELU: spec.gemma,
		QPrescale: spec.qPrescale}
	c.Name, _ = f.String("general.name")

	required := func(key string) (int, error) {
		v, ok := f.Uint(arch + "." + key)
		if !ok {
			if _, present := f.Lookup(arch + "." + key); present {
				return 0, fmt.Errorf("metadata key %s.%s has an unsupported type (want a single non-negative integer)", arch, key)
			}
			return 0, fmt.Errorf("model is missing metadata key %s.%s", arch, key)
		}
		if v == 0 || v > 1<<24 {
			return 0, fmt.Errorf("metadata key %s.%s = %d is out of range", arch, key, v)
		}
		return int(v), nil
	}
	optional := func(key string, def int) (int, error) {
		if _, present := f.Lookup(arch + "." + key); !present {
			return def, nil
		}
		return required(key)
	}
	var err error
	if c.NEmbd, err = required("embedding_length"); err != nil {
		return nil, err
	}
	if c.NLayer, err = required("block_count"); err != nil {
		return nil, err
	}
	if c.NFF, err = required("feed_forward_length"); err != nil {
		return nil, err
	}
	if c.NHead, err = required("attention.head_count"); err != nil {
		return nil, err
	}
	if c.NHeadKV, err = optional("attention.head_count_kv", c.NHead); err != nil {
		return nil, err
	}
	if c.NHead%c.NHeadKV != 0 {
		return nil, fmt.Errorf("attention.head_count %d is not a multiple of head_count_kv %d", c.NHead, c.NHeadKV)
	}
	if c.HeadDim, err = optional("attention.key_length", c.NEmbd/c.NHead); err != nil {
		return nil, err
	}
	if c.HeadDimV, err = optional("attention.value_length", c.HeadDim); err != nil {
		return nil, err
	}
	if c.NCtxTrain, err = optional("context_length", 2048); err != nil {
		return nil, err
	}
	if c.RopeDim, err = optional("rope.dimension_count", c.HeadDim); err != nil {
		return nil, err
	}
	if c.RopeDim > c.HeadDim || c.RopeDim%2 != 0 {
		return nil, fmt.Errorf("rope.dimension_count %d does not fit head dimension %d", c.RopeDim, c.HeadDim)
	}
	eps, ok := f.Float(arch + ".attention.layer_norm_rms_epsilon")
	if !ok {
		eps = 1e-5
	}
	c.NormEps = float32(eps)
	c.RopeBase = 10000
	if b, ok := f.Float(arch + ".rope.freq_base"); ok {
		c.RopeBase = b
	}
	if !(c.RopeBase > 0) || math.IsInf(c.RopeBase, 0) {
		return nil, fmt.Errorf("rope.freq_base %g is not a positive number", c.RopeBase)
	}
	c.RopeFreqScale = 1
	scaling, _ := f.String(arch + ".rope.scaling.type")
	factor, hasFactor := f.Float(arch + ".rope.scaling.factor")
	switch scaling {
	case "", "none":
		// A bare factor without a type means linear scaling in older files.
		if hasFactor && factor > 1 && scaling == "" {
			c.RopeFreqScale = 1 / factor
		}
	case "linear":
		if !hasFactor || !(factor > 0) {
			return nil, fmt.Errorf("rope.scaling.type linear needs a positive rope.scaling.factor")
		}
		c.RopeFreqScale = 1 / factor
	case "yarn":
		if !hasFactor || !(factor > 0) {
			return nil, fmt.Errorf("rope.scaling.type yarn needs a positive rope.scaling.factor")
		}
		c.RopeFreqScale = 1 / factor
		c.YarnExtFactor = 1
		orig, _ := optional("rope.scaling.original_context_length", c.NCtxTrain)
		c.YarnOrigCtx = orig
		c.YarnAttnFactor = 1
		if af, ok := f.Float(arch + ".rope.scaling.attn_factor"); ok && af > 0 {
			c.YarnAttnFactor = af
		}
	default:
		return nil, fmt.Errorf("unsupported rope scaling type %q", scaling)
	}

	if p, ok := f.Uint(arch + ".pooling_type"); ok {
		switch Pooling(p) {
		case PoolNone, PoolMean, PoolCLS, PoolLast:
			c.Pooling = Pooling(p)
		default:
			return nil, fmt.Errorf("unsupported %s.pooling_type %d", arch, p)
		}
	}

	c.AttnScale = float32(1 / math.Sqrt(float64(c.HeadDim)))
	if spec.gemma {
		c.EmbedScale = float32(math.Sqrt(float64(c.NEmbd)))
		// Gemma 2 27B (46 layers) and Gemma 3 27B (62 layers) scale queries
		// by 1/sqrt(n_embd/n_head) instead of 1/sqrt(head_dim).
		if (arch == "gemma2" && c.NLayer == 46) || (arch == "gemma3" && c.NLayer == 62) {
			c.AttnScale = float32(1 / math.Sqrt(float64(c.NEmbd/c.NHead)))
		}
		if v, ok := f.Float(arch + ".attn_logit_softcapping"); ok {
			c.AttnSoftcap = float32(v)
		}
		if v, ok := f.Float(arch + ".final_logit_softcapping"); ok {
			c.FinalSoftcap = float32(v)
		}
	}
	if spec.sliding != nil {
		w, err := required("attention.sliding_window")
		if err != nil {
			return nil, err
		}
		c.SlidingWindow = w
		c.SlidingLayer = spec.sliding
		c.LocalRopeBase = spec.localBase
	}
	return c, nil
}

// ReadConfig reads the hyper-parameters of the model in f without binding
// its weights, e.g. to estimate memory before loading.
func ReadConfig(f *gguf.File) (*Config, error) { return readConfig(f) }

// KVCacheBytes is the memory the KV cache of one sequence of numCtx
// positions takes (an upper bound for sliding-window models): F16 entries
// in the fast mode, float32 ones in the exact mode (Options.Exact), as
// Sequence.CacheBytes counts them.
func (c *Config) KVCacheBytes(numCtx int, exact bool) int64 {
	entry, vRows := int64(2), int64(numCtx+31)&^31 // fast: V transposed, rows padded
	if exact {
		entry, vRows = 4, int64(numCtx)
	}
	perLayer := int64(numCtx)*int64(c.NHeadKV*c.HeadDim) + vRows*int64(c.NHeadKV*c.HeadDimV)
	return int64(c.NLayer) * perLayer * entry
}
