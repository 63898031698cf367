package tensor

import (
	"encoding/binary"
	"math"
)

// Kernels of the plain floating-point types. Elements are little-endian, as
// in GGUF files. The dot products accumulate in float64, which makes them a
// good oracle (ggml's scalar code does the same; its SIMD code sums float32).

func dequantRowF32(src []byte, dst []float32) {
	src = src[:4*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func quantizeRowF32(src []float32, dst []byte) {
	dst = dst[:4*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func dotF32(n int, w, x []byte) float32 {
	w, x = w[:4*n], x[:4*n]
	var s0, s1 float64
	i := 0
	for ; i+1 < n; i += 2 {
		s0 += float64(math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:]))) *
			float64(math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:])))
		s1 += float64(math.Float32frombits(binary.LittleEndian.Uint32(w[4*i+4:]))) *
			float64(math.Float32frombits(binary.LittleEndian.Uint32(x[4*i+4:])))
	}
	if i < n {
		s0 += float64(math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:]))) *
			float64(math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:])))
	}
	return float32(s0 + s1)
}

func dequantRowF16(src []byte, dst []float32) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = fp16Table[binary.LittleEndian.Uint16(src[2*i:])]
	}
}

func quantizeRowF16(src []float32, dst []byte) {
	dst = dst[:2*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToFP16(v))
	}
}

func dotF16(n int, w, x []byte) float32 {
	w, x = w[:2*n], x[:2*n]
	var s0, s1 float64
	i := 0
	for ; i+1 < n; i += 2 {
		s0 += float64(fp16Table[binary.LittleEndian.Uint16(w[2*i:])]) * float64(fp16Table[binary.LittleEndian.Uint16(x[2*i:])])
		s1 += float64(fp16Table[binary.LittleEndian.Uint16(w[2*i+2:])]) * float64(fp16Table[binary.LittleEndian.Uint16(x[2*i+2:])])
	}
	if i < n {
		s0 += float64(fp16Table[binary.LittleEndian.Uint16(w[2*i:])]) * float64(fp16Table[binary.LittleEndian.Uint16(x[2*i:])])
	}
	return float32(s0 + s1)
}

func dequantRowBF16(src []byte, dst []float32) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
}

func quantizeRowBF16(src []float32, dst []byte) {
	dst = dst[:2*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToBF16(v))
	}
}

func dotBF16(n int, w, x []byte) float32 {
	w, x = w[:2*n], x[:2*n]
	var s0, s1 float64
	i := 0
	for ; i+1 < n; i += 2 {
		s0 += float64(BF16ToFP32(binary.LittleEndian.Uint16(w[2*i:]))) * float64(BF16ToFP32(binary.LittleEndian.Uint16(x[2*i:])))
		s1 += float64(BF16ToFP32(binary.LittleEndian.Uint16(w[2*i+2:]))) * float64(BF16ToFP32(binary.LittleEndian.Uint16(x[2*i+2:])))
	}
	if i < n {
		s0 += float64(BF16ToFP32(binary.LittleEndian.Uint16(w[2*i:]))) * float64(BF16ToFP32(binary.LittleEndian.Uint16(x[2*i:])))
	}
	return float32(s0 + s1)
}
