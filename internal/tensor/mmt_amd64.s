//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 VNNI kernels for small batches of activation rows: decoding a few
// sequences together multiplies every weight matrix by two to eight rows,
// one per sequence, each in the order ggml gives a single row (Order 0).
// The tiles read each weight block once for up to four activation rows and
// prefetch the next tile's weight rows into L2: a tile reads four rows at
// once, each too short a stream for the hardware prefetcher to run ahead,
// and without it the products wait on memory instead of overlapping it.
//
// Arguments: Tile4(nb, w, wstride, rows, x, xstride, cols, dst, dststride):
// rows a multiple of four, 1 <= cols <= 4. Fewer than four columns are
// computed as four by repeating present ones (COLMAP), which only stores
// identical values twice.

// COLMAP sets the offsets of columns 1, 2 and 3 from column 0 for cols
// columns of the given stride as s1 (column 1), b2 (column 2) and b2+s2
// (column 3), repeating columns when there are fewer than four:
// 1: 0,0,0; 2: s,0,s; 3: s,2s,2s; 4: s,2s,3s. zero is scratch.
#define COLMAP(stride, cols, s1, b2, s2, zero) \
	XORQ zero, zero; \
	MOVQ stride, s1; \
	MOVQ s1, s2; \
	LEAQ (s1)(s1*1), b2; \
	CMPQ cols, $3; \
	CMOVQLT zero, b2; \
	CMPQ cols, $2; \
	CMOVQLT zero, s1; \
	TESTQ $1, cols; \
	CMOVQNE zero, s2

// TSTORE stores ggml's hsum_float_8 of acc (any register) to mem.
#define TSTORE(acc, mem) \
	VMOVAPS acc, Y12; \
	VEXTRACTF128 $1, Y12, X14; \
	VADDPS X12, X14, X12; \
	VMOVHLPS X12, X12, X14; \
	VADDPS X14, X12, X12; \
	VMOVSHDUP X12, X14; \
	VADDSS X14, X12, X12; \
	VMOVSS X12, mem

// Q8_0 by Q8_0: the activation bytes are offset to unsigned (x+128, Y13
// holds 0x80 bytes) so VPDPBUSD multiplies them by the signed weights
// directly, each pair's sum starting from -128·Σw (Q8CORR, once per weight
// block) instead of zero: the same exact integer lanes as ggml's sign
// trick. Each pair then converts, and adds with one FMA by the product of
// the two scales, read broadcast from a table of 4×4 products per block.

// Q8CORR sets c to -128 times the four-byte sums of signed levels w.
#define Q8CORR(w, c) \
	VPXOR Y12, Y12, Y12; \
	VPDPBUSD w, Y13, Y12; \
	VPXOR c, c, c; \
	VPSUBD Y12, c, c

// q8perm spreads four weight scales over the 4×4 table, one per row.
DATA q8perm<>+0(SB)/8, $0
DATA q8perm<>+8(SB)/8, $0
DATA q8perm<>+16(SB)/8, $0x0000000100000001
DATA q8perm<>+24(SB)/8, $0x0000000100000001
DATA q8perm<>+32(SB)/8, $0x0000000200000002
DATA q8perm<>+40(SB)/8, $0x0000000200000002
DATA q8perm<>+48(SB)/8, $0x0000000300000003
DATA q8perm<>+56(SB)/8, $0x0000000300000003
GLOBL q8perm<>(SB), RODATA|NOPTR, $64

// Q8PAIR adds one weight block (w, corr) times one activation block (u) to acc.
#define Q8PAIR(corr, w, u, d, acc) \
	VMOVDQA corr, Y12; \
	VPDPBUSD w, u, Y12; \
	VCVTDQ2PS Y12, Y12; \
	VFMADD231PS.BCST d, Y12, acc

// q8_0Tile4V multiplies rows weight rows (a multiple of four) by cols
// activation rows, four weight rows at a time, in chunks of up to 32
// blocks: first the chunk's table of scale products (d(r,c) at 64·block +
// 16r + 4c, stored long before it is read: reading it right after storing
// stalls), then its integer products. Frame: the table, then the column
// offsets of dst, the tile base, the column-2 offset of x, the chunk's
// length and start pointers.
TEXT ·q8_0Tile4V(SB), $2120-72
	MOVQ wstride+16(FP), R13
	LEAQ (R13)(R13*2), CX
	MOVQ rows+24(FP), R11
	MOVQ w+8(FP), SI
	MOVQ SI, 2072(SP)
	MOVQ dst+56(FP), DI
	MOVQ cols+48(FP), AX
	COLMAP(dststride+64(FP), AX, R12, R10, R14, R9)
	MOVQ R12, 2048(SP)
	MOVQ R10, 2056(SP)
	MOVQ R14, 2064(SP)
	COLMAP(xstride+40(FP), AX, R12, R10, R14, R9)
	MOVQ R10, 2080(SP)
	MOVL $0x80808080, AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	VMOVDQU32 q8perm<>(SB), Z15
	SHRQ $2, R11
	JZ done
tile:
	VPXORD Y16, Y16, Y16
	VPXORD Y17, Y17, Y17
	VPXORD Y18, Y18, Y18
	VPXORD Y19, Y19, Y19
	VPXORD Y20, Y20, Y20
	VPXORD Y21, Y21, Y21
	VPXORD Y22, Y22, Y22
	VPXORD Y23, Y23, Y23
	VPXORD Y24, Y24, Y24
	VPXORD Y25, Y25, Y25
	VPXORD Y26, Y26, Y26
	VPXORD Y27, Y27, Y27
	VPXORD Y28, Y28, Y28
	VPXORD Y29, Y29, Y29
	VPXORD Y30, Y30, Y30
	VPXORD Y31, Y31, Y31
	MOVQ 2072(SP), R8
	LEAQ (R8)(R13*4), BX
	MOVQ x+32(FP), R9
	MOVQ 2080(SP), R10
	ADDQ R9, R10
	MOVQ nb+0(FP), DX
chunk:
	MOVQ $32, AX
	CMPQ DX, AX
	CMOVQLT DX, AX
	SUBQ AX, DX
	MOVQ AX, 2088(SP)
	MOVQ R8, 2096(SP)
	MOVQ R9, 2104(SP)
	MOVQ R10, 2112(SP)
	LEAQ 0(SP), SI
scales:
	VPBROADCASTW (R8), X0
	VPINSRW $1, (R8)(R13*1), X0, X0
	VPINSRW $2, (R8)(R13*2), X0, X0
	VPINSRW $3, (R8)(CX*1), X0, X0
	VCVTPH2PS X0, X0
	VPBROADCASTW (R9), X1
	VPINSRW $1, (R9)(R12*1), X1, X1
	VPINSRW $2, (R10), X1, X1
	VPINSRW $3, (R10)(R14*1), X1, X1
	VCVTPH2PS X1, X1
	VPERMPS Z0, Z15, Z0
	VSHUFF32X4 $0, Z1, Z1, Z1
	VMULPS Z1, Z0, Z0
	VMOVUPS Z0, (SI)
	ADDQ $34, R8
	ADDQ $34, R9
	ADDQ $34, R10
	ADDQ $64, SI
	DECQ AX
	JNZ scales
	MOVQ 2088(SP), AX
	MOVQ 2096(SP), R8
	MOVQ 2104(SP), R9
	MOVQ 2112(SP), R10
	LEAQ 0(SP), SI
block:
	PREFETCHT1 (BX)
	PREFETCHT1 (BX)(R13*1)
	PREFETCHT1 (BX)(R13*2)
	PREFETCHT1 (BX)(CX*1)
	VMOVDQU 2(R8), Y0
	VMOVDQU 2(R8)(R13*1), Y1
	VMOVDQU 2(R8)(R13*2), Y2
	VMOVDQU 2(R8)(CX*1), Y3
	VPXOR 2(R9), Y13, Y4
	VPXOR 2(R9)(R12*1), Y13, Y5
	VPXOR 2(R10), Y13, Y6
	VPXOR 2(R10)(R14*1), Y13, Y7
	Q8CORR(Y0, Y8)
	Q8CORR(Y1, Y9)
	Q8CORR(Y2, Y10)
	Q8CORR(Y3, Y11)
	Q8PAIR(Y8, Y0, Y4, 0(SI), Y16)
	Q8PAIR(Y8, Y0, Y5, 4(SI), Y17)
	Q8PAIR(Y8, Y0, Y6, 8(SI), Y18)
	Q8PAIR(Y8, Y0, Y7, 12(SI), Y19)
	Q8PAIR(Y9, Y1, Y4, 16(SI), Y20)
	Q8PAIR(Y9, Y1, Y5, 20(SI), Y21)
	Q8PAIR(Y9, Y1, Y6, 24(SI), Y22)
	Q8PAIR(Y9, Y1, Y7, 28(SI), Y23)
	Q8PAIR(Y10, Y2, Y4, 32(SI), Y24)
	Q8PAIR(Y10, Y2, Y5, 36(SI), Y25)
	Q8PAIR(Y10, Y2, Y6, 40(SI), Y26)
	Q8PAIR(Y10, Y2, Y7, 44(SI), Y27)
	Q8PAIR(Y11, Y3, Y4, 48(SI), Y28)
	Q8PAIR(Y11, Y3, Y5, 52(SI), Y29)
	Q8PAIR(Y11, Y3, Y6, 56(SI), Y30)
	Q8PAIR(Y11, Y3, Y7, 60(SI), Y31)
	ADDQ $34, R8
	ADDQ $34, BX
	ADDQ $34, R9
	ADDQ $34, R10
	ADDQ $64, SI
	DECQ AX
	JNZ block
	TESTQ DX, DX
	JNZ chunk
	MOVQ DI, AX
	MOVQ 2048(SP), DX
	TSTORE(Y16, 0(AX))
	TSTORE(Y20, 4(AX))
	TSTORE(Y24, 8(AX))
	TSTORE(Y28, 12(AX))
	ADDQ DX, AX
	TSTORE(Y17, 0(AX))
	TSTORE(Y21, 4(AX))
	TSTORE(Y25, 8(AX))
	TSTORE(Y29, 12(AX))
	MOVQ DI, AX
	ADDQ 2056(SP), AX
	TSTORE(Y18, 0(AX))
	TSTORE(Y22, 4(AX))
	TSTORE(Y26, 8(AX))
	TSTORE(Y30, 12(AX))
	ADDQ 2064(SP), AX
	TSTORE(Y19, 0(AX))
	TSTORE(Y23, 4(AX))
	TSTORE(Y27, 8(AX))
	TSTORE(Y31, 12(AX))
	ADDQ $16, DI
	MOVQ 2072(SP), SI
	LEAQ (SI)(R13*4), SI
	MOVQ SI, 2072(SP)
	DECQ R11
	JNZ tile
done:
	VZEROUPPER
	RET
