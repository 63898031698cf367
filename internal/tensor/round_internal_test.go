package tensor

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestRoundAway compares the 8-bit quantizers' rounding with math.Round
// (C's roundf) on ties, near-ties and random values.
func TestRoundAway(t *testing.T) {
	vals := []float32{0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, -0.49999997, 126.5, -127.5, 127.49999, 1e-30}
	r := rand.New(rand.NewPCG(1, 3))
	for range 100000 {
		vals = append(vals, float32(r.Float64()*300-150), float32(math.Floor(r.Float64()*300-150)+0.5))
	}
	for _, v := range vals {
		for _, f := range []float32{v, math.Nextafter32(v, 200), math.Nextafter32(v, -200)} {
			if got, want := roundAway(f), int32(math.Round(float64(f))); got != want {
				t.Fatalf("roundAway(%v) = %d, want %d", f, got, want)
			}
		}
	}
}

// TestNearestInt compares ggml's nearest_int trick with round-half-even.
func TestNearestInt(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	for range 100000 {
		f := float32(r.NormFloat64() * 1000)
		if r.IntN(4) == 0 {
			f = float32(math.Floor(float64(f))) + 0.5
		}
		if got, want := nearestInt(f), int32(math.RoundToEven(float64(f))); got != want {
			t.Fatalf("nearestInt(%v) = %d, want %d", f, got, want)
		}
	}
}

// TestFMA32 checks the emulated single-rounding multiply-add against exact
// big.Float arithmetic, on random operands and on operands built so that
// a·b+c falls exactly halfway between two float32 values after rounding to
// float64 (where a naive float64 computation rounds twice).
func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	exact := func(a, b, c float32) float32 {
		x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		x.Mul(x, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
		f, _ := x.Float32() // nearest even, one rounding
		return f
	}
	check := func(a, b, c float32) {
		if got, want := fma32(a, b, c), exact(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
		}
	}
	for i := 0; i < 200000; i++ {
		a := float32(r.NormFloat64() * math.Exp(r.NormFloat64()*10))
		b := float32(r.NormFloat64() * math.Exp(r.NormFloat64()*10))
		c := float32(r.NormFloat64() * math.Exp(r.NormFloat64()*10))
		check(a, b, c)
	}
	// Midpoints: c = 1, a·b = 2^-24 + tiny, so that a·b+c lies just above
	// the midpoint between 1 and its successor.
	for i := 0; i < 2000; i++ {
		a := float32(1 + float64(r.IntN(1<<20))*0x1p-23)
		b := float32(0x1p-24 / float64(a))
		for _, c := range []float32{1, -1, 3, 0x1p-100, 0x1p-126} {
			check(a, b, c)
			check(a, -b, c)
			check(a, math.Nextafter32(b, 1), c)
			check(a, math.Nextafter32(b, 0), c)
		}
	}
	// Subnormal results.
	for i := 0; i < 20000; i++ {
		a := float32(r.NormFloat64() * 0x1p-70)
		b := float32(r.NormFloat64() * 0x1p-70)
		c := float32(r.NormFloat64() * 0x1p-140)
		check(a, b, c)
	}
}
