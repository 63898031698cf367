package tensor

import "math"

// VecKernels are the float32 vector operations of a forward pass besides
// the matrix products: normalisation, rotation, attention over an F16 or
// F32 cache, activations. Slices passed together must have the same
// length (the first operand's length is the one used); the functions do
// not allocate.
type VecKernels struct {
	Level Level

	// DotF32 returns Σ a[i]·b[i], summed in float32 (the exact mode's
	// products). The summation order depends on the level: the exact mode
	// needs float32 accuracy, not one order.
	DotF32 func(a, b []float32) float32
	// AxpyF32 adds a·x to y (fused or not depending on the level).
	AxpyF32 func(y []float32, a float32, x []float32)

	// DotF16 returns Σ f16(k[i])·q[i] for an F16 row k (raw half bits) and
	// float32 q, in the order of ggml's F16 product of one row
	// (ggml_vec_dot_f16), or with gemm of a product of several rows
	// (tinyBLAS, when len(k) is a multiple of 8).
	DotF16 func(k []uint16, q []float32, gemm bool) float32
	// MadF16 sets acc[i] = fma(p, f16(v[i]), acc[i]): one lane of the
	// accumulators of ggml's F16 products, for attention's weighted sum.
	MadF16 func(acc []float32, p float32, v []uint16)
	// SoftmaxExp is the exponential step of ggml's softmax over one row:
	// x[i] = exp(x[i]-m) with ggml's vector expf, the row taken in vectors
	// of 8 (the last one padded with zeros), each vector's sum added to a
	// float64 total, which it returns.
	SoftmaxExp func(x []float32, m float32) float64

	// SumSq returns Σ x[i]² with each square rounded to float32 and the sum
	// kept in float64, as ggml's RMS norm does.
	SumSq func(x []float32) float64
	// ScaleMul sets dst[i] = (x[i]·s)·w[i]; dst may be x.
	ScaleMul func(dst, x []float32, s float32, w []float32)
	// Add sets dst[i] += x[i].
	Add func(dst, x []float32)

	// F32ToF16 converts to IEEE half, rounding to nearest even.
	F32ToF16 func(dst []uint16, src []float32)
	// F16ToF32 converts from IEEE half.
	F16ToF32 func(dst []float32, src []uint16)
	// RoundF16 rounds each value to half precision in place.
	RoundF16 func(x []float32)

	// ExpSub sets x[i] = exp(x[i]-m) and returns their sum in float64.
	// exp may be an approximation within a few float32 ulps.
	ExpSub func(x []float32, m float32) float64
	// Max returns the largest element (-Inf for an empty slice).
	Max func(x []float32) float32
	// Scale multiplies every element by s.
	Scale func(x []float32, s float32)

	// SiluMul sets dst[i] = silu(g[i])·u[i], silu(x) = x/(1+exp(-x)), as
	// ggml computes it (vector expf in groups of 8, the C library's for the
	// rest).
	SiluMul func(dst, g, u []float32)

	// RopeNormal rotates the adjacent pairs (2i, 2i+1) of x by the angles
	// whose cosines and sines are c[i], s[i]; RopeNeoX rotates the pairs
	// (i, i+len(c)). len(x) >= 2·len(c).
	RopeNormal func(x, c, s []float32)
	RopeNeoX   func(x, c, s []float32)
}

// vecLevels holds the vector kernels of each available level.
var vecLevels [numLevels]*VecKernels

// Vec returns the vector kernels of the default level.
func Vec() *VecKernels { return vecLevels[defaultLevel] }

// VecAt returns the vector kernels of level l, and false when l is not
// available.
func VecAt(l Level) (*VecKernels, bool) {
	if !Available(l) || vecLevels[l] == nil {
		return nil, false
	}
	return vecLevels[l], true
}

var genericVec = VecKernels{
	Level:      Generic,
	DotF32:     goDotF32,
	AxpyF32:    goAxpyF32,
	DotF16:     goDotF16,
	MadF16:     goMadF16,
	SoftmaxExp: goSoftmaxExp,
	SumSq:      goSumSq,
	ScaleMul:   goScaleMul,
	Add:        goAdd,
	F32ToF16:   goF32ToF16,
	F16ToF32:   goF16ToF32,
	RoundF16:   goRoundF16,
	ExpSub:     goExpSub,
	Max:        goMax,
	Scale:      goScale,
	SiluMul:    EmuSiluMul,
	RopeNormal: goRopeNormal,
	RopeNeoX:   goRopeNeoX,
}

func goDotF32(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func goDotF16(k []uint16, q []float32, gemm bool) float32 {
	n := len(k)
	if gemm && n%8 == 0 {
		return emuGemmHalf(n, k, q, fp16Conv)
	}
	return emuDotHalf(n, k, q, fp16Conv)
}

func goMadF16(acc []float32, p float32, v []uint16) {
	v = v[:len(acc)]
	for i := range acc {
		acc[i] = fma32(p, fp16Table[v[i]], acc[i])
	}
}

// goSoftmaxExp treats the row as padded with zeros to a multiple of 8:
// ggml's rows are the whole cache window with masked positions at -Inf,
// whose exponentials are zeros.
func goSoftmaxExp(x []float32, m float32) float64 {
	var sum float64
	for i := 0; i < len(x); i += 8 {
		var v [8]float32
		for l := 0; l < 8 && i+l < len(x); l++ {
			v[l] = expf8(float32(x[i+l] - m))
			x[i+l] = v[l]
		}
		sum += float64(hsum8(&v))
	}
	return sum
}

func goAxpyF32(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

func goSumSq(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(float32(v * v))
	}
	return s
}

func goScaleMul(dst, x []float32, s float32, w []float32) {
	x, w = x[:len(dst)], w[:len(dst)]
	for i := range dst {
		dst[i] = float32(x[i]*s) * w[i]
	}
}

func goAdd(dst, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
	}
}

func goF32ToF16(dst []uint16, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = FP32ToFP16(v)
	}
}

func goF16ToF32(dst []float32, src []uint16) {
	src = src[:len(dst)]
	for i, h := range src {
		dst[i] = fp16Table[h]
	}
}

func goRoundF16(x []float32) {
	for i, v := range x {
		x[i] = fp16Table[FP32ToFP16(v)]
	}
}

func goExpSub(x []float32, m float32) float64 {
	var s float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		x[i] = e
		s += float64(e)
	}
	return s
}

func goMax(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

func goScale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

func goRopeNormal(x, c, s []float32) {
	x = x[:2*len(c)]
	s = s[:len(c)]
	for i := range c {
		a, b := x[2*i], x[2*i+1]
		x[2*i], x[2*i+1] = ropePair(a, b, c[i], s[i])
	}
}

func goRopeNeoX(x, c, s []float32) {
	h := len(c)
	x = x[:2*h]
	s = s[:h]
	for i := range c {
		a, b := x[i], x[i+h]
		x[i], x[i+h] = ropePair(a, b, c[i], s[i])
	}
}

// ropePair rotates one pair as ggml's C code does once compiled with fused
// multiply-adds: x0·c − x1·s becomes fma(x0, c, −(x1·s)), and
// x0·s + x1·c becomes fma(x0, s, x1·c).
func ropePair(a, b, c, s float32) (float32, float32) {
	return fma32(a, c, -float32(b*s)), fma32(a, s, float32(b*c))
}
