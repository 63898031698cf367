package model

import (
	"math"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/testutil"
)

func loadInternal(t *testing.T, stem string, exact bool) *Model {
	t.Helper()
	f, err := gguf.Open(testutil.Shared(t, "testdata", "models", "synthetic", stem+".gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := LoadWithOptions(f, Options{Threads: 1, Exact: exact})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// cacheRow returns layer l's key and value at position p as float32.
func cacheRow(s *Sequence, l, p int) (k, v []float32) {
	c := &s.m.Config
	kvDim, vDim := c.NHeadKV*c.HeadDim, c.NHeadKV*c.HeadDimV
	if s.m.exact {
		return append([]float32(nil), s.k[l][p*kvDim:(p+1)*kvDim]...), append([]float32(nil), s.v[l][p*vDim:(p+1)*vDim]...)
	}
	k, v = make([]float32, kvDim), make([]float32, vDim)
	s.m.vec.F16ToF32(k, s.k16[l][p*kvDim:(p+1)*kvDim])
	if s.vT[l] {
		h := make([]uint16, vDim)
		for d := range h {
			h[d] = s.v16[l][d*s.vStride+p]
		}
		s.m.vec.F16ToF32(v, h)
	} else {
		s.m.vec.F16ToF32(v, s.v16[l][p*vDim:(p+1)*vDim])
	}
	return k, v
}

func maxDiff(a, b []float32) (d, scale float64) {
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return d, scale
}

// TestShiftMovesAndRotatesKeys checks the context shift against what it
// must equal. Layer 0's keys and values depend only on each token and its
// position, so after a shift they must match a sequence that evaluated the
// kept tokens from scratch (keys to F16 rounding, values exactly); and a
// shift by a+b must match a shift by a then b in every layer.
func TestShiftMovesAndRotatesKeys(t *testing.T) {
	tokens := make([]int32, 40)
	for i := range tokens {
		tokens[i] = int32(1 + (i*37)%200)
	}
	const keep, discard = 4, 13
	for _, stem := range []string{"syn-llama-256-F16", "syn-qwen2-256-Q8_0", "syn-qwen3-256-Q4_K", "syn-phi3-256-Q8_0"} {
		for _, exact := range []bool{false, true} {
			m := loadInternal(t, stem, exact)
			name := stem + map[bool]string{false: "/fast", true: "/exact"}[exact]
			eval := func(toks []int32) *Session {
				s, err := m.NewSession(64)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Eval(toks); err != nil {
					t.Fatal(err)
				}
				return s
			}
			shifted := eval(tokens)
			if err := shifted.Shift(keep, discard); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if shifted.Pos() != len(tokens)-discard {
				t.Fatalf("%s: position %d after the shift, want %d", name, shifted.Pos(), len(tokens)-discard)
			}
			kept := append(append([]int32(nil), tokens[:keep]...), tokens[keep+discard:]...)
			fresh := eval(kept)
			tol := 2e-3 // two F16 roundings of the key
			if exact {
				tol = 1e-5
			}
			for p := range kept {
				k1, v1 := cacheRow(shifted.Sequence, 0, p)
				k2, v2 := cacheRow(fresh.Sequence, 0, p)
				if d, sc := maxDiff(k1, k2); d > tol*max(sc, 1) {
					t.Fatalf("%s: layer 0 key at %d differs from a fresh evaluation by %g (scale %g)", name, p, d, sc)
				}
				if d, _ := maxDiff(v1, v2); d != 0 {
					t.Fatalf("%s: layer 0 value at %d differs from a fresh evaluation by %g", name, p, d)
				}
			}

			twice := eval(tokens)
			if err := twice.Shift(keep, 5); err != nil {
				t.Fatal(err)
			}
			if err := twice.Shift(keep, discard-5); err != nil {
				t.Fatal(err)
			}
			for l := range m.Layers {
				for p := 0; p < shifted.Pos(); p++ {
					k1, v1 := cacheRow(shifted.Sequence, l, p)
					k2, v2 := cacheRow(twice.Sequence, l, p)
					if d, sc := maxDiff(k1, k2); d > 2*tol*max(sc, 1) {
						t.Fatalf("%s: layer %d key at %d: one shift and two differ by %g (scale %g)", name, l, p, d, sc)
					}
					if d, _ := maxDiff(v1, v2); d != 0 {
						t.Fatalf("%s: layer %d value at %d: one shift and two differ by %g", name, l, p, d)
					}
				}
			}
			// Evaluation goes on after the shift, up to the full context again.
			logits, err := shifted.Eval(tokens[:64-shifted.Pos()])
			if err != nil {
				t.Fatalf("%s: eval after the shift: %v", name, err)
			}
			for _, x := range logits {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					t.Fatalf("%s: non-finite logit after the shift", name)
				}
			}
		}
	}
}

func TestShiftRefuses(t *testing.T) {
	m := loadInternal(t, "syn-llama-256-Q8_0", false)
	s, err := m.NewSession(32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Eval([]int32{1, 2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	for _, a := range [][2]int{{-1, 2}, {0, 0}, {2, 5}, {6, 1}} {
		if err := s.Shift(a[0], a[1]); err == nil || s.Pos() != 6 {
			t.Errorf("Shift(%d, %d) of 6 positions: err %v, position %d", a[0], a[1], err, s.Pos())
		}
	}
	g := loadInternal(t, "syn-gemma2-32-Q8_0", false)
	gs, err := g.NewSession(32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gs.Eval([]int32{1, 2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	if g.CanShift() {
		t.Fatal("gemma2 (sliding-window layers) reports CanShift")
	}
	if err := gs.Shift(1, 2); err == nil || !strings.Contains(err.Error(), "sliding-window") || gs.Pos() != 6 {
		t.Fatalf("shift of a sliding-window model: %v, position %d", err, gs.Pos())
	}
}
