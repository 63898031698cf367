package store

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/tensor"
)

// QuantizeTypes are the targets `create --quantize` accepts, in the order
// help texts list them.
var QuantizeTypes = []FileType{
	FileTypeQ8_0, FileTypeQ4_0, FileTypeQ4_1, FileTypeQ5_0, FileTypeQ5_1,
	FileTypeQ2_K, FileTypeQ3_K_S, FileTypeQ3_K_M, FileTypeQ3_K_L,
	FileTypeQ4_K_S, FileTypeQ4_K_M, FileTypeQ5_K_S, FileTypeQ5_K_M, FileTypeQ6_K,
}

// baseType is the tensor type a file type quantizes most weights to; the
// mixing rules then move some tensors to other types.
var baseType = map[FileType]tensor.Type{
	FileTypeQ4_0: tensor.Q4_0, FileTypeQ4_1: tensor.Q4_1, FileTypeQ5_0: tensor.Q5_0,
	FileTypeQ5_1: tensor.Q5_1, FileTypeQ8_0: tensor.Q8_0, FileTypeQ2_K: tensor.Q2_K,
	FileTypeQ3_K_S: tensor.Q3_K, FileTypeQ3_K_M: tensor.Q3_K, FileTypeQ3_K_L: tensor.Q3_K,
	FileTypeQ4_K_S: tensor.Q4_K, FileTypeQ4_K_M: tensor.Q4_K, FileTypeQ5_K_S: tensor.Q5_K,
	FileTypeQ5_K_M: tensor.Q5_K, FileTypeQ6_K: tensor.Q6_K,
}

// ParseQuantizeType parses a --quantize argument such as "q4_K_M".
func ParseQuantizeType(s string) (FileType, error) {
	ft, ok := ParseFileType(strings.TrimSpace(s))
	if ok {
		if _, ok := baseType[ft]; ok {
			return ft, nil
		}
	}
	var names []string
	for _, t := range QuantizeTypes {
		names = append(names, strings.ToLower(t.String()))
	}
	return 0, fmt.Errorf("unsupported quantization type %q: want one of %s", s, strings.Join(names, ", "))
}

// QuantizeOptions controls Quantize.
type QuantizeOptions struct {
	Type FileType
	// Pure gives every quantized tensor the type's base type, with no
	// mixing and no fallbacks (llama-quantize --pure).
	Pure bool
	// Threads is the number of goroutines (0 = one per CPU).
	Threads int
	// Progress, when set, is called after each tensor with the source
	// bytes done and the total.
	Progress func(done, total int64)
}

// PlannedTensor is one tensor of the output and the type it gets.
type PlannedTensor struct {
	Src  *gguf.TensorInfo
	Type tensor.Type
	// Quantize is false for tensors copied unchanged (norms, biases,
	// 1-D tensors, position embeddings...).
	Quantize bool
}

// quantizeState is the per-file context the mixing rules need: counters
// of the attn_v and ffn_down tensors seen so far, in processing order.
type quantizeState struct {
	arch         string
	ftype        FileType
	nLayer       int
	nHead        int
	nHeadKV      int
	nExpert      int
	hasOutput    bool
	is70B        bool
	nAttnV       int
	iAttnV       int
	iFFNDown     int
	iFFNGate     int
	iFFNUp       int
	nFFNDown     int
	nFFNGateUp   int
	nFallback    int
	nKQuantized  int
	fallbackList []string
}

// Plan decides the output type of every tensor of src for file type ft,
// following llama.cpp's llama-quantize (which Ollama follows too): only
// 2-D+ tensors whose names end in "weight" are quantized, never norms,
// position embeddings or token types; without Pure, the output (or, when
// tied, the token embedding) goes to Q6_K, and the K-quant mixes give
// more bits to some attn_v / ffn_down / attn_output / attn_qkv tensors.
// A tensor whose rows are not whole blocks of its type falls back (Q4_K
// to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, Q2_K/Q3_K to IQ4_NL, then F16).
// The tensors are returned in llama.cpp's processing order: tensors
// outside blocks first, then block by block, by name within each.
func Plan(src *gguf.File, ft FileType, pure bool) ([]PlannedTensor, error) {
	def, ok := baseType[ft]
	if !ok {
		return nil, fmt.Errorf("quantize: %s is not a quantization target", ft)
	}
	qs := newQuantizeState(src, ft)
	order := append([]*gguf.TensorInfo(nil), src.Tensors...)
	sort.SliceStable(order, func(i, j int) bool { return tensorLess(order[i].Name, order[j].Name) })

	// Count the attention value tensors first: the attn_v rules depend on
	// how many there are.
	for _, t := range order {
		if strings.Contains(t.Name, "attn_v.weight") || strings.Contains(t.Name, "attn_qkv.weight") || strings.Contains(t.Name, "attn_kv_b.weight") {
			qs.nAttnV++
		}
	}

	out := make([]PlannedTensor, 0, len(order))
	for _, t := range order {
		p := PlannedTensor{Src: t, Type: t.Type}
		if shouldQuantize(t) {
			newType := def
			if !pure {
				var err error
				newType, err = qs.tensorType(def, t)
				if err != nil {
					return nil, err
				}
			}
			if newType != t.Type {
				switch t.Type {
				case tensor.F32, tensor.F16, tensor.BF16:
				default:
					return nil, fmt.Errorf("quantize: tensor %s is %s; only F32, F16 and BF16 models can be quantized", t.Name, t.Type)
				}
				if _, err := newType.RowBytes(int(t.Dims[0])); err != nil {
					return nil, fmt.Errorf("quantize: tensor %s %v cannot be %s: %v", t.Name, t.Dims, newType, err)
				}
				p.Type, p.Quantize = newType, true
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// tensorLess is llama.cpp's weight order: tensors outside blocks (layer
// -1) first, then by block number, then by name.
func tensorLess(a, b string) bool {
	la, lb := blockIndex(a), blockIndex(b)
	if la != lb {
		return la < lb
	}
	return a < b
}

// blockIndex returns n for a name starting with "blk.<n>.", else -1.
func blockIndex(name string) int {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return -1
	}
	i := strings.IndexByte(rest, '.')
	if i <= 0 {
		return -1
	}
	n, err := strconv.Atoi(rest[:i])
	if err != nil {
		return -1
	}
	return n
}

// nDims is ggml_n_dims: the number of dimensions up to the last one
// larger than 1.
func nDims(t *gguf.TensorInfo) int {
	n := 1
	for i, d := range t.Dims {
		if d > 1 {
			n = i + 1
		}
	}
	return n
}

// shouldQuantize reports whether llama-quantize would quantize t at all.
func shouldQuantize(t *gguf.TensorInfo) bool {
	name := t.Name
	if !strings.HasSuffix(name, "weight") || nDims(t) < 2 {
		return false
	}
	for _, s := range []string{"_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
		"ssm_conv1d.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
		"time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight",
		"time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
		"time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight"} {
		if strings.Contains(name, s) {
			return false
		}
	}
	return name != "position_embd.weight" && name != "token_types.weight"
}

func newQuantizeState(f *gguf.File, ft FileType) *quantizeState {
	arch := f.Architecture()
	qs := &quantizeState{arch: arch, ftype: ft}
	u := func(key string) int {
		if v, ok := f.Uint(arch + "." + key); ok && v < 1<<31 {
			return int(v)
		}
		if a, ok := f.Int32s(arch + "." + key); ok && len(a) > 0 && a[0] >= 0 {
			return int(a[0])
		}
		return 0
	}
	qs.nLayer = u("block_count")
	qs.nHead = u("attention.head_count")
	qs.nHeadKV = u("attention.head_count_kv")
	if qs.nHeadKV == 0 {
		qs.nHeadKV = qs.nHead
	}
	qs.nExpert = u("expert_count")
	qs.nFFNDown, qs.nFFNGateUp = qs.nLayer, qs.nLayer
	_, qs.hasOutput = f.Tensor("output.weight")
	// llama.cpp's LLM_TYPE_70B: 80 layers with grouped-query attention.
	qs.is70B = qs.nLayer == 80 && qs.nHead != qs.nHeadKV && (arch == "llama" || arch == "qwen2")
	return qs
}

func (qs *quantizeState) nGQA() int {
	if qs.nHeadKV == 0 {
		return 1
	}
	return qs.nHead / qs.nHeadKV
}

// useMoreBits is llama.cpp's choice of the layers that get more bits in
// the _M mixes: the first and last eighth, and every third in between.
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// layerOf returns the layer of a per-layer tensor: the running counter,
// or for mixture-of-experts models the number in its name.
func (qs *quantizeState) layerOf(counter, n int, name string) (int, int, error) {
	if qs.nExpert > 1 {
		i := blockIndex(name)
		if i < 0 || i >= n {
			return 0, 0, fmt.Errorf("quantize: cannot tell the layer of tensor %s", name)
		}
		return i, n, nil
	}
	return counter, n, nil
}

// tensorType is llama.cpp's llama_tensor_get_type for the file types
// Golem can produce.
func (qs *quantizeState) tensorType(newType tensor.Type, t *gguf.TensorInfo) (tensor.Type, error) {
	name := t.Name
	ft := qs.ftype
	nx := int(t.Dims[0])
	switch {
	case name == "output.weight" || (!qs.hasOutput && name == "token_embd.weight"):
		// A tied embedding is also the output matrix: quantize it as one.
		if qs.arch == "falcon" || nx%newType.BlockSize() != 0 {
			newType = tensor.Q8_0
		} else if newType != tensor.Q8_0 {
			newType = tensor.Q6_K
		}
	case name == "token_embd.weight":
		// Unchanged for the types Golem produces.
	case strings.Contains(name, "attn_v.weight"):
		switch {
		case ft == FileTypeQ2_K:
			if qs.nGQA() >= 4 {
				newType = tensor.Q4_K
			} else {
				newType = tensor.Q3_K
			}
		case ft == FileTypeQ3_K_M:
			if qs.iAttnV < 2 {
				newType = tensor.Q5_K
			} else {
				newType = tensor.Q4_K
			}
		case ft == FileTypeQ3_K_L:
			newType = tensor.Q5_K
		case (ft == FileTypeQ4_K_M || ft == FileTypeQ5_K_M) && useMoreBits(qs.iAttnV, qs.nAttnV):
			newType = tensor.Q6_K
		case ft == FileTypeQ4_K_S && qs.iAttnV < 4:
			newType = tensor.Q5_K
		}
		if qs.is70B && (newType == tensor.Q3_K || newType == tensor.Q4_K) {
			newType = tensor.Q5_K
		}
		if qs.nExpert == 8 {
			newType = tensor.Q8_0
		}
		qs.iAttnV++
	case strings.Contains(name, "attn_k.weight"):
		if qs.nExpert == 8 {
			newType = tensor.Q8_0
		}
	case strings.Contains(name, "attn_q.weight"):
		// Only the IQ mixes change attn_q.
	case strings.Contains(name, "ffn_down"):
		i, n, err := qs.layerOf(qs.iFFNDown, qs.nFFNDown, name)
		if err != nil {
			return 0, err
		}
		switch {
		case ft == FileTypeQ2_K:
			newType = tensor.Q3_K
		case ft == FileTypeQ3_K_M:
			switch {
			case i < n/16:
				newType = tensor.Q5_K
			case qs.arch != "falcon" || useMoreBits(i, n):
				newType = tensor.Q4_K
			default:
				newType = tensor.Q3_K
			}
		case ft == FileTypeQ3_K_L:
			if qs.arch == "falcon" {
				newType = tensor.Q4_K
			} else {
				newType = tensor.Q5_K
			}
		case ft == FileTypeQ4_K_M:
			if qs.arch == "falcon" {
				switch {
				case i < n/16:
					newType = tensor.Q6_K
				case useMoreBits(i, n):
					newType = tensor.Q5_K
				default:
					newType = tensor.Q4_K
				}
			} else if useMoreBits(i, n) {
				newType = tensor.Q6_K
			}
		case ft == FileTypeQ5_K_M && useMoreBits(i, n):
			newType = tensor.Q6_K
		case ft == FileTypeQ4_K_S && qs.arch != "falcon" && i < n/8:
			newType = tensor.Q5_K
		}
		qs.iFFNDown++
	case strings.Contains(name, "attn_output.weight"):
		if qs.arch != "falcon" {
			if qs.nExpert == 8 {
				switch ft {
				case FileTypeQ2_K, FileTypeQ3_K_S, FileTypeQ3_K_M, FileTypeQ4_K_S, FileTypeQ4_K_M:
					newType = tensor.Q5_K
				}
			} else {
				switch ft {
				case FileTypeQ2_K:
					newType = tensor.Q3_K
				case FileTypeQ3_K_M:
					newType = tensor.Q4_K
				case FileTypeQ3_K_L:
					newType = tensor.Q5_K
				}
			}
		} else if ft == FileTypeQ3_K_L {
			newType = tensor.Q4_K
		}
	case strings.Contains(name, "attn_qkv.weight"):
		switch ft {
		case FileTypeQ3_K_M, FileTypeQ3_K_L:
			newType = tensor.Q4_K
		case FileTypeQ4_K_M:
			newType = tensor.Q5_K
		case FileTypeQ5_K_M:
			newType = tensor.Q6_K
		}
	case strings.Contains(name, "ffn_gate"):
		qs.iFFNGate++
	case strings.Contains(name, "ffn_up"):
		qs.iFFNUp++
	}

	// Rows that are not whole blocks of the chosen type fall back to a
	// type with 32-element blocks, or to F16.
	if nx%newType.BlockSize() != 0 {
		switch newType {
		case tensor.Q2_K, tensor.Q3_K, tensor.IQ4_XS:
			newType = tensor.IQ4_NL
		case tensor.Q4_K:
			newType = tensor.Q5_0
		case tensor.Q5_K:
			newType = tensor.Q5_1
		case tensor.Q6_K:
			newType = tensor.Q8_0
		default:
			return 0, fmt.Errorf("quantize: tensor %s has rows of %d, not a multiple of the %s block size %d", name, nx, newType, newType.BlockSize())
		}
		if nx%newType.BlockSize() != 0 {
			newType = tensor.F16
		}
		qs.nFallback++
		qs.fallbackList = append(qs.fallbackList, name)
	} else {
		qs.nKQuantized++
	}
	return newType, nil
}

// Quantize writes a quantized copy of src to w, with the tensor types Plan
// chooses. The metadata is copied, with general.quantization_version set
// to 2 and general.file_type to the target, both moved to the end as
// llama-quantize does. Quantization uses the engine's quantizers row by
// row, in parallel.
func Quantize(ctx context.Context, src *gguf.File, w io.Writer, opts QuantizeOptions) error {
	plan, err := Plan(src, opts.Type, opts.Pure)
	if err != nil {
		return err
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	var total, done int64
	for _, p := range plan {
		total += int64(len(p.Src.Data))
	}
	out := make([]gguf.WriteTensor, len(plan))
	for i, p := range plan {
		if err := ctx.Err(); err != nil {
			return err
		}
		data := p.Src.Data
		if p.Quantize {
			data, err = quantizeTensor(p.Src, p.Type, threads)
			if err != nil {
				return err
			}
		}
		out[i] = gguf.WriteTensor{Name: p.Src.Name, Dims: p.Src.Dims, Type: p.Type, Data: data}
		done += int64(len(p.Src.Data))
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	kvs := make([]gguf.KV, 0, len(src.KVs)+2)
	for _, kv := range src.KVs {
		if kv.Key == "general.quantization_version" || kv.Key == "general.file_type" {
			continue
		}
		kvs = append(kvs, kv)
	}
	kvs = append(kvs,
		gguf.KV{Key: "general.quantization_version", Value: uint32(2)},
		gguf.KV{Key: "general.file_type", Value: uint32(opts.Type)})
	return gguf.Write(w, kvs, out)
}

// quantizeTensor converts a tensor's rows to float32 and quantizes them to
// typ, splitting the rows among threads goroutines.
func quantizeTensor(t *gguf.TensorInfo, typ tensor.Type, threads int) ([]byte, error) {
	n := int(t.Dims[0])
	rows := int(t.Rows())
	inRow, err := t.Type.RowBytes(n)
	if err != nil {
		return nil, fmt.Errorf("quantize: tensor %s: %v", t.Name, err)
	}
	outRow, err := typ.RowBytes(n)
	if err != nil {
		return nil, fmt.Errorf("quantize: tensor %s: %v", t.Name, err)
	}
	if len(t.Data) != rows*inRow {
		return nil, fmt.Errorf("quantize: tensor %s: has %d bytes, want %d", t.Name, len(t.Data), rows*inRow)
	}
	dst := make([]byte, rows*outRow)
	workers := min(threads, rows)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]float32, n)
			for r := w; r < rows; r += workers {
				if err := tensor.Dequantize(t.Type, t.Data[r*inRow:(r+1)*inRow], buf); err != nil {
					errs[w] = fmt.Errorf("quantize: tensor %s row %d: %v", t.Name, r, err)
					return
				}
				if err := tensor.Quantize(typ, buf, dst[r*outRow:(r+1)*outRow]); err != nil {
					errs[w] = fmt.Errorf("quantize: tensor %s row %d to %s: %v", t.Name, r, typ, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return dst, nil
}
