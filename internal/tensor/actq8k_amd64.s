//go:build amd64 && !purego

#include "textflag.h"

DATA q8kc<>+0(SB)/4, $0x7fffffff // |x| mask
DATA q8kc<>+4(SB)/4, $-127.0
DATA q8kc<>+8(SB)/4, $1.0
DATA q8kc<>+12(SB)/4, $127
GLOBL q8kc<>(SB), RODATA|NOPTR, $16

// q8kperm puts the dwords of VPACKSSWB's lane-interleaved result in order.
DATA q8kperm<>+0(SB)/8, $0x0000000400000000
DATA q8kperm<>+8(SB)/8, $0x0000000500000001
DATA q8kperm<>+16(SB)/8, $0x0000000600000002
DATA q8kperm<>+24(SB)/8, $0x0000000700000003
GLOBL q8kperm<>(SB), RODATA|NOPTR, $32

// Q8KSUMS adds up four groups' eight int32 lanes (at off(SP), 32 bytes
// each) into the four lanes of dst: two rounds of VPHADDD, then the halves.
#define Q8KSUMS(off, dst) \
	VMOVDQU off(SP), Y0; \
	VPHADDD off+32(SP), Y0, Y0; \
	VMOVDQU off+64(SP), Y2; \
	VPHADDD off+96(SP), Y2, Y2; \
	VPHADDD Y2, Y0, Y0; \
	VEXTRACTI128 $1, Y0, X1; \
	VPADDD X1, X0, dst

// func q8KBlock(x *float32, b *byte) bool
//
// q8KBlock quantizes one block of 256 floats to Q8_K at b (d, 256 levels,
// 16 sums of 16) exactly as quantizeBlockQ8_K does: the largest magnitude
// is found as the largest integer of the sign-cleared bits (the same order
// as the floats for non-negative values), its first occurrence gives the
// signed max, levels are round-to-nearest-even of x·(-127/max) (what the
// magic-number nearestInt computes) capped at 127. It reports false,
// writing nothing, for a block it leaves to the Go code: one with a NaN
// or an infinity, or whose scale -127/max overflows.
// Frame: the sixteen groups' sums as eight int32 lanes each (0-511).
TEXT ·q8KBlock(SB), NOSPLIT, $512-17
	MOVQ x+0(FP), SI
	MOVQ b+8(FP), DI
	VPBROADCASTD q8kc<>+0(SB), Y15
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	XORQ AX, AX
amax:
	VPAND (SI)(AX*1), Y15, Y2
	VPAND 32(SI)(AX*1), Y15, Y3
	VPMAXUD Y2, Y0, Y0
	VPMAXUD Y3, Y1, Y1
	ADDQ $64, AX
	CMPQ AX, $1024
	JB amax
	VPMAXUD Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VPMAXUD X1, X0, X0
	VMOVD X0, AX
	CMPL AX, $0x7f800000
	JAE fallback
	TESTL AX, AX
	JZ zero

	// The first element of that magnitude: the signed max.
	VPBROADCASTD X0, Y14
	XORQ BX, BX
find:
	VPAND (SI)(BX*4), Y15, Y2
	VPCMPEQD Y14, Y2, Y2
	VMOVMSKPS Y2, CX
	TESTL CX, CX
	JNZ found
	ADDQ $8, BX
	JMP find
found:
	BSFL CX, CX
	ADDQ CX, BX
	VMOVSS (SI)(BX*4), X1
	VMOVSS q8kc<>+4(SB), X2
	VDIVSS X1, X2, X2
	VMOVD X2, AX
	ANDL $0x7fffffff, AX
	CMPL AX, $0x7f800000
	JAE fallback
	VMOVSS q8kc<>+8(SB), X3
	VDIVSS X2, X3, X3
	VMOVSS X3, (DI)
	VBROADCASTSS X2, Y13
	VPBROADCASTD q8kc<>+12(SB), Y12
	VMOVDQU q8kperm<>(SB), Y11

	// Levels, 32 at a time, and each group's lanes summed in int32.
	XORQ AX, AX
	XORQ CX, CX
	XORQ R8, R8
levels:
	VMULPS (SI)(AX*1), Y13, Y0
	VMULPS 32(SI)(AX*1), Y13, Y1
	VMULPS 64(SI)(AX*1), Y13, Y2
	VMULPS 96(SI)(AX*1), Y13, Y3
	VCVTPS2DQ Y0, Y0
	VCVTPS2DQ Y1, Y1
	VCVTPS2DQ Y2, Y2
	VCVTPS2DQ Y3, Y3
	VPMINSD Y12, Y0, Y0
	VPMINSD Y12, Y1, Y1
	VPMINSD Y12, Y2, Y2
	VPMINSD Y12, Y3, Y3
	VPADDD Y1, Y0, Y4
	VMOVDQU Y4, (SP)(R8*1)
	VPADDD Y3, Y2, Y5
	VMOVDQU Y5, 32(SP)(R8*1)
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0
	VPERMD Y0, Y11, Y0
	VMOVDQU Y0, 4(DI)(CX*1)
	ADDQ $128, AX
	ADDQ $32, CX
	ADDQ $64, R8
	CMPQ AX, $1024
	JB levels

	// Sums of the sixteen groups, four at a time.
	Q8KSUMS(0, X4)
	Q8KSUMS(128, X5)
	Q8KSUMS(256, X6)
	Q8KSUMS(384, X7)
	VPACKSSDW X5, X4, X4
	VPACKSSDW X7, X6, X6
	VMOVDQU X4, 260(DI)
	VMOVDQU X6, 276(DI)
	VZEROUPPER
	MOVB $1, ret+16(FP)
	RET

zero:
	VPXOR Y0, Y0, Y0
	XORQ AX, AX
clear:
	VMOVDQU Y0, (DI)(AX*1)
	ADDQ $32, AX
	CMPQ AX, $288
	JB clear
	MOVL $0, 288(DI)
	VZEROUPPER
	MOVB $1, ret+16(FP)
	RET

fallback:
	VZEROUPPER
	MOVB $0, ret+16(FP)
	RET
