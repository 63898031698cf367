package tensor_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// sameF32 reports whether two results are the same float32 bits (any two
// NaNs count as the same).
func sameF32(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

func sameHalf(a, b uint16) bool {
	nan := func(h uint16) bool { return h&0x7c00 == 0x7c00 && h&0x3ff != 0 }
	return a == b || (nan(a) && nan(b))
}

// vecValues returns n values of one of several kinds: normal of random
// scale, tiny (subnormal in half), huge, special values, exact halfway
// cases of half precision.
func vecValues(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	kind := r.IntN(6)
	scale := math.Exp(r.NormFloat64() * 3)
	for i := range x {
		switch kind {
		case 0, 1:
			x[i] = float32(r.NormFloat64() * scale)
		case 2:
			x[i] = float32(r.NormFloat64() * 1e-6)
		case 3:
			x[i] = float32(r.NormFloat64() * 7e4)
		case 4:
			specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
				float32(math.NaN()), 65504, 65520, -65520, 6e-8, 3e-8, 1e-45, 0.5, -200, 200, 88.7, -104}
			x[i] = specials[r.IntN(len(specials))]
		case 5: // halfway between two halves
			h := uint16(r.IntN(0x7bff))
			a, b := tensor.FP16ToFP32(h), tensor.FP16ToFP32(h+1)
			x[i] = float32((float64(a) + float64(b)) / 2)
			if r.IntN(2) == 0 {
				x[i] = -x[i]
			}
		}
	}
	return x
}

func randomHalves(r *rand.Rand, n int) []uint16 {
	h := make([]uint16, n)
	scale := math.Exp(r.NormFloat64())
	for i := range h {
		h[i] = tensor.FP32ToFP16(float32(r.NormFloat64() * scale))
	}
	return h
}

// TestVecLevelsBitExact holds every level's vector kernels to the portable
// versions: the same float32 bits for random and edge-case inputs of every
// length up to 80 and a few longer ones (so vector loops, their leftovers
// and empty slices all run).
func TestVecLevelsBitExact(t *testing.T) {
	ref, _ := tensor.VecAt(tensor.Generic)
	r := rand.New(rand.NewPCG(5, 9))
	var lengths []int
	for n := 0; n <= 80; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 127, 128, 256, 1000)
	for _, lv := range tensor.Levels()[1:] {
		v, ok := tensor.VecAt(lv)
		if !ok {
			t.Fatalf("level %s listed but has no vector kernels", lv)
		}
		for _, n := range lengths {
			for trial := 0; trial < 4; trial++ {
				checkVec(t, lv, ref, v, r, n)
			}
		}
	}
}

func checkVec(t *testing.T, lv tensor.Level, ref, v *tensor.VecKernels, r *rand.Rand, n int) {
	t.Helper()
	cmp := func(op string, got, want []float32) {
		t.Helper()
		for i := range got {
			if !sameF32(got[i], want[i]) {
				t.Fatalf("%s %s n=%d: element %d = %v (%#x), portable %v (%#x)", lv, op, n, i,
					got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			}
		}
	}
	x := vecValues(r, n)

	// F16 conversions and rounding.
	h1, h2 := make([]uint16, n), make([]uint16, n)
	v.F32ToF16(h1, x)
	ref.F32ToF16(h2, x)
	for i := range h1 {
		if !sameHalf(h1[i], h2[i]) {
			t.Fatalf("%s F32ToF16 n=%d: %v -> %#x, portable %#x", lv, n, x[i], h1[i], h2[i])
		}
	}
	a, b := slices.Clone(x), slices.Clone(x)
	v.RoundF16(a)
	ref.RoundF16(b)
	cmp("RoundF16", a, b)
	hs := make([]uint16, n)
	for i := range hs {
		hs[i] = uint16(r.Uint32())
	}
	v.F16ToF32(a, hs)
	ref.F16ToF32(b, hs)
	cmp("F16ToF32", a, b)

	// Softmax's exponentials: x - max spans the whole range of expf8's
	// branches (below -126·ln2 and -192·ln2 too).
	sx := make([]float32, n)
	for i := range sx {
		sx[i] = float32(r.NormFloat64() * math.Exp(r.NormFloat64()*2) * 20)
	}
	if n > 0 && r.IntN(4) == 0 {
		sx[r.IntN(n)] = float32(math.Inf(-1))
	}
	m := float32(r.NormFloat64() * 10)
	a, b = slices.Clone(sx), slices.Clone(sx)
	s1, s2 := v.SoftmaxExp(a, m), ref.SoftmaxExp(b, m)
	cmp("SoftmaxExp", a, b)
	if math.Float64bits(s1) != math.Float64bits(s2) && !(s1 != s1 && s2 != s2) {
		t.Fatalf("%s SoftmaxExp n=%d: sum %v, portable %v", lv, n, s1, s2)
	}

	// SiLU: gates over the whole float range (exp overflows and underflows).
	u := vecValues(r, n)
	a, b = make([]float32, n), make([]float32, n)
	v.SiluMul(a, sx, u)
	ref.SiluMul(b, sx, u)
	cmp("SiluMul", a, b)
	v.SiluMul(a, x, u)
	ref.SiluMul(b, x, u)
	cmp("SiluMul", a, b)

	// F16 products.
	k := randomHalves(r, n)
	q := vecValues(r, n)
	if r.IntN(2) == 0 {
		for i := range q {
			q[i] = float32(r.NormFloat64())
		}
	}
	for _, gemm := range []bool{false, true} {
		if got, want := v.DotF16(k, q, gemm), ref.DotF16(k, q, gemm); !sameF32(got, want) {
			t.Fatalf("%s DotF16 n=%d gemm=%v: %v, portable %v", lv, n, gemm, got, want)
		}
	}
	acc := make([]float32, n)
	for i := range acc {
		acc[i] = float32(r.NormFloat64())
	}
	a, b = slices.Clone(acc), slices.Clone(acc)
	p := float32(r.NormFloat64())
	v.MadF16(a, p, k)
	ref.MadF16(b, p, k)
	cmp("MadF16", a, b)

	// Element-wise arithmetic (RMS norm's scaling, residual adds).
	w := vecValues(r, n)
	sc := float32(r.NormFloat64())
	a, b = make([]float32, n), make([]float32, n)
	v.ScaleMul(a, x, sc, w)
	ref.ScaleMul(b, x, sc, w)
	cmp("ScaleMul", a, b)
	a, b = slices.Clone(x), slices.Clone(x)
	v.ScaleMul(a, a, sc, w) // in place
	ref.ScaleMul(b, b, sc, w)
	cmp("ScaleMul in place", a, b)
	a, b = slices.Clone(x), slices.Clone(x)
	v.Add(a, w)
	ref.Add(b, w)
	cmp("Add", a, b)
	v.Scale(a, sc)
	ref.Scale(b, sc)
	cmp("Scale", a, b)

	// RoPE over n/2 pairs.
	hn := n / 2
	c, s := make([]float32, hn), make([]float32, hn)
	for i := range c {
		th := r.Float64() * 100
		c[i], s[i] = float32(math.Cos(th)), float32(math.Sin(th))
	}
	a, b = slices.Clone(x), slices.Clone(x)
	v.RopeNormal(a, c, s)
	ref.RopeNormal(b, c, s)
	cmp("RopeNormal", a, b)
	a, b = slices.Clone(x), slices.Clone(x)
	v.RopeNeoX(a, c, s)
	ref.RopeNeoX(b, c, s)
	cmp("RopeNeoX", a, b)
}

// TestVecFloatAccuracy holds the exact mode's float32 kernels, whose order
// may differ between levels, to float32 accuracy: the float64 result within
// n·2⁻²³·Σ|a·b| for the dot product, one rounding for the multiply-add.
func TestVecFloatAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, lv := range tensor.Levels() {
		v, _ := tensor.VecAt(lv)
		for _, n := range []int{0, 1, 7, 8, 31, 32, 33, 100, 1000} {
			a, b := make([]float32, n), make([]float32, n)
			var exact, mag float64
			for i := range a {
				a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64()*100)
				exact += float64(a[i]) * float64(b[i])
				mag += math.Abs(float64(a[i]) * float64(b[i]))
			}
			if got := v.DotF32(a, b); math.Abs(float64(got)-exact) > float64(n+1)*0x1p-23*mag {
				t.Errorf("%s DotF32 n=%d: %v, exact %v", lv, n, got, exact)
			}
			y := slices.Clone(b)
			s := float32(r.NormFloat64())
			v.AxpyF32(y, s, a)
			for i := range y {
				want := float64(b[i]) + float64(s)*float64(a[i])
				if math.Abs(float64(y[i])-want) > 0x1p-22*(math.Abs(want)+math.Abs(float64(s)*float64(a[i]))) {
					t.Fatalf("%s AxpyF32 n=%d element %d: %v, exact %v", lv, n, i, y[i], want)
				}
			}
		}
	}
}
