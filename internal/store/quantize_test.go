package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/internal/testutil"
)

// pureRef maps a tensor type to the synthetic file made with
// `llama-quantize --pure` for it (MANIFEST.md §8): every quantized tensor
// of ours must equal the same tensor of the file of its type.
var pureRef = map[tensor.Type]string{
	tensor.Q8_0: "Q8_0", tensor.Q4_0: "Q4_0", tensor.Q4_1: "Q4_1", tensor.Q5_0: "Q5_0",
	tensor.Q5_1: "Q5_1", tensor.Q2_K: "Q2_K", tensor.Q3_K: "Q3_K", tensor.Q4_K: "Q4_K",
	tensor.Q5_K: "Q5_K", tensor.Q6_K: "Q6_K",
}

func openRef(t *testing.T, cache map[string]*gguf.File, name string) *gguf.File {
	t.Helper()
	if f, ok := cache[name]; ok {
		return f
	}
	f, err := gguf.Open(testutil.Shared(t, "testdata", "models", "synthetic", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cache[name] = f
	return f
}

// quantizeToFile runs Quantize on a synthetic F32 file and parses the result.
func quantizeToFile(t *testing.T, src *gguf.File, ft FileType, pure bool) (*gguf.File, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := Quantize(context.Background(), src, &buf, QuantizeOptions{Type: ft, Pure: pure}); err != nil {
		t.Fatalf("quantize %s: %v", ft, err)
	}
	out, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("quantize %s: output does not parse: %v", ft, err)
	}
	return out, buf.Bytes()
}

// compareTensors checks every tensor of got against the reference file of
// its type, byte for byte, and reports the differences it found. When a
// tensor differs it measures the largest difference of the dequantized
// values relative to the tensor's largest |w|.
func compareTensors(t *testing.T, cache map[string]*gguf.File, model string, src, got *gguf.File) (identical, differ int, worst float64) {
	t.Helper()
	for _, gt := range got.Tensors {
		st, ok := src.Tensor(gt.Name)
		if !ok {
			t.Errorf("%s: output has tensor %s the source lacks", model, gt.Name)
			continue
		}
		var want []byte
		switch gt.Type {
		case tensor.F32:
			want = st.Data
		default:
			ref, ok := pureRef[gt.Type]
			if !ok {
				t.Errorf("%s: tensor %s has type %s with no reference file", model, gt.Name, gt.Type)
				continue
			}
			rf := openRef(t, cache, fmt.Sprintf("%s-%s.gguf", model, ref))
			rt, ok := rf.Tensor(gt.Name)
			if !ok || rt.Type != gt.Type {
				t.Errorf("%s: reference %s has no %s tensor %s", model, ref, gt.Type, gt.Name)
				continue
			}
			want = rt.Data
		}
		if bytes.Equal(gt.Data, want) {
			identical++
			continue
		}
		differ++
		n := int(gt.Elements())
		a, b := make([]float32, n), make([]float32, n)
		if err := tensor.Dequantize(gt.Type, gt.Data, a); err != nil {
			t.Fatal(err)
		}
		if err := tensor.Dequantize(gt.Type, want, b); err != nil {
			t.Fatal(err)
		}
		orig := make([]float32, n)
		if err := tensor.Dequantize(st.Type, st.Data, orig); err != nil {
			t.Fatal(err)
		}
		var maxAbs, maxDiff float64
		for i := range orig {
			maxAbs = math.Max(maxAbs, math.Abs(float64(orig[i])))
			maxDiff = math.Max(maxDiff, math.Abs(float64(a[i]-b[i])))
		}
		rel := maxDiff / maxAbs
		worst = math.Max(worst, rel)
		t.Logf("%s: %s (%s) differs from llama-quantize: max |Δ| %.3g = %.3g of max |w|", model, gt.Name, gt.Type, maxDiff, rel)
	}
	return identical, differ, worst
}

// TestQuantizeMatchesLlamaQuantize quantizes the synthetic F32 models to
// every supported type and compares each tensor with the llama-quantize
// output of that tensor type. The single-type reference files were made
// with --pure, so the pure variant must match them exactly, file layout
// included; the mixed variants (the default, as in Ollama) put some
// tensors in other types, and each of those must match the pure file of
// its own type.
func TestQuantizeMatchesLlamaQuantize(t *testing.T) {
	models := []string{"syn-llama-256", "syn-qwen2-256", "syn-qwen3-256"}
	types := []FileType{FileTypeQ8_0, FileTypeQ4_0, FileTypeQ4_K_S, FileTypeQ4_K_M, FileTypeQ5_K_M, FileTypeQ6_K}
	cache := map[string]*gguf.File{}
	for _, model := range models {
		src := openRef(t, cache, model+"-F32.gguf")
		for _, ft := range types {
			for _, pure := range []bool{false, true} {
				if pure && (ft == FileTypeQ4_K_M || ft == FileTypeQ5_K_M) {
					continue
				}
				name := fmt.Sprintf("%s/%s/pure=%v", model, ft, pure)
				t.Run(name, func(t *testing.T) {
					got, raw := quantizeToFile(t, src, ft, pure)
					identical, differ, worst := compareTensors(t, cache, model, src, got)
					if identical+differ != len(src.Tensors) {
						t.Errorf("compared %d tensors, source has %d", identical+differ, len(src.Tensors))
					}
					// Bound for tensors that are not byte-identical: a
					// quantizer may round a value differently at a tie, moving
					// one element by one quantization step at most.
					if worst > 0.2 {
						t.Errorf("largest difference %.3g of max |w| is more than a quantization step", worst)
					}
					if differ > 0 {
						t.Errorf("%d of %d tensors are not byte-identical to llama-quantize's", differ, identical+differ)
					}
					if pure {
						// The whole file, metadata and order included.
						ref := testutil.Shared(t, "testdata", "models", "synthetic", fmt.Sprintf("%s-%s.gguf", model, pureRef[baseType[ft]]))
						want, err := os.ReadFile(ref)
						if err != nil {
							t.Fatal(err)
						}
						if sha256.Sum256(raw) != sha256.Sum256(want) {
							t.Errorf("file differs from %s (%d vs %d bytes)", filepath.Base(ref), len(raw), len(want))
						}
					}
				})
			}
		}
	}
}

// TestQuantizeMixRules checks the per-tensor types of the Q4_K_M mix
// against llama-quantize's Q4_K_M files, for every model that has one.
func TestQuantizeMixRules(t *testing.T) {
	cache := map[string]*gguf.File{}
	for _, model := range []string{"syn-llama-256", "syn-qwen2-256", "syn-qwen3-256", "syn-phi3-256", "syn-gemma3-256"} {
		src := openRef(t, cache, model+"-F32.gguf")
		ref := openRef(t, cache, model+"-Q4_K_M.gguf")
		plan, err := Plan(src, FileTypeQ4_K_M, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan) != len(ref.Tensors) {
			t.Fatalf("%s: plan has %d tensors, reference %d", model, len(plan), len(ref.Tensors))
		}
		var mixed []string
		for i, p := range plan {
			rt := ref.Tensors[i]
			if p.Src.Name != rt.Name {
				t.Errorf("%s: tensor %d is %s, llama-quantize wrote %s there", model, i, p.Src.Name, rt.Name)
			}
			if r, ok := ref.Tensor(p.Src.Name); !ok || r.Type != p.Type {
				t.Errorf("%s: %s: planned %s, llama-quantize chose %v", model, p.Src.Name, p.Type, r.Type)
			}
			if p.Type != tensor.Q4_K && p.Type != tensor.F32 {
				mixed = append(mixed, p.Src.Name+"="+p.Type.String())
			}
		}
		t.Logf("%s Q4_K_M: %s", model, strings.Join(mixed, ", "))
	}
}
