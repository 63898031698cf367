//go:build amd64 && !purego

package tensor

import (
	"fmt"
	"unsafe"
)

// The assembly kernels come in two shapes (see mm32_amd64.s): rows1
// multiplies rows weight rows by one activation row, rows4 by four.
type (
	rows1Fn func(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)
	rows4Fn func(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)
	// tileFn multiplies rows weight rows (a multiple of four) by cols
	// activation rows, 1 <= cols <= 4 (see mmt_amd64.s).
	tileFn func(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)
)

// asmKernel is one product order of one type: kernels for one, four and
// eight activation rows at a time (r8 may be nil), and t4, when not nil,
// for every group of two to four activation rows in place of r8 and r4.
type asmKernel struct {
	r1 rows1Fn
	r4 rows4Fn
	r8 rows4Fn
	t4 tileFn
	t2 tileFn // exactly two activation rows, in t4's order; may be nil
	t3 tileFn // exactly three; may be nil
}

// asmMulMat builds a MulMat from the kernels pick returns for an order
// (units of n per kernel argument nb: the block size), falling back to the
// portable emulation for orders pick has no kernel for. It checks the
// slices once, then hands raw pointers to the assembly.
func asmMulMat(t Type, pick func(Order, int) (asmKernel, bool)) func(int, []byte, int, int, []byte, int, int, []float32, int, Order) {
	ref := refKernels[t].MulMat
	act := refKernels[t].ActType
	bs := t.BlockSize()
	return func(n int, w []byte, wStride, rows int, x []byte, xStride, cols int, dst []float32, dstStride int, order Order) {
		if rows <= 0 || cols <= 0 || n <= 0 {
			return
		}
		k, ok := pick(order, n)
		if !ok {
			ref(n, w, wStride, rows, x, xStride, cols, dst, dstStride, order)
			return
		}
		wRow, err := t.RowBytes(n)
		if err != nil {
			panic(fmt.Sprintf("tensor: MulMat %s: %v", t, err))
		}
		xRow, _ := act.RowBytes(n)
		if len(w) < (rows-1)*wStride+wRow || len(x) < (cols-1)*xStride+xRow || len(dst) < (cols-1)*dstStride+rows {
			panic(fmt.Sprintf("tensor: MulMat %s: %d×%d tile of %d elements does not fit its slices (w %d, x %d, dst %d)",
				t, rows, cols, n, len(w), len(x), len(dst)))
		}
		nb := n / bs
		wp := unsafe.Pointer(&w[0])
		c := 0
		if k.t4 != nil {
			// Groups of up to four columns (two or three cost as much as
			// four unless t2 or t3 is set), the rows past a multiple of
			// four one column at a time.
			r4 := rows &^ 3
			for ; c+1 < cols; c += 4 {
				kc := min(4, cols-c)
				xp, dp := unsafe.Pointer(&x[c*xStride]), unsafe.Pointer(&dst[c*dstStride])
				tile := k.t4
				switch {
				case kc == 2 && k.t2 != nil:
					tile = k.t2
				case kc == 3 && k.t3 != nil:
					tile = k.t3
				}
				if r4 > 0 {
					tile(nb, wp, wStride, r4, xp, xStride, kc, dp, 4*dstStride)
				}
				if r4 < rows {
					for i := c; i < c+kc; i++ {
						k.r1(nb, unsafe.Pointer(&w[r4*wStride]), wStride, rows-r4, unsafe.Pointer(&x[i*xStride]), unsafe.Pointer(&dst[i*dstStride+r4]))
					}
				}
			}
		}
		if k.r8 != nil {
			for ; c+8 <= cols; c += 8 {
				k.r8(nb, wp, wStride, rows, unsafe.Pointer(&x[c*xStride]), xStride, unsafe.Pointer(&dst[c*dstStride]), 4*dstStride)
			}
		}
		if k.r4 != nil {
			for ; c+4 <= cols; c += 4 {
				k.r4(nb, wp, wStride, rows, unsafe.Pointer(&x[c*xStride]), xStride, unsafe.Pointer(&dst[c*dstStride]), 4*dstStride)
			}
			// One to three columns left: the last four columns again, in one
			// pass over the weights instead of one pass per column. Each
			// element's order is the same whichever columns share a call,
			// so the columns computed twice get the same bits twice.
			if c < cols && cols >= 4 {
				c = cols - 4
				k.r4(nb, wp, wStride, rows, unsafe.Pointer(&x[c*xStride]), xStride, unsafe.Pointer(&dst[c*dstStride]), 4*dstStride)
				c = cols
			}
		}
		for ; c < cols; c++ {
			k.r1(nb, wp, wStride, rows, unsafe.Pointer(&x[c*xStride]), unsafe.Pointer(&dst[c*dstStride]))
		}
	}
}

// fixed returns a pick that uses one kernel for every order.
func fixed(k asmKernel) func(Order, int) (asmKernel, bool) {
	return func(Order, int) (asmKernel, bool) { return k, true }
}

// intKernels is one level's set of kernels for the integer-product types.
type intKernels struct {
	q80, q40, q50, q41, q51, q40i, q4K, q4Ki, q4Kg, q6K, q5K, q3K, q2K asmKernel
}

func registerMulMatAVX2(t *[maxType]*Kernels) { registerMulMat(t, &avx2Ints, false) }

func registerMulMatVNNI(t *[maxType]*Kernels) { registerMulMat(t, &vnniInts, true) }

// registerMulMat installs one level's kernels; wide picks the AVX-512
// four-by-four tiles of the float types.
func registerMulMat(t *[maxType]*Kernels, k *intKernels, wide bool) {
	set := func(ty Type, pick func(Order, int) (asmKernel, bool)) {
		t[ty].MulMat = asmMulMat(ty, pick)
	}
	set(Q8_0, fixed(k.q80))
	set(Q5_0, fixed(k.q50))
	set(Q4_1, fixed(k.q41))
	set(Q5_1, fixed(k.q51))
	set(Q4_0, func(o Order, _ int) (asmKernel, bool) {
		if o&Interleaved != 0 {
			return k.q40i, true
		}
		return k.q40, true
	})
	set(Q4_K, func(o Order, _ int) (asmKernel, bool) {
		switch {
		case o&(Interleaved|Group4) == Interleaved|Group4:
			return k.q4Kg, true
		case o&Interleaved != 0:
			return k.q4Ki, true
		}
		return k.q4K, true
	})
	set(Q6_K, fixed(k.q6K))
	set(Q5_K, fixed(k.q5K))
	set(Q3_K, fixed(k.q3K))
	set(Q2_K, fixed(k.q2K))
	// Float rows: tinyBLAS's order for batches of rows whose length is a
	// multiple of 8, ggml_vec_dot's order otherwise (single rows, and the
	// rows of several sequences decoded together: by four when the length
	// is a multiple of 32).
	float := func(vec, g1 rows1Fn, g4, g4v rows4Fn, t4, t4v tileFn) func(Order, int) (asmKernel, bool) {
		if wide {
			g4, t4 = g4v, t4v
		}
		return func(o Order, n int) (asmKernel, bool) {
			switch {
			case o&Batch != 0 && n%8 == 0:
				return asmKernel{r1: g1, r4: g4}, true
			case n%32 == 0:
				return asmKernel{r1: vec, t4: t4}, true
			}
			return asmKernel{r1: vec}, true
		}
	}
	set(F32, float(f32Rows1, f32gRows1, f32gRows4, f32gRows4V, f32Tile4, f32Tile4V))
	// F16 activations: F16C's conversions in place of the Go rounding;
	// Q8_K activations (the K-quants') quantized with AVX2.
	t[F16].QuantizeAct = actRoundF16x86
	for _, k := range t {
		if k != nil && k.ActType == Q8_K {
			k.QuantizeAct = quantizeRowQ8_Kx86
		}
	}
	set(F16, float(f16Rows1, f16gRows1, f16gRows4, f16gRows4V, f16Tile4, f16Tile4V))
	set(BF16, float(bf16Rows1, bf16gRows1, bf16gRows4, bf16gRows4V, bf16Tile4, bf16Tile4V))
}
