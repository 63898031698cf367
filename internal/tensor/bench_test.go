package tensor_test

import (
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// benchRow is the row length of the benchmarks, a typical hidden size.
const benchRow = 4096

func benchData(b *testing.B, ty tensor.Type) (k *tensor.Kernels, w []byte, xq []byte) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, uint64(ty)))
	x := make([]float32, benchRow)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	k, ok := tensor.KernelsFor(ty)
	if !ok {
		b.Fatalf("no kernels for %s", ty)
	}
	w = make([]byte, mustRowBytes(b, ty, benchRow))
	k.QuantizeRow(x, w)
	if k.Dot != nil {
		vk, _ := tensor.KernelsFor(k.VecDotType)
		xq = make([]byte, mustRowBytes(b, k.VecDotType, benchRow))
		vk.QuantizeRow(x, xq)
	}
	return k, w, xq
}

// BenchmarkDequantize reports the throughput of DequantizeRow in elements:
// SetBytes counts 4 bytes of float32 output per element.
func BenchmarkDequantize(b *testing.B) {
	for _, ty := range quantTypes {
		b.Run(ty.String(), func(b *testing.B) {
			k, w, _ := benchData(b, ty)
			y := make([]float32, benchRow)
			b.SetBytes(4 * benchRow)
			for b.Loop() {
				k.DequantizeRow(w, y)
			}
		})
	}
}

// BenchmarkDot reports the throughput of Dot over one row of benchRow
// elements; SetBytes counts the weight bytes read.
func BenchmarkDot(b *testing.B) {
	for _, ty := range weightTypes {
		b.Run(ty.String(), func(b *testing.B) {
			k, w, xq := benchData(b, ty)
			b.SetBytes(int64(len(w)))
			var sink float32
			for b.Loop() {
				sink += k.Dot(benchRow, w, xq)
			}
			_ = sink
		})
	}
}

// BenchmarkQuantizeActivation times converting an activation row to each
// vec-dot type, done once per matmul input.
func BenchmarkQuantizeActivation(b *testing.B) {
	for _, ty := range []tensor.Type{tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q8_1, tensor.Q8_K} {
		b.Run(ty.String(), func(b *testing.B) {
			k, w, _ := benchData(b, ty)
			x := make([]float32, benchRow)
			for i := range x {
				x[i] = float32(i%13) - 6
			}
			b.SetBytes(4 * benchRow)
			for b.Loop() {
				k.QuantizeRow(x, w)
			}
		})
	}
}

// BenchmarkMulMat times MulMat at every level over a 256-row tile of
// benchRow-element rows (a cache-resident slice of a weight matrix) by one
// and by eight activation rows; SetBytes counts the weight bytes read, so
// MB/s compares with the memory bandwidth a decode step needs.
func BenchmarkMulMat(b *testing.B) {
	const rows = 256
	r := rand.New(rand.NewPCG(3, 5))
	for _, lv := range tensor.Levels() {
		for _, ty := range weightTypes {
			k, _ := tensor.KernelsAt(ty, lv)
			wRow := mustRowBytes(b, ty, benchRow)
			xRow := mustRowBytes(b, k.ActType, benchRow)
			vals := make([]float32, benchRow)
			w := make([]byte, rows*wRow)
			for i := 0; i < rows; i++ {
				for j := range vals {
					vals[j] = float32(r.NormFloat64())
				}
				k.QuantizeRow(vals, w[i*wRow:(i+1)*wRow])
			}
			for _, cols := range []int{1, 4, 8} {
				for _, o := range []tensor.Order{0, tensor.Interleaved | tensor.Batch | tensor.Group4} {
					if o != 0 && (cols == 1 || !tensor.Interleaves(ty, rows)) {
						continue
					}
					x := make([]byte, cols*xRow)
					for c := 0; c < cols; c++ {
						k.QuantizeAct(vals, x[c*xRow:(c+1)*xRow])
					}
					if cols > 1 && o == 0 {
						o = tensor.Batch
					}
					dst := make([]float32, cols*rows)
					name := lv.String() + "/" + ty.String() + "/" + string(rune('0'+cols))
					if o&tensor.Interleaved != 0 {
						name += "i"
					}
					b.Run(name, func(b *testing.B) {
						b.SetBytes(int64(len(w)))
						for b.Loop() {
							k.MulMat(benchRow, w, wRow, rows, x, xRow, cols, dst, rows, o)
						}
					})
				}
			}
		}
	}
}
