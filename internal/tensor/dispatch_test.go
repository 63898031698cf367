package tensor_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// TestDispatchMatchesReference holds whatever kernels KernelsFor hands out
// (architecture-specific ones included) to the portable Go kernels:
// identical bytes and floats for quantize and dequantize, and Dot within
// float32 summation-order rounding.
func TestDispatchMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	const n = 256 * 6
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * math.Exp(r.NormFloat64()))
	}
	for _, ty := range quantTypes {
		k, _ := tensor.KernelsFor(ty)
		ref, _ := tensor.ReferenceKernelsFor(ty)
		if k.VecDotType != ref.VecDotType || k.Type != ref.Type {
			t.Errorf("%s: dispatch entry describes %s/%s, reference %s/%s", ty, k.Type, k.VecDotType, ref.Type, ref.VecDotType)
		}
		q, qr := make([]byte, mustRowBytes(t, ty, n)), make([]byte, mustRowBytes(t, ty, n))
		k.QuantizeRow(x, q)
		ref.QuantizeRow(x, qr)
		if !bytes.Equal(q, qr) {
			t.Errorf("%s: QuantizeRow differs from the reference", ty)
		}
		y, yr := make([]float32, n), make([]float32, n)
		k.DequantizeRow(qr, y)
		ref.DequantizeRow(qr, yr)
		for i := range y {
			if math.Float32bits(y[i]) != math.Float32bits(yr[i]) {
				t.Errorf("%s: DequantizeRow element %d = %v, reference %v", ty, i, y[i], yr[i])
				break
			}
		}
		if ref.Dot == nil {
			continue
		}
		vk, _ := tensor.ReferenceKernelsFor(ref.VecDotType)
		xq := make([]byte, mustRowBytes(t, ref.VecDotType, n))
		vk.QuantizeRow(x, xq)
		got, want := float64(k.Dot(n, qr, xq)), float64(ref.Dot(n, qr, xq))
		var abs float64
		xd := make([]float32, n)
		vk.DequantizeRow(xq, xd)
		for i := range yr {
			abs += math.Abs(float64(yr[i]) * float64(xd[i]))
		}
		if math.Abs(got-want) > 1e-5*abs {
			t.Errorf("%s: Dot = %v, reference %v", ty, got, want)
		}
	}
}
