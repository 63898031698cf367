package tensor_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// TestActRoundF16Levels checks every level's F16 activation conversion bit
// for bit against FP32ToFP16 then FP16ToFP32: random bit patterns (NaNs,
// infinities, float32 and half subnormals included), the rounding
// boundaries of halves, and lengths that leave every tail.
func TestActRoundF16Levels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	special := []float32{0, float32(math.Copysign(0, -1)), 65504, 65519.996, 65520, -65520, 1e-8, -1e-8,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00123), math.Float32frombits(1),
		2.9802322e-08, 2.9802326e-08, 5.9604645e-08, 8.940697e-08, 6.1035156e-05, 6.1005354e-05,
		1.0004883, 1.0014648, 2049, 2051, -2049}
	for _, lv := range tensor.Levels() {
		k, ok := tensor.KernelsAt(tensor.F16, lv)
		if !ok {
			t.Fatalf("%v: no F16 kernels", lv)
		}
		for _, n := range []int{1, 7, 8, 9, 15, 16, 31, 32, 33, 40, 63, 1000} {
			src := make([]float32, n)
			for i := range src {
				switch r.IntN(3) {
				case 0:
					src[i] = special[r.IntN(len(special))]
				case 1:
					src[i] = math.Float32frombits(r.Uint32())
				default:
					src[i] = float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-24)))
				}
			}
			dst := make([]byte, 4*n+8)
			k.QuantizeAct(src, dst)
			got := tensor.F32Bytes(dst)
			for i, v := range src {
				want := tensor.FP16ToFP32(tensor.FP32ToFP16(v))
				if math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("%v: n=%d [%d]: %g (%#08x) -> %#08x, want %#08x", lv, n, i, v, math.Float32bits(v),
						math.Float32bits(got[i]), math.Float32bits(want))
				}
			}
			for i := n; i < n+2; i++ {
				if got[i] != 0 {
					t.Fatalf("%v: n=%d wrote past the row at %d", lv, n, i)
				}
			}
		}
	}
}
