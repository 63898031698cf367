package tensor

import "math"

// The 32-element block types (ggml's QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0 =
// QK8_1 = 32). Byte layouts, little-endian:
//
//	Q4_0 (18 B): f16 d | qs[16]                  x = (q-8)*d
//	Q4_1 (20 B): f16 d | f16 m | qs[16]          x = q*d + m
//	Q5_0 (22 B): f16 d | qh[4] | qs[16]          x = (q-16)*d
//	Q5_1 (24 B): f16 d | f16 m | qh[4] | qs[16]  x = q*d + m
//	Q8_0 (34 B): f16 d | int8 qs[32]             x = q*d
//	Q8_1 (36 B): f16 d | f16 s | int8 qs[32]     x = q*d, s = d*Σq
//
// In the 4- and 5-bit types byte qs[j] holds element j in its low nibble and
// element j+16 in its high nibble. The fifth bit of element j (0..31) is bit
// j of qh read as a little-endian uint32.
//
// Floating-point order and FMA: the dequantizers do ggml's operations in
// ggml's order. Whether GCC contracted q*d + m (Q4_1, Q5_1) into one fused
// multiply-add cannot matter: d is a half (11 significant bits) and q has at
// most 5, so q*d is exact in float32 and the sum is rounded once either way.
// The same holds for every K-quant product (see quantk.go). We checked this
// on the test files: fused and unfused give the same float for every
// (block, level) pair, and the unfused code matches all reference
// checksums. The explicit float32 conversions keep Go from fusing on FMA
// targets anyway, so the code means one thing everywhere; in the quantizers
// (which do have inexact products) that unfused order is what reproduces
// llama-quantize's bytes (quant_ref_test.go).

const qk32 = 32

// f16At reads a little-endian half at b[0:2] as float32.
func f16At(b []byte) float32 { return fp16Table[uint16(b[0])|uint16(b[1])<<8] }

// putF16 stores f as a little-endian half at b[0:2].
func putF16(b []byte, f float32) {
	h := FP32ToFP16(f)
	b[0], b[1] = byte(h), byte(h>>8)
}

// qh32 reads the four high-bit bytes of a Q5 block.
func qh32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// nearestInt rounds to the nearest integer, ties to even, the way ggml's
// nearest_int does it (adding 1.5*2^23 and reading the mantissa). Valid for
// |f| < 2^22; the conversion of f keeps Go from fusing it with a product.
func nearestInt(f float32) int32 {
	v := float32(f) + 12582912
	return int32(math.Float32bits(v)&0x7fffff) - 0x400000
}

// roundAway is C's roundf converted to an integer: round half away from
// zero. Valid for |f| < 2^23 (where f - trunc(f) is exact), which holds for
// the ±127.5 range of the 8-bit quantizers.
func roundAway(f float32) int32 {
	t := int32(f) // truncates toward zero
	if abs32(f-float32(t)) >= 0.5 {
		if f > 0 {
			t++
		} else {
			t--
		}
	}
	return t
}

// absMax returns the largest |x| of a block and the signed value that has it
// (the first one, as ggml's strict > comparison keeps).
func absMax(x []float32) (amax, max float32) {
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, max = a, v
		}
	}
	return amax, max
}

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

// ---- Q4_0 ----

func dequantRowQ4_0(src []byte, dst []float32) {
	nb := len(dst) / qk32
	for i := 0; i < nb; i++ {
		b := src[i*18 : i*18+18]
		y := (*[32]float32)(dst[i*qk32:])
		d := f16At(b)
		qs := (*[16]byte)(b[2:])
		for j, q := range qs {
			y[j] = float32(int32(q&0xf)-8) * d
			y[j+16] = float32(int32(q>>4)-8) * d
		}
	}
}

func quantizeRowQ4_0(src []float32, dst []byte) {
	nb := len(src) / qk32
	for i := 0; i < nb; i++ {
		x := (*[32]float32)(src[i*qk32:])
		b := dst[i*18 : i*18+18]
		_, max := absMax(x[:])
		d := max / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		qs := (*[16]byte)(b[2:])
		for j := range qs {
			x0 := float32(x[j] * id)
			x1 := float32(x[j+16] * id)
			qs[j] = byte(min(15, int32(int8(x0+8.5)))) | byte(min(15, int32(int8(x1+8.5))))<<4
		}
	}
}

func dotQ4_0(n int, w, x []byte) float32 {
	nb := n / qk32
	var sum float32
	for i := 0; i < nb; i++ {
		wb := w[i*18 : i*18+18]
		xb := x[i*34 : i*34+34]
		qs := (*[16]byte)(wb[2:])
		q8 := (*[32]byte)(xb[2:])
		var s int32
		for j, q := range qs {
			s += (int32(q&0xf)-8)*int32(int8(q8[j])) + (int32(q>>4)-8)*int32(int8(q8[j+16]))
		}
		sum += float32(s) * f16At(wb) * f16At(xb)
	}
	return sum
}

// ---- Q4_1 ----

func dequantRowQ4_1(src []byte, dst []float32) {
	nb := len(dst) / qk32
	for i := 0; i < nb; i++ {
		b := src[i*20 : i*20+20]
		y := (*[32]float32)(dst[i*qk32:])
		d, m := f16At(b), f16At(b[2:])
		qs := (*[16]byte)(b[4:])
		for j, q := range qs {
			y[j] = float32(float32(q&0xf)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
	}
}

// minMax returns the smallest and largest value of a block.
func minMax(x []float32) (lo, hi float32) {
	lo, hi = math.MaxFloat32, -math.MaxFloat32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

func quantizeRowQ4_1(src []float32, dst []byte) {
	nb := len(src) / qk32
	for i := 0; i < nb; i++ {
		x := (*[32]float32)(src[i*qk32:])
		b := dst[i*20 : i*20+20]
		lo, hi := minMax(x[:])
		d := (hi - lo) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		putF16(b[2:], lo)
		qs := (*[16]byte)(b[4:])
		for j := range qs {
			x0 := float32((x[j] - lo) * id)
			x1 := float32((x[j+16] - lo) * id)
			qs[j] = byte(min(15, int32(int8(x0+0.5)))) | byte(min(15, int32(int8(x1+0.5))))<<4
		}
	}
}

func dotQ4_1(n int, w, x []byte) float32 {
	nb := n / qk32
	var sum float32
	for i := 0; i < nb; i++ {
		wb := w[i*20 : i*20+20]
		xb := x[i*36 : i*36+36]
		qs := (*[16]byte)(wb[4:])
		q8 := (*[32]byte)(xb[4:])
		var s int32
		for j, q := range qs {
			s += int32(q&0xf)*int32(int8(q8[j])) + int32(q>>4)*int32(int8(q8[j+16]))
		}
		sum += f16At(wb)*f16At(xb)*float32(s) + f16At(wb[2:])*f16At(xb[2:])
	}
	return sum
}

// ---- Q5_0 ----

func dequantRowQ5_0(src []byte, dst []float32) {
	nb := len(dst) / qk32
	for i := 0; i < nb; i++ {
		b := src[i*22 : i*22+22]
		y := (*[32]float32)(dst[i*qk32:])
		d := f16At(b)
		qh := qh32(b[2:])
		qs := (*[16]byte)(b[6:])
		for j, q := range qs {
			h0 := (qh >> j << 4) & 0x10
			h1 := (qh >> (j + 12)) & 0x10
			y[j] = float32(int32(uint32(q&0xf)|h0)-16) * d
			y[j+16] = float32(int32(uint32(q>>4)|h1)-16) * d
		}
	}
}

func quantizeRowQ5_0(src []float32, dst []byte) {
	nb := len(src) / qk32
	for i := 0; i < nb; i++ {
		x := (*[32]float32)(src[i*qk32:])
		b := dst[i*22 : i*22+22]
		_, max := absMax(x[:])
		d := max / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		var qh uint32
		qs := (*[16]byte)(b[6:])
		for j := range qs {
			x0 := float32(x[j] * id)
			x1 := float32(x[j+16] * id)
			q0 := uint32(min(31, int32(int8(x0+16.5))))
			q1 := uint32(min(31, int32(int8(x1+16.5))))
			qs[j] = byte(q0&0xf) | byte(q1&0xf)<<4
			qh |= (q0 >> 4 & 1) << j
			qh |= (q1 >> 4 & 1) << (j + 16)
		}
		b[2], b[3], b[4], b[5] = byte(qh), byte(qh>>8), byte(qh>>16), byte(qh>>24)
	}
}

func dotQ5_0(n int, w, x []byte) float32 {
	nb := n / qk32
	var sum float32
	for i := 0; i < nb; i++ {
		wb := w[i*22 : i*22+22]
		xb := x[i*34 : i*34+34]
		qh := qh32(wb[2:])
		qs := (*[16]byte)(wb[6:])
		q8 := (*[32]byte)(xb[2:])
		var s int32
		for j, q := range qs {
			h0 := (qh >> j << 4) & 0x10
			h1 := (qh >> (j + 12)) & 0x10
			s += (int32(uint32(q&0xf)|h0)-16)*int32(int8(q8[j])) + (int32(uint32(q>>4)|h1)-16)*int32(int8(q8[j+16]))
		}
		sum += float32(s) * f16At(wb) * f16At(xb)
	}
	return sum
}

// ---- Q5_1 ----

func dequantRowQ5_1(src []byte, dst []float32) {
	nb := len(dst) / qk32
	for i := 0; i < nb; i++ {
		b := src[i*24 : i*24+24]
		y := (*[32]float32)(dst[i*qk32:])
		d, m := f16At(b), f16At(b[2:])
		qh := qh32(b[4:])
		qs := (*[16]byte)(b[8:])
		for j, q := range qs {
			h0 := (qh >> j << 4) & 0x10
			h1 := (qh >> (j + 12)) & 0x10
			y[j] = float32(float32(uint32(q&0xf)|h0)*d) + m
			y[j+16] = float32(float32(uint32(q>>4)|h1)*d) + m
		}
	}
}

func quantizeRowQ5_1(src []float32, dst []byte) {
	nb := len(src) / qk32
	for i := 0; i < nb; i++ {
		x := (*[32]float32)(src[i*qk32:])
		b := dst[i*24 : i*24+24]
		lo, hi := minMax(x[:])
		d := (hi - lo) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		putF16(b[2:], lo)
		var qh uint32
		qs := (*[16]byte)(b[8:])
		for j := range qs {
			x0 := float32((x[j] - lo) * id)
			x1 := float32((x[j+16] - lo) * id)
			// ggml converts straight to uint8; the clamp only matters for
			// non-finite input.
			q0 := uint32(min(31, max(0, int32(x0+0.5))))
			q1 := uint32(min(31, max(0, int32(x1+0.5))))
			qs[j] = byte(q0&0xf) | byte(q1&0xf)<<4
			qh |= (q0 >> 4 & 1) << j
			qh |= (q1 >> 4 & 1) << (j + 16)
		}
		b[4], b[5], b[6], b[7] = byte(qh), byte(qh>>8), byte(qh>>16), byte(qh>>24)
	}
}

func dotQ5_1(n int, w, x []byte) float32 {
	nb := n / qk32
	var sum float32
	for i := 0; i < nb; i++ {
		wb := w[i*24 : i*24+24]
		xb := x[i*36 : i*36+36]
		qh := qh32(wb[4:])
		qs := (*[16]byte)(wb[8:])
		q8 := (*[32]byte)(xb[4:])
		var s int32
		for j, q := range qs {
			h0 := (qh >> j << 4) & 0x10
			h1 := (qh >> (j + 12)) & 0x10
			s += int32(uint32(q&0xf)|h0)*int32(int8(q8[j])) + int32(uint32(q>>4)|h1)*int32(int8(q8[j+16]))
		}
		sum += f16At(wb)*f16At(xb)*float32(s) + f16At(wb[2:])*f16At(xb[2:])
	}
	return sum
}

// ---- Q8_0 ----

func dequantRowQ8_0(src []byte, dst []float32) {
	nb := len(dst) / qk32
	for i := 0; i < nb; i++ {
		b := src[i*34 : i*34+34]
		y := (*[32]float32)(dst[i*qk32:])
		d := f16At(b)
		qs := (*[32]byte)(b[2:])
		for j, q := range qs {
			y[j] = float32(int8(q)) * d
		}
	}
}

func quantizeRowQ8_0(src []float32, dst []byte) {
	nb := len(src) / qk32
	for i := 0; i < nb; i++ {
		x := (*[32]float32)(src[i*qk32:])
		b := dst[i*34 : i*34+34]
		amax, _ := absMax(x[:])
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		qs := (*[32]byte)(b[2:])
		for j, v := range x {
			qs[j] = byte(int8(roundAway(v * id)))
		}
	}
}

func dotQ8_0(n int, w, x []byte) float32 {
	nb := n / qk32
	var sum float32
	for i := 0; i < nb; i++ {
		wb := w[i*34 : i*34+34]
		xb := x[i*34 : i*34+34]
		qw := (*[32]byte)(wb[2:])
		qx := (*[32]byte)(xb[2:])
		var s int32
		for j, q := range qw {
			s += int32(int8(q)) * int32(int8(qx[j]))
		}
		sum += float32(s) * f16At(wb) * f16At(xb)
	}
	return sum
}

// ---- Q8_1 (activations for Q4_1 and Q5_1) ----

func dequantRowQ8_1(src []byte, dst []float32) {
	nb := len(dst) / qk32
	for i := 0; i < nb; i++ {
		b := src[i*36 : i*36+36]
		y := (*[32]float32)(dst[i*qk32:])
		d := f16At(b)
		qs := (*[32]byte)(b[4:])
		for j, q := range qs {
			y[j] = float32(int8(q)) * d
		}
	}
}

func quantizeRowQ8_1(src []float32, dst []byte) {
	nb := len(src) / qk32
	for i := 0; i < nb; i++ {
		x := (*[32]float32)(src[i*qk32:])
		b := dst[i*36 : i*36+36]
		amax, _ := absMax(x[:])
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		qs := (*[32]byte)(b[4:])
		var sum int32
		for j, v := range x {
			q := int8(roundAway(v * id))
			qs[j] = byte(q)
			sum += int32(q)
		}
		putF16(b[2:], float32(sum)*d)
	}
}
