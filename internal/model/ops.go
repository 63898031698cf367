package model

import (
	"math"
	"sync"

	"github.com/golem-llm/golem/internal/tensor"
)

// gelu is the tanh approximation of GELU, computed in float32 precision.
func gelu(x float32) float32 {
	const sqrt2OverPi = 0.7978845608028654
	x64 := float64(x)
	return float32(0.5 * x64 * (1 + math.Tanh(sqrt2OverPi*x64*(1+0.044715*x64*x64))))
}

// geluTable is ggml's GELU table (GGML_GELU_FP16): for every half value h,
// gelu(h) rounded to a half, here stored as float32.
var geluTable = sync.OnceValue(func() []float32 {
	t := make([]float32, 1<<16)
	for i := range t {
		t[i] = tensor.FP16ToFP32(tensor.FP32ToFP16(gelu(tensor.FP16ToFP32(uint16(i)))))
	}
	return t
})

// geluF16 is GELU as ggml's CPU backend computes it: 0 below -10, the
// identity above 10, and in between the table entry of x rounded to half.
func geluF16(table []float32, x float32) float32 {
	switch {
	case x <= -10:
		return 0
	case x >= 10:
		return x
	}
	return table[tensor.FP32ToFP16(x)]
}

func silu(x float32) float32 {
	return x / (1 + float32(math.Exp(float64(-x))))
}

// softcap is ggml's soft-capping: tanh(v·(1/c))·c.
func softcap(v, c float32) float32 {
	return float32(math.Tanh(float64(v*(1/c)))) * c
}

func softcapAll(x []float32, c float32) {
	for i, v := range x {
		x[i] = softcap(v, c)
	}
}

// ropeTables fills the cosines and sines of RoPE table set for the
// positions of the T tokens of this batch, as ggml computes them: the
// angle of pair i is pos·θ^i with θ = base^(-2/dims), accumulated in
// float32 one pair at a time, divided by the pair's frequency factor, and
// scaled (linearly, or blended by YaRN).
func (w *Workspace) ropeTables(set, T int) {
	c := &w.m.Config
	r := &w.m.ropes[set]
	half := c.RopeDim / 2
	freqScale := float32(r.freqScale)
	var corr0, corr1 float32
	mscale := float32(1)
	extFactor := float32(0)
	if r.yarn {
		corr0, corr1 = yarnCorrDims(c.RopeDim, c.YarnOrigCtx, float32(r.base))
		extFactor = float32(c.YarnExtFactor)
		mscale = float32(c.YarnAttnFactor) * (1 + 0.1*float32(math.Log(float64(1/freqScale))))
	}
	cs, sn := w.cos[set], w.sin[set]
	for t := 0; t < T; t++ {
		theta := float32(w.pos[t])
		for i := 0; i < half; i++ {
			extrap := theta
			if r.factors != nil {
				extrap = theta / r.factors[i]
			}
			interp := freqScale * extrap
			ang := interp
			if extFactor != 0 {
				ramp := yarnRamp(corr0, corr1, 2*i) * extFactor
				ang = interp*(1-ramp) + extrap*ramp
			}
			cs[t*half+i] = float32(math.Cos(float64(ang))) * mscale
			sn[t*half+i] = float32(math.Sin(float64(ang))) * mscale
			theta *= r.thetaScale
		}
	}
}

// ropeDelta fills cs and sn with the cosines and sines that rotate a key
// RoPE'd with table set by delta positions (Sequence.Shift): the angle of
// each pair is linear in the position, so this is the angle at position
// delta, computed in float64 and without YaRN's magnitude scale, which the
// key already carries.
func (m *Model) ropeDelta(set, delta int, cs, sn []float32) {
	c := &m.Config
	r := &m.ropes[set]
	var corr0, corr1 float32
	if r.yarn {
		corr0, corr1 = yarnCorrDims(c.RopeDim, c.YarnOrigCtx, float32(r.base))
	}
	theta := float64(delta)
	for i := range cs {
		extrap := theta
		if r.factors != nil {
			extrap /= float64(r.factors[i])
		}
		ang := r.freqScale * extrap
		if r.yarn {
			ramp := float64(yarnRamp(corr0, corr1, 2*i)) * c.YarnExtFactor
			ang = ang*(1-ramp) + extrap*ramp
		}
		cs[i], sn[i] = float32(math.Cos(ang)), float32(math.Sin(ang))
		theta *= float64(r.thetaScale)
	}
}

// yarnCorrDims returns the range of rotated dimensions YaRN blends between
// interpolation and extrapolation (β_fast = 32, β_slow = 1), in float32 as
// ggml computes it.
func yarnCorrDims(nDims, origCtx int, base float32) (float32, float32) {
	corr := func(nRot float32) float32 {
		return float32(nDims) * float32(math.Log(float64(float32(origCtx)/(nRot*2*math.Pi)))) / (2 * float32(math.Log(float64(base))))
	}
	lo := float32(math.Max(0, math.Floor(float64(corr(32)))))
	hi := float32(math.Min(float64(nDims-1), math.Ceil(float64(corr(1)))))
	return lo, hi
}

func yarnRamp(lo, hi float32, i0 int) float32 {
	y := (float32(i0/2) - lo) / max(0.001, hi-lo)
	return 1 - min(1, max(0, y))
}

// rope rotates the first RopeDim elements of each of the nHeads heads of
// the T rows of x, in the architecture's pairing.
func (w *Workspace) rope(x []float32, nHeads, T, set int) {
	half := w.m.RopeDim / 2
	hd := w.m.HeadDim
	for t := 0; t < T; t++ {
		w.m.ropeRow(x[t*nHeads*hd:(t+1)*nHeads*hd], nHeads, w.cos[set][t*half:(t+1)*half], w.sin[set][t*half:(t+1)*half])
	}
}

// ropeRow rotates each of the nHeads heads of one row by the angles whose
// cosines and sines are cs and sn, in the architecture's pairing.
func (m *Model) ropeRow(row []float32, nHeads int, cs, sn []float32) {
	hd := m.HeadDim
	for h := 0; h < nHeads; h++ {
		head := row[h*hd : (h+1)*hd]
		if m.RopeStyle == RopeNeoX {
			m.vec.RopeNeoX(head, cs, sn)
		} else {
			m.vec.RopeNormal(head, cs, sn)
		}
	}
}
