package tensor_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// halfValue is an independent decoding of a binary16 pattern from the IEEE
// definition, in float64.
func halfValue(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return sign * math.Ldexp(m, -24)
	case 0x1f:
		if m == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+m/1024, e-15)
}

func TestFP16ToFP32AllHalfs(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := tensor.FP16ToFP32(h)
		want := halfValue(h)
		if math.IsNaN(want) {
			b := math.Float32bits(got)
			if !math.IsNaN(float64(got)) || uint16(b>>16)&0x8000 != h&0x8000 || (b>>13)&0x3ff != uint32(h&0x3ff) {
				t.Errorf("FP16ToFP32(%#04x) = %#08x, want a NaN with the same sign and payload", h, b)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (h&0x8000 != 0) {
			t.Errorf("FP16ToFP32(%#04x) = %v, want %v", h, got, want)
		}
		// Round trip: every half is exactly representable.
		if back := tensor.FP32ToFP16(got); back != h {
			t.Errorf("FP32ToFP16(FP16ToFP32(%#04x)) = %#04x", h, back)
		}
	}
	// NaNs stay NaNs (quiet) through a round trip.
	for _, h := range []uint16{0x7c01, 0x7e00, 0xfc01, 0x7fff} {
		back := tensor.FP32ToFP16(tensor.FP16ToFP32(h))
		if back&0x7c00 != 0x7c00 || back&0x3ff == 0 || back&0x200 == 0 || back&0x8000 != h&0x8000 {
			t.Errorf("NaN %#04x comes back as %#04x", h, back)
		}
	}
}

// positiveHalfs lists the finite non-negative halves in increasing order,
// with +Inf as a sentinel; bit patterns 0..0x7c00 are monotone in value.
func positiveHalfs() []float64 {
	v := make([]float64, 0x7c01)
	for i := range v {
		v[i] = halfValue(uint16(i))
	}
	return v
}

// nearestHalf is the rounding oracle: the half nearest to f, ties to the even
// pattern, with overflow to Inf at 65520 (the midpoint to the next binade).
func nearestHalf(vals []float64, f float32) uint16 {
	a := math.Abs(float64(f))
	var sign uint16
	if math.Signbit(float64(f)) {
		sign = 0x8000
	}
	if a >= 65520 {
		return sign | 0x7c00
	}
	i := sort.SearchFloat64s(vals, a) // first with vals[i] >= a
	if vals[i] == a {
		return sign | uint16(i)
	}
	lo, hi := vals[i-1], vals[i]
	if i == 0x7c00 {
		hi = 65536 // Inf stands for the next binade when rounding
	}
	switch {
	case a-lo < hi-a:
		return sign | uint16(i-1)
	case a-lo > hi-a:
		return sign | uint16(i)
	case (i-1)%2 == 0:
		return sign | uint16(i-1)
	default:
		return sign | uint16(i)
	}
}

func TestFP32ToFP16Rounding(t *testing.T) {
	vals := positiveHalfs()
	check := func(f float32) {
		t.Helper()
		if got, want := tensor.FP32ToFP16(f), nearestHalf(vals, f); got != want {
			t.Fatalf("FP32ToFP16(%v = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	// Every midpoint between neighbouring halves, and one float32 ulp on
	// either side of it (midpoints are exact in float32).
	for i := 0; i < 0x7bff; i++ {
		mid := float32((vals[i] + vals[i+1]) / 2)
		for _, f := range []float32{mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, 1e9)} {
			check(f)
			check(-f)
		}
	}
	// The overflow edge and the underflow edge.
	for _, f := range []float32{65504, 65519.996, 65520, 65536, 1e10, float32(math.Inf(1)),
		0x1p-25, math.Nextafter32(0x1p-25, 1), math.Nextafter32(0x1p-25, 0), 0x1p-24, 0x1.8p-24, 1e-40, 0} {
		check(f)
		check(-f)
	}
	// Random float32 bit patterns over the whole range.
	r := rand.New(rand.NewPCG(9, 9))
	for range 200000 {
		f := math.Float32frombits(r.Uint32())
		if f != f {
			continue
		}
		check(f)
	}
	// Random values in the half range, where the rounding matters most.
	for range 200000 {
		check(float32(r.NormFloat64() * math.Exp(r.NormFloat64()*4)))
	}
}

func TestBF16(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := tensor.BF16ToFP32(h)
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("BF16ToFP32(%#04x) = %#08x", h, math.Float32bits(f))
		}
		back := tensor.FP32ToBF16(f)
		if f != f {
			if back&0x7f80 != 0x7f80 || back&0x40 == 0 || back&0x8000 != h&0x8000 {
				t.Errorf("NaN %#04x comes back as %#04x, want a quiet NaN", h, back)
			}
			continue
		}
		if back != h {
			t.Errorf("FP32ToBF16(BF16ToFP32(%#04x)) = %#04x", h, back)
		}
	}
	// Rounding oracle: of the two bf16 neighbours (truncated and one up),
	// the nearer, ties to even; 2^128 stands in for Inf.
	val := func(b uint32) float64 {
		if b&0x7fff == 0x7f80 {
			return math.Copysign(0x1p128, float64(math.Float32frombits(b<<16)))
		}
		return float64(math.Float32frombits(b << 16))
	}
	r := rand.New(rand.NewPCG(2, 4))
	cases := []uint32{0x3f808000, 0x3f818000, 0x3f808001, 0x3f817fff, 0x7f7fffff, 0xff7fffff, 0x00008000, 0x00018000}
	for range 300000 {
		cases = append(cases, r.Uint32())
	}
	{
		for _, u := range cases {
			f := math.Float32frombits(u)
			if f != f || math.IsInf(float64(f), 0) {
				continue
			}
			lo := u >> 16
			hi := lo + 1
			x := float64(f)
			dl, dh := math.Abs(x-val(lo)), math.Abs(val(hi)-x)
			want := lo
			if dh < dl || (dh == dl && lo&1 == 1) {
				want = hi
			}
			if got := tensor.FP32ToBF16(f); uint32(got) != want {
				t.Fatalf("FP32ToBF16(%#08x) = %#04x, want %#04x", u, got, want)
			}
		}
	}
}
