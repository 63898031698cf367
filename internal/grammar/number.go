package grammar

import (
	"fmt"
	"math/big"
)

// Numbers with bounds (minimum, maximum, exclusiveMinimum,
// exclusiveMaximum) are checked while they are written: after every digit
// the matcher asks whether some completion of the digits so far can still
// land inside the bounds, so a bounded number never reaches a dead end.
//
// Values are tracked exactly as int64 counts of units: 1 for integers
// (up to 18 digits), 1e-9 for numbers (up to 9 integer digits and 9
// fraction digits). Bounded numbers are written without exponent.
// Unbounded numbers do not come here: they are plain lexical automata.

// Number frame layout: st = phase | neg<<3 | intDigits<<4 | fracDigits<<9,
// a = integer part, b = fraction digits as an integer.
const (
	nStart = iota
	nMinus
	nInt  // integer digits, the first one not 0
	nZero // the integer part is a single 0
	nDot  // after '.'
	nFrac // fraction digits
)

type numInfo struct {
	integer bool
	unit    int64 // units per 1
	intMax  int   // integer digits allowed
	fracMax int   // fraction digits allowed
	lo, hi  int64 // inclusive bounds, in units
}

var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

const maxMagnitude = 999_999_999_999_999_999 // 10^18-1 units

// newNumInfo converts bounds (nil when absent) into units.
func newNumInfo(integer bool, lo, hi *big.Rat, loExcl, hiExcl bool) (*numInfo, error) {
	n := &numInfo{integer: integer, unit: 1, intMax: 18}
	if !integer {
		n.unit, n.intMax, n.fracMax = 1_000_000_000, 9, 9
	}
	u := new(big.Rat).SetInt64(n.unit)
	n.lo, n.hi = -maxMagnitude, maxMagnitude
	if lo != nil {
		x := new(big.Rat).Mul(lo, u)
		v := ratFloor(x)
		if !loExcl && !x.IsInt() {
			v.Add(v, big.NewInt(1)) // ceil
		} else if loExcl {
			v.Add(v, big.NewInt(1)) // floor + 1
		}
		n.lo = clampUnits(v)
	}
	if hi != nil {
		x := new(big.Rat).Mul(hi, u)
		v := ratFloor(x)
		if hiExcl && x.IsInt() {
			v.Sub(v, big.NewInt(1)) // ceil - 1
		}
		n.hi = clampUnits(v)
	}
	if n.lo > n.hi {
		return nil, fmt.Errorf("no %s lies within the bounds", map[bool]string{true: "integer", false: "number"}[integer])
	}
	return n, nil
}

func ratFloor(x *big.Rat) *big.Int {
	q := new(big.Int)
	m := new(big.Int)
	q.DivMod(x.Num(), x.Denom(), m) // Euclidean: m >= 0, so q is the floor
	return q
}

func clampUnits(v *big.Int) int64 {
	if v.Cmp(big.NewInt(maxMagnitude)) > 0 {
		return maxMagnitude + 1 // beyond every writable value
	}
	if v.Cmp(big.NewInt(-maxMagnitude)) < 0 {
		return -maxMagnitude - 1
	}
	return v.Int64()
}

func numFrame(node int32, phase, neg, nInt, nFrac int32, a, b int64) frame {
	return frame{node: node, st: phase | neg<<3 | nInt<<4 | nFrac<<9, a: a, b: b}
}

func numParts(f frame) (phase, neg, nInt, nFrac int32) {
	return f.st & 7, (f.st >> 3) & 1, (f.st >> 4) & 31, (f.st >> 9) & 31
}

// canEnd reports whether the digits so far are a complete number inside
// the bounds.
func (n *numInfo) canEnd(f frame) bool {
	ph, neg, _, nf := numParts(f)
	var v int64
	switch ph {
	case nInt, nZero:
		v = f.a * n.unit
	case nFrac:
		v = f.a*n.unit + f.b*pow10[n.fracMax-int(nf)]
	default:
		return false
	}
	if neg == 1 {
		v = -v
	}
	return v >= n.lo && v <= n.hi
}

// step feeds one byte to a number frame.
func (n *numInfo) step(f frame, c byte) (frame, bool) {
	ph, neg, ni, nf := numParts(f)
	digit := c >= '0' && c <= '9'
	d := int64(c - '0')
	var g frame
	switch {
	case ph == nStart && c == '-':
		g = numFrame(f.node, nMinus, 1, 0, 0, 0, 0)
	case (ph == nStart || ph == nMinus) && c == '0':
		g = numFrame(f.node, nZero, neg, 1, 0, 0, 0)
	case (ph == nStart || ph == nMinus) && digit:
		g = numFrame(f.node, nInt, neg, 1, 0, d, 0)
	case ph == nInt && digit && int(ni) < n.intMax:
		g = numFrame(f.node, nInt, neg, ni+1, 0, f.a*10+d, 0)
	case (ph == nInt || ph == nZero) && c == '.' && !n.integer:
		g = numFrame(f.node, nDot, neg, ni, 0, f.a, 0)
	case ph == nDot && digit:
		g = numFrame(f.node, nFrac, neg, ni, 1, f.a, d)
	case ph == nFrac && digit && int(nf) < n.fracMax:
		g = numFrame(f.node, nFrac, neg, ni, nf+1, f.a, f.b*10+d)
	default:
		return frame{}, false
	}
	return g, n.feasible(g)
}

// feasible reports whether some completion of the frame's digits is a
// number within the bounds.
func (n *numInfo) feasible(f frame) bool {
	ph, neg, ni, nf := numParts(f)
	hit := func(x, y int64) bool { // magnitudes [x, y]
		if neg == 1 {
			x, y = -y, -x
		}
		return x <= n.hi && y >= n.lo
	}
	switch ph {
	case nStart:
		return hit(0, maxMagnitude) || hit(-maxMagnitude, 0)
	case nMinus:
		return hit(0, maxMagnitude)
	case nZero:
		return hit(0, n.unit-1)
	case nInt:
		for m := 0; int(ni)+m <= n.intMax; m++ {
			p := pow10[m] * n.unit
			if hit(f.a*p, (f.a+1)*p-1) {
				return true
			}
		}
		return false
	case nDot:
		return hit(f.a*n.unit, f.a*n.unit+n.unit-1)
	case nFrac:
		scale := pow10[n.fracMax-int(nf)]
		base := f.a*n.unit + f.b*scale
		return hit(base, base+scale-1)
	}
	return false
}

// Patterns of unbounded numbers: at most 16 integer digits, 16 fraction
// digits and 3 exponent digits, so that a number cannot run on forever.
const (
	rxNumber  = `^-?(?:0|[1-9]\d{0,15})(?:\.\d{1,16})?(?:[eE][-+]?\d{1,3})?$`
	rxInteger = `^-?(?:0|[1-9]\d{0,15})$`
)
