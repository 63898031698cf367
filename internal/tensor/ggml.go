package tensor

import "math"

// Bit-exact emulation of the floating-point operation order of ggml's CPU
// backend as built for x86 with AVX2, FMA and F16C (the build the
// llama.cpp reference traces were made with). Integer partial sums are
// exact whatever their order; what must be reproduced is how they are
// grouped into the eight float32 lanes of a vector register, the fused
// multiply-adds that accumulate them, and the order of the final
// horizontal sums. The assembly kernels compute the same operations, so
// their results are identical to these, bit for bit.

// fma32 returns a·b+c rounded once to float32, as VFMADD does.
func fma32(a, b, c float32) float32 {
	p := float64(float64(a) * float64(b)) // exact: 24+24 significant bits
	cf := float64(c)
	s := float64(p + cf)
	// Double rounding can only go wrong when s is exactly halfway between
	// two float32 values: for a normal float32 result its 29 extra
	// mantissa bits are then 1 followed by zeros.
	if b := math.Float64bits(s); b&(1<<29-1) != 1<<28 && b&0x7ff0000000000000 >= 0x3810000000000000 {
		return float32(s)
	}
	r := float32(s)
	// s is p+c rounded to float64; rounding that to float32 is a second
	// rounding, which can only go wrong when s lies exactly halfway
	// between two float32 values while p+c does not.
	z := float64(s - p)
	e := float64(p-float64(s-z)) + float64(cf-z) // s + e == p + c exactly
	if e == 0 || math.IsInf(s, 0) || s != s {
		return r
	}
	d := float64(s - float64(r))
	var other float32
	if d > 0 {
		other = math.Nextafter32(r, float32(math.Inf(1)))
	} else if d < 0 {
		other = math.Nextafter32(r, float32(math.Inf(-1)))
	} else {
		return r
	}
	if float64(float64(other)-s) != d {
		return r // not a midpoint: the single rounding was right
	}
	// A midpoint: the exact value lies on the side of e.
	if (e > 0) == (float64(other) > float64(r)) {
		return other
	}
	return r
}

// hsum8 is ggml's hsum_float_8: the high half added to the low half, then
// lanes (0+2)+(1+3).
func hsum8(v *[8]float32) float32 {
	r0, r1, r2, r3 := v[4]+v[0], v[5]+v[1], v[6]+v[2], v[7]+v[3]
	return (r0 + r2) + (r1 + r3)
}

// reduce4x8 is ggml's GGML_F32x8_REDUCE of four accumulators: pairwise
// vector adds, then the low and high halves, then two horizontal adds.
func reduce4x8(s *[4][8]float32) float32 {
	var x [8]float32
	for l := range x {
		x[l] = (s[0][l] + s[2][l]) + (s[1][l] + s[3][l])
	}
	t0, t1, t2, t3 := x[0]+x[4], x[1]+x[5], x[2]+x[6], x[3]+x[7]
	return (t0 + t1) + (t2 + t3)
}

// ---- Float weights ----
//
// Two orders, as in ggml: a product of a single activation row (a token
// generated one at a time) goes through ggml_vec_dot_*: four accumulators
// of eight lanes over steps of 32 elements, reduce4x8, and the leftovers
// (n mod 32) in float (F32) or double (F16, BF16). A product of two or more
// rows whose length is a multiple of 8 (prompt processing) goes through
// llamafile's tinyBLAS: one accumulator of eight lanes, hsum8.

// emuDotF32 is ggml_vec_dot_f32. (Which of ggml's scalar multiply-adds the
// compiler fused, here and elsewhere, was settled against the reference
// traces: these leftovers are not fused, the C multiply-adds of the
// quantized dot products and of RoPE are.)
func emuDotF32(n int, w, x []float32) float32 {
	w, x = w[:n], x[:n]
	np := n &^ 31
	var s [4][8]float32
	for i := 0; i < np; i += 32 {
		for j := 0; j < 4; j++ {
			for l := 0; l < 8; l++ {
				k := i + 8*j + l
				s[j][l] = fma32(w[k], x[k], s[j][l])
			}
		}
	}
	sum := reduce4x8(&s)
	for i := np; i < n; i++ {
		sum += float32(w[i] * x[i]) // not fused in ggml's build
	}
	return sum
}

// emuDotHalf is ggml_vec_dot_f16 (and the F16 path of attention): conv
// turns a weight element into float32; x holds float32 values.
func emuDotHalf(n int, w []uint16, x []float32, conv func(uint16) float32) float32 {
	w, x = w[:n], x[:n]
	np := n &^ 31
	var s [4][8]float32
	for i := 0; i < np; i += 32 {
		for j := 0; j < 4; j++ {
			for l := 0; l < 8; l++ {
				k := i + 8*j + l
				s[j][l] = fma32(conv(w[k]), x[k], s[j][l])
			}
		}
	}
	sum := float64(reduce4x8(&s))
	for i := np; i < n; i++ {
		sum += float64(float32(conv(w[i]) * x[i]))
	}
	return float32(sum)
}

// emuDotBF16 is ggml_vec_dot_bf16 for AVX2: four accumulators of
// multiply-then-add over steps of 32, reduced (c1+c3)+(c2+c4) then hsum8,
// leftovers in double.
func emuDotBF16(n int, w []uint16, x []float32) float32 {
	w, x = w[:n], x[:n]
	np := n &^ 31
	var c [4][8]float32
	for i := 0; i < np; i += 32 {
		for j := 0; j < 4; j++ {
			for l := 0; l < 8; l++ {
				k := i + 8*j + l
				c[j][l] = bf16MulAdd(BF16ToFP32(w[k]), x[k], c[j][l])
			}
		}
	}
	var v [8]float32
	for l := range v {
		v[l] = (c[0][l] + c[2][l]) + (c[1][l] + c[3][l])
	}
	sum := float64(hsum8(&v))
	for i := np; i < n; i++ {
		sum += float64(float32(BF16ToFP32(w[i]) * x[i]))
	}
	return float32(sum)
}

// bf16MulAdd is the accumulation step of ggml's AVX2 BF16 dot product,
// _mm256_add_ps(_mm256_mul_ps(a, b), c), which GCC contracts into a fused
// multiply-add.
func bf16MulAdd(a, b, c float32) float32 { return fma32(a, b, c) }

// emuGemmF32 is tinyBLAS's per-output order for float rows: one
// eight-lane accumulator over chunks of 8, hsum8. n is a multiple of 8.
func emuGemmF32(n int, w, x []float32) float32 {
	w, x = w[:n], x[:n]
	var acc [8]float32
	for i := 0; i < n; i += 8 {
		for l := 0; l < 8; l++ {
			acc[l] = fma32(w[i+l], x[i+l], acc[l])
		}
	}
	return hsum8(&acc)
}

// emuGemmHalf is emuGemmF32 with F16 or BF16 weights.
func emuGemmHalf(n int, w []uint16, x []float32, conv func(uint16) float32) float32 {
	w, x = w[:n], x[:n]
	var acc [8]float32
	for i := 0; i < n; i += 8 {
		for l := 0; l < 8; l++ {
			acc[l] = fma32(conv(w[i+l]), x[i+l], acc[l])
		}
	}
	return hsum8(&acc)
}

func fp16Conv(h uint16) float32 { return fp16Table[h] }

// ---- exp and SiLU ----

// expf8 is ggml_v_expf for AVX2 on one lane: a polynomial after range
// reduction, within 1.5 ulp of exp, flushing to 0 below -103.97 and to
// +Inf above 88.38.
func expf8(x float32) float32 {
	const (
		r    = 0x1.8p23
		ln2h = 0x1.62e4p-1
		ln2l = 0x1.7f7d1cp-20
		c0   = 0x1.ffffecp-1
		c1   = 0x1.fffdb6p-2
		c2   = 0x1.555e66p-3
		c3   = 0x1.573e2ep-5
		c4   = 0x1.0e4020p-7
	)
	z := fma32(x, 0x1.715476p+0, r)
	n := float32(z - r)
	b := fma32(-n, ln2l, fma32(-n, ln2h, x))
	e := math.Float32bits(z) << 23
	k := math.Float32frombits(e + math.Float32bits(1))
	u := float32(b * b)
	j := fma32(fma32(fma32(c4, b, c3), u, fma32(c2, b, c1)), u, float32(c0*b))
	if !(abs32(n) > 126) {
		return fma32(j, k, k)
	}
	var g uint32
	if n <= 0 {
		g = 0x82000000
	}
	s1 := math.Float32frombits(g + 0x7f000000)
	s2 := math.Float32frombits(e - g)
	if abs32(n) > 192 {
		return float32(s1 * s1)
	}
	return float32(fma32(s2, j, s2) * s1)
}

// siluSIMD is ggml_v_silu on one lane: x/(1+exp(-x)) with expf8.
func siluSIMD(x float32) float32 {
	return x / float32(1+expf8(float32(0-x)))
}

// siluLibm is ggml_silu_f32, used for the elements after the last full
// vector: x/(1+expf(-x)) with the C library's expf (correctly rounded here).
func siluLibm(x float32) float32 {
	return x / float32(1+libmExpf(-x))
}

// EmuSiluMul sets dst[i] = silu(g[i])·u[i] as ggml does (ggml_vec_silu_f32
// in vectors of 8 with the leftovers through expf, then a multiply).
func EmuSiluMul(dst, g, u []float32) {
	n := len(dst)
	g, u = g[:n], u[:n]
	i := 0
	for ; i+7 < n; i += 8 {
		for l := i; l < i+8; l++ {
			dst[l] = float32(siluSIMD(g[l]) * u[l])
		}
	}
	for ; i < n; i++ {
		dst[i] = float32(siluLibm(g[i]) * u[i])
	}
}

// EmuExpSub is ggml_vec_soft_max_f32: x[i] = exp(x[i]-m), vectors of 8
// through expf8, each vector's hsum8 added to a float64 sum, the leftovers
// through expf one at a time. It returns the sum.
func EmuExpSub(x []float32, m float32) float64 {
	n := len(x)
	var sum float64
	i := 0
	for ; i+7 < n; i += 8 {
		v := (*[8]float32)(x[i:])
		for l := range v {
			v[l] = expf8(float32(v[l] - m))
		}
		sum += float64(hsum8(v))
	}
	for ; i < n; i++ {
		e := libmExpf(float32(x[i] - m))
		x[i] = e
		sum += float64(e)
	}
	return sum
}

// HSum8 is ggml's horizontal sum of an eight-lane accumulator.
func HSum8(v *[8]float32) float32 { return hsum8(v) }

// Reduce4x8 is ggml's reduction of four eight-lane accumulators (the F16
// and F32 products of a single row).
func Reduce4x8(s *[4][8]float32) float32 { return reduce4x8(s) }

// libmExpf is the C library's expf as glibc (and musl) compute it: Arm's
// optimized-routines algorithm, a 32-entry table of 2^(i/32) and a cubic
// in double precision, rounded once to float32. glibc's x86-64 build
// differs from this only at two arguments (its FMA variant). Outside
// ±87, where the engine never evaluates it, it falls back to exp.
func libmExpf(x float32) float32 {
	if !(abs32(x) < 87) {
		return float32(math.Exp(float64(x)))
	}
	const (
		invLn2N = 0x1.71547652b82fep+0 * 32
		shift   = 0x1.8p+52
		c0      = 0x1.c6af84b912394p-5 / 32 / 32 / 32
		c1      = 0x1.ebfce50fac4f3p-3 / 32 / 32
		c2      = 0x1.62e42ff0c52d6p-1 / 32
	)
	z := float64(invLn2N * float64(x))
	kd := float64(z + shift)
	ki := math.Float64bits(kd)
	kd = float64(kd - shift)
	r := float64(z - kd)
	s := math.Float64frombits(exp2fTab[ki%32] + ki<<47)
	zz := float64(float64(c0*r) + c1)
	r2 := float64(r * r)
	y := float64(float64(c2*r) + 1)
	y = float64(float64(zz*r2) + y)
	return float32(y * s)
}

// exp2fTab[i] is the bits of 2^(i/32) minus i<<47, as in the C library.
var exp2fTab = [32]uint64{
	0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
	0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
	0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
	0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
	0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
	0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
	0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
	0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
}
