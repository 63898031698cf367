package gguf

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// validRaw is a small valid file built by hand: one string KV and one F32
// tensor of four elements.
func validRaw() *raw {
	r := rawHeader(3, 1, 1)
	r.kv("general.architecture", TypeString).str("llama")
	r.tensor("w", []uint64{4}, tensor.F32, 0)
	return r.padTo(32).zeros(16)
}

func TestValidRaw(t *testing.T) {
	f := mustParse(t, validRaw().b)
	if f.Architecture() != "llama" || len(f.Tensors) != 1 || f.Tensors[0].Size != 16 {
		t.Fatalf("hand-built file parsed wrongly: %+v", f)
	}
}

// nested returns an array value nested depth levels deep (type tag not
// included).
func nested(r *raw, depth int) *raw {
	for range depth - 1 {
		r.u32(uint32(TypeArray)).u64(1)
	}
	return r.u32(uint32(TypeUint8)).u64(1).u8(42)
}

func TestHostile(t *testing.T) {
	kvFile := func(build func(r *raw)) []byte {
		r := rawHeader(3, 0, 1)
		build(r)
		return r.b
	}
	tensorFile := func(dataBytes int, infos ...func(r *raw)) []byte {
		r := rawHeader(3, uint64(len(infos)), 0)
		for _, info := range infos {
			info(r)
		}
		return r.padTo(32).zeros(dataBytes).b
	}
	ti := func(name string, dims []uint64, typ tensor.Type, offset uint64) func(r *raw) {
		return func(r *raw) { r.tensor(name, dims, typ, offset) }
	}
	alignFile := func(v func(r *raw)) []byte {
		r := rawHeader(3, 0, 1)
		v(r)
		return r.b
	}
	longKey := strings.Repeat("x", 10000)

	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"empty", nil, []string{"empty file"}},
		{"short magic", []byte("GG"), []string{"truncated in the header"}},
		{"wrong magic", append([]byte("GGML"), make([]byte, 20)...), []string{`not a GGUF file: magic "GGML"`}},
		{"html", []byte("<!DOCTYPE html>"), []string{"not a GGUF file", `"<!DO"`}},
		{"legacy ggjt", append([]byte("tjgg"), make([]byte, 20)...), []string{"legacy GGML/GGJT"}},
		{"version 1", rawHeader(1, 0, 0).b, []string{"version 1 is not supported"}},
		{"version 4", rawHeader(4, 0, 0).b, []string{"unsupported version 4"}},
		{"version 0", rawHeader(0, 0, 0).b, []string{"unsupported version 0"}},
		{"big-endian", append([]byte("GGUF\x00\x00\x00\x03"), make([]byte, 16)...), []string{"big-endian"}},
		{"cut in version", []byte("GGUF\x03\x00"), []string{"truncated in the header"}},
		{"cut in counts", rawHeader(3, 0, 0).b[:20], []string{"truncated in the header", "20 bytes"}},

		{"huge KV count", rawHeader(3, 0, math.MaxUint64).b, []string{"KV count 18446744073709551615 cannot fit", "at byte 16"}},
		{"huge tensor count", rawHeader(3, 1<<40, 0).b, []string{"tensor count 1099511627776 cannot fit"}},
		{"KV count too high", rawHeader(3, 0, 2).kv("a", TypeUint32).u32(1).kv("b", TypeUint64).zeros(2).b, []string{`truncated in KV 1 ("b") at byte 54`}},
		{"huge key length", rawHeader(3, 0, 1).u64(math.MaxUint64).zeros(16).b, []string{"KV 0: key length 18446744073709551615 runs past the end of the file"}},
		{"huge string", kvFile(func(r *raw) { r.kv("k", TypeString).u64(1 << 62).zeros(8) }), []string{`KV 0 ("k"): string length 4611686018427387904 runs past the end`}},
		{"cut string", kvFile(func(r *raw) { r.kv("tokenizer.ggml.model", TypeString).u64(10).zeros(3) }), []string{`KV 0 ("tokenizer.ggml.model"): string length 10`}},
		{"cut scalar", kvFile(func(r *raw) { r.kv("llama.block_count", TypeUint64).zeros(5) }), []string{`truncated in KV 0 ("llama.block_count") at byte 53 (need 8 bytes, 5 left)`}},
		{"unknown value type", kvFile(func(r *raw) { r.kv("k", 13).zeros(8) }), []string{`KV 0 ("k"): unknown value type 13 at byte 33`}},
		{"unknown element type", kvFile(func(r *raw) { r.kv("k", TypeArray).u32(99).u64(0) }), []string{"unknown array element type 99"}},
		{"huge array", kvFile(func(r *raw) { r.kv("k", TypeArray).u32(uint32(TypeUint64)).u64(1 << 61).zeros(64) }), []string{"array of 2305843009213693952 UINT64 elements cannot fit"}},
		{"huge string array", kvFile(func(r *raw) { r.kv("tokenizer.ggml.tokens", TypeArray).u32(uint32(TypeString)).u64(1 << 60).zeros(64) }), []string{`KV 0 ("tokenizer.ggml.tokens")`, "STRING elements cannot fit"}},
		{"lying string element", kvFile(func(r *raw) {
			r.kv("tokenizer.ggml.tokens", TypeArray).u32(uint32(TypeString)).u64(3).str("a").u64(1000).zeros(30)
		}), []string{`KV 0 ("tokenizer.ggml.tokens")`, "string 1 of the array has length 1000"}},
		{"cut string array", kvFile(func(r *raw) {
			r.kv("tokenizer.ggml.tokens", TypeArray).u32(uint32(TypeString)).u64(3).str("a").str("b").zeros(7)
		}), []string{`truncated in KV 0 ("tokenizer.ggml.tokens")`}},
		{"huge nested count", kvFile(func(r *raw) { r.kv("k", TypeArray).u32(uint32(TypeArray)).u64(1 << 59).zeros(24) }), []string{"ARRAY elements cannot fit"}},
		{"too deep", kvFile(func(r *raw) { nested(r.kv("k", TypeArray), MaxArrayDepth+1) }), []string{`KV 0 ("k"): arrays nested more than 8 levels deep`}},
		{"bool 2", kvFile(func(r *raw) { r.kv("b", TypeBool).u8(2) }), []string{"bool value 2 is neither 0 nor 1"}},
		{"bool element 7", kvFile(func(r *raw) { r.kv("b", TypeArray).u32(uint32(TypeBool)).u64(2).u8(1).u8(7) }), []string{"bool element 1 has value 7"}},
		{"duplicate key", rawHeader(3, 0, 2).kv("a", TypeUint8).u8(1).kv("a", TypeUint8).u8(2).b, []string{`KV 1: duplicate key "a" (first defined in KV 0)`}},
		{"long key", kvFile(func(r *raw) { r.kv(longKey, 77) }), []string{`"` + strings.Repeat("x", 96) + `"...`, "unknown value type 77"}},
		{"control chars in key", kvFile(func(r *raw) { r.kv("a\nb\xff", 77) }), []string{`("a\nb\xff")`}},

		{"alignment string", alignFile(func(r *raw) { r.kv(KeyAlignment, TypeString).str("32") }), []string{"alignment has type STRING, want UINT32"}},
		{"alignment uint64", alignFile(func(r *raw) { r.kv(KeyAlignment, TypeUint64).u64(32) }), []string{"alignment has type UINT64"}},
		{"alignment 0", alignFile(func(r *raw) { r.kv(KeyAlignment, TypeUint32).u32(0) }), []string{"alignment 0 is not a power of two"}},
		{"alignment 24", alignFile(func(r *raw) { r.kv(KeyAlignment, TypeUint32).u32(24) }), []string{"alignment 24 is not a power of two"}},
		{"alignment 2^31", alignFile(func(r *raw) { r.kv(KeyAlignment, TypeUint32).u32(1 << 31) }), []string{"larger than the maximum"}},

		{"five dims", tensorFile(64, ti("w", []uint64{1, 1, 1, 1, 1}, tensor.F32, 0)), []string{`tensor info 0 ("w"): 5 dimensions (ggml allows at most 4)`}},
		{"huge n_dims", tensorFile(64, func(r *raw) { r.str("w").u32(math.MaxUint32) }), []string{"4294967295 dimensions"}},
		{"element overflow", tensorFile(64, ti("w", []uint64{1 << 32, 1 << 32}, tensor.F32, 0)), []string{"hold more than 2^63-1 elements"}},
		{"dim past int64", tensorFile(64, ti("w", []uint64{1 << 63}, tensor.F32, 0)), []string{"dimension 0 is 9223372036854775808"}},
		{"size overflow", tensorFile(64, ti("w", []uint64{1 << 62}, tensor.F64, 0)), []string{"take more than 2^63-1 bytes"}},
		{"removed type 4", tensorFile(64, ti("w", []uint64{32}, tensor.Type(4), 0)), []string{`tensor info 0 ("w"): unknown tensor type 4`}},
		{"unknown type", tensorFile(64, ti("w", []uint64{32}, tensor.Type(1000), 0)), []string{"unknown tensor type 1000"}},
		{"row not whole blocks", tensorFile(64, ti("blk.0.attn_q.weight", []uint64{100, 2}, tensor.Q4_0, 0)), []string{`("blk.0.attn_q.weight")`, "row length 100 is not a multiple of the Q4_0 block size 32"}},
		{"k-quant row", tensorFile(64, ti("w", []uint64{64}, tensor.Q4_K, 0)), []string{"row length 64 is not a multiple of the Q4_K block size 256"}},
		{"unaligned offset", tensorFile(64, ti("w", []uint64{4}, tensor.F32, 16)), []string{"data offset 16 is not a multiple of the alignment 32"}},
		{"offset past end", tensorFile(64, ti("blk.0.attn_q.weight", []uint64{4}, tensor.F32, 1<<40)), []string{`tensor "blk.0.attn_q.weight": data [offset 1099511627776, size 16] runs past the end of the file`, "file size"}},
		{"offset at 2^64-32", tensorFile(64, ti("w", []uint64{4}, tensor.F32, math.MaxUint64-31)), []string{"runs past the end of the file"}},
		{"size past end", tensorFile(64, ti("w", []uint64{1 << 20}, tensor.F32, 0)), []string{`tensor "w": data [offset 0, size 4194304] runs past the end`}},
		{"empty tensor past end", tensorFile(0, ti("w", []uint64{0}, tensor.F32, 1<<20)), []string{"runs past the end"}},
		{"same offset", tensorFile(64, ti("a", []uint64{8}, tensor.F32, 0), ti("b", []uint64{4}, tensor.F32, 0)), []string{`tensors "a" [offset 0, size 32] and "b" [offset 0, size 16] overlap`}},
		{"partial overlap", tensorFile(96, ti("a", []uint64{4}, tensor.F32, 32), ti("b", []uint64{16}, tensor.F32, 0)), []string{`"b" [offset 0, size 64] and "a" [offset 32, size 16] overlap`}},
		{"duplicate tensor", tensorFile(64, ti("w", []uint64{4}, tensor.F32, 0), ti("w", []uint64{4}, tensor.F32, 32)), []string{`tensor info 1: duplicate tensor name "w" (first defined in tensor info 0)`}},
		{"cut tensor info", rawHeader(3, 1, 0).str("w").u32(2).u64(4).zeros(4).b, []string{`truncated in tensor info 0 ("w")`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.data)
			if f != nil {
				t.Error("Parse returned a File with its error")
			}
			wantErr(t, err, c.want...)
			t.Log(err)
			if len(err.Error()) > 400 {
				t.Errorf("error message is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestNestingLimit(t *testing.T) {
	data := nested(rawHeader(3, 0, 1).kv("k", TypeArray), MaxArrayDepth).b
	f := mustParse(t, data)
	v, _ := f.Lookup("k")
	depth := 0
	for {
		a, ok := v.(Array)
		if !ok {
			break
		}
		depth++
		if a.Type != TypeArray {
			if vals, _ := a.Values.([]uint8); len(vals) != 1 || vals[0] != 42 {
				t.Errorf("innermost array %v", a.Values)
			}
			break
		}
		v = a.Values.([]Array)[0]
	}
	if depth != MaxArrayDepth {
		t.Errorf("read %d levels, want %d", depth, MaxArrayDepth)
	}
}

// isTruncationError reports whether err says the input ended too soon.
func isTruncationError(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "truncated") || strings.Contains(msg, "past the end of the file") || strings.Contains(msg, "empty file")
}

// TestTruncatedWriterFile cuts a file with every value type at every byte:
// every cut before the end of the last tensor's data is an error; cuts in
// the final padding lose nothing.
func TestTruncatedWriterFile(t *testing.T) {
	data := mustWrite(t, everyTypeKVs(), smallTensors())
	full := mustParse(t, data)
	var end uint64
	for _, ti := range full.Tensors {
		end = max(end, full.DataOffset+ti.Offset+ti.Size)
	}
	for n := range len(data) {
		f, err := Parse(data[:n])
		if uint64(n) < end {
			if !isTruncationError(err) {
				t.Fatalf("cut at %d of %d: got %v, want a truncation error", n, len(data), err)
			}
			continue
		}
		if err != nil || len(f.Tensors) != len(full.Tensors) {
			t.Fatalf("cut at %d (inside the final padding): %v", n, err)
		}
	}
}

// TestTruncatedRealHeader cuts stories260K at every byte of its header
// and at spaced points up to 64 KiB, and a vocabulary-only file at spaced
// points.
func TestTruncatedRealHeader(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(modelsDir(t), "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	header := int(mustParse(t, data).DataOffset)
	for n := 0; n < min(len(data), 64<<10); n++ {
		if n > header+256 {
			n += 96
		}
		if _, err := Parse(data[:n]); !isTruncationError(err) {
			t.Fatalf("stories260K cut at %d: got %v, want a truncation error", n, err)
		}
	}
	vocab, err := os.ReadFile(filepath.Join(modelsDir(t), "vocab", "ggml-vocab-phi-3.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(vocab); n += 4099 {
		if _, err := Parse(vocab[:n]); !isTruncationError(err) {
			t.Fatalf("phi-3 vocab cut at %d: got %v, want a truncation error", n, err)
		}
	}
	// The error says which KV the cut fell in.
	_, err = Parse(vocab[:len(vocab)/2])
	wantErr(t, err, `("tokenizer.ggml.tokens")`)
}

// TestCorruptedHeaderBytes overwrites each header byte of stories260K in
// turn: whatever the result, Parse must not panic, and any error must be
// a FormatError.
func TestCorruptedHeaderBytes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(modelsDir(t), "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	f := mustParse(t, data)
	buf := make([]byte, len(data))
	copy(buf, data)
	for i := range int(f.DataOffset) {
		for _, v := range []byte{0xFF, 0x00} {
			old := buf[i]
			buf[i] = v
			if _, err := Parse(buf); err != nil {
				if _, ok := err.(*FormatError); !ok {
					t.Fatalf("byte %d = %#x: error %T %v is not a FormatError", i, v, err, err)
				}
			}
			buf[i] = old
		}
	}
}

// TestAllocationBounded parses inputs built to make the parser allocate as
// much as possible per input byte, and checks it stays proportional.
func TestAllocationBounded(t *testing.T) {
	const n = 50000
	emptyArrays := rawHeader(3, 0, 1).kv("k", TypeArray).u32(uint32(TypeArray)).u64(n)
	for range n {
		emptyArrays.u32(uint32(TypeUint8)).u64(0)
	}
	emptyStrings := rawHeader(3, 0, 1).kv("k", TypeArray).u32(uint32(TypeString)).u64(n).zeros(8 * n)
	manyKVs := rawHeader(3, 0, n)
	for i := range n {
		manyKVs.kv(string(rune('a'+i%26))+strings.Repeat("k", i/26%4)+string(rune(0x100+i)), TypeUint8).u8(1)
	}
	manyTensors := rawHeader(3, n, 0)
	for i := range n {
		manyTensors.tensor(string(rune(0x100+i)), []uint64{0}, tensor.F32, 0)
	}
	manyTensors.padTo(32)
	// A lying count: a short file claiming a huge array must fail without
	// allocating for the claim.
	lying := rawHeader(3, 0, 1).kv("k", TypeArray).u32(uint32(TypeUint64)).u64(1 << 40).zeros(1000)

	for name, r := range map[string]*raw{"empty arrays": emptyArrays, "empty strings": emptyStrings, "many KVs": manyKVs, "many tensors": manyTensors, "lying count": lying} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Parse(r.b)
		runtime.ReadMemStats(&after)
		if err != nil && name != "lying count" {
			t.Errorf("%s: %v", name, err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d bytes in, %d allocated", name, len(r.b), alloc)
		if limit := 16*uint64(len(r.b)) + 64<<10; alloc > limit {
			t.Errorf("%s: parsing %d bytes allocated %d bytes (limit %d)", name, len(r.b), alloc, limit)
		}
	}
}
