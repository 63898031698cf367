package jinja

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// flow tells a statement list's caller how it ended.
type flow int

const (
	flowNormal flow = iota
	flowBreak
	flowContinue
)

// scope is one frame of variables: the template's top level, a loop
// iteration, a macro call or a block body. Assignments go to the innermost
// scope; lookups walk outwards. This reproduces jinja2's rule that
// variables set inside a loop or macro do not leak out of it.
type scope struct {
	vars   map[string]Value
	parent *scope
}

func newScope(parent *scope) *scope {
	return &scope{vars: make(map[string]Value, 4), parent: parent}
}

func (s *scope) lookup(name string) (Value, bool) {
	for c := s; c != nil; c = c.parent {
		if v, ok := c.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// outBuf is an output buffer; the renderer writes into the innermost one
// (macro bodies and set blocks capture their output).
type outBuf struct{ strings.Builder }

type renderer struct {
	cfg   Config
	out   *outBuf
	steps int
	depth int
	total int    // bytes written to any buffer
	root  *scope // the template's top-level scope, which blocks see
	line  int    // line of the statement being executed
}

// Macro is a template macro (or the body of a call block, named caller).
type Macro struct {
	name    string
	node    *macroStmt
	closure *scope
}

// namedArg is one keyword argument of a call.
type namedArg struct {
	name string
	val  Value
}

// Func is a built-in callable: a global function or a bound method of a
// value (str.strip, dict.get, ...).
type Func struct {
	name   string
	method bool
	fn     func(r *renderer, args []Value, kw []namedArg) (Value, error)
}

func (r *renderer) step() error { return r.charge(1) }

// charge spends n steps of the budget; work proportional to the size of
// values (iterating, copying large strings) is charged too, so every
// rendering is bounded in time.
func (r *renderer) charge(n int) error {
	r.steps += n
	if r.steps > r.cfg.MaxSteps {
		return &Error{Kind: LimitError, Line: r.line, Msg: fmt.Sprintf("template exceeded its budget of %d steps", r.cfg.MaxSteps)}
	}
	if r.steps&0xfff < n || n > 0xfff {
		if !r.cfg.Deadline.IsZero() && time.Now().After(r.cfg.Deadline) {
			return &Error{Kind: LimitError, Line: r.line, Msg: "template rendering passed its deadline"}
		}
	}
	return nil
}

// iterate is iterate() with the work charged to the step budget before
// a large string is split into characters.
func (r *renderer) iterate(v Value) ([]Value, error) {
	if s, ok := isStr(v); ok {
		if err := r.charge(len(s)); err != nil {
			return nil, err
		}
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	return items, r.charge(len(items) / 8)
}

func (r *renderer) write(s string) error {
	if err := r.charge(len(s) / 256); err != nil {
		return err
	}
	r.total += len(s)
	if r.total > r.cfg.MaxOutput {
		return &Error{Kind: LimitError, Line: r.line, Msg: fmt.Sprintf("template output exceeded %d bytes", r.cfg.MaxOutput)}
	}
	r.out.WriteString(s)
	return nil
}

// checkSize rejects a string or list value larger than the output budget,
// so repeated concatenation cannot exhaust memory.
func (r *renderer) checkSize(v Value) error {
	n := 0
	switch x := v.(type) {
	case string:
		n = len(x)
	case Markup:
		n = len(x)
	case []Value:
		n = len(x) * 16
	case Tuple:
		n = len(x) * 16
	}
	if n > r.cfg.MaxOutput {
		return &Error{Kind: LimitError, Line: r.line, Msg: fmt.Sprintf("value exceeded %d bytes", r.cfg.MaxOutput)}
	}
	return r.charge(n / 256)
}

// capture runs fn with a fresh output buffer and returns what it wrote.
func (r *renderer) capture(fn func() error) (string, error) {
	saved := r.out
	var b outBuf
	r.out = &b
	err := fn()
	r.out = saved
	return b.String(), err
}

// withLine attaches the current line to errors that lack one.
func (r *renderer) withLine(err error, line int) error {
	var e *Error
	if errors.As(err, &e) && e.Line == 0 && e.Kind != Raised {
		e.Line = line
	}
	return err
}

func (r *renderer) execBody(body []stmt, sc *scope) (flow, error) {
	for _, s := range body {
		if err := r.step(); err != nil {
			return flowNormal, err
		}
		fl, err := r.exec(s, sc)
		if err != nil || fl != flowNormal {
			return fl, err
		}
	}
	return flowNormal, nil
}

func (r *renderer) exec(s stmt, sc *scope) (flow, error) {
	switch x := s.(type) {
	case *dataStmt:
		return flowNormal, r.write(x.text)
	case *outputStmt:
		r.line = x.line
		v, err := r.eval(x.e, sc)
		if err != nil {
			return flowNormal, r.withLine(err, x.line)
		}
		return flowNormal, r.write(toStr(v))
	case *ifStmt:
		r.line = x.line
		c, err := r.eval(x.cond, sc)
		if err != nil {
			return flowNormal, r.withLine(err, x.line)
		}
		if truthy(c) {
			return r.execBody(x.body, sc)
		}
		return r.execBody(x.elseBody, sc)
	case *forStmt:
		r.line = x.line
		return flowNormal, r.withLine(r.execFor(x, sc), x.line)
	case *setStmt:
		r.line = x.line
		v, err := r.eval(x.value, sc)
		if err != nil {
			return flowNormal, r.withLine(err, x.line)
		}
		return flowNormal, r.withLine(r.assign(x.target, v, sc), x.line)
	case *setBlockStmt:
		r.line = x.line
		text, err := r.capture(func() error {
			_, err := r.execBody(x.body, newScope(sc))
			return err
		})
		if err != nil {
			return flowNormal, err
		}
		var v Value = text
		for _, f := range x.filters {
			if v, err = r.applyFilter(f, v, sc); err != nil {
				return flowNormal, r.withLine(err, x.line)
			}
		}
		return flowNormal, r.withLine(r.assign(x.target, v, sc), x.line)
	case *macroStmt:
		sc.vars[x.name] = &Macro{name: x.name, node: x, closure: sc}
		return flowNormal, nil
	case *callBlockStmt:
		r.line = x.line
		caller := &Macro{name: "caller", node: x.macro, closure: sc}
		v, err := r.evalCall(x.call, sc, caller)
		if err != nil {
			return flowNormal, r.withLine(err, x.line)
		}
		return flowNormal, r.write(toStr(v))
	case *filterBlockStmt:
		r.line = x.line
		text, err := r.capture(func() error {
			_, err := r.execBody(x.body, newScope(sc))
			return err
		})
		if err != nil {
			return flowNormal, err
		}
		var v Value = text
		for _, f := range x.filters {
			if v, err = r.applyFilter(f, v, sc); err != nil {
				return flowNormal, r.withLine(err, x.line)
			}
		}
		return flowNormal, r.write(toStr(v))
	case *withStmt:
		r.line = x.line
		inner := newScope(sc)
		for i, t := range x.targets {
			v, err := r.eval(x.values[i], sc)
			if err != nil {
				return flowNormal, r.withLine(err, x.line)
			}
			if err := r.assign(t, v, inner); err != nil {
				return flowNormal, r.withLine(err, x.line)
			}
		}
		return r.execBody(x.body, inner)
	case *scopeStmt:
		_, err := r.execBody(x.body, newScope(sc))
		return flowNormal, err
	case *blockStmt:
		_, err := r.execBody(x.body, newScope(r.root))
		return flowNormal, err
	case *loaderStmt:
		return flowNormal, &Error{Kind: RuntimeError, Line: x.line, Msg: "no loader for this environment specified"}
	case *breakStmt:
		return flowBreak, nil
	case *continueStmt:
		return flowContinue, nil
	}
	return flowNormal, &Error{Kind: RuntimeError, Msg: fmt.Sprintf("unknown statement %T", s)}
}

// assign binds a value to a target in scope sc.
func (r *renderer) assign(t *target, v Value, sc *scope) error {
	if t.attr != "" {
		obj, ok := sc.lookup(t.name)
		ns, isNS := obj.(*Namespace)
		if !ok || !isNS {
			return &Error{Kind: RuntimeError, Line: t.line, Msg: "cannot assign attribute on non-namespace object"}
		}
		ns.attrs.SetStr(t.attr, v)
		return nil
	}
	if t.items == nil {
		sc.vars[t.name] = v
		return nil
	}
	items, err := iterate(v)
	if err != nil {
		return &Error{Kind: RuntimeError, Line: t.line, Msg: fmt.Sprintf("cannot unpack non-iterable %s object", typeName(v))}
	}
	if len(items) != len(t.items) {
		if len(items) > len(t.items) {
			return &Error{Kind: RuntimeError, Line: t.line, Msg: fmt.Sprintf("too many values to unpack (expected %d)", len(t.items))}
		}
		return &Error{Kind: RuntimeError, Line: t.line, Msg: fmt.Sprintf("not enough values to unpack (expected %d, got %d)", len(t.items), len(items))}
	}
	for i, it := range t.items {
		if err := r.assign(it, items[i], sc); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) execFor(f *forStmt, sc *scope) error {
	iv, err := r.eval(f.iter, sc)
	if err != nil {
		return err
	}
	items, err := r.loopItems(f, iv, sc)
	if err != nil {
		return err
	}
	_, err = r.runLoop(f, items, sc, 0)
	return err
}

// loopItems materializes the iterable and applies the loop's if filter.
func (r *renderer) loopItems(f *forStmt, iv Value, sc *scope) ([]Value, error) {
	items, err := r.iterate(iv)
	if err != nil {
		return nil, err
	}
	if f.filter == nil {
		return items, nil
	}
	var kept []Value
	for _, it := range items {
		if err := r.step(); err != nil {
			return nil, err
		}
		tmp := newScope(sc)
		if err := r.assign(f.target, it, tmp); err != nil {
			return nil, err
		}
		c, err := r.eval(f.filter, tmp)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			kept = append(kept, it)
		}
	}
	return kept, nil
}

func (r *renderer) runLoop(f *forStmt, items []Value, sc *scope, depth int) (flow, error) {
	lc := &loopCtx{items: items, depth: depth}
	if f.recursive {
		lc.recurse = func(v Value) (Value, error) {
			r.depth++
			defer func() { r.depth-- }()
			if r.depth > r.cfg.MaxDepth {
				return nil, &Error{Kind: LimitError, Line: f.line, Msg: "recursive loop nested too deeply"}
			}
			sub, err := r.loopItems(f, v, sc)
			if err != nil {
				return nil, err
			}
			return r.capture(func() error {
				_, err := r.runLoop(f, sub, sc, depth+1)
				return err
			})
		}
	}
	for i, it := range items {
		if err := r.step(); err != nil {
			return flowNormal, err
		}
		lc.idx = i
		inner := newScope(sc)
		inner.vars["loop"] = lc
		if err := r.assign(f.target, it, inner); err != nil {
			return flowNormal, err
		}
		fl, err := r.execBody(f.body, inner)
		if err != nil {
			return flowNormal, err
		}
		if fl == flowBreak {
			break
		}
	}
	if len(items) == 0 && f.elseBody != nil {
		return r.execBody(f.elseBody, newScope(sc))
	}
	return flowNormal, nil
}

// eval evaluates an expression.
func (r *renderer) eval(e expr, sc *scope) (Value, error) {
	if err := r.step(); err != nil {
		return nil, err
	}
	switch x := e.(type) {
	case *constExpr:
		return x.val, nil
	case *nameExpr:
		if v, ok := sc.lookup(x.name); ok {
			return v, nil
		}
		if g, ok := globals[x.name]; ok {
			return g, nil
		}
		return undefinedName(x.name), nil
	case *listExpr:
		out := make([]Value, len(x.items))
		for i, it := range x.items {
			v, err := r.eval(it, sc)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *tupleExpr:
		out := make(Tuple, len(x.items))
		for i, it := range x.items {
			v, err := r.eval(it, sc)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *dictExpr:
		d := NewDict()
		for i := range x.keys {
			k, err := r.eval(x.keys[i], sc)
			if err != nil {
				return nil, err
			}
			v, err := r.eval(x.vals[i], sc)
			if err != nil {
				return nil, err
			}
			if err := d.Set(k, v); err != nil {
				return nil, err
			}
		}
		return d, nil
	case *getattrExpr:
		obj, err := r.eval(x.obj, sc)
		if err != nil {
			return nil, err
		}
		return r.getattr(obj, x.attr)
	case *getitemExpr:
		obj, err := r.eval(x.obj, sc)
		if err != nil {
			return nil, err
		}
		if s, ok := x.key.(*sliceExpr); ok {
			if u, ok := obj.(*Undefined); ok {
				return nil, undefinedErr(u)
			}
			var parts [3]Value
			for i, pe := range []expr{s.start, s.stop, s.step} {
				if pe == nil {
					continue
				}
				if parts[i], err = r.eval(pe, sc); err != nil {
					return nil, err
				}
			}
			// Slices bypass the sandbox's getitem in jinja2: slicing
			// anything but a sequence is an error.
			if _, ok := obj.(*Dict); ok {
				return nil, runtimeErr("unhashable type: 'slice'")
			}
			return sliceValue(obj, parts[0], parts[1], parts[2])
		}
		key, err := r.eval(x.key, sc)
		if err != nil {
			return nil, err
		}
		return r.getitem(obj, key)
	case *callExpr:
		return r.evalCall(x, sc, nil)
	case *filterExpr:
		in, err := r.eval(x.input, sc)
		if err != nil {
			return nil, err
		}
		return r.applyFilter(x, in, sc)
	case *testExpr:
		in, err := r.eval(x.input, sc)
		if err != nil {
			return nil, err
		}
		args, kw, err := r.evalArgs(x.callArgs, sc)
		if err != nil {
			return nil, err
		}
		ok, err := r.runTest(x.name, in, args, kw)
		if err != nil {
			return nil, err
		}
		return ok, nil
	case *binExpr:
		l, err := r.eval(x.l, sc)
		if err != nil {
			return nil, err
		}
		switch x.op {
		case "and":
			if !truthy(l) {
				return l, nil
			}
			return r.eval(x.r, sc)
		case "or":
			if truthy(l) {
				return l, nil
			}
			return r.eval(x.r, sc)
		}
		rv, err := r.eval(x.r, sc)
		if err != nil {
			return nil, err
		}
		v, err := arith(x.op, l, rv)
		if err != nil {
			return nil, err
		}
		return v, r.checkSize(v)
	case *unaryExpr:
		v, err := r.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		if x.op == "not" {
			return !truthy(v), nil
		}
		if u, ok := v.(*Undefined); ok {
			return nil, undefinedErr(u)
		}
		i, f, isF, ok := asNumber(v)
		if !ok {
			return nil, runtimeErr("bad operand type for unary %s: '%s'", x.op, typeName(v))
		}
		if x.op == "+" {
			if isF {
				return f, nil
			}
			return i, nil
		}
		if isF {
			return -f, nil
		}
		return -i, nil
	case *compareExpr:
		left, err := r.eval(x.first, sc)
		if err != nil {
			return nil, err
		}
		for _, op := range x.ops {
			right, err := r.eval(op.e, sc)
			if err != nil {
				return nil, err
			}
			ok, err := compareOp(op.op, left, right)
			if err != nil {
				return nil, err
			}
			if !ok {
				return false, nil
			}
			left = right
		}
		return true, nil
	case *concatExpr:
		var b strings.Builder
		for _, it := range x.items {
			v, err := r.eval(it, sc)
			if err != nil {
				return nil, err
			}
			b.WriteString(toStr(v))
			if b.Len() > r.cfg.MaxOutput {
				return nil, r.checkSize(b.String())
			}
		}
		return b.String(), nil
	case *condExpr:
		c, err := r.eval(x.test, sc)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			return r.eval(x.then, sc)
		}
		if x.orElse == nil {
			return undefinedHint(fmt.Sprintf("the inline if-expression on line %d evaluated to false and no else section was defined.", x.line)), nil
		}
		return r.eval(x.orElse, sc)
	case *sliceExpr:
		return nil, runtimeErr("slice outside of a subscript")
	}
	return nil, runtimeErr("unknown expression %T", e)
}

func compareOp(op string, a, b Value) (bool, error) {
	switch op {
	case "==":
		return equal(a, b), nil
	case "!=":
		return !equal(a, b), nil
	case "in":
		return contains(b, a)
	case "notin":
		ok, err := contains(b, a)
		return !ok, err
	}
	c, err := compare(a, b)
	if err != nil {
		if e, ok := err.(*Error); ok && e.Kind == RuntimeError {
			e.Msg = strings.Replace(e.Msg, "'<'", "'"+op+"'", 1)
		}
		return false, err
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, runtimeErr("unknown comparison %s", op)
}

// evalArgs evaluates call arguments, expanding *args and **kwargs.
func (r *renderer) evalArgs(ca callArgs, sc *scope) ([]Value, []namedArg, error) {
	var args []Value
	for _, a := range ca.args {
		v, err := r.eval(a, sc)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, v)
	}
	var kw []namedArg
	for _, k := range ca.kwargs {
		v, err := r.eval(k.val, sc)
		if err != nil {
			return nil, nil, err
		}
		kw = append(kw, namedArg{name: k.name, val: v})
	}
	if ca.dynArgs != nil {
		v, err := r.eval(ca.dynArgs, sc)
		if err != nil {
			return nil, nil, err
		}
		items, err := iterate(v)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, items...)
	}
	if ca.dynKwargs != nil {
		v, err := r.eval(ca.dynKwargs, sc)
		if err != nil {
			return nil, nil, err
		}
		d, ok := v.(*Dict)
		if !ok {
			if _, isU := v.(*Undefined); !isU {
				return nil, nil, runtimeErr("argument after ** must be a mapping, not %s", typeName(v))
			}
		} else {
			for i, k := range d.keys {
				ks, ok := k.(string)
				if !ok {
					return nil, nil, runtimeErr("keywords must be strings")
				}
				kw = append(kw, namedArg{name: ks, val: d.vals[i]})
			}
		}
	}
	return args, kw, nil
}

func (r *renderer) evalCall(c *callExpr, sc *scope, caller *Macro) (Value, error) {
	fn, err := r.eval(c.fn, sc)
	if err != nil {
		return nil, err
	}
	args, kw, err := r.evalArgs(c.callArgs, sc)
	if err != nil {
		return nil, err
	}
	if caller != nil {
		kw = append(kw, namedArg{name: "caller", val: caller})
	}
	v, err := r.call(fn, args, kw)
	if err != nil {
		return nil, r.withLine(err, c.line)
	}
	return v, r.checkSize(v)
}

// call invokes a callable value.
func (r *renderer) call(fn Value, args []Value, kw []namedArg) (Value, error) {
	switch f := fn.(type) {
	case *Macro:
		return r.callMacro(f, args, kw)
	case *Func:
		return f.fn(r, args, kw)
	case *loopCtx:
		if f.recurse == nil {
			return nil, runtimeErr("Tried to call non recursive loop.  Maybe you forgot the 'recursive' modifier.")
		}
		if len(args) != 1 || len(kw) != 0 {
			return nil, runtimeErr("loop() takes exactly one argument")
		}
		return f.recurse(args[0])
	case *Undefined:
		if f.hint != "" && strings.Contains(f.hint, "is unsafe") {
			return nil, &Error{Kind: SecurityError, Msg: f.hint}
		}
		return nil, undefinedErr(f)
	}
	return nil, runtimeErr("'%s' object is not callable", typeName(fn))
}

func (r *renderer) callMacro(m *Macro, args []Value, kw []namedArg) (Value, error) {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > r.cfg.MaxDepth {
		return nil, &Error{Kind: LimitError, Line: r.line, Msg: fmt.Sprintf("macro calls nested more than %d deep", r.cfg.MaxDepth)}
	}
	n := m.node
	sc := newScope(m.closure)
	if len(args) > len(n.params) && !n.usesVarargs {
		return nil, runtimeErr("macro '%s' takes not more than %d argument(s)", m.name, len(n.params))
	}
	set := make([]bool, len(n.params))
	for i := range n.params {
		if i < len(args) {
			sc.vars[n.params[i]] = args[i]
			set[i] = true
		}
	}
	var varargs Tuple
	if len(args) > len(n.params) {
		varargs = Tuple(args[len(n.params):])
	}
	kwargs := NewDict()
	var caller Value
	for _, k := range kw {
		idx := -1
		for i, p := range n.params {
			if p == k.name {
				idx = i
				break
			}
		}
		switch {
		case idx >= 0:
			if set[idx] {
				return nil, runtimeErr("macro '%s' got multiple values for argument '%s'", m.name, k.name)
			}
			sc.vars[k.name] = k.val
			set[idx] = true
		case k.name == "caller" && n.usesCaller:
			caller = k.val
		case n.usesKwargs:
			kwargs.SetStr(k.name, k.val)
		default:
			return nil, runtimeErr("macro '%s' takes no keyword argument '%s'", m.name, k.name)
		}
	}
	firstDefault := len(n.params) - len(n.defaults)
	for i, p := range n.params {
		if set[i] {
			continue
		}
		if i >= firstDefault {
			v, err := r.eval(n.defaults[i-firstDefault], sc)
			if err != nil {
				return nil, err
			}
			sc.vars[p] = v
		} else {
			sc.vars[p] = &Undefined{name: p, hint: fmt.Sprintf("parameter '%s' was not provided", p)}
		}
	}
	if n.usesVarargs {
		if varargs == nil {
			varargs = Tuple{}
		}
		sc.vars["varargs"] = varargs
	}
	if n.usesKwargs {
		sc.vars["kwargs"] = kwargs
	}
	if n.usesCaller {
		if caller == nil {
			caller = undefinedHint("No caller defined")
		}
		sc.vars["caller"] = caller
	}
	saved := r.line
	text, err := r.capture(func() error {
		_, err := r.execBody(n.body, sc)
		return err
	})
	r.line = saved
	if err != nil {
		return nil, err
	}
	return text, nil
}

// getattr is jinja2's sandboxed attribute lookup: a Python attribute
// (method) first, then an item of the same name, else undefined.
func (r *renderer) getattr(obj Value, name string) (Value, error) {
	switch x := obj.(type) {
	case *Undefined:
		return nil, undefinedErr(x)
	case *Dict:
		if m := method(x, name); m != nil {
			return m, nil
		}
		if v, ok := x.Get(name); ok {
			return v, nil
		}
		return undefinedIn(obj, name), nil
	case *Namespace:
		if v, ok := x.attrs.Get(name); ok {
			return v, nil
		}
		return undefinedIn(obj, name), nil
	case *loopCtx:
		return x.attr(r, name), nil
	case *Macro:
		switch name {
		case "name":
			return x.name, nil
		case "arguments":
			t := make(Tuple, len(x.node.params))
			for i, p := range x.node.params {
				t[i] = p
			}
			return t, nil
		case "catch_kwargs":
			return x.node.usesKwargs, nil
		case "catch_varargs":
			return x.node.usesVarargs, nil
		case "caller":
			return x.node.usesCaller, nil
		}
		return undefinedIn(obj, name), nil
	case *cycler:
		return x.attr(name, obj), nil
	case *joiner:
		return undefinedIn(obj, name), nil
	case *groupTuple:
		switch name {
		case "grouper":
			return x.grouper, nil
		case "list":
			return x.list, nil
		}
		if m := method(Tuple(x.items()), name); m != nil {
			return m, nil
		}
		return undefinedIn(obj, name), nil
	}
	if m := method(obj, name); m != nil {
		return m, nil
	}
	return undefinedIn(obj, name), nil
}

// getitem is jinja2's sandboxed subscript: obj[key] first, then (for
// string keys) an attribute of that name, else undefined.
func (r *renderer) getitem(obj, key Value) (Value, error) {
	switch x := obj.(type) {
	case *Undefined:
		return nil, undefinedErr(x)
	case *Dict:
		if v, ok := x.Get(key); ok {
			return v, nil
		}
	case []Value, Tuple, string, Markup:
		if i, _, isF, ok := asNumber(key); ok && !isF {
			var n int
			var at func(int) Value
			switch s := x.(type) {
			case []Value:
				n, at = len(s), func(j int) Value { return s[j] }
			case Tuple:
				n, at = len(s), func(j int) Value { return s[j] }
			case string:
				rs := []rune(s)
				n, at = len(rs), func(j int) Value { return string(rs[j]) }
			case Markup:
				rs := []rune(string(s))
				n, at = len(rs), func(j int) Value { return Markup(string(rs[j])) }
			}
			if j, ok := pyIndex(i, n); ok {
				return at(j), nil
			}
			return undefinedIn(obj, key), nil
		}
	case *Namespace:
		if v, ok := x.attrs.Get(key); ok {
			return v, nil
		}
	case *groupTuple:
		return r.getitem(Tuple(x.items()), key)
	}
	if s, ok := key.(string); ok {
		return r.getattrNoItem(obj, s), nil
	}
	return undefinedIn(obj, key), nil
}

// getattrNoItem is the attribute fallback of getitem.
func (r *renderer) getattrNoItem(obj Value, name string) Value {
	switch x := obj.(type) {
	case *loopCtx:
		return x.attr(r, name)
	case *cycler:
		return x.attr(name, obj)
	}
	if m := method(obj, name); m != nil {
		return m
	}
	return undefinedIn(obj, name)
}

// applyFilter evaluates a filter's arguments and applies it to in.
func (r *renderer) applyFilter(f *filterExpr, in Value, sc *scope) (Value, error) {
	args, kw, err := r.evalArgs(f.callArgs, sc)
	if err != nil {
		return nil, err
	}
	v, err := r.callFilter(f.name, in, args, kw)
	if err != nil {
		return nil, r.withLine(err, f.line)
	}
	return v, r.checkSize(v)
}

func (r *renderer) callFilter(name string, in Value, args []Value, kw []namedArg) (Value, error) {
	fn, ok := filters[name]
	if !ok {
		return nil, &Error{Kind: RuntimeError, Msg: fmt.Sprintf("No filter named '%s' found.", name)}
	}
	return fn(r, in, args, kw)
}

func (r *renderer) runTest(name string, in Value, args []Value, kw []namedArg) (bool, error) {
	fn, ok := tests[name]
	if !ok {
		return false, &Error{Kind: RuntimeError, Msg: fmt.Sprintf("No test named '%s' found.", name)}
	}
	return fn(r, in, args, kw)
}
