// Package genmodel builds random-weight GGUF models of any llama or qwen2
// shape and tensor type, deterministically from a seed, so that anyone can
// rebuild the models the engine's benchmarks run on. The weights are
// random (normal, scaled like an initialised network) and quantized with
// the engine's quantizers, which are bit-exact with llama-quantize; the
// files carry a small byte-fallback SentencePiece vocabulary so that they
// load everywhere a real model does. The output is gibberish by design.
package genmodel

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/tensor"
)

// Shape is a decoder-only transformer's hyper-parameters.
type Shape struct {
	Arch     string // "llama" or "qwen2"
	NEmbd    int
	NLayer   int
	NFF      int
	NHead    int
	NHeadKV  int
	NVocab   int
	NCtx     int
	RopeBase float64
}

// Shapes are the named shapes of the benchmark table.
var Shapes = map[string]Shape{
	// TinyLlama-1.1B.
	"tinyllama-1.1b": {Arch: "llama", NEmbd: 2048, NLayer: 22, NFF: 5632, NHead: 32, NHeadKV: 4, NVocab: 32000, NCtx: 2048, RopeBase: 10000},
	// A 0.2B llama.
	"llama-0.2b": {Arch: "llama", NEmbd: 1024, NLayer: 12, NFF: 2816, NHead: 16, NHeadKV: 4, NVocab: 32000, NCtx: 2048, RopeBase: 10000},
	// A tiny shape for tests.
	"tiny": {Arch: "llama", NEmbd: 256, NLayer: 2, NFF: 512, NHead: 4, NHeadKV: 2, NVocab: 512, NCtx: 512, RopeBase: 10000},
}

// ShapeNames lists the named shapes, sorted.
func ShapeNames() []string {
	var names []string
	for n := range Shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Types are the file types Generate makes: every weight type the engine
// computes with, and the Q4_K_M mix.
var Types = []string{"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q4_K_M"}

// Params counts the weights of a shape.
func (s Shape) Params() int64 {
	hd := s.NEmbd / s.NHead
	kv := s.NHeadKV * hd
	perLayer := int64(s.NEmbd)*int64(s.NEmbd)*2 + int64(s.NEmbd)*int64(kv)*2 + 3*int64(s.NEmbd)*int64(s.NFF) + 2*int64(s.NEmbd)
	n := int64(s.NLayer) * perLayer
	n += int64(s.NVocab) * int64(s.NEmbd) // embedding
	if s.Arch == "llama" {
		n += int64(s.NVocab) * int64(s.NEmbd) // separate output matrix
	}
	return n + int64(s.NEmbd)
}

func (s Shape) check() error {
	if s.Arch != "llama" && s.Arch != "qwen2" {
		return fmt.Errorf("genmodel: architecture %q not supported (llama, qwen2)", s.Arch)
	}
	if s.NEmbd <= 0 || s.NLayer <= 0 || s.NFF <= 0 || s.NHead <= 0 || s.NHeadKV <= 0 || s.NVocab < 260 || s.NCtx <= 0 {
		return fmt.Errorf("genmodel: invalid shape %+v (vocabulary needs at least 260 tokens)", s)
	}
	if s.NEmbd%s.NHead != 0 || s.NHead%s.NHeadKV != 0 || (s.NEmbd/s.NHead)%2 != 0 {
		return fmt.Errorf("genmodel: heads do not divide the embedding: %+v", s)
	}
	return nil
}

// tensorSpec is one tensor to generate.
type tensorSpec struct {
	name  string
	dims  []uint64 // GGUF order: row length first
	std   float64  // normal(0, std); 0 means a norm weight around 1
	bias  bool
	typ   tensor.Type
	layer int
}

// Plan returns the tensors of a shape with the types file type ftype gives
// them, following llama-quantize: norms and biases stay F32; for Q4_K_M
// the output matrix is Q6_K and the attention value and FFN down matrices
// of the layers llama.cpp's use_more_bits picks are Q6_K, the rest Q4_K;
// for the other quantized types the output matrix is Q6_K (Q8_0 stays
// Q8_0) and everything else is the base type.
func Plan(s Shape, ftype string) ([]tensorSpec, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	base, mix := tensor.Type(0), false
	switch strings.ToUpper(ftype) {
	case "Q4_K_M":
		base, mix = tensor.Q4_K, true
	default:
		t, ok := tensor.ParseType(ftype)
		if !ok || !tensor.Supported(t) || t == tensor.Q8_1 || t == tensor.Q8_K {
			return nil, fmt.Errorf("genmodel: unknown or unsupported type %q (have %s)", ftype, strings.Join(Types, ", "))
		}
		base = t
	}
	quantized := base != tensor.F32 && base != tensor.F16 && base != tensor.BF16
	hd := s.NEmbd / s.NHead
	kv := uint64(s.NHeadKV * hd)
	E, F, V := uint64(s.NEmbd), uint64(s.NFF), uint64(s.NVocab)
	useMoreBits := func(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

	outType := base
	if quantized && base != tensor.Q8_0 {
		outType = tensor.Q6_K
	}
	var specs []tensorSpec
	add := func(name string, std float64, t tensor.Type, layer int, dims ...uint64) {
		specs = append(specs, tensorSpec{name: name, dims: dims, std: std, typ: t, layer: layer})
	}
	embType := base
	if s.Arch == "qwen2" {
		embType = outType // tied: the embedding is the output matrix
	}
	add("token_embd.weight", 1, embType, -1, E, V)
	add("output_norm.weight", 0, tensor.F32, -1, E)
	if s.Arch == "llama" {
		add("output.weight", 1/math.Sqrt(float64(E)), outType, -1, E, V)
	}
	for i := 0; i < s.NLayer; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		vType, downType := base, base
		if mix && useMoreBits(i, s.NLayer) {
			vType, downType = tensor.Q6_K, tensor.Q6_K
		}
		w := 1 / math.Sqrt(float64(E))
		add(p+"attn_norm.weight", 0, tensor.F32, i, E)
		add(p+"attn_q.weight", w, base, i, E, E)
		add(p+"attn_k.weight", w, base, i, E, kv)
		add(p+"attn_v.weight", w, vType, i, E, kv)
		if s.Arch == "qwen2" {
			for _, b := range []struct {
				n string
				d uint64
			}{{"attn_q.bias", E}, {"attn_k.bias", kv}, {"attn_v.bias", kv}} {
				specs = append(specs, tensorSpec{name: p + b.n, dims: []uint64{b.d}, std: 0.02, bias: true, typ: tensor.F32, layer: i})
			}
		}
		add(p+"attn_output.weight", w, base, i, E, E)
		add(p+"ffn_norm.weight", 0, tensor.F32, i, E)
		add(p+"ffn_gate.weight", w, base, i, E, F)
		add(p+"ffn_up.weight", w, base, i, E, F)
		add(p+"ffn_down.weight", 1/math.Sqrt(float64(F)), downType, i, F, E)
	}
	for _, sp := range specs {
		if _, err := sp.typ.RowBytes(int(sp.dims[0])); err != nil {
			return nil, fmt.Errorf("genmodel: tensor %s cannot be %s: %v", sp.name, sp.typ, err)
		}
	}
	return specs, nil
}

// fileType is general.file_type for a file type name (llama.cpp's
// LLAMA_FTYPE_MOSTLY_* numbers).
var fileType = map[string]uint32{
	"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10,
	"Q3_K": 12, "Q4_K": 14, "Q4_K_M": 15, "Q5_K": 16, "Q6_K": 18, "BF16": 32,
}

// Options control Generate.
type Options struct {
	Seed     uint64
	Threads  int                     // goroutines quantizing (0 = one per CPU)
	Progress func(done, total int64) // called after each tensor with elements done
}

// Generate writes a random model of the given shape and file type to path
// (atomically). The same shape, type and seed always give the same bytes.
func Generate(ctx context.Context, path string, s Shape, ftype string, opts Options) error {
	specs, err := Plan(s, ftype)
	if err != nil {
		return err
	}
	kvs := metadata(s, strings.ToUpper(ftype))
	var total int64
	for _, sp := range specs {
		total += elements(sp.dims)
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	tensors := make([]gguf.WriteTensor, len(specs))
	var (
		mu   sync.Mutex
		done int64
		next int
		werr error
		wg   sync.WaitGroup
	)
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= len(specs) || werr != nil {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := ctx.Err(); err != nil {
					mu.Lock()
					werr = err
					mu.Unlock()
					return
				}
				data, err := fill(specs[i], opts.Seed)
				mu.Lock()
				if err != nil && werr == nil {
					werr = err
				}
				tensors[i] = gguf.WriteTensor{Name: specs[i].name, Dims: specs[i].dims, Type: specs[i].typ, Data: data}
				done += elements(specs[i].dims)
				if opts.Progress != nil {
					opts.Progress(done, total)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if werr != nil {
		return werr
	}
	return gguf.WriteFile(path, kvs, tensors)
}

func elements(dims []uint64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= int64(d)
	}
	return n
}

// fill generates one tensor's values from its own random stream (seeded by
// the global seed and the tensor's name, so tensors can be made in any
// order) and converts them to its type row by row.
func fill(sp tensorSpec, seed uint64) ([]byte, error) {
	h := fnv.New64a()
	h.Write([]byte(sp.name))
	r := rand.New(rand.NewPCG(seed, h.Sum64()))
	cols := int(sp.dims[0])
	rows := int(elements(sp.dims) / int64(cols))
	rb, err := sp.typ.RowBytes(cols)
	if err != nil {
		return nil, err
	}
	out := make([]byte, rows*rb)
	row := make([]float32, cols)
	for i := 0; i < rows; i++ {
		for j := range row {
			switch {
			case sp.std == 0:
				row[j] = float32(1 + 0.1*r.NormFloat64())
			default:
				row[j] = float32(sp.std * r.NormFloat64())
			}
		}
		if err := tensor.Quantize(sp.typ, row, out[i*rb:(i+1)*rb]); err != nil {
			return nil, fmt.Errorf("genmodel: %s: %v", sp.name, err)
		}
	}
	return out, nil
}

// metadata is the GGUF header of a generated model: the architecture's
// hyper-parameters and a byte-fallback SentencePiece vocabulary (<unk>,
// <s>, </s>, the 256 byte tokens, then words "t263", "t264", ...).
func metadata(s Shape, ftype string) []gguf.KV {
	a := s.Arch
	hd := s.NEmbd / s.NHead
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: a},
		{Key: "general.name", Value: fmt.Sprintf("golem-genmodel %s %dx%d %s", a, s.NLayer, s.NEmbd, ftype)},
		{Key: "general.file_type", Value: fileType[ftype]},
		{Key: a + ".context_length", Value: uint32(s.NCtx)},
		{Key: a + ".embedding_length", Value: uint32(s.NEmbd)},
		{Key: a + ".block_count", Value: uint32(s.NLayer)},
		{Key: a + ".feed_forward_length", Value: uint32(s.NFF)},
		{Key: a + ".attention.head_count", Value: uint32(s.NHead)},
		{Key: a + ".attention.head_count_kv", Value: uint32(s.NHeadKV)},
		{Key: a + ".rope.dimension_count", Value: uint32(hd)},
		{Key: a + ".rope.freq_base", Value: float32(s.RopeBase)},
		{Key: a + ".attention.layer_norm_rms_epsilon", Value: float32(1e-5)},
	}
	tokens := make([]string, s.NVocab)
	scores := make([]float32, s.NVocab)
	types := make([]int32, s.NVocab)
	tokens[0], tokens[1], tokens[2] = "<unk>", "<s>", "</s>"
	types[0], types[1], types[2] = 2, 3, 3
	for b := 0; b < 256; b++ {
		tokens[3+b] = fmt.Sprintf("<0x%02X>", b)
		types[3+b] = 6
	}
	for i := 259; i < s.NVocab; i++ {
		tokens[i] = fmt.Sprintf("\u2581t%d", i)
		scores[i] = -float32(i)
		types[i] = 1
	}
	kvs = append(kvs,
		gguf.KV{Key: "tokenizer.ggml.model", Value: "llama"},
		gguf.KV{Key: "tokenizer.ggml.tokens", Value: gguf.Array{Type: gguf.TypeString, Values: tokens}},
		gguf.KV{Key: "tokenizer.ggml.scores", Value: gguf.Array{Type: gguf.TypeFloat32, Values: scores}},
		gguf.KV{Key: "tokenizer.ggml.token_type", Value: gguf.Array{Type: gguf.TypeInt32, Values: types}},
		gguf.KV{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
		gguf.KV{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
		gguf.KV{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
	)
	return kvs
}
