package tensor_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// mmCase is random data for one MulMat comparison.
type mmCase struct {
	n, rows, cols int
	w, x          []byte
	wStride       int
	xStride       int
}

// randomRows makes rows weight rows of type ty from normal values of
// random magnitude, some rows all zero or huge, and cols activation rows
// converted by QuantizeAct, with strides padded past the row size.
func randomRows(t *testing.T, r *rand.Rand, ty tensor.Type, n, rows, cols int) mmCase {
	t.Helper()
	k, _ := tensor.ReferenceKernelsFor(ty)
	wRow := mustRowBytes(t, ty, n)
	xRow := mustRowBytes(t, k.ActType, n)
	c := mmCase{n: n, rows: rows, cols: cols, wStride: wRow + 8*r.IntN(3), xStride: xRow + 8*r.IntN(3)}
	c.w = make([]byte, (rows-1)*c.wStride+wRow)
	c.x = make([]byte, (cols-1)*c.xStride+xRow+int(r.IntN(2))*8)
	vals := make([]float32, n)
	fill := func(kind int) {
		scale := math.Exp(r.NormFloat64() * 2)
		for i := range vals {
			switch kind {
			case 0:
				vals[i] = float32(r.NormFloat64() * scale)
			case 1:
				vals[i] = 0
			case 2:
				vals[i] = float32(r.NormFloat64() * 3e4)
			case 3: // many equal magnitudes and exact halves
				vals[i] = float32(r.IntN(9)-4) * 0.5
			}
		}
	}
	for i := 0; i < rows; i++ {
		kind := 0
		if r.IntN(8) == 0 {
			kind = 1 + r.IntN(3)
		}
		fill(kind)
		if err := tensor.Quantize(ty, vals, c.w[i*c.wStride:i*c.wStride+wRow]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < cols; i++ {
		kind := 0
		if r.IntN(6) == 0 {
			kind = 1 + r.IntN(3)
		}
		fill(kind)
		k.QuantizeAct(vals, c.x[i*c.xStride:i*c.xStride+xRow])
	}
	return c
}

var allOrders = []tensor.Order{0, tensor.Batch, tensor.Interleaved, tensor.Interleaved | tensor.Batch,
	tensor.Interleaved | tensor.Group4 | tensor.Batch, tensor.Group4 | tensor.Batch}

// TestMulMatLevelsBitExact holds every level's MulMat to the portable
// emulation of ggml's order: identical float bits for every type, order,
// tile shape (1..17 columns, so the eight-, four- and one-column kernels
// and their mix run) and row length, including zero rows, huge values and
// row lengths with leftovers after the vector loops.
func TestMulMatLevelsBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for _, lv := range tensor.Levels()[1:] {
		for _, ty := range weightTypes {
			k, _ := tensor.KernelsAt(ty, lv)
			ref, _ := tensor.KernelsAt(ty, tensor.Generic)
			bs := ty.BlockSize()
			// 16384 and 16640: 64 and 65 super-blocks, either side of
			// where the Q4_K tile kernel switches to its long-row form.
			lengths := []int{256, 512, 1024, 16384, 16640}
			if bs == 1 {
				// 160 and 3104: the F16 vec kernel's four-step loop with a
				// leftover step, and its long-row (over 3072) branch.
				lengths = []int{8, 32, 40, 64, 100, 160, 256, 264, 3104}
			} else if bs == 32 {
				lengths = []int{32, 64, 96, 256, 288}
			}
			for _, n := range lengths {
				for trial := 0; trial < 3; trial++ {
					rows, cols := 1+r.IntN(11), 1+r.IntN(17)
					c := randomRows(t, r, ty, n, rows, cols)
					for _, o := range allOrders {
						sameMulMat(t, lv, ty, k, ref, c, n, rows, cols, rows+r.IntN(3), o)
					}
				}
			}
		}
	}
}

// TestMulMatTileRowsBitExact holds the tile kernels to the emulation on
// the shapes decoding a few sequences gives them: row counts of eight and
// more with and without four left over (the eight-row Q4_K tile and the
// four-row one after it), one to five columns, several row lengths.
func TestMulMatTileRowsBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	for _, lv := range tensor.Levels()[1:] {
		for _, ty := range weightTypes {
			k, _ := tensor.KernelsAt(ty, lv)
			ref, _ := tensor.KernelsAt(ty, tensor.Generic)
			n := 2048
			if ty.BlockSize() == 1 {
				n = 264
			}
			for _, rows := range []int{8, 12, 16, 20, 40} {
				for cols := 1; cols <= 5; cols++ {
					c := randomRows(t, r, ty, n, rows, cols)
					for _, o := range allOrders {
						sameMulMat(t, lv, ty, k, ref, c, n, rows, cols, rows+r.IntN(3), o)
					}
				}
			}
		}
	}
}

// TestEffectiveOrder holds tensor.Effective to the emulation: for every
// type and order, dropping the flags it drops leaves every product's bits
// as they were (the model merges rows by it).
func TestEffectiveOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	for _, ty := range weightTypes {
		ref, _ := tensor.KernelsAt(ty, tensor.Generic)
		n := 512
		if ty.BlockSize() == 1 {
			n = 64
		}
		c := randomRows(t, r, ty, n, 8, 3)
		for _, o := range allOrders {
			e := tensor.Effective(ty, o)
			if e&^o != 0 {
				t.Fatalf("%s: Effective(%d) = %d adds flags", ty, o, e)
			}
			sameMulMatOrders(t, ty, ref, c, n, 8, 3, o, e)
		}
	}
}

// sameMulMatOrders checks that k computes the tile with the same bits in
// orders a and b.
func sameMulMatOrders(t *testing.T, ty tensor.Type, k *tensor.Kernels, c mmCase, n, rows, cols int, a, b tensor.Order) {
	t.Helper()
	got := make([]float32, cols*rows)
	want := make([]float32, len(got))
	k.MulMat(n, c.w, c.wStride, rows, c.x, c.xStride, cols, got, rows, b)
	k.MulMat(n, c.w, c.wStride, rows, c.x, c.xStride, cols, want, rows, a)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("%s: order %d as %d: element %d = %v, want %v", ty, a, b, i, got[i], want[i])
		}
	}
}

// sameMulMat runs one tile through k and through the emulation ref, dst
// prefilled with -7 (so an element left unwritten fails too), and fails
// on the first element whose bits differ (NaNs of any payload match).
func sameMulMat(t *testing.T, lv tensor.Level, ty tensor.Type, k, ref *tensor.Kernels, c mmCase, n, rows, cols, dstStride int, o tensor.Order) {
	t.Helper()
	got := make([]float32, (cols-1)*dstStride+rows)
	want := make([]float32, len(got))
	for i := range got {
		got[i], want[i] = -7, -7
	}
	k.MulMat(n, c.w, c.wStride, rows, c.x, c.xStride, cols, got, dstStride, o)
	ref.MulMat(n, c.w, c.wStride, rows, c.x, c.xStride, cols, want, dstStride, o)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("%s %s order %d n=%d %dx%d: element %d (row %d col %d) = %v, emulation %v",
				lv, ty, o, n, rows, cols, i, i%dstStride, i/dstStride, got[i], want[i])
		}
	}
}

var _ = binary.LittleEndian
