package model

import (
	"fmt"
	"unsafe"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/tensor"
)

// Matrix is a weight matrix viewed straight from the model file: Rows rows
// of Cols elements each, stored in the tensor's own type. Row r starts at
// byte r*rowBytes.
type Matrix struct {
	Name       string
	Type       tensor.Type
	Rows, Cols int
	data       []byte
	rowBytes   int
	kern       *tensor.Kernels
	f32        []float32    // the same bytes as float32 when Type is F32
	order      tensor.Order // ggml's product path for this matrix (Interleaved)
}

// Vector is a 1-D F32 weight (norms, biases), dequantized at load when
// stored in another type.
type Vector []float32

// newMatrix binds a 2-D tensor, checks its shape is [cols, rows], and picks
// its kernels at the given level.
func newMatrix(t *gguf.TensorInfo, cols, rows int, level tensor.Level) (*Matrix, error) {
	if len(t.Dims) != 2 || t.Dims[0] != uint64(cols) || t.Dims[1] != uint64(rows) {
		return nil, fmt.Errorf("tensor %q has shape %v, want [%d %d]", t.Name, t.Dims, cols, rows)
	}
	if !tensor.Supported(t.Type) {
		return nil, fmt.Errorf("tensor %q has type %s, which this engine does not support", t.Name, t.Type)
	}
	k, ok := tensor.KernelsAt(t.Type, level)
	if !ok || k.MulMat == nil {
		return nil, fmt.Errorf("tensor %q has type %s, which this engine does not support", t.Name, t.Type)
	}
	rb, err := t.Type.RowBytes(cols)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %v", t.Name, err)
	}
	if len(t.Data) < rb*rows {
		return nil, fmt.Errorf("tensor %q: %d bytes of data, want %d", t.Name, len(t.Data), rb*rows)
	}
	m := &Matrix{Name: t.Name, Type: t.Type, Rows: rows, Cols: cols, data: t.Data[:rb*rows], rowBytes: rb, kern: k}
	if t.Type == tensor.F32 {
		m.f32 = bytesToF32(m.data)
	}
	return m, nil
}

// bytesToF32 views little-endian float32 data without copying. GGUF data is
// little-endian and every platform Go targets for this engine is too; the
// tensor data offsets are aligned to at least 32 bytes.
func bytesToF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		out := make([]float32, len(b)/4)
		if err := tensor.Dequantize(tensor.F32, b, out); err != nil {
			panic(err) // the length is a multiple of 4 by construction
		}
		return out
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// Row writes row r as float32 into dst (len >= Cols) and returns the filled
// part. For F32 matrices it returns a view without copying.
func (m *Matrix) Row(r int, dst []float32) []float32 {
	if m.f32 != nil {
		return m.f32[r*m.Cols : (r+1)*m.Cols]
	}
	m.kern.DequantizeRow(m.data[r*m.rowBytes:(r+1)*m.rowBytes], dst[:m.Cols])
	return dst[:m.Cols]
}

// newVector reads a 1-D tensor of length n as float32.
func newVector(t *gguf.TensorInfo, n int) (Vector, error) {
	if len(t.Dims) != 1 || t.Dims[0] != uint64(n) {
		return nil, fmt.Errorf("tensor %q has shape %v, want [%d]", t.Name, t.Dims, n)
	}
	if !tensor.Supported(t.Type) {
		return nil, fmt.Errorf("tensor %q has type %s, which this engine does not support", t.Name, t.Type)
	}
	if t.Type == tensor.F32 {
		return Vector(bytesToF32(t.Data[:4*n])), nil
	}
	v := make([]float32, n)
	if err := tensor.Dequantize(t.Type, t.Data, v); err != nil {
		return nil, fmt.Errorf("tensor %q: %v", t.Name, err)
	}
	return v, nil
}

// dot is the float32 inner product used by the reference path.
func dot(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
