package tensor_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// TestActQ8KLevels checks every level's Q8_K activation quantizer byte for
// byte against the portable one (ggml's quantize_row_q8_K): normal blocks
// at many magnitudes, ties of the largest magnitude with either sign first,
// all-zero and signed-zero blocks, values halfway between levels, subnormal
// maxima whose scale overflows, and NaNs and infinities (left to the Go
// code).
func TestActQ8KLevels(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 4))
	ref, _ := tensor.KernelsAt(tensor.Q4_K, tensor.Generic)
	const blocks = 12
	for trial := 0; trial < 300; trial++ {
		src := make([]float32, 256*blocks)
		for b := 0; b < blocks; b++ {
			x := src[256*b : 256*b+256]
			scale := math.Exp2(float64(r.IntN(80) - 40))
			for i := range x {
				x[i] = float32(r.NormFloat64() * scale)
			}
			switch kind := (trial + b) % 10; kind {
			case 1: // a tie of the largest magnitude, negative first
				x[r.IntN(100)] = -50
				x[100+r.IntN(100)] = 50
			case 2: // a tie, positive first
				x[r.IntN(100)] = 50
				x[100+r.IntN(100)] = -50
			case 3:
				clear(x)
			case 4:
				for i := range x {
					x[i] = float32(math.Copysign(0, -1))
				}
			case 5: // levels exactly halfway: max 127 makes x·(-1) the level
				for i := range x {
					x[i] = float32(r.IntN(254)-127) + 0.5
				}
				x[0] = 127
			case 6: // a subnormal maximum: -127/max overflows
				for i := range x {
					x[i] = math.Float32frombits(uint32(r.IntN(1 << 20)))
				}
			case 7:
				x[r.IntN(256)] = float32(math.NaN())
			case 8:
				x[r.IntN(256)] = float32(math.Inf(1 - 2*r.IntN(2)))
			case 9: // huge values
				for i := range x {
					x[i] = float32(r.NormFloat64() * 1e37)
				}
			}
		}
		want := make([]byte, 292*blocks)
		ref.QuantizeAct(src, want)
		for _, lv := range tensor.Levels()[1:] {
			k, _ := tensor.KernelsAt(tensor.Q4_K, lv)
			got := make([]byte, len(want))
			for i := range got {
				got[i] = 0xa5
			}
			k.QuantizeAct(src, got)
			if !bytes.Equal(got, want) {
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%v trial %d: byte %d (block %d, offset %d) = %#x, portable %#x", lv, trial, i, i/292, i%292, got[i], want[i])
					}
				}
			}
		}
	}
}
