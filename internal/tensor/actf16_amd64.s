//go:build amd64 && !purego

#include "textflag.h"

// func roundF16x8(n int, src, dst unsafe.Pointer)
//
// Rounds n float32 values (n a multiple of 8) to half precision and back:
// VCVTPS2PH with immediate rounding mode 0 (nearest, ties to even, whatever
// MXCSR says), then VCVTPH2PS, which is exact.
TEXT ·roundF16x8(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI
	SHRQ $3, CX
	JZ done
	CMPQ CX, $4
	JLT one
four:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, X0
	VMOVUPS 32(SI), Y1
	VCVTPS2PH $0, Y1, X1
	VMOVUPS 64(SI), Y2
	VCVTPS2PH $0, Y2, X2
	VMOVUPS 96(SI), Y3
	VCVTPS2PH $0, Y3, X3
	VCVTPH2PS X0, Y0
	VCVTPH2PS X1, Y1
	VCVTPH2PS X2, Y2
	VCVTPH2PS X3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE four
	TESTQ CX, CX
	JZ done
one:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, X0
	VCVTPH2PS X0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ one
done:
	VZEROUPPER
	RET
