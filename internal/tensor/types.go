// Package tensor owns the storage types of model weights: the ggml/GGUF type
// table (block sizes and byte sizes), conversion between each type and
// float32, quantization, and the dot-product kernels the engine multiplies
// with. Layouts are bit-exact with GGUF files so weights can be used straight
// from a memory-mapped file.
package tensor

import "fmt"

// Type is a ggml tensor type, numbered as in the GGUF format.
type Type uint32

// The ggml type numbers. Gaps are types ggml removed; they stay reserved.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
)

// QK_K is the number of weights in a K-quant super-block.
const QK_K = 256

// TypeInfo describes the storage of one type: a row of n elements occupies
// n/BlockSize blocks of BlockBytes bytes each.
type TypeInfo struct {
	Name       string
	BlockSize  int // elements per block
	BlockBytes int // bytes per block
}

var typeInfo = map[Type]TypeInfo{
	F32:     {"F32", 1, 4},
	F16:     {"F16", 1, 2},
	Q4_0:    {"Q4_0", 32, 18},
	Q4_1:    {"Q4_1", 32, 20},
	Q5_0:    {"Q5_0", 32, 22},
	Q5_1:    {"Q5_1", 32, 24},
	Q8_0:    {"Q8_0", 32, 34},
	Q8_1:    {"Q8_1", 32, 36},
	Q2_K:    {"Q2_K", 256, 84},
	Q3_K:    {"Q3_K", 256, 110},
	Q4_K:    {"Q4_K", 256, 144},
	Q5_K:    {"Q5_K", 256, 176},
	Q6_K:    {"Q6_K", 256, 210},
	Q8_K:    {"Q8_K", 256, 292},
	IQ2_XXS: {"IQ2_XXS", 256, 66},
	IQ2_XS:  {"IQ2_XS", 256, 74},
	IQ3_XXS: {"IQ3_XXS", 256, 98},
	IQ1_S:   {"IQ1_S", 256, 50},
	IQ4_NL:  {"IQ4_NL", 32, 18},
	IQ3_S:   {"IQ3_S", 256, 110},
	IQ2_S:   {"IQ2_S", 256, 82},
	IQ4_XS:  {"IQ4_XS", 256, 136},
	I8:      {"I8", 1, 1},
	I16:     {"I16", 1, 2},
	I32:     {"I32", 1, 4},
	I64:     {"I64", 1, 8},
	F64:     {"F64", 1, 8},
	IQ1_M:   {"IQ1_M", 256, 56},
	BF16:    {"BF16", 1, 2},
	TQ1_0:   {"TQ1_0", 256, 54},
	TQ2_0:   {"TQ2_0", 256, 66},
}

// Info returns the storage description of t, and false for a number that is
// not a ggml type.
func (t Type) Info() (TypeInfo, bool) {
	info, ok := typeInfo[t]
	return info, ok
}

// Known reports whether t is a type number ggml defines (whether or not this
// engine can compute with it; see Supported).
func (t Type) Known() bool { _, ok := typeInfo[t]; return ok }

func (t Type) String() string {
	if info, ok := typeInfo[t]; ok {
		return info.Name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of elements per block (1 for plain types).
func (t Type) BlockSize() int { return typeInfo[t].BlockSize }

// BlockBytes is the number of bytes per block.
func (t Type) BlockBytes() int { return typeInfo[t].BlockBytes }

// RowBytes returns the bytes taken by a row of n elements, or an error when
// n is not a whole number of blocks or the type is unknown.
func (t Type) RowBytes(n int) (int, error) {
	info, ok := typeInfo[t]
	if !ok {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(t))
	}
	if n < 0 || n%info.BlockSize != 0 {
		return 0, fmt.Errorf("row of %d elements is not a multiple of the %s block size %d", n, info.Name, info.BlockSize)
	}
	return n / info.BlockSize * info.BlockBytes, nil
}

// ParseType returns the type with the given name (case-insensitive, e.g. "q4_k").
func ParseType(name string) (Type, bool) {
	for t, info := range typeInfo {
		if equalFold(info.Name, name) {
			return t, true
		}
	}
	return 0, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
