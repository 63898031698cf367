//go:build amd64 && !purego

#include "textflag.h"

// The kernels of mmk_amd64.s with AVX-512 VNNI: VPDPWSSD multiplies the
// 16-bit pair sums by the scales and accumulates in one instruction (the
// same exact integer lanes, so the same results).

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
	VPDPWSSD t3, t2, sum; \
	VPMADDUBSW (36+64*c)(xp), t1, t1; \
	VPBROADCASTW (4*c+2)(SP), t3; \
	VPDPWSSD t3, t1, sum

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

TEXT ·q4_KRows1V(SB), NOSPLIT, $32-48
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

TEXT ·q4_KRows4V(SB), NOSPLIT, $32-64
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

TEXT ·q4_KiRows1V(SB), NOSPLIT, $32-48
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

TEXT ·q4_KiRows4V(SB), NOSPLIT, $32-64
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

TEXT ·q4_KgRows1V(SB), NOSPLIT, $32-48
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

	TEXT ·q4_KgRows4V(SB), NOSPLIT, $32-64
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
	VPBROADCASTW 0(SP), Y24
	VPBROADCASTW 2(SP), Y25
	VPBROADCASTW 4(SP), Y26
	VPBROADCASTW 6(SP), Y27
	VPBROADCASTW 8(SP), Y28
	VPBROADCASTW 10(SP), Y29
	VPBROADCASTW 12(SP), Y30
	VPBROADCASTW 14(SP), Y31
	VMOVDQU 16(R8), Y9
	VPANDD knib<>(SB), Y9, Y16
	VPSRLW $4, Y9, Y9
	VPANDD knib<>(SB), Y9, Y17
	VMOVDQU 48(R8), Y9
	VPANDD knib<>(SB), Y9, Y18
	VPSRLW $4, Y9, Y9
	VPANDD knib<>(SB), Y9, Y19
	VMOVDQU 80(R8), Y9
	VPANDD knib<>(SB), Y9, Y20
	VPSRLW $4, Y9, Y9
	VPANDD knib<>(SB), Y9, Y21
	VMOVDQU 112(R8), Y9
	VPANDD knib<>(SB), Y9, Y22
	VPSRLW $4, Y9, Y9
	VPANDD knib<>(SB), Y9, Y23
	VMOVD (R8), X15
	VCVTPH2PS X15, X15
	MOVQ R9, R10
	VPMADDUBSW 4(R10), Y16, Y9
	VPMADDWD Y24, Y9, Y10
	VPMADDUBSW 36(R10), Y17, Y9
	VPDPWSSD Y25, Y9, Y10
	VPMADDUBSW 68(R10), Y18, Y9
	VPMADDWD Y26, Y9, Y11
	VPMADDUBSW 100(R10), Y19, Y9
	VPDPWSSD Y27, Y9, Y11
	VPMADDUBSW 132(R10), Y20, Y9
	VPMADDWD Y28, Y9, Y12
	VPMADDUBSW 164(R10), Y21, Y9
	VPDPWSSD Y29, Y9, Y12
	VPMADDUBSW 196(R10), Y22, Y9
	VPMADDWD Y30, Y9, Y13
	VPMADDUBSW 228(R10), Y23, Y9
	VPDPWSSD Y31, Y9, Y13
	VPHADDD Y11, Y10, Y9
	VPHADDD Y13, Y12, Y14
	VPHADDD Y14, Y9, Y9
	VEXTRACTI128 $1, Y9, X14
	VPADDD X14, X9, X9
	VCVTDQ2PS X9, X9
	Q4K_MINPROD(R10, X10, X11)
	VCVTDQ2PS X10, X10
	VBROADCASTSS (R10), X11
	VMULPS X15, X11, X11
	VMOVSHDUP X11, X12
	VFMADD231SS X11, X9, X0
	VFMADD231SS X12, X10, X4
	VPSHUFD $0x55, X9, X13
	VPSHUFD $0x55, X10, X14
	VFMADD231SS X11, X13, X0
	VFMADD231SS X12, X14, X4
	VPSHUFD $0xaa, X9, X13
	VPSHUFD $0xaa, X10, X14
	VFMADD231SS X11, X13, X0
	VFMADD231SS X12, X14, X4
	VPSHUFD $0xff, X9, X13
	VPSHUFD $0xff, X10, X14
	VFMADD231SS X11, X13, X0
	VFMADD231SS X12, X14, X4
	ADDQ xstride+40(FP), R10
	VPMADDUBSW 4(R10), Y16, Y9
	VPMADDWD Y24, Y9, Y10
	VPMADDUBSW 36(R10), Y17, Y9
	VPDPWSSD Y25, Y9, Y10
	VPMADDUBSW 68(R10), Y18, Y9
	VPMADDWD Y26, Y9, Y11
	VPMADDUBSW 100(R10), Y19, Y9
	VPDPWSSD Y27, Y9, Y11
	VPMADDUBSW 132(R10), Y20, Y9
	VPMADDWD Y28, Y9, Y12
	VPMADDUBSW 164(R10), Y21, Y9
	VPDPWSSD Y29, Y9, Y12
	VPMADDUBSW 196(R10), Y22, Y9
	VPMADDWD Y30, Y9, Y13
	VPMADDUBSW 228(R10), Y23, Y9
	VPDPWSSD Y31, Y9, Y13
	VPHADDD Y11, Y10, Y9
	VPHADDD Y13, Y12, Y14
	VPHADDD Y14, Y9, Y9
	VEXTRACTI128 $1, Y9, X14
	VPADDD X14, X9, X9
	VCVTDQ2PS X9, X9
	Q4K_MINPROD(R10, X10, X11)
	VCVTDQ2PS X10, X10
	VBROADCASTSS (R10), X11
	VMULPS X15, X11, X11
	VMOVSHDUP X11, X12
	VFMADD231SS X11, X9, X1
	VFMADD231SS X12, X10, X5
	VPSHUFD $0x55, X9, X13
	VPSHUFD $0x55, X10, X14
	VFMADD231SS X11, X13, X1
	VFMADD231SS X12, X14, X5
	VPSHUFD $0xaa, X9, X13
	VPSHUFD $0xaa, X10, X14
	VFMADD231SS X11, X13, X1
	VFMADD231SS X12, X14, X5
	VPSHUFD $0xff, X9, X13
	VPSHUFD $0xff, X10, X14
	VFMADD231SS X11, X13, X1
	VFMADD231SS X12, X14, X5
	ADDQ xstride+40(FP), R10
	VPMADDUBSW 4(R10), Y16, Y9
	VPMADDWD Y24, Y9, Y10
	VPMADDUBSW 36(R10), Y17, Y9
	VPDPWSSD Y25, Y9, Y10
	VPMADDUBSW 68(R10), Y18, Y9
	VPMADDWD Y26, Y9, Y11
	VPMADDUBSW 100(R10), Y19, Y9
	VPDPWSSD Y27, Y9, Y11
	VPMADDUBSW 132(R10), Y20, Y9
	VPMADDWD Y28, Y9, Y12
	VPMADDUBSW 164(R10), Y21, Y9
	VPDPWSSD Y29, Y9, Y12
	VPMADDUBSW 196(R10), Y22, Y9
	VPMADDWD Y30, Y9, Y13
	VPMADDUBSW 228(R10), Y23, Y9
	VPDPWSSD Y31, Y9, Y13
	VPHADDD Y11, Y10, Y9
	VPHADDD Y13, Y12, Y14
	VPHADDD Y14, Y9, Y9
	VEXTRACTI128 $1, Y9, X14
	VPADDD X14, X9, X9
	VCVTDQ2PS X9, X9
	Q4K_MINPROD(R10, X10, X11)
	VCVTDQ2PS X10, X10
	VBROADCASTSS (R10), X11
	VMULPS X15, X11, X11
	VMOVSHDUP X11, X12
	VFMADD231SS X11, X9, X2
	VFMADD231SS X12, X10, X6
	VPSHUFD $0x55, X9, X13
	VPSHUFD $0x55, X10, X14
	VFMADD231SS X11, X13, X2
	VFMADD231SS X12, X14, X6
	VPSHUFD $0xaa, X9, X13
	VPSHUFD $0xaa, X10, X14
	VFMADD231SS X11, X13, X2
	VFMADD231SS X12, X14, X6
	VPSHUFD $0xff, X9, X13
	VPSHUFD $0xff, X10, X14
	VFMADD231SS X11, X13, X2
	VFMADD231SS X12, X14, X6
	ADDQ xstride+40(FP), R10
	VPMADDUBSW 4(R10), Y16, Y9
	VPMADDWD Y24, Y9, Y10
	VPMADDUBSW 36(R10), Y17, Y9
	VPDPWSSD Y25, Y9, Y10
	VPMADDUBSW 68(R10), Y18, Y9
	VPMADDWD Y26, Y9, Y11
	VPMADDUBSW 100(R10), Y19, Y9
	VPDPWSSD Y27, Y9, Y11
	VPMADDUBSW 132(R10), Y20, Y9
	VPMADDWD Y28, Y9, Y12
	VPMADDUBSW 164(R10), Y21, Y9
	VPDPWSSD Y29, Y9, Y12
	VPMADDUBSW 196(R10), Y22, Y9
	VPMADDWD Y30, Y9, Y13
	VPMADDUBSW 228(R10), Y23, Y9
	VPDPWSSD Y31, Y9, Y13
	VPHADDD Y11, Y10, Y9
	VPHADDD Y13, Y12, Y14
	VPHADDD Y14, Y9, Y9
	VEXTRACTI128 $1, Y9, X14
	VPADDD X14, X9, X9
	VCVTDQ2PS X9, X9
	Q4K_MINPROD(R10, X10, X11)
	VCVTDQ2PS X10, X10
	VBROADCASTSS (R10), X11
	VMULPS X15, X11, X11
	VMOVSHDUP X11, X12
	VFMADD231SS X11, X9, X3
	VFMADD231SS X12, X10, X7
	VPSHUFD $0x55, X9, X13
	VPSHUFD $0x55, X10, X14
	VFMADD231SS X11, X13, X3
	VFMADD231SS X12, X14, X7
	VPSHUFD $0xaa, X9, X13
	VPSHUFD $0xaa, X10, X14
	VFMADD231SS X11, X13, X3
	VFMADD231SS X12, X14, X7
	VPSHUFD $0xff, X9, X13
	VPSHUFD $0xff, X10, X14
	VFMADD231SS X11, X13, X3
	VFMADD231SS X12, X14, X7
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
#define Q6K_CHUNK(lv, ymem, perm, src, sum, t1, t2) KOFF_CHUNK(lv, ymem, perm, src, sum, t1, t2, k32<>(SB))

// KOFF_CHUNK adds a chunk's scaled products of levels stored with an
// offset (lv unsigned, the offset's bytes at off) to sum.
#define KOFF_CHUNK(lv, ymem, perm, src, sum, t1, t2, off) \
	VMOVDQU perm, t2; \
	VPERMD src, t2, t2; \
	VPMADDUBSW ymem, lv, lv; \
	VPDPWSSD t2, lv, sum; \
	VMOVDQU off, t1; \
	VPMADDUBSW ymem, t1, t1; \
	VPDPWSSD t2, t1, Y16

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
	VPXORD Y16, Y16, Y16; \
	Q6K_HALF(0, xp, Y14, kperm0<>(SB), kperm1<>(SB), Y12, Y13); \
	Q6K_HALF(1, xp, Y14, kperm2<>(SB), kperm3<>(SB), Y12, Y13); \
	VPSUBD Y16, Y14, Y14; \
	VCVTDQ2PS Y14, Y14; \
	VPBROADCASTW 208(R8), X15; \
	VCVTPH2PS X15, X15; \
	VMULSS (xp), X15, X15; \
	VBROADCASTSS X15, Y15; \
	VFMADD231PS Y14, Y15, acc

TEXT ·q6_KRows1V(SB), NOSPLIT, $0-48
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

TEXT ·q6_KRows4V(SB), NOSPLIT, $0-64
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

DATA k01<>+0(SB)/8, $0x0101010101010101
DATA k01<>+8(SB)/8, $0x0101010101010101
DATA k01<>+16(SB)/8, $0x0101010101010101
DATA k01<>+24(SB)/8, $0x0101010101010101
GLOBL k01<>(SB), RODATA|NOPTR, $32

DATA k03<>+0(SB)/8, $0x0303030303030303
DATA k03<>+8(SB)/8, $0x0303030303030303
DATA k03<>+16(SB)/8, $0x0303030303030303
DATA k03<>+24(SB)/8, $0x0303030303030303
GLOBL k03<>(SB), RODATA|NOPTR, $32

DATA k04<>+0(SB)/8, $0x0404040404040404
DATA k04<>+8(SB)/8, $0x0404040404040404
DATA k04<>+16(SB)/8, $0x0404040404040404
DATA k04<>+24(SB)/8, $0x0404040404040404
GLOBL k04<>(SB), RODATA|NOPTR, $32

DATA k10<>+0(SB)/8, $0x1010101010101010
DATA k10<>+8(SB)/8, $0x1010101010101010
DATA k10<>+16(SB)/8, $0x1010101010101010
DATA k10<>+24(SB)/8, $0x1010101010101010
GLOBL k10<>(SB), RODATA|NOPTR, $32

DATA kw0f<>+0(SB)/8, $0x000f000f000f000f
DATA kw0f<>+8(SB)/8, $0x000f000f000f000f
DATA kw0f<>+16(SB)/8, $0x000f000f000f000f
DATA kw0f<>+24(SB)/8, $0x000f000f000f000f
GLOBL kw0f<>(SB), RODATA|NOPTR, $32

DATA kq3shift<>+0(SB)/8, $0x0000000200000000
DATA kq3shift<>+8(SB)/8, $0x0000000600000004
GLOBL kq3shift<>(SB), RODATA|NOPTR, $16

DATA kw32<>+0(SB)/8, $0x0020002000200020
DATA kw32<>+8(SB)/8, $0x0020002000200020
DATA kw32<>+16(SB)/8, $0x0020002000200020
DATA kw32<>+24(SB)/8, $0x0020002000200020
GLOBL kw32<>(SB), RODATA|NOPTR, $32

// ---- Q5_K (ggml_vec_dot_q5_K_q8_K) ----
//
// As Q4_K, plus a fifth bit per level from the 32 bytes at 16 (bit 2c for
// the low nibbles of chunk c, bit 2c+1 for the high ones); the mins go to
// one scalar, added after hsum8.

#define Q5K_CHUNK0(xp, sum, t1, t2, t3) \
	VMOVDQU (48+32*0)(R8), t1; \
	VPAND knib<>(SB), t1, t2; \
	VMOVDQU 16(R8), t3; \
	VPSLLW $4, t3, t3; \
	VPAND k10<>(SB), t3, t3; \
	VPOR t3, t2, t2; \
	VPMADDUBSW (4+64*0)(xp), t2, t2; \
	VPBROADCASTW (4*0)(SP), t3; \
	VPDPWSSD t3, t2, sum; \
	VPSRLW $4, t1, t1; \
	VPAND knib<>(SB), t1, t1; \
	VMOVDQU 16(R8), t3; \
	VPSLLW $3, t3, t3; \
	VPAND k10<>(SB), t3, t3; \
	VPOR t3, t1, t1; \
	VPMADDUBSW (36+64*0)(xp), t1, t1; \
	VPBROADCASTW (4*0+2)(SP), t3; \
	VPDPWSSD t3, t1, sum

#define Q5K_CHUNK1(xp, sum, t1, t2, t3) \
	VMOVDQU (48+32*1)(R8), t1; \
	VPAND knib<>(SB), t1, t2; \
	VMOVDQU 16(R8), t3; \
	VPSLLW $2, t3, t3; \
	VPAND k10<>(SB), t3, t3; \
	VPOR t3, t2, t2; \
	VPMADDUBSW (4+64*1)(xp), t2, t2; \
	VPBROADCASTW (4*1)(SP), t3; \
	VPDPWSSD t3, t2, sum; \
	VPSRLW $4, t1, t1; \
	VPAND knib<>(SB), t1, t1; \
	VMOVDQU 16(R8), t3; \
	VPSLLW $1, t3, t3; \
	VPAND k10<>(SB), t3, t3; \
	VPOR t3, t1, t1; \
	VPMADDUBSW (36+64*1)(xp), t1, t1; \
	VPBROADCASTW (4*1+2)(SP), t3; \
	VPDPWSSD t3, t1, sum

#define Q5K_CHUNK2(xp, sum, t1, t2, t3) \
	VMOVDQU (48+32*2)(R8), t1; \
	VPAND knib<>(SB), t1, t2; \
	VMOVDQU 16(R8), t3; \
	VPAND k10<>(SB), t3, t3; \
	VPOR t3, t2, t2; \
	VPMADDUBSW (4+64*2)(xp), t2, t2; \
	VPBROADCASTW (4*2)(SP), t3; \
	VPDPWSSD t3, t2, sum; \
	VPSRLW $4, t1, t1; \
	VPAND knib<>(SB), t1, t1; \
	VMOVDQU 16(R8), t3; \
	VPSRLW $1, t3, t3; \
	VPAND k10<>(SB), t3, t3; \
	VPOR t3, t1, t1; \
	VPMADDUBSW (36+64*2)(xp), t1, t1; \
	VPBROADCASTW (4*2+2)(SP), t3; \
	VPDPWSSD t3, t1, sum

#define Q5K_CHUNK3(xp, sum, t1, t2, t3) \
	VMOVDQU (48+32*3)(R8), t1; \
	VPAND knib<>(SB), t1, t2; \
	VMOVDQU 16(R8), t3; \
	VPSRLW $2, t3, t3; \
	VPAND k10<>(SB), t3, t3; \
	VPOR t3, t2, t2; \
	VPMADDUBSW (4+64*3)(xp), t2, t2; \
	VPBROADCASTW (4*3)(SP), t3; \
	VPDPWSSD t3, t2, sum; \
	VPSRLW $4, t1, t1; \
	VPAND knib<>(SB), t1, t1; \
	VMOVDQU 16(R8), t3; \
	VPSRLW $3, t3, t3; \
	VPAND k10<>(SB), t3, t3; \
	VPOR t3, t1, t1; \
	VPMADDUBSW (36+64*3)(xp), t1, t1; \
	VPBROADCASTW (4*3+2)(SP), t3; \
	VPDPWSSD t3, t1, sum

#define Q5K_COL(xp, acc, summs) \
	VPXOR Y9, Y9, Y9; \
	Q5K_CHUNK0(xp, Y9, Y10, Y11, Y12); \
	Q5K_CHUNK1(xp, Y9, Y10, Y11, Y12); \
	Q5K_CHUNK2(xp, Y9, Y10, Y11, Y12); \
	Q5K_CHUNK3(xp, Y9, Y10, Y11, Y12); \
	Q4K_MINPROD(xp, X13, X14); \
	VPHADDD X13, X13, X13; \
	VPHADDD X13, X13, X13; \
	VCVTDQ2PS X13, X13; \
	KSCALES((R8), xp, X14, X15); \
	VMOVSHDUP X14, X15; \
	VFNMADD231SS X13, X15, summs; \
	VBROADCASTSS X14, Y15; \
	VCVTDQ2PS Y9, Y9; \
	VFMADD231PS Y9, Y15, acc

TEXT ·q5_KRows1V(SB), NOSPLIT, $32-48
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
	Q5K_COL(R9, Y0, X1)
	ADDQ $176, R8
	ADDQ $292, R9
	DECQ DX
	JNZ block
	KHSUM8(Y0, X0, X2)
	VADDSS X1, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ row
done:
	VZEROUPPER
	RET

TEXT ·q5_KRows4V(SB), NOSPLIT, $32-64
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
	Q5K_COL(BX, Y0, X4)
	ADDQ xstride+40(FP), BX
	Q5K_COL(BX, Y1, X5)
	ADDQ xstride+40(FP), BX
	Q5K_COL(BX, Y2, X6)
	ADDQ xstride+40(FP), BX
	Q5K_COL(BX, Y3, X7)
	ADDQ $176, R8
	ADDQ $292, R9
	DECQ DX
	JNZ block
	MOVQ DI, R10
	KHSUM8(Y0, X0, X9)
	VADDSS X4, X0, X0
	VMOVSS X0, (R10)
	ADDQ dststride+56(FP), R10
	KHSUM8(Y1, X1, X9)
	VADDSS X5, X1, X1
	VMOVSS X1, (R10)
	ADDQ dststride+56(FP), R10
	KHSUM8(Y2, X2, X9)
	VADDSS X6, X2, X2
	VMOVSS X2, (R10)
	ADDQ dststride+56(FP), R10
	KHSUM8(Y3, X3, X9)
	VADDSS X7, X3, X3
	VMOVSS X3, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ row
done:
	VZEROUPPER
	RET

// ---- Q3_K (ggml_vec_dot_q3_K_q8_K) ----
//
// Levels stored as 0..7 (two bits from the 64 bytes at 32, a third from
// the mask at 0; the -4 offset is subtracted as 4 times the scaled
// activation sums); sixteen 6-bit scales minus 32, kept as in Q6_K.

// Q3K_SCALES unpacks the scales of the block at R8 into Y12/Y13 (int16
// pairs, as Q6K_SCALES): low nibbles from the 8 bytes at 96, two high bits
// from the 4 bytes at 104 (byte j%4, shifted by 2*(j/4)).
#define Q3K_SCALES \
	VMOVQ 96(R8), X12; \
	VPSRLW $4, X12, X13; \
	VPAND knib<>(SB), X13, X13; \
	VPAND knib<>(SB), X12, X12; \
	VPUNPCKLQDQ X13, X12, X12; \
	VPBROADCASTD 104(R8), X13; \
	VPSRLVD kq3shift<>(SB), X13, X13; \
	VPAND k03<>(SB), X13, X13; \
	VPSLLW $4, X13, X13; \
	VPOR X13, X12, X12; \
	VPMOVZXBW X12, Y12; \
	VPSUBW kw32<>(SB), Y12, Y12; \
	VPUNPCKHWD Y12, Y12, Y13; \
	VPUNPCKLWD Y12, Y12, Y12

#define Q3K_COL(xp, acc) \
	VPXOR Y14, Y14, Y14; \
	VPXORD Y16, Y16, Y16; \
	VMOVDQU 32(R8), Y8; \
	VPAND k03<>(SB), Y8, Y8; \
	VMOVDQU (R8), Y9; \
	VPSLLW $2, Y9, Y9; \
	VPAND k04<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	KOFF_CHUNK(Y8, 4(xp), kperm0<>(SB), Y12, Y14, Y10, Y11, k04<>(SB)); \
	VMOVDQU 32(R8), Y8; \
	VPSRLW $2, Y8, Y8; \
	VPAND k03<>(SB), Y8, Y8; \
	VMOVDQU (R8), Y9; \
	VPSLLW $1, Y9, Y9; \
	VPAND k04<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	KOFF_CHUNK(Y8, 36(xp), kperm1<>(SB), Y12, Y14, Y10, Y11, k04<>(SB)); \
	VMOVDQU 32(R8), Y8; \
	VPSRLW $4, Y8, Y8; \
	VPAND k03<>(SB), Y8, Y8; \
	VMOVDQU (R8), Y9; \
	VPAND k04<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	KOFF_CHUNK(Y8, 68(xp), kperm0<>(SB), Y13, Y14, Y10, Y11, k04<>(SB)); \
	VMOVDQU 32(R8), Y8; \
	VPSRLW $6, Y8, Y8; \
	VPAND k03<>(SB), Y8, Y8; \
	VMOVDQU (R8), Y9; \
	VPSRLW $1, Y9, Y9; \
	VPAND k04<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	KOFF_CHUNK(Y8, 100(xp), kperm1<>(SB), Y13, Y14, Y10, Y11, k04<>(SB)); \
	VMOVDQU 64(R8), Y8; \
	VPAND k03<>(SB), Y8, Y8; \
	VMOVDQU (R8), Y9; \
	VPSRLW $2, Y9, Y9; \
	VPAND k04<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	KOFF_CHUNK(Y8, 132(xp), kperm2<>(SB), Y12, Y14, Y10, Y11, k04<>(SB)); \
	VMOVDQU 64(R8), Y8; \
	VPSRLW $2, Y8, Y8; \
	VPAND k03<>(SB), Y8, Y8; \
	VMOVDQU (R8), Y9; \
	VPSRLW $3, Y9, Y9; \
	VPAND k04<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	KOFF_CHUNK(Y8, 164(xp), kperm3<>(SB), Y12, Y14, Y10, Y11, k04<>(SB)); \
	VMOVDQU 64(R8), Y8; \
	VPSRLW $4, Y8, Y8; \
	VPAND k03<>(SB), Y8, Y8; \
	VMOVDQU (R8), Y9; \
	VPSRLW $4, Y9, Y9; \
	VPAND k04<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	KOFF_CHUNK(Y8, 196(xp), kperm2<>(SB), Y13, Y14, Y10, Y11, k04<>(SB)); \
	VMOVDQU 64(R8), Y8; \
	VPSRLW $6, Y8, Y8; \
	VPAND k03<>(SB), Y8, Y8; \
	VMOVDQU (R8), Y9; \
	VPSRLW $5, Y9, Y9; \
	VPAND k04<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8; \
	KOFF_CHUNK(Y8, 228(xp), kperm3<>(SB), Y13, Y14, Y10, Y11, k04<>(SB)); \
	VPSUBD Y16, Y14, Y14; \
	VCVTDQ2PS Y14, Y14; \
	VPBROADCASTW 108(R8), X15; \
	VCVTPH2PS X15, X15; \
	VMULSS (xp), X15, X15; \
	VBROADCASTSS X15, Y15; \
	VFMADD231PS Y14, Y15, acc

TEXT ·q3_KRows1V(SB), NOSPLIT, $0-48
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
	Q3K_SCALES
	Q3K_COL(R9, Y0)
	ADDQ $110, R8
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

TEXT ·q3_KRows4V(SB), NOSPLIT, $0-64
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
	Q3K_SCALES
	MOVQ R9, BX
	Q3K_COL(BX, Y0)
	ADDQ xstride+40(FP), BX
	Q3K_COL(BX, Y1)
	ADDQ xstride+40(FP), BX
	Q3K_COL(BX, Y2)
	ADDQ xstride+40(FP), BX
	Q3K_COL(BX, Y3)
	ADDQ $110, R8
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

// ---- Q2_K (ggml_vec_dot_q2_K_q8_K) ----
//
// Levels 0..3 (two bits of the 64 bytes at 16); per 16 elements a 4-bit
// scale (low nibble of bytes 0..15) and a 4-bit min (high nibble), whose
// products with the activation sums are added to the same accumulator
// first, by -d·dmin.

// Q2K_SCALES: scales as int16 pairs in Y12/Y13, mins as int16 in Y8.
#define Q2K_SCALES \
	VPMOVZXBW (R8), Y12; \
	VPSRLW $4, Y12, Y8; \
	VPAND kw0f<>(SB), Y12, Y12; \
	VPUNPCKHWD Y12, Y12, Y13; \
	VPUNPCKLWD Y12, Y12, Y12

#define Q2K_COL(xp, acc) \
	VMOVDQU 260(xp), Y9; \
	VPMADDWD Y8, Y9, Y9; \
	VCVTDQ2PS Y9, Y9; \
	KSCALES(80(R8), xp, X14, X15); \
	VMOVSHDUP X14, X15; \
	VBROADCASTSS X15, Y15; \
	VFNMADD231PS Y9, Y15, acc; \
	VPXOR Y14, Y14, Y14; \
	VMOVDQU 16(R8), Y9; \
	VPAND k03<>(SB), Y9, Y9; \
	VMOVDQU kperm0<>(SB), Y11; \
	VPERMD Y12, Y11, Y11; \
	VPMADDUBSW 4(xp), Y9, Y9; \
	VPDPWSSD Y11, Y9, Y14; \
	VMOVDQU 16(R8), Y9; \
	VPSRLW $2, Y9, Y9; \
	VPAND k03<>(SB), Y9, Y9; \
	VMOVDQU kperm1<>(SB), Y11; \
	VPERMD Y12, Y11, Y11; \
	VPMADDUBSW 36(xp), Y9, Y9; \
	VPDPWSSD Y11, Y9, Y14; \
	VMOVDQU 16(R8), Y9; \
	VPSRLW $4, Y9, Y9; \
	VPAND k03<>(SB), Y9, Y9; \
	VMOVDQU kperm0<>(SB), Y11; \
	VPERMD Y13, Y11, Y11; \
	VPMADDUBSW 68(xp), Y9, Y9; \
	VPDPWSSD Y11, Y9, Y14; \
	VMOVDQU 16(R8), Y9; \
	VPSRLW $6, Y9, Y9; \
	VPAND k03<>(SB), Y9, Y9; \
	VMOVDQU kperm1<>(SB), Y11; \
	VPERMD Y13, Y11, Y11; \
	VPMADDUBSW 100(xp), Y9, Y9; \
	VPDPWSSD Y11, Y9, Y14; \
	VMOVDQU 48(R8), Y9; \
	VPAND k03<>(SB), Y9, Y9; \
	VMOVDQU kperm2<>(SB), Y11; \
	VPERMD Y12, Y11, Y11; \
	VPMADDUBSW 132(xp), Y9, Y9; \
	VPDPWSSD Y11, Y9, Y14; \
	VMOVDQU 48(R8), Y9; \
	VPSRLW $2, Y9, Y9; \
	VPAND k03<>(SB), Y9, Y9; \
	VMOVDQU kperm3<>(SB), Y11; \
	VPERMD Y12, Y11, Y11; \
	VPMADDUBSW 164(xp), Y9, Y9; \
	VPDPWSSD Y11, Y9, Y14; \
	VMOVDQU 48(R8), Y9; \
	VPSRLW $4, Y9, Y9; \
	VPAND k03<>(SB), Y9, Y9; \
	VMOVDQU kperm2<>(SB), Y11; \
	VPERMD Y13, Y11, Y11; \
	VPMADDUBSW 196(xp), Y9, Y9; \
	VPDPWSSD Y11, Y9, Y14; \
	VMOVDQU 48(R8), Y9; \
	VPSRLW $6, Y9, Y9; \
	VPAND k03<>(SB), Y9, Y9; \
	VMOVDQU kperm3<>(SB), Y11; \
	VPERMD Y13, Y11, Y11; \
	VPMADDUBSW 228(xp), Y9, Y9; \
	VPDPWSSD Y11, Y9, Y14; \
	VCVTDQ2PS Y14, Y14; \
	KSCALES(80(R8), xp, X10, X15); \
	VBROADCASTSS X10, Y15; \
	VFMADD231PS Y14, Y15, acc

TEXT ·q2_KRows1V(SB), NOSPLIT, $0-48
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
	Q2K_SCALES
	Q2K_COL(R9, Y0)
	ADDQ $84, R8
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

TEXT ·q2_KRows4V(SB), NOSPLIT, $0-64
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
	Q2K_SCALES
	MOVQ R9, BX
	Q2K_COL(BX, Y0)
	ADDQ xstride+40(FP), BX
	Q2K_COL(BX, Y1)
	ADDQ xstride+40(FP), BX
	Q2K_COL(BX, Y2)
	ADDQ xstride+40(FP), BX
	Q2K_COL(BX, Y3)
	ADDQ $84, R8
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

