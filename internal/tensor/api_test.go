package tensor_test

import (
	"math"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

func TestSupported(t *testing.T) {
	for _, ty := range quantTypes {
		if !tensor.Supported(ty) {
			t.Errorf("Supported(%s) = false", ty)
		}
		if _, ok := tensor.ReferenceKernelsFor(ty); !ok {
			t.Errorf("ReferenceKernelsFor(%s) missing", ty)
		}
	}
	for _, ty := range []tensor.Type{tensor.IQ2_XXS, tensor.IQ4_NL, tensor.I8, tensor.F64, tensor.TQ1_0, 4, 5, 99, 1 << 31} {
		if tensor.Supported(ty) {
			t.Errorf("Supported(%s) = true", ty)
		}
		if _, ok := tensor.KernelsFor(ty); ok {
			t.Errorf("KernelsFor(%s) found kernels", ty)
		}
	}
}

func TestConversionErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"unsupported dequantize", tensor.Dequantize(tensor.IQ2_XXS, make([]byte, 66), make([]float32, 256)), "not supported"},
		{"unknown dequantize", tensor.Dequantize(99, nil, nil), "unknown type"},
		{"partial block", tensor.Dequantize(tensor.Q4_K, make([]byte, 144), make([]float32, 200)), "multiple of the block size"},
		{"short source", tensor.Dequantize(tensor.Q4_0, make([]byte, 17), make([]float32, 32)), "take 18 bytes"},
		{"long source", tensor.Dequantize(tensor.F16, make([]byte, 10), make([]float32, 4)), "take 8 bytes"},
		{"unsupported quantize", tensor.Quantize(tensor.IQ4_XS, make([]float32, 256), make([]byte, 136)), "not supported"},
		{"short destination", tensor.Quantize(tensor.Q6_K, make([]float32, 256), make([]byte, 200)), "take 210 bytes"},
		{"partial quantize block", tensor.Quantize(tensor.Q8_0, make([]float32, 33), make([]byte, 34)), "multiple of the block size"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, c.err, c.want)
		}
	}
	// Empty rows are fine.
	if err := tensor.Dequantize(tensor.Q4_K, nil, nil); err != nil {
		t.Errorf("empty dequantize: %v", err)
	}
}

// TestKernelsDoNotAllocate: the row kernels are the engine's inner loop.
func TestKernelsDoNotAllocate(t *testing.T) {
	const n = 512
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	for _, ty := range quantTypes {
		k, _ := tensor.KernelsFor(ty)
		q := make([]byte, mustRowBytes(t, ty, n))
		y := make([]float32, n)
		if a := testing.AllocsPerRun(5, func() { k.QuantizeRow(x, q) }); a != 0 {
			t.Errorf("%s QuantizeRow allocates %v times", ty, a)
		}
		if a := testing.AllocsPerRun(5, func() { k.DequantizeRow(q, y) }); a != 0 {
			t.Errorf("%s DequantizeRow allocates %v times", ty, a)
		}
		if k.Dot == nil {
			continue
		}
		vk, _ := tensor.KernelsFor(k.VecDotType)
		xq := make([]byte, mustRowBytes(t, k.VecDotType, n))
		vk.QuantizeRow(x, xq)
		if a := testing.AllocsPerRun(5, func() { k.Dot(n, q, xq) }); a != 0 {
			t.Errorf("%s Dot allocates %v times", ty, a)
		}
	}
}

// TestNonFiniteInput: NaN and Inf in the input give garbage, as in ggml, but
// never a panic.
func TestNonFiniteInput(t *testing.T) {
	x := make([]float32, 512)
	for i := range x {
		x[i] = float32(i%5) - 2
	}
	x[3] = float32(math.NaN())
	x[300] = float32(math.Inf(1))
	x[301] = float32(math.Inf(-1))
	for _, ty := range quantTypes {
		q := make([]byte, mustRowBytes(t, ty, len(x)))
		y := make([]float32, len(x))
		if err := tensor.Quantize(ty, x, q); err != nil {
			t.Errorf("%s: %v", ty, err)
		}
		if err := tensor.Dequantize(ty, q, y); err != nil {
			t.Errorf("%s: %v", ty, err)
		}
	}
}

// TestStreamRead checks the bandwidth kernel reads every byte: its checksum
// is the xor of the 8-byte words (plus the bytes after the last 128-byte
// chunk), and flipping any byte changes it.
func TestStreamRead(t *testing.T) {
	b := make([]byte, 4096+77)
	for i := range b {
		b[i] = byte(i * 31)
	}
	want := func() uint64 {
		var s uint64
		n := len(b) &^ 127
		for i := 0; i < n; i += 8 {
			s ^= uint64(b[i]) | uint64(b[i+1])<<8 | uint64(b[i+2])<<16 | uint64(b[i+3])<<24 |
				uint64(b[i+4])<<32 | uint64(b[i+5])<<40 | uint64(b[i+6])<<48 | uint64(b[i+7])<<56
		}
		for _, c := range b[n:] {
			s += uint64(c)
		}
		return s
	}
	if got := tensor.StreamRead(b); got != want() {
		t.Fatalf("StreamRead = %#x, want %#x", got, want())
	}
	for _, i := range []int{0, 31, 127, 128, 2049, 4095, 4100} {
		before := tensor.StreamRead(b)
		b[i] ^= 0x5a
		if tensor.StreamRead(b) == before {
			t.Errorf("flipping byte %d left the checksum unchanged", i)
		}
	}
}
