// Package gguf reads and writes GGUF model files (versions 2 and 3).
//
// A GGUF file is a little-endian header (magic "GGUF", version, tensor and
// metadata counts), a list of typed key/value metadata pairs, a list of
// tensor descriptions, and an aligned data section holding the tensor bytes.
//
// Files come from the internet, so the parser treats every count, length and
// offset as hostile: each is checked against the bytes that remain before
// anything is allocated, and every problem is reported as an error that says
// what is wrong and where, never as a panic.
//
// Open memory-maps the file; tensor Data slices point straight into the
// mapping, so weights are used in place without a copy. Metadata values are
// copied out, so they stay valid after Close. A parsed File is never
// modified by its methods, so it may be read from many goroutines.
package gguf

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/internal/tensor"
)

// ValueType is the type tag of a metadata value, numbered as in GGUF.
type ValueType uint32

// The GGUF metadata value types.
const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
)

var valueTypeNames = [...]string{
	TypeUint8:   "UINT8",
	TypeInt8:    "INT8",
	TypeUint16:  "UINT16",
	TypeInt16:   "INT16",
	TypeUint32:  "UINT32",
	TypeInt32:   "INT32",
	TypeFloat32: "FLOAT32",
	TypeBool:    "BOOL",
	TypeString:  "STRING",
	TypeArray:   "ARRAY",
	TypeUint64:  "UINT64",
	TypeInt64:   "INT64",
	TypeFloat64: "FLOAT64",
}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("value type(%d)", uint32(t))
}

// Valid reports whether t is one of the thirteen GGUF value types.
func (t ValueType) Valid() bool { return t <= TypeFloat64 }

// minSize is the fewest bytes one encoded value of type t can take: the
// fixed size of a scalar, the length prefix of a string, or the element type
// and count of an array. The parser uses it to reject counts the remaining
// bytes cannot hold before it allocates anything.
func (t ValueType) minSize() uint64 {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64, TypeString:
		return 8
	case TypeArray:
		return 12
	}
	return 0
}

// Array is an array metadata value. Values holds a typed slice matching
// Type: []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32,
// []bool, []string, []uint64, []int64, []float64, or []Array when the
// elements are themselves arrays.
type Array struct {
	Type   ValueType
	Values any
}

// Len returns the number of elements, or -1 when Values is not a slice of
// a GGUF element type.
func (a Array) Len() int {
	switch v := a.Values.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	case []Array:
		return len(v)
	}
	return -1
}

// KV is one metadata pair. Value is one of uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64 or Array.
// Strings hold the file's bytes unchanged; they need not be valid UTF-8.
type KV struct {
	Key   string
	Value any
}

// MaxDims is the most dimensions a tensor may have (GGML_MAX_DIMS).
const MaxDims = 4

// MaxArrayDepth bounds how deeply arrays may nest inside one another; the
// outermost array is depth 1.
const MaxArrayDepth = 8

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// maxAlignment caps general.alignment so that padding stays sane; real
// files use 32 and page sizes at most.
const maxAlignment = 1 << 30

// KeyAlignment is the metadata key that sets the data alignment.
const KeyAlignment = "general.alignment"

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name   string
	Dims   []uint64 // GGUF order: Dims[0] is the row length (contiguous)
	Type   tensor.Type
	Offset uint64 // relative to the start of the data section
	Size   uint64 // bytes, computed from Dims and Type
	// Data is a view of the tensor's bytes inside the parsed buffer (the
	// file mapping for Open): no copy, len(Data) == Size. It must not be
	// modified, and it is invalid after Close.
	Data []byte
}

// Elements returns the number of elements, the product of Dims.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Rows returns the number of rows, the product of Dims[1:] (1 for 1-D).
func (t *TensorInfo) Rows() uint64 {
	n := uint64(1)
	for i := 1; i < len(t.Dims); i++ {
		n *= t.Dims[i]
	}
	return n
}

// File is a parsed GGUF file.
type File struct {
	Version   uint32
	Alignment uint64        // general.alignment or 32
	KVs       []KV          // in file order
	Tensors   []*TensorInfo // in file order
	// DataOffset is the absolute offset of the tensor data section. In a
	// file without tensors it may lie past the end of the file.
	DataOffset uint64

	data    []byte         // the parsed bytes
	unmap   func() error   // releases data; nil when nothing to release
	keys    map[string]int // key -> index in KVs
	tensors map[string]int // tensor name -> index in Tensors
}

// FormatError reports a malformed file: what is wrong and where.
type FormatError struct {
	Path string // the file, when known
	Msg  string
}

func (e *FormatError) Error() string {
	if e.Path != "" {
		return "gguf: " + e.Path + ": " + e.Msg
	}
	return "gguf: " + e.Msg
}

// Close releases the file mapping. Tensor Data slices are invalid after
// Close; metadata stays usable. Close is idempotent.
func (f *File) Close() error {
	unmap := f.unmap
	if unmap == nil {
		return nil
	}
	f.unmap = nil
	f.data = nil
	// Drop the views so that a use after Close fails as an empty slice
	// instead of faulting on unmapped memory.
	for _, t := range f.Tensors {
		t.Data = nil
	}
	return unmap()
}

// Lookup returns the value stored under key.
func (f *File) Lookup(key string) (any, bool) {
	i, ok := f.keys[key]
	if !ok {
		return nil, false
	}
	return f.KVs[i].Value, true
}

// String returns a string value.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Lookup(key)
	s, ok := v.(string)
	return s, ok
}

// Uint returns a value of any integer type that is not negative.
func (f *File) Uint(key string) (uint64, bool) {
	v, _ := f.Lookup(key)
	return toUint(v)
}

// Int returns a value of any integer type that fits in an int64.
func (f *File) Int(key string) (int64, bool) {
	v, _ := f.Lookup(key)
	return toInt(v)
}

// Float returns a float32 or float64 value, or an integer value converted.
func (f *File) Float(key string) (float64, bool) {
	v, _ := f.Lookup(key)
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if i, ok := toInt(v); ok {
		return float64(i), true
	}
	if u, ok := toUint(v); ok {
		return float64(u), true
	}
	return 0, false
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, bool) {
	v, _ := f.Lookup(key)
	b, ok := v.(bool)
	return b, ok
}

// Strings returns a string array. The slice is shared with the File; do
// not modify it.
func (f *File) Strings(key string) ([]string, bool) {
	v, _ := f.Lookup(key)
	a, ok := v.(Array)
	if !ok {
		return nil, false
	}
	s, ok := a.Values.([]string)
	return s, ok
}

// Float32s returns a float32 array (shared with the File; do not modify
// it), or a float64 array converted to float32.
func (f *File) Float32s(key string) ([]float32, bool) {
	v, _ := f.Lookup(key)
	a, ok := v.(Array)
	if !ok {
		return nil, false
	}
	switch x := a.Values.(type) {
	case []float32:
		return x, true
	case []float64:
		out := make([]float32, len(x))
		for i, e := range x {
			out[i] = float32(e)
		}
		return out, true
	}
	return nil, false
}

// Int32s returns an array of any integer type whose values all fit in an
// int32. An INT32 array is shared with the File (do not modify it); other
// types are converted into a new slice.
func (f *File) Int32s(key string) ([]int32, bool) {
	v, _ := f.Lookup(key)
	a, ok := v.(Array)
	if !ok {
		return nil, false
	}
	switch x := a.Values.(type) {
	case []int32:
		return x, true
	case []uint8:
		return convertInt32(x)
	case []int8:
		return convertInt32(x)
	case []uint16:
		return convertInt32(x)
	case []int16:
		return convertInt32(x)
	case []uint32:
		return convertInt32(x)
	case []uint64:
		return convertInt32(x)
	case []int64:
		return convertInt32(x)
	}
	return nil, false
}

func convertInt32[T uint8 | int8 | uint16 | int16 | uint32 | uint64 | int64](x []T) ([]int32, bool) {
	out := make([]int32, len(x))
	for i, e := range x {
		// Compare in the source type's own domain: a negative value is
		// checked through int64, a large unsigned one through uint64.
		if e < 0 {
			if int64(e) < math.MinInt32 {
				return nil, false
			}
		} else if uint64(e) > math.MaxInt32 {
			return nil, false
		}
		out[i] = int32(e)
	}
	return out, true
}

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensors[name]
	if !ok {
		return nil, false
	}
	return f.Tensors[i], true
}

// Architecture returns general.architecture, or "" when it is missing.
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}

func toUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return toUintSigned(int64(x))
	case int16:
		return toUintSigned(int64(x))
	case int32:
		return toUintSigned(int64(x))
	case int64:
		return toUintSigned(x)
	}
	return 0, false
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

func toUintSigned(x int64) (uint64, bool) {
	if x < 0 {
		return 0, false
	}
	return uint64(x), true
}
