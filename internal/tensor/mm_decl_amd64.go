//go:build amd64 && !purego

package tensor

import "unsafe"

// Declarations of the assembly MulMat kernels (mm32*_amd64.s, mmk*_amd64.s,
// mmf_amd64.s); the V suffix marks the AVX-512 VNNI versions.

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

//go:noescape
func q8_0Rows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q8_0Rows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_0Rows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_0Rows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q5_0Rows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q5_0Rows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_1Rows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_1Rows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q5_1Rows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q5_1Rows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_0iRows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_0iRows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_KRows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_KRows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_KiRows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_KiRows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_KgRows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q4_KgRows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q6_KRows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q6_KRows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q5_KRows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q5_KRows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q3_KRows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q3_KRows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q2_KRows1V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func q2_KRows4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func f32Rows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func f32gRows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func f32gRows4(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func f32gRows4V(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func f16Rows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func f16gRows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func f16gRows4(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func f16gRows4V(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func bf16Rows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func bf16gRows1(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, dst unsafe.Pointer)

//go:noescape
func bf16gRows4(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func bf16gRows4V(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_KiTile4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func q6_KTile4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_KiTile4VP(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func q4_KiTile2VP(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func q6_KTile2V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func q6_KTile3V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

// q4KiTile2V runs q4_KiTile2VP on rows short enough for its table (see
// q4KiTile4V), q4_KiTile4V (two columns computed as four) on longer ones.
func q4KiTile2V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int) {
	if nb <= 64 {
		q4_KiTile2VP(nb, w, wstride, rows, x, xstride, cols, dst, dststride)
		return
	}
	q4_KiTile4V(nb, w, wstride, rows, x, xstride, cols, dst, dststride)
}

//go:noescape
func q4_KiTile8x4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

// eightRows returns a tile function that runs t8 on the rows up to a
// multiple of eight and rest on the four after them.
func eightRows(t8, rest tileFn) tileFn {
	return func(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int) {
		if r8 := rows &^ 7; r8 > 0 {
			t8(nb, w, wstride, r8, x, xstride, cols, dst, dststride)
			if r8 == rows {
				return
			}
			w, dst, rows = unsafe.Add(w, r8*wstride), unsafe.Add(dst, 4*r8), rows-r8
		}
		rest(nb, w, wstride, rows, x, xstride, cols, dst, dststride)
	}
}

//go:noescape
func q4_KgTile8x4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

// q4KgTile4 is the group-of-four order's product for four rows: the
// four-column kernel, or the one-column one per column below four.
func q4KgTile4(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int) {
	if cols == 4 {
		q4_KgRows4V(nb, w, wstride, rows, x, xstride, dst, dststride)
		return
	}
	for c := 0; c < cols; c++ {
		q4_KgRows1V(nb, w, wstride, rows, unsafe.Add(x, c*xstride), unsafe.Add(dst, c*dststride))
	}
}

// q4KiTile4V runs q4_KiTile4VP on rows short enough for its table of
// activation terms (64 super-blocks, 16384 elements), q4_KiTile4V on
// longer ones.
func q4KiTile4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int) {
	if nb <= 64 {
		q4_KiTile4VP(nb, w, wstride, rows, x, xstride, cols, dst, dststride)
		return
	}
	q4_KiTile4V(nb, w, wstride, rows, x, xstride, cols, dst, dststride)
}

//go:noescape
func q8_0Tile4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func f32Tile4(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func f32Tile4V(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func f16Tile4(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func f16Tile4V(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func bf16Tile4(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

//go:noescape
func bf16Tile4V(n int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)

var avx2Ints = intKernels{
	q80:  asmKernel{r1: q8_0Rows1, r4: q8_0Rows4},
	q40:  asmKernel{r1: q4_0Rows1, r4: q4_0Rows4},
	q50:  asmKernel{r1: q5_0Rows1, r4: q5_0Rows4},
	q41:  asmKernel{r1: q4_1Rows1, r4: q4_1Rows4},
	q51:  asmKernel{r1: q5_1Rows1, r4: q5_1Rows4},
	q40i: asmKernel{r1: q4_0iRows1, r4: q4_0iRows4},
	q4K:  asmKernel{r1: q4_KRows1, r4: q4_KRows4},
	q4Ki: asmKernel{r1: q4_KiRows1, r4: q4_KiRows4},
	q4Kg: asmKernel{r1: q4_KgRows1, r4: q4_KgRows4},
	q6K:  asmKernel{r1: q6_KRows1, r4: q6_KRows4},
	q5K:  asmKernel{r1: q5_KRows1, r4: q5_KRows4},
	q3K:  asmKernel{r1: q3_KRows1, r4: q3_KRows4},
	q2K:  asmKernel{r1: q2_KRows1, r4: q2_KRows4},
}

var vnniInts = intKernels{
	q80:  asmKernel{r1: q8_0Rows1V, r4: q8_0Rows4V, t4: q8_0Tile4V},
	q40:  asmKernel{r1: q4_0Rows1V, r4: q4_0Rows4V},
	q50:  asmKernel{r1: q5_0Rows1V, r4: q5_0Rows4V},
	q41:  asmKernel{r1: q4_1Rows1V, r4: q4_1Rows4V},
	q51:  asmKernel{r1: q5_1Rows1V, r4: q5_1Rows4V},
	q40i: asmKernel{r1: q4_0iRows1V, r4: q4_0iRows4V},
	q4K:  asmKernel{r1: q4_KRows1V, r4: q4_KRows4V},
	q4Ki: asmKernel{r1: q4_KiRows1V, r4: q4_KiRows4V, t4: eightRows(q4_KiTile8x4V, q4KiTile4V), t2: q4KiTile2V},
	q4Kg: asmKernel{r1: q4_KgRows1V, r4: q4_KgRows4V, t4: eightRows(q4_KgTile8x4V, q4KgTile4)},
	q6K:  asmKernel{r1: q6_KRows1V, r4: q6_KRows4V, t4: q6_KTile4V, t2: q6_KTile2V, t3: q6_KTile3V},
	q5K:  asmKernel{r1: q5_KRows1V, r4: q5_KRows4V},
	q3K:  asmKernel{r1: q3_KRows1V, r4: q3_KRows4V},
	q2K:  asmKernel{r1: q2_KRows1V, r4: q2_KRows4V},
}
