package jinja

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

func runtimeErr(format string, args ...any) error {
	return &Error{Kind: RuntimeError, Msg: fmt.Sprintf(format, args...)}
}

func undefinedErr(u *Undefined) error {
	return &Error{Kind: UndefinedError, Msg: u.message()}
}

// isStr returns the text of a str or Markup value.
func isStr(v Value) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case Markup:
		return string(x), true
	}
	return "", false
}

// asNumber returns v as a number; bools count as ints, as in Python.
func asNumber(v Value) (i int64, f float64, isFloat, ok bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, 1, false, true
		}
		return 0, 0, false, true
	case int64:
		return x, float64(x), false, true
	case float64:
		return 0, x, true, true
	}
	return 0, 0, false, false
}

// equal is Python's ==.
func equal(a, b Value) bool {
	if ua, ok := a.(*Undefined); ok {
		_, ok2 := b.(*Undefined)
		_ = ua
		return ok2
	}
	if _, ok := b.(*Undefined); ok {
		return false
	}
	if ai, af, afl, ok := asNumber(a); ok {
		bi, bf, bfl, ok := asNumber(b)
		if !ok {
			return false
		}
		if !afl && !bfl {
			return ai == bi
		}
		return af == bf
	}
	if as, ok := isStr(a); ok {
		bs, ok := isStr(b)
		return ok && as == bs
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case []Value:
		y, ok := b.([]Value)
		return ok && equalSeq(x, y)
	case Tuple:
		y, ok := b.(Tuple)
		return ok && equalSeq(x, y)
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i, k := range x.keys {
			v, ok := y.Get(k)
			if !ok || !equal(x.vals[i], v) {
				return false
			}
		}
		return true
	}
	return a == b
}

func equalSeq(a, b []Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// compare orders two values as Python's < does, or fails for unorderable
// types.
func compare(a, b Value) (int, error) {
	if u, ok := a.(*Undefined); ok {
		return 0, undefinedErr(u)
	}
	if u, ok := b.(*Undefined); ok {
		return 0, undefinedErr(u)
	}
	if ai, af, afl, ok := asNumber(a); ok {
		if bi, bf, bfl, ok := asNumber(b); ok {
			if !afl && !bfl {
				return cmp3(ai, bi), nil
			}
			switch {
			case af < bf:
				return -1, nil
			case af > bf:
				return 1, nil
			}
			return 0, nil
		}
	}
	if as, ok := isStr(a); ok {
		if bs, ok := isStr(b); ok {
			return strings.Compare(as, bs), nil
		}
	}
	switch x := a.(type) {
	case []Value:
		if y, ok := b.([]Value); ok {
			return compareSeq(x, y)
		}
	case Tuple:
		if y, ok := b.(Tuple); ok {
			return compareSeq(x, y)
		}
	}
	return 0, runtimeErr("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
}

func cmp3(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareSeq(a, b []Value) (int, error) {
	for i := 0; i < len(a) && i < len(b); i++ {
		if equal(a[i], b[i]) {
			continue
		}
		return compare(a[i], b[i])
	}
	return cmp3(int64(len(a)), int64(len(b))), nil
}

// iterate returns the items a Python for loop would see.
func iterate(v Value) ([]Value, error) {
	switch x := v.(type) {
	case []Value:
		return x, nil
	case Tuple:
		return x, nil
	case *Dict:
		return x.keys, nil
	case string:
		return splitChars(x, false), nil
	case Markup:
		// Iterating a Markup yields plain characters (markupsafe does not
		// override __iter__).
		return splitChars(string(x), false), nil
	case *Undefined:
		return nil, nil
	case *Iter:
		return x.take(), nil
	case *groupTuple:
		return x.items(), nil
	case *Namespace:
		return nil, runtimeErr("'Namespace' object is not iterable")
	}
	return nil, runtimeErr("'%s' object is not iterable", typeName(v))
}

func splitChars(s string, markup bool) []Value {
	out := make([]Value, 0, utf8.RuneCountInString(s))
	for _, r := range s {
		if markup {
			out = append(out, Markup(string(r)))
		} else {
			out = append(out, string(r))
		}
	}
	return out
}

// length is Python's len().
func length(v Value) (int, error) {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x), nil
	case Markup:
		return utf8.RuneCountInString(string(x)), nil
	case []Value:
		return len(x), nil
	case Tuple:
		return len(x), nil
	case *Dict:
		return x.Len(), nil
	case *Undefined:
		return 0, nil
	case *groupTuple:
		return 2, nil
	case *Namespace:
		return 0, runtimeErr("object of type 'Namespace' has no len()")
	case *Iter:
		if x.hasLen {
			return len(x.items), nil
		}
	}
	return 0, runtimeErr("object of type '%s' has no len()", typeName(v))
}

// contains is Python's "needle in haystack".
func contains(hay, needle Value) (bool, error) {
	switch h := hay.(type) {
	case string, Markup:
		hs, _ := isStr(h)
		ns, ok := isStr(needle)
		if !ok {
			return false, runtimeErr("'in <string>' requires string as left operand, not %s", typeName(needle))
		}
		return strings.Contains(hs, ns), nil
	case *Dict:
		if _, err := hashKey(needle); err != nil {
			if _, ok := needle.(*Undefined); !ok {
				return false, err
			}
		}
		_, ok := h.Get(needle)
		if _, isU := needle.(*Undefined); isU {
			return false, nil
		}
		return ok, nil
	case *Namespace:
		return false, runtimeErr("argument of type 'Namespace' is not iterable")
	case *Undefined:
		return false, nil
	}
	items, err := iterate(hay)
	if err != nil {
		return false, runtimeErr("argument of type '%s' is not iterable", typeName(hay))
	}
	for _, it := range items {
		if equal(it, needle) {
			return true, nil
		}
	}
	return false, nil
}

// htmlEscape is markupsafe.escape on text.
func htmlEscape(s string) string {
	if !strings.ContainsAny(s, "&<>'\"") {
		return s
	}
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&#39;", "\"", "&#34;")
	return r.Replace(s)
}

// escapeValue is markupsafe.escape: Markup unchanged, anything else turned
// into text and escaped.
func escapeValue(v Value) Markup {
	if m, ok := v.(Markup); ok {
		return m
	}
	return Markup(htmlEscape(toStr(v)))
}

func binaryTypeErr(op string, a, b Value) error {
	return runtimeErr("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(a), typeName(b))
}

// arith evaluates a binary arithmetic operator with Python semantics.
func arith(op string, a, b Value) (Value, error) {
	if s, ok := isStr(a); ok && op == "%" {
		// str % args never touches an undefined argument's arithmetic.
		if _, isM := a.(Markup); isM {
			b = escapeArgs(b)
		}
		res, err := percentFormat(s, b, a)
		if err != nil {
			return nil, err
		}
		if _, ok := a.(Markup); ok {
			return Markup(res), nil
		}
		return res, nil
	}
	if u, ok := a.(*Undefined); ok {
		return nil, undefinedErr(u)
	}
	if u, ok := b.(*Undefined); ok {
		return nil, undefinedErr(u)
	}
	ai, af, afl, aNum := asNumber(a)
	bi, bf, bfl, bNum := asNumber(b)
	if aNum && bNum {
		return numArith(op, ai, af, afl, bi, bf, bfl)
	}
	switch op {
	case "+":
		if ma, ok := a.(Markup); ok {
			if bs, ok := isStr(b); ok {
				if mb, ok := b.(Markup); ok {
					return ma + mb, nil
				}
				return ma + Markup(htmlEscape(bs)), nil
			}
		}
		if mb, ok := b.(Markup); ok {
			if as, ok := a.(string); ok {
				return Markup(htmlEscape(as)) + mb, nil
			}
		}
		if as, ok := a.(string); ok {
			if bs, ok := b.(string); ok {
				return as + bs, nil
			}
			return nil, runtimeErr(`can only concatenate str (not "%s") to str`, typeName(b))
		}
		switch x := a.(type) {
		case []Value:
			if y, ok := b.([]Value); ok {
				out := make([]Value, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
			return nil, runtimeErr(`can only concatenate list (not "%s") to list`, typeName(b))
		case Tuple:
			if y, ok := b.(Tuple); ok {
				out := make(Tuple, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
			return nil, runtimeErr(`can only concatenate tuple (not "%s") to tuple`, typeName(b))
		}
	case "*":
		if aNum && !afl {
			return repeat(b, ai, a)
		}
		if bNum && !bfl {
			return repeat(a, bi, b)
		}
	}
	return nil, binaryTypeErr(op, a, b)
}

func repeat(seq Value, n int64, num Value) (Value, error) {
	if n < 0 {
		n = 0
	}
	switch x := seq.(type) {
	case string:
		if n > 0 && int64(len(x)) > maxAlloc/n {
			return nil, allocErr()
		}
		return strings.Repeat(x, int(n)), nil
	case Markup:
		if n > 0 && int64(len(x)) > maxAlloc/n {
			return nil, allocErr()
		}
		return Markup(strings.Repeat(string(x), int(n))), nil
	case []Value:
		if n > 0 && int64(len(x)) > maxAlloc/n {
			return nil, allocErr()
		}
		out := make([]Value, 0, len(x)*int(n))
		for i := int64(0); i < n; i++ {
			out = append(out, x...)
		}
		return out, nil
	case Tuple:
		if n > 0 && int64(len(x)) > maxAlloc/n {
			return nil, allocErr()
		}
		out := make(Tuple, 0, len(x)*int(n))
		for i := int64(0); i < n; i++ {
			out = append(out, x...)
		}
		return out, nil
	}
	return nil, binaryTypeErr("*", seq, num)
}

// maxAlloc bounds the size of a single string or list an operation may
// build (checked before allocating), so one step cannot exhaust memory; the
// renderer's own budget (Config.MaxOutput) is usually smaller.
const maxAlloc = 64 << 20

func allocErr() error {
	return &Error{Kind: LimitError, Msg: fmt.Sprintf("result would be larger than %d bytes", maxAlloc)}
}

// checkAlloc fails when n bytes (or items) would exceed maxAlloc.
func checkAlloc(n int64) error {
	if n > maxAlloc || n < 0 {
		return allocErr()
	}
	return nil
}

func numArith(op string, ai int64, af float64, afl bool, bi int64, bf float64, bfl bool) (Value, error) {
	isInt := !afl && !bfl
	switch op {
	case "+":
		if isInt {
			r := ai + bi
			if (r > ai) != (bi > 0) {
				return nil, overflowErr()
			}
			return r, nil
		}
		return af + bf, nil
	case "-":
		if isInt {
			r := ai - bi
			if (r < ai) != (bi > 0) {
				return nil, overflowErr()
			}
			return r, nil
		}
		return af - bf, nil
	case "*":
		if isInt {
			r, err := mulInt(ai, bi)
			if err != nil {
				return nil, err
			}
			return r, nil
		}
		return af * bf, nil
	case "/":
		if bf == 0 {
			return nil, runtimeErr("division by zero")
		}
		return af / bf, nil
	case "//":
		if isInt {
			if bi == 0 {
				return nil, runtimeErr("integer division or modulo by zero")
			}
			q := ai / bi
			if (ai%bi != 0) && ((ai < 0) != (bi < 0)) {
				q--
			}
			return q, nil
		}
		if bf == 0 {
			return nil, runtimeErr("float floor division by zero")
		}
		return math.Floor(af / bf), nil
	case "%":
		if isInt {
			if bi == 0 {
				return nil, runtimeErr("integer division or modulo by zero")
			}
			m := ai % bi
			if m != 0 && ((m < 0) != (bi < 0)) {
				m += bi
			}
			return m, nil
		}
		if bf == 0 {
			return nil, runtimeErr("float modulo")
		}
		m := math.Mod(af, bf)
		if m != 0 && ((m < 0) != (bf < 0)) {
			m += bf
		}
		return m, nil
	case "**":
		if isInt && bi >= 0 {
			switch ai {
			case 0:
				if bi == 0 {
					return int64(1), nil
				}
				return int64(0), nil
			case 1:
				return int64(1), nil
			case -1:
				if bi%2 == 0 {
					return int64(1), nil
				}
				return int64(-1), nil
			}
			// |ai| >= 2 overflows within 64 multiplications.
			r := int64(1)
			for e := int64(0); e < bi; e++ {
				v, err := mulInt(r, ai)
				if err != nil {
					return nil, err
				}
				r = v
			}
			return r, nil
		}
		if af == 0 && bf < 0 {
			return nil, runtimeErr("0.0 cannot be raised to a negative power")
		}
		return math.Pow(af, bf), nil
	}
	return nil, runtimeErr("unknown operator %s", op)
}

// overflowErr reports an integer result outside int64; Python would
// switch to a big integer, which chat templates never need.
func overflowErr() error {
	return &Error{Kind: RuntimeError, Msg: "integer result out of the 64-bit range"}
}

func mulInt(a, b int64) (int64, error) {
	if a == 0 || b == 0 {
		return 0, nil
	}
	r := a * b
	if r/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, overflowErr()
	}
	return r, nil
}

// pyIndex resolves a possibly negative index into [0, n).
func pyIndex(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

// sliceIndices is Python's slice.indices.
func sliceIndices(start, stop, step Value, n int) (int, int, int, error) {
	st := int64(1)
	if step != nil {
		v, ok := step.(int64)
		if b, isb := step.(bool); isb {
			v, ok = 0, true
			if b {
				v = 1
			}
		}
		if !ok {
			return 0, 0, 0, runtimeErr("slice indices must be integers or None")
		}
		if v == 0 {
			return 0, 0, 0, runtimeErr("slice step cannot be zero")
		}
		st = v
	}
	get := func(v Value, def int64) (int64, error) {
		if v == nil {
			return def, nil
		}
		switch x := v.(type) {
		case int64:
			return x, nil
		case bool:
			if x {
				return 1, nil
			}
			return 0, nil
		}
		return 0, runtimeErr("slice indices must be integers or None or have an __index__ method")
	}
	ln := int64(n)
	var lo, hi int64
	if st > 0 {
		lo, hi = 0, ln
	} else {
		lo, hi = -1, ln-1
	}
	s, err := get(start, map[bool]int64{true: lo, false: hi}[st > 0])
	if err != nil {
		return 0, 0, 0, err
	}
	e, err := get(stop, map[bool]int64{true: hi, false: lo}[st > 0])
	if err != nil {
		return 0, 0, 0, err
	}
	clamp := func(x int64, explicit bool) int64 {
		if !explicit {
			return x
		}
		if x < 0 {
			x += ln
			if x < lo {
				x = lo
			}
		} else if x > hi {
			x = hi
		}
		return x
	}
	s = clamp(s, start != nil)
	e = clamp(e, stop != nil)
	return int(s), int(e), int(st), nil
}

func sliceValue(v Value, start, stop, step Value) (Value, error) {
	pick := func(n int) ([]int, error) {
		s, e, st, err := sliceIndices(start, stop, step, n)
		if err != nil {
			return nil, err
		}
		var idx []int
		if st > 0 {
			for i := s; i < e; i += st {
				idx = append(idx, i)
			}
		} else {
			for i := s; i > e; i += st {
				idx = append(idx, i)
			}
		}
		return idx, nil
	}
	switch x := v.(type) {
	case []Value, Tuple:
		var items []Value
		if l, ok := x.([]Value); ok {
			items = l
		} else {
			items = x.(Tuple)
		}
		idx, err := pick(len(items))
		if err != nil {
			return nil, err
		}
		out := make([]Value, len(idx))
		for i, j := range idx {
			out[i] = items[j]
		}
		if _, ok := x.(Tuple); ok {
			return Tuple(out), nil
		}
		return out, nil
	case string, Markup:
		s, _ := isStr(x)
		runes := []rune(s)
		idx, err := pick(len(runes))
		if err != nil {
			return nil, err
		}
		out := make([]rune, len(idx))
		for i, j := range idx {
			out[i] = runes[j]
		}
		if _, ok := x.(Markup); ok {
			return Markup(string(out)), nil
		}
		return string(out), nil
	}
	return nil, runtimeErr("'%s' object is not subscriptable", typeName(v))
}

// escapeArgs escapes the arguments of Markup % args, as markupsafe does.
func escapeArgs(v Value) Value {
	switch x := v.(type) {
	case Tuple:
		out := make(Tuple, len(x))
		for i, it := range x {
			out[i] = escapeArgs(it)
		}
		return out
	case *Dict:
		d := x.copy()
		for i := range d.vals {
			d.vals[i] = escapeArgs(d.vals[i])
		}
		return d
	case string, Markup:
		return escapeValue(x)
	}
	return v
}
