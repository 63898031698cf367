package tensor_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/internal/testutil"
)

// quantTypes are all the types with a quantizer: the weight types and the
// activation types Q8_1 and Q8_K.
var quantTypes = []tensor.Type{
	tensor.F32, tensor.F16, tensor.BF16,
	tensor.Q8_0, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0, tensor.Q5_1,
	tensor.Q2_K, tensor.Q3_K, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K,
	tensor.Q8_1, tensor.Q8_K,
}

// maxRelRMSE is the largest relative RMS error sqrt(Σ(x-x')²/Σx²) allowed
// when quantizing well-behaved data (Gaussian, uniform, Laplace, positive).
//
// For the plain block types the error of rounding to a grid of step Δ is
// Δ/√12, with Δ = amax/127 (Q8), amax/8 (Q4_0), amax/16 (Q5_0) or
// range/15, range/31 (Q4_1, Q5_1). The worst regular case is Laplace data,
// whose 32-block amax is about 2.9σ: Q8 0.65%, Q4_0 10.3%, Q5_0 5.2%;
// Q8_K's 256-blocks have amax ≈ 4.3σ: 1.0%. The K-quants have no closed form
// (their scales are searched and then quantized to 4-8 bits); their bounds
// are the measured Laplace errors (Q2_K 34%, Q3_K 18%, Q4_K 8.6%, Q5_K 4.3%,
// Q6_K 2.2%). Every bound below is its estimate plus about 20%, so a
// change that costs a fraction of a bit fails. F16 and BF16 are checked per
// element instead (see TestRoundTripFloat).
var maxRelRMSE = map[tensor.Type]float64{
	tensor.F32: 0, tensor.F16: 3e-4, tensor.BF16: 2.3e-3,
	tensor.Q8_0: 0.008, tensor.Q8_1: 0.008, tensor.Q8_K: 0.012,
	tensor.Q4_0: 0.13, tensor.Q4_1: 0.11, tensor.Q5_0: 0.065, tensor.Q5_1: 0.055,
	tensor.Q2_K: 0.41, tensor.Q3_K: 0.215, tensor.Q4_K: 0.105, tensor.Q5_K: 0.052, tensor.Q6_K: 0.027,
}

// distributions of test data, each scaled by several magnitudes.
var distributions = []struct {
	name string
	gen  func(r *rand.Rand) float64
}{
	{"gauss", func(r *rand.Rand) float64 { return r.NormFloat64() }},
	{"uniform", func(r *rand.Rand) float64 { return 2*r.Float64() - 1 }},
	{"laplace", func(r *rand.Rand) float64 { return r.ExpFloat64() * float64(1-2*r.IntN(2)) }},
	{"positive", func(r *rand.Rand) float64 { return 0.5 + r.Float64() }},
}

func quantizeRoundTrip(t *testing.T, ty tensor.Type, x []float32) ([]byte, []float32) {
	t.Helper()
	rb, err := ty.RowBytes(len(x))
	if err != nil {
		t.Fatal(err)
	}
	q := make([]byte, rb)
	if err := tensor.Quantize(ty, x, q); err != nil {
		t.Fatalf("%s: %v", ty, err)
	}
	y := make([]float32, len(x))
	if err := tensor.Dequantize(ty, q, y); err != nil {
		t.Fatalf("%s: %v", ty, err)
	}
	return q, y
}

func relRMSE(x, y []float32) float64 {
	var e, s float64
	for i := range x {
		d := float64(x[i]) - float64(y[i])
		e += d * d
		s += float64(x[i]) * float64(x[i])
	}
	if s == 0 {
		return math.Sqrt(e)
	}
	return math.Sqrt(e / s)
}

func TestRoundTripRandom(t *testing.T) {
	const n = 256 * 32
	r := rand.New(rand.NewPCG(7, 11))
	x := make([]float32, n)
	for _, ty := range quantTypes {
		bound := maxRelRMSE[ty]
		for _, dist := range distributions {
			// At 1e-3 the smallest block scales (Q6_K's d ≈ amax/4096, Q4_K's
			// ≈ amax/900) fall among the half subnormals and lose a little
			// precision, exactly as in ggml; the bounds allow for it. 1e3 is
			// far from the half maximum.
			for _, scale := range []float64{1e-3, 1, 1e3} {
				for i := range x {
					x[i] = float32(scale * dist.gen(r))
				}
				_, y := quantizeRoundTrip(t, ty, x)
				if e := relRMSE(x, y); e > bound || math.IsNaN(e) {
					t.Errorf("%s %s×%g: relative RMSE %.5f > %.5f", ty, dist.name, scale, e, bound)
				}
			}
		}
		// Rare large outliers (1% at 20σ) stretch the blocks they land in
		// (nearly every 256-block of Q8_K gets one); allow 2.5 times the
		// regular bound.
		for i := range x {
			x[i] = float32(r.NormFloat64())
			if r.IntN(100) == 0 {
				x[i] *= 20
			}
		}
		_, y := quantizeRoundTrip(t, ty, x)
		if e := relRMSE(x, y); e > 2.5*bound {
			t.Errorf("%s with outliers: relative RMSE %.5f > %.5f", ty, e, 2.5*bound)
		}
	}
}

// TestRoundTripSpecialBlocks checks all-zero blocks (exact zeros, no NaN from
// a 0/0 scale) and constant blocks (only the half rounding of the scale).
func TestRoundTripSpecialBlocks(t *testing.T) {
	const n = 512
	x := make([]float32, n)
	for _, ty := range quantTypes {
		clear(x)
		_, y := quantizeRoundTrip(t, ty, x)
		for i, v := range y {
			if v != 0 {
				t.Errorf("%s: zero input gives %v at %d", ty, v, i)
				break
			}
		}
		// Magnitudes that keep every block scale a normal half: Q6_K's d is
		// amax/4096, so below about 0.25 it becomes subnormal and the
		// constant comes back with up to 1% error (a property of the format).
		for _, c := range []float32{1, -1, 0.3, -2.7, 123.4} {
			for i := range x {
				x[i] = c
			}
			_, y := quantizeRoundTrip(t, ty, x)
			// A block scale is a half (relative rounding ≤ 2^-11), then
			// multiplied back by an integer level; bf16 rounds to 2^-8.
			tol := 1.0 / 1024
			if ty == tensor.BF16 {
				tol = 1.0 / 256
			}
			for i, v := range y {
				if math.Abs(float64(v-c)) > tol*math.Abs(float64(c)) {
					t.Errorf("%s: constant %v comes back as %v at %d", ty, c, v, i)
					break
				}
			}
		}
		// A mix of zero and non-zero blocks: the zero blocks stay zero.
		bs := ty.BlockSize()
		if bs == 1 {
			continue
		}
		r := rand.New(rand.NewPCG(3, uint64(ty)))
		for i := range x {
			x[i] = 0
			if (i/bs)%2 == 1 {
				x[i] = float32(r.NormFloat64())
			}
		}
		_, y = quantizeRoundTrip(t, ty, x)
		for i, v := range y {
			if (i/bs)%2 == 0 && v != 0 {
				t.Errorf("%s: element %d of an all-zero block comes back as %v", ty, i, v)
				break
			}
		}
	}
}

// TestRoundTripExtremeMagnitudes: Q8_K keeps its scale in float32, so it
// must work far outside the half range; the half-scaled types must at least
// stay finite for values up to the half maximum times their level count.
func TestRoundTripExtremeMagnitudes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 1024)
	for _, scale := range []float64{1e-30, 1e30} {
		for i := range x {
			x[i] = float32(scale * r.NormFloat64())
		}
		_, y := quantizeRoundTrip(t, tensor.Q8_K, x)
		if e := relRMSE(x, y); e > maxRelRMSE[tensor.Q8_K] {
			t.Errorf("Q8_K at scale %g: relative RMSE %.5f", scale, e)
		}
	}
	for _, ty := range quantTypes {
		for i := range x {
			x[i] = float32(1e4 * r.NormFloat64())
		}
		_, y := quantizeRoundTrip(t, ty, x)
		if e := relRMSE(x, y); e > maxRelRMSE[ty] {
			t.Errorf("%s at scale 1e4: relative RMSE %.5f > %.5f", ty, e, maxRelRMSE[ty])
		}
	}
}

// TestRoundTripFloat checks F16 and BF16 element by element: one rounding,
// so the relative error is at most half an ulp (2^-11 and 2^-8) in the
// normal range.
func TestRoundTripFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(math.Exp(r.NormFloat64()*3) * float64(1-2*r.IntN(2)))
	}
	for _, c := range []struct {
		ty  tensor.Type
		ulp float64
	}{{tensor.F16, 1.0 / 2048}, {tensor.BF16, 1.0 / 256}, {tensor.F32, 0}} {
		_, y := quantizeRoundTrip(t, c.ty, x)
		for i := range x {
			if d := math.Abs(float64(x[i]) - float64(y[i])); d > c.ulp*math.Abs(float64(x[i])) {
				t.Errorf("%s: %v comes back as %v", c.ty, x[i], y[i])
				break
			}
		}
	}
}

// TestRequantizeFileData dequantizes real tensors, quantizes them again and
// dequantizes once more. The plain block types and F16/BF16 must give back
// the very same bytes (their grid is reproduced exactly); the K-quants, whose
// scale search may settle elsewhere, must stay well inside their own error.
func TestRequantizeFileData(t *testing.T) {
	dir := testutil.Shared(t, "testdata", "models", "synthetic")
	exact := map[tensor.Type]bool{tensor.F16: true, tensor.BF16: true, tensor.Q8_0: true, tensor.Q4_0: true,
		tensor.Q4_1: true, tensor.Q5_0: true, tensor.Q5_1: true}
	seen := map[tensor.Type]bool{}
	for _, suffix := range []string{"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"} {
		f, err := gguf.Open(filepath.Join(dir, "syn-qwen2-256-"+suffix+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range f.Tensors {
			if ti.Type == tensor.F32 {
				continue
			}
			seen[ti.Type] = true
			d1 := make([]float32, ti.Elements())
			if err := tensor.Dequantize(ti.Type, ti.Data, d1); err != nil {
				t.Fatal(err)
			}
			q, d2 := quantizeRoundTrip(t, ti.Type, d1)
			if exact[ti.Type] {
				if !bytes.Equal(q, ti.Data) {
					t.Errorf("%s %s: requantized bytes differ from the file", suffix, ti.Name)
				}
				continue
			}
			if e := relRMSE(d1, d2); e > maxRelRMSE[ti.Type]/4 {
				t.Errorf("%s %s: requantizing moved the values by %.5f (relative RMSE)", suffix, ti.Name, e)
			}
		}
		f.Close()
	}
	if len(seen) != 12 {
		t.Errorf("checked types %v, want all 12 weight types", seen)
	}
}
