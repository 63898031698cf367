package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
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

// refCache keeps the reference files open for the whole test: owner is the
// top-level test, whose cleanup closes them.
type refCache struct {
	owner *testing.T
	files map[string]*gguf.File
}

func newRefCache(t *testing.T) *refCache { return &refCache{owner: t, files: map[string]*gguf.File{}} }

func openRef(t *testing.T, cache *refCache, name string) *gguf.File {
	t.Helper()
	if f, ok := cache.files[name]; ok {
		return f
	}
	f, err := gguf.Open(testutil.Shared(t, "testdata", "models", "synthetic", name))
	if err != nil {
		t.Fatal(err)
	}
	cache.owner.Cleanup(func() { f.Close() })
	cache.files[name] = f
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
func compareTensors(t *testing.T, cache *refCache, model string, src, got *gguf.File) (identical, differ int, worst float64) {
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
	single := []FileType{FileTypeQ8_0, FileTypeQ4_0, FileTypeQ4_K_S, FileTypeQ6_K}
	mixes := []FileType{FileTypeQ4_K_M, FileTypeQ5_K_M}
	all := append(append([]FileType(nil), single...), mixes...)
	type variant struct {
		ft   FileType
		pure bool
	}
	var pureThenMix, mixOnly []variant
	for _, ft := range single {
		pureThenMix = append(pureThenMix, variant{ft, true})
	}
	for _, ft := range mixes {
		pureThenMix = append(pureThenMix, variant{ft, false})
	}
	for _, ft := range all {
		mixOnly = append(mixOnly, variant{ft, false})
	}
	// Each supported type is checked pure on two models and mixed on one
	// (the mixed single types re-check Q6_K and Q5_K tensors too); every
	// mix is checked on all three. That keeps the test quick on two cores.
	// The other types Golem can produce, pure, on one model.
	extra := pureThenMix
	for _, ft := range []FileType{FileTypeQ4_1, FileTypeQ5_0, FileTypeQ5_1, FileTypeQ2_K, FileTypeQ3_K_S, FileTypeQ5_K_S} {
		extra = append(extra, variant{ft, true})
	}
	cases := map[string][]variant{
		"syn-llama-256": extra,
		"syn-qwen2-256": mixOnly,
		"syn-qwen3-256": pureThenMix,
	}
	cache := newRefCache(t)
	for _, model := range []string{"syn-llama-256", "syn-qwen2-256", "syn-qwen3-256"} {
		src := openRef(t, cache, model+"-F32.gguf")
		for _, v := range cases[model] {
			ft, pure := v.ft, v.pure
			name := fmt.Sprintf("%s/%s/pure=%v", model, ft, pure)
			t.Run(name, func(t *testing.T) {
				got, raw := quantizeToFile(t, src, ft, pure)
				identical, differ, worst := compareTensors(t, cache, model, src, got)
				if identical+differ != len(src.Tensors) {
					t.Errorf("compared %d tensors, source has %d", identical+differ, len(src.Tensors))
				}
				// Bound for tensors that are not byte-identical: a quantizer
				// that rounds a tie differently moves an element by one
				// quantization step, well under a fifth of max |w|.
				if worst > 0.2 {
					t.Errorf("largest difference %.3g of max |w| is more than a quantization step", worst)
				}
				if differ > 0 {
					t.Errorf("%d of %d tensors are not byte-identical to llama-quantize's", differ, identical+differ)
				}
				// The whole file, metadata and tensor order included, for
				// the variants llama-quantize made: the --pure single types
				// and the Q4_K_M mix.
				ref := ""
				switch {
				case pure:
					ref = fmt.Sprintf("%s-%s.gguf", model, pureRef[baseType[ft]])
				case ft == FileTypeQ4_K_M:
					ref = model + "-Q4_K_M.gguf"
				}
				if ref != "" {
					want, err := os.ReadFile(testutil.Shared(t, "testdata", "models", "synthetic", ref))
					if err != nil {
						t.Fatal(err)
					}
					if sha256.Sum256(raw) != sha256.Sum256(want) {
						t.Errorf("file differs from %s (%d vs %d bytes)", ref, len(raw), len(want))
					}
				}
			})
		}
	}
}

// TestQuantizeMixRules checks the per-tensor types of the Q4_K_M mix
// against llama-quantize's Q4_K_M files, for every model that has one.
func TestQuantizeMixRules(t *testing.T) {
	cache := newRefCache(t)
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

// TestQuantizeMixWholeFile quantizes to Q4_K_M (the usual mix, not --pure)
// and compares the whole file with llama-quantize's.
func TestQuantizeMixWholeFile(t *testing.T) {
	cache := newRefCache(t)
	for _, model := range []string{"syn-phi3-256", "syn-gemma3-256"} {
		src := openRef(t, cache, model+"-F32.gguf")
		_, raw := quantizeToFile(t, src, FileTypeQ4_K_M, false)
		want, err := os.ReadFile(testutil.Shared(t, "testdata", "models", "synthetic", model+"-Q4_K_M.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, want) {
			t.Errorf("%s: Q4_K_M file differs from llama-quantize's (%d vs %d bytes)", model, len(raw), len(want))
		}
	}
}

// TestQuantizeFallbacks uses stories260K, whose rows (64 and 172) are not
// multiples of 256: K-quant requests fall back to Q5_0/Q8_0 and to F16
// where even 32 does not divide the row. The reference files were made
// by llama-quantize from the same model (MANIFEST.md §2): Q6_K requested
// gave the q8_0-mix file, Q4_K_M the q5_0-mix file.
func TestQuantizeFallbacks(t *testing.T) {
	src, err := gguf.Open(testutil.Shared(t, "testdata", "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, c := range []struct {
		ft  FileType
		ref string
	}{{FileTypeQ6_K, "stories260K-q8_0-mix.gguf"}, {FileTypeQ4_K_M, "stories260K-q5_0-mix.gguf"}} {
		ref, err := gguf.Open(testutil.Shared(t, "testdata", "models", c.ref))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := quantizeToFile(t, src, c.ft, false)
		counts := map[tensor.Type]int{}
		for _, gt := range got.Tensors {
			counts[gt.Type]++
			rt, ok := ref.Tensor(gt.Name)
			if !ok {
				t.Errorf("%s: no tensor %s in the reference", c.ref, gt.Name)
				continue
			}
			if rt.Type != gt.Type {
				t.Errorf("%s: %s: got %s, llama-quantize chose %s", c.ref, gt.Name, gt.Type, rt.Type)
			} else if !bytes.Equal(rt.Data, gt.Data) {
				t.Errorf("%s: %s (%s): bytes differ from llama-quantize's", c.ref, gt.Name, gt.Type)
			}
		}
		if len(got.Tensors) != len(ref.Tensors) {
			t.Errorf("%s: %d tensors, reference has %d", c.ref, len(got.Tensors), len(ref.Tensors))
		}
		t.Logf("%s requested: %v", c.ft, counts)
		ref.Close()
	}
}

// TestQuantizeRejects checks the errors for sources and targets that
// cannot be quantized.
func TestQuantizeRejects(t *testing.T) {
	src, err := gguf.Open(testutil.Shared(t, "testdata", "models", "synthetic", "syn-llama-256-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	err = Quantize(context.Background(), src, &bytes.Buffer{}, QuantizeOptions{Type: FileTypeQ4_K_M})
	if err == nil || !strings.Contains(err.Error(), "only F32, F16 and BF16") {
		t.Errorf("quantizing a Q8_0 model: got %v, want an error about F32/F16/BF16 sources", err)
	}
	if _, err := ParseQuantizeType("q9_9"); err == nil || !strings.Contains(err.Error(), "q4_k_m") {
		t.Errorf("ParseQuantizeType(q9_9) = %v, want an error listing the types", err)
	}
	for _, s := range []string{"q4_K_M", "Q4_K_M", "q8_0", "q6_k"} {
		if _, err := ParseQuantizeType(s); err != nil {
			t.Errorf("ParseQuantizeType(%q): %v", s, err)
		}
	}
}

// TestQuantizeFromF16AndBF16 quantizes the F16 and BF16 synthetic files:
// their values are the F32 ones rounded, so the output must be valid and
// close to (not necessarily equal to) the F32-quantized one.
func TestQuantizeFromF16AndBF16(t *testing.T) {
	cache := newRefCache(t)
	for _, base := range []string{"F16", "BF16"} {
		src := openRef(t, cache, "syn-llama-256-"+base+".gguf")
		got, _ := quantizeToFile(t, src, FileTypeQ8_0, true)
		ref := openRef(t, cache, "syn-llama-256-Q8_0.gguf")
		for _, gt := range got.Tensors {
			rt, _ := ref.Tensor(gt.Name)
			if rt == nil || rt.Type != gt.Type {
				t.Fatalf("%s: %s: type %s, reference %v", base, gt.Name, gt.Type, rt)
			}
			if gt.Type != tensor.Q8_0 {
				continue
			}
			n := int(gt.Elements())
			a, b := make([]float32, n), make([]float32, n)
			tensor.Dequantize(gt.Type, gt.Data, a)
			tensor.Dequantize(rt.Type, rt.Data, b)
			var maxAbs, maxDiff float64
			for i := range a {
				maxAbs = math.Max(maxAbs, math.Abs(float64(b[i])))
				maxDiff = math.Max(maxDiff, math.Abs(float64(a[i]-b[i])))
			}
			// One Q8_0 step is max|w|/127 of a block; rounding the source
			// to 16 bits moves a value by at most one step.
			if maxDiff > maxAbs/64 {
				t.Errorf("%s: %s: max |Δ| %.3g vs max |w| %.3g", base, gt.Name, maxDiff, maxAbs)
			}
		}
	}
}
