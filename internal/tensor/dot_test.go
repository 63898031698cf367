package tensor_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// weightTypes are the types a weight matrix can have.
var weightTypes = []tensor.Type{
	tensor.F32, tensor.F16, tensor.BF16,
	tensor.Q8_0, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0, tensor.Q5_1,
	tensor.Q2_K, tensor.Q3_K, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K,
}

// TestVecDotTypes pins the activation type of every weight type to ggml's
// vec_dot_type (reference/README.md section 5).
func TestVecDotTypes(t *testing.T) {
	want := map[tensor.Type]tensor.Type{
		tensor.F32: tensor.F32, tensor.F16: tensor.F16, tensor.BF16: tensor.BF16,
		tensor.Q4_0: tensor.Q8_0, tensor.Q5_0: tensor.Q8_0, tensor.Q8_0: tensor.Q8_0,
		tensor.Q4_1: tensor.Q8_1, tensor.Q5_1: tensor.Q8_1,
		tensor.Q2_K: tensor.Q8_K, tensor.Q3_K: tensor.Q8_K, tensor.Q4_K: tensor.Q8_K, tensor.Q5_K: tensor.Q8_K, tensor.Q6_K: tensor.Q8_K,
	}
	for _, ty := range weightTypes {
		k, ok := tensor.KernelsFor(ty)
		if !ok {
			t.Fatalf("KernelsFor(%s) missing", ty)
		}
		if k.Type != ty || k.VecDotType != want[ty] {
			t.Errorf("%s: kernels for %s with VecDotType %s, want %s", ty, k.Type, k.VecDotType, want[ty])
		}
		if k.DequantizeRow == nil || k.QuantizeRow == nil || k.Dot == nil {
			t.Errorf("%s: missing kernel", ty)
		}
		if vk, ok := tensor.KernelsFor(k.VecDotType); !ok || vk.QuantizeRow == nil {
			t.Errorf("%s: no quantizer for its activation type %s", ty, k.VecDotType)
		}
	}
}

// TestDot checks every weight type's Dot against float64 dot products of
// the dequantized operands:
//   - with the quantized activation it must agree to float32 rounding (the
//     kernels sum integer products exactly and only scale per block);
//   - with the original float activation it may differ only by what the
//     activation quantization moved: |Σ w(x-x')| ≤ ‖w‖·‖x-x'‖
//     (Cauchy–Schwarz), plus the same rounding slack.
func TestDot(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 1))
	for _, ty := range weightTypes {
		k, _ := tensor.KernelsFor(ty)
		vk, _ := tensor.KernelsFor(k.VecDotType)
		for _, n := range []int{256, 256 * 3, 4096} {
			for trial := 0; trial < 4; trial++ {
				w := make([]float32, n)
				x := make([]float32, n)
				for i := range w {
					w[i] = float32(r.NormFloat64() * 0.05)
					x[i] = float32(r.NormFloat64() * math.Exp(r.NormFloat64()))
				}
				if trial == 1 { // zero activation blocks and all-positive weights
					for i := 0; i < n/2; i++ {
						x[i] = 0
						w[i+n/2] = float32(0.1 + r.Float64())
					}
				}
				wq, wd := quantizeRoundTrip(t, ty, w)
				xq, xd := quantizeRoundTrip(t, k.VecDotType, x)
				got := float64(k.Dot(n, wq, xq))
				var exactQ, exactF, absSum, errX2, w2 float64
				for i := range wd {
					exactQ += float64(wd[i]) * float64(xd[i])
					exactF += float64(wd[i]) * float64(x[i])
					absSum += math.Abs(float64(wd[i]) * float64(xd[i]))
					dx := float64(x[i]) - float64(xd[i])
					errX2 += dx * dx
					w2 += float64(wd[i]) * float64(wd[i])
				}
				// float32 accumulation over n/32 blocks at most: a few ulps
				// of the absolute sum.
				slack := 1e-5*absSum + 1e-30
				if k.VecDotType == tensor.Q8_1 {
					slack += q81Slack(ty, wq, xq)
				}
				if d := math.Abs(got - exactQ); d > slack {
					t.Errorf("%s n=%d trial %d: Dot = %.9g, dequantized dot = %.9g (diff %.3g > %.3g)", ty, n, trial, got, exactQ, d, slack)
				}
				if d, lim := math.Abs(got-exactF), math.Sqrt(w2*errX2)+slack; d > lim {
					t.Errorf("%s n=%d trial %d: Dot = %.9g, float dot = %.9g (diff %.3g > %.3g)", ty, n, trial, got, exactF, d, lim)
				}
				if ty == tensor.F32 && got != float64(float32(exactF)) {
					t.Errorf("F32 n=%d: Dot = %v, want the rounded float64 sum %v", n, got, float32(exactF))
				}
			}
		}
		// Dot reads only n elements: a longer row gives the same prefix result.
		n := 256
		w := make([]float32, 2*n)
		x := make([]float32, 2*n)
		for i := range w {
			w[i], x[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		wq, _ := quantizeRoundTrip(t, ty, w)
		xq := make([]byte, mustRowBytes(t, k.VecDotType, 2*n))
		vk.QuantizeRow(x, xq)
		half := mustRowBytes(t, ty, n)
		if a, b := k.Dot(n, wq, xq), k.Dot(n, wq[:half], xq[:mustRowBytes(t, k.VecDotType, n)]); a != b {
			t.Errorf("%s: Dot depends on data past n: %v vs %v", ty, a, b)
		}
	}
}

// q81Slack bounds what Q4_1/Q5_1 dots differ from the dequantized dot by
// construction: like ggml they add m·s per block, where the activation's
// s = fp16(d·Σq) was computed with the unrounded d, so it differs slightly
// from the dequantized sum fp16(d)·Σq.
func q81Slack(ty tensor.Type, wq, xq []byte) float64 {
	f16 := func(b []byte) float64 { return float64(tensor.FP16ToFP32(uint16(b[0]) | uint16(b[1])<<8)) }
	bb := ty.BlockBytes()
	var slack float64
	for b := 0; b*36 < len(xq); b++ {
		xb := xq[b*36:]
		sum := 0
		for _, q := range xb[4:36] {
			sum += int(int8(q))
		}
		m := f16(wq[b*bb+2:])
		slack += math.Abs(m) * math.Abs(f16(xb[2:])-f16(xb)*float64(sum))
	}
	return slack
}

func mustRowBytes(t testing.TB, ty tensor.Type, n int) int {
	t.Helper()
	b, err := ty.RowBytes(n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestActivationBlocks checks the redundant fields of the activation types:
// Q8_1's s = d·Σq and Q8_K's sums of each 16 quants, which the dot kernels
// rely on instead of re-adding the quants.
func TestActivationBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	x := make([]float32, 512)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	q1 := make([]byte, mustRowBytes(t, tensor.Q8_1, len(x)))
	if err := tensor.Quantize(tensor.Q8_1, x, q1); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < len(q1); b += 36 {
		d := tensor.FP16ToFP32(uint16(q1[b]) | uint16(q1[b+1])<<8)
		s := tensor.FP16ToFP32(uint16(q1[b+2]) | uint16(q1[b+3])<<8)
		sum := 0
		for _, q := range q1[b+4 : b+36] {
			sum += int(int8(q))
		}
		// s is fp16(d·Σq) with the unrounded d (as ggml): within two half
		// roundings of the stored d times Σq.
		want := float64(d) * float64(sum)
		if math.Abs(float64(s)-want) > math.Abs(want)/1024 {
			t.Errorf("Q8_1 block %d: s = %v, want d·Σq = %v", b/36, s, want)
		}
	}
	qk := make([]byte, mustRowBytes(t, tensor.Q8_K, len(x)))
	if err := tensor.Quantize(tensor.Q8_K, x, qk); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < len(qk); b += 292 {
		for j := 0; j < 16; j++ {
			sum := 0
			for _, q := range qk[b+4+16*j : b+4+16*j+16] {
				sum += int(int8(q))
			}
			got := int(int16(uint16(qk[b+260+2*j]) | uint16(qk[b+261+2*j])<<8))
			if got != sum {
				t.Errorf("Q8_K block %d: bsums[%d] = %d, want %d", b/292, j, got, sum)
			}
		}
	}
}
