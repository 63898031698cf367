package gguf

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// everyTypeKVs holds one KV of each value type, arrays of each element
// type, nested arrays and strings that are not valid UTF-8.
func everyTypeKVs() []KV {
	return []KV{
		{"general.architecture", "llama"},
		{"u8", uint8(200)},
		{"i8", int8(-100)},
		{"u16", uint16(60000)},
		{"i16", int16(-30000)},
		{"u32", uint32(4000000000)},
		{"i32", int32(-2000000000)},
		{"f32", float32(-1.5e-7)},
		{"bool.true", true},
		{"bool.false", false},
		{"str", "héllo\x00\xff\xfe world"},
		{"str.empty", ""},
		{"u64", uint64(math.MaxUint64)},
		{"i64", int64(math.MinInt64)},
		{"f64", math.Inf(-1)},
		{"a.u8", Array{TypeUint8, []uint8{0, 1, 255}}},
		{"a.i8", Array{TypeInt8, []int8{-128, 0, 127}}},
		{"a.u16", Array{TypeUint16, []uint16{1, 65535}}},
		{"a.i16", Array{TypeInt16, []int16{-32768, 32767}}},
		{"a.u32", Array{TypeUint32, []uint32{7, math.MaxUint32}}},
		{"a.i32", Array{TypeInt32, []int32{-5, 6, math.MaxInt32}}},
		{"a.f32", Array{TypeFloat32, []float32{0.5, -2, float32(math.Inf(1))}}},
		{"a.bool", Array{TypeBool, []bool{true, false, true}}},
		{"a.str", Array{TypeString, []string{"a", "", "\xc3\x28 invalid", "▁the"}}},
		{"a.u64", Array{TypeUint64, []uint64{1 << 40}}},
		{"a.i64", Array{TypeInt64, []int64{-1 << 40, 3}}},
		{"a.f64", Array{TypeFloat64, []float64{math.Pi}}},
		{"a.empty", Array{TypeString, []string{}}},
		{"a.nested", Array{TypeArray, []Array{
			{TypeUint8, []uint8{1, 2}},
			{TypeString, []string{"x", "yz"}},
			{TypeArray, []Array{{TypeFloat64, []float64{1, 2, 3}}, {TypeArray, []Array{}}}},
		}}},
	}
}

func smallTensors() []WriteTensor {
	f32 := make([]byte, 3*2*4)
	for i := range f32 {
		f32[i] = byte(i + 1)
	}
	q8 := make([]byte, 2*34) // two Q8_0 rows of 32
	for i := range q8 {
		q8[i] = byte(3 * i)
	}
	return []WriteTensor{
		{Name: "a.weight", Dims: []uint64{3, 2}, Type: tensor.F32, Data: f32},
		{Name: "b.q8", Dims: []uint64{32, 2}, Type: tensor.Q8_0, Data: q8},
		{Name: "c.scalar", Dims: []uint64{1}, Type: tensor.F16, Data: []byte{0x00, 0x3c}},
		{Name: "d.empty", Dims: []uint64{0, 4}, Type: tensor.F32, Data: nil},
		{Name: "e.4d", Dims: []uint64{2, 1, 1, 2}, Type: tensor.I8, Data: []byte{1, 2, 3, 4}},
	}
}

func TestWriteEveryValueType(t *testing.T) {
	kvs := everyTypeKVs()
	ts := smallTensors()
	data := mustWrite(t, kvs, ts)
	f := mustParse(t, data)
	if f.Version != 3 {
		t.Errorf("version %d", f.Version)
	}
	if len(f.KVs) != len(kvs) {
		t.Fatalf("%d KVs, want %d", len(f.KVs), len(kvs))
	}
	for i, kv := range kvs {
		got := f.KVs[i]
		if got.Key != kv.Key || !reflect.DeepEqual(got.Value, kv.Value) {
			t.Errorf("KV %d: got %s = %#v, want %s = %#v", i, got.Key, got.Value, kv.Key, kv.Value)
		}
	}
	if len(f.Tensors) != len(ts) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(ts))
	}
	for i, w := range ts {
		g := f.Tensors[i]
		if g.Name != w.Name || !slices.Equal(g.Dims, w.Dims) || g.Type != w.Type || !bytes.Equal(g.Data, w.Data) || g.Size != uint64(len(w.Data)) {
			t.Errorf("tensor %d: got %s %v %s %d bytes, want %s %v %s %d bytes", i, g.Name, g.Dims, g.Type, len(g.Data), w.Name, w.Dims, w.Type, len(w.Data))
		}
		if g.Offset%32 != 0 {
			t.Errorf("tensor %s: offset %d not aligned to 32", g.Name, g.Offset)
		}
	}
	if e := f.Tensors[4]; e.Elements() != 4 || e.Rows() != 2 {
		t.Errorf("4-D tensor: %d elements, %d rows", e.Elements(), e.Rows())
	}
	if len(data)%32 != 0 {
		t.Errorf("file length %d is not padded to the alignment", len(data))
	}

	// Writing the parsed file gives the same bytes.
	if again := mustWrite(t, f.KVs, writeTensors(f)); !bytes.Equal(again, data) {
		t.Error("writing the parsed file gives different bytes")
	}
}

func TestAccessors(t *testing.T) {
	f := mustParse(t, mustWrite(t, everyTypeKVs(), nil))
	if f.Architecture() != "llama" {
		t.Errorf("Architecture() = %q", f.Architecture())
	}
	if s, ok := f.String("str"); !ok || s != "héllo\x00\xff\xfe world" {
		t.Errorf("String = %q, %v", s, ok)
	}
	if _, ok := f.String("u8"); ok {
		t.Error("String accepted a uint8")
	}
	if _, ok := f.String("missing"); ok {
		t.Error("String found a missing key")
	}

	uints := map[string]struct {
		v  uint64
		ok bool
	}{
		"u8": {200, true}, "u16": {60000, true}, "u32": {4000000000, true}, "u64": {math.MaxUint64, true},
		"i8": {0, false}, "i64": {0, false}, "f32": {0, false}, "str": {0, false}, "bool.true": {0, false},
	}
	for k, w := range uints {
		if v, ok := f.Uint(k); ok != w.ok || v != w.v {
			t.Errorf("Uint(%s) = %d, %v; want %d, %v", k, v, ok, w.v, w.ok)
		}
	}
	ints := map[string]struct {
		v  int64
		ok bool
	}{
		"i8": {-100, true}, "i16": {-30000, true}, "i32": {-2000000000, true}, "i64": {math.MinInt64, true},
		"u32": {4000000000, true}, "u64": {0, false}, "f64": {0, false},
	}
	for k, w := range ints {
		if v, ok := f.Int(k); ok != w.ok || v != w.v {
			t.Errorf("Int(%s) = %d, %v; want %d, %v", k, v, ok, w.v, w.ok)
		}
	}
	if v, ok := f.Float("f32"); !ok || v != float64(float32(-1.5e-7)) {
		t.Errorf("Float(f32) = %g, %v", v, ok)
	}
	if v, ok := f.Float("f64"); !ok || !math.IsInf(v, -1) {
		t.Errorf("Float(f64) = %g, %v", v, ok)
	}
	if v, ok := f.Float("i16"); !ok || v != -30000 {
		t.Errorf("Float(i16) = %g, %v", v, ok)
	}
	if v, ok := f.Float("u64"); !ok || v != math.MaxUint64 {
		t.Errorf("Float(u64) = %g, %v", v, ok)
	}
	if _, ok := f.Float("str"); ok {
		t.Error("Float accepted a string")
	}
	if b, ok := f.Bool("bool.true"); !ok || !b {
		t.Errorf("Bool(true) = %v, %v", b, ok)
	}
	if b, ok := f.Bool("bool.false"); !ok || b {
		t.Errorf("Bool(false) = %v, %v", b, ok)
	}
	if _, ok := f.Bool("u8"); ok {
		t.Error("Bool accepted a uint8")
	}

	if s, ok := f.Strings("a.str"); !ok || !slices.Equal(s, []string{"a", "", "\xc3\x28 invalid", "▁the"}) {
		t.Errorf("Strings = %q, %v", s, ok)
	}
	if s, ok := f.Strings("a.empty"); !ok || len(s) != 0 {
		t.Errorf("Strings(empty) = %q, %v", s, ok)
	}
	if _, ok := f.Strings("a.u8"); ok {
		t.Error("Strings accepted a uint8 array")
	}
	if _, ok := f.Strings("str"); ok {
		t.Error("Strings accepted a plain string")
	}
	if v, ok := f.Float32s("a.f32"); !ok || !slices.Equal(v, []float32{0.5, -2, float32(math.Inf(1))}) {
		t.Errorf("Float32s = %v, %v", v, ok)
	}
	if v, ok := f.Float32s("a.f64"); !ok || !slices.Equal(v, []float32{math.Pi}) {
		t.Errorf("Float32s(f64 array) = %v, %v", v, ok)
	}
	if _, ok := f.Float32s("a.i32"); ok {
		t.Error("Float32s accepted an int32 array")
	}

	int32s := map[string]struct {
		v  []int32
		ok bool
	}{
		"a.i32":  {[]int32{-5, 6, math.MaxInt32}, true},
		"a.u8":   {[]int32{0, 1, 255}, true},
		"a.i8":   {[]int32{-128, 0, 127}, true},
		"a.u16":  {[]int32{1, 65535}, true},
		"a.i16":  {[]int32{-32768, 32767}, true},
		"a.u32":  {nil, false}, // MaxUint32 does not fit
		"a.u64":  {nil, false}, // 1<<40 does not fit
		"a.i64":  {nil, false},
		"a.f32":  {nil, false},
		"a.str":  {nil, false},
		"i32":    {nil, false},
		"absent": {nil, false},
	}
	for k, w := range int32s {
		v, ok := f.Int32s(k)
		if ok != w.ok || !slices.Equal(v, w.v) {
			t.Errorf("Int32s(%s) = %v, %v; want %v, %v", k, v, ok, w.v, w.ok)
		}
	}
	// Values that fit convert from the wide types too.
	g := mustParse(t, mustWrite(t, []KV{
		{"u32", Array{TypeUint32, []uint32{0, math.MaxInt32}}},
		{"i64", Array{TypeInt64, []int64{math.MinInt32, math.MaxInt32}}},
		{"u64", Array{TypeUint64, []uint64{5}}},
		{"i64.low", Array{TypeInt64, []int64{math.MinInt32 - 1}}},
	}, nil))
	for k, w := range map[string][]int32{"u32": {0, math.MaxInt32}, "i64": {math.MinInt32, math.MaxInt32}, "u64": {5}, "i64.low": nil} {
		v, ok := g.Int32s(k)
		if ok != (w != nil) || !slices.Equal(v, w) {
			t.Errorf("Int32s(%s) = %v, %v; want %v", k, v, ok, w)
		}
	}
}

// TestWriteBytes checks the writer against bytes worked out by hand from
// the GGUF specification.
func TestWriteBytes(t *testing.T) {
	got := mustWrite(t, []KV{{"a", uint8(7)}, {"s", Array{TypeInt16, []int16{-2}}}}, []WriteTensor{
		{Name: "t", Dims: []uint64{1}, Type: tensor.F16, Data: []byte{0xAA, 0xBB}},
	})
	want := []byte{
		'G', 'G', 'U', 'F', 3, 0, 0, 0,
		1, 0, 0, 0, 0, 0, 0, 0, // tensors
		2, 0, 0, 0, 0, 0, 0, 0, // KVs
		1, 0, 0, 0, 0, 0, 0, 0, 'a', 0, 0, 0, 0, 7, // "a" UINT8 7
		1, 0, 0, 0, 0, 0, 0, 0, 's', 9, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xFE, 0xFF, // "s" ARRAY INT16 [-2]
		1, 0, 0, 0, 0, 0, 0, 0, 't', 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // "t" [1] F16 @0
	}
	// 24 + 14 + 27 + 33 = 98 bytes so far: pad to 128, the data, pad to 160.
	want = append(want, make([]byte, 128-len(want))...)
	want = append(want, 0xAA, 0xBB)
	want = append(want, make([]byte, 160-len(want))...)
	if !bytes.Equal(got, want) {
		t.Errorf("written bytes\n got %x\nwant %x", got, want)
	}
}

func TestWriteAlignment(t *testing.T) {
	kvs := []KV{{"general.alignment", uint32(64)}, {"x", "y"}}
	data := mustWrite(t, kvs, smallTensors())
	f := mustParse(t, data)
	if f.Alignment != 64 || f.DataOffset%64 != 0 {
		t.Errorf("alignment %d, data offset %d", f.Alignment, f.DataOffset)
	}
	for _, ti := range f.Tensors {
		if ti.Offset%64 != 0 {
			t.Errorf("%s at offset %d, not a multiple of 64", ti.Name, ti.Offset)
		}
	}
	if len(data)%64 != 0 {
		t.Errorf("file length %d not padded to 64", len(data))
	}
}

func TestParseVersion2(t *testing.T) {
	data := mustWrite(t, everyTypeKVs(), smallTensors())
	data[4] = 2 // v2 and v3 share the little-endian layout
	f := mustParse(t, data)
	if f.Version != 2 || len(f.KVs) != len(everyTypeKVs()) || len(f.Tensors) != len(smallTensors()) {
		t.Errorf("v2: version %d, %d KVs, %d tensors", f.Version, len(f.KVs), len(f.Tensors))
	}
}

func TestWriteRejects(t *testing.T) {
	ok := []WriteTensor{{Name: "t", Dims: []uint64{4}, Type: tensor.F32, Data: make([]byte, 16)}}
	deep := Array{TypeUint8, []uint8{}}
	for range MaxArrayDepth {
		deep = Array{TypeArray, []Array{deep}}
	}
	cases := []struct {
		name    string
		kvs     []KV
		tensors []WriteTensor
		want    []string
	}{
		{"duplicate key", []KV{{"a", uint8(1)}, {"a", uint8(2)}}, nil, []string{"duplicate key \"a\""}},
		{"go int", []KV{{"n", 5}}, nil, []string{"KV 0 (\"n\")", "Go type int"}},
		{"nil value", []KV{{"n", nil}}, nil, []string{"KV 0 (\"n\")", "not a GGUF value type"}},
		{"array type mismatch", []KV{{"a", Array{TypeString, []int32{1}}}}, nil, []string{"array Type STRING does not match", "[]int32"}},
		{"array of ints", []KV{{"a", Array{TypeInt32, []int{1}}}}, nil, []string{"[]int is not a slice"}},
		{"nested mismatch", []KV{{"a", Array{TypeArray, []Array{{TypeBool, []string{}}}}}}, nil, []string{"array element 0", "BOOL"}},
		{"too deep", []KV{{"a", deep}}, nil, []string{"nested more than 8"}},
		{"alignment type", []KV{{"general.alignment", uint64(32)}}, nil, []string{"alignment must be a uint32"}},
		{"alignment not power of two", []KV{{"general.alignment", uint32(48)}}, nil, []string{"48 is not a power of two"}},
		{"alignment zero", []KV{{"general.alignment", uint32(0)}}, nil, []string{"0 is not a power of two"}},
		{"alignment huge", []KV{{"general.alignment", uint32(1 << 31)}}, nil, []string{"larger than the maximum"}},
		{"duplicate tensor", nil, append(slices.Clone(ok), ok...), []string{"duplicate tensor name \"t\""}},
		{"data too short", nil, []WriteTensor{{Name: "t", Dims: []uint64{4, 2}, Type: tensor.F32, Data: make([]byte, 16)}}, []string{"\"t\"", "16 bytes", "takes 32"}},
		{"row not whole blocks", nil, []WriteTensor{{Name: "q", Dims: []uint64{40}, Type: tensor.Q4_0, Data: make([]byte, 18)}}, []string{"row length 40 is not a multiple of the Q4_0 block size 32"}},
		{"unknown type", nil, []WriteTensor{{Name: "q", Dims: []uint64{1}, Type: tensor.Type(5), Data: make([]byte, 1)}}, []string{"unknown tensor type 5"}},
		{"five dims", nil, []WriteTensor{{Name: "q", Dims: []uint64{1, 1, 1, 1, 1}, Type: tensor.F32, Data: make([]byte, 4)}}, []string{"5 dimensions"}},
		{"dim too big", nil, []WriteTensor{{Name: "q", Dims: []uint64{0, 1 << 63}, Type: tensor.F32}}, []string{"more than 2^63-1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, c.kvs, c.tensors)
			wantErr(t, err, c.want...)
			if buf.Len() != 0 {
				t.Errorf("%d bytes written before the error", buf.Len())
			}
		})
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		return 0, os.ErrClosed
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	big := []WriteTensor{{Name: "t", Dims: []uint64{1 << 16}, Type: tensor.F32, Data: make([]byte, 4<<16)}}
	err := Write(&failWriter{n: 1000}, nil, big)
	wantErr(t, err, "write", os.ErrClosed.Error())
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, everyTypeKVs(), smallTensors()); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != len(smallTensors()) || f.Architecture() != "llama" {
		t.Errorf("reopened: %d tensors, arch %q", len(f.Tensors), f.Architecture())
	}
	f.Close()

	// A failed write leaves the old file and no temporary behind.
	bad := []WriteTensor{{Name: "t", Dims: []uint64{4}, Type: tensor.F32, Data: make([]byte, 3)}}
	err = WriteFile(path, nil, bad)
	wantErr(t, err, "\"t\"", "3 bytes")
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "m.gguf" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %s, want only m.gguf", strings.Join(names, ", "))
	}
	if _, err := Open(path); err != nil {
		t.Errorf("old file damaged: %v", err)
	}

	err = WriteFile(filepath.Join(dir, "no", "such", "dir.gguf"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("WriteFile into a missing directory: %v", err)
	}
}
