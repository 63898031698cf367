//go:build amd64 && !purego

#include "textflag.h"

// AVX2 vector kernels of the forward pass, in the floating-point order of
// their Go versions (vec.go, ggml.go): attention's F16 multiply-adds,
// softmax's and SiLU's vector exp (ggml_v_expf), F16 conversions, RoPE.

DATA vconst<>+0(SB)/4, $0x4b400000 // R 0x1.8p23
DATA vconst<>+4(SB)/4, $0x3fb8aa3b // log2e 0x1.715476p+0
DATA vconst<>+8(SB)/4, $0x3f317200 // ln2 high 0x1.62e4p-1
DATA vconst<>+12(SB)/4, $0x35bfbe8e // ln2 low 0x1.7f7d1cp-20
DATA vconst<>+16(SB)/4, $0x3f7ffff6 // c0 0x1.ffffecp-1
DATA vconst<>+20(SB)/4, $0x3efffedb // c1 0x1.fffdb6p-2
DATA vconst<>+24(SB)/4, $0x3e2aaf33 // c2 0x1.555e66p-3
DATA vconst<>+28(SB)/4, $0x3d2b9f17 // c3 0x1.573e2ep-5
DATA vconst<>+32(SB)/4, $0x3c072010 // c4 0x1.0e4020p-7
DATA vconst<>+36(SB)/4, $0x3f800000 // 1.0 0x1p0
DATA vconst<>+40(SB)/4, $0x7fffffff // abs mask
DATA vconst<>+44(SB)/4, $0x42fc0000 // 126
DATA vconst<>+48(SB)/4, $0x43400000 // 192
DATA vconst<>+52(SB)/4, $0x82000000 // g bits
DATA vconst<>+56(SB)/4, $0x7f000000 // 2^127 bits
DATA vconst<>+60(SB)/4, $0x80000000 // sign
GLOBL vconst<>(SB), RODATA|NOPTR, $64

DATA ropesign<>+0(SB)/8, $0x0000000080000000
DATA ropesign<>+8(SB)/8, $0x0000000080000000
DATA ropesign<>+16(SB)/8, $0x0000000080000000
DATA ropesign<>+24(SB)/8, $0x0000000080000000
GLOBL ropesign<>(SB), RODATA|NOPTR, $32

// EXPF8 sets y to ggml_v_expf(x) lane by lane (expf8 in ggml.go): both of
// ggml's branches are computed and blended, so there is no jump. x is
// preserved; Y8..Y15 are scratch.
#define EXPF8(x, y) \
	VBROADCASTSS vconst<>+0(SB), Y9; \
	VBROADCASTSS vconst<>+4(SB), Y8; \
	VFMADD213PS Y9, x, Y8; \
	VSUBPS Y9, Y8, Y10; \
	VBROADCASTSS vconst<>+8(SB), Y11; \
	VMOVAPS x, Y12; \
	VFNMADD231PS Y11, Y10, Y12; \
	VBROADCASTSS vconst<>+12(SB), Y11; \
	VFNMADD231PS Y11, Y10, Y12; \
	VPSLLD $23, Y8, Y8; \
	VPBROADCASTD vconst<>+36(SB), Y11; \
	VPADDD Y11, Y8, Y13; \
	VMULPS Y12, Y12, Y14; \
	VBROADCASTSS vconst<>+32(SB), Y15; \
	VBROADCASTSS vconst<>+28(SB), Y11; \
	VFMADD213PS Y11, Y12, Y15; \
	VBROADCASTSS vconst<>+24(SB), Y11; \
	VBROADCASTSS vconst<>+20(SB), Y9; \
	VFMADD213PS Y9, Y12, Y11; \
	VFMADD213PS Y11, Y14, Y15; \
	VBROADCASTSS vconst<>+16(SB), Y11; \
	VMULPS Y12, Y11, Y11; \
	VFMADD213PS Y11, Y14, Y15; \
	VMOVAPS Y13, y; \
	VFMADD231PS Y15, Y13, y; \
	VBROADCASTSS vconst<>+40(SB), Y12; \
	VANDPS Y10, Y12, Y12; \
	VBROADCASTSS vconst<>+44(SB), Y9; \
	VCMPPS $0x1e, Y9, Y12, Y9; \
	VXORPS Y11, Y11, Y11; \
	VCMPPS $0x12, Y11, Y10, Y11; \
	VPBROADCASTD vconst<>+52(SB), Y14; \
	VPAND Y14, Y11, Y11; \
	VPBROADCASTD vconst<>+56(SB), Y14; \
	VPADDD Y14, Y11, Y14; \
	VPSUBD Y11, Y8, Y11; \
	VMOVAPS Y11, Y8; \
	VFMADD231PS Y15, Y11, Y8; \
	VMULPS Y14, Y8, Y8; \
	VBLENDVPS Y9, Y8, y, y; \
	VBROADCASTSS vconst<>+48(SB), Y9; \
	VCMPPS $0x1e, Y9, Y12, Y12; \
	VMULPS Y14, Y14, Y14; \
	VBLENDVPS Y12, Y14, y, y

#define VHSUM8(acc, xacc, xt) \
	VEXTRACTF128 $1, acc, xt; \
	VADDPS xacc, xt, xacc; \
	VMOVHLPS xacc, xacc, xt; \
	VADDPS xt, xacc, xacc; \
	VMOVSHDUP xacc, xt; \
	VADDSS xt, xacc, xacc

// func softmaxExp8(x *float32, n8 int, m float32) float64
// x[i] = expf8(x[i]-m) over n8 vectors of 8; returns Σ float64(hsum8(v)).
TEXT ·softmaxExp8(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), DI
	MOVQ n8+8(FP), CX
	VBROADCASTSS m+16(FP), Y7
	VXORPD X6, X6, X6
	TESTQ CX, CX
	JZ done
loop:
	VMOVUPS (DI), Y0
	VSUBPS Y7, Y0, Y0
	EXPF8(Y0, Y1)
	VMOVUPS Y1, (DI)
	VHSUM8(Y1, X1, X2)
	VCVTSS2SD X1, X1, X1
	VADDSD X1, X6, X6
	ADDQ $32, DI
	DECQ CX
	JNZ loop
done:
	VMOVSD X6, ret+24(FP)
	VZEROUPPER
	RET

// func siluMul8(dst, gate, u *float32, n8 int)
// dst[i] = (gate[i] / (1 + expf8(0 - gate[i]))) * u[i] over n8 vectors of 8.
TEXT ·siluMul8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ u+16(FP), DX
	MOVQ n8+24(FP), CX
	TESTQ CX, CX
	JZ done
	VXORPS Y6, Y6, Y6
	VBROADCASTSS vconst<>+36(SB), Y7
loop:
	VMOVUPS (SI), Y0
	VSUBPS Y0, Y6, Y1
	EXPF8(Y1, Y2)
	VADDPS Y7, Y2, Y2
	VDIVPS Y2, Y0, Y3
	VMULPS (DX), Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET

// func madF16(acc *float32, p float32, v *uint16, n int)
// acc[i] = fma(p, f16(v[i]), acc[i]).
TEXT ·madF16(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	VBROADCASTSS p+8(FP), Y0
	MOVQ v+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ tail
loop:
	VCVTPH2PS (SI), Y1
	VMOVUPS (DI), Y2
	VFMADD231PS Y1, Y0, Y2
	VMOVUPS Y2, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ DX
	JNZ loop
tail:
	ANDQ $7, CX
	JZ done
tloop:
	MOVWLZX (SI), AX
	VMOVD AX, X1
	VCVTPH2PS X1, X1
	VMOVSS (DI), X2
	VFMADD231SS X1, X0, X2
	VMOVSS X2, (DI)
	ADDQ $2, SI
	ADDQ $4, DI
	DECQ CX
	JNZ tloop
done:
	VZEROUPPER
	RET

// func roundF16(x *float32, n int)
TEXT ·roundF16(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ tail
loop:
	VMOVUPS (DI), Y0
	VCVTPS2PH $0, Y0, X1
	VCVTPH2PS X1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	DECQ DX
	JNZ loop
tail:
	ANDQ $7, CX
	JZ done
tloop:
	VMOVSS (DI), X0
	VCVTPS2PH $0, X0, X1
	VCVTPH2PS X1, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ CX
	JNZ tloop
done:
	VZEROUPPER
	RET

// func f32ToF16(dst *uint16, src *float32, n int)
TEXT ·f32ToF16(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ tail
loop:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	DECQ DX
	JNZ loop
tail:
	ANDQ $7, CX
	JZ done
tloop:
	VMOVSS (SI), X0
	VCVTPS2PH $0, X0, X1
	VMOVD X1, AX
	MOVW AX, (DI)
	ADDQ $4, SI
	ADDQ $2, DI
	DECQ CX
	JNZ tloop
done:
	VZEROUPPER
	RET

// func f16ToF32(dst *float32, src *uint16, n int)
TEXT ·f16ToF32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ tail
loop:
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ DX
	JNZ loop
tail:
	ANDQ $7, CX
	JZ done
tloop:
	MOVWLZX (SI), AX
	VMOVD AX, X0
	VCVTPH2PS X0, X0
	VMOVSS X0, (DI)
	ADDQ $2, SI
	ADDQ $4, DI
	DECQ CX
	JNZ tloop
done:
	VZEROUPPER
	RET

// ROPE1 rotates one pair (xa, xb) by (c, s) in place: fma(a, c, -(b·s)),
// fma(a, s, b·c) (ropePair in vec.go). X0..X4 scratch.
#define ROPE1(amem, bmem, cmem, smem) \
	VMOVSS amem, X0; \
	VMOVSS bmem, X1; \
	VMOVSS cmem, X2; \
	VMOVSS smem, X3; \
	VMULSS X3, X1, X4; \
	VXORPS X5, X4, X4; \
	VFMADD231SS X2, X0, X4; \
	VMULSS X2, X1, X1; \
	VFMADD231SS X3, X0, X1; \
	VMOVSS X4, amem; \
	VMOVSS X1, bmem

// func ropeNeoX(x, c, s *float32, h int)
// Rotates the pairs (x[i], x[i+h]) for i < h.
TEXT ·ropeNeoX(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), DI
	MOVQ c+8(FP), SI
	MOVQ s+16(FP), DX
	MOVQ h+24(FP), CX
	LEAQ (DI)(CX*4), R8
	VBROADCASTSS vconst<>+60(SB), Y5
	MOVQ CX, BX
	SHRQ $3, BX
	JZ tail
loop:
	VMOVUPS (DI), Y0
	VMOVUPS (R8), Y1
	VMOVUPS (SI), Y2
	VMOVUPS (DX), Y3
	VMULPS Y3, Y1, Y4
	VXORPS Y5, Y4, Y4
	VFMADD231PS Y2, Y0, Y4
	VMULPS Y2, Y1, Y1
	VFMADD231PS Y3, Y0, Y1
	VMOVUPS Y4, (DI)
	VMOVUPS Y1, (R8)
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, SI
	ADDQ $32, DX
	DECQ BX
	JNZ loop
tail:
	ANDQ $7, CX
	JZ done
tloop:
	ROPE1((DI), (R8), (SI), (DX))
	ADDQ $4, DI
	ADDQ $4, R8
	ADDQ $4, SI
	ADDQ $4, DX
	DECQ CX
	JNZ tloop
done:
	VZEROUPPER
	RET

// func ropeNormal(x, c, s *float32, h int)
// Rotates the pairs (x[2i], x[2i+1]) for i < h, four pairs per vector.
TEXT ·ropeNormal(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), DI
	MOVQ c+8(FP), SI
	MOVQ s+16(FP), DX
	MOVQ h+24(FP), CX
	VBROADCASTSS vconst<>+60(SB), Y5
	VMOVUPS ropesign<>(SB), Y7
	MOVQ CX, BX
	SHRQ $2, BX
	JZ tail
loop:
	VMOVUPS (DI), Y0
	VMOVSLDUP Y0, Y1
	VMOVSHDUP Y0, Y0
	VMOVUPS (SI), X2
	VMOVUPS (DX), X3
	VUNPCKLPS X3, X2, X4
	VUNPCKHPS X3, X2, X6
	VINSERTF128 $1, X6, Y4, Y4
	VUNPCKLPS X2, X3, X6
	VUNPCKHPS X2, X3, X2
	VINSERTF128 $1, X2, Y6, Y6
	VMULPS Y6, Y0, Y0
	VXORPS Y7, Y0, Y0
	VFMADD231PS Y4, Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $16, SI
	ADDQ $16, DX
	DECQ BX
	JNZ loop
tail:
	ANDQ $3, CX
	JZ done
tloop:
	ROPE1((DI), 4(DI), (SI), (DX))
	ADDQ $8, DI
	ADDQ $4, SI
	ADDQ $4, DX
	DECQ CX
	JNZ tloop
done:
	VZEROUPPER
	RET

// func axpyF32(y *float32, a float32, x *float32, n int)
// y[i] = fma(a, x[i], y[i]) (the exact mode's weighted sums).
TEXT ·axpyF32(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	VBROADCASTSS a+8(FP), Y0
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ tail
loop:
	VMOVUPS (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ DX
	JNZ loop
tail:
	ANDQ $7, CX
	JZ done
tloop:
	VMOVSS (DI), X1
	VFMADD231SS (SI), X0, X1
	VMOVSS X1, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JNZ tloop
done:
	VZEROUPPER
	RET

// func scaleMul(dst, x *float32, s float32, w *float32, n int)
// dst[i] = (x[i]·s)·w[i] (RMS norm's scaling).
TEXT ·scaleMul(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS s+16(FP), Y0
	MOVQ w+24(FP), DX
	MOVQ n+32(FP), CX
	MOVQ CX, BX
	SHRQ $3, BX
	JZ tail
loop:
	VMULPS (SI), Y0, Y1
	VMULPS (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ BX
	JNZ loop
tail:
	ANDQ $7, CX
	JZ done
tloop:
	VMULSS (SI), X0, X1
	VMULSS (DX), X1, X1
	VMOVSS X1, (DI)
	ADDQ $4, SI
	ADDQ $4, DX
	ADDQ $4, DI
	DECQ CX
	JNZ tloop
done:
	VZEROUPPER
	RET

// func addF32(dst, x *float32, n int)
TEXT ·addF32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ CX, BX
	SHRQ $3, BX
	JZ tail
loop:
	VMOVUPS (DI), Y1
	VADDPS (SI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ BX
	JNZ loop
tail:
	ANDQ $7, CX
	JZ done
tloop:
	VMOVSS (DI), X1
	VADDSS (SI), X1, X1
	VMOVSS X1, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JNZ tloop
done:
	VZEROUPPER
	RET

// func scaleF32(x *float32, s float32, n int)
TEXT ·scaleF32(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	VBROADCASTSS s+8(FP), Y0
	MOVQ n+16(FP), CX
	MOVQ CX, BX
	SHRQ $3, BX
	JZ tail
loop:
	VMULPS (DI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DI
	DECQ BX
	JNZ loop
tail:
	ANDQ $7, CX
	JZ done
tloop:
	VMULSS (DI), X0, X1
	VMOVSS X1, (DI)
	ADDQ $4, DI
	DECQ CX
	JNZ tloop
done:
	VZEROUPPER
	RET
