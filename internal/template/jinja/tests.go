package jinja

import (
	"reflect"
)

type testFunc func(r *renderer, in Value, args []Value, kw []namedArg) (bool, error)

var tests map[string]testFunc

func init() {
	eq := cmpTest("==")
	ne := cmpTest("!=")
	lt := cmpTest("<")
	le := cmpTest("<=")
	gt := cmpTest(">")
	ge := cmpTest(">=")
	tests = map[string]testFunc{
		"odd":         modTest(1),
		"even":        modTest(0),
		"divisibleby": testDivisibleBy,
		"defined":     simpleTest(func(v Value) bool { _, u := v.(*Undefined); return !u }),
		"undefined":   simpleTest(func(v Value) bool { _, u := v.(*Undefined); return u }),
		"filter":      simpleTest(func(v Value) bool { s, ok := isStr(v); _, f := filters[s]; return ok && f }),
		"test":        simpleTest(func(v Value) bool { s, ok := isStr(v); _, f := tests[s]; return ok && f }),
		"none":        simpleTest(func(v Value) bool { return v == nil }),
		"boolean":     simpleTest(func(v Value) bool { _, ok := v.(bool); return ok }),
		"false":       simpleTest(func(v Value) bool { b, ok := v.(bool); return ok && !b }),
		"true":        simpleTest(func(v Value) bool { b, ok := v.(bool); return ok && b }),
		"integer":     simpleTest(func(v Value) bool { _, ok := v.(int64); return ok }),
		"float":       simpleTest(func(v Value) bool { _, ok := v.(float64); return ok }),
		"lower":       simpleTest(func(v Value) bool { return strPredicate("islower", toStr(v)) }),
		"upper":       simpleTest(func(v Value) bool { return strPredicate("isupper", toStr(v)) }),
		"string":      simpleTest(func(v Value) bool { _, ok := isStr(v); return ok }),
		"mapping":     simpleTest(func(v Value) bool { _, ok := v.(*Dict); return ok }),
		"number":      simpleTest(func(v Value) bool { _, _, _, ok := asNumber(v); return ok }),
		"sequence":    simpleTest(isSequence),
		"iterable":    simpleTest(isIterable),
		"callable":    simpleTest(isCallable),
		"sameas":      testSameAs,
		"escaped":     simpleTest(func(v Value) bool { _, ok := v.(Markup); return ok }),
		"in":          testIn,
		"==":          eq,
		"eq":          eq,
		"equalto":     eq,
		"!=":          ne,
		"ne":          ne,
		"<":           lt,
		"lt":          lt,
		"lessthan":    lt,
		"<=":          le,
		"le":          le,
		">":           gt,
		"gt":          gt,
		"greaterthan": gt,
		">=":          ge,
		"ge":          ge,
	}
}

func simpleTest(fn func(Value) bool) testFunc {
	return func(r *renderer, in Value, args []Value, kw []namedArg) (bool, error) {
		if len(args)+len(kw) > 0 {
			return false, runtimeErr("test takes no arguments")
		}
		return fn(in), nil
	}
}

// isSequence is jinja2's sequence test: len() and __getitem__ both work.
// Strings, lists, tuples, dicts and Undefined qualify; generators do not.
func isSequence(v Value) bool {
	switch v.(type) {
	case string, Markup, []Value, Tuple, *Dict, *Undefined, *groupTuple:
		return true
	}
	return false
}

// isIterable is jinja2's iterable test: iter() works.
func isIterable(v Value) bool {
	switch v.(type) {
	case string, Markup, []Value, Tuple, *Dict, *Undefined, *Iter, *loopCtx, *Namespace, *groupTuple:
		return true
	}
	return false
}

func isCallable(v Value) bool {
	switch v.(type) {
	case *Macro, *Func, *loopCtx, *Undefined:
		return true
	}
	return false
}

func modTest(want int64) testFunc {
	return func(r *renderer, in Value, args []Value, kw []namedArg) (bool, error) {
		m, err := arith("%", in, int64(2))
		if err != nil {
			return false, err
		}
		return equal(m, want), nil
	}
}

func testDivisibleBy(r *renderer, in Value, args []Value, kw []namedArg) (bool, error) {
	p, err := params("divisibleby", args, kw, []string{"num"})
	if err != nil {
		return false, err
	}
	m, err := arith("%", in, p[0])
	if err != nil {
		return false, err
	}
	return equal(m, int64(0)), nil
}

func cmpTest(op string) testFunc {
	return func(r *renderer, in Value, args []Value, kw []namedArg) (bool, error) {
		p, err := params(op, args, kw, []string{"other"})
		if err != nil {
			return false, err
		}
		return compareOp(op, in, p[0])
	}
}

func testIn(r *renderer, in Value, args []Value, kw []namedArg) (bool, error) {
	p, err := params("in", args, kw, []string{"seq"})
	if err != nil {
		return false, err
	}
	return contains(p[0], in)
}

// testSameAs approximates Python's "is": singletons and small ints by
// value, containers by identity.
func testSameAs(r *renderer, in Value, args []Value, kw []namedArg) (bool, error) {
	p, err := params("sameas", args, kw, []string{"other"})
	if err != nil {
		return false, err
	}
	o := p[0]
	switch x := in.(type) {
	case nil:
		return o == nil, nil
	case bool:
		y, ok := o.(bool)
		return ok && x == y, nil
	case int64:
		y, ok := o.(int64)
		return ok && x == y && x >= -5 && x <= 256, nil
	case string:
		y, ok := o.(string)
		return ok && x == y, nil
	case []Value:
		y, ok := o.([]Value)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0]), nil
	}
	if reflect.TypeOf(in) != reflect.TypeOf(o) {
		return false, nil
	}
	if reflect.TypeOf(in).Kind() == reflect.Pointer {
		return in == o, nil
	}
	return false, nil
}
