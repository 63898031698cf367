package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/golem-llm/golem/internal/tensor"
)

// WriteTensor is one tensor to write: its shape (GGUF order, Dims[0] is the
// row length), its type, and its raw bytes in that type's layout.
type WriteTensor struct {
	Name string
	Dims []uint64
	Type tensor.Type
	Data []byte
}

// Write writes a GGUF version 3 file: the metadata in the order given, the
// tensor descriptions, and the tensor data, each tensor starting on the
// alignment boundary. The alignment is 32 unless kvs holds a
// general.alignment KV (a UINT32 power of two). Everything is validated
// before the first byte is written: value types, duplicate keys and tensor
// names, shapes, and that each tensor's Data is exactly the size its
// shape and type call for.
func Write(w io.Writer, kvs []KV, tensors []WriteTensor) error {
	align := uint64(DefaultAlignment)
	keys := make(map[string]int, len(kvs))
	for i, kv := range kvs {
		if j, dup := keys[kv.Key]; dup {
			return fmt.Errorf("gguf: write: KV %d: duplicate key %s (also KV %d)", i, quote(kv.Key), j)
		}
		keys[kv.Key] = i
		if err := checkValue(kv.Value, 0); err != nil {
			return fmt.Errorf("gguf: write: KV %d (%s): %v", i, quote(kv.Key), err)
		}
		if kv.Key == KeyAlignment {
			a, ok := kv.Value.(uint32)
			if !ok {
				return fmt.Errorf("gguf: write: KV %d (%s): alignment must be a uint32, not %T", i, quote(kv.Key), kv.Value)
			}
			if err := checkAlignment(uint64(a)); err != nil {
				return fmt.Errorf("gguf: write: KV %d (%s): %v", i, quote(kv.Key), err)
			}
			align = uint64(a)
		}
	}

	offsets := make([]uint64, len(tensors))
	names := make(map[string]int, len(tensors))
	var end uint64
	for i, t := range tensors {
		if j, dup := names[t.Name]; dup {
			return fmt.Errorf("gguf: write: tensor %d: duplicate tensor name %s (also tensor %d)", i, quote(t.Name), j)
		}
		names[t.Name] = i
		if len(t.Dims) > MaxDims {
			return fmt.Errorf("gguf: write: tensor %s: %d dimensions (ggml allows at most %d)", quote(t.Name), len(t.Dims), MaxDims)
		}
		for k, d := range t.Dims {
			if d > math.MaxInt64 {
				return fmt.Errorf("gguf: write: tensor %s: dimension %d is %d, more than 2^63-1", quote(t.Name), k, d)
			}
		}
		size, err := tensorSize(t.Dims, t.Type)
		if err != nil {
			return fmt.Errorf("gguf: write: tensor %s: %v", quote(t.Name), err)
		}
		if uint64(len(t.Data)) != size {
			return fmt.Errorf("gguf: write: tensor %s: has %d bytes of data, but %s %v takes %d", quote(t.Name), len(t.Data), t.Type, t.Dims, size)
		}
		offsets[i] = alignUp(end, align)
		end = offsets[i] + size
	}

	e := &encoder{w: bufio.NewWriterSize(w, 64<<10)}
	e.bytes([]byte("GGUF"))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		t := valueTypeOf(kv.Value)
		e.u32(uint32(t))
		e.value(kv.Value)
	}
	for i, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(offsets[i])
	}
	// A file without tensors has no data section and so needs no padding.
	if len(tensors) > 0 {
		e.pad(align)
		for _, t := range tensors {
			e.bytes(t.Data)
			e.pad(align)
		}
	}
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("gguf: write: %w", err)
	}
	return nil
}

// WriteFile writes a GGUF file atomically: into a temporary file in the
// same directory, synced, then renamed over path, so readers never see a
// half-written model.
func WriteFile(path string, kvs []KV, tensors []WriteTensor) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = Write(tmp, kvs, tensors); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	// CreateTemp makes the file private (0600); a model file is not secret.
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// checkValue reports whether v is a value GGUF can hold, with an array's
// element slice matching its Type, at most MaxArrayDepth arrays deep.
func checkValue(v any, depth int) error {
	a, isArray := v.(Array)
	if !isArray {
		if valueTypeOf(v) == invalidType {
			return fmt.Errorf("value of Go type %T is not a GGUF value type", v)
		}
		return nil
	}
	if depth+1 > MaxArrayDepth {
		return fmt.Errorf("arrays nested more than %d levels deep", MaxArrayDepth)
	}
	var elem ValueType
	switch vals := a.Values.(type) {
	case []uint8:
		elem = TypeUint8
	case []int8:
		elem = TypeInt8
	case []uint16:
		elem = TypeUint16
	case []int16:
		elem = TypeInt16
	case []uint32:
		elem = TypeUint32
	case []int32:
		elem = TypeInt32
	case []float32:
		elem = TypeFloat32
	case []bool:
		elem = TypeBool
	case []string:
		elem = TypeString
	case []uint64:
		elem = TypeUint64
	case []int64:
		elem = TypeInt64
	case []float64:
		elem = TypeFloat64
	case []Array:
		elem = TypeArray
		for i, x := range vals {
			if err := checkValue(x, depth+1); err != nil {
				return fmt.Errorf("array element %d: %v", i, err)
			}
		}
	default:
		return fmt.Errorf("array Values of Go type %T is not a slice of a GGUF element type", a.Values)
	}
	if a.Type != elem {
		return fmt.Errorf("array Type %s does not match its Values of Go type %T", a.Type, a.Values)
	}
	return nil
}

// encoder writes little-endian values through a buffer and counts the
// bytes, which padding needs. Write errors stick in the bufio.Writer and
// come out of the final Flush.
type encoder struct {
	w       *bufio.Writer
	n       uint64
	scratch [8]byte
}

func (e *encoder) bytes(b []byte) {
	e.w.Write(b)
	e.n += uint64(len(b))
}

func (e *encoder) u8(v uint8) {
	e.w.WriteByte(v)
	e.n++
}

func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.scratch[:], v)
	e.bytes(e.scratch[:2])
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.scratch[:], v)
	e.bytes(e.scratch[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.scratch[:], v)
	e.bytes(e.scratch[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.w.WriteString(s)
	e.n += uint64(len(s))
}

var zeros [4096]byte

// pad writes zeros up to the next multiple of align.
func (e *encoder) pad(align uint64) {
	for n := alignUp(e.n, align) - e.n; n > 0; {
		k := min(n, uint64(len(zeros)))
		e.bytes(zeros[:k])
		n -= k
	}
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// value writes a value checked by checkValue, without its type tag.
func (e *encoder) value(v any) {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		e.u8(boolByte(x))
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case Array:
		e.array(x)
	}
}

func (e *encoder) array(a Array) {
	e.u32(uint32(a.Type))
	e.u64(uint64(a.Len()))
	switch vals := a.Values.(type) {
	case []uint8:
		e.bytes(vals)
	case []int8:
		for _, x := range vals {
			e.u8(uint8(x))
		}
	case []uint16:
		for _, x := range vals {
			e.u16(x)
		}
	case []int16:
		for _, x := range vals {
			e.u16(uint16(x))
		}
	case []uint32:
		for _, x := range vals {
			e.u32(x)
		}
	case []int32:
		for _, x := range vals {
			e.u32(uint32(x))
		}
	case []float32:
		for _, x := range vals {
			e.u32(math.Float32bits(x))
		}
	case []bool:
		for _, x := range vals {
			e.u8(boolByte(x))
		}
	case []string:
		for _, x := range vals {
			e.str(x)
		}
	case []uint64:
		for _, x := range vals {
			e.u64(x)
		}
	case []int64:
		for _, x := range vals {
			e.u64(uint64(x))
		}
	case []float64:
		for _, x := range vals {
			e.u64(math.Float64bits(x))
		}
	case []Array:
		for _, x := range vals {
			e.array(x)
		}
	}
}
