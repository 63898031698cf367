package tensor

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// ggml's AVX2 dot products of quantized weights with 8-bit activations,
// emulated in their floating-point order. In every one of them the integer
// products of a block (or of a 256-element super-block) are summed into
// eight int32 lanes, lane l holding elements 4l..4l+3 of each 32-element
// chunk (times the chunk's sub-block scale); the lanes are converted to
// float32 and accumulated with one fused multiply-add per block into an
// eight-lane accumulator, which hsum8 reduces at the end.

// lanes32 sums the products of a 32-element chunk into eight lanes.
func lanes32(acc *[8]int32, w []int32, y []byte, scale func(e int) int32) {
	for l := 0; l < 8; l++ {
		var s int32
		for e := 4 * l; e < 4*l+4; e++ {
			s += scale(e) * w[e] * int32(int8(y[e]))
		}
		acc[l] += s
	}
}

func one(int) int32 { return 1 }

func fmaLanes(acc *[8]float32, d float32, s *[8]int32) {
	for l := range acc {
		acc[l] = fma32(d, float32(s[l]), acc[l])
	}
}

// q32Levels unpacks the levels of one 32-element block.
func q32Levels(t Type, b []byte, q *[32]int32) {
	switch t {
	case Q8_0:
		for j := range q {
			q[j] = int32(int8(b[2+j]))
		}
	case Q4_0:
		for j := 0; j < 16; j++ {
			q[j], q[j+16] = int32(b[2+j]&0xf)-8, int32(b[2+j]>>4)-8
		}
	case Q4_1:
		for j := 0; j < 16; j++ {
			q[j], q[j+16] = int32(b[4+j]&0xf), int32(b[4+j]>>4)
		}
	case Q5_0, Q5_1:
		off := 2
		if t == Q5_1 {
			off = 4
		}
		qh := qh32(b[off:])
		for j := 0; j < 16; j++ {
			lo := int32(b[off+4+j]&0xf) | int32(qh>>j&1)<<4
			hi := int32(b[off+4+j]>>4) | int32(qh>>(j+16)&1)<<4
			if t == Q5_0 {
				lo, hi = lo-16, hi-16
			}
			q[j], q[j+16] = lo, hi
		}
	}
}

// emuDot32 is ggml_vec_dot_{q4_0,q5_0,q8_0}_q8_0 and
// ggml_vec_dot_{q4_1,q5_1}_q8_1.
func emuDot32(t Type, n int, w, x []byte) float32 {
	wsz := t.BlockBytes()
	xsz := 34
	withMin := t == Q4_1 || t == Q5_1
	if withMin {
		xsz = 36
	}
	var acc [8]float32
	var summs float32
	var q [32]int32
	for i := 0; i < n/32; i++ {
		wb, xb := w[i*wsz:(i+1)*wsz], x[i*xsz:(i+1)*xsz]
		q32Levels(t, wb, &q)
		var s [8]int32
		lanes32(&s, q[:], xb[xsz-32:], one)
		d := float32(f16At(wb) * f16At(xb))
		if withMin {
			summs = fma32(f16At(wb[2:]), f16At(xb[2:]), summs)
		}
		fmaLanes(&acc, d, &s)
	}
	r := hsum8(&acc)
	if withMin {
		r += summs
	}
	return r
}

// kBlock is one K-quant super-block unpacked: signed levels and the scale
// of each 16-element group.
type kBlock struct {
	q     [QK_K]int32
	scale [16]int32
}

// kLevels unpacks super-block b of type t.
func kLevels(t Type, b []byte, k *kBlock) {
	switch t {
	case Q2_K:
		for j := 0; j < 16; j++ {
			k.scale[j] = int32(b[j] & 0xf)
		}
		for h := 0; h < 2; h++ {
			q := b[16+32*h:]
			for s := uint(0); s < 4; s++ {
				for l := 0; l < 32; l++ {
					k.q[h*128+int(s)*32+l] = int32(q[l] >> (2 * s) & 3)
				}
			}
		}
	case Q3_K:
		sc := q3kScales((*[12]byte)(b[96:]))
		for j := range sc {
			k.scale[j] = int32(sc[j])
		}
		for h := 0; h < 2; h++ {
			q := b[32+32*h:]
			for s := uint(0); s < 4; s++ {
				for l := 0; l < 32; l++ {
					k.q[h*128+int(s)*32+l] = q3Level(q[l], b[l], s, uint(4*h)+s)
				}
			}
		}
	case Q4_K, Q5_K:
		scales := (*[12]byte)(b[4:])
		qs := b[16:]
		if t == Q5_K {
			qs = b[48:]
		}
		for c := 0; c < 4; c++ {
			s1, _ := scaleMinK4(2*c, scales)
			s2, _ := scaleMinK4(2*c+1, scales)
			k.scale[4*c], k.scale[4*c+1] = int32(s1), int32(s1)
			k.scale[4*c+2], k.scale[4*c+3] = int32(s2), int32(s2)
			for l := 0; l < 32; l++ {
				v := qs[32*c+l]
				lo, hi := int32(v&0xf), int32(v>>4)
				if t == Q5_K {
					h := b[16+l] >> (2 * c)
					lo |= int32(h&1) << 4
					hi |= int32(h>>1&1) << 4
				}
				k.q[64*c+l], k.q[64*c+32+l] = lo, hi
			}
		}
	case Q6_K:
		for j := 0; j < 16; j++ {
			k.scale[j] = int32(int8(b[192+j]))
		}
		for h := 0; h < 2; h++ {
			ql, qh := b[64*h:], b[128+32*h:]
			for l := 0; l < 32; l++ {
				k.q[128*h+l] = int32(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
				k.q[128*h+l+32] = int32(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
				k.q[128*h+l+64] = int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				k.q[128*h+l+96] = int32(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
			}
		}
	}
}

// emuDotK is ggml_vec_dot_q{2,3,4,5,6}_K_q8_K.
func emuDotK(t Type, n int, w, x []byte) float32 {
	wsz := t.BlockBytes()
	var acc [8]float32
	var accm [4]float32 // Q4_K: the mins, in four lanes
	var summs float32   // Q5_K: the mins, in one float
	var k kBlock
	for i := 0; i < n/QK_K; i++ {
		wb, xb := w[i*wsz:(i+1)*wsz], x[i*292:(i+1)*292]
		yd := math.Float32frombits(binary.LittleEndian.Uint32(xb))
		y := xb[4:260]
		kLevels(t, wb, &k)
		var dw, dminw float32
		switch t {
		case Q2_K:
			dw, dminw = f16At(wb[80:]), f16At(wb[82:])
		case Q3_K:
			dw = f16At(wb[108:])
		case Q4_K, Q5_K:
			dw, dminw = f16At(wb), f16At(wb[2:])
		case Q6_K:
			dw = f16At(wb[208:])
		}
		d := float32(yd * dw)
		dmin := float32(-yd * dminw)
		switch t {
		case Q2_K:
			var prod [8]int32
			for l := 0; l < 8; l++ {
				prod[l] = int32(wb[2*l]>>4)*bsum(xb, 2*l) + int32(wb[2*l+1]>>4)*bsum(xb, 2*l+1)
			}
			fmaLanes(&acc, dmin, &prod)
		case Q4_K, Q5_K:
			scales := (*[12]byte)(wb[4:])
			var prod [4]int32
			for j := 0; j < 4; j++ {
				_, m0 := scaleMinK4(2*j, scales)
				_, m1 := scaleMinK4(2*j+1, scales)
				s0 := bsum(xb, 4*j) + bsum(xb, 4*j+1)
				s1 := bsum(xb, 4*j+2) + bsum(xb, 4*j+3)
				prod[j] = int32(m0)*s0 + int32(m1)*s1
			}
			if t == Q4_K {
				for j := range accm {
					accm[j] = fma32(dmin, float32(prod[j]), accm[j])
				}
			} else {
				summs = fma32(dmin, float32(prod[0]+prod[1]+prod[2]+prod[3]), summs)
			}
		}
		var s [8]int32
		for c := 0; c < 8; c++ {
			base := 32 * c
			lanes32(&s, k.q[base:base+32], y[base:base+32], func(e int) int32 { return k.scale[(base+e)/16] })
		}
		fmaLanes(&acc, d, &s)
	}
	r := hsum8(&acc)
	switch t {
	case Q4_K:
		r += (accm[0] + accm[2]) + (accm[1] + accm[3])
	case Q5_K:
		r += summs
	}
	return r
}

// emuRepacked is ggml's interleaved (repacked) product of a Q4_0 row with
// Q8_0 activations or of a Q4_K row with Q8_K activations: each weight row
// is one lane, every block's integer dot product is summed whole and added
// with one fused multiply-add by the product of the two scales; Q4_K's mins
// go to a second accumulator subtracted at the end.
func emuRepacked(t Type, n int, w, x []byte, group4 bool) float32 {
	var acc, accMin float32
	if t == Q4_0 {
		var q [32]int32
		for i := 0; i < n/32; i++ {
			wb, xb := w[i*18:(i+1)*18], x[i*34:(i+1)*34]
			q32Levels(Q4_0, wb, &q)
			var s int32
			for j := range q {
				s += q[j] * int32(int8(xb[2+j]))
			}
			acc = fma32(float32(s), float32(f16At(wb)*f16At(xb)), acc)
		}
		return acc
	}
	var k kBlock
	for i := 0; i < n/QK_K; i++ {
		wb, xb := w[i*144:(i+1)*144], x[i*292:(i+1)*292]
		yd := math.Float32frombits(binary.LittleEndian.Uint32(xb))
		kLevels(Q4_K, wb, &k)
		d, dmin := float32(f16At(wb)*yd), float32(f16At(wb[2:])*yd)
		scales := (*[12]byte)(wb[4:])
		var s, smin int32
		for c := 0; c < 4; c++ { // 64-element chunks, two sub-blocks each
			for e := 64 * c; e < 64*c+64; e++ {
				s += k.scale[e/16] * k.q[e] * int32(int8(xb[4+e]))
			}
			for j := 2 * c; j < 2*c+2; j++ {
				_, m := scaleMinK4(j, scales)
				smin += int32(m) * (bsum(xb, 2*j) + bsum(xb, 2*j+1))
			}
			if group4 {
				acc = fma32(float32(s), d, acc)
				accMin = fma32(float32(smin), dmin, accMin)
				s, smin = 0, 0
			}
		}
		if !group4 {
			acc = fma32(float32(s), d, acc)
			accMin = fma32(float32(smin), dmin, accMin)
		}
	}
	return acc - accMin
}

// emuMulMat is the portable MulMat: ggml's order for every element.
func emuMulMat(t Type) func(int, []byte, int, int, []byte, int, int, []float32, int, Order) {
	var dot func(n int, w, x []byte, order Order) float32
	switch t {
	case F32:
		dot = func(n int, w, x []byte, order Order) float32 {
			wf, xf := f32View(w, n), f32View(x, n)
			if order&Batch != 0 && n%8 == 0 {
				return emuGemmF32(n, wf, xf)
			}
			return emuDotF32(n, wf, xf)
		}
	case F16, BF16:
		conv := fp16Conv
		if t == BF16 {
			conv = BF16ToFP32
		}
		dot = func(n int, w, x []byte, order Order) float32 {
			wh, xf := u16View(w, n), f32View(x, n)
			switch {
			case order&Batch != 0 && n%8 == 0:
				return emuGemmHalf(n, wh, xf, conv)
			case t == F16:
				return emuDotHalf(n, wh, xf, conv)
			default:
				return emuDotBF16(n, wh, xf)
			}
		}
	case Q4_0, Q4_1, Q5_0, Q5_1, Q8_0:
		dot = func(n int, w, x []byte, order Order) float32 {
			if t == Q4_0 && order&Interleaved != 0 {
				return emuRepacked(t, n, w, x, false)
			}
			return emuDot32(t, n, w, x)
		}
	default:
		dot = func(n int, w, x []byte, order Order) float32 {
			if t == Q4_K && order&Interleaved != 0 {
				return emuRepacked(t, n, w, x, order&Group4 != 0)
			}
			return emuDotK(t, n, w, x)
		}
	}
	return func(n int, w []byte, wStride, rows int, x []byte, xStride, cols int, dst []float32, dstStride int, order Order) {
		for c := 0; c < cols; c++ {
			xr := x[c*xStride:]
			out := dst[c*dstStride : c*dstStride+rows]
			for r := range out {
				out[r] = dot(n, w[r*wStride:], xr, order)
			}
		}
	}
}

// f32View reads the first n little-endian float32 values of b (any
// alignment).
func f32View(b []byte, n int) []float32 {
	b = b[:4*n]
	if n == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// u16View reads the first n little-endian uint16 values of b.
func u16View(b []byte, n int) []uint16 {
	b = b[:2*n]
	if n == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%2 == 0 {
		return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return out
}
