//go:build amd64 && !purego

#include "textflag.h"
#include "tile_amd64.h"

// Float weight rows (F32, F16, BF16) by one to four float32 activation rows
// in ggml's vec order (Order 0, what a single row gets; see mmf_amd64.s),
// for decoding several sequences together: each weight row is read and
// converted once for the four activation rows. Row lengths are a multiple
// of 32 (the vec order's leftovers are left to the one-row kernels).
//
// The vec order sums lanes of four eight-lane accumulators k0..k3 over
// steps of 32 elements (k at elements 8k..8k+7 of each step), then adds
// (k0+k2)+(k1+k3) and reduces. The AVX2 kernels keep four columns' k0 and
// k2 in a first pass over the row and k1 and k3 in a second (sixteen
// accumulators do not fit in sixteen registers); the AVX-512 kernels keep
// k0|k1 and k2|k3 as the halves of two 16-lane accumulators per column,
// the same lanes in one pass.
//
// Arguments: Tile4(n, w, wstride, rows, x, xstride, cols, dst, dststride)
// as in mmt_amd64.s (n counts elements).

// Steps of 32 weights as float32: one row into Y8-Y11 (AVX2)...
#define LOAD4_F32 \
	VMOVUPS 0(R8), Y8; \
	VMOVUPS 32(R8), Y9; \
	VMOVUPS 64(R8), Y10; \
	VMOVUPS 96(R8), Y11
#define LOAD4_F16 \
	VCVTPH2PS 0(R8), Y8; \
	VCVTPH2PS 16(R8), Y9; \
	VCVTPH2PS 32(R8), Y10; \
	VCVTPH2PS 48(R8), Y11
#define LOAD4_BF16 \
	VPMOVZXWD 0(R8), Y8; \
	VPSLLD $16, Y8, Y8; \
	VPMOVZXWD 16(R8), Y9; \
	VPSLLD $16, Y9, Y9; \
	VPMOVZXWD 32(R8), Y10; \
	VPSLLD $16, Y10, Y10; \
	VPMOVZXWD 48(R8), Y11; \
	VPSLLD $16, Y11, Y11

// ...and rows R8 and R8+R13 into Z0, Z1 and Z2, Z3 (AVX-512).
#define LOAD4V_F32 \
	VMOVUPS 0(R8), Z0; \
	VMOVUPS 64(R8), Z1; \
	VMOVUPS 0(R8)(R13*1), Z2; \
	VMOVUPS 64(R8)(R13*1), Z3
#define LOAD4V_F16 \
	VCVTPH2PS 0(R8), Z0; \
	VCVTPH2PS 32(R8), Z1; \
	VCVTPH2PS 0(R8)(R13*1), Z2; \
	VCVTPH2PS 32(R8)(R13*1), Z3
#define LOAD4V_BF16 \
	VPMOVZXWD 0(R8), Z0; \
	VPSLLD $16, Z0, Z0; \
	VPMOVZXWD 32(R8), Z1; \
	VPSLLD $16, Z1, Z1; \
	VPMOVZXWD 0(R8)(R13*1), Z2; \
	VPSLLD $16, Z2, Z2; \
	VPMOVZXWD 32(R8)(R13*1), Z3; \
	VPSLLD $16, Z3, Z3

// The last steps of a column's sum: F32 and F16 rows as ggml's AVX2
// vec_dot (two horizontal adds), BF16 rows as its bf16 one.
#define HSUM_F \
	VADDPS X1, X0, X0; \
	VHADDPS X0, X0, X0; \
	VHADDPS X0, X0, X0
#define HSUM_BF16 \
	VADDPS X0, X1, X0; \
	VMOVHLPS X0, X0, X1; \
	VADDPS X1, X0, X0; \
	VMOVSHDUP X0, X1; \
	VADDSS X1, X0, X0


// TILE4 is the AVX2 kernel's body, TILE4V the AVX-512 one's, for any of the
// three weight types: LOAD converts one step of weights to float32 (32
// elements of one row into Y8-Y11; 32 of two rows into Z0-Z3), STEP is
// that step's bytes in a row, HSUM finishes a column's sum from X0 and the
// high half in X1, as ggml's vec_dot for the type does.
#define TILE4(LOAD, STEP, HSUM) \
	MOVQ n+0(FP), CX; \
	SHRQ $5, CX; \
	MOVQ w+8(FP), SI; \
	MOVQ rows+24(FP), R11; \
	MOVQ dst+56(FP), DI; \
	MOVQ cols+48(FP), AX; \
	COLMAP(dststride+64(FP), AX, BX, R13, DX, R9); \
	MOVQ R13, d2-8(SP); \
	MOVQ DX, d3-16(SP); \
	COLMAP(xstride+40(FP), AX, R12, R10, R14, R9); \
	MOVQ x+32(FP), R9; \
	ADDQ R9, R12; \
	ADDQ R9, R10; \
	ADDQ R10, R14; \
	TESTQ R11, R11; \
	JZ done; \
	TESTQ CX, CX; \
	JZ done; \
	MOVQ wstride+16(FP), R13; \
	SHLQ $2, R13; \
row: \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; \
	MOVQ SI, R8; \
	XORQ DX, DX; \
	MOVQ CX, AX; \
loop0: \
	PREFETCHT1 (R8)(R13*1); \
	LOAD; \
	VFMADD231PS 0(R9)(DX*1), Y8, Y0; \
	VFMADD231PS 0(R12)(DX*1), Y8, Y4; \
	VFMADD231PS 32(R9)(DX*1), Y9, Y1; \
	VFMADD231PS 32(R12)(DX*1), Y9, Y5; \
	VFMADD231PS 64(R9)(DX*1), Y10, Y2; \
	VFMADD231PS 64(R12)(DX*1), Y10, Y6; \
	VFMADD231PS 96(R9)(DX*1), Y11, Y3; \
	VFMADD231PS 96(R12)(DX*1), Y11, Y7; \
	ADDQ $STEP, R8; \
	ADDQ $128, DX; \
	DECQ AX; \
	JNZ loop0; \
	VADDPS Y2, Y0, Y0; \
	VADDPS Y3, Y1, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X12; \
	VADDPS Y6, Y4, Y4; \
	VADDPS Y7, Y5, Y5; \
	VADDPS Y5, Y4, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X13; \
	CMPQ cols+48(FP), $2; \
	JLE next; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; \
	MOVQ SI, R8; \
	XORQ DX, DX; \
	MOVQ CX, AX; \
loop1: \
	LOAD; \
	VFMADD231PS 0(R10)(DX*1), Y8, Y0; \
	VFMADD231PS 0(R14)(DX*1), Y8, Y4; \
	VFMADD231PS 32(R10)(DX*1), Y9, Y1; \
	VFMADD231PS 32(R14)(DX*1), Y9, Y5; \
	VFMADD231PS 64(R10)(DX*1), Y10, Y2; \
	VFMADD231PS 64(R14)(DX*1), Y10, Y6; \
	VFMADD231PS 96(R10)(DX*1), Y11, Y3; \
	VFMADD231PS 96(R14)(DX*1), Y11, Y7; \
	ADDQ $STEP, R8; \
	ADDQ $128, DX; \
	DECQ AX; \
	JNZ loop1; \
	VADDPS Y2, Y0, Y0; \
	VADDPS Y3, Y1, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X14; \
	VADDPS Y6, Y4, Y4; \
	VADDPS Y7, Y5, Y5; \
	VADDPS Y5, Y4, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X15; \
next: \
	VMOVSS X12, (DI); \
	VMOVSS X13, (DI)(BX*1); \
	CMPQ cols+48(FP), $2; \
	JLE stored; \
	MOVQ DI, AX; \
	ADDQ d2-8(SP), AX; \
	VMOVSS X14, (AX); \
	ADDQ d3-16(SP), AX; \
	VMOVSS X15, (AX); \
stored: \
	ADDQ $4, DI; \
	ADDQ wstride+16(FP), SI; \
	DECQ R11; \
	JNZ row; \
done: \
	VZEROUPPER; \
	RET

#define TILE4V(LOAD, STEP, HSUM) \
	MOVQ n+0(FP), CX; \
	SHRQ $5, CX; \
	MOVQ w+8(FP), SI; \
	MOVQ rows+24(FP), R11; \
	SHRQ $1, R11; \
	MOVQ dst+56(FP), DI; \
	MOVQ cols+48(FP), AX; \
	COLMAP(dststride+64(FP), AX, BX, R13, DX, R9); \
	MOVQ BX, d1-8(SP); \
	MOVQ R13, d2-16(SP); \
	MOVQ DX, d3-24(SP); \
	COLMAP(xstride+40(FP), AX, R12, R10, R14, R9); \
	MOVQ x+32(FP), R9; \
	ADDQ R9, R12; \
	ADDQ R9, R10; \
	ADDQ R10, R14; \
	MOVQ wstride+16(FP), R13; \
	TESTQ R11, R11; \
	JZ done; \
	TESTQ CX, CX; \
	JZ done; \
row: \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23; \
	VPXORD Z24, Z24, Z24; \
	VPXORD Z25, Z25, Z25; \
	VPXORD Z26, Z26, Z26; \
	VPXORD Z27, Z27, Z27; \
	VPXORD Z28, Z28, Z28; \
	VPXORD Z29, Z29, Z29; \
	VPXORD Z30, Z30, Z30; \
	VPXORD Z31, Z31, Z31; \
	MOVQ SI, R8; \
	LEAQ (SI)(R13*4), BX; \
	XORQ DX, DX; \
	MOVQ CX, AX; \
loop: \
	PREFETCHT1 (BX); \
	PREFETCHT1 (BX)(R13*1); \
	LOAD; \
	VMOVUPS 0(R9)(DX*1), Z4; \
	VMOVUPS 64(R9)(DX*1), Z5; \
	VFMADD231PS Z4, Z0, Z16; \
	VFMADD231PS Z5, Z1, Z17; \
	VFMADD231PS Z4, Z2, Z24; \
	VFMADD231PS Z5, Z3, Z25; \
	VMOVUPS 0(R12)(DX*1), Z4; \
	VMOVUPS 64(R12)(DX*1), Z5; \
	VFMADD231PS Z4, Z0, Z18; \
	VFMADD231PS Z5, Z1, Z19; \
	VFMADD231PS Z4, Z2, Z26; \
	VFMADD231PS Z5, Z3, Z27; \
	VMOVUPS 0(R10)(DX*1), Z4; \
	VMOVUPS 64(R10)(DX*1), Z5; \
	VFMADD231PS Z4, Z0, Z20; \
	VFMADD231PS Z5, Z1, Z21; \
	VFMADD231PS Z4, Z2, Z28; \
	VFMADD231PS Z5, Z3, Z29; \
	VMOVUPS 0(R14)(DX*1), Z4; \
	VMOVUPS 64(R14)(DX*1), Z5; \
	VFMADD231PS Z4, Z0, Z22; \
	VFMADD231PS Z5, Z1, Z23; \
	VFMADD231PS Z4, Z2, Z30; \
	VFMADD231PS Z5, Z3, Z31; \
	ADDQ $STEP, R8; \
	ADDQ $STEP, BX; \
	ADDQ $128, DX; \
	DECQ AX; \
	JNZ loop; \
	VADDPS Z17, Z16, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X6; \
	VADDPS Z19, Z18, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X7; \
	VADDPS Z21, Z20, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X8; \
	VADDPS Z23, Z22, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X9; \
	VADDPS Z25, Z24, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X10; \
	VADDPS Z27, Z26, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X11; \
	VADDPS Z29, Z28, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X12; \
	VADDPS Z31, Z30, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	HSUM; \
	VMOVAPS X0, X13; \
	VMOVSS X6, 0(DI); \
	MOVQ DI, AX; \
	ADDQ d1-8(SP), AX; \
	VMOVSS X7, 0(AX); \
	MOVQ DI, AX; \
	ADDQ d2-16(SP), AX; \
	VMOVSS X8, 0(AX); \
	ADDQ d3-24(SP), AX; \
	VMOVSS X9, 0(AX); \
	VMOVSS X10, 4(DI); \
	MOVQ DI, AX; \
	ADDQ d1-8(SP), AX; \
	VMOVSS X11, 4(AX); \
	MOVQ DI, AX; \
	ADDQ d2-16(SP), AX; \
	VMOVSS X12, 4(AX); \
	ADDQ d3-24(SP), AX; \
	VMOVSS X13, 4(AX); \
	ADDQ $8, DI; \
	LEAQ (SI)(R13*2), SI; \
	DECQ R11; \
	JNZ row; \
done: \
	VZEROUPPER; \
	RET

TEXT ·f32Tile4(SB), NOSPLIT, $16-72
	TILE4(LOAD4_F32, 128, HSUM_F)

TEXT ·f32Tile4V(SB), NOSPLIT, $24-72
	TILE4V(LOAD4V_F32, 128, HSUM_F)

TEXT ·f16Tile4(SB), NOSPLIT, $16-72
	TILE4(LOAD4_F16, 64, HSUM_F)

TEXT ·f16Tile4V(SB), NOSPLIT, $24-72
	TILE4V(LOAD4V_F16, 64, HSUM_F)

TEXT ·bf16Tile4(SB), NOSPLIT, $16-72
	TILE4(LOAD4_BF16, 64, HSUM_BF16)

TEXT ·bf16Tile4V(SB), NOSPLIT, $24-72
	TILE4V(LOAD4V_BF16, 64, HSUM_BF16)
