package tensor

import (
	"os"
	"strings"
)

// Level is a tier of kernel implementations. Every level computes the same
// values (bit for bit for conversions, within float32 summation-order
// rounding for products); higher levels use wider vector instructions.
type Level uint8

const (
	// Generic is portable Go, the reference for the others.
	Generic Level = iota
	// AVX2 is amd64 assembly for AVX2 with FMA and F16C.
	AVX2
	// AVX512 adds AVX-512 (F, BW, VL) and VNNI kernels where they help,
	// keeping the AVX2 ones elsewhere.
	AVX512
	numLevels
)

var levelNames = [numLevels]string{"generic", "avx2", "avx512"}

func (l Level) String() string {
	if l < numLevels {
		return levelNames[l]
	}
	return "level(" + string(rune('0'+l)) + ")"
}

// ParseLevel returns the level with the given name ("generic", "avx2",
// "avx512").
func ParseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), true
		}
	}
	return 0, false
}

// levelKernels holds the dispatch table of each level; nil for a level this
// CPU (or this build) cannot run.
var levelKernels [numLevels]*[maxType]*Kernels

// defaultLevel is the level KernelsFor uses.
var defaultLevel Level

func init() {
	var generic [maxType]*Kernels
	for i, k := range refKernels {
		if k != nil {
			c := *k
			generic[i] = &c
		}
	}
	levelKernels[Generic] = &generic
	vecLevels[Generic] = &genericVec
	registerArch() // architecture files add their levels
	defaultLevel = BestLevel()
	if s := os.Getenv("GOLEM_SIMD"); s != "" {
		if l, ok := ParseLevel(s); ok && Available(l) {
			defaultLevel = l
		}
	}
}

// newLevel returns a copy of base's table for a new level, with every entry
// relabelled, for an architecture file to override entries in.
func newLevel(l Level, base *[maxType]*Kernels) *[maxType]*Kernels {
	var t [maxType]*Kernels
	for i, k := range base {
		if k != nil {
			c := *k
			c.Level = l
			t[i] = &c
		}
	}
	return &t
}

// Available reports whether this CPU and build can run kernels of level l.
func Available(l Level) bool { return l < numLevels && levelKernels[l] != nil }

// Levels lists the available levels, lowest first; Generic is always there.
func Levels() []Level {
	var out []Level
	for l := Generic; l < numLevels; l++ {
		if Available(l) {
			out = append(out, l)
		}
	}
	return out
}

// BestLevel is the highest available level.
func BestLevel() Level {
	best := Generic
	for l := Generic; l < numLevels; l++ {
		if Available(l) {
			best = l
		}
	}
	return best
}

// DefaultLevel is the level KernelsFor and Vec use: BestLevel, unless the
// environment variable GOLEM_SIMD names another available level
// ("generic", "avx2", "avx512"), which is how the tiers are compared.
func DefaultLevel() Level { return defaultLevel }

// KernelsAt returns the kernels of level l for t, and false when t is not
// supported or l is not available. The result is shared: do not modify it.
func KernelsAt(t Type, l Level) (*Kernels, bool) {
	if !Available(l) || uint32(t) >= maxType {
		return nil, false
	}
	k := levelKernels[l][t]
	return k, k != nil
}
