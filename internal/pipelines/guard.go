package pipelines

import (
	"fmt"
	"math/bits"
	"strings"
	"unicode"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Starlark checks the size of a repeat only against 1 GiB ("x" * 10**9
// allocates a gigabyte) and not at all for concatenation, formatting or
// string methods, so a few steps can exhaust memory. Before compiling a
// script, the sandbox rewrites the syntax tree so that every operator and
// attribute access that can build a large value goes through a guard
// builtin, which checks the size of the result before building it and
// charges it to the call's budget:
//
//	x + y   -> $add(x, y)        x += y  -> x += $aug_add(x, y)
//	x * y   -> $mul(x, y)        x *= y  -> x *= $aug_mul(x, y)
//	x % y   -> $mod(x, y)        x %= y  -> x %= $aug_mod(x, y)
//	x << y  -> $lsh(x, y)        x <<= y -> x <<= $aug_lsh(x, y)
//	x.name  -> $dot(x, "name")   (methods of strings, lists, dicts and sets
//	                              come back wrapped in size checks)
//
// The guard names start with "$" so that no script can name or redefine
// them. An augmented assignment evaluates its target twice (once for the
// check); targets are plain variables, fields or index expressions.

// rewriter rewrites a parsed file in place.
type rewriter struct{ err error }

func guardFile(f *syntax.File) error {
	r := &rewriter{}
	r.stmts(f.Stmts)
	return r.err
}

func (r *rewriter) stmts(ss []syntax.Stmt) {
	for _, s := range ss {
		r.stmt(s)
	}
}

func (r *rewriter) stmt(s syntax.Stmt) {
	switch s := s.(type) {
	case *syntax.AssignStmt:
		s.LHS = r.target(s.LHS)
		s.RHS = r.expr(s.RHS)
		var guard string
		switch s.Op {
		case syntax.PLUS_EQ:
			if !isNumber(s.RHS) {
				guard = "$aug_add"
			}
		case syntax.STAR_EQ:
			guard = "$aug_mul"
		case syntax.PERCENT_EQ:
			guard = "$aug_mod"
		case syntax.LTLT_EQ:
			guard = "$aug_lsh"
		}
		if guard != "" {
			cur, err := copyExpr(s.LHS)
			if err != nil {
				if r.err == nil {
					r.err = syntax.Error{Pos: s.OpPos, Msg: err.Error()}
				}
				return
			}
			s.RHS = guardCall(guard, s.OpPos, cur, s.RHS)
		}
	case *syntax.DefStmt:
		r.params(s.Params)
		r.stmts(s.Body)
	case *syntax.ExprStmt:
		s.X = r.expr(s.X)
	case *syntax.IfStmt:
		s.Cond = r.expr(s.Cond)
		r.stmts(s.True)
		r.stmts(s.False)
	case *syntax.ForStmt:
		s.Vars = r.target(s.Vars)
		s.X = r.expr(s.X)
		r.stmts(s.Body)
	case *syntax.WhileStmt:
		s.Cond = r.expr(s.Cond)
		r.stmts(s.Body)
	case *syntax.ReturnStmt:
		if s.Result != nil {
			s.Result = r.expr(s.Result)
		}
	}
}

// params rewrites the default values of parameters (name=default).
func (r *rewriter) params(ps []syntax.Expr) {
	for _, p := range ps {
		if b, ok := p.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
			b.Y = r.expr(b.Y)
		}
	}
}

// target rewrites the parts of an assignment target that are evaluated
// (index expressions, the object of a field) but keeps its shape.
func (r *rewriter) target(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case *syntax.TupleExpr:
		for i := range e.List {
			e.List[i] = r.target(e.List[i])
		}
	case *syntax.ListExpr:
		for i := range e.List {
			e.List[i] = r.target(e.List[i])
		}
	case *syntax.ParenExpr:
		e.X = r.target(e.X)
	case *syntax.IndexExpr:
		e.X = r.expr(e.X)
		e.Y = r.expr(e.Y)
	case *syntax.DotExpr:
		e.X = r.expr(e.X)
	}
	return e
}

func (r *rewriter) expr(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case *syntax.BinaryExpr:
		if e.Op == syntax.EQ { // keyword argument name=value
			e.Y = r.expr(e.Y)
			return e
		}
		e.X = r.expr(e.X)
		e.Y = r.expr(e.Y)
		switch e.Op {
		case syntax.PLUS:
			if isNumber(e.X) || isNumber(e.Y) {
				return e
			}
			return guardCall("$add", e.OpPos, e.X, e.Y)
		case syntax.STAR:
			return guardCall("$mul", e.OpPos, e.X, e.Y)
		case syntax.PERCENT:
			if isNumber(e.X) {
				return e
			}
			return guardCall("$mod", e.OpPos, e.X, e.Y)
		case syntax.LTLT:
			return guardCall("$lsh", e.OpPos, e.X, e.Y)
		}
		return e
	case *syntax.DotExpr:
		e.X = r.expr(e.X)
		name := &syntax.Literal{Token: syntax.STRING, TokenPos: e.NamePos, Raw: fmt.Sprintf("%q", e.Name.Name), Value: e.Name.Name}
		return guardCall("$dot", e.Dot, e.X, name)
	case *syntax.CallExpr:
		e.Fn = r.expr(e.Fn)
		for i := range e.Args {
			e.Args[i] = r.expr(e.Args[i])
		}
	case *syntax.UnaryExpr:
		if e.X != nil {
			e.X = r.expr(e.X)
		}
	case *syntax.ParenExpr:
		e.X = r.expr(e.X)
	case *syntax.IndexExpr:
		e.X = r.expr(e.X)
		e.Y = r.expr(e.Y)
	case *syntax.SliceExpr:
		e.X = r.expr(e.X)
		if e.Lo != nil {
			e.Lo = r.expr(e.Lo)
		}
		if e.Hi != nil {
			e.Hi = r.expr(e.Hi)
		}
		if e.Step != nil {
			e.Step = r.expr(e.Step)
		}
	case *syntax.ListExpr:
		for i := range e.List {
			e.List[i] = r.expr(e.List[i])
		}
	case *syntax.TupleExpr:
		for i := range e.List {
			e.List[i] = r.expr(e.List[i])
		}
	case *syntax.DictExpr:
		for _, x := range e.List {
			if de, ok := x.(*syntax.DictEntry); ok {
				de.Key = r.expr(de.Key)
				de.Value = r.expr(de.Value)
			}
		}
	case *syntax.CondExpr:
		e.Cond = r.expr(e.Cond)
		e.True = r.expr(e.True)
		e.False = r.expr(e.False)
	case *syntax.LambdaExpr:
		r.params(e.Params)
		e.Body = r.expr(e.Body)
	case *syntax.Comprehension:
		e.Body = r.expr(e.Body)
		for _, c := range e.Clauses {
			switch c := c.(type) {
			case *syntax.ForClause:
				c.Vars = r.target(c.Vars)
				c.X = r.expr(c.X)
			case *syntax.IfClause:
				c.Cond = r.expr(c.Cond)
			}
		}
	}
	return e
}

func isNumber(e syntax.Expr) bool {
	l, ok := e.(*syntax.Literal)
	return ok && (l.Token == syntax.INT || l.Token == syntax.FLOAT)
}

func guardCall(name string, pos syntax.Position, args ...syntax.Expr) syntax.Expr {
	return &syntax.CallExpr{
		Fn:     &syntax.Ident{NamePos: pos, Name: name},
		Lparen: pos,
		Args:   args,
		Rparen: pos,
	}
}

// copyExpr copies the target of an augmented assignment so that the
// guard can read its current value.
func copyExpr(e syntax.Expr) (syntax.Expr, error) {
	switch e := e.(type) {
	case *syntax.Ident:
		return &syntax.Ident{NamePos: e.NamePos, Name: e.Name}, nil
	case *syntax.Literal:
		c := *e
		return &c, nil
	case *syntax.ParenExpr:
		x, err := copyExpr(e.X)
		return &syntax.ParenExpr{Lparen: e.Lparen, X: x, Rparen: e.Rparen}, err
	case *syntax.DotExpr:
		x, err := copyExpr(e.X)
		return &syntax.DotExpr{X: x, Dot: e.Dot, NamePos: e.NamePos, Name: &syntax.Ident{NamePos: e.Name.NamePos, Name: e.Name.Name}}, err
	case *syntax.IndexExpr:
		x, err := copyExpr(e.X)
		if err != nil {
			return nil, err
		}
		y, err := copyExpr(e.Y)
		return &syntax.IndexExpr{X: x, Lbrack: e.Lbrack, Y: y, Rbrack: e.Rbrack}, err
	case *syntax.CallExpr:
		fn, err := copyExpr(e.Fn)
		if err != nil {
			return nil, err
		}
		c := &syntax.CallExpr{Fn: fn, Lparen: e.Lparen, Rparen: e.Rparen}
		for _, a := range e.Args {
			ac, err := copyExpr(a)
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, ac)
		}
		return c, nil
	case *syntax.BinaryExpr:
		x, err := copyExpr(e.X)
		if err != nil {
			return nil, err
		}
		y, err := copyExpr(e.Y)
		return &syntax.BinaryExpr{X: x, OpPos: e.OpPos, Op: e.Op, Y: y}, err
	case *syntax.UnaryExpr:
		var x syntax.Expr
		var err error
		if e.X != nil {
			x, err = copyExpr(e.X)
		}
		return &syntax.UnaryExpr{OpPos: e.OpPos, Op: e.Op, X: x}, err
	}
	return nil, fmt.Errorf("this augmented assignment target is too complex for the sandbox; assign the value to a variable first")
}

// guardBuiltins are the predeclared "$" functions the rewritten code calls.
func guardBuiltins() starlark.StringDict {
	return starlark.StringDict{
		"$add":     starlark.NewBuiltin("$add", guardAdd),
		"$mul":     starlark.NewBuiltin("$mul", guardMul),
		"$mod":     starlark.NewBuiltin("$mod", guardMod),
		"$lsh":     starlark.NewBuiltin("$lsh", guardLsh),
		"$aug_add": starlark.NewBuiltin("$aug_add", augGuard(syntax.PLUS)),
		"$aug_mul": starlark.NewBuiltin("$aug_mul", augGuard(syntax.STAR)),
		"$aug_mod": starlark.NewBuiltin("$aug_mod", augGuard(syntax.PERCENT)),
		"$aug_lsh": starlark.NewBuiltin("$aug_lsh", augGuard(syntax.LTLT)),
		"$dot":     starlark.NewBuiltin("$dot", guardDot),
	}
}

func two(args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, starlark.Value) {
	if len(args) != 2 || len(kwargs) != 0 {
		panic("guard called with wrong arguments") // only the rewriter calls guards
	}
	return args[0], args[1]
}

// checkBinary refuses x op y when its result would be over a limit.
func checkBinary(c *call, op syntax.Token, x, y starlark.Value) error {
	if c == nil {
		return nil
	}
	switch op {
	case syntax.PLUS:
		switch x := x.(type) {
		case starlark.String:
			if y, ok := y.(starlark.String); ok {
				return c.checkLen(uint64(len(x)) + uint64(len(y)))
			}
		case starlark.Bytes:
			if y, ok := y.(starlark.Bytes); ok {
				return c.checkLen(uint64(len(x)) + uint64(len(y)))
			}
		case *starlark.List, starlark.Tuple:
			if yl, ok := y.(starlark.Sequence); ok {
				return c.checkElems(uint64(starlark.Len(x)) + uint64(yl.Len()))
			}
		}
	case syntax.STAR:
		seq, n := x, y
		if _, ok := x.(starlark.Int); ok {
			seq, n = y, x
		}
		ni, ok := n.(starlark.Int)
		if !ok {
			return nil
		}
		count, ok := ni.Int64()
		if !ok || count < 0 {
			if ok { // negative repeats give an empty value
				return nil
			}
			count = 1 << 62
		}
		switch s := seq.(type) {
		case starlark.String, starlark.Bytes:
			hi, lo := bits.Mul64(uint64(starlark.Len(s)), uint64(count))
			if hi != 0 {
				lo = ^uint64(0)
			}
			return c.checkLen(lo)
		case *starlark.List, starlark.Tuple:
			hi, lo := bits.Mul64(uint64(starlark.Len(s)), uint64(count))
			if hi != 0 {
				lo = ^uint64(0)
			}
			return c.checkElems(lo)
		case starlark.Int:
			if b := s.BigInt().BitLen() + ni.BigInt().BitLen(); b > c.lim.MaxIntBits {
				return &limitError{fmt.Sprintf("an integer of about %d bits would exceed the sandbox limit of %d bits", b, c.lim.MaxIntBits)}
			}
		}
	case syntax.PERCENT:
		f, ok := x.(starlark.String)
		if !ok {
			return nil
		}
		return checkFormat(c, string(f), strings.Count(string(f), "%"), y)
	case syntax.LTLT:
		xi, ok := x.(starlark.Int)
		if !ok {
			return nil
		}
		yi, ok := y.(starlark.Int)
		if !ok {
			return nil
		}
		n, ok := yi.Int64()
		if ok && n >= 0 && n < 1<<20 {
			if b := xi.BigInt().BitLen() + int(n); b > c.lim.MaxIntBits {
				return &limitError{fmt.Sprintf("an integer of %d bits would exceed the sandbox limit of %d bits", b, c.lim.MaxIntBits)}
			}
		}
	}
	return nil
}

// checkFormat bounds the result of a format string with the given number
// of placeholders applied to args (a value, tuple or dict): each
// placeholder expands to at most the longest argument.
func checkFormat(c *call, format string, placeholders int, args starlark.Value) error {
	var vals []starlark.Value
	switch a := args.(type) {
	case starlark.Tuple:
		vals = a
	case *starlark.Dict:
		for _, it := range a.Items() {
			vals = append(vals, it[1])
		}
	default:
		vals = []starlark.Value{a}
	}
	longest := 0
	for _, v := range vals {
		n, ok := strBound(v, c.lim.MaxString)
		if !ok {
			return &limitError{fmt.Sprintf("formatting a %s would exceed the sandbox limit of %d bytes", v.Type(), c.lim.MaxString)}
		}
		longest = max(longest, n)
	}
	hi, lo := bits.Mul64(uint64(placeholders), uint64(longest))
	if hi != 0 {
		lo = ^uint64(0)
	}
	return c.checkLen(uint64(len(format)) + lo)
}

func binaryGuard(op syntax.Token) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		x, y := two(args, kwargs)
		c := callOf(thread)
		if err := checkBinary(c, op, x, y); err != nil {
			return nil, err
		}
		v, err := starlark.Binary(op, x, y)
		if err != nil {
			return nil, err
		}
		return v, c.account(v)
	}
}

var (
	guardAdd = binaryGuard(syntax.PLUS)
	guardMul = binaryGuard(syntax.STAR)
	guardMod = binaryGuard(syntax.PERCENT)
	guardLsh = binaryGuard(syntax.LTLT)
)

// augGuard checks target op= value and returns value unchanged for the
// interpreter to apply (so that list += keeps extending in place).
func augGuard(op syntax.Token) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		cur, y := two(args, kwargs)
		c := callOf(thread)
		if err := checkBinary(c, op, cur, y); err != nil {
			return nil, err
		}
		if c != nil {
			switch cur.(type) {
			case starlark.String, starlark.Bytes, *starlark.List, starlark.Tuple:
				// Charge the size of the value the assignment builds.
				n := starlark.Len(cur)
				if s, ok := y.(starlark.Sequence); ok && op == syntax.PLUS {
					n += s.Len()
				} else if op == syntax.PLUS {
					n += starlark.Len(y)
				}
				if _, isList := cur.(*starlark.List); isList {
					n *= 16
				}
				if err := c.charge(int64(max(n, 0))); err != nil {
					return nil, err
				}
			}
		}
		return y, nil
	}
}

// guardDot returns x.name; built-in methods of strings, bytes, lists, dicts
// and sets come back wrapped so that their results are checked.
func guardDot(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	x, nv := two(args, kwargs)
	name := string(nv.(starlark.String))
	ha, ok := x.(starlark.HasAttrs)
	if !ok {
		return nil, fmt.Errorf("%s has no .%s field or method", x.Type(), name)
	}
	v, err := ha.Attr(name)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%s has no .%s field or method", x.Type(), name)
	}
	return wrapMethod(x, name, v), nil
}

// wrapMethod wraps a bound built-in method of a core type in a size check.
func wrapMethod(recv starlark.Value, name string, v starlark.Value) starlark.Value {
	b, ok := v.(*starlark.Builtin)
	if !ok {
		return v
	}
	switch recv.(type) {
	case starlark.String, starlark.Bytes, *starlark.List, *starlark.Dict, *starlark.Set:
	default:
		return v
	}
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		c := callOf(thread)
		if c != nil {
			var err error
			if args, err = checkMethod(c, recv, name, args, kwargs); err != nil {
				return nil, err
			}
		}
		res, err := starlark.Call(thread, b, args, kwargs)
		if err != nil {
			return nil, err
		}
		return res, c.account(res)
	})
}

// checkMethod refuses method calls whose result would be over a limit. It
// returns the arguments to call the method with: a one-shot iterable given
// to join is read into a list first, so that it can be measured.
func checkMethod(c *call, recv starlark.Value, name string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Tuple, error) {
	if err := checkArgs(c, args); err != nil {
		return nil, err
	}
	if name == "join" {
		args = append(starlark.Tuple(nil), args...) // join may replace its argument
	}
	return args, checkMethodResult(c, recv, name, args, kwargs)
}

func checkMethodResult(c *call, recv starlark.Value, name string, args starlark.Tuple, kwargs []starlark.Tuple) error {
	switch r := recv.(type) {
	case starlark.String:
		s := string(r)
		switch name {
		case "join":
			if len(args) != 1 {
				return nil
			}
			if _, ok := args[0].(starlark.Sequence); !ok {
				l, err := materialize(c, args[0])
				if err != nil {
					return err
				}
				args[0] = l
			}
			total := uint64(0)
			n := 0
			iter := starlark.Iterate(args[0])
			if iter == nil {
				return nil
			}
			defer iter.Done()
			var x starlark.Value
			for iter.Next(&x) {
				if xs, ok := x.(starlark.String); ok {
					total += uint64(len(xs))
				}
				n++
				if err := c.checkLen(total + uint64(n)*uint64(len(s))); err != nil {
					return err
				}
			}
		case "replace":
			if len(args) < 2 {
				return nil
			}
			old, ok1 := args[0].(starlark.String)
			nw, ok2 := args[1].(starlark.String)
			if !ok1 || !ok2 || len(nw) <= len(old) {
				return nil
			}
			count := strings.Count(s, string(old))
			if len(args) > 2 {
				if lim, ok := args[2].(starlark.Int); ok {
					if l, ok := lim.Int64(); ok && l >= 0 && l < int64(count) {
						count = int(l)
					}
				}
			}
			return c.checkLen(uint64(len(s)) + uint64(count)*uint64(len(nw)-len(old)))
		case "format":
			var vals starlark.Tuple
			vals = append(vals, args...)
			for _, kv := range kwargs {
				vals = append(vals, kv[1])
			}
			return checkFormat(c, s, strings.Count(s, "{"), vals)
		case "split", "rsplit":
			sep := ""
			if len(args) > 0 {
				if v, ok := args[0].(starlark.String); ok {
					sep = string(v)
				}
			}
			for _, kv := range kwargs {
				if k, _ := starlark.AsString(kv[0]); k == "sep" {
					if v, ok := kv[1].(starlark.String); ok {
						sep = string(v)
					}
				}
			}
			n := 0
			if sep == "" {
				n = len(strings.FieldsFunc(s, unicode.IsSpace))
			} else {
				n = strings.Count(s, sep) + 1
			}
			return c.checkElems(uint64(n))
		case "splitlines":
			return c.checkElems(uint64(strings.Count(s, "\n") + strings.Count(s, "\r") + 1))
		}
	case *starlark.List:
		if name == "extend" && len(args) == 1 {
			if s, ok := args[0].(starlark.Sequence); ok {
				return c.checkElems(uint64(r.Len()) + uint64(s.Len()))
			}
		}
	}
	return nil
}

// materialize reads an iterable into a list of at most MaxElems elements.
func materialize(c *call, v starlark.Value) (*starlark.List, error) {
	iter := starlark.Iterate(v)
	if iter == nil {
		return nil, fmt.Errorf("%s is not iterable", v.Type())
	}
	defer iter.Done()
	var elems []starlark.Value
	var x starlark.Value
	for iter.Next(&x) {
		if len(elems) >= c.lim.MaxElems {
			return nil, c.checkElems(uint64(len(elems) + 1))
		}
		elems = append(elems, x)
	}
	return starlark.NewList(elems), c.charge(16 * int64(len(elems)))
}

// checkArgs refuses arguments that are containers over the element limit
// (for example range(10**9) given to list or sorted).
func checkArgs(c *call, args starlark.Tuple) error {
	for _, a := range args {
		if s, ok := a.(starlark.Sequence); ok {
			if err := c.checkElems(uint64(s.Len())); err != nil {
				return err
			}
		}
	}
	return nil
}

// universeGuards shadows Starlark's built-in functions with checked
// versions: their container arguments and their results are bounded, and
// str/repr refuse to print structures that would be too large.
func universeGuards() starlark.StringDict {
	out := starlark.StringDict{}
	for name, v := range starlark.Universe {
		b, ok := v.(*starlark.Builtin)
		if !ok {
			continue
		}
		switch name {
		case "print", "fail", "len", "range", "type", "bool", "hasattr":
			continue // replaced elsewhere, or cannot build anything large
		}
		out[name] = guardedBuiltin(name, b)
	}
	return out
}

func guardedBuiltin(name string, b *starlark.Builtin) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		c := callOf(thread)
		if c != nil {
			if err := checkArgs(c, args); err != nil {
				return nil, err
			}
			switch name {
			case "str", "repr":
				if len(args) == 1 {
					if _, ok := strBound(args[0], c.lim.MaxString); !ok {
						return nil, &limitError{fmt.Sprintf("%s() of this %s would exceed the sandbox limit of %d bytes", name, args[0].Type(), c.lim.MaxString)}
					}
				}
			case "int":
				if len(args) > 0 {
					if s, ok := args[0].(starlark.String); ok && len(s) > 4300 {
						return nil, &limitError{fmt.Sprintf("int() of a %d-character string: the sandbox allows at most 4300 digits", len(s))}
					}
				}
			}
		}
		res, err := starlark.Call(thread, b, args, kwargs)
		if err != nil {
			return nil, err
		}
		if name == "getattr" && len(args) >= 2 {
			if n, ok := args[1].(starlark.String); ok {
				res = wrapMethod(args[0], string(n), res)
			}
		}
		return res, c.account(res)
	})
}
