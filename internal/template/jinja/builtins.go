package jinja

import (
	"fmt"
)

// params binds positional and keyword arguments to parameter names the way
// a Python function call does. defaults holds the default values of the
// last len(defaults) parameters; the others are required.
func params(fname string, args []Value, kw []namedArg, names []string, defaults ...Value) ([]Value, error) {
	if len(args) > len(names) {
		return nil, runtimeErr("%s() takes at most %d argument(s) (%d given)", fname, len(names), len(args))
	}
	out := make([]Value, len(names))
	set := make([]bool, len(names))
	for i, a := range args {
		out[i] = a
		set[i] = true
	}
	for _, k := range kw {
		idx := -1
		for i, n := range names {
			if n == k.name {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, runtimeErr("%s() got an unexpected keyword argument '%s'", fname, k.name)
		}
		if set[idx] {
			return nil, runtimeErr("%s() got multiple values for argument '%s'", fname, k.name)
		}
		out[idx] = k.val
		set[idx] = true
	}
	first := len(names) - len(defaults)
	for i := range names {
		if set[i] {
			continue
		}
		if i < first {
			return nil, runtimeErr("%s() missing required argument '%s'", fname, names[i])
		}
		out[i] = defaults[i-first]
	}
	return out, nil
}

// toInt converts an argument that must be an integer.
func toInt(fname string, v Value) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case *Undefined:
		return 0, undefinedErr(x)
	}
	return 0, runtimeErr("%s: '%s' object cannot be interpreted as an integer", fname, typeName(v))
}

// maxRange is the sandbox's limit on range() length.
const maxRange = 100000

var globals map[string]Value

func init() {
	globals = map[string]Value{
		"range":           &Func{name: "range", fn: builtinRange},
		"dict":            &Func{name: "dict", fn: builtinDict},
		"namespace":       &Func{name: "namespace", fn: builtinNamespace},
		"cycler":          &Func{name: "cycler", fn: builtinCycler},
		"joiner":          &Func{name: "joiner", fn: builtinJoiner},
		"raise_exception": &Func{name: "raise_exception", fn: builtinRaise},
		"strftime_now":    &Func{name: "strftime_now", fn: builtinStrftimeNow},
	}
}

func builtinRange(r *renderer, args []Value, kw []namedArg) (Value, error) {
	if len(kw) > 0 {
		return nil, runtimeErr("range() takes no keyword arguments")
	}
	var start, stop, step int64 = 0, 0, 1
	var err error
	switch len(args) {
	case 1:
		if stop, err = toInt("range", args[0]); err != nil {
			return nil, err
		}
	case 2, 3:
		if start, err = toInt("range", args[0]); err != nil {
			return nil, err
		}
		if stop, err = toInt("range", args[1]); err != nil {
			return nil, err
		}
		if len(args) == 3 {
			if step, err = toInt("range", args[2]); err != nil {
				return nil, err
			}
		}
	default:
		return nil, runtimeErr("range expected 1 to 3 arguments, got %d", len(args))
	}
	if step == 0 {
		return nil, runtimeErr("range() arg 3 must not be zero")
	}
	var n int64
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		n = (start - stop - step - 1) / -step
	}
	if n > maxRange {
		return nil, runtimeErr("Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", maxRange)
	}
	out := make([]Value, n)
	for i := int64(0); i < n; i++ {
		out[i] = start + i*step
	}
	return out, nil
}

// dictFrom builds a dict from dict(...) style arguments.
func dictFrom(fname string, args []Value, kw []namedArg) (*Dict, error) {
	d := NewDict()
	if len(args) > 1 {
		return nil, runtimeErr("%s expected at most 1 argument, got %d", fname, len(args))
	}
	if len(args) == 1 {
		switch x := args[0].(type) {
		case *Dict:
			d = x.copy()
		default:
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				pair, err := iterate(it)
				if err != nil || len(pair) != 2 {
					return nil, runtimeErr("%s: sequence elements must be pairs", fname)
				}
				if err := d.Set(pair[0], pair[1]); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, k := range kw {
		d.SetStr(k.name, k.val)
	}
	return d, nil
}

func builtinDict(r *renderer, args []Value, kw []namedArg) (Value, error) {
	return dictFrom("dict", args, kw)
}

func builtinNamespace(r *renderer, args []Value, kw []namedArg) (Value, error) {
	d, err := dictFrom("namespace", args, kw)
	if err != nil {
		return nil, err
	}
	return &Namespace{attrs: d}, nil
}

func builtinRaise(r *renderer, args []Value, kw []namedArg) (Value, error) {
	p, err := params("raise_exception", args, kw, []string{"message"})
	if err != nil {
		return nil, err
	}
	return nil, &Error{Kind: Raised, Msg: toStr(p[0])}
}

func builtinStrftimeNow(r *renderer, args []Value, kw []namedArg) (Value, error) {
	p, err := params("strftime_now", args, kw, []string{"format"})
	if err != nil {
		return nil, err
	}
	f, ok := isStr(p[0])
	if !ok {
		return nil, runtimeErr("strftime() argument 1 must be str, not %s", typeName(p[0]))
	}
	return strftime(r.cfg.Now, f), nil
}

// cycler is jinja2's cycler(): cycles through its items with next().
type cycler struct {
	items []Value
	pos   int
}

func builtinCycler(r *renderer, args []Value, kw []namedArg) (Value, error) {
	if len(args) == 0 {
		return nil, runtimeErr("at least one item has to be provided")
	}
	return &cycler{items: args}, nil
}

func (c *cycler) attr(name string, self Value) Value {
	switch name {
	case "current":
		return c.items[c.pos]
	case "next":
		return &Func{name: "next", method: true, fn: func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			v := c.items[c.pos]
			c.pos = (c.pos + 1) % len(c.items)
			return v, nil
		}}
	case "reset":
		return &Func{name: "reset", method: true, fn: func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			c.pos = 0
			return nil, nil
		}}
	}
	return undefinedIn(self, name)
}

// joiner is jinja2's joiner(sep): "" on the first call, sep afterwards.
type joiner struct{}

func builtinJoiner(r *renderer, args []Value, kw []namedArg) (Value, error) {
	p, err := params("joiner", args, kw, []string{"sep"}, ", ")
	if err != nil {
		return nil, err
	}
	used := false
	return &Func{name: "joiner", fn: func(r *renderer, args []Value, kw []namedArg) (Value, error) {
		if !used {
			used = true
			return "", nil
		}
		return p[0], nil
	}}, nil
}

// loopCtx is the "loop" variable of a for loop.
type loopCtx struct {
	items   []Value
	idx     int
	depth   int
	recurse func(Value) (Value, error)
	last    []Value
	hasLast bool
}

func (l *loopCtx) attr(r *renderer, name string) Value {
	n := len(l.items)
	switch name {
	case "index":
		return int64(l.idx + 1)
	case "index0":
		return int64(l.idx)
	case "revindex":
		return int64(n - l.idx)
	case "revindex0":
		return int64(n - l.idx - 1)
	case "first":
		return l.idx == 0
	case "last":
		return l.idx == n-1
	case "length":
		return int64(n)
	case "depth":
		return int64(l.depth + 1)
	case "depth0":
		return int64(l.depth)
	case "previtem":
		if l.idx > 0 {
			return l.items[l.idx-1]
		}
		return undefinedHint("there is no previous item")
	case "nextitem":
		if l.idx < n-1 {
			return l.items[l.idx+1]
		}
		return undefinedHint("there is no next item")
	case "cycle":
		return &Func{name: "cycle", method: true, fn: func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(args) == 0 {
				return nil, runtimeErr("no items for cycling given")
			}
			return args[l.idx%len(args)], nil
		}}
	case "changed":
		return &Func{name: "changed", method: true, fn: func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if l.hasLast && equalSeq(l.last, args) {
				return false, nil
			}
			l.last, l.hasLast = append([]Value(nil), args...), true
			return true, nil
		}}
	}
	return undefinedIn(l, name)
}

func unsafeAttr(obj Value, name string) *Undefined {
	return &Undefined{name: name, obj: obj, hasObj: true,
		hint: fmt.Sprintf("access to attribute '%s' of '%s' object is unsafe.", name, typeName(obj))}
}
