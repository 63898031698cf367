//go:build amd64 && !purego

#include "textflag.h"
#include "tile_amd64.h"

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
// identical values twice. COLMAP is in tile_amd64.h.

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

// Q4KTP_HEAD is the common part of q4_KiTile4VP and q4_KiTile2VP up to a
// block's products: the frame, the per-call table of
// the activation terms, the heads of the row and block loops, the
// unpacked nibbles (Y16-Y23) and scales (Y24-Y31), and the zeroed
// accumulators of columns 0 and 1 (Y0, Y7, Y1, Y8). Q4KTP_TAIL is their
// common part once the products are summed into Y0-Y3: mins, scales, the
// stores and the ends of the loops.
#define Q4KTP_HEAD \
	MOVQ dst+56(FP), DI ; \
	MOVQ DI, 6168(SP) ; \
	MOVQ rows+24(FP), AX ; \
	MOVQ AX, 6176(SP) ; \
	MOVQ cols+48(FP), AX ; \
	COLMAP(dststride+64(FP), AX, R12, R10, R14, R9) ; \
	MOVQ R12, 6144(SP) ; \
	MOVQ R10, 6152(SP) ; \
	MOVQ R14, 6160(SP) ; \
	COLMAP(xstride+40(FP), AX, R12, R10, R14, R9) ; \
	MOVQ R10, 6184(SP) ; \
	VMOVDQU q4kdd<>(SB), Y13 ; \
	VMOVDQU q4kmm<>(SB), Y14 ; \
	MOVQ w+8(FP), SI ; \
	MOVQ wstride+16(FP), DI ; \
	SHLQ $1, DI ; \
	CMPQ 6176(SP), $0 ; \
	JEQ done ; \
	MOVQ SI, AX ; \
	LEAQ (SI)(DI*1), BX ; \
head: ; \
	PREFETCHT0 (AX) ; \
	ADDQ $64, AX ; \
	CMPQ AX, BX ; \
	JB head ; \
	MOVQ x+32(FP), R9 ; \
	MOVQ 6184(SP), R10 ; \
	ADDQ R9, R10 ; \
	MOVQ nb+0(FP), CX ; \
	LEAQ 0(SP), AX ; \
pre: ; \
	VMOVSS (R9), X10 ; \
	VINSERTPS $0x10, (R9)(R12*1), X10, X10 ; \
	VINSERTPS $0x20, (R10), X10, X10 ; \
	VINSERTPS $0x30, (R10)(R14*1), X10, X10 ; \
	VINSERTF128 $1, X10, Y10, Y10 ; \
	VMOVUPS Y10, 0(AX) ; \
	VMOVDQU 260(R9), X7 ; \
	VINSERTI128 $1, 260(R9)(R12*1), Y7, Y7 ; \
	VMOVDQU 276(R9), X5 ; \
	VINSERTI128 $1, 276(R9)(R12*1), Y5, Y5 ; \
	VPHADDW Y5, Y7, Y7 ; \
	VMOVDQU Y7, 32(AX) ; \
	VMOVDQU 260(R10), X8 ; \
	VINSERTI128 $1, 260(R10)(R14*1), Y8, Y8 ; \
	VMOVDQU 276(R10), X5 ; \
	VINSERTI128 $1, 276(R10)(R14*1), Y5, Y5 ; \
	VPHADDW Y5, Y8, Y8 ; \
	VMOVDQU Y8, 64(AX) ; \
	ADDQ $96, AX ; \
	ADDQ $292, R9 ; \
	ADDQ $292, R10 ; \
	DECQ CX ; \
	JNZ pre ; \
row: ; \
	MOVQ SI, R8 ; \
	MOVQ x+32(FP), R9 ; \
	MOVQ 6184(SP), R10 ; \
	ADDQ R9, R10 ; \
	MOVQ nb+0(FP), CX ; \
	MOVQ CX, 6192(SP) ; \
	LEAQ 0(SP), CX ; \
	VXORPS Y12, Y12, Y12 ; \
	MOVL 4(R8), AX ; \
	MOVL 8(R8), BX ; \
	MOVL 12(R8), DX ; \
	Q4KT_UNPACK ; \
block: ; \
	PREFETCHT0 (R8)(DI*1) ; \
	PREFETCHT0 64(R8)(DI*1) ; \
	PREFETCHT0 128(R8)(DI*1) ; \
	VPSHUFB q4kbc<>+0(SB), Y10, Y24 ; \
	VPSHUFB q4kbc<>+32(SB), Y10, Y25 ; \
	VPSHUFB q4kbc<>+64(SB), Y10, Y26 ; \
	VPSHUFB q4kbc<>+96(SB), Y10, Y27 ; \
	VPSHUFB q4kbc<>+128(SB), Y10, Y28 ; \
	VPSHUFB q4kbc<>+160(SB), Y10, Y29 ; \
	VPSHUFB q4kbc<>+192(SB), Y10, Y30 ; \
	VPSHUFB q4kbc<>+224(SB), Y10, Y31 ; \
	VMOVDQA Y15, Y6 ; \
	XORL R13, R13 ; \
	MOVL $144, AX ; \
	CMPQ 6192(SP), $1 ; \
	CMOVQGT AX, R13 ; \
	MOVL 4(R8)(R13*1), AX ; \
	MOVL 8(R8)(R13*1), BX ; \
	MOVL 12(R8)(R13*1), DX ; \
	Q4KT_UNPACK ; \
	VMOVDQU 16(R8), Y5 ; \
	VPANDD q4knib<>(SB), Y5, Y16 ; \
	VPSRLW $4, Y5, Y5 ; \
	VPANDD q4knib<>(SB), Y5, Y17 ; \
	VMOVDQU 48(R8), Y5 ; \
	VPANDD q4knib<>(SB), Y5, Y18 ; \
	VPSRLW $4, Y5, Y5 ; \
	VPANDD q4knib<>(SB), Y5, Y19 ; \
	VMOVDQU 80(R8), Y5 ; \
	VPANDD q4knib<>(SB), Y5, Y20 ; \
	VPSRLW $4, Y5, Y5 ; \
	VPANDD q4knib<>(SB), Y5, Y21 ; \
	VMOVDQU 112(R8), Y5 ; \
	VPANDD q4knib<>(SB), Y5, Y22 ; \
	VPSRLW $4, Y5, Y5 ; \
	VPANDD q4knib<>(SB), Y5, Y23 ; \
	VPXOR Y0, Y0, Y0 ; \
	VPXOR Y7, Y7, Y7 ; \
	VPXOR Y1, Y1, Y1 ; \
	VPXOR Y8, Y8, Y8

#define Q4KTP_TAIL \
	VPMADDWD 32(CX), Y6, Y7 ; \
	VPMADDWD 64(CX), Y6, Y8 ; \
	Q4KT_REDUCE ; \
	VMOVD (R8), X11 ; \
	VCVTPH2PS X11, X11 ; \
	VPERMPS Y11, Y13, Y11 ; \
	VMULPS 0(CX), Y11, Y11 ; \
	VCVTDQ2PS Y9, Y9 ; \
	VFMADD231PS Y11, Y9, Y12 ; \
	ADDQ $144, R8 ; \
	ADDQ $292, R9 ; \
	ADDQ $292, R10 ; \
	ADDQ $96, CX ; \
	DECQ 6192(SP) ; \
	JNZ block ; \
	VEXTRACTF128 $1, Y12, X5 ; \
	VSUBPS X5, X12, X12 ; \
	MOVQ 6168(SP), AX ; \
	VMOVSS X12, (AX) ; \
	MOVQ AX, BX ; \
	ADDQ 6144(SP), BX ; \
	VEXTRACTPS $1, X12, (BX) ; \
	MOVQ AX, BX ; \
	ADDQ 6152(SP), BX ; \
	VEXTRACTPS $2, X12, (BX) ; \
	ADDQ 6160(SP), BX ; \
	VEXTRACTPS $3, X12, (BX) ; \
	ADDQ $4, AX ; \
	MOVQ AX, 6168(SP) ; \
	ADDQ wstride+16(FP), SI ; \
	DECQ 6176(SP) ; \
	JNZ row ; \
done: ; \
	VZEROUPPER ; \
	RET

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

// ---- Q4_K (interleaved order) by Q8_K ----

// q4knib masks the low nibble of every byte.
DATA q4knib<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA q4knib<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA q4knib<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA q4knib<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL q4knib<>(SB), RODATA|NOPTR, $32

// q4kdd spreads [d, dmin] of a super-block over [d ×4 | dmin ×4].
DATA q4kdd<>+0(SB)/8, $0
DATA q4kdd<>+8(SB)/8, $0
DATA q4kdd<>+16(SB)/8, $0x0000000100000001
DATA q4kdd<>+24(SB)/8, $0x0000000100000001
GLOBL q4kdd<>(SB), RODATA|NOPTR, $32

// q4kmm orders [m0x m0y m2x m2y | m1x m1y m3x m3y] as [m0x m1x m2x m3x |
// m0y m1y m2y m3y].
DATA q4kmm<>+0(SB)/8, $0x0000000400000000
DATA q4kmm<>+8(SB)/8, $0x0000000600000002
DATA q4kmm<>+16(SB)/8, $0x0000000500000001
DATA q4kmm<>+24(SB)/8, $0x0000000700000003
GLOBL q4kmm<>(SB), RODATA|NOPTR, $32

// q4kbc+32j spreads the int16 scale j over every word of a vector.
DATA q4kbc<>+0(SB)/8, $0x0100010001000100
DATA q4kbc<>+8(SB)/8, $0x0100010001000100
DATA q4kbc<>+16(SB)/8, $0x0100010001000100
DATA q4kbc<>+24(SB)/8, $0x0100010001000100
DATA q4kbc<>+32(SB)/8, $0x0302030203020302
DATA q4kbc<>+40(SB)/8, $0x0302030203020302
DATA q4kbc<>+48(SB)/8, $0x0302030203020302
DATA q4kbc<>+56(SB)/8, $0x0302030203020302
DATA q4kbc<>+64(SB)/8, $0x0504050405040504
DATA q4kbc<>+72(SB)/8, $0x0504050405040504
DATA q4kbc<>+80(SB)/8, $0x0504050405040504
DATA q4kbc<>+88(SB)/8, $0x0504050405040504
DATA q4kbc<>+96(SB)/8, $0x0706070607060706
DATA q4kbc<>+104(SB)/8, $0x0706070607060706
DATA q4kbc<>+112(SB)/8, $0x0706070607060706
DATA q4kbc<>+120(SB)/8, $0x0706070607060706
DATA q4kbc<>+128(SB)/8, $0x0908090809080908
DATA q4kbc<>+136(SB)/8, $0x0908090809080908
DATA q4kbc<>+144(SB)/8, $0x0908090809080908
DATA q4kbc<>+152(SB)/8, $0x0908090809080908
DATA q4kbc<>+160(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kbc<>+168(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kbc<>+176(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kbc<>+184(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kbc<>+192(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kbc<>+200(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kbc<>+208(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kbc<>+216(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kbc<>+224(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kbc<>+232(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kbc<>+240(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kbc<>+248(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q4kbc<>(SB), RODATA|NOPTR, $256

// Q4KT_SCALES unpacks the 6-bit scales and mins of the Q4_K super-block at
// R8 (ggml's get_scale_min_k4): the eight scales as int16 spread over
// Y24..Y31, the eight mins as int16 in both halves of Y6. Uses AX, BX, DX,
// R11, R13, Y4.
#define Q4KT_SCALES \
	MOVL 4(R8), AX; \
	MOVL 8(R8), BX; \
	MOVL 12(R8), DX; \
	MOVL DX, R11; \
	SHRL $4, R11; \
	ANDL $0x0f0f0f0f, R11; \
	MOVL BX, R13; \
	SHRL $6, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, R11; \
	ANDL $0x3f3f3f3f, BX; \
	SHLQ $32, R11; \
	ORQ BX, R11; \
	ANDL $0x0f0f0f0f, DX; \
	MOVL AX, R13; \
	SHRL $6, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, DX; \
	ANDL $0x3f3f3f3f, AX; \
	SHLQ $32, DX; \
	ORQ AX, DX; \
	MOVQ DX, X4; \
	VPMOVZXBW X4, X4; \
	VINSERTI128 $1, X4, Y4, Y4; \
	VPSHUFB q4kbc<>+0(SB), Y4, Y24; \
	VPSHUFB q4kbc<>+32(SB), Y4, Y25; \
	VPSHUFB q4kbc<>+64(SB), Y4, Y26; \
	VPSHUFB q4kbc<>+96(SB), Y4, Y27; \
	VPSHUFB q4kbc<>+128(SB), Y4, Y28; \
	VPSHUFB q4kbc<>+160(SB), Y4, Y29; \
	VPSHUFB q4kbc<>+192(SB), Y4, Y30; \
	VPSHUFB q4kbc<>+224(SB), Y4, Y31; \
	MOVQ R11, X6; \
	VPMOVZXBW X6, X6; \
	VINSERTI128 $1, X6, Y6, Y6

// Q4KT_UNPACK is Q4KT_SCALES for the scale words already loaded (AX:
// bytes 4-7 of the super-block, BX: 8-11, DX: 12-15), leaving the scales
// as int16 in both halves of Y10 and the mins in both halves of Y15, for
// the next block. Uses R11, R13.
#define Q4KT_UNPACK \
	MOVL DX, R11; \
	SHRL $4, R11; \
	ANDL $0x0f0f0f0f, R11; \
	MOVL BX, R13; \
	SHRL $6, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, R11; \
	ANDL $0x3f3f3f3f, BX; \
	SHLQ $32, R11; \
	ORQ BX, R11; \
	ANDL $0x0f0f0f0f, DX; \
	MOVL AX, R13; \
	SHRL $6, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, DX; \
	ANDL $0x3f3f3f3f, AX; \
	SHLQ $32, DX; \
	ORQ AX, DX; \
	MOVQ DX, X10; \
	VPMOVZXBW X10, X10; \
	VINSERTI128 $1, X10, Y10, Y10; \
	MOVQ R11, X15; \
	VPMOVZXBW X15, X15; \
	VINSERTI128 $1, X15, Y15, Y15

// Q4KT_REDUCE sums the int32 lanes of Y0..Y3 (products of four activation
// rows) and of the min products Y7 = [m0 | m1], Y8 = [m2 | m3] (four lanes
// each) into Y9 = [s0 s1 s2 s3 | m0 m1 m2 m3]. Integer sums are exact, so
// any order gives ggml's values. Uses Y4, Y5.
#define Q4KT_REDUCE \
	VPUNPCKLDQ Y1, Y0, Y4; \
	VPUNPCKHDQ Y1, Y0, Y5; \
	VPADDD Y5, Y4, Y0; \
	VPUNPCKLDQ Y3, Y2, Y4; \
	VPUNPCKHDQ Y3, Y2, Y5; \
	VPADDD Y5, Y4, Y1; \
	VPUNPCKLQDQ Y1, Y0, Y4; \
	VPUNPCKHQDQ Y1, Y0, Y5; \
	VPADDD Y5, Y4, Y0; \
	VPUNPCKLQDQ Y8, Y7, Y4; \
	VPUNPCKHQDQ Y8, Y7, Y5; \
	VPADDD Y5, Y4, Y4; \
	VPERMD Y4, Y14, Y4; \
	VPERM2I128 $0x20, Y4, Y0, Y5; \
	VPERM2I128 $0x31, Y4, Y0, Y9; \
	VPADDD Y5, Y9, Y9


// q4_KiTile4V multiplies rows Q4_K weight rows by cols (1..4) Q8_K
// activation rows in ggml's interleaved order (gemv: each super-block's
// integer sums whole, then one FMA for the scaled products and one for the
// mins per activation row). Per weight row and super-block, the levels are
// unpacked and the scales spread once for the four activation rows; the
// four rows' lane sums and min products are then reduced together into
// one vector [s0..s3 | m0..m3] converted and added with one FMA. Each
// column sums its even and odd chunks in two registers (Y0..Y3, Y7..Y10),
// halving the chain of dependent VPDPWSSDs.
// Frame: dst column offsets (0, 8, 16), dst (24), rows left (32), the
// column-2 offset of x (40).
TEXT ·q4_KiTile4V(SB), NOSPLIT, $48-72
	MOVQ dst+56(FP), DI
	MOVQ DI, 24(SP)
	MOVQ rows+24(FP), AX
	MOVQ AX, 32(SP)
	MOVQ cols+48(FP), AX
	COLMAP(dststride+64(FP), AX, R12, R10, R14, R9)
	MOVQ R12, 0(SP)
	MOVQ R10, 8(SP)
	MOVQ R14, 16(SP)
	COLMAP(xstride+40(FP), AX, R12, R10, R14, R9)
	MOVQ R10, 40(SP)
	VMOVDQU q4knib<>(SB), Y15
	VMOVDQU q4kdd<>(SB), Y13
	VMOVDQU q4kmm<>(SB), Y14
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), DI
	SHLQ $1, DI
	CMPQ 32(SP), $0
	JEQ done
row:
	MOVQ SI, R8
	MOVQ x+32(FP), R9
	MOVQ 40(SP), R10
	ADDQ R9, R10
	MOVQ nb+0(FP), CX
	VXORPS Y12, Y12, Y12
block:
	PREFETCHT1 (R8)(DI*1)
	PREFETCHT1 64(R8)(DI*1)
	PREFETCHT1 128(R8)(DI*1)
	Q4KT_SCALES
	VMOVDQU 16(R8), Y5
	VPANDD Y15, Y5, Y16
	VPSRLW $4, Y5, Y5
	VPANDD Y15, Y5, Y17
	VMOVDQU 48(R8), Y5
	VPANDD Y15, Y5, Y18
	VPSRLW $4, Y5, Y5
	VPANDD Y15, Y5, Y19
	VMOVDQU 80(R8), Y5
	VPANDD Y15, Y5, Y20
	VPSRLW $4, Y5, Y5
	VPANDD Y15, Y5, Y21
	VMOVDQU 112(R8), Y5
	VPANDD Y15, Y5, Y22
	VPSRLW $4, Y5, Y5
	VPANDD Y15, Y5, Y23
	VPXOR Y0, Y0, Y0
	VPXOR Y7, Y7, Y7
	VPMADDUBSW 4(R9), Y16, Y5
	VPDPWSSD Y24, Y5, Y0
	VPMADDUBSW 36(R9), Y17, Y5
	VPDPWSSD Y25, Y5, Y7
	VPMADDUBSW 68(R9), Y18, Y5
	VPDPWSSD Y26, Y5, Y0
	VPMADDUBSW 100(R9), Y19, Y5
	VPDPWSSD Y27, Y5, Y7
	VPMADDUBSW 132(R9), Y20, Y5
	VPDPWSSD Y28, Y5, Y0
	VPMADDUBSW 164(R9), Y21, Y5
	VPDPWSSD Y29, Y5, Y7
	VPMADDUBSW 196(R9), Y22, Y5
	VPDPWSSD Y30, Y5, Y0
	VPMADDUBSW 228(R9), Y23, Y5
	VPDPWSSD Y31, Y5, Y7
	VPXOR Y1, Y1, Y1
	VPXOR Y8, Y8, Y8
	VPMADDUBSW 4(R9)(R12*1), Y16, Y5
	VPDPWSSD Y24, Y5, Y1
	VPMADDUBSW 36(R9)(R12*1), Y17, Y5
	VPDPWSSD Y25, Y5, Y8
	VPMADDUBSW 68(R9)(R12*1), Y18, Y5
	VPDPWSSD Y26, Y5, Y1
	VPMADDUBSW 100(R9)(R12*1), Y19, Y5
	VPDPWSSD Y27, Y5, Y8
	VPMADDUBSW 132(R9)(R12*1), Y20, Y5
	VPDPWSSD Y28, Y5, Y1
	VPMADDUBSW 164(R9)(R12*1), Y21, Y5
	VPDPWSSD Y29, Y5, Y8
	VPMADDUBSW 196(R9)(R12*1), Y22, Y5
	VPDPWSSD Y30, Y5, Y1
	VPMADDUBSW 228(R9)(R12*1), Y23, Y5
	VPDPWSSD Y31, Y5, Y8
	VPXOR Y2, Y2, Y2
	VPXOR Y9, Y9, Y9
	VPMADDUBSW 4(R10), Y16, Y5
	VPDPWSSD Y24, Y5, Y2
	VPMADDUBSW 36(R10), Y17, Y5
	VPDPWSSD Y25, Y5, Y9
	VPMADDUBSW 68(R10), Y18, Y5
	VPDPWSSD Y26, Y5, Y2
	VPMADDUBSW 100(R10), Y19, Y5
	VPDPWSSD Y27, Y5, Y9
	VPMADDUBSW 132(R10), Y20, Y5
	VPDPWSSD Y28, Y5, Y2
	VPMADDUBSW 164(R10), Y21, Y5
	VPDPWSSD Y29, Y5, Y9
	VPMADDUBSW 196(R10), Y22, Y5
	VPDPWSSD Y30, Y5, Y2
	VPMADDUBSW 228(R10), Y23, Y5
	VPDPWSSD Y31, Y5, Y9
	VPXOR Y3, Y3, Y3
	VPXOR Y10, Y10, Y10
	VPMADDUBSW 4(R10)(R14*1), Y16, Y5
	VPDPWSSD Y24, Y5, Y3
	VPMADDUBSW 36(R10)(R14*1), Y17, Y5
	VPDPWSSD Y25, Y5, Y10
	VPMADDUBSW 68(R10)(R14*1), Y18, Y5
	VPDPWSSD Y26, Y5, Y3
	VPMADDUBSW 100(R10)(R14*1), Y19, Y5
	VPDPWSSD Y27, Y5, Y10
	VPMADDUBSW 132(R10)(R14*1), Y20, Y5
	VPDPWSSD Y28, Y5, Y3
	VPMADDUBSW 164(R10)(R14*1), Y21, Y5
	VPDPWSSD Y29, Y5, Y10
	VPMADDUBSW 196(R10)(R14*1), Y22, Y5
	VPDPWSSD Y30, Y5, Y3
	VPMADDUBSW 228(R10)(R14*1), Y23, Y5
	VPDPWSSD Y31, Y5, Y10
	VPADDD Y7, Y0, Y0
	VPADDD Y8, Y1, Y1
	VPADDD Y9, Y2, Y2
	VPADDD Y10, Y3, Y3
	VMOVDQU 260(R9), X7
	VINSERTI128 $1, 260(R9)(R12*1), Y7, Y7
	VMOVDQU 276(R9), X5
	VINSERTI128 $1, 276(R9)(R12*1), Y5, Y5
	VPHADDW Y5, Y7, Y7
	VPMADDWD Y6, Y7, Y7
	VMOVDQU 260(R10), X8
	VINSERTI128 $1, 260(R10)(R14*1), Y8, Y8
	VMOVDQU 276(R10), X5
	VINSERTI128 $1, 276(R10)(R14*1), Y5, Y5
	VPHADDW Y5, Y8, Y8
	VPMADDWD Y6, Y8, Y8
	Q4KT_REDUCE
	VMOVSS (R9), X10
	VINSERTPS $0x10, (R9)(R12*1), X10, X10
	VINSERTPS $0x20, (R10), X10, X10
	VINSERTPS $0x30, (R10)(R14*1), X10, X10
	VINSERTF128 $1, X10, Y10, Y10
	VMOVD (R8), X11
	VCVTPH2PS X11, X11
	VPERMPS Y11, Y13, Y11
	VMULPS Y10, Y11, Y11
	VCVTDQ2PS Y9, Y9
	VFMADD231PS Y11, Y9, Y12
	ADDQ $144, R8
	ADDQ $292, R9
	ADDQ $292, R10
	DECQ CX
	JNZ block
	VEXTRACTF128 $1, Y12, X5
	VSUBPS X5, X12, X12
	MOVQ 24(SP), AX
	VMOVSS X12, (AX)
	MOVQ AX, BX
	ADDQ 0(SP), BX
	VEXTRACTPS $1, X12, (BX)
	MOVQ AX, BX
	ADDQ 8(SP), BX
	VEXTRACTPS $2, X12, (BX)
	ADDQ 16(SP), BX
	VEXTRACTPS $3, X12, (BX)
	ADDQ $4, AX
	MOVQ AX, 24(SP)
	ADDQ wstride+16(FP), SI
	DECQ 32(SP)
	JNZ row
done:
	VZEROUPPER
	RET

// q4_KiTile4VP is q4_KiTile4V for rows of up to 64 super-blocks: the
// terms that depend on the activations alone (the four columns' scales d,
// and their Q8_K sums paired per 32 elements for the mins) are laid out
// once per call in a table (96 bytes per block), not once per weight row;
// and each block's scales are unpacked during the block before it (Y10,
// Y15), so its products need not wait for that chain of scalar work. The
// row two on is prefetched into L1 (PREFETCHT0): on weights streamed from
// memory, 0.55 -> 0.47 ns per block-pair against PREFETCHT1. The first
// two rows are prefetched on entry (see q6_KTile4V).
// Frame: the table (0-6143), dst column offsets (6144, 6152, 6160), dst
// (6168), rows left (6176), the column-2 offset of x (6184), blocks left
// (6192).
TEXT ·q4_KiTile4VP(SB), $6200-72
	Q4KTP_HEAD
	VPXOR Y2, Y2, Y2
	VPXOR Y9, Y9, Y9
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPMADDUBSW 4(R9), Y16, Y5
	VPDPWSSD Y24, Y5, Y0
	VPMADDUBSW 4(R9)(R12*1), Y16, Y11
	VPDPWSSD Y24, Y11, Y1
	VPMADDUBSW 4(R10), Y16, Y5
	VPDPWSSD Y24, Y5, Y2
	VPMADDUBSW 4(R10)(R14*1), Y16, Y11
	VPDPWSSD Y24, Y11, Y3
	VPMADDUBSW 36(R9), Y17, Y5
	VPDPWSSD Y25, Y5, Y7
	VPMADDUBSW 36(R9)(R12*1), Y17, Y11
	VPDPWSSD Y25, Y11, Y8
	VPMADDUBSW 36(R10), Y17, Y5
	VPDPWSSD Y25, Y5, Y9
	VPMADDUBSW 36(R10)(R14*1), Y17, Y11
	VPDPWSSD Y25, Y11, Y4
	VPMADDUBSW 68(R9), Y18, Y5
	VPDPWSSD Y26, Y5, Y0
	VPMADDUBSW 68(R9)(R12*1), Y18, Y11
	VPDPWSSD Y26, Y11, Y1
	VPMADDUBSW 68(R10), Y18, Y5
	VPDPWSSD Y26, Y5, Y2
	VPMADDUBSW 68(R10)(R14*1), Y18, Y11
	VPDPWSSD Y26, Y11, Y3
	VPMADDUBSW 100(R9), Y19, Y5
	VPDPWSSD Y27, Y5, Y7
	VPMADDUBSW 100(R9)(R12*1), Y19, Y11
	VPDPWSSD Y27, Y11, Y8
	VPMADDUBSW 100(R10), Y19, Y5
	VPDPWSSD Y27, Y5, Y9
	VPMADDUBSW 100(R10)(R14*1), Y19, Y11
	VPDPWSSD Y27, Y11, Y4
	VPMADDUBSW 132(R9), Y20, Y5
	VPDPWSSD Y28, Y5, Y0
	VPMADDUBSW 132(R9)(R12*1), Y20, Y11
	VPDPWSSD Y28, Y11, Y1
	VPMADDUBSW 132(R10), Y20, Y5
	VPDPWSSD Y28, Y5, Y2
	VPMADDUBSW 132(R10)(R14*1), Y20, Y11
	VPDPWSSD Y28, Y11, Y3
	VPMADDUBSW 164(R9), Y21, Y5
	VPDPWSSD Y29, Y5, Y7
	VPMADDUBSW 164(R9)(R12*1), Y21, Y11
	VPDPWSSD Y29, Y11, Y8
	VPMADDUBSW 164(R10), Y21, Y5
	VPDPWSSD Y29, Y5, Y9
	VPMADDUBSW 164(R10)(R14*1), Y21, Y11
	VPDPWSSD Y29, Y11, Y4
	VPMADDUBSW 196(R9), Y22, Y5
	VPDPWSSD Y30, Y5, Y0
	VPMADDUBSW 196(R9)(R12*1), Y22, Y11
	VPDPWSSD Y30, Y11, Y1
	VPMADDUBSW 196(R10), Y22, Y5
	VPDPWSSD Y30, Y5, Y2
	VPMADDUBSW 196(R10)(R14*1), Y22, Y11
	VPDPWSSD Y30, Y11, Y3
	VPMADDUBSW 228(R9), Y23, Y5
	VPDPWSSD Y31, Y5, Y7
	VPMADDUBSW 228(R9)(R12*1), Y23, Y11
	VPDPWSSD Y31, Y11, Y8
	VPMADDUBSW 228(R10), Y23, Y5
	VPDPWSSD Y31, Y5, Y9
	VPMADDUBSW 228(R10)(R14*1), Y23, Y11
	VPDPWSSD Y31, Y11, Y4
	VPADDD Y7, Y0, Y0
	VPADDD Y8, Y1, Y1
	VPADDD Y9, Y2, Y2
	VPADDD Y4, Y3, Y3
	Q4KTP_TAIL

// q4_KiTile2VP is q4_KiTile4VP for two activation rows (cols 2): the
// products of columns 2 and 3, which would repeat those of 0 and 1, are
// skipped and their lane sums copied, halving the integer work per block
// (two sequences decoded together). Same frame as q4_KiTile4VP.
TEXT ·q4_KiTile2VP(SB), $6200-72
	Q4KTP_HEAD
	VPMADDUBSW 4(R9), Y16, Y5
	VPDPWSSD Y24, Y5, Y0
	VPMADDUBSW 4(R9)(R12*1), Y16, Y11
	VPDPWSSD Y24, Y11, Y1
	VPMADDUBSW 36(R9), Y17, Y5
	VPDPWSSD Y25, Y5, Y7
	VPMADDUBSW 36(R9)(R12*1), Y17, Y11
	VPDPWSSD Y25, Y11, Y8
	VPMADDUBSW 68(R9), Y18, Y5
	VPDPWSSD Y26, Y5, Y0
	VPMADDUBSW 68(R9)(R12*1), Y18, Y11
	VPDPWSSD Y26, Y11, Y1
	VPMADDUBSW 100(R9), Y19, Y5
	VPDPWSSD Y27, Y5, Y7
	VPMADDUBSW 100(R9)(R12*1), Y19, Y11
	VPDPWSSD Y27, Y11, Y8
	VPMADDUBSW 132(R9), Y20, Y5
	VPDPWSSD Y28, Y5, Y0
	VPMADDUBSW 132(R9)(R12*1), Y20, Y11
	VPDPWSSD Y28, Y11, Y1
	VPMADDUBSW 164(R9), Y21, Y5
	VPDPWSSD Y29, Y5, Y7
	VPMADDUBSW 164(R9)(R12*1), Y21, Y11
	VPDPWSSD Y29, Y11, Y8
	VPMADDUBSW 196(R9), Y22, Y5
	VPDPWSSD Y30, Y5, Y0
	VPMADDUBSW 196(R9)(R12*1), Y22, Y11
	VPDPWSSD Y30, Y11, Y1
	VPMADDUBSW 228(R9), Y23, Y5
	VPDPWSSD Y31, Y5, Y7
	VPMADDUBSW 228(R9)(R12*1), Y23, Y11
	VPDPWSSD Y31, Y11, Y8
	VPADDD Y7, Y0, Y0
	VPADDD Y8, Y1, Y1
	VMOVDQA Y0, Y2
	VMOVDQA Y1, Y3
	Q4KTP_TAIL

// ---- Q6_K by Q8_K ----

// q6k30 masks the two high bits of a 6-bit level.
DATA q6k30<>+0(SB)/8, $0x3030303030303030
DATA q6k30<>+8(SB)/8, $0x3030303030303030
DATA q6k30<>+16(SB)/8, $0x3030303030303030
DATA q6k30<>+24(SB)/8, $0x3030303030303030
GLOBL q6k30<>(SB), RODATA|NOPTR, $32

// q6k32 holds the level offset 32 in every byte.
DATA q6k32<>+0(SB)/8, $0x2020202020202020
DATA q6k32<>+8(SB)/8, $0x2020202020202020
DATA q6k32<>+16(SB)/8, $0x2020202020202020
DATA q6k32<>+24(SB)/8, $0x2020202020202020
GLOBL q6k32<>(SB), RODATA|NOPTR, $32

// q6ksc+32h spreads scale bytes 8h..8h+7 (of the sixteen repeated in
// both 16-byte lanes) into the high bytes of int16 pairs, one pair per
// int32 lane: [s0 s2 s4 s6 | s1 s3 s5 s7] (+8h), so that VPSRAW by 8 leaves
// each scale sign-extended twice and VPSHUFD by 0x55k picks chunk k's
// pair, scale 2k for elements 0-15 and 2k+1 for 16-31, without a
// cross-lane shuffle (VPERMD shares its port with the products).
DATA q6ksc<>+0(SB)/8, $0x0280028000800080
DATA q6ksc<>+8(SB)/8, $0x0680068004800480
DATA q6ksc<>+16(SB)/8, $0x0380038001800180
DATA q6ksc<>+24(SB)/8, $0x0780078005800580
DATA q6ksc<>+32(SB)/8, $0x0a800a8008800880
DATA q6ksc<>+40(SB)/8, $0x0e800e800c800c80
DATA q6ksc<>+48(SB)/8, $0x0b800b8009800980
DATA q6ksc<>+56(SB)/8, $0x0f800f800d800d80
GLOBL q6ksc<>(SB), RODATA|NOPTR, $64

// Q6T_COL adds chunk g (levels lv, 0..63; its scale pair sc) of one
// weight row times one column to the int32 lanes acc: per int16 pair
// lv·x - 32·x, both read from the block's table at CX (the column's part
// at off: x at 32g, 32·x at 256+32g), then times the scale; t is scratch.
#define Q6T_COL(lv, sc, g, off, t, acc) \
	VPMADDUBSW (off+32*(g))(CX), lv, t; \
	VPSUBW (off+256+32*(g))(CX), t, t; \
	VPDPWSSD sc, t, acc

// Q6T_CHUNK2, Q6T_CHUNK3 and Q6T_CHUNK add chunk g to the lanes of two,
// three and four columns (Y0-Y3; column c's table part at 512c).
#define Q6T_CHUNK2(lv, sc, g) \
	Q6T_COL(lv, sc, g, 0, Y6, Y0); \
	Q6T_COL(lv, sc, g, 512, Y7, Y1)
#define Q6T_CHUNK3(lv, sc, g) \
	Q6T_CHUNK2(lv, sc, g); \
	Q6T_COL(lv, sc, g, 1024, Y6, Y2)
#define Q6T_CHUNK(lv, sc, g) \
	Q6T_CHUNK3(lv, sc, g); \
	Q6T_COL(lv, sc, g, 1536, Y7, Y3)

// Q6T_HALF adds the 128 elements of half h of the super-block at R8 (ql
// at 64h, qh at 128+32h) in ggml's chunk order, each chunk by CHUNK
// (Q6T_CHUNK2, Q6T_CHUNK3 or Q6T_CHUNK: two, three or four columns).
#define Q6T_HALF(h, P, CHUNK) \
	VMOVDQU (128+32*h)(R8), Y12; \
	VMOVDQU (64*h)(R8), Y13; \
	VPSLLW $4, Y12, Y14; \
	VPAND Y9, Y14, Y14; \
	VPAND Y8, Y13, Y5; \
	VPOR Y14, Y5, Y5; \
	VPSHUFD $0x00, P, Y4; \
	CHUNK(Y5, Y4, 4*h); \
	VMOVDQU (64*h+32)(R8), Y15; \
	VPSLLW $2, Y12, Y14; \
	VPAND Y9, Y14, Y14; \
	VPAND Y8, Y15, Y5; \
	VPOR Y14, Y5, Y5; \
	VPSHUFD $0x55, P, Y4; \
	CHUNK(Y5, Y4, 4*h+1); \
	VPAND Y9, Y12, Y14; \
	VPSRLW $4, Y13, Y5; \
	VPAND Y8, Y5, Y5; \
	VPOR Y14, Y5, Y5; \
	VPSHUFD $0xaa, P, Y4; \
	CHUNK(Y5, Y4, 4*h+2); \
	VPSRLW $2, Y12, Y14; \
	VPAND Y9, Y14, Y14; \
	VPSRLW $4, Y15, Y5; \
	VPAND Y8, Y5, Y5; \
	VPOR Y14, Y5, Y5; \
	VPSHUFD $0xff, P, Y4; \
	CHUNK(Y5, Y4, 4*h+3)

// Q6T_ROWHEAD prefetches the block at R8 of the row four rows on and
// spreads the block's scales: sign-extended pairs, half 0 in Y10 and half
// 1 in Y11 (see q6ksc).
#define Q6T_ROWHEAD \
	PREFETCHT1 (R8)(R13*4); \
	PREFETCHT1 64(R8)(R13*4); \
	PREFETCHT1 128(R8)(R13*4); \
	PREFETCHT1 192(R8)(R13*4); \
	VBROADCASTI128 192(R8), Y11; \
	VPSHUFB q6ksc<>+0(SB), Y11, Y10; \
	VPSHUFB q6ksc<>+32(SB), Y11, Y11; \
	VPSRAW $8, Y10, Y10; \
	VPSRAW $8, Y11, Y11

// Q6T_D puts the block's d in every lane of Y15 as float32.
#define Q6T_D \
	VPBROADCASTW 208(R8), X15; \
	VCVTPH2PS X15, Y15

// Q6T_FMA converts one column's int32 lanes s and adds them to its float
// lanes a, times d·(the column's scale at xd); t is scratch.
#define Q6T_FMA(s, xd, t, a) \
	VCVTDQ2PS s, s; \
	VMULPS.BCST xd, Y15, t; \
	VFMADD231PS t, s, a

// Q6T_ROW adds the super-block at R8 times the four columns' Q8_K blocks
// to a0..a3 (ggml's eight float lanes per product), prefetching the same
// block of the row four rows on. Q6T_ROW3 and Q6T_ROW2 do the same for
// the first three and two columns.
#define Q6T_ROW(a0, a1, a2, a3) \
	Q6T_ROWHEAD; \
	VPXOR Y0, Y0, Y0; \
	VPXOR Y1, Y1, Y1; \
	VPXOR Y2, Y2, Y2; \
	VPXOR Y3, Y3, Y3; \
	Q6T_HALF(0, Y10, Q6T_CHUNK); \
	Q6T_HALF(1, Y11, Q6T_CHUNK); \
	Q6T_D; \
	Q6T_FMA(Y0, (R9), Y6, a0); \
	Q6T_FMA(Y1, (R9)(R12*1), Y7, a1); \
	Q6T_FMA(Y2, (R10), Y6, a2); \
	Q6T_FMA(Y3, (R10)(R14*1), Y7, a3)
#define Q6T_ROW3(a0, a1, a2) \
	Q6T_ROWHEAD; \
	VPXOR Y0, Y0, Y0; \
	VPXOR Y1, Y1, Y1; \
	VPXOR Y2, Y2, Y2; \
	Q6T_HALF(0, Y10, Q6T_CHUNK3); \
	Q6T_HALF(1, Y11, Q6T_CHUNK3); \
	Q6T_D; \
	Q6T_FMA(Y0, (R9), Y6, a0); \
	Q6T_FMA(Y1, (R9)(R12*1), Y7, a1); \
	Q6T_FMA(Y2, (R10), Y6, a2)
#define Q6T_ROW2(a0, a1) \
	Q6T_ROWHEAD; \
	VPXOR Y0, Y0, Y0; \
	VPXOR Y1, Y1, Y1; \
	Q6T_HALF(0, Y10, Q6T_CHUNK2); \
	Q6T_HALF(1, Y11, Q6T_CHUNK2); \
	Q6T_D; \
	Q6T_FMA(Y0, (R9), Y6, a0); \
	Q6T_FMA(Y1, (R9)(R12*1), Y7, a1)

// Q6T_OFF copies the 256 levels of the Q8_K block at xp to off(CX) and
// stores 32·x, summed by int16 pairs, after them (Y15 holds 32 in every
// byte). The copy is 64-byte aligned: reading x in place splits half the
// loads across cache lines, and loads are what this kernel waits on.
#define Q6T_OFF(xp, off) \
	VMOVDQU (4+32*0)(xp), Y4; \
	VMOVDQU Y4, (off+32*0)(CX); \
	VPMADDUBSW Y4, Y15, Y4; \
	VMOVDQU Y4, (off+256+32*0)(CX); \
	VMOVDQU (4+32*1)(xp), Y5; \
	VMOVDQU Y5, (off+32*1)(CX); \
	VPMADDUBSW Y5, Y15, Y5; \
	VMOVDQU Y5, (off+256+32*1)(CX); \
	VMOVDQU (4+32*2)(xp), Y6; \
	VMOVDQU Y6, (off+32*2)(CX); \
	VPMADDUBSW Y6, Y15, Y6; \
	VMOVDQU Y6, (off+256+32*2)(CX); \
	VMOVDQU (4+32*3)(xp), Y7; \
	VMOVDQU Y7, (off+32*3)(CX); \
	VPMADDUBSW Y7, Y15, Y7; \
	VMOVDQU Y7, (off+256+32*3)(CX); \
	VMOVDQU (4+32*4)(xp), Y4; \
	VMOVDQU Y4, (off+32*4)(CX); \
	VPMADDUBSW Y4, Y15, Y4; \
	VMOVDQU Y4, (off+256+32*4)(CX); \
	VMOVDQU (4+32*5)(xp), Y5; \
	VMOVDQU Y5, (off+32*5)(CX); \
	VPMADDUBSW Y5, Y15, Y5; \
	VMOVDQU Y5, (off+256+32*5)(CX); \
	VMOVDQU (4+32*6)(xp), Y6; \
	VMOVDQU Y6, (off+32*6)(CX); \
	VPMADDUBSW Y6, Y15, Y6; \
	VMOVDQU Y6, (off+256+32*6)(CX); \
	VMOVDQU (4+32*7)(xp), Y7; \
	VMOVDQU Y7, (off+32*7)(CX); \
	VPMADDUBSW Y7, Y15, Y7; \
	VMOVDQU Y7, (off+256+32*7)(CX)

// q6_KTile4V multiplies rows Q6_K weight rows (a multiple of four) by cols
// (1..4) Q8_K activation rows in ggml's order (ggml_vec_dot_q6_K_q8_K: per
// super-block eight int32 lanes, converted and added with one FMA by the
// two scales; hsum8 at the end). Tiles of four weight rows by four columns
// walk the super-blocks together: per block, the four columns' levels and
// offset terms 32·x are laid out once for the tile's four rows (a 64-byte
// aligned table of 2 KiB), and per row the levels and scales are unpacked
// once for the four columns. Subtracting the offset per int16 pair before
// the scale (instead of after, as a second product) gives the same exact
// integers with half the multiplies.
// Each block prefetches the same block of the next tile's rows; the first
// tile is prefetched whole on entry, since the model hands out chunks of
// 16 rows to its workers in turn and a chunk's first rows are rarely in
// cache (one thread, every other chunk: 2.7 -> 1.7 ns per block-pair).
// Frame: the table (0-2111, aligned up to CX), the dst column offsets
// (2112, 2120, 2128), the column-2 offset of x (2136), tiles left (2144).
TEXT ·q6_KTile4V(SB), $2152-72
	MOVQ dst+56(FP), DI
	MOVQ cols+48(FP), AX
	COLMAP(dststride+64(FP), AX, R12, R10, R14, R9)
	MOVQ R12, 2112(SP)
	MOVQ R10, 2120(SP)
	MOVQ R14, 2128(SP)
	COLMAP(xstride+40(FP), AX, R12, R10, R14, R9)
	MOVQ R10, 2136(SP)
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), R13
	MOVQ rows+24(FP), AX
	SHRQ $2, AX
	JZ done
	MOVQ AX, 2144(SP)
	MOVQ SI, AX
	LEAQ (SI)(R13*4), BX
head:
	PREFETCHT1 (AX)
	ADDQ $64, AX
	CMPQ AX, BX
	JB head
	LEAQ 63(SP), CX
	ANDQ $~63, CX
	VMOVDQU q4knib<>(SB), Y8
	VMOVDQU q6k30<>(SB), Y9
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
	MOVQ SI, BX
	MOVQ x+32(FP), R9
	MOVQ 2136(SP), R10
	ADDQ R9, R10
	MOVQ nb+0(FP), DX
block:
	VMOVDQU q6k32<>(SB), Y15
	Q6T_OFF(R9, 0)
	LEAQ (R9)(R12*1), AX
	Q6T_OFF(AX, 512)
	Q6T_OFF(R10, 1024)
	LEAQ (R10)(R14*1), AX
	Q6T_OFF(AX, 1536)
	MOVQ BX, R8
	Q6T_ROW(Y16, Y17, Y18, Y19)
	ADDQ R13, R8
	Q6T_ROW(Y20, Y21, Y22, Y23)
	ADDQ R13, R8
	Q6T_ROW(Y24, Y25, Y26, Y27)
	ADDQ R13, R8
	Q6T_ROW(Y28, Y29, Y30, Y31)
	ADDQ $210, BX
	ADDQ $292, R9
	ADDQ $292, R10
	DECQ DX
	JNZ block
	MOVQ DI, AX
	MOVQ 2112(SP), DX
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
	ADDQ 2120(SP), AX
	TSTORE(Y18, 0(AX))
	TSTORE(Y22, 4(AX))
	TSTORE(Y26, 8(AX))
	TSTORE(Y30, 12(AX))
	ADDQ 2128(SP), AX
	TSTORE(Y19, 0(AX))
	TSTORE(Y23, 4(AX))
	TSTORE(Y27, 8(AX))
	TSTORE(Y31, 12(AX))
	ADDQ $16, DI
	LEAQ (SI)(R13*4), SI
	DECQ 2144(SP)
	JNZ tile
done:
	VZEROUPPER
	RET

// q6_KTile2V is q6_KTile4V for exactly two activation rows (two sequences
// decoded together): half the table and half the products per block.
// Frame: the table (0-1087, aligned up to CX), the dst column-1 offset
// (1088), tiles left (1096).
TEXT ·q6_KTile2V(SB), $1104-72
	MOVQ dst+56(FP), DI
	MOVQ dststride+64(FP), AX
	MOVQ AX, 1088(SP)
	MOVQ xstride+40(FP), R12
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), R13
	MOVQ rows+24(FP), AX
	SHRQ $2, AX
	JZ done
	MOVQ AX, 1096(SP)
	MOVQ SI, AX
	LEAQ (SI)(R13*4), BX
head:
	PREFETCHT1 (AX)
	ADDQ $64, AX
	CMPQ AX, BX
	JB head
	LEAQ 63(SP), CX
	ANDQ $~63, CX
	VMOVDQU q4knib<>(SB), Y8
	VMOVDQU q6k30<>(SB), Y9
tile:
	VPXORD Y16, Y16, Y16
	VPXORD Y17, Y17, Y17
	VPXORD Y20, Y20, Y20
	VPXORD Y21, Y21, Y21
	VPXORD Y24, Y24, Y24
	VPXORD Y25, Y25, Y25
	VPXORD Y28, Y28, Y28
	VPXORD Y29, Y29, Y29
	MOVQ SI, BX
	MOVQ x+32(FP), R9
	MOVQ nb+0(FP), DX
block:
	VMOVDQU q6k32<>(SB), Y15
	Q6T_OFF(R9, 0)
	LEAQ (R9)(R12*1), AX
	Q6T_OFF(AX, 512)
	MOVQ BX, R8
	Q6T_ROW2(Y16, Y17)
	ADDQ R13, R8
	Q6T_ROW2(Y20, Y21)
	ADDQ R13, R8
	Q6T_ROW2(Y24, Y25)
	ADDQ R13, R8
	Q6T_ROW2(Y28, Y29)
	ADDQ $210, BX
	ADDQ $292, R9
	DECQ DX
	JNZ block
	MOVQ DI, AX
	TSTORE(Y16, 0(AX))
	TSTORE(Y20, 4(AX))
	TSTORE(Y24, 8(AX))
	TSTORE(Y28, 12(AX))
	ADDQ 1088(SP), AX
	TSTORE(Y17, 0(AX))
	TSTORE(Y21, 4(AX))
	TSTORE(Y25, 8(AX))
	TSTORE(Y29, 12(AX))
	ADDQ $16, DI
	LEAQ (SI)(R13*4), SI
	DECQ 1096(SP)
	JNZ tile
done:
	VZEROUPPER
	RET

// q6_KTile3V is q6_KTile4V for exactly three activation rows: the
// fourth column (a repeat of the third) is neither laid out nor
// multiplied. Same frame as q6_KTile4V.
TEXT ·q6_KTile3V(SB), $2152-72
	MOVQ dst+56(FP), DI
	MOVQ cols+48(FP), AX
	COLMAP(dststride+64(FP), AX, R12, R10, R14, R9)
	MOVQ R12, 2112(SP)
	MOVQ R10, 2120(SP)
	MOVQ R14, 2128(SP)
	COLMAP(xstride+40(FP), AX, R12, R10, R14, R9)
	MOVQ R10, 2136(SP)
	MOVQ w+8(FP), SI
	MOVQ wstride+16(FP), R13
	MOVQ rows+24(FP), AX
	SHRQ $2, AX
	JZ done
	MOVQ AX, 2144(SP)
	MOVQ SI, AX
	LEAQ (SI)(R13*4), BX
head:
	PREFETCHT1 (AX)
	ADDQ $64, AX
	CMPQ AX, BX
	JB head
	LEAQ 63(SP), CX
	ANDQ $~63, CX
	VMOVDQU q4knib<>(SB), Y8
	VMOVDQU q6k30<>(SB), Y9
tile:
	VPXORD Y16, Y16, Y16
	VPXORD Y17, Y17, Y17
	VPXORD Y18, Y18, Y18
	VPXORD Y20, Y20, Y20
	VPXORD Y21, Y21, Y21
	VPXORD Y22, Y22, Y22
	VPXORD Y24, Y24, Y24
	VPXORD Y25, Y25, Y25
	VPXORD Y26, Y26, Y26
	VPXORD Y28, Y28, Y28
	VPXORD Y29, Y29, Y29
	VPXORD Y30, Y30, Y30
	MOVQ SI, BX
	MOVQ x+32(FP), R9
	MOVQ 2136(SP), R10
	ADDQ R9, R10
	MOVQ nb+0(FP), DX
block:
	VMOVDQU q6k32<>(SB), Y15
	Q6T_OFF(R9, 0)
	LEAQ (R9)(R12*1), AX
	Q6T_OFF(AX, 512)
	Q6T_OFF(R10, 1024)
	MOVQ BX, R8
	Q6T_ROW3(Y16, Y17, Y18)
	ADDQ R13, R8
	Q6T_ROW3(Y20, Y21, Y22)
	ADDQ R13, R8
	Q6T_ROW3(Y24, Y25, Y26)
	ADDQ R13, R8
	Q6T_ROW3(Y28, Y29, Y30)
	ADDQ $210, BX
	ADDQ $292, R9
	ADDQ $292, R10
	DECQ DX
	JNZ block
	MOVQ DI, AX
	MOVQ 2112(SP), DX
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
	ADDQ 2120(SP), AX
	TSTORE(Y18, 0(AX))
	TSTORE(Y22, 4(AX))
	TSTORE(Y26, 8(AX))
	TSTORE(Y30, 12(AX))
	ADDQ $16, DI
	LEAQ (SI)(R13*4), SI
	DECQ 2144(SP)
	JNZ tile
done:
	VZEROUPPER
	RET
