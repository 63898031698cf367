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

// kernels is the dispatch table the engine uses. It starts as a copy of the
// reference kernels; architecture-specific files may replace entries in init.
var kernels = func() [maxType]*Kernels {
	var t [maxType]*Kernels
	for i, k := range refKernels {
		if k != nil {
			c := *k
			t[i] = &c
		}
	}
	return t
}()

// KernelsFor returns the kernels the engine should use for t, and false when
// this engine cannot compute with t. The result is shared: do not modify it.
func KernelsFor(t Type) (*Kernels, bool) {
	if uint32(t) >= maxType || kernels[t] == nil {
		return nil, false
	}
	return kernels[t], true
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
