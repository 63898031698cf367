package tensor

import (
	"math"
	"unsafe"
)

// Activation conversion for matrix products, as ggml's CPU backend does it
// (its from_float for each vec_dot_type, in the x86 AVX2 build that the
// llama.cpp reference traces were made with), and the portable tiles that
// the assembly MulMat kernels are tested against.

// actF32 copies float32 activations as they are.
func actF32(src []float32, dst []byte) {
	copy(F32Bytes(dst)[:len(src)], src)
}

// actRoundF16 stores each activation as float32 rounded to half precision:
// the values ggml's F16 product sees after converting its input to F16.
func actRoundF16(src []float32, dst []byte) {
	d := F32Bytes(dst)[:len(src)]
	for i, v := range src {
		d[i] = fp16Table[FP32ToFP16(v)]
	}
}

// actRoundBF16 is actRoundF16 for bfloat16.
func actRoundBF16(src []float32, dst []byte) {
	d := F32Bytes(dst)[:len(src)]
	for i, v := range src {
		d[i] = BF16ToFP32(FP32ToBF16(v))
	}
}

// actQ8_0 is ggml's AVX2 quantize_row_q8_0: d = max|x|/127 stored as a half,
// each x multiplied by 127/max|x| (not by 1/d) and rounded to nearest, ties
// to even.
func actQ8_0(src []float32, dst []byte) {
	nb := len(src) / qk32
	for i := 0; i < nb; i++ {
		x := (*[32]float32)(src[i*qk32:])
		b := dst[i*34 : i*34+34]
		amax := absMaxOnly(x)
		putF16(b, amax/127)
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		qs := (*[32]byte)(b[2:])
		for j, v := range x {
			qs[j] = byte(int8(roundEven127(v * id)))
		}
	}
}

// actQ8_1 is ggml's AVX2 quantize_row_q8_1: actQ8_0's levels plus
// s = d·Σq with d unrounded (float32), stored as a half.
func actQ8_1(src []float32, dst []byte) {
	nb := len(src) / qk32
	for i := 0; i < nb; i++ {
		x := (*[32]float32)(src[i*qk32:])
		b := dst[i*36 : i*36+36]
		amax := absMaxOnly(x)
		d := amax / 127
		putF16(b, d)
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		qs := (*[32]byte)(b[4:])
		var sum int32
		for j, v := range x {
			q := roundEven127(v * id)
			qs[j] = byte(int8(q))
			sum += q
		}
		putF16(b[2:], d*float32(sum))
	}
}

// absMaxOnly returns the largest |x| of a block. (Blocks holding a NaN get
// unspecified levels, in ggml as here.)
func absMaxOnly(x *[32]float32) float32 {
	var m float32
	for _, v := range x {
		if a := abs32(v); a > m {
			m = a
		}
	}
	return m
}

// roundEven127 rounds f to the nearest integer, ties to even, saturating to
// the int8 range as VCVTPS2DQ followed by VPACKSSDW/VPACKSSWB do. A NaN
// becomes the integer indefinite value, which saturates to -128.
func roundEven127(f float32) int32 {
	if f != f {
		return -128
	}
	r := math.RoundToEven(float64(f))
	return int32(max(-128, min(127, r)))
}

// F32Bytes views a byte slice holding little-endian float32 values as
// []float32, without copying. The slice must start on a 4-byte boundary
// (buffers allocated by this package's callers as float32 or larger are).
func F32Bytes(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		panic("tensor: F32Bytes of an unaligned buffer")
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// BytesOfF32 views float32 values as their bytes, without copying.
func BytesOfF32(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

// BytesOfU64 views uint64 words as their bytes, without copying: a way to
// allocate 8-byte aligned byte buffers.
func BytesOfU64(u []uint64) []byte {
	if len(u) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&u[0])), 8*len(u))
}

// BytesOfU16 views uint16 values (raw halves) as their bytes, without
// copying.
func BytesOfU16(u []uint16) []byte {
	if len(u) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&u[0])), 2*len(u))
}
