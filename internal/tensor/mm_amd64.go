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
)

// asmKernel is one product order of one type; nil members fall back.
type asmKernel struct {
	r1 rows1Fn
	r4 rows4Fn
}

//go:noescape
func q8_0Rows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q8_0Rows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_0Rows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_0Rows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q5_0Rows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q5_0Rows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_1Rows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_1Rows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q5_1Rows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q5_1Rows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_0iRows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_0iRows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_KRows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_KRows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_KiRows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_KiRows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_KgRows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_KgRows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q6_KRows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q6_KRows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func f32Rows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func f32gRows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func f32gRows4(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func f16Rows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func f16gRows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func f16gRows4(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func bf16Rows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func bf16gRows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func bf16gRows4(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q5_KRows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q5_KRows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q3_KRows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q3_KRows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q2_KRows1(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q2_KRows4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

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
		if k.r4 != nil {
			for ; c+4 <= cols; c += 4 {
				k.r4(nb, wp, wStride, rows, unsafe.Pointer(&x[c*xStride]), xStride, unsafe.Pointer(&dst[c*dstStride]), 4*dstStride)
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

func registerMulMatAVX2(t *[maxType]*Kernels) {
	set := func(ty Type, pick func(Order, int) (asmKernel, bool)) {
		t[ty].MulMat = asmMulMat(ty, pick)
	}
	set(Q8_0, fixed(asmKernel{q8_0Rows1, q8_0Rows4}))
	set(Q5_0, fixed(asmKernel{q5_0Rows1, q5_0Rows4}))
	set(Q4_1, fixed(asmKernel{q4_1Rows1, q4_1Rows4}))
	set(Q5_1, fixed(asmKernel{q5_1Rows1, q5_1Rows4}))
	set(Q4_0, func(o Order, _ int) (asmKernel, bool) {
		if o&Interleaved != 0 {
			return asmKernel{q4_0iRows1, q4_0iRows4}, true
		}
		return asmKernel{q4_0Rows1, q4_0Rows4}, true
	})
	set(Q4_K, func(o Order, _ int) (asmKernel, bool) {
		switch {
		case o&(Interleaved|Group4) == Interleaved|Group4:
			return asmKernel{q4_KgRows1, q4_KgRows4}, true
		case o&Interleaved != 0:
			return asmKernel{q4_KiRows1, q4_KiRows4}, true
		}
		return asmKernel{q4_KRows1, q4_KRows4}, true
	})
	set(Q6_K, fixed(asmKernel{q6_KRows1, q6_KRows4}))
	set(Q5_K, fixed(asmKernel{q5_KRows1, q5_KRows4}))
	set(Q3_K, fixed(asmKernel{q3_KRows1, q3_KRows4}))
	set(Q2_K, fixed(asmKernel{q2_KRows1, q2_KRows4}))
	// Float rows: tinyBLAS's order for batches of rows whose length is a
	// multiple of 8, ggml_vec_dot's order otherwise.
	float := func(vec, g1 rows1Fn, g4 rows4Fn) func(Order, int) (asmKernel, bool) {
		return func(o Order, n int) (asmKernel, bool) {
			if o&Batch != 0 && n%8 == 0 {
				return asmKernel{g1, g4}, true
			}
			return asmKernel{r1: vec}, true
		}
	}
	set(F32, float(f32Rows1, f32gRows1, f32gRows4))
	set(F16, float(f16Rows1, f16gRows1, f16gRows4))
	set(BF16, float(bf16Rows1, bf16gRows1, bf16gRows4))
}
