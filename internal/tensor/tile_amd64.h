// Macros shared by the tile kernels (mmt_amd64.s, mmtf_amd64.s,
// mmt8_amd64.s).

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
