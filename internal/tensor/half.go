package tensor

import "math"

// fp16Table maps every IEEE half bit pattern to its float32 value. A table
// lookup is what ggml does too, and it keeps the F16 and block-scale paths
// free of the branches that subnormals need.
var fp16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = fp16ToFP32Slow(uint16(i))
	}
	return &t
}()

// FP16ToFP32 converts an IEEE 754 binary16 value to float32. The conversion
// is exact; NaN payloads are kept.
func FP16ToFP32(h uint16) float32 { return fp16Table[h] }

func fp16ToFP32Slow(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf or NaN: keep the payload in the top mantissa bits.
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	default: // subnormal half: mant * 2^-24, exact in float32
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
}

// FP32ToFP16 converts a float32 to IEEE 754 binary16, rounding to nearest,
// ties to even, as ggml does (F16C VCVTPS2PH with rounding mode 0, or its
// portable fallback). Values too large for a half become ±Inf, values below
// half the smallest subnormal become ±0. A NaN stays a NaN: it is made quiet
// and keeps the top ten payload bits, as VCVTPS2PH does.
func FP32ToFP16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // biased half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e >= 1 {
		h := uint32(e)<<10 | mant>>13
		rem := mant & 0x1fff
		// A carry out of the mantissa correctly bumps the exponent, up to Inf.
		if rem > 0x1000 || (rem == 0x1000 && h&1 != 0) {
			h++
		}
		return sign | uint16(h)
	}
	// Half subnormal (or zero): the result counts units of 2^-24. The float32
	// value is m * 2^(exp-150) with the implicit bit in m, so shift by 14-e.
	if exp == 0 {
		// float32 subnormals are far below 2^-25 and round to zero.
		return sign
	}
	m := mant | 0x800000
	shift := uint(14 - e)
	if shift > 24 {
		return sign
	}
	h := m >> shift
	rem := m & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && h&1 != 0) {
		h++
	}
	return sign | uint16(h)
}

// BF16ToFP32 converts a bfloat16 value to float32 (exact: bf16 is the top
// half of a float32).
func BF16ToFP32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// FP32ToBF16 converts a float32 to bfloat16 the way ggml does: round to
// nearest, ties to even, by adding 0x7fff plus the lowest kept bit; a NaN is
// truncated and forced quiet (bit 6 of the bf16 set) so it cannot turn into
// an infinity.
func FP32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}
