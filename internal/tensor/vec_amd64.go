//go:build amd64 && !purego

package tensor

import "unsafe"

// Assembly halves of the AVX2 vector kernels (vec_amd64.s); the wrappers
// below check lengths and do the leftovers the assembly leaves.

//go:noescape
func softmaxExp8(x *float32, n8 int, m float32) float64

//go:noescape
func siluMul8(dst, gate, u *float32, n8 int)

//go:noescape
func madF16(acc *float32, p float32, v *uint16, n int)

//go:noescape
func roundF16(x *float32, n int)

//go:noescape
func f32ToF16(dst *uint16, src *float32, n int)

//go:noescape
func f16ToF32(dst *float32, src *uint16, n int)

//go:noescape
func axpyF32(y *float32, a float32, x *float32, n int)

//go:noescape
func scaleMul(dst, x *float32, s float32, w *float32, n int)

//go:noescape
func addF32(dst, x *float32, n int)

//go:noescape
func scaleF32(x *float32, s float32, n int)

//go:noescape
func ropeNeoX(x, c, s *float32, h int)

//go:noescape
func ropeNormal(x, c, s *float32, h int)

func registerVecAVX2(v *VecKernels) {
	v.DotF32 = avx2DotF32
	v.ScaleMul = avx2ScaleMul
	v.Add = avx2Add
	v.Scale = avx2Scale
	v.AxpyF32 = avx2AxpyF32
	v.DotF16 = avx2DotF16
	v.MadF16 = avx2MadF16
	v.SoftmaxExp = avx2SoftmaxExp
	v.SiluMul = avx2SiluMul
	v.RoundF16 = avx2RoundF16
	v.F32ToF16 = avx2F32ToF16
	v.F16ToF32 = avx2F16ToF32
	v.RopeNormal = avx2RopeNormal
	v.RopeNeoX = avx2RopeNeoX
}

func registerVecAVX512(v *VecKernels) {}

func avx2DotF16(k []uint16, q []float32, gemm bool) float32 {
	n := len(k)
	if n == 0 {
		return 0
	}
	q = q[:n]
	var r float32
	if gemm && n%8 == 0 {
		f16gRows1(n, unsafe.Pointer(&k[0]), 0, 1, unsafe.Pointer(&q[0]), unsafe.Pointer(&r))
	} else {
		f16Rows1(n, unsafe.Pointer(&k[0]), 0, 1, unsafe.Pointer(&q[0]), unsafe.Pointer(&r))
	}
	return r
}

func avx2MadF16(acc []float32, p float32, v []uint16) {
	if len(acc) == 0 {
		return
	}
	v = v[:len(acc)]
	madF16(&acc[0], p, &v[0], len(acc))
}

func avx2SoftmaxExp(x []float32, m float32) float64 {
	n8 := len(x) / 8
	var sum float64
	if n8 > 0 {
		sum = softmaxExp8(&x[0], n8, m)
	}
	if rest := x[8*n8:]; len(rest) > 0 {
		var v [8]float32
		for l := range rest {
			v[l] = expf8(float32(rest[l] - m))
			rest[l] = v[l]
		}
		sum += float64(hsum8(&v))
	}
	return sum
}

func avx2SiluMul(dst, g, u []float32) {
	n := len(dst)
	g, u = g[:n], u[:n]
	n8 := n / 8
	if n8 > 0 {
		siluMul8(&dst[0], &g[0], &u[0], n8)
	}
	for i := 8 * n8; i < n; i++ {
		dst[i] = float32(siluLibm(g[i]) * u[i])
	}
}

func avx2RoundF16(x []float32) {
	if len(x) > 0 {
		roundF16(&x[0], len(x))
	}
}

func avx2F32ToF16(dst []uint16, src []float32) {
	if len(dst) > 0 {
		src = src[:len(dst)]
		f32ToF16(&dst[0], &src[0], len(dst))
	}
}

func avx2F16ToF32(dst []float32, src []uint16) {
	if len(dst) > 0 {
		src = src[:len(dst)]
		f16ToF32(&dst[0], &src[0], len(dst))
	}
}

func avx2RopeNormal(x, c, s []float32) {
	h := len(c)
	if h == 0 {
		return
	}
	x, s = x[:2*h], s[:h]
	ropeNormal(&x[0], &c[0], &s[0], h)
}

func avx2RopeNeoX(x, c, s []float32) {
	h := len(c)
	if h == 0 {
		return
	}
	x, s = x[:2*h], s[:h]
	ropeNeoX(&x[0], &c[0], &s[0], h)
}

// avx2DotF32 is the exact mode's float32 product: ggml_vec_dot_f32's order
// (four eight-lane accumulators), which differs from the portable loop's
// but is as exact.
func avx2DotF32(a, b []float32) float32 {
	n := len(a)
	if n == 0 {
		return 0
	}
	b = b[:n]
	var r float32
	f32Rows1(n, unsafe.Pointer(&a[0]), 0, 1, unsafe.Pointer(&b[0]), unsafe.Pointer(&r))
	return r
}

// avx2AxpyF32 fuses each multiply-add (the portable loop rounds twice).
func avx2AxpyF32(y []float32, a float32, x []float32) {
	if len(y) > 0 {
		x = x[:len(y)]
		axpyF32(&y[0], a, &x[0], len(y))
	}
}

func avx2ScaleMul(dst, x []float32, s float32, w []float32) {
	if n := len(dst); n > 0 {
		x, w = x[:n], w[:n]
		scaleMul(&dst[0], &x[0], s, &w[0], n)
	}
}

func avx2Add(dst, x []float32) {
	if n := len(dst); n > 0 {
		x = x[:n]
		addF32(&dst[0], &x[0], n)
	}
}

func avx2Scale(x []float32, s float32) {
	if len(x) > 0 {
		scaleF32(&x[0], s, len(x))
	}
}
