package tensor

import (
	"encoding/binary"
	"math"
)

// The K-quants: super-blocks of QK_K = 256 elements split into sub-blocks
// whose scales (and mins) are themselves quantized. Byte layouts:
//
//	Q2_K (84 B):  scales[16] | qs[64] | f16 d | f16 dmin
//	Q3_K (110 B): hmask[32] | qs[64] | scales[12] | f16 d
//	Q4_K (144 B): f16 d | f16 dmin | scales[12] | qs[128]
//	Q5_K (176 B): f16 d | f16 dmin | scales[12] | qh[32] | qs[128]
//	Q6_K (210 B): ql[128] | qh[64] | int8 scales[16] | f16 d
//	Q8_K (292 B): f32 d | int8 qs[256] | int16 bsums[16]
//
// Element order inside a super-block is described with each type below.
//
// Floating-point order: each dequantizer does ggml's operations in ggml's
// order. Every product there is exact in float32 (a half scale has 11
// significant bits, a sub-block scale at most 7, a level at most 5; Q6_K's
// (d*sc)*q needs 11+7+5 = 23 ≤ 24 bits), so whether ggml's dl*q - ml was
// contracted into an FMA cannot change the result: the single subtraction
// rounds once either way. The reference checksums confirm it (unfused code,
// exact match). The quantizers keep ggml's unfused order with explicit
// float32 conversions; that is what reproduces llama-quantize's bytes.

const groupMaxEps = 1e-15

// ---- Q2_K ----
//
// 16 sub-blocks of 16. Each 32-byte half of qs covers 128 elements: bits
// 2k..2k+1 of qs[h*32+l] hold element h*128 + 32k + l. scales[j] has the
// 4-bit scale of sub-block j in its low nibble and the 4-bit min in the high
// nibble: x = d*sc*q - dmin*m.

func dequantRowQ2_K(src []byte, dst []float32) {
	nb := len(dst) / QK_K
	for i := 0; i < nb; i++ {
		b := src[i*84 : i*84+84]
		y := dst[i*QK_K : i*QK_K+QK_K]
		sc := (*[16]byte)(b)
		d, dmin := f16At(b[80:]), f16At(b[82:])
		for h := 0; h < 2; h++ {
			q := (*[32]byte)(b[16+32*h:])
			for k := uint(0); k < 4; k++ {
				yy := (*[32]float32)(y[h*128+int(k)*32:])
				s0, s1 := sc[8*h+2*int(k)], sc[8*h+2*int(k)+1]
				dl0, ml0 := d*float32(s0&0xf), dmin*float32(s0>>4)
				dl1, ml1 := d*float32(s1&0xf), dmin*float32(s1>>4)
				for l := 0; l < 16; l++ {
					yy[l] = float32(dl0*float32(q[l]>>(2*k)&3)) - ml0
				}
				for l := 16; l < 32; l++ {
					yy[l] = float32(dl1*float32(q[l]>>(2*k)&3)) - ml1
				}
			}
		}
	}
}

func quantizeRowQ2_K(src []float32, dst []byte) {
	const q4scale = 15
	nb := len(src) / QK_K
	var (
		L       [QK_K]uint8
		laux    [16]uint8
		weights [16]float32
		mins    [16]float32
		scales  [16]float32
	)
	for i := 0; i < nb; i++ {
		x := src[i*QK_K : i*QK_K+QK_K]
		b := dst[i*84 : i*84+84]
		var maxScale, maxMin float32
		for j := 0; j < 16; j++ {
			for l := 0; l < 16; l++ {
				weights[l] = abs32(x[16*j+l])
			}
			scales[j], mins[j] = makeQKX2Quants(x[16*j:16*j+16], weights[:], L[16*j:16*j+16], laux[:], 3, -0.5, 0.1, 15, true)
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}
		sc := b[:16]
		if maxScale > 0 {
			iscale := q4scale / maxScale
			for j := range sc {
				sc[j] = uint8(nearestInt(iscale * scales[j]))
			}
			putF16(b[80:], maxScale/q4scale)
		} else {
			clear(sc)
			putF16(b[80:], 0)
		}
		if maxMin > 0 {
			iscale := q4scale / maxMin
			for j := range sc {
				sc[j] |= uint8(nearestInt(iscale*mins[j])) << 4
			}
			putF16(b[82:], maxMin/q4scale)
		} else {
			putF16(b[82:], 0)
		}
		d, dmin := f16At(b[80:]), f16At(b[82:])
		for j := 0; j < 16; j++ {
			dl := d * float32(sc[j]&0xf)
			if dl == 0 {
				continue
			}
			dm := dmin * float32(sc[j]>>4)
			for ii := 0; ii < 16; ii++ {
				l := nearestInt((x[16*j+ii] + dm) / dl)
				L[16*j+ii] = uint8(max(0, min(3, l)))
			}
		}
		qs := b[16:80]
		for h := 0; h < 2; h++ {
			for l := 0; l < 32; l++ {
				j := h * 128
				qs[h*32+l] = L[j+l] | L[j+l+32]<<2 | L[j+l+64]<<4 | L[j+l+96]<<6
			}
		}
	}
}

func dotQ2_K(n int, w, x []byte) float32 {
	nb := n / QK_K
	var sum float32
	for i := 0; i < nb; i++ {
		wb := w[i*84 : i*84+84]
		xb := x[i*292 : i*292+292]
		sc := (*[16]byte)(wb)
		q8 := (*[256]byte)(xb[4:])
		var summs int32
		for j := 0; j < 16; j++ {
			summs += int32(int16(binary.LittleEndian.Uint16(xb[260+2*j:]))) * int32(sc[j]>>4)
		}
		var isum int32
		for h := 0; h < 2; h++ {
			q := (*[32]byte)(wb[16+32*h:])
			for k := uint(0); k < 4; k++ {
				yy := (*[32]byte)(q8[h*128+int(k)*32:])
				var s0, s1 int32
				for l := 0; l < 16; l++ {
					s0 += int32(int8(yy[l])) * int32(q[l]>>(2*k)&3)
				}
				for l := 16; l < 32; l++ {
					s1 += int32(int8(yy[l])) * int32(q[l]>>(2*k)&3)
				}
				isum += int32(sc[8*h+2*int(k)]&0xf)*s0 + int32(sc[8*h+2*int(k)+1]&0xf)*s1
			}
		}
		dx := math.Float32frombits(binary.LittleEndian.Uint32(xb))
		sum += dx*f16At(wb[80:])*float32(isum) - dx*f16At(wb[82:])*float32(summs)
	}
	return sum
}

// makeQKX2Quants is ggml's make_qkx2_quants: it fits x ≈ scale*L - min with
// L in [0, nmax] and min ≥ 0, minimising the weighted absolute (useMAD) or
// squared error over a small search of scales. It returns scale and min and
// leaves the levels in L.
func makeQKX2Quants(x, weights []float32, L, laux []uint8, nmax int32, rmin, rdelta float32, nstep int, useMAD bool) (scale, theMin float32) {
	n := len(x)
	lo, hi := x[0], x[0]
	sumW := weights[0]
	sumX := sumW * x[0]
	for i := 1; i < n; i++ {
		if x[i] < lo {
			lo = x[i]
		}
		if x[i] > hi {
			hi = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if lo > 0 {
		lo = 0
	}
	if hi == lo {
		clear(L[:n])
		return 0, -lo
	}
	fnmax := float32(nmax)
	iscale := fnmax / (hi - lo)
	scale = 1 / iscale
	var bestMAD float32
	for i := 0; i < n; i++ {
		l := max(0, min(nmax, nearestInt(iscale*(x[i]-lo))))
		L[i] = uint8(l)
		diff := float32(float32(scale*float32(l))+lo) - x[i]
		if useMAD {
			diff = abs32(diff)
		} else {
			diff = float32(diff * diff)
		}
		bestMAD += float32(weights[i] * diff)
	}
	if nstep < 1 {
		return scale, -lo
	}
	for is := 0; is <= nstep; is++ {
		iscale = (float32(rmin+float32(rdelta*float32(is))) + fnmax) / (hi - lo)
		var sumL, sumL2, sumXL float32
		for i := 0; i < n; i++ {
			l := max(0, min(nmax, nearestInt(iscale*(x[i]-lo))))
			laux[i] = uint8(l)
			w := weights[i]
			fl := float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(float32(w*fl) * fl)
			sumXL += float32(float32(w*fl) * x[i])
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var mad float32
			for i := 0; i < n; i++ {
				diff := float32(float32(thisScale*float32(laux[i]))+thisMin) - x[i]
				if useMAD {
					diff = abs32(diff)
				} else {
					diff = float32(diff * diff)
				}
				mad += float32(weights[i] * diff)
			}
			if mad < bestMAD {
				copy(L[:n], laux[:n])
				bestMAD = mad
				scale = thisScale
				lo = thisMin
			}
		}
	}
	return scale, -lo
}

// ---- Q3_K ----
//
// 16 sub-blocks of 16 with 6-bit signed scales (stored +32). The low two bits
// are laid out as in Q2_K; the third bit of element h*128 + 32k + l is bit
// (4h+k) of hmask[l], and a clear bit subtracts 4: q = low - (bit ? 0 : 4).
// Scale j has its low nibble in scales[j] (j < 8) or the high nibble of
// scales[j-8], and its top two bits at bits 2*(j/4) of scales[8 + j%4].

// q3kScales unpacks the 16 signed 6-bit scales of a Q3_K block.
func q3kScales(s *[12]byte) (out [16]int8) {
	for j := 0; j < 16; j++ {
		var low byte
		if j < 8 {
			low = s[j] & 0xf
		} else {
			low = s[j-8] >> 4
		}
		high := (s[8+j%4] >> (2 * (j / 4))) & 3
		out[j] = int8(low|high<<4) - 32
	}
	return out
}

// q3Level decodes one Q3_K level in [-4, 3]: two low bits at 2k of q, minus
// 4 unless bit hbit of the hmask byte is set.
func q3Level(q, hm byte, k, hbit uint) int32 {
	return int32(q>>(2*k)&3) - int32((^hm>>hbit)&1)<<2
}

func dequantRowQ3_K(src []byte, dst []float32) {
	nb := len(dst) / QK_K
	for i := 0; i < nb; i++ {
		b := src[i*110 : i*110+110]
		y := dst[i*QK_K : i*QK_K+QK_K]
		hm := (*[32]byte)(b)
		scales := q3kScales((*[12]byte)(b[96:]))
		d := f16At(b[108:])
		for h := 0; h < 2; h++ {
			q := (*[32]byte)(b[32+32*h:])
			for k := uint(0); k < 4; k++ {
				yy := (*[32]float32)(y[h*128+int(k)*32:])
				hbit := uint(4*h) + k
				dl0 := d * float32(scales[8*h+2*int(k)])
				dl1 := d * float32(scales[8*h+2*int(k)+1])
				for l := 0; l < 16; l++ {
					yy[l] = dl0 * float32(q3Level(q[l], hm[l], k, hbit))
				}
				for l := 16; l < 32; l++ {
					yy[l] = dl1 * float32(q3Level(q[l], hm[l], k, hbit))
				}
			}
		}
	}
}

func quantizeRowQ3_K(src []float32, dst []byte) {
	nb := len(src) / QK_K
	var (
		L      [QK_K]int8
		scales [16]float32
	)
	for i := 0; i < nb; i++ {
		x := src[i*QK_K : i*QK_K+QK_K]
		b := dst[i*110 : i*110+110]
		var maxScale, amax float32
		for j := 0; j < 16; j++ {
			scales[j] = makeQ3Quants(x[16*j:16*j+16], L[16*j:16*j+16], 4)
			if a := abs32(scales[j]); a > amax {
				amax, maxScale = a, scales[j]
			}
		}
		sb := (*[12]byte)(b[96:])
		clear(sb[:])
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < 16; j++ {
				l := byte(max(-32, min(31, int32(int8(nearestInt(iscale*scales[j]))))) + 32)
				if j < 8 {
					sb[j] = l & 0xf
				} else {
					sb[j-8] |= (l & 0xf) << 4
				}
				sb[8+j%4] |= (l >> 4) << (2 * (j / 4))
			}
			putF16(b[108:], 1/iscale)
		} else {
			putF16(b[108:], 0)
		}
		d := f16At(b[108:])
		qsc := q3kScales(sb)
		for j := 0; j < 16; j++ {
			dl := d * float32(qsc[j])
			if dl == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				l := nearestInt(x[16*j+ii] / dl)
				L[16*j+ii] = int8(max(-4, min(3, l)) + 4)
			}
		}
		hmask := b[:32]
		clear(hmask)
		m, hbit := 0, byte(1)
		for j := 0; j < QK_K; j++ {
			if L[j] > 3 {
				hmask[m] |= hbit
				L[j] -= 4
			}
			if m++; m == 32 {
				m, hbit = 0, hbit<<1
			}
		}
		qs := b[32:96]
		for h := 0; h < 2; h++ {
			j := h * 128
			for l := 0; l < 32; l++ {
				qs[h*32+l] = byte(L[j+l]) | byte(L[j+l+32])<<2 | byte(L[j+l+64])<<4 | byte(L[j+l+96])<<6
			}
		}
	}
}

// makeQ3Quants is ggml's make_q3_quants with do_rmse: levels L in
// [0, 2*nmax) (stored +nmax) and a scale fitted by weighted least squares
// (weights x²), refined by moving single levels while that lowers the error.
func makeQ3Quants(x []float32, L []int8, nmax int32) float32 {
	n := len(x)
	amax, mx := absMax(x)
	if amax < groupMaxEps {
		clear(L[:n])
		return 0
	}
	iscale := -float32(nmax) / mx
	var sumLX, sumL2 float32
	for i := 0; i < n; i++ {
		l := max(-nmax, min(nmax-1, nearestInt(iscale*x[i])))
		L[i] = int8(l)
		w := float32(x[i] * x[i])
		sumLX += float32(float32(w*x[i]) * float32(l))
		sumL2 += float32(float32(w*float32(l)) * float32(l))
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i := 0; i < n; i++ {
			w := float32(x[i] * x[i])
			slx := sumLX - float32(float32(w*x[i])*float32(L[i]))
			if slx > 0 {
				sl2 := sumL2 - float32(float32(w*float32(L[i]))*float32(L[i]))
				newL := max(-nmax, min(nmax-1, nearestInt(float32(x[i]*sl2)/slx)))
				if newL != int32(L[i]) {
					slx += float32(float32(w*x[i]) * float32(newL))
					sl2 += float32(float32(w*float32(newL)) * float32(newL))
					if sl2 > 0 && float32(float32(slx*slx)*sumL2) > float32(float32(sumLX*sumLX)*sl2) {
						L[i] = int8(newL)
						sumLX, sumL2 = slx, sl2
						changed++
					}
				}
			}
		}
		if changed == 0 {
			break
		}
	}
	for i := 0; i < n; i++ {
		L[i] += int8(nmax)
	}
	return sumLX / sumL2
}

func dotQ3_K(n int, w, x []byte) float32 {
	nb := n / QK_K
	var sum float32
	for i := 0; i < nb; i++ {
		wb := w[i*110 : i*110+110]
		xb := x[i*292 : i*292+292]
		hm := (*[32]byte)(wb)
		scales := q3kScales((*[12]byte)(wb[96:]))
		q8 := (*[256]byte)(xb[4:])
		var isum int32
		for h := 0; h < 2; h++ {
			q := (*[32]byte)(wb[32+32*h:])
			for k := uint(0); k < 4; k++ {
				yy := (*[32]byte)(q8[h*128+int(k)*32:])
				hbit := uint(4*h) + k
				var s0, s1 int32
				for l := 0; l < 16; l++ {
					s0 += q3Level(q[l], hm[l], k, hbit) * int32(int8(yy[l]))
				}
				for l := 16; l < 32; l++ {
					s1 += q3Level(q[l], hm[l], k, hbit) * int32(int8(yy[l]))
				}
				isum += int32(scales[8*h+2*int(k)])*s0 + int32(scales[8*h+2*int(k)+1])*s1
			}
		}
		dx := math.Float32frombits(binary.LittleEndian.Uint32(xb))
		sum += dx * f16At(wb[108:]) * float32(isum)
	}
	return sum
}

// ---- Q4_K and Q5_K ----
//
// 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes (see
// scaleMinK4): x = d*sc*q - dmin*m. Each 64-element chunk c uses qs[32c:32c+32]:
// low nibbles are elements 64c..64c+31, high nibbles 64c+32..64c+63. Q5_K's
// fifth bit of element 64c + l is bit 2c of qh[l], of element 64c+32+l bit
// 2c+1.

// scaleMinK4 is ggml's get_scale_min_k4: scale and min j (0..7) of a Q4_K or
// Q5_K block. The first four are the low six bits of bytes j and j+4; the
// last four take their low nibbles from byte j+4 and their top two bits
// from the spare top bits of bytes j-4 and j.
func scaleMinK4(j int, q *[12]byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

func dequantRowQ4_K(src []byte, dst []float32) {
	nb := len(dst) / QK_K
	for i := 0; i < nb; i++ {
		b := src[i*144 : i*144+144]
		y := dst[i*QK_K : i*QK_K+QK_K]
		d, dmin := f16At(b), f16At(b[2:])
		scales := (*[12]byte)(b[4:])
		for c := 0; c < 4; c++ {
			q := (*[32]byte)(b[16+32*c:])
			sc, m := scaleMinK4(2*c, scales)
			d1, m1 := d*float32(sc), dmin*float32(m)
			sc, m = scaleMinK4(2*c+1, scales)
			d2, m2 := d*float32(sc), dmin*float32(m)
			y1 := (*[32]float32)(y[64*c:])
			y2 := (*[32]float32)(y[64*c+32:])
			for l, v := range q {
				y1[l] = float32(d1*float32(v&0xf)) - m1
				y2[l] = float32(d2*float32(v>>4)) - m2
			}
		}
	}
}

// quantizeKX2 fits the 8 sub-blocks of 32 of one Q4_K/Q5_K super-block with
// make_qkx2_quants (weights |x| + rms) and packs the 6-bit scales and mins
// into b[4:16], d and dmin into b[0:4]. It leaves the levels in L.
func quantizeKX2(x []float32, b []byte, L *[QK_K]uint8, nmax int32, rmin float32, nstep int) {
	var (
		laux    [32]uint8
		weights [32]float32
		mins    [8]float32
		scales  [8]float32
	)
	var maxScale, maxMin float32
	for j := 0; j < 8; j++ {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := float32(math.Sqrt(float64(sumX2 / 32)))
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2Quants(xs, weights[:], L[32*j:32*j+32], laux[:], nmax, rmin, 0.1, nstep, false)
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxMin {
			maxMin = mins[j]
		}
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	sb := (*[12]byte)(b[4:])
	for j := 0; j < 8; j++ {
		ls := min(63, uint8(nearestInt(invScale*scales[j])))
		lm := min(63, uint8(nearestInt(invMin*mins[j])))
		if j < 4 {
			sb[j] = ls
			sb[j+4] = lm
		} else {
			sb[j+4] = ls&0xf | (lm&0xf)<<4
			sb[j-4] |= (ls >> 4) << 6
			sb[j] |= (lm >> 4) << 6
		}
	}
	putF16(b, maxScale/63)
	putF16(b[2:], maxMin/63)
	d, dmin := f16At(b), f16At(b[2:])
	for j := 0; j < 8; j++ {
		sc, m := scaleMinK4(j, sb)
		dl := d * float32(sc)
		if dl == 0 {
			continue
		}
		dm := dmin * float32(m)
		for ii := 0; ii < 32; ii++ {
			l := nearestInt((x[32*j+ii] + dm) / dl)
			L[32*j+ii] = uint8(max(0, min(nmax, l)))
		}
	}
}

func quantizeRowQ4_K(src []float32, dst []byte) {
	nb := len(src) / QK_K
	var L [QK_K]uint8
	for i := 0; i < nb; i++ {
		x := src[i*QK_K : i*QK_K+QK_K]
		b := dst[i*144 : i*144+144]
		quantizeKX2(x, b, &L, 15, -1, 20)
		for c := 0; c < 4; c++ {
			q := b[16+32*c : 16+32*c+32]
			for l := range q {
				q[l] = L[64*c+l] | L[64*c+32+l]<<4
			}
		}
	}
}

func dotQ4_K(n int, w, x []byte) float32 {
	nb := n / QK_K
	var sum float32
	for i := 0; i < nb; i++ {
		wb := w[i*144 : i*144+144]
		xb := x[i*292 : i*292+292]
		scales := (*[12]byte)(wb[4:])
		q8 := (*[256]byte)(xb[4:])
		var isum, summs int32
		for c := 0; c < 4; c++ {
			q := (*[32]byte)(wb[16+32*c:])
			y1 := (*[32]byte)(q8[64*c:])
			y2 := (*[32]byte)(q8[64*c+32:])
			var s1, s2 int32
			for l, v := range q {
				s1 += int32(v&0xf) * int32(int8(y1[l]))
				s2 += int32(v>>4) * int32(int8(y2[l]))
			}
			sc1, m1 := scaleMinK4(2*c, scales)
			sc2, m2 := scaleMinK4(2*c+1, scales)
			isum += int32(sc1)*s1 + int32(sc2)*s2
			summs += int32(m1)*(bsum(xb, 4*c)+bsum(xb, 4*c+1)) + int32(m2)*(bsum(xb, 4*c+2)+bsum(xb, 4*c+3))
		}
		dx := math.Float32frombits(binary.LittleEndian.Uint32(xb))
		sum += dx*f16At(wb)*float32(isum) - dx*f16At(wb[2:])*float32(summs)
	}
	return sum
}

// bsum returns the j-th 16-element sum of a Q8_K block.
func bsum(xb []byte, j int) int32 { return int32(int16(binary.LittleEndian.Uint16(xb[260+2*j:]))) }

func dequantRowQ5_K(src []byte, dst []float32) {
	nb := len(dst) / QK_K
	for i := 0; i < nb; i++ {
		b := src[i*176 : i*176+176]
		y := dst[i*QK_K : i*QK_K+QK_K]
		d, dmin := f16At(b), f16At(b[2:])
		scales := (*[12]byte)(b[4:])
		qh := (*[32]byte)(b[16:])
		for c := 0; c < 4; c++ {
			q := (*[32]byte)(b[48+32*c:])
			sc, m := scaleMinK4(2*c, scales)
			d1, m1 := d*float32(sc), dmin*float32(m)
			sc, m = scaleMinK4(2*c+1, scales)
			d2, m2 := d*float32(sc), dmin*float32(m)
			y1 := (*[32]float32)(y[64*c:])
			y2 := (*[32]float32)(y[64*c+32:])
			for l, v := range q {
				h := qh[l] >> (2 * c)
				y1[l] = float32(d1*float32(v&0xf|(h&1)<<4)) - m1
				y2[l] = float32(d2*float32(v>>4|(h&2)<<3)) - m2
			}
		}
	}
}

func quantizeRowQ5_K(src []float32, dst []byte) {
	nb := len(src) / QK_K
	var L [QK_K]uint8
	for i := 0; i < nb; i++ {
		x := src[i*QK_K : i*QK_K+QK_K]
		b := dst[i*176 : i*176+176]
		quantizeKX2(x, b, &L, 31, -0.5, 15)
		qh := b[16:48]
		clear(qh)
		for c := 0; c < 4; c++ {
			q := b[48+32*c : 48+32*c+32]
			for l := range q {
				l1, l2 := L[64*c+l], L[64*c+32+l]
				qh[l] |= (l1>>4)<<(2*c) | (l2>>4)<<(2*c+1)
				q[l] = l1&0xf | (l2&0xf)<<4
			}
		}
	}
}

func dotQ5_K(n int, w, x []byte) float32 {
	nb := n / QK_K
	var sum float32
	for i := 0; i < nb; i++ {
		wb := w[i*176 : i*176+176]
		xb := x[i*292 : i*292+292]
		scales := (*[12]byte)(wb[4:])
		qh := (*[32]byte)(wb[16:])
		q8 := (*[256]byte)(xb[4:])
		var isum, summs int32
		for c := 0; c < 4; c++ {
			q := (*[32]byte)(wb[48+32*c:])
			y1 := (*[32]byte)(q8[64*c:])
			y2 := (*[32]byte)(q8[64*c+32:])
			var s1, s2 int32
			for l, v := range q {
				h := qh[l] >> (2 * c)
				s1 += int32(v&0xf|(h&1)<<4) * int32(int8(y1[l]))
				s2 += int32(v>>4|(h&2)<<3) * int32(int8(y2[l]))
			}
			sc1, m1 := scaleMinK4(2*c, scales)
			sc2, m2 := scaleMinK4(2*c+1, scales)
			isum += int32(sc1)*s1 + int32(sc2)*s2
			summs += int32(m1)*(bsum(xb, 4*c)+bsum(xb, 4*c+1)) + int32(m2)*(bsum(xb, 4*c+2)+bsum(xb, 4*c+3))
		}
		dx := math.Float32frombits(binary.LittleEndian.Uint32(xb))
		sum += dx*f16At(wb)*float32(isum) - dx*f16At(wb[2:])*float32(summs)
	}
	return sum
}

// ---- Q6_K ----
//
// 16 sub-blocks of 16 with int8 scales; q in [0,64) stored -32. Each 128-
// element half h uses ql[64h:64h+64] and qh[32h:32h+32]: for l < 32,
// element 128h + 32k + l has its low nibble in ql[64h + l + 32*(k&1)] (low
// nibble for k < 2, high for k ≥ 2) and its top two bits at bits 2k of
// qh[32h + l]. Scale of that element: scales[8h + 2k + l/16].
// x = d * sc * q, computed as (d*sc)*q like ggml.

func dequantRowQ6_K(src []byte, dst []float32) {
	nb := len(dst) / QK_K
	for i := 0; i < nb; i++ {
		b := src[i*210 : i*210+210]
		y := dst[i*QK_K : i*QK_K+QK_K]
		d := f16At(b[208:])
		for h := 0; h < 2; h++ {
			ql := (*[64]byte)(b[64*h:])
			qh := (*[32]byte)(b[128+32*h:])
			sc := (*[8]byte)(b[192+8*h:])
			yy := (*[128]float32)(y[128*h:])
			for l := 0; l < 32; l++ {
				is := l / 16
				q1 := int32(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
				q2 := int32(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				yy[l] = float32(d*float32(int8(sc[is]))) * float32(q1)
				yy[l+32] = float32(d*float32(int8(sc[is+2]))) * float32(q2)
				yy[l+64] = float32(d*float32(int8(sc[is+4]))) * float32(q3)
				yy[l+96] = float32(d*float32(int8(sc[is+6]))) * float32(q4)
			}
		}
	}
}

func quantizeRowQ6_K(src []float32, dst []byte) {
	nb := len(src) / QK_K
	var (
		L      [QK_K]int8
		scales [16]float32
	)
	for i := 0; i < nb; i++ {
		x := src[i*QK_K : i*QK_K+QK_K]
		b := dst[i*210 : i*210+210]
		var maxScale, maxAbsScale float32
		for ib := 0; ib < 16; ib++ {
			s := makeQXQuants(x[16*ib:16*ib+16], L[16*ib:16*ib+16], 32)
			scales[ib] = s
			if a := abs32(s); a > maxAbsScale {
				maxAbsScale, maxScale = a, s
			}
		}
		if maxAbsScale < groupMaxEps {
			clear(b)
			continue
		}
		iscale := -128 / maxScale
		putF16(b[208:], 1/iscale)
		sc := b[192:208]
		for ib := range sc {
			sc[ib] = byte(int8(min(127, nearestInt(iscale*scales[ib]))))
		}
		d := f16At(b[208:])
		for j := 0; j < 16; j++ {
			dl := d * float32(int8(sc[j]))
			if dl == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				l := nearestInt(x[16*j+ii] / dl)
				L[16*j+ii] = int8(max(-32, min(31, l)) + 32)
			}
		}
		for h := 0; h < 2; h++ {
			ql := b[64*h : 64*h+64]
			qh := b[128+32*h : 128+32*h+32]
			j := 128 * h
			for l := 0; l < 32; l++ {
				q1, q2, q3, q4 := byte(L[j+l]), byte(L[j+l+32]), byte(L[j+l+64]), byte(L[j+l+96])
				ql[l] = q1&0xf | (q3&0xf)<<4
				ql[l+32] = q2&0xf | (q4&0xf)<<4
				qh[l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
			}
		}
	}
}

// makeQXQuants is ggml's make_qx_quants with rmse_type 1 (weights x²) and no
// importance weights: symmetric levels in [-nmax, nmax) stored +nmax, with
// the best of 19 candidate scales by weighted least squares.
func makeQXQuants(x []float32, L []int8, nmax int32) float32 {
	n := len(x)
	amax, mx := absMax(x)
	if amax < groupMaxEps {
		clear(L[:n])
		return 0
	}
	fnmax := float32(nmax)
	iscale := -fnmax / mx
	var sumLX, sumL2 float32
	for i := 0; i < n; i++ {
		l := max(-nmax, min(nmax-1, nearestInt(iscale*x[i])))
		L[i] = int8(l + nmax)
		w := float32(x[i] * x[i])
		sumLX += float32(float32(w*x[i]) * float32(l))
		sumL2 += float32(float32(w*float32(l)) * float32(l))
	}
	var scale float32
	if sumL2 != 0 {
		scale = sumLX / sumL2
	}
	best := scale * sumLX
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fnmax + float32(0.1*float32(is))) / mx
		sumLX, sumL2 = 0, 0
		for i := 0; i < n; i++ {
			l := max(-nmax, min(nmax-1, nearestInt(iscale*x[i])))
			w := float32(x[i] * x[i])
			sumLX += float32(float32(w*x[i]) * float32(l))
			sumL2 += float32(float32(w*float32(l)) * float32(l))
		}
		if sumL2 > 0 && float32(sumLX*sumLX) > float32(best*sumL2) {
			for i := 0; i < n; i++ {
				l := nearestInt(iscale * x[i])
				L[i] = int8(nmax + max(-nmax, min(nmax-1, l)))
			}
			scale = sumLX / sumL2
			best = scale * sumLX
		}
	}
	return scale
}

func dotQ6_K(n int, w, x []byte) float32 {
	nb := n / QK_K
	var sum float32
	for i := 0; i < nb; i++ {
		wb := w[i*210 : i*210+210]
		xb := x[i*292 : i*292+292]
		q8 := (*[256]byte)(xb[4:])
		var isum int32
		for h := 0; h < 2; h++ {
			ql := (*[64]byte)(wb[64*h:])
			qh := (*[32]byte)(wb[128+32*h:])
			sc := (*[8]byte)(wb[192+8*h:])
			yy := (*[128]byte)(q8[128*h:])
			for half := 0; half < 2; half++ {
				var s1, s2, s3, s4 int32
				for l := 16 * half; l < 16*half+16; l++ {
					s1 += (int32(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32) * int32(int8(yy[l]))
					s2 += (int32(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32) * int32(int8(yy[l+32]))
					s3 += (int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32) * int32(int8(yy[l+64]))
					s4 += (int32(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32) * int32(int8(yy[l+96]))
				}
				isum += int32(int8(sc[half]))*s1 + int32(int8(sc[half+2]))*s2 +
					int32(int8(sc[half+4]))*s3 + int32(int8(sc[half+6]))*s4
			}
		}
		dx := math.Float32frombits(binary.LittleEndian.Uint32(xb))
		sum += dx * f16At(wb[208:]) * float32(isum)
	}
	return sum
}

// ---- Q8_K (activations for the K-quants) ----

func dequantRowQ8_K(src []byte, dst []float32) {
	nb := len(dst) / QK_K
	for i := 0; i < nb; i++ {
		b := src[i*292 : i*292+292]
		y := (*[256]float32)(dst[i*QK_K:])
		d := math.Float32frombits(binary.LittleEndian.Uint32(b))
		qs := (*[256]byte)(b[4:])
		for j, q := range qs {
			y[j] = d * float32(int8(q))
		}
	}
}

// quantizeRowQ8_K is ggml's quantize_row_q8_K_ref: scale -127/max where max
// is the signed value of largest magnitude (so that value maps to -127),
// plus the sums of each 16 quants, which the K-quant dots use for the mins.
// Unlike ggml it also zeroes the sums of an all-zero block.
func quantizeRowQ8_K(src []float32, dst []byte) {
	for i := 0; i < len(src)/QK_K; i++ {
		quantizeBlockQ8_K((*[256]float32)(src[i*QK_K:]), (*[292]byte)(dst[i*292:]))
	}
}

// quantizeBlockQ8_K quantizes one block of 256 values.
func quantizeBlockQ8_K(x *[256]float32, b *[292]byte) {
	qs := (*[256]byte)(b[4:])
	amax, mx := absMax(x[:])
	if amax == 0 {
		clear(b[:])
		return
	}
	iscale := -127 / mx
	for j, v := range x {
		qs[j] = byte(int8(min(127, nearestInt(iscale*v))))
	}
	for j := 0; j < 16; j++ {
		var s int32
		for _, q := range qs[16*j : 16*j+16] {
			s += int32(int8(q))
		}
		binary.LittleEndian.PutUint16(b[260+2*j:], uint16(int16(s)))
	}
	binary.LittleEndian.PutUint32(b[:], math.Float32bits(1/iscale))
}
