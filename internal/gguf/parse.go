package gguf

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/golem-llm/golem/internal/tensor"
)

// Fewest bytes one metadata pair and one tensor description can take:
// key length (8) + key type (4) + a one-byte value, and name length (8) +
// n_dims (4) + type (4) + offset (8).
const (
	minKVBytes     = 8 + 4 + 1
	minTensorBytes = 8 + 4 + 4 + 8
)

// Parse parses a GGUF file held in data. Tensor Data are sub-slices of data
// (no copy); metadata values are copied, so they do not keep data alive.
func Parse(data []byte) (*File, error) {
	d := &decoder{data: data}
	return d.parse()
}

// section is the part of the file the decoder is in, for error messages.
type section uint8

const (
	inHeader section = iota
	inKV
	inTensorInfo
)

// decoder reads the file front to back. Every read checks the bytes left
// first, so a short or lying file ends in an error, never an index panic.
type decoder struct {
	data []byte
	pos  int

	// Where the decoder is: the section, the item's index in it, and its
	// key or tensor name once that has been read.
	sec   section
	index uint64
	name  string
	named bool
}

func (d *decoder) left() int { return len(d.data) - d.pos }

func (d *decoder) where() string {
	var s string
	switch d.sec {
	case inHeader:
		return "the header"
	case inKV:
		s = fmt.Sprintf("KV %d", d.index)
	case inTensorInfo:
		s = fmt.Sprintf("tensor info %d", d.index)
	}
	if d.named {
		s += " (" + quote(d.name) + ")"
	}
	return s
}

// errorf reports a problem found at byte offset at of the current item.
func (d *decoder) errorf(at int, format string, args ...any) error {
	return &FormatError{Msg: fmt.Sprintf("%s: %s at byte %d", d.where(), fmt.Sprintf(format, args...), at)}
}

// truncated reports that need more bytes were wanted at the current position.
func (d *decoder) truncated(need int) error {
	return &FormatError{Msg: fmt.Sprintf("truncated in %s at byte %d (need %d bytes, %d left)", d.where(), d.pos, need, d.left())}
}

func (d *decoder) u8() (uint8, error) {
	if d.left() < 1 {
		return 0, d.truncated(1)
	}
	v := d.data[d.pos]
	d.pos++
	return v, nil
}

func (d *decoder) u16() (uint16, error) {
	if d.left() < 2 {
		return 0, d.truncated(2)
	}
	v := binary.LittleEndian.Uint16(d.data[d.pos:])
	d.pos += 2
	return v, nil
}

func (d *decoder) u32() (uint32, error) {
	if d.left() < 4 {
		return 0, d.truncated(4)
	}
	v := binary.LittleEndian.Uint32(d.data[d.pos:])
	d.pos += 4
	return v, nil
}

func (d *decoder) u64() (uint64, error) {
	if d.left() < 8 {
		return 0, d.truncated(8)
	}
	v := binary.LittleEndian.Uint64(d.data[d.pos:])
	d.pos += 8
	return v, nil
}

// bytes reads a length-prefixed byte string (a GGUF string) without
// copying it; what names it in errors.
func (d *decoder) bytes(what string) ([]byte, error) {
	at := d.pos
	n, err := d.u64()
	if err != nil {
		return nil, err
	}
	if n > uint64(d.left()) {
		return nil, d.errorf(at, "%s length %d runs past the end of the file (%d bytes left; truncated or corrupt)", what, n, d.left())
	}
	b := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

func (d *decoder) parse() (*File, error) {
	if err := d.header(); err != nil {
		return nil, err
	}
	// header has checked that all 24 header bytes are there.
	version, _ := d.u32()
	nTensors, _ := d.u64()
	at := d.pos
	nKV, _ := d.u64()

	// Counts are checked against the bytes that follow before anything is
	// sized by them.
	rest := uint64(d.left())
	if nKV > rest/minKVBytes {
		return nil, d.errorf(at, "KV count %d cannot fit in the %d bytes left (each pair takes at least %d; truncated or corrupt)", nKV, rest, minKVBytes)
	}
	rest -= nKV * minKVBytes
	if nTensors > rest/minTensorBytes {
		return nil, d.errorf(8, "tensor count %d cannot fit in the %d bytes left after %d KV pairs (each tensor info takes at least %d; truncated or corrupt)",
			nTensors, d.left(), nKV, minTensorBytes)
	}

	f := &File{
		Version: version,
		KVs:     make([]KV, 0, nKV),
		Tensors: make([]*TensorInfo, 0, nTensors),
		data:    d.data,
		keys:    make(map[string]int, nKV),
		tensors: make(map[string]int, nTensors),
	}
	for i := range nKV {
		d.sec, d.index, d.named = inKV, i, false
		kv, err := d.kv()
		if err != nil {
			return nil, err
		}
		if j, dup := f.keys[kv.Key]; dup {
			return nil, &FormatError{Msg: fmt.Sprintf("KV %d: duplicate key %s (first defined in KV %d)", i, quote(kv.Key), j)}
		}
		f.keys[kv.Key] = len(f.KVs)
		f.KVs = append(f.KVs, kv)
	}

	align, err := f.alignment()
	if err != nil {
		return nil, err
	}
	f.Alignment = align

	for i := range nTensors {
		d.sec, d.index, d.named = inTensorInfo, i, false
		t, err := d.tensorInfo(align)
		if err != nil {
			return nil, err
		}
		if j, dup := f.tensors[t.Name]; dup {
			return nil, &FormatError{Msg: fmt.Sprintf("tensor info %d: duplicate tensor name %s (first defined in tensor info %d)", i, quote(t.Name), j)}
		}
		f.tensors[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}

	// The data section starts at the next multiple of the alignment. A file
	// without tensors may end before that point; it has no data to read.
	f.DataOffset = alignUp(uint64(d.pos), align)
	if err := f.placeTensors(); err != nil {
		return nil, err
	}
	return f, nil
}

// header checks the magic and version; on success the decoder stands on
// the version field.
func (d *decoder) header() error {
	if len(d.data) == 0 {
		return &FormatError{Msg: "empty file: not a GGUF file"}
	}
	if len(d.data) < 4 || string(d.data[:4]) != "GGUF" {
		if len(d.data) < 4 && strings.HasPrefix("GGUF", string(d.data)) {
			return d.truncated(4)
		}
		magic := d.data[:min(4, len(d.data))]
		switch string(magic) {
		case "lmgg", "fmgg", "tjgg":
			return &FormatError{Msg: fmt.Sprintf("not a GGUF file: magic %q is a legacy GGML/GGJT model; convert it to GGUF", magic)}
		}
		return &FormatError{Msg: fmt.Sprintf("not a GGUF file: magic %q, want \"GGUF\"", magic)}
	}
	if len(d.data) < 8 {
		d.pos = 4
		return d.truncated(4)
	}
	version := binary.LittleEndian.Uint32(d.data[4:])
	switch {
	case version == 2 || version == 3:
	case version == 1:
		return &FormatError{Msg: "version 1 is not supported (only GGUF versions 2 and 3 are); re-convert the model"}
	case bits.ReverseBytes32(version) == 2 || bits.ReverseBytes32(version) == 3:
		return &FormatError{Msg: fmt.Sprintf("version field 0x%08x is byte-swapped: big-endian GGUF files are not supported", version)}
	default:
		return &FormatError{Msg: fmt.Sprintf("unsupported version %d (only GGUF versions 2 and 3 are supported)", version)}
	}
	if len(d.data) < 24 {
		d.pos = len(d.data)
		return &FormatError{Msg: fmt.Sprintf("truncated in the header: the file is %d bytes, a GGUF header takes 24", len(d.data))}
	}
	d.pos = 4
	return nil
}

func (d *decoder) kv() (KV, error) {
	key, err := d.bytes("key")
	if err != nil {
		return KV{}, err
	}
	d.name, d.named = string(key), true
	at := d.pos
	t, err := d.u32()
	if err != nil {
		return KV{}, err
	}
	v, err := d.value(ValueType(t), at)
	if err != nil {
		return KV{}, err
	}
	return KV{Key: d.name, Value: v}, nil
}

// value reads one value of type t whose type tag was at byte at.
func (d *decoder) value(t ValueType, at int) (any, error) {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		v, err := d.u8()
		return int8(v), err
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		v, err := d.u16()
		return int16(v), err
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		v, err := d.u32()
		return int32(v), err
	case TypeFloat32:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case TypeBool:
		p := d.pos
		v, err := d.u8()
		if err != nil {
			return nil, err
		}
		if v > 1 {
			return nil, d.errorf(p, "bool value %d is neither 0 nor 1", v)
		}
		return v == 1, nil
	case TypeString:
		b, err := d.bytes("string")
		return string(b), err
	case TypeArray:
		return d.array(1)
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		v, err := d.u64()
		return int64(v), err
	case TypeFloat64:
		v, err := d.u64()
		return math.Float64frombits(v), err
	}
	return nil, d.errorf(at, "unknown value type %d", uint32(t))
}

// array reads an array value (element type, count, elements) nested depth
// levels deep. Elements go straight into a typed slice.
func (d *decoder) array(depth int) (Array, error) {
	at := d.pos
	if depth > MaxArrayDepth {
		return Array{}, d.errorf(at, "arrays nested more than %d levels deep", MaxArrayDepth)
	}
	et, err := d.u32()
	if err != nil {
		return Array{}, err
	}
	t := ValueType(et)
	if !t.Valid() {
		return Array{}, d.errorf(at, "unknown array element type %d", et)
	}
	n, err := d.u64()
	if err != nil {
		return Array{}, err
	}
	if n > uint64(d.left())/t.minSize() {
		return Array{}, d.errorf(at, "array of %d %s elements cannot fit in the %d bytes left (truncated or corrupt)", n, t, d.left())
	}
	// From here n*minSize <= left, so fixed-size elements are in bounds.
	count := int(n)
	p := d.data[d.pos:]
	a := Array{Type: t}
	switch t {
	case TypeUint8:
		a.Values = slices.Clone(p[:count:count])
		d.pos += count
	case TypeInt8:
		a.Values = fixed(d, count, 1, func(b []byte) int8 { return int8(b[0]) })
	case TypeUint16:
		a.Values = fixed(d, count, 2, binary.LittleEndian.Uint16)
	case TypeInt16:
		a.Values = fixed(d, count, 2, func(b []byte) int16 { return int16(binary.LittleEndian.Uint16(b)) })
	case TypeUint32:
		a.Values = fixed(d, count, 4, binary.LittleEndian.Uint32)
	case TypeInt32:
		a.Values = fixed(d, count, 4, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })
	case TypeFloat32:
		a.Values = fixed(d, count, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
	case TypeUint64:
		a.Values = fixed(d, count, 8, binary.LittleEndian.Uint64)
	case TypeInt64:
		a.Values = fixed(d, count, 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
	case TypeFloat64:
		a.Values = fixed(d, count, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
	case TypeBool:
		v := make([]bool, count)
		for i := range v {
			switch p[i] {
			case 0:
			case 1:
				v[i] = true
			default:
				return Array{}, d.errorf(d.pos+i, "bool element %d has value %d, neither 0 nor 1", i, p[i])
			}
		}
		d.pos += count
		a.Values = v
	case TypeString:
		v, err := d.strings(count)
		if err != nil {
			return Array{}, err
		}
		a.Values = v
	case TypeArray:
		v := make([]Array, count)
		for i := range v {
			if v[i], err = d.array(depth + 1); err != nil {
				return Array{}, err
			}
		}
		a.Values = v
	}
	return a, nil
}

// fixed decodes count elements of size bytes each; the caller has checked
// that they are all there.
func fixed[T any](d *decoder, count, size int, decode func([]byte) T) []T {
	v := make([]T, count)
	p := d.data[d.pos : d.pos+count*size]
	for i := range v {
		v[i] = decode(p[i*size:])
	}
	d.pos += count * size
	return v
}

// strings decodes count strings. A first pass checks every length and adds
// them up; the second copies all the bytes into one buffer that the
// strings then share, so a 100k-token vocabulary costs two allocations,
// not 100k.
func (d *decoder) strings(count int) ([]string, error) {
	p := d.pos
	total := 0
	for i := range count {
		if len(d.data)-p < 8 {
			d.pos = p
			return nil, d.truncated(8)
		}
		n := binary.LittleEndian.Uint64(d.data[p:])
		if n > uint64(len(d.data)-p-8) {
			return nil, d.errorf(p, "string %d of the array has length %d, which runs past the end of the file (%d bytes left; truncated or corrupt)", i, n, len(d.data)-p-8)
		}
		p += 8 + int(n)
		total += int(n)
	}
	var buf strings.Builder
	buf.Grow(total)
	p = d.pos
	for range count {
		n := int(binary.LittleEndian.Uint64(d.data[p:]))
		buf.Write(d.data[p+8 : p+8+n])
		p += 8 + n
	}
	all := buf.String()
	v := make([]string, count)
	p = d.pos
	off := 0
	for i := range v {
		n := int(binary.LittleEndian.Uint64(d.data[p:]))
		v[i] = all[off : off+n]
		off += n
		p += 8 + n
	}
	d.pos = p
	return v, nil
}

// alignment returns the data alignment the metadata sets.
func (f *File) alignment() (uint64, error) {
	i, ok := f.keys[KeyAlignment]
	if !ok {
		return DefaultAlignment, nil
	}
	v := f.KVs[i].Value
	a, ok := v.(uint32)
	if !ok {
		return 0, &FormatError{Msg: fmt.Sprintf("KV %d (%q): alignment has type %s, want UINT32", i, KeyAlignment, valueTypeOf(v))}
	}
	if err := checkAlignment(uint64(a)); err != nil {
		return 0, &FormatError{Msg: fmt.Sprintf("KV %d (%q): %v", i, KeyAlignment, err)}
	}
	return uint64(a), nil
}

func checkAlignment(a uint64) error {
	if a == 0 || a&(a-1) != 0 {
		return fmt.Errorf("alignment %d is not a power of two", a)
	}
	if a > maxAlignment {
		return fmt.Errorf("alignment %d is larger than the maximum %d", a, maxAlignment)
	}
	return nil
}

// tensorInfo reads one tensor description and checks its shape, type and
// offset alignment; whether its data lies in the file is checked later,
// once the data section's start is known.
func (d *decoder) tensorInfo(align uint64) (*TensorInfo, error) {
	name, err := d.bytes("name")
	if err != nil {
		return nil, err
	}
	d.name, d.named = string(name), true
	t := &TensorInfo{Name: d.name}

	at := d.pos
	nd, err := d.u32()
	if err != nil {
		return nil, err
	}
	if nd > MaxDims {
		return nil, d.errorf(at, "%d dimensions (ggml allows at most %d)", nd, MaxDims)
	}
	t.Dims = make([]uint64, nd)
	for i := range t.Dims {
		at := d.pos
		if t.Dims[i], err = d.u64(); err != nil {
			return nil, err
		}
		if t.Dims[i] > math.MaxInt64 {
			return nil, d.errorf(at, "dimension %d is %d, more than 2^63-1", i, t.Dims[i])
		}
	}

	typeAt := d.pos
	typ, err := d.u32()
	if err != nil {
		return nil, err
	}
	t.Type = tensor.Type(typ)
	offsetAt := d.pos
	if t.Offset, err = d.u64(); err != nil {
		return nil, err
	}

	if !t.Type.Known() {
		return nil, d.errorf(typeAt, "unknown tensor type %d", typ)
	}
	if t.Size, err = tensorSize(t.Dims, t.Type); err != nil {
		return nil, d.errorf(at, "%v", err)
	}
	if t.Offset%align != 0 {
		return nil, d.errorf(offsetAt, "data offset %d is not a multiple of the alignment %d", t.Offset, align)
	}
	return t, nil
}

// tensorSize returns the bytes a tensor of the given shape and type takes,
// or an error for a shape ggml cannot hold: a row length that is not a
// whole number of blocks, or an element count or size that overflows.
func tensorSize(dims []uint64, typ tensor.Type) (uint64, error) {
	info, ok := typ.Info()
	if !ok {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(typ))
	}
	n := uint64(1)
	for _, x := range dims {
		hi, lo := bits.Mul64(n, x)
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("dimensions %v hold more than 2^63-1 elements", dims)
		}
		n = lo
	}
	row := uint64(1)
	if len(dims) > 0 {
		row = dims[0]
	}
	if row%uint64(info.BlockSize) != 0 {
		return 0, fmt.Errorf("row length %d is not a multiple of the %s block size %d", row, info.Name, info.BlockSize)
	}
	if n == 0 {
		return 0, nil
	}
	// n is a whole number of rows, so a whole number of blocks.
	hi, size := bits.Mul64(n/uint64(info.BlockSize), uint64(info.BlockBytes))
	if hi != 0 || size > math.MaxInt64 {
		return 0, fmt.Errorf("dimensions %v of type %s take more than 2^63-1 bytes", dims, info.Name)
	}
	return size, nil
}

// placeTensors points each tensor's Data at its bytes, after checking that
// they lie inside the file and that no two tensors share bytes.
func (f *File) placeTensors() error {
	size := uint64(len(f.data))
	for _, t := range f.Tensors {
		if f.DataOffset > size || t.Offset > size-f.DataOffset || t.Size > size-f.DataOffset-t.Offset {
			return &FormatError{Msg: fmt.Sprintf("tensor %s: data [offset %d, size %d] runs past the end of the file (data section at byte %d, file size %d)",
				quote(t.Name), t.Offset, t.Size, f.DataOffset, size)}
		}
		start := f.DataOffset + t.Offset
		end := start + t.Size
		t.Data = f.data[start:end:end]
	}

	order := slices.Clone(f.Tensors)
	slices.SortStableFunc(order, func(a, b *TensorInfo) int { return cmp.Compare(a.Offset, b.Offset) })
	var prev *TensorInfo
	for _, t := range order {
		if t.Size == 0 {
			continue
		}
		if prev != nil && t.Offset < prev.Offset+prev.Size {
			return &FormatError{Msg: fmt.Sprintf("tensors %s [offset %d, size %d] and %s [offset %d, size %d] overlap",
				quote(prev.Name), prev.Offset, prev.Size, quote(t.Name), t.Offset, t.Size)}
		}
		prev = t
	}
	return nil
}

func alignUp(n, align uint64) uint64 { return (n + align - 1) &^ (align - 1) }

// quote quotes a key or name for an error message, cutting a hostile
// megabyte-long one short.
func quote(s string) string {
	const max = 96
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// valueTypeOf returns the GGUF type of a metadata value, or invalidType
// for a Go type that no GGUF type holds.
func valueTypeOf(v any) ValueType {
	switch v.(type) {
	case uint8:
		return TypeUint8
	case int8:
		return TypeInt8
	case uint16:
		return TypeUint16
	case int16:
		return TypeInt16
	case uint32:
		return TypeUint32
	case int32:
		return TypeInt32
	case float32:
		return TypeFloat32
	case bool:
		return TypeBool
	case string:
		return TypeString
	case Array:
		return TypeArray
	case uint64:
		return TypeUint64
	case int64:
		return TypeInt64
	case float64:
		return TypeFloat64
	}
	return invalidType
}

// invalidType stands for a Go value that no GGUF type holds.
const invalidType ValueType = math.MaxUint32
