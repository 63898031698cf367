//go:build amd64 && !purego

#include "textflag.h"
#include "tile_amd64.h"

// q4_KiTile8x4V multiplies Q4_K weight rows, eight at a time, by up to
// four Q8_K activation rows with the same results, bit for bit, as
// q4_KiTile4V (ggml's interleaved order: each super-block's integer sums
// whole, then one FMA for the scaled products and one for the mins per
// row and column).
//
// q4_KiTile4V spends two multiplies per 32 weights and column (VPMADDUBSW,
// then VPDPWSSD by the sub-block scale), the lanes of a register being
// positions in one weight row. Here the lanes are the eight weight rows:
// each 32-byte chunk of the eight rows is transposed in dwords, so that
// one VPDPBUSD by four activation bytes broadcast adds four products to
// each row's lane, and a sub-block's eight VPDPBUSDs per column share one
// VPMULLD by the eight rows' scales. That is 9 multiplies per 8 rows, 32
// weights and column instead of 16; the transposes run on the shuffle
// ports, which the multiplies leave idle. The integer sums are exact, so
// the order of the additions does not change them; the float steps are
// q4_KiTile4V's: acc += float(sumi)·(d·d8), accm += float(summ)·(dmin·d8),
// result acc − accm.
//
// Arguments as the Tile4 kernels (mmt_amd64.s): rows a multiple of eight,
// 1 <= cols <= 4 (fewer columns computed as four by COLMAP's repeats).
//
// Frame: float accumulators acc (0 + 32c) and accm (128 + 32c) per column
// c; the block's scales spread per row, SC_j (256 + 32j, dwords), the
// mins paired for VPDPWSSD, MP_i = (m_2i, m_2i+1) (512 + 32i), d (640)
// and dmin (672) as floats; per column the eight sub-block sums of the
// activation's bsums (704 + 16c); the dst column offsets (784, 792, 800),
// dst (768), groups left (776), the x column-2 offset (808).

// q48c: nibble mask, 6-bit mask, 2-bit mask (one dword each).
DATA q48c<>+0(SB)/4, $0x0f0f0f0f
DATA q48c<>+4(SB)/4, $0x3f3f3f3f
DATA q48c<>+8(SB)/4, $0x03030303
GLOBL q48c<>(SB), RODATA|NOPTR, $12

// q48sc+32j spreads byte j of each dword (a row's scale j) to the dword.
DATA q48sc<>+0(SB)/8, $0x8080800480808000
DATA q48sc<>+8(SB)/8, $0x8080800c80808008
DATA q48sc<>+16(SB)/8, $0x8080800480808000
DATA q48sc<>+24(SB)/8, $0x8080800c80808008
DATA q48sc<>+32(SB)/8, $0x8080800580808001
DATA q48sc<>+40(SB)/8, $0x8080800d80808009
DATA q48sc<>+48(SB)/8, $0x8080800580808001
DATA q48sc<>+56(SB)/8, $0x8080800d80808009
DATA q48sc<>+64(SB)/8, $0x8080800680808002
DATA q48sc<>+72(SB)/8, $0x8080800e8080800a
DATA q48sc<>+80(SB)/8, $0x8080800680808002
DATA q48sc<>+88(SB)/8, $0x8080800e8080800a
DATA q48sc<>+96(SB)/8, $0x8080800780808003
DATA q48sc<>+104(SB)/8, $0x8080800f8080800b
DATA q48sc<>+112(SB)/8, $0x8080800780808003
DATA q48sc<>+120(SB)/8, $0x8080800f8080800b
GLOBL q48sc<>(SB), RODATA|NOPTR, $128

// q48mp+32i spreads bytes 2i and 2i+1 of each dword (a row's mins) to its
// two words.
DATA q48mp<>+0(SB)/8, $0x8005800480018000
DATA q48mp<>+8(SB)/8, $0x800d800c80098008
DATA q48mp<>+16(SB)/8, $0x8005800480018000
DATA q48mp<>+24(SB)/8, $0x800d800c80098008
DATA q48mp<>+32(SB)/8, $0x8007800680038002
DATA q48mp<>+40(SB)/8, $0x800f800e800b800a
DATA q48mp<>+48(SB)/8, $0x8007800680038002
DATA q48mp<>+56(SB)/8, $0x800f800e800b800a
GLOBL q48mp<>(SB), RODATA|NOPTR, $64

// Q48DOT adds, for the four columns, the products of the low nibbles in
// L with the activation bytes at lo and of the high nibbles in H with
// those at hi (each four bytes, broadcast) to Y24-Y27 and Y28-Y31.
#define Q48DOT(L, H, lo, hi) \
	VPDPBUSD.BCST lo(R9), L, Y24; \
	VPDPBUSD.BCST hi(R9), H, Y28; \
	VPDPBUSD.BCST lo(R9)(R12*1), L, Y25; \
	VPDPBUSD.BCST hi(R9)(R12*1), H, Y29; \
	VPDPBUSD.BCST lo(R10), L, Y26; \
	VPDPBUSD.BCST hi(R10), H, Y30; \
	VPDPBUSD.BCST lo(R10)(R14*1), L, Y27; \
	VPDPBUSD.BCST hi(R10)(R14*1), H, Y31

// Q48LOAD loads 32 bytes at off of each of the eight rows (R8: rows 0-3,
// R11: rows 4-7) into Y8-Y15 and transposes them in dwords: Y16+k holds
// dword k of the eight rows, row r in lane r.
#define Q48LOAD(off) \
	VMOVDQU off(R8), Y8; \
	VMOVDQU off(R8)(DI*1), Y9; \
	VMOVDQU off(R8)(DI*2), Y10; \
	VMOVDQU off(R8)(BX*1), Y11; \
	VMOVDQU off(R11), Y12; \
	VMOVDQU off(R11)(DI*1), Y13; \
	VMOVDQU off(R11)(DI*2), Y14; \
	VMOVDQU off(R11)(BX*1), Y15; \
	VPUNPCKLDQ Y9, Y8, Y16; \
	VPUNPCKHDQ Y9, Y8, Y17; \
	VPUNPCKLDQ Y11, Y10, Y18; \
	VPUNPCKHDQ Y11, Y10, Y19; \
	VPUNPCKLDQ Y13, Y12, Y20; \
	VPUNPCKHDQ Y13, Y12, Y21; \
	VPUNPCKLDQ Y15, Y14, Y22; \
	VPUNPCKHDQ Y15, Y14, Y23; \
	VPUNPCKLQDQ Y18, Y16, Y8; \
	VPUNPCKHQDQ Y18, Y16, Y9; \
	VPUNPCKLQDQ Y19, Y17, Y10; \
	VPUNPCKHQDQ Y19, Y17, Y11; \
	VPUNPCKLQDQ Y22, Y20, Y12; \
	VPUNPCKHQDQ Y22, Y20, Y13; \
	VPUNPCKLQDQ Y23, Y21, Y14; \
	VPUNPCKHQDQ Y23, Y21, Y15; \
	VSHUFI64X2 $0x00, Y12, Y8, Y16; \
	VSHUFI64X2 $0x03, Y12, Y8, Y20; \
	VSHUFI64X2 $0x00, Y13, Y9, Y17; \
	VSHUFI64X2 $0x03, Y13, Y9, Y21; \
	VSHUFI64X2 $0x00, Y14, Y10, Y18; \
	VSHUFI64X2 $0x03, Y14, Y10, Y22; \
	VSHUFI64X2 $0x00, Y15, Y11, Y19; \
	VSHUFI64X2 $0x03, Y15, Y11, Y23

// Q48NIB splits the transposed bytes: low nibbles to Y8-Y15, high
// nibbles in place (Y16-Y23); Y4 holds 0x0f bytes.
#define Q48NIB \
	VPANDD Y4, Y16, Y8; \
	VPANDD Y4, Y17, Y9; \
	VPANDD Y4, Y18, Y10; \
	VPANDD Y4, Y19, Y11; \
	VPANDD Y4, Y20, Y12; \
	VPANDD Y4, Y21, Y13; \
	VPANDD Y4, Y22, Y14; \
	VPANDD Y4, Y23, Y15; \
	VPSRLW $4, Y16, Y16; \
	VPSRLW $4, Y17, Y17; \
	VPSRLW $4, Y18, Y18; \
	VPSRLW $4, Y19, Y19; \
	VPSRLW $4, Y20, Y20; \
	VPSRLW $4, Y21, Y21; \
	VPSRLW $4, Y22, Y22; \
	VPSRLW $4, Y23, Y23; \
	VPANDD Y4, Y16, Y16; \
	VPANDD Y4, Y17, Y17; \
	VPANDD Y4, Y18, Y18; \
	VPANDD Y4, Y19, Y19; \
	VPANDD Y4, Y20, Y20; \
	VPANDD Y4, Y21, Y21; \
	VPANDD Y4, Y22, Y22; \
	VPANDD Y4, Y23, Y23

// Q48SCALE multiplies the four columns' sums of sub-blocks lo (Y24-Y27)
// and hi (Y28-Y31) by the rows' scales at sl and sh and adds them to
// the columns' block sums Y0-Y3.
#define Q48SCALE(sl, sh) \
	VPMULLD sl(SP), Y24, Y24; \
	VPMULLD sl(SP), Y25, Y25; \
	VPMULLD sl(SP), Y26, Y26; \
	VPMULLD sl(SP), Y27, Y27; \
	VPMULLD sh(SP), Y28, Y28; \
	VPMULLD sh(SP), Y29, Y29; \
	VPMULLD sh(SP), Y30, Y30; \
	VPMULLD sh(SP), Y31, Y31; \
	VPADDD Y24, Y0, Y0; \
	VPADDD Y25, Y1, Y1; \
	VPADDD Y26, Y2, Y2; \
	VPADDD Y27, Y3, Y3; \
	VPADDD Y28, Y0, Y0; \
	VPADDD Y29, Y1, Y1; \
	VPADDD Y30, Y2, Y2; \
	VPADDD Y31, Y3, Y3

#define Q48ZERO \
	VPXORD Y24, Y24, Y24; \
	VPXORD Y25, Y25, Y25; \
	VPXORD Y26, Y26, Y26; \
	VPXORD Y27, Y27, Y27; \
	VPXORD Y28, Y28, Y28; \
	VPXORD Y29, Y29, Y29; \
	VPXORD Y30, Y30, Y30; \
	VPXORD Y31, Y31, Y31

// Q48FLOAT adds column c's block sums (sumi in S, summ in M) to its float
// accumulators at 32c and 128+32c, scaled by d·d8 and dmin·d8 (d in Y12,
// dmin in Y13, d8 the float at d8).
#define Q48FLOAT(S, M, d8, acc, accm) \
	VMULPS.BCST d8, Y12, Y14; \
	VCVTDQ2PS S, Y15; \
	VMOVUPS acc(SP), Y16; \
	VFMADD231PS Y15, Y14, Y16; \
	VMOVUPS Y16, acc(SP); \
	VMULPS.BCST d8, Y13, Y14; \
	VCVTDQ2PS M, Y15; \
	VMOVUPS accm(SP), Y16; \
	VFMADD231PS Y15, Y14, Y16; \
	VMOVUPS Y16, accm(SP)

// Q48HEAD reads the block's headers of the eight rows (R8: rows 0-3, R11:
// rows 4-7), transposed: d and dmin, then the scale bytes 0-3, 4-7, 8-11
// (ggml's 6-bit packing). It stores d and dmin as floats (640, 672), the
// scales spread to one per row's dword, SC_j (256 + 32j), the mins paired
// as MP_i (512 + 32i), and each column's eight sub-block sums of its bsums
// (704 + 16c). Uses Y8-Y15.
#define Q48HEAD \
	VMOVDQU (R8), X8; \
	VINSERTI128 $1, (R11), Y8, Y8; \
	VMOVDQU (R8)(DI*1), X9; \
	VINSERTI128 $1, (R11)(DI*1), Y9, Y9; \
	VMOVDQU (R8)(DI*2), X10; \
	VINSERTI128 $1, (R11)(DI*2), Y10, Y10; \
	VMOVDQU (R8)(BX*1), X11; \
	VINSERTI128 $1, (R11)(BX*1), Y11, Y11; \
	VPUNPCKLDQ Y9, Y8, Y12; \
	VPUNPCKHDQ Y9, Y8, Y13; \
	VPUNPCKLDQ Y11, Y10, Y14; \
	VPUNPCKHDQ Y11, Y10, Y15; \
	VPUNPCKLQDQ Y14, Y12, Y8; \
	VPUNPCKHQDQ Y14, Y12, Y9; \
	VPUNPCKLQDQ Y15, Y13, Y10; \
	VPUNPCKHQDQ Y15, Y13, Y11; \
	VPMOVDW Y8, X12; \
	VCVTPH2PS X12, Y12; \
	VMOVUPS Y12, 640(SP); \
	VPSRLD $16, Y8, Y8; \
	VPMOVDW Y8, X12; \
	VCVTPH2PS X12, Y12; \
	VMOVUPS Y12, 672(SP); \
	VPANDD.BCST q48c<>+4(SB), Y9, Y12; \
	VPSRLD $6, Y9, Y13; \
	VPANDD.BCST q48c<>+8(SB), Y13, Y13; \
	VPSLLD $4, Y13, Y13; \
	VPAND Y4, Y11, Y14; \
	VPOR Y14, Y13, Y13; \
	VPANDD.BCST q48c<>+4(SB), Y10, Y14; \
	VPSRLD $4, Y11, Y15; \
	VPAND Y4, Y15, Y15; \
	VPSRLD $6, Y10, Y10; \
	VPANDD.BCST q48c<>+8(SB), Y10, Y10; \
	VPSLLD $4, Y10, Y10; \
	VPOR Y10, Y15, Y15; \
	VPSHUFB q48sc<>+0(SB), Y12, Y8; \
	VMOVDQU Y8, 256(SP); \
	VPSHUFB q48sc<>+32(SB), Y12, Y8; \
	VMOVDQU Y8, 288(SP); \
	VPSHUFB q48sc<>+64(SB), Y12, Y8; \
	VMOVDQU Y8, 320(SP); \
	VPSHUFB q48sc<>+96(SB), Y12, Y8; \
	VMOVDQU Y8, 352(SP); \
	VPSHUFB q48sc<>+0(SB), Y13, Y8; \
	VMOVDQU Y8, 384(SP); \
	VPSHUFB q48sc<>+32(SB), Y13, Y8; \
	VMOVDQU Y8, 416(SP); \
	VPSHUFB q48sc<>+64(SB), Y13, Y8; \
	VMOVDQU Y8, 448(SP); \
	VPSHUFB q48sc<>+96(SB), Y13, Y8; \
	VMOVDQU Y8, 480(SP); \
	VPSHUFB q48mp<>+0(SB), Y14, Y8; \
	VMOVDQU Y8, 512(SP); \
	VPSHUFB q48mp<>+32(SB), Y14, Y8; \
	VMOVDQU Y8, 544(SP); \
	VPSHUFB q48mp<>+0(SB), Y15, Y8; \
	VMOVDQU Y8, 576(SP); \
	VPSHUFB q48mp<>+32(SB), Y15, Y8; \
	VMOVDQU Y8, 608(SP); \
	VMOVDQU 260(R9), X8; \
	VPHADDW 276(R9), X8, X8; \
	VMOVDQU X8, 704(SP); \
	VMOVDQU 260(R9)(R12*1), X8; \
	VPHADDW 276(R9)(R12*1), X8, X8; \
	VMOVDQU X8, 720(SP); \
	VMOVDQU 260(R10), X8; \
	VPHADDW 276(R10), X8, X8; \
	VMOVDQU X8, 736(SP); \
	VMOVDQU 260(R10)(R14*1), X8; \
	VPHADDW 276(R10)(R14*1), X8, X8; \
	VMOVDQU X8, 752(SP)

// Q48CHUNKG4 is Q48SCALE for the group-of-four order (ggml's gemm): the
// chunk's sum is converted and added to acc (Y0-Y3) by one FMA per
// column at once, scaled by d·d8 (d at 640).
#define Q48CHUNKG4(sl, sh) \
	VPMULLD sl(SP), Y24, Y24; \
	VPMULLD sl(SP), Y25, Y25; \
	VPMULLD sl(SP), Y26, Y26; \
	VPMULLD sl(SP), Y27, Y27; \
	VPMULLD sh(SP), Y28, Y28; \
	VPMULLD sh(SP), Y29, Y29; \
	VPMULLD sh(SP), Y30, Y30; \
	VPMULLD sh(SP), Y31, Y31; \
	VPADDD Y28, Y24, Y24; \
	VPADDD Y29, Y25, Y25; \
	VPADDD Y30, Y26, Y26; \
	VPADDD Y31, Y27, Y27; \
	VMOVUPS 640(SP), Y8; \
	VMULPS.BCST (R9), Y8, Y9; \
	VCVTDQ2PS Y24, Y24; \
	VFMADD231PS Y24, Y9, Y0; \
	VMULPS.BCST (R9)(R12*1), Y8, Y10; \
	VCVTDQ2PS Y25, Y25; \
	VFMADD231PS Y25, Y10, Y1; \
	VMULPS.BCST (R10), Y8, Y11; \
	VCVTDQ2PS Y26, Y26; \
	VFMADD231PS Y26, Y11, Y2; \
	VMULPS.BCST (R10)(R14*1), Y8, Y9; \
	VCVTDQ2PS Y27, Y27; \
	VFMADD231PS Y27, Y9, Y3

// Q48MINSG4 adds one column's min terms of the block to its accm (at
// accm), one FMA per chunk in chunk order: chunk c's m_2c·bsum_2c +
// m_2c+1·bsum_2c+1 (MP_c in Y12-Y15, the column's sub-block sums at bs)
// times dmin·d8 (dmin in Y8, d8 at d8).
#define Q48MINSG4(d8, accm, bs) \
	VMULPS.BCST d8, Y8, Y9; \
	VMOVUPS accm(SP), Y10; \
	VPXORD Y16, Y16, Y16; \
	VPXORD Y17, Y17, Y17; \
	VPXORD Y18, Y18, Y18; \
	VPXORD Y19, Y19, Y19; \
	VPDPWSSD.BCST (bs+0)(SP), Y12, Y16; \
	VPDPWSSD.BCST (bs+4)(SP), Y13, Y17; \
	VPDPWSSD.BCST (bs+8)(SP), Y14, Y18; \
	VPDPWSSD.BCST (bs+12)(SP), Y15, Y19; \
	VCVTDQ2PS Y16, Y16; \
	VCVTDQ2PS Y17, Y17; \
	VCVTDQ2PS Y18, Y18; \
	VCVTDQ2PS Y19, Y19; \
	VFMADD231PS Y16, Y9, Y10; \
	VFMADD231PS Y17, Y9, Y10; \
	VFMADD231PS Y18, Y9, Y10; \
	VFMADD231PS Y19, Y9, Y10; \
	VMOVUPS Y10, accm(SP)

// Q48PRODS adds the products of the 32-byte chunk at woff of the eight rows
// (sub-blocks lo and hi) and the four columns' activation bytes at a (lo)
// and a+32 (hi) to Y24-Y27 and Y28-Y31, from zero.
#define Q48PRODS(woff, a) \
	Q48LOAD(woff); \
	Q48NIB; \
	Q48ZERO; \
	Q48DOT(Y8, Y16, a+0, a+32); \
	Q48DOT(Y9, Y17, a+4, a+36); \
	Q48DOT(Y10, Y18, a+8, a+40); \
	Q48DOT(Y11, Y19, a+12, a+44); \
	Q48DOT(Y12, Y20, a+16, a+48); \
	Q48DOT(Y13, Y21, a+20, a+52); \
	Q48DOT(Y14, Y22, a+24, a+56); \
	Q48DOT(Y15, Y23, a+28, a+60)

// Q48PF prefetches into L2 the block of rows r and r+1 of the row group two
// groups on (AX: its row 0, DX: its row 4), one chunk's share of it.
#define Q48PF0 \
	PREFETCHT1 0(AX); \
	PREFETCHT1 64(AX); \
	PREFETCHT1 128(AX); \
	PREFETCHT1 0(AX)(DI*1); \
	PREFETCHT1 64(AX)(DI*1); \
	PREFETCHT1 128(AX)(DI*1)

#define Q48PF1 \
	PREFETCHT1 0(AX)(DI*2); \
	PREFETCHT1 64(AX)(DI*2); \
	PREFETCHT1 128(AX)(DI*2); \
	PREFETCHT1 0(AX)(BX*1); \
	PREFETCHT1 64(AX)(BX*1); \
	PREFETCHT1 128(AX)(BX*1)

#define Q48PF2 \
	PREFETCHT1 0(DX); \
	PREFETCHT1 64(DX); \
	PREFETCHT1 128(DX); \
	PREFETCHT1 0(DX)(DI*1); \
	PREFETCHT1 64(DX)(DI*1); \
	PREFETCHT1 128(DX)(DI*1)

#define Q48PF3 \
	PREFETCHT1 0(DX)(DI*2); \
	PREFETCHT1 64(DX)(DI*2); \
	PREFETCHT1 128(DX)(DI*2); \
	PREFETCHT1 0(DX)(BX*1); \
	PREFETCHT1 64(DX)(BX*1); \
	PREFETCHT1 128(DX)(BX*1)

// Q48ENTRY sets up the registers and frame both kernels start from: the
// column offsets of dst (frame) and x (R12, R14, frame), dst and the count
// of row groups (frame), w (SI), wstride (DI) and 3·wstride (BX), the
// nibble mask (Y4). It jumps to done when there are no row groups.
#define Q48ENTRY \
	MOVQ cols+48(FP), AX; \
	COLMAP(dststride+64(FP), AX, R12, R10, R14, R9); \
	MOVQ R12, 784(SP); \
	MOVQ R10, 792(SP); \
	MOVQ R14, 800(SP); \
	COLMAP(xstride+40(FP), AX, R12, R10, R14, R9); \
	MOVQ R10, 808(SP); \
	MOVQ dst+56(FP), AX; \
	MOVQ AX, 768(SP); \
	MOVQ rows+24(FP), AX; \
	SHRQ $3, AX; \
	JZ done; \
	MOVQ AX, 776(SP); \
	MOVQ w+8(FP), SI; \
	MOVQ wstride+16(FP), DI; \
	LEAQ (DI)(DI*2), BX; \
	VPBROADCASTD q48c<>+0(SB), Y4

// Q48GROUP points the block loop at the row group at SI: R8 and R11 at its
// rows 0 and 4, R9 and R10 at columns 0 and 2 of x, CX at the count of
// blocks, AX and DX at rows 0 and 4 of the group two on (prefetch).
#define Q48GROUP \
	MOVQ SI, R8; \
	LEAQ (SI)(DI*4), R11; \
	MOVQ x+32(FP), R9; \
	MOVQ 808(SP), R10; \
	ADDQ R9, R10; \
	MOVQ nb+0(FP), CX; \
	LEAQ (R8)(DI*8), AX; \
	LEAQ (R11)(DI*8), DX; \
	LEAQ (AX)(DI*8), AX; \
	LEAQ (DX)(DI*8), DX

// Q48NEXT moves every pointer to the next block and loops.
#define Q48NEXT \
	ADDQ $144, R8; \
	ADDQ $144, R11; \
	ADDQ $144, AX; \
	ADDQ $144, DX; \
	ADDQ $292, R9; \
	ADDQ $292, R10; \
	DECQ CX; \
	JNZ block

// func q4_KiTile8x4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)
TEXT ·q4_KiTile8x4V(SB), $816-72
	Q48ENTRY

group:
	VXORPS Y5, Y5, Y5
	VMOVUPS Y5, 0(SP)
	VMOVUPS Y5, 32(SP)
	VMOVUPS Y5, 64(SP)
	VMOVUPS Y5, 96(SP)
	VMOVUPS Y5, 128(SP)
	VMOVUPS Y5, 160(SP)
	VMOVUPS Y5, 192(SP)
	VMOVUPS Y5, 224(SP)
	Q48GROUP

block:
	Q48HEAD
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	// Weight bytes 32·0..+31: sub-blocks 0 (low nibbles) and 1.
	Q48PF0
	Q48PRODS(16, 4)
	Q48SCALE(256, 288)
	// Weight bytes 32·1..+31: sub-blocks 2 (low nibbles) and 3.
	Q48PF1
	Q48PRODS(48, 68)
	Q48SCALE(320, 352)
	// Weight bytes 32·2..+31: sub-blocks 4 (low nibbles) and 5.
	Q48PF2
	Q48PRODS(80, 132)
	Q48SCALE(384, 416)
	// Weight bytes 32·3..+31: sub-blocks 6 (low nibbles) and 7.
	Q48PF3
	Q48PRODS(112, 196)
	Q48SCALE(448, 480)
	// Mins: summ = Σ m_j·bsum_j per column into Y24-Y27.
	VMOVDQU 512(SP), Y8
	VMOVDQU 544(SP), Y9
	VMOVDQU 576(SP), Y10
	VMOVDQU 608(SP), Y11
	VPXORD Y24, Y24, Y24
	VPXORD Y25, Y25, Y25
	VPXORD Y26, Y26, Y26
	VPXORD Y27, Y27, Y27
	VPDPWSSD.BCST 704(SP), Y8, Y24
	VPDPWSSD.BCST 720(SP), Y8, Y25
	VPDPWSSD.BCST 736(SP), Y8, Y26
	VPDPWSSD.BCST 752(SP), Y8, Y27
	VPDPWSSD.BCST 708(SP), Y9, Y24
	VPDPWSSD.BCST 724(SP), Y9, Y25
	VPDPWSSD.BCST 740(SP), Y9, Y26
	VPDPWSSD.BCST 756(SP), Y9, Y27
	VPDPWSSD.BCST 712(SP), Y10, Y24
	VPDPWSSD.BCST 728(SP), Y10, Y25
	VPDPWSSD.BCST 744(SP), Y10, Y26
	VPDPWSSD.BCST 760(SP), Y10, Y27
	VPDPWSSD.BCST 716(SP), Y11, Y24
	VPDPWSSD.BCST 732(SP), Y11, Y25
	VPDPWSSD.BCST 748(SP), Y11, Y26
	VPDPWSSD.BCST 764(SP), Y11, Y27
	VMOVUPS 640(SP), Y12
	VMOVUPS 672(SP), Y13
	Q48FLOAT(Y0, Y24, (R9), 0, 128)
	Q48FLOAT(Y1, Y25, (R9)(R12*1), 32, 160)
	Q48FLOAT(Y2, Y26, (R10), 64, 192)
	Q48FLOAT(Y3, Y27, (R10)(R14*1), 96, 224)
	Q48NEXT

	// acc − accm to the four columns of dst, eight rows each.
	MOVQ 768(SP), DX
	VMOVUPS 0(SP), Y8
	VSUBPS 128(SP), Y8, Y8
	VMOVUPS Y8, (DX)
	MOVQ DX, R13
	ADDQ 784(SP), R13
	VMOVUPS 32(SP), Y8
	VSUBPS 160(SP), Y8, Y8
	VMOVUPS Y8, (R13)
	MOVQ DX, R13
	ADDQ 792(SP), R13
	VMOVUPS 64(SP), Y8
	VSUBPS 192(SP), Y8, Y8
	VMOVUPS Y8, (R13)
	ADDQ 800(SP), R13
	VMOVUPS 96(SP), Y8
	VSUBPS 224(SP), Y8, Y8
	VMOVUPS Y8, (R13)
	ADDQ $32, DX
	MOVQ DX, 768(SP)
	LEAQ (SI)(DI*8), SI
	DECQ 776(SP)
	JNZ group

done:
	VZEROUPPER
	RET

// func q4_KgTile8x4V(nb int, w unsafe.Pointer, wstride, rows int, x unsafe.Pointer, xstride, cols int, dst unsafe.Pointer, dststride int)
TEXT ·q4_KgTile8x4V(SB), $816-72
	Q48ENTRY

group:
	VXORPS Y5, Y5, Y5
	VMOVUPS Y5, 0(SP)
	VMOVUPS Y5, 32(SP)
	VMOVUPS Y5, 64(SP)
	VMOVUPS Y5, 96(SP)
	VMOVUPS Y5, 128(SP)
	VMOVUPS Y5, 160(SP)
	VMOVUPS Y5, 192(SP)
	VMOVUPS Y5, 224(SP)
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	Q48GROUP

block:
	Q48HEAD
	// Weight bytes 32·0..+31: sub-blocks 0 (low nibbles) and 1.
	Q48PF0
	Q48PRODS(16, 4)
	Q48CHUNKG4(256, 288)
	// Weight bytes 32·1..+31: sub-blocks 2 (low nibbles) and 3.
	Q48PF1
	Q48PRODS(48, 68)
	Q48CHUNKG4(320, 352)
	// Weight bytes 32·2..+31: sub-blocks 4 (low nibbles) and 5.
	Q48PF2
	Q48PRODS(80, 132)
	Q48CHUNKG4(384, 416)
	// Weight bytes 32·3..+31: sub-blocks 6 (low nibbles) and 7.
	Q48PF3
	Q48PRODS(112, 196)
	Q48CHUNKG4(448, 480)
	// Mins, one FMA per chunk as well, in chunk order.
	VMOVDQU 512(SP), Y12
	VMOVDQU 544(SP), Y13
	VMOVDQU 576(SP), Y14
	VMOVDQU 608(SP), Y15
	VMOVUPS 672(SP), Y8
	Q48MINSG4((R9), 128, 704)
	Q48MINSG4((R9)(R12*1), 160, 720)
	Q48MINSG4((R10), 192, 736)
	Q48MINSG4((R10)(R14*1), 224, 752)
	Q48NEXT

	// acc − accm to the four columns of dst, eight rows each.
	MOVQ 768(SP), DX
	VSUBPS 128(SP), Y0, Y8
	VMOVUPS Y8, (DX)
	MOVQ DX, R13
	ADDQ 784(SP), R13
	VSUBPS 160(SP), Y1, Y8
	VMOVUPS Y8, (R13)
	MOVQ DX, R13
	ADDQ 792(SP), R13
	VSUBPS 192(SP), Y2, Y8
	VMOVUPS Y8, (R13)
	ADDQ 800(SP), R13
	VSUBPS 224(SP), Y3, Y8
	VMOVUPS Y8, (R13)
	ADDQ $32, DX
	MOVQ DX, 768(SP)
	LEAQ (SI)(DI*8), SI
	DECQ 776(SP)
	JNZ group

done:
	VZEROUPPER
	RET
