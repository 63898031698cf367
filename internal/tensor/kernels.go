package tensor

import "fmt"

// Kernels holds the row operations of one storage type. The model code looks
// the table up once per tensor and then calls through these function values,
// so hot loops never switch on the type.
//
// The row functions work on any whole number of blocks and do not check their
// arguments (they are the inner loop); a slice that is too short panics with
// an index error. Dequantize and Quantize are the checked entry points.
type Kernels struct {
	// Type is the storage type these kernels belong to.
	Type Type

	// Level is the implementation tier these kernels come from.
	Level Level

	// VecDotType is the type the activation row must be converted to (with
	// KernelsFor(VecDotType).QuantizeRow) before calling Dot. It is ggml's
	// vec_dot_type: F32 for F32, F16 for F16, BF16 for BF16, Q8_0 for
	// Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1 and Q8_K for the K-quants.
	VecDotType Type

	// DequantizeRow converts len(dst) elements (a whole number of blocks)
	// from src to float32, bit for bit as ggml's to_float does.
	DequantizeRow func(src []byte, dst []float32)

	// QuantizeRow converts len(src) elements (a whole number of blocks) into
	// dst, following ggml's reference quantizer. Nil where not implemented.
	QuantizeRow func(src []float32, dst []byte)

	// Dot returns the dot product of the first n elements (a multiple of
	// the block size) of a weight row w of this type with an activation row
	// x already stored as VecDotType. Quantized types multiply the integer
	// levels exactly and scale once per block, as ggml does. Nil for the
	// activation-only types Q8_1 and Q8_K.
	Dot func(n int, w []byte, x []byte) float32

	// ActType is the layout MulMat reads activations in: VecDotType for the
	// quantized weight types, F32 for F32, F16 and BF16 weights (whose
	// activations are float32 values already rounded to VecDotType, so the
	// inner loop converts only the weights). Zero for activation-only types.
	ActType Type

	// QuantizeAct converts a float32 activation row (len(src) elements, a
	// whole number of blocks) into ActType for MulMat, with the rounding of
	// ggml's CPU backend as built for x86 with AVX2 (its from_float for
	// VecDotType): the rounding of llama.cpp's own matrix products. For Q8_0
	// and Q8_1 that differs from QuantizeRow (ties to even, and 127/max
	// instead of 1/(max/127)). Nil for activation-only types.
	QuantizeAct func(src []float32, dst []byte)

	// MulMat computes a tile of a matrix product: for r < rows and c < cols,
	// dst[c*dstStride+r] = Σ_k w_r[k]·x_c[k] over the first n elements, where
	// weight row r starts at w[r*wStride:] and activation row c (ActType, as
	// QuantizeAct writes it) at x[c*xStride:]. The floating-point operations
	// are those of ggml's AVX2 build, in its order, so results are bit for
	// bit those of llama.cpp; order says which of ggml's paths to follow.
	// Every level computes identical bits, whatever the tile's shape.
	// Nil for activation-only types.
	MulMat func(n int, w []byte, wStride, rows int, x []byte, xStride, cols int, dst []float32, dstStride int, order Order)
}

// Order selects which of ggml's code paths a matrix product follows; the
// paths add the same products in different orders.
type Order uint8

const (
	// Batch is set for a product with two or more activation rows: ggml
	// then multiplies F32, F16 and BF16 weights with llamafile's tinyBLAS
	// (when the row length is a multiple of 8) instead of its vec_dot.
	Batch Order = 1 << iota
	// Interleaved is set for Q4_0 and Q4_K matrices whose row count is a
	// multiple of 8: ggml's CPU backend repacks those ("repack" buffers)
	// and multiplies them with its 8-row interleaved kernels.
	Interleaved
	// Group4 is set for an activation row that ggml's interleaved kernels
	// multiply in a group of four (of a product with more than three rows,
	// all but the last count%4); the Q4_K group kernel sums each 64-element
	// chunk separately where the single-row kernel sums whole super-blocks.
	Group4
)

// Effective drops from o the flags that do not change the products of a
// matrix of type t: Group4 matters only to interleaved Q4_K. Activation
// rows whose effective orders agree can go through one MulMat call, where
// the kernels for several rows cover them together.
func Effective(t Type, o Order) Order {
	if t != Q4_K || o&Interleaved == 0 {
		o &^= Group4
	}
	return o
}

// Interleaves reports whether ggml repacks a matrix of type t with the
// given number of rows for its interleaved kernels.
func Interleaves(t Type, rows int) bool {
	return (t == Q4_0 || t == Q4_K) && rows%8 == 0
}

// maxType bounds the type numbers the tables are indexed by.
const maxType = 64

// refKernels holds the portable Go kernels. They never change: they are the
// oracle that faster, architecture-specific kernels are tested against.
var refKernels = [maxType]*Kernels{
	F32:  {Type: F32, VecDotType: F32, DequantizeRow: dequantRowF32, QuantizeRow: quantizeRowF32, Dot: dotF32},
	F16:  {Type: F16, VecDotType: F16, DequantizeRow: dequantRowF16, QuantizeRow: quantizeRowF16, Dot: dotF16},
	BF16: {Type: BF16, VecDotType: BF16, DequantizeRow: dequantRowBF16, QuantizeRow: quantizeRowBF16, Dot: dotBF16},
	Q4_0: {Type: Q4_0, VecDotType: Q8_0, DequantizeRow: dequantRowQ4_0, QuantizeRow: quantizeRowQ4_0, Dot: dotQ4_0},
	Q4_1: {Type: Q4_1, VecDotType: Q8_1, DequantizeRow: dequantRowQ4_1, QuantizeRow: quantizeRowQ4_1, Dot: dotQ4_1},
	Q5_0: {Type: Q5_0, VecDotType: Q8_0, DequantizeRow: dequantRowQ5_0, QuantizeRow: quantizeRowQ5_0, Dot: dotQ5_0},
	Q5_1: {Type: Q5_1, VecDotType: Q8_1, DequantizeRow: dequantRowQ5_1, QuantizeRow: quantizeRowQ5_1, Dot: dotQ5_1},
	Q8_0: {Type: Q8_0, VecDotType: Q8_0, DequantizeRow: dequantRowQ8_0, QuantizeRow: quantizeRowQ8_0, Dot: dotQ8_0},
	Q8_1: {Type: Q8_1, VecDotType: Q8_1, DequantizeRow: dequantRowQ8_1, QuantizeRow: quantizeRowQ8_1},
	Q2_K: {Type: Q2_K, VecDotType: Q8_K, DequantizeRow: dequantRowQ2_K, QuantizeRow: quantizeRowQ2_K, Dot: dotQ2_K},
	Q3_K: {Type: Q3_K, VecDotType: Q8_K, DequantizeRow: dequantRowQ3_K, QuantizeRow: quantizeRowQ3_K, Dot: dotQ3_K},
	Q4_K: {Type: Q4_K, VecDotType: Q8_K, DequantizeRow: dequantRowQ4_K, QuantizeRow: quantizeRowQ4_K, Dot: dotQ4_K},
	Q5_K: {Type: Q5_K, VecDotType: Q8_K, DequantizeRow: dequantRowQ5_K, QuantizeRow: quantizeRowQ5_K, Dot: dotQ5_K},
	Q6_K: {Type: Q6_K, VecDotType: Q8_K, DequantizeRow: dequantRowQ6_K, QuantizeRow: quantizeRowQ6_K, Dot: dotQ6_K},
	Q8_K: {Type: Q8_K, VecDotType: Q8_K, DequantizeRow: dequantRowQ8_K, QuantizeRow: quantizeRowQ8_K},
}

func init() {
	// The matrix-product entry points of the reference kernels: activation
	// conversion and products in ggml's order.
	for _, k := range refKernels {
		if k == nil || k.Dot == nil {
			continue
		}
		k.ActType = k.VecDotType
		switch k.Type {
		case F32:
			k.QuantizeAct = actF32
		case F16:
			k.ActType, k.QuantizeAct = F32, actRoundF16
		case BF16:
			k.ActType, k.QuantizeAct = F32, actRoundBF16
		default:
			switch k.VecDotType {
			case Q8_0:
				k.QuantizeAct = actQ8_0
			case Q8_1:
				k.QuantizeAct = actQ8_1
			case Q8_K:
				k.QuantizeAct = quantizeRowQ8_K
			}
		}
		k.MulMat = emuMulMat(k.Type)
	}
}

// KernelsFor returns the kernels the engine should use for t, and false when
// this engine cannot compute with t: those of DefaultLevel(). The result is
// shared: do not modify it.
func KernelsFor(t Type) (*Kernels, bool) {
	return KernelsAt(t, defaultLevel)
}

// ReferenceKernelsFor returns the portable Go kernels for t. They compute the
// same results as KernelsFor's (bit for bit for DequantizeRow and QuantizeRow,
// within rounding for Dot) and exist so that optimized kernels can be tested
// against them.
func ReferenceKernelsFor(t Type) (*Kernels, bool) {
	if uint32(t) >= maxType || refKernels[t] == nil {
		return nil, false
	}
	return refKernels[t], true
}

// Supported reports whether this engine can dequantize and compute with t:
// F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K to Q6_K, and the
// activation types Q8_1 and Q8_K (which have no Dot).
func Supported(t Type) bool {
	_, ok := KernelsFor(t)
	return ok
}

// checkRow validates a conversion of n elements of type t stored in nbytes
// bytes and returns the kernels to do it with.
func checkRow(op string, t Type, n, nbytes int) (*Kernels, error) {
	info, known := t.Info()
	if !known {
		return nil, fmt.Errorf("tensor: %s: unknown type %d", op, uint32(t))
	}
	k, ok := KernelsFor(t)
	if !ok {
		return nil, fmt.Errorf("tensor: %s: type %s is not supported", op, t)
	}
	if n%info.BlockSize != 0 {
		return nil, fmt.Errorf("tensor: %s %s: %d elements is not a multiple of the block size %d", op, t, n, info.BlockSize)
	}
	if want := n / info.BlockSize * info.BlockBytes; nbytes != want {
		return nil, fmt.Errorf("tensor: %s %s: %d elements take %d bytes, but the buffer has %d", op, t, n, want, nbytes)
	}
	return k, nil
}

// Dequantize converts len(dst) elements of type t from src to float32. src
// must hold exactly those elements, a whole number of blocks.
func Dequantize(t Type, src []byte, dst []float32) error {
	k, err := checkRow("dequantize", t, len(dst), len(src))
	if err != nil {
		return err
	}
	k.DequantizeRow(src, dst)
	return nil
}

// Quantize converts the elements of src (a whole number of blocks of t) into
// dst, which must have exactly the size they take as type t.
func Quantize(t Type, src []float32, dst []byte) error {
	k, err := checkRow("quantize", t, len(src), len(dst))
	if err != nil {
		return err
	}
	if k.QuantizeRow == nil {
		return fmt.Errorf("tensor: quantize: no quantizer for type %s", t)
	}
	k.QuantizeRow(src, dst)
	return nil
}
