//go:build amd64 && !purego

#include "textflag.h"

// The kernels of mm32_amd64.s with AVX-512 VNNI
// (VPDPBUSD on 256-bit registers) for the integer products. The lanes are
// the same exact integer sums, so the results are identical.


// AVX2 matrix-product kernels of the 32-element block types with 8-bit
// activations (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1), in the
// floating-point order of ggml's AVX2 build (see ggml_quant.go): per block,
// the integer products are summed into eight int32 lanes (lane l holds
// elements 4l..4l+3), converted to float32 and accumulated with one FMA by
// the product of the two scales; hsum8 reduces the eight lanes at the end.
//
// Every kernel has two shapes sharing one block body: Rows1 multiplies
// rows weight rows by one activation row; Rows4 multiplies them by four
// activation rows at once (the weight block is unpacked once for the four).
//
// Arguments (Rows1): nb blocks, w, wstride, rows, x, dst (rows float32).
// Arguments (Rows4): nb, w, wstride, rows, x, xstride, dst, dststride
// (bytes between the four output rows).

DATA ones16<>+0(SB)/8, $0x0001000100010001
DATA ones16<>+8(SB)/8, $0x0001000100010001
DATA ones16<>+16(SB)/8, $0x0001000100010001
DATA ones16<>+24(SB)/8, $0x0001000100010001
GLOBL ones16<>(SB), RODATA|NOPTR, $32

DATA nibmask<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibmask<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibmask<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibmask<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL nibmask<>(SB), RODATA|NOPTR, $32

DATA eights<>+0(SB)/8, $0x0808080808080808
DATA eights<>+8(SB)/8, $0x0808080808080808
DATA eights<>+16(SB)/8, $0x0808080808080808
DATA eights<>+24(SB)/8, $0x0808080808080808
GLOBL eights<>(SB), RODATA|NOPTR, $32

DATA xf0<>+0(SB)/8, $0xf0f0f0f0f0f0f0f0
DATA xf0<>+8(SB)/8, $0xf0f0f0f0f0f0f0f0
DATA xf0<>+16(SB)/8, $0xf0f0f0f0f0f0f0f0
DATA xf0<>+24(SB)/8, $0xf0f0f0f0f0f0f0f0
GLOBL xf0<>(SB), RODATA|NOPTR, $32

DATA x10<>+0(SB)/8, $0x1010101010101010
DATA x10<>+8(SB)/8, $0x1010101010101010
DATA x10<>+16(SB)/8, $0x1010101010101010
DATA x10<>+24(SB)/8, $0x1010101010101010
GLOBL x10<>(SB), RODATA|NOPTR, $32

// bitshuf spreads the 4 bytes of a broadcast uint32 over 8 bytes each.
DATA bitshuf<>+0(SB)/8, $0x0000000000000000
DATA bitshuf<>+8(SB)/8, $0x0101010101010101
DATA bitshuf<>+16(SB)/8, $0x0202020202020202
DATA bitshuf<>+24(SB)/8, $0x0303030303030303
GLOBL bitshuf<>(SB), RODATA|NOPTR, $32

// bitsel has every bit set except bit i%8 of byte i.
DATA bitsel<>+0(SB)/8, $0x7fbfdfeff7fbfdfe
DATA bitsel<>+8(SB)/8, $0x7fbfdfeff7fbfdfe
DATA bitsel<>+16(SB)/8, $0x7fbfdfeff7fbfdfe
DATA bitsel<>+24(SB)/8, $0x7fbfdfeff7fbfdfe
GLOBL bitsel<>(SB), RODATA|NOPTR, $32

// HSUM8 leaves ggml's hsum_float_8 of acc in the low lane of xacc
// ((hi+lo) then lanes (0+2)+(1+3)); t is scratch.
#define HSUM8(acc, xacc, xt) \
	VEXTRACTF128 $1, acc, xt; \
	VADDPS xacc, xt, xacc; \
	VMOVHLPS xacc, xacc, xt; \
	VADDPS xt, xacc, xacc; \
	VMOVSHDUP xacc, xt; \
	VADDSS xt, xacc, xacc;

// SCALE16 sets f (8 lanes) to the float value of the half at mem.
#define SCALE16(mem, f, xf) \
	VPBROADCASTW mem, xf; \
	VCVTPH2PS xf, f;

// Signed-level loaders: leave the 32 signed levels of the weight block at
// ptr in dst; t is scratch (xt its xmm).
#define LOAD_Q8_0(ptr, dst, xdst, t, xt) \
	VMOVDQU 2(ptr), dst;

#define LOAD_Q4_0(ptr, dst, xdst, t, xt) \
	VMOVDQU 2(ptr), xdst; \
	VPSRLW $4, xdst, xt; \
	VINSERTI128 $1, xt, dst, dst; \
	VPAND nibmask<>(SB), dst, dst; \
	VPSUBB eights<>(SB), dst, dst;

// LOAD_Q5_0's bit test needs an all-ones register: the kernels keep Y14.
#define LOAD_Q5_0(ptr, dst, xdst, t, xt) \
	VMOVDQU 6(ptr), xdst; \
	VPSRLW $4, xdst, xt; \
	VINSERTI128 $1, xt, dst, dst; \
	VPAND nibmask<>(SB), dst, dst; \
	VPBROADCASTD 2(ptr), t; \
	VPSHUFB bitshuf<>(SB), t, t; \
	VPOR bitsel<>(SB), t, t; \
	VPCMPEQB Y14, t, t; \
	VPANDN xf0<>(SB), t, t; \
	VPOR t, dst, dst;

// Unsigned-level loaders (Q4_1, Q5_1: levels 0..15 / 0..31).
#define LOAD_Q4_1(ptr, dst, xdst, t, xt) \
	VMOVDQU 4(ptr), xdst; \
	VPSRLW $4, xdst, xt; \
	VINSERTI128 $1, xt, dst, dst; \
	VPAND nibmask<>(SB), dst, dst;

#define LOAD_Q5_1(ptr, dst, xdst, t, xt) \
	VMOVDQU 8(ptr), xdst; \
	VPSRLW $4, xdst, xt; \
	VINSERTI128 $1, xt, dst, dst; \
	VPAND nibmask<>(SB), dst, dst; \
	VPBROADCASTD 4(ptr), t; \
	VPSHUFB bitshuf<>(SB), t, t; \
	VPOR bitsel<>(SB), t, t; \
	VPCMPEQB Y14, t, t; \
	VPAND x10<>(SB), t, t; \
	VPOR t, dst, dst;

// SDOT: lanes (float) of signed levels w (|w| in aw) times activation
// bytes at mem: sign trick, maddubs, pairs, convert. out/t scratch.
#define SDOT(aw, w, mem, out) \
	VMOVDQU mem, out; \
	VPSIGNB w, out, out; \
	VPXOR Y15, Y15, Y15; \
	VPDPBUSD out, aw, Y15; \
	VCVTDQ2PS Y15, out;

// UDOT: the same for unsigned levels w.
#define UDOT(w, mem, out) \
	VPXOR Y15, Y15, Y15; \
	VPDPBUSD mem, w, Y15; \
	VCVTDQ2PS Y15, out;

// ---- signed 32-blocks against Q8_0 (34-byte activation blocks) ----


TEXT ·q8_0Rows1V(SB), NOSPLIT, $0-48
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+40(FP), DI
	VPCMPEQB Y14, Y14, Y14
	TESTQ R11, R11
	JZ q8_0Rows1_done
q8_0Rows1_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
q8_0Rows1_block:
	LOAD_Q8_0(R8, Y1, X1, Y2, X2)
	VPSIGNB Y1, Y1, Y3
	SDOT(Y3, Y1, 2(R9), Y4)
	SCALE16((R8), Y5, X5)
	SCALE16((R9), Y6, X6)
	VMULPS Y6, Y5, Y5
	VFMADD231PS Y4, Y5, Y0
	ADDQ $34, R8
	ADDQ $34, R9
	DECQ DX
	JNZ q8_0Rows1_block
	HSUM8(Y0, X0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q8_0Rows1_row
q8_0Rows1_done:
	VZEROUPPER
	RET

TEXT ·q8_0Rows4V(SB), NOSPLIT, $0-64
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ xstride+40(FP), BX
	MOVQ dst+48(FP), DI
	MOVQ dststride+56(FP), R12
	VPCMPEQB Y14, Y14, Y14
	TESTQ R11, R11
	JZ q8_0Rows4_done
q8_0Rows4_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
q8_0Rows4_block:
	LOAD_Q8_0(R8, Y4, X4, Y5, X5)
	VPSIGNB Y4, Y4, Y5
	SCALE16((R8), Y6, X6)
	MOVQ R9, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y0
	ADDQ BX, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y1
	ADDQ BX, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y2
	ADDQ BX, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y3
	ADDQ $34, R8
	ADDQ $34, R9
	DECQ DX
	JNZ q8_0Rows4_block
	MOVQ DI, R10
	HSUM8(Y0, X0, X4)
	VMOVSS X0, (R10)
	ADDQ R12, R10
	HSUM8(Y1, X1, X4)
	VMOVSS X1, (R10)
	ADDQ R12, R10
	HSUM8(Y2, X2, X4)
	VMOVSS X2, (R10)
	ADDQ R12, R10
	HSUM8(Y3, X3, X4)
	VMOVSS X3, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q8_0Rows4_row
q8_0Rows4_done:
	VZEROUPPER
	RET

TEXT ·q4_0Rows1V(SB), NOSPLIT, $0-48
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+40(FP), DI
	VPCMPEQB Y14, Y14, Y14
	TESTQ R11, R11
	JZ q4_0Rows1_done
q4_0Rows1_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
q4_0Rows1_block:
	LOAD_Q4_0(R8, Y1, X1, Y2, X2)
	VPSIGNB Y1, Y1, Y3
	SDOT(Y3, Y1, 2(R9), Y4)
	SCALE16((R8), Y5, X5)
	SCALE16((R9), Y6, X6)
	VMULPS Y6, Y5, Y5
	VFMADD231PS Y4, Y5, Y0
	ADDQ $18, R8
	ADDQ $34, R9
	DECQ DX
	JNZ q4_0Rows1_block
	HSUM8(Y0, X0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q4_0Rows1_row
q4_0Rows1_done:
	VZEROUPPER
	RET

TEXT ·q4_0Rows4V(SB), NOSPLIT, $0-64
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ xstride+40(FP), BX
	MOVQ dst+48(FP), DI
	MOVQ dststride+56(FP), R12
	VPCMPEQB Y14, Y14, Y14
	TESTQ R11, R11
	JZ q4_0Rows4_done
q4_0Rows4_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
q4_0Rows4_block:
	LOAD_Q4_0(R8, Y4, X4, Y5, X5)
	VPSIGNB Y4, Y4, Y5
	SCALE16((R8), Y6, X6)
	MOVQ R9, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y0
	ADDQ BX, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y1
	ADDQ BX, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y2
	ADDQ BX, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y3
	ADDQ $18, R8
	ADDQ $34, R9
	DECQ DX
	JNZ q4_0Rows4_block
	MOVQ DI, R10
	HSUM8(Y0, X0, X4)
	VMOVSS X0, (R10)
	ADDQ R12, R10
	HSUM8(Y1, X1, X4)
	VMOVSS X1, (R10)
	ADDQ R12, R10
	HSUM8(Y2, X2, X4)
	VMOVSS X2, (R10)
	ADDQ R12, R10
	HSUM8(Y3, X3, X4)
	VMOVSS X3, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q4_0Rows4_row
q4_0Rows4_done:
	VZEROUPPER
	RET

TEXT ·q5_0Rows1V(SB), NOSPLIT, $0-48
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+40(FP), DI
	VPCMPEQB Y14, Y14, Y14
	TESTQ R11, R11
	JZ q5_0Rows1_done
q5_0Rows1_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
q5_0Rows1_block:
	LOAD_Q5_0(R8, Y1, X1, Y2, X2)
	VPSIGNB Y1, Y1, Y3
	SDOT(Y3, Y1, 2(R9), Y4)
	SCALE16((R8), Y5, X5)
	SCALE16((R9), Y6, X6)
	VMULPS Y6, Y5, Y5
	VFMADD231PS Y4, Y5, Y0
	ADDQ $22, R8
	ADDQ $34, R9
	DECQ DX
	JNZ q5_0Rows1_block
	HSUM8(Y0, X0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q5_0Rows1_row
q5_0Rows1_done:
	VZEROUPPER
	RET

TEXT ·q5_0Rows4V(SB), NOSPLIT, $0-64
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ xstride+40(FP), BX
	MOVQ dst+48(FP), DI
	MOVQ dststride+56(FP), R12
	VPCMPEQB Y14, Y14, Y14
	TESTQ R11, R11
	JZ q5_0Rows4_done
q5_0Rows4_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
q5_0Rows4_block:
	LOAD_Q5_0(R8, Y4, X4, Y5, X5)
	VPSIGNB Y4, Y4, Y5
	SCALE16((R8), Y6, X6)
	MOVQ R9, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y0
	ADDQ BX, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y1
	ADDQ BX, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y2
	ADDQ BX, R10
	SDOT(Y5, Y4, 2(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y3
	ADDQ $22, R8
	ADDQ $34, R9
	DECQ DX
	JNZ q5_0Rows4_block
	MOVQ DI, R10
	HSUM8(Y0, X0, X4)
	VMOVSS X0, (R10)
	ADDQ R12, R10
	HSUM8(Y1, X1, X4)
	VMOVSS X1, (R10)
	ADDQ R12, R10
	HSUM8(Y2, X2, X4)
	VMOVSS X2, (R10)
	ADDQ R12, R10
	HSUM8(Y3, X3, X4)
	VMOVSS X3, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q5_0Rows4_row
q5_0Rows4_done:
	VZEROUPPER
	RET

// ---- unsigned 32-blocks with minimums against Q8_1 (36-byte blocks) ----
//
// ggml: acc = fma(dw*dx, lanes, acc); summs = fma(mw, sx, summs) (scalar);
// result hsum8(acc) + summs.


TEXT ·q4_1Rows1V(SB), NOSPLIT, $0-48
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+40(FP), DI
	VPCMPEQB Y14, Y14, Y14
	TESTQ R11, R11
	JZ q4_1Rows1_done
q4_1Rows1_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
	VXORPS X13, X13, X13
q4_1Rows1_block:
	LOAD_Q4_1(R8, Y1, X1, Y2, X2)
	UDOT(Y1, 4(R9), Y4)
	SCALE16((R8), Y5, X5)
	SCALE16((R9), Y6, X6)
	VMULPS Y6, Y5, Y5
	VFMADD231PS Y4, Y5, Y0
	SCALE16(2(R8), Y5, X5)
	SCALE16(2(R9), Y6, X6)
	VFMADD231SS X6, X5, X13
	ADDQ $20, R8
	ADDQ $36, R9
	DECQ DX
	JNZ q4_1Rows1_block
	HSUM8(Y0, X0, X1)
	VADDSS X13, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q4_1Rows1_row
q4_1Rows1_done:
	VZEROUPPER
	RET

TEXT ·q4_1Rows4V(SB), NOSPLIT, $0-64
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ xstride+40(FP), BX
	MOVQ dst+48(FP), DI
	MOVQ dststride+56(FP), R12
	VPCMPEQB Y14, Y14, Y14
	TESTQ R11, R11
	JZ q4_1Rows4_done
q4_1Rows4_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS X9, X9, X9
	VXORPS X10, X10, X10
	VXORPS X11, X11, X11
	VXORPS X12, X12, X12
q4_1Rows4_block:
	LOAD_Q4_1(R8, Y4, X4, Y5, X5)
	SCALE16((R8), Y6, X6)
	SCALE16(2(R8), Y13, X13)
	MOVQ R9, R10
	UDOT(Y4, 4(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y0
	SCALE16(2(R10), Y8, X8)
	VFMADD231SS X8, X13, X9
	ADDQ BX, R10
	UDOT(Y4, 4(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y1
	SCALE16(2(R10), Y8, X8)
	VFMADD231SS X8, X13, X10
	ADDQ BX, R10
	UDOT(Y4, 4(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y2
	SCALE16(2(R10), Y8, X8)
	VFMADD231SS X8, X13, X11
	ADDQ BX, R10
	UDOT(Y4, 4(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y3
	SCALE16(2(R10), Y8, X8)
	VFMADD231SS X8, X13, X12
	ADDQ $20, R8
	ADDQ $36, R9
	DECQ DX
	JNZ q4_1Rows4_block
	MOVQ DI, R10
	HSUM8(Y0, X0, X4)
	VADDSS X9, X0, X0
	VMOVSS X0, (R10)
	ADDQ R12, R10
	HSUM8(Y1, X1, X4)
	VADDSS X10, X1, X1
	VMOVSS X1, (R10)
	ADDQ R12, R10
	HSUM8(Y2, X2, X4)
	VADDSS X11, X2, X2
	VMOVSS X2, (R10)
	ADDQ R12, R10
	HSUM8(Y3, X3, X4)
	VADDSS X12, X3, X3
	VMOVSS X3, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q4_1Rows4_row
q4_1Rows4_done:
	VZEROUPPER
	RET

TEXT ·q5_1Rows1V(SB), NOSPLIT, $0-48
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+40(FP), DI
	VPCMPEQB Y14, Y14, Y14
	TESTQ R11, R11
	JZ q5_1Rows1_done
q5_1Rows1_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
	VXORPS X13, X13, X13
q5_1Rows1_block:
	LOAD_Q5_1(R8, Y1, X1, Y2, X2)
	UDOT(Y1, 4(R9), Y4)
	SCALE16((R8), Y5, X5)
	SCALE16((R9), Y6, X6)
	VMULPS Y6, Y5, Y5
	VFMADD231PS Y4, Y5, Y0
	SCALE16(2(R8), Y5, X5)
	SCALE16(2(R9), Y6, X6)
	VFMADD231SS X6, X5, X13
	ADDQ $24, R8
	ADDQ $36, R9
	DECQ DX
	JNZ q5_1Rows1_block
	HSUM8(Y0, X0, X1)
	VADDSS X13, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q5_1Rows1_row
q5_1Rows1_done:
	VZEROUPPER
	RET

TEXT ·q5_1Rows4V(SB), NOSPLIT, $0-64
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ xstride+40(FP), BX
	MOVQ dst+48(FP), DI
	MOVQ dststride+56(FP), R12
	VPCMPEQB Y14, Y14, Y14
	TESTQ R11, R11
	JZ q5_1Rows4_done
q5_1Rows4_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS X9, X9, X9
	VXORPS X10, X10, X10
	VXORPS X11, X11, X11
	VXORPS X12, X12, X12
q5_1Rows4_block:
	LOAD_Q5_1(R8, Y4, X4, Y5, X5)
	SCALE16((R8), Y6, X6)
	SCALE16(2(R8), Y13, X13)
	MOVQ R9, R10
	UDOT(Y4, 4(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y0
	SCALE16(2(R10), Y8, X8)
	VFMADD231SS X8, X13, X9
	ADDQ BX, R10
	UDOT(Y4, 4(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y1
	SCALE16(2(R10), Y8, X8)
	VFMADD231SS X8, X13, X10
	ADDQ BX, R10
	UDOT(Y4, 4(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y2
	SCALE16(2(R10), Y8, X8)
	VFMADD231SS X8, X13, X11
	ADDQ BX, R10
	UDOT(Y4, 4(R10), Y7)
	SCALE16((R10), Y8, X8)
	VMULPS Y8, Y6, Y8
	VFMADD231PS Y7, Y8, Y3
	SCALE16(2(R10), Y8, X8)
	VFMADD231SS X8, X13, X12
	ADDQ $24, R8
	ADDQ $36, R9
	DECQ DX
	JNZ q5_1Rows4_block
	MOVQ DI, R10
	HSUM8(Y0, X0, X4)
	VADDSS X9, X0, X0
	VMOVSS X0, (R10)
	ADDQ R12, R10
	HSUM8(Y1, X1, X4)
	VADDSS X10, X1, X1
	VMOVSS X1, (R10)
	ADDQ R12, R10
	HSUM8(Y2, X2, X4)
	VADDSS X11, X2, X2
	VMOVSS X2, (R10)
	ADDQ R12, R10
	HSUM8(Y3, X3, X4)
	VADDSS X12, X3, X3
	VMOVSS X3, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q5_1Rows4_row
q5_1Rows4_done:
	VZEROUPPER
	RET

// ---- Q4_0 in ggml's interleaved (repacked) order ----
//
// Per row: acc = fma(float(Σ block products), dw*dx, acc), one scalar
// chain; the block's eight int32 lanes are summed whole first.

// ISUM8 sums the eight int32 lanes of v into the low lane of xv (exact).
#define ISUM8(v, xv, xt) \
	VEXTRACTI128 $1, v, xt; \
	VPADDD xt, xv, xv; \
	VPSHUFD $0x4e, xv, xt; \
	VPADDD xt, xv, xv; \
	VPSHUFD $0xb1, xv, xt; \
	VPADDD xt, xv, xv;

// IDOT: int32 lanes of signed levels w (|w| in aw) times bytes at mem.
#define IDOT(aw, w, mem, out) \
	VMOVDQU mem, out; \
	VPSIGNB w, out, out; \
	VPXOR Y15, Y15, Y15; \
	VPDPBUSD out, aw, Y15; \
	VMOVDQU Y15, out;

TEXT ·q4_0iRows1V(SB), NOSPLIT, $0-48
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ dst+40(FP), DI
	TESTQ R11, R11
	JZ q4i1_done
q4i1_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS X0, X0, X0
q4i1_block:
	LOAD_Q4_0(R8, Y1, X1, Y2, X2)
	VPSIGNB Y1, Y1, Y3
	IDOT(Y3, Y1, 2(R9), Y4)
	ISUM8(Y4, X4, X2)
	VCVTDQ2PS X4, X4
	SCALE16((R8), Y5, X5)
	SCALE16((R9), Y6, X6)
	VMULSS X6, X5, X5
	VFMADD231SS X5, X4, X0
	ADDQ $18, R8
	ADDQ $34, R9
	DECQ DX
	JNZ q4i1_block
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q4i1_row
q4i1_done:
	VZEROUPPER
	RET

TEXT ·q4_0iRows4V(SB), NOSPLIT, $0-64
	MOVQ nb+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ rows+24(FP), R11
	MOVQ xstride+40(FP), BX
	MOVQ dst+48(FP), DI
	MOVQ dststride+56(FP), R12
	TESTQ R11, R11
	JZ q4i4_done
q4i4_row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ CX, DX
	VXORPS X10, X10, X10
	VXORPS X11, X11, X11
	VXORPS X12, X12, X12
	VXORPS X13, X13, X13
q4i4_block:
	LOAD_Q4_0(R8, Y1, X1, Y2, X2)
	VPSIGNB Y1, Y1, Y3
	SCALE16((R8), Y5, X5)
	MOVQ R9, R10
	IDOT(Y3, Y1, 2(R10), Y4)
	ISUM8(Y4, X4, X2)
	VCVTDQ2PS X4, X4
	SCALE16((R10), Y6, X6)
	VMULSS X6, X5, X6
	VFMADD231SS X6, X4, X10
	ADDQ BX, R10
	IDOT(Y3, Y1, 2(R10), Y4)
	ISUM8(Y4, X4, X2)
	VCVTDQ2PS X4, X4
	SCALE16((R10), Y6, X6)
	VMULSS X6, X5, X6
	VFMADD231SS X6, X4, X11
	ADDQ BX, R10
	IDOT(Y3, Y1, 2(R10), Y4)
	ISUM8(Y4, X4, X2)
	VCVTDQ2PS X4, X4
	SCALE16((R10), Y6, X6)
	VMULSS X6, X5, X6
	VFMADD231SS X6, X4, X12
	ADDQ BX, R10
	IDOT(Y3, Y1, 2(R10), Y4)
	ISUM8(Y4, X4, X2)
	VCVTDQ2PS X4, X4
	SCALE16((R10), Y6, X6)
	VMULSS X6, X5, X6
	VFMADD231SS X6, X4, X13
	ADDQ $18, R8
	ADDQ $34, R9
	DECQ DX
	JNZ q4i4_block
	MOVQ DI, R10
	VMOVSS X10, (R10)
	ADDQ R12, R10
	VMOVSS X11, (R10)
	ADDQ R12, R10
	VMOVSS X12, (R10)
	ADDQ R12, R10
	VMOVSS X13, (R10)
	ADDQ $4, DI
	ADDQ wstride+16(FP), SI
	DECQ R11
	JNZ q4i4_row
q4i4_done:
	VZEROUPPER
	RET
