//go:build amd64 && !purego

#include "textflag.h"

// AVX2 kernels of the K-quant weight types with Q8_K activations (292-byte
// blocks: float32 d, 256 int8 levels, 16 int16 sums of 16 levels). ggml
// sums a super-block's integer products, times their sub-block scales, in
// eight int32 lanes (lane l holds elements 4l..4l+3 of every 32-element
// chunk); integer sums are exact, so any order of the integer work gives
// the same lanes. The float work follows ggml_quant.go exactly.
//
// Arguments as in mm32_amd64.s: Rows1(nb, w, wstride, rows, x, dst),
// Rows4(nb, w, wstride, rows, x, xstride, dst, dststride).

DATA knib<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA knib<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA knib<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA knib<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL knib<>(SB), RODATA|NOPTR, $32

DATA k30<>+0(SB)/8, $0x3030303030303030
DATA k30<>+8(SB)/8, $0x3030303030303030
DATA k30<>+16(SB)/8, $0x3030303030303030
DATA k30<>+24(SB)/8, $0x3030303030303030
GLOBL k30<>(SB), RODATA|NOPTR, $32

DATA k32<>+0(SB)/8, $0x2020202020202020
DATA k32<>+8(SB)/8, $0x2020202020202020
DATA k32<>+16(SB)/8, $0x2020202020202020
DATA k32<>+24(SB)/8, $0x2020202020202020
GLOBL k32<>(SB), RODATA|NOPTR, $32

// kperm0..3 pick, from int32 lanes holding paired int16 scales, the
// pair for one 32-element chunk: lanes 0-3 one scale, lanes 4-7 the next.
DATA kperm0<>+0(SB)/8, $0x0000000000000000
DATA kperm0<>+8(SB)/8, $0x0000000000000000
DATA kperm0<>+16(SB)/8, $0x0000000100000001
DATA kperm0<>+24(SB)/8, $0x0000000100000001
GLOBL kperm0<>(SB), RODATA|NOPTR, $32
DATA kperm1<>+0(SB)/8, $0x0000000200000002
DATA kperm1<>+8(SB)/8, $0x0000000200000002
DATA kperm1<>+16(SB)/8, $0x0000000300000003
DATA kperm1<>+24(SB)/8, $0x0000000300000003
GLOBL kperm1<>(SB), RODATA|NOPTR, $32
DATA kperm2<>+0(SB)/8, $0x0000000400000004
DATA kperm2<>+8(SB)/8, $0x0000000400000004
DATA kperm2<>+16(SB)/8, $0x0000000500000005
DATA kperm2<>+24(SB)/8, $0x0000000500000005
GLOBL kperm2<>(SB), RODATA|NOPTR, $32
DATA kperm3<>+0(SB)/8, $0x0000000600000006
DATA kperm3<>+8(SB)/8, $0x0000000600000006
DATA kperm3<>+16(SB)/8, $0x0000000700000007
DATA kperm3<>+24(SB)/8, $0x0000000700000007
GLOBL kperm3<>(SB), RODATA|NOPTR, $32

DATA kones<>+0(SB)/8, $0x0001000100010001
DATA kones<>+8(SB)/8, $0x0001000100010001
DATA kones<>+16(SB)/8, $0x0001000100010001
DATA kones<>+24(SB)/8, $0x0001000100010001
GLOBL kones<>(SB), RODATA|NOPTR, $32

// KHSUM8 leaves hsum8 of acc in the low lane of xacc.
#define KHSUM8(acc, xacc, xt) \
	VEXTRACTF128 $1, acc, xt; \
	VADDPS xacc, xt, xacc; \
	VMOVHLPS xacc, xacc, xt; \
	VADDPS xt, xacc, xacc; \
	VMOVSHDUP xacc, xt; \
	VADDSS xt, xacc, xacc

// KISUM8 sums the eight int32 lanes of v into the low lane of xv.
#define KISUM8(v, xv, xt) \
	VEXTRACTI128 $1, v, xt; \
	VPADDD xt, xv, xv; \
	VPSHUFD $0x4e, xv, xt; \
	VPADDD xt, xv, xv; \
	VPSHUFD $0xb1, xv, xt; \
	VPADDD xt, xv, xv

// Q4K_SCALES unpacks the 6-bit scales and mins of the Q4_K super-block at
// R8: the eight scales as int16 at 0(SP)..14(SP), the eight mins as int16
// in X8. Uses AX, BX, R10, R12, R13.
#define Q4K_SCALES \
	MOVL 4(R8), AX; \
	MOVL 8(R8), BX; \
	MOVL 12(R8), R10; \
	MOVL R10, R12; \
	SHRL $4, R12; \
	ANDL $0x0f0f0f0f, R12; \
	MOVL BX, R13; \
	SHRL $6, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, R12; \
	ANDL $0x3f3f3f3f, BX; \
	SHLQ $32, R12; \
	ORQ BX, R12; \
	ANDL $0x0f0f0f0f, R10; \
	MOVL AX, R13; \
	SHRL $6, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, R10; \
	ANDL $0x3f3f3f3f, AX; \
	SHLQ $32, R10; \
	ORQ AX, R10; \
	MOVQ R10, X8; \
	VPMOVZXBW X8, X9; \
	VMOVDQU X9, 0(SP); \
	MOVQ R12, X8; \
	VPMOVZXBW X8, X8

// Q4K_LANES sums the scaled products of the Q4_K block at R8 with the
// Q8_K block at xp into the int32 lanes sum (t1, t2, t3 scratch).
#define Q4K_CHUNK(c, xp, sum, t1, t2, t3) \
	VMOVDQU (16+32*c)(R8), t1; \
	VPAND knib<>(SB), t1, t2; \
	VPSRLW $4, t1, t1; \
	VPAND knib<>(SB), t1, t1; \
	VPMADDUBSW (4+64*c)(xp), t2, t2; \
	VPBROADCASTW (4*c)(SP), t3; \
	VPMADDWD t3, t2, t2; \
	VPADDD t2, sum, sum; \
	VPMADDUBSW (36+64*c)(xp), t1, t1; \
	VPBROADCASTW (4*c+2)(SP), t3; \
	VPMADDWD t3, t1, t1; \
	VPADDD t1, sum, sum

#define Q4K_LANES(xp, sum, t1, t2, t3) \
	VPXOR sum, sum, sum; \
	Q4K_CHUNK(0, xp, sum, t1, t2, t3); \
	Q4K_CHUNK(1, xp, sum, t1, t2, t3); \
	Q4K_CHUNK(2, xp, sum, t1, t2, t3); \
	Q4K_CHUNK(3, xp, sum, t1, t2, t3)

// Q4K_MINPROD leaves in xprod the four int32 products of the mins (X8)
// with the sums of their sub-blocks (ggml's prod[0..3]) for Q8_K at xp.
#define Q4K_MINPROD(xp, xprod, xt) \
	VMOVDQU 260(xp), xprod; \
	VMOVDQU 276(xp), xt; \
	VPHADDW xt, xprod, xprod; \
	VPMADDWD X8, xprod, xprod

// KSCALES sets xd lane 0 to yd*dw, lane 1 to yd*dmin for weight scales
// (two halves) at wmem and Q8_K at xp.
#define KSCALES(wmem, xp, xd, xt) \
	VMOVD wmem, xd; \
	VCVTPH2PS xd, xd; \
	VBROADCASTSS (xp), xt; \
	VMULPS xt, xd, xd

// Q4K_COL accumulates one Q4_K super-block (R8) times one Q8_K block (xp)
// into acc (eight float lanes) and accm (four float lanes of mins).
#define Q4K_COL(xp, acc, accm) \
	Q4K_LANES(xp, Y9, Y10, Y11, Y12); \
	Q4K_MINPROD(xp, X13, X14); \
	VCVTDQ2PS X13, X13; \
	KSCALES((R8), xp, X14, X15); \
	VSHUFPS $0x55, X14, X14, X15; \
	VFNMADD231PS X13, X15, accm; \
	VBROADCASTSS X14, Y15; \
	VCVTDQ2PS Y9, Y9; \
	VFMADD231PS Y9, Y15, acc

// Q4K_FINISH leaves in xacc's low lane hsum8(acc) + ((m0+m2)+(m1+m3)).
#define Q4K_FINISH(acc, xacc, accm, xt) \
	KHSUM8(acc, xacc, xt); \
	VMOVHLPS accm, accm, xt; \
	VADDPS xt, accm, accm; \
	VMOVSHDUP accm, xt; \
	VADDSS xt, accm, accm; \
	VADDSS accm, xacc, xacc

// ---- Q4_K (ggml_vec_dot_q4_K_q8_K) ----

TEXT ·q4_KRows1(SB), NOSPLIT, $32-48
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+40(FP), DI
	TESTQ R11, R11
	JZ done
row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
	VXORPS X1, X1, X1
block:
	Q4K_SCALES
	Q4K_COL(R9, Y0, X1)
	ADDQ $144, R8
	ADDQ $292, R9
	DECQ DX
	JNZ block
	Q4K_FINISH(Y0, X0, X1, X2)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ row
done:
	VZEROUPPER
	RET

TEXT ·q4_KRows4(SB), NOSPLIT, $32-64
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+48(FP), DI
	TESTQ R11, R11
	JZ done
row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS X4, X4, X4
	VXORPS X5, X5, X5
	VXORPS X6, X6, X6
	VXORPS X7, X7, X7
block:
	Q4K_SCALES
	MOVQ R9, BX
	Q4K_COL(BX, Y0, X4)
	ADDQ xstride+40(FP), BX
	Q4K_COL(BX, Y1, X5)
	ADDQ xstride+40(FP), BX
	Q4K_COL(BX, Y2, X6)
	ADDQ xstride+40(FP), BX
	Q4K_COL(BX, Y3, X7)
	ADDQ $144, R8
	ADDQ $292, R9
	DECQ DX
	JNZ block
	MOVQ DI, R10
	Q4K_FINISH(Y0, X0, X4, X9)
	VMOVSS X0, (R10)
	ADDQ dststride+56(FP), R10
	Q4K_FINISH(Y1, X1, X5, X9)
	VMOVSS X1, (R10)
	ADDQ dststride+56(FP), R10
	Q4K_FINISH(Y2, X2, X6, X9)
	VMOVSS X2, (R10)
	ADDQ dststride+56(FP), R10
	Q4K_FINISH(Y3, X3, X7, X9)
	VMOVSS X3, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ row
done:
	VZEROUPPER
	RET

// ---- Q4_K in ggml's interleaved (repacked) order ----
//
// Per row, one scalar accumulator for the scaled products and one for the
// mins; gemv adds each super-block whole, the four-row gemm each 64-element
// chunk (two sub-blocks).

// Q4KI_COL adds one super-block (R8) times Q8_K (xp) to acc/accm (scalars).
#define Q4KI_COL(xp, acc, accm) \
	Q4K_LANES(xp, Y9, Y10, Y11, Y12); \
	KISUM8(Y9, X9, X10); \
	VCVTDQ2PS X9, X9; \
	Q4K_MINPROD(xp, X13, X14); \
	KISUM8(Y13, X13, X14); \
	VCVTDQ2PS X13, X13; \
	KSCALES((R8), xp, X14, X15); \
	VFMADD231SS X14, X9, acc; \
	VMOVSHDUP X14, X15; \
	VFMADD231SS X15, X13, accm

// Q4KG_CHUNK adds chunk c (64 elements) of one super-block (R8) times
// Q8_K (xp) to acc/accm: scales d in X14 lane 0, dmin in X15 lane 0, the
// four min products in X13.
#define Q4KG_CHUNK(c, xp, acc, accm) \
	VPXOR Y9, Y9, Y9; \
	Q4K_CHUNK(c, xp, Y9, Y10, Y11, Y12); \
	KISUM8(Y9, X9, X10); \
	VCVTDQ2PS X9, X9; \
	VFMADD231SS X14, X9, acc; \
	VPSHUFD $(c*0x55), X13, X9; \
	VCVTDQ2PS X9, X9; \
	VFMADD231SS X15, X9, accm

#define Q4KG_COL(xp, acc, accm) \
	Q4K_MINPROD(xp, X13, X14); \
	KSCALES((R8), xp, X14, X15); \
	VMOVSHDUP X14, X15; \
	Q4KG_CHUNK(0, xp, acc, accm); \
	Q4KG_CHUNK(1, xp, acc, accm); \
	Q4KG_CHUNK(2, xp, acc, accm); \
	Q4KG_CHUNK(3, xp, acc, accm)

TEXT ·q4_KiRows1(SB), NOSPLIT, $32-48
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+40(FP), DI
	TESTQ R11, R11
	JZ done
row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS X0, X0, X0
	VXORPS X1, X1, X1
block:
	Q4K_SCALES
	Q4KI_COL(R9, X0, X1)
	ADDQ $144, R8
	ADDQ $292, R9
	DECQ DX
	JNZ block
	VSUBSS X1, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ row
done:
	VZEROUPPER
	RET

TEXT ·q4_KiRows4(SB), NOSPLIT, $32-64
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+48(FP), DI
	TESTQ R11, R11
	JZ done
row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS X0, X0, X0
	VXORPS X1, X1, X1
	VXORPS X2, X2, X2
	VXORPS X3, X3, X3
	VXORPS X4, X4, X4
	VXORPS X5, X5, X5
	VXORPS X6, X6, X6
	VXORPS X7, X7, X7
block:
	Q4K_SCALES
	MOVQ R9, BX
	Q4KI_COL(BX, X0, X4)
	ADDQ xstride+40(FP), BX
	Q4KI_COL(BX, X1, X5)
	ADDQ xstride+40(FP), BX
	Q4KI_COL(BX, X2, X6)
	ADDQ xstride+40(FP), BX
	Q4KI_COL(BX, X3, X7)
	ADDQ $144, R8
	ADDQ $292, R9
	DECQ DX
	JNZ block
	MOVQ DI, R10
	VSUBSS X4, X0, X0
	VMOVSS X0, (R10)
	ADDQ dststride+56(FP), R10
	VSUBSS X5, X1, X1
	VMOVSS X1, (R10)
	ADDQ dststride+56(FP), R10
	VSUBSS X6, X2, X2
	VMOVSS X2, (R10)
	ADDQ dststride+56(FP), R10
	VSUBSS X7, X3, X3
	VMOVSS X3, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ row
done:
	VZEROUPPER
	RET

TEXT ·q4_KgRows1(SB), NOSPLIT, $32-48
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+40(FP), DI
	TESTQ R11, R11
	JZ done
row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS X0, X0, X0
	VXORPS X1, X1, X1
block:
	Q4K_SCALES
	Q4KG_COL(R9, X0, X1)
	ADDQ $144, R8
	ADDQ $292, R9
	DECQ DX
	JNZ block
	VSUBSS X1, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ row
done:
	VZEROUPPER
	RET

TEXT ·q4_KgRows4(SB), NOSPLIT, $32-64
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+48(FP), DI
	TESTQ R11, R11
	JZ done
row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS X0, X0, X0
	VXORPS X1, X1, X1
	VXORPS X2, X2, X2
	VXORPS X3, X3, X3
	VXORPS X4, X4, X4
	VXORPS X5, X5, X5
	VXORPS X6, X6, X6
	VXORPS X7, X7, X7
block:
	Q4K_SCALES
	MOVQ R9, BX
	Q4KG_COL(BX, X0, X4)
	ADDQ xstride+40(FP), BX
	Q4KG_COL(BX, X1, X5)
	ADDQ xstride+40(FP), BX
	Q4KG_COL(BX, X2, X6)
	ADDQ xstride+40(FP), BX
	Q4KG_COL(BX, X3, X7)
	ADDQ $144, R8
	ADDQ $292, R9
	DECQ DX
	JNZ block
	MOVQ DI, R10
	VSUBSS X4, X0, X0
	VMOVSS X0, (R10)
	ADDQ dststride+56(FP), R10
	VSUBSS X5, X1, X1
	VMOVSS X1, (R10)
	ADDQ dststride+56(FP), R10
	VSUBSS X6, X2, X2
	VMOVSS X2, (R10)
	ADDQ dststride+56(FP), R10
	VSUBSS X7, X3, X3
	VMOVSS X3, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ row
done:
	VZEROUPPER
	RET

// ---- Q6_K (ggml_vec_dot_q6_K_q8_K) ----
//
// Levels are stored as 0..63 (the -32 offset is subtracted as 32 times the
// scaled activation sums); the sixteen int8 scales, one per 16 elements,
// are kept as int16 pairs in int32 lanes: Y12 holds scales 0-3 and 8-11,
// Y13 scales 4-7 and 12-15, and kpermN picks one chunk's pair.

#define Q6K_SCALES \
	VPMOVSXBW 192(R8), Y12; \
	VPUNPCKHWD Y12, Y12, Y13; \
	VPUNPCKLWD Y12, Y12, Y12

// Q6K_CHUNK adds chunk g's scaled products: lv holds its 32 levels
// (0..63), ymem its 32 activations; perm/src select its scale pair.
#define Q6K_CHUNK(lv, ymem, perm, src, sum, t1, t2) \
	VMOVDQU perm, t2; \
	VPERMD src, t2, t2; \
	VPMADDUBSW ymem, lv, lv; \
	VPMADDWD t2, lv, lv; \
	VPADDD lv, sum, sum; \
	VMOVDQU k32<>(SB), t1; \
	VPMADDUBSW ymem, t1, t1; \
	VPMADDWD t2, t1, t1; \
	VPSUBD t1, sum, sum

// Q6K_HALF adds the 128 elements of half h (ql at 64h, qh at 128+32h).
#define Q6K_HALF(h, xp, sum, pa, pb, s1, s2) \
	VMOVDQU (128+32*h)(R8), Y6; \
	VMOVDQU (64*h)(R8), Y7; \
	VPAND knib<>(SB), Y7, Y8; \
	VPSLLW $4, Y6, Y9; \
	VPAND k30<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	Q6K_CHUNK(Y8, (4+128*h)(xp), pa, s1, sum, Y10, Y11); \
	VPSRLW $4, Y7, Y8; \
	VPAND knib<>(SB), Y8, Y8; \
	VPAND k30<>(SB), Y6, Y9; \
	VPOR Y9, Y8, Y8; \
	Q6K_CHUNK(Y8, (68+128*h)(xp), pa, s2, sum, Y10, Y11); \
	VMOVDQU (64*h+32)(R8), Y7; \
	VPAND knib<>(SB), Y7, Y8; \
	VPSLLW $2, Y6, Y9; \
	VPAND k30<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	Q6K_CHUNK(Y8, (36+128*h)(xp), pb, s1, sum, Y10, Y11); \
	VPSRLW $4, Y7, Y8; \
	VPAND knib<>(SB), Y8, Y8; \
	VPSRLW $2, Y6, Y9; \
	VPAND k30<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	Q6K_CHUNK(Y8, (100+128*h)(xp), pb, s2, sum, Y10, Y11)

// Q6K_COL accumulates one super-block (R8) times Q8_K (xp) into acc.
#define Q6K_COL(xp, acc) \
	VPXOR Y14, Y14, Y14; \
	Q6K_HALF(0, xp, Y14, kperm0<>(SB), kperm1<>(SB), Y12, Y13); \
	Q6K_HALF(1, xp, Y14, kperm2<>(SB), kperm3<>(SB), Y12, Y13); \
	VCVTDQ2PS Y14, Y14; \
	VPBROADCASTW 208(R8), X15; \
	VCVTPH2PS X15, X15; \
	VMULSS (xp), X15, X15; \
	VBROADCASTSS X15, Y15; \
	VFMADD231PS Y14, Y15, acc

TEXT ·q6_KRows1(SB), NOSPLIT, $0-48
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+40(FP), DI
	TESTQ R11, R11
	JZ done
row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
block:
	Q6K_SCALES
	Q6K_COL(R9, Y0)
	ADDQ $210, R8
	ADDQ $292, R9
	DECQ DX
	JNZ block
	KHSUM8(Y0, X0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ row
done:
	VZEROUPPER
	RET

TEXT ·q6_KRows4(SB), NOSPLIT, $0-64
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+48(FP), DI
	TESTQ R11, R11
	JZ done
row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
block:
	Q6K_SCALES
	MOVQ R9, BX
	Q6K_COL(BX, Y0)
	ADDQ xstride+40(FP), BX
	Q6K_COL(BX, Y1)
	ADDQ xstride+40(FP), BX
	Q6K_COL(BX, Y2)
	ADDQ xstride+40(FP), BX
	Q6K_COL(BX, Y3)
	ADDQ $210, R8
	ADDQ $292, R9
	DECQ DX
	JNZ block
	MOVQ DI, R10
	KHSUM8(Y0, X0, X9)
	VMOVSS X0, (R10)
	ADDQ dststride+56(FP), R10
	KHSUM8(Y1, X1, X9)
	VMOVSS X1, (R10)
	ADDQ dststride+56(FP), R10
	KHSUM8(Y2, X2, X9)
	VMOVSS X2, (R10)
	ADDQ dststride+56(FP), R10
	KHSUM8(Y3, X3, X9)
	VMOVSS X3, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ row
done:
	VZEROUPPER
	RET

