package tensor

import (
	"math"
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
