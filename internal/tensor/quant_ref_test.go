package tensor_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/internal/testutil"
)

// TestQuantizeMatchesLlamaQuantize quantizes the F32 source models of the
// test data again and compares, block by block, with the files that
// llama.cpp's llama-quantize made from them (MANIFEST sections 2 and 8: the
// synthetic syn-<arch>-<n>-<type> files come from syn-<arch>-<n>-F32, the
// stories260K mixes from stories260K). No importance matrix was used, so
// llama-quantize ran ggml's reference quantizers, which ours follow
// operation by operation; every block is expected to be identical.
func TestQuantizeMatchesLlamaQuantize(t *testing.T) {
	models := testutil.Shared(t, "testdata", "models")
	type pair struct{ quant, source string }
	var pairs []pair
	synth, err := filepath.Glob(filepath.Join(models, "synthetic", "syn-*.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range synth {
		stem := strings.TrimSuffix(filepath.Base(q), ".gguf")
		if strings.HasSuffix(stem, "-F32") {
			continue
		}
		base := stem[:strings.LastIndex(stem, "-")]
		pairs = append(pairs, pair{q, filepath.Join(models, "synthetic", base+"-F32.gguf")})
	}
	for _, mix := range []string{"q8_0", "q5_0", "q4_0"} {
		pairs = append(pairs, pair{filepath.Join(models, "stories260K-"+mix+"-mix.gguf"), filepath.Join(models, "stories260K.gguf")})
	}
	if len(pairs) < 50 {
		t.Fatalf("found only %d quantized files", len(pairs))
	}

	type stat struct{ tensors, blocks int }
	stats := map[tensor.Type]*stat{}
	var src []float32
	for _, p := range pairs {
		fq, err := gguf.Open(p.quant)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := gguf.Open(p.source)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p.quant)
		for _, tq := range fq.Tensors {
			if tq.Type == tensor.F32 {
				continue
			}
			ts, ok := fs.Tensor(tq.Name)
			if !ok || ts.Type != tensor.F32 {
				t.Errorf("%s: %s has no F32 source in %s", name, tq.Name, filepath.Base(p.source))
				continue
			}
			n := int(tq.Elements())
			if cap(src) < n {
				src = make([]float32, n)
			}
			src = src[:n]
			if err := tensor.Dequantize(tensor.F32, ts.Data, src); err != nil {
				t.Fatal(err)
			}
			dst := make([]byte, len(tq.Data))
			if err := tensor.Quantize(tq.Type, src, dst); err != nil {
				t.Errorf("%s %s: %v", name, tq.Name, err)
				continue
			}
			bb := tq.Type.BlockBytes()
			for o := 0; o < len(dst); o += bb {
				if !bytes.Equal(dst[o:o+bb], tq.Data[o:o+bb]) {
					t.Errorf("%s %s (%s): block %d differs from llama-quantize:\n got %x\nwant %x",
						name, tq.Name, tq.Type, o/bb, dst[o:o+bb], tq.Data[o:o+bb])
					break
				}
			}
			st := stats[tq.Type]
			if st == nil {
				st = &stat{}
				stats[tq.Type] = st
			}
			st.tensors++
			st.blocks += len(dst) / bb
		}
		fq.Close()
		fs.Close()
	}
	for _, ty := range []tensor.Type{tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0,
		tensor.Q5_1, tensor.Q2_K, tensor.Q3_K, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		st := stats[ty]
		if st == nil {
			t.Errorf("no %s tensor compared", ty)
			continue
		}
		t.Logf("%-5s %4d tensors, %7d blocks compared", ty, st.tensors, st.blocks)
	}
}
