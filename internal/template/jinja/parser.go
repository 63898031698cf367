package jinja

import (
	"fmt"
	"strings"
)

// parser turns the token stream into statements, following the structure
// (and operator precedence) of jinja2's parser.
type parser struct {
	toks []token
	pos  int
	// tagStack holds the names of the blocks being parsed, for messages
	// about unclosed or stray end tags.
	tagStack []string
	// soft is true inside {% if %} (its test and bodies, but not blocks
	// nested in them): unknown filters and tests there fail only when
	// evaluated, elsewhere at parse time, as in jinja2.
	soft bool
	// loops counts the for-loop bodies around the current position, for
	// break and continue; macro and call bodies start again at zero.
	loops int
	depth int
	// unknown collects the first unknown filter or test outside an if body.
	unknown error
}

const maxParseDepth = 200

func (p *parser) cur() token  { return p.toks[p.pos] }
func (p *parser) peek() token { return p.toks[min(p.pos+1, len(p.toks)-1)] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if p.pos < len(p.toks)-1 {
		p.pos++
	}
	return t
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return &Error{Kind: SyntaxError, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) isOp(op string) bool {
	t := p.cur()
	return t.kind == tOp && t.val == op
}

func (p *parser) isName(name string) bool {
	t := p.cur()
	return t.kind == tName && t.val == name
}

func (p *parser) skipOp(op string) bool {
	if p.isOp(op) {
		p.next()
		return true
	}
	return false
}

func (p *parser) skipName(name string) bool {
	if p.isName(name) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if p.skipOp(op) {
		return nil
	}
	return p.unexpected(fmt.Sprintf("'%s'", op))
}

func (p *parser) expectName(name string) error {
	if p.skipName(name) {
		return nil
	}
	return p.unexpected(fmt.Sprintf("'%s'", name))
}

func (p *parser) expectKind(k tokenKind) (token, error) {
	if p.cur().kind == k {
		return p.next(), nil
	}
	return token{}, p.unexpected(k.String())
}

func (p *parser) unexpected(want string) error {
	t := p.cur()
	if t.kind == tEOF {
		return p.errorf(t.line, "unexpected end of template, expected %s", want)
	}
	return p.errorf(t.line, "expected token %s, got %s", want, t.describe())
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxParseDepth {
		return p.errorf(p.cur().line, "template nesting is too deep (more than %d levels)", maxParseDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// parseTemplate parses the whole token stream.
func parseTemplate(toks []token) ([]stmt, error) {
	p := &parser{toks: toks}
	body, err := p.subparse(nil)
	if err != nil {
		return nil, err
	}
	if p.unknown != nil {
		return nil, p.unknown
	}
	return body, nil
}

// subparse reads statements until a block tag whose name is in end (the
// tag's name is left as the current token) or the end of input.
func (p *parser) subparse(end []string) ([]stmt, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	var body []stmt
	for {
		t := p.cur()
		switch t.kind {
		case tData:
			p.next()
			body = append(body, &dataStmt{text: t.val})
		case tVarBegin:
			p.next()
			e, err := p.parseTuple(false, true, nil, false)
			if err != nil {
				return nil, err
			}
			if _, err := p.expectKind(tVarEnd); err != nil {
				return nil, err
			}
			body = append(body, &outputStmt{line: t.line, e: e})
		case tBlockBegin:
			p.next()
			nt := p.cur()
			if nt.kind == tName {
				for _, e := range end {
					if nt.val == e {
						return body, nil
					}
				}
			}
			s, err := p.parseStatement()
			if err != nil {
				return nil, err
			}
			if s != nil {
				body = append(body, s)
			}
		case tEOF:
			if end != nil {
				return nil, p.errorf(t.line, "Unexpected end of template. Jinja was looking for the following tags: %s. The innermost block that needs to be closed is '%s'.",
					quoteList(end), p.tagStack[len(p.tagStack)-1])
			}
			return body, nil
		default:
			return nil, p.errorf(t.line, "unexpected %s", t.describe())
		}
	}
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// endBlock consumes the block end after a statement's arguments.
func (p *parser) endBlock() error {
	_, err := p.expectKind(tBlockEnd)
	return err
}

// parseBody reads a block body up to one of the end tags and returns the
// tag that ended it (consumed, with its block end when it is final).
func (p *parser) parseBody(tag string, end []string) ([]stmt, string, error) {
	p.tagStack = append(p.tagStack, tag)
	savedSoft, savedLoops := p.soft, p.loops
	p.soft = tag == "if"
	switch tag {
	case "for":
		p.loops++
	case "macro", "call", "for-else", "generation", "block":
		p.loops = 0
	}
	defer func() {
		p.tagStack = p.tagStack[:len(p.tagStack)-1]
		p.soft, p.loops = savedSoft, savedLoops
	}()
	body, err := p.subparse(end)
	if err != nil {
		return nil, "", err
	}
	name := p.next().val
	return body, name, nil
}

func (p *parser) parseStatement() (stmt, error) {
	t := p.cur()
	if t.kind != tName {
		return nil, p.errorf(t.line, "tag name expected")
	}
	switch t.val {
	case "if":
		return p.parseIf()
	case "for":
		return p.parseFor()
	case "set":
		return p.parseSet()
	case "macro":
		return p.parseMacro()
	case "call":
		return p.parseCallBlock()
	case "filter":
		return p.parseFilterBlock()
	case "with":
		return p.parseWith()
	case "print":
		p.next()
		e, err := p.parseTuple(false, true, nil, false)
		if err != nil {
			return nil, err
		}
		return &outputStmt{line: t.line, e: e}, p.endBlock()
	case "break", "continue":
		p.next()
		if p.loops == 0 {
			return nil, p.errorf(t.line, "'%s' can only appear in a loop", t.val)
		}
		if err := p.endBlock(); err != nil {
			return nil, err
		}
		if t.val == "break" {
			return &breakStmt{line: t.line}, nil
		}
		return &continueStmt{line: t.line}, nil
	case "block":
		return p.parseBlock()
	case "extends", "include", "import", "from":
		return p.parseLoaderStmt()
	case "generation":
		p.next()
		if err := p.endBlock(); err != nil {
			return nil, err
		}
		// transformers implements the block as a call block, so its body
		// is a macro: its own scope, and no break/continue across it.
		body, _, err := p.parseBody("generation", []string{"endgeneration"})
		if err != nil {
			return nil, err
		}
		return &scopeStmt{body: body}, p.endBlock()
	}
	if strings.HasPrefix(t.val, "end") || t.val == "else" || t.val == "elif" {
		msg := fmt.Sprintf("Encountered unknown tag '%s'.", t.val)
		if len(p.tagStack) > 0 {
			msg += fmt.Sprintf(" The innermost block that needs to be closed is '%s'.", p.tagStack[len(p.tagStack)-1])
		}
		return nil, p.errorf(t.line, "%s", msg)
	}
	return nil, p.errorf(t.line, "Encountered unknown tag '%s'.", t.val)
}

// parseBlock reads {% block name [scoped] [required] %}...{% endblock [name] %}.
func (p *parser) parseBlock() (stmt, error) {
	p.next()
	nt, err := p.expectKind(tName)
	if err != nil {
		return nil, err
	}
	p.skipName("scoped")
	p.skipName("required")
	if err := p.endBlock(); err != nil {
		return nil, err
	}
	body, _, err := p.parseBody("block", []string{"endblock"})
	if err != nil {
		return nil, err
	}
	if t := p.cur(); t.kind == tName {
		if t.val != nt.val {
			return nil, p.errorf(t.line, "'%s' expected, got '%s'", nt.val, t.val)
		}
		p.next()
	}
	return &blockStmt{name: nt.val, body: body}, p.endBlock()
}

// parseLoaderStmt reads the statements that need a template loader. Their
// arguments are parsed loosely: up to the end of the tag.
func (p *parser) parseLoaderStmt() (stmt, error) {
	line := p.next().line
	if _, err := p.parseExpression(true); err != nil {
		return nil, err
	}
	for p.cur().kind != tBlockEnd {
		switch p.cur().kind {
		case tEOF, tVarEnd, tBlockBegin, tVarBegin, tData:
			return nil, p.unexpected("end of statement block")
		}
		p.next()
	}
	return &loaderStmt{line: line}, p.endBlock()
}

func (p *parser) parseIf() (stmt, error) {
	line := p.next().line
	savedSoft := p.soft
	p.soft = true
	cond, err := p.parseTuple(false, false, nil, false)
	p.soft = savedSoft
	if err != nil {
		return nil, err
	}
	if err := p.endBlock(); err != nil {
		return nil, err
	}
	node := &ifStmt{line: line, cond: cond}
	body, tag, err := p.parseBody("if", []string{"elif", "else", "endif"})
	if err != nil {
		return nil, err
	}
	node.body = body
	switch tag {
	case "elif":
		// Re-enter as a nested if: "elif cond %}" has the same shape.
		p.pos--
		inner, err := p.parseIf()
		if err != nil {
			return nil, err
		}
		node.elseBody = []stmt{inner}
		return node, nil
	case "else":
		if err := p.endBlock(); err != nil {
			return nil, err
		}
		body, _, err := p.parseBody("if", []string{"endif"})
		if err != nil {
			return nil, err
		}
		node.elseBody = body
	}
	return node, p.endBlock()
}

func (p *parser) parseFor() (stmt, error) {
	line := p.next().line
	tgt, err := p.parseAssignTarget(true, false, []string{"in"})
	if err != nil {
		return nil, err
	}
	if err := checkLoopTarget(p, tgt); err != nil {
		return nil, err
	}
	if err := p.expectName("in"); err != nil {
		return nil, err
	}
	iter, err := p.parseTuple(false, false, []string{"recursive"}, false)
	if err != nil {
		return nil, err
	}
	node := &forStmt{line: line, target: tgt, iter: iter}
	if p.skipName("if") {
		if node.filter, err = p.parseExpression(true); err != nil {
			return nil, err
		}
	}
	node.recursive = p.skipName("recursive")
	if err := p.endBlock(); err != nil {
		return nil, err
	}
	body, tag, err := p.parseBody("for", []string{"endfor", "else"})
	if err != nil {
		return nil, err
	}
	node.body = body
	if tag == "else" {
		if err := p.endBlock(); err != nil {
			return nil, err
		}
		// break/continue are not allowed in the else body: it runs after
		// the loop.
		body, _, err := p.parseBody("for-else", []string{"endfor"})
		if err != nil {
			return nil, err
		}
		node.elseBody = body
	}
	return node, p.endBlock()
}

func checkLoopTarget(p *parser, t *target) error {
	if t.name == "loop" && t.items == nil {
		return p.errorf(t.line, "Can't assign to special loop variable in for-loop target")
	}
	for _, it := range t.items {
		if err := checkLoopTarget(p, it); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) parseSet() (stmt, error) {
	line := p.next().line
	tgt, err := p.parseAssignTarget(true, true, nil)
	if err != nil {
		return nil, err
	}
	if p.skipOp("=") {
		val, err := p.parseTuple(false, true, nil, false)
		if err != nil {
			return nil, err
		}
		return &setStmt{line: line, target: tgt, value: val}, p.endBlock()
	}
	node := &setBlockStmt{line: line, target: tgt}
	if p.isOp("|") {
		if node.filters, err = p.parseFilterChain(); err != nil {
			return nil, err
		}
	}
	if err := p.endBlock(); err != nil {
		return nil, err
	}
	if node.body, _, err = p.parseBody("set", []string{"endset"}); err != nil {
		return nil, err
	}
	return node, p.endBlock()
}

// parseFilterChain reads "| f(args) | g ..." with no input expression.
func (p *parser) parseFilterChain() ([]*filterExpr, error) {
	var out []*filterExpr
	for p.isOp("|") {
		p.next()
		f, err := p.parseFilterOne(nil)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func (p *parser) parseSignature(m *macroStmt) error {
	if err := p.expectOp("("); err != nil {
		return err
	}
	for !p.isOp(")") {
		if len(m.params) > 0 {
			if err := p.expectOp(","); err != nil {
				return err
			}
			if p.isOp(")") {
				break
			}
		}
		nt, err := p.expectKind(tName)
		if err != nil {
			return err
		}
		for _, prev := range m.params {
			if prev == nt.val {
				return p.errorf(nt.line, "duplicate argument '%s' in macro signature", nt.val)
			}
		}
		m.params = append(m.params, nt.val)
		if p.skipOp("=") {
			d, err := p.parseExpression(true)
			if err != nil {
				return err
			}
			m.defaults = append(m.defaults, d)
		} else if len(m.defaults) > 0 {
			return p.errorf(nt.line, "non-default argument follows default argument")
		}
	}
	p.next()
	return nil
}

func (p *parser) parseMacro() (stmt, error) {
	line := p.next().line
	nt, err := p.expectKind(tName)
	if err != nil {
		return nil, err
	}
	m := &macroStmt{line: line, name: nt.val}
	if err := p.parseSignature(m); err != nil {
		return nil, err
	}
	if err := p.endBlock(); err != nil {
		return nil, err
	}
	if m.body, _, err = p.parseBody("macro", []string{"endmacro"}); err != nil {
		return nil, err
	}
	// jinja2 allows "{% endmacro name %}"? No: only the bare tag.
	markSpecialNames(m)
	return m, p.endBlock()
}

func (p *parser) parseCallBlock() (stmt, error) {
	line := p.next().line
	m := &macroStmt{line: line, name: "caller"}
	if p.isOp("(") {
		if err := p.parseSignature(m); err != nil {
			return nil, err
		}
	}
	e, err := p.parseExpression(true)
	if err != nil {
		return nil, err
	}
	call, ok := e.(*callExpr)
	if !ok {
		return nil, p.errorf(line, "expected call")
	}
	if err := p.endBlock(); err != nil {
		return nil, err
	}
	if m.body, _, err = p.parseBody("call", []string{"endcall"}); err != nil {
		return nil, err
	}
	markSpecialNames(m)
	return &callBlockStmt{line: line, call: call, macro: m}, p.endBlock()
}

func (p *parser) parseFilterBlock() (stmt, error) {
	line := p.next().line
	var filters []*filterExpr
	for {
		f, err := p.parseFilterOne(nil)
		if err != nil {
			return nil, err
		}
		filters = append(filters, f)
		if !p.skipOp("|") {
			break
		}
	}
	if err := p.endBlock(); err != nil {
		return nil, err
	}
	body, _, err := p.parseBody("filter", []string{"endfilter"})
	if err != nil {
		return nil, err
	}
	return &filterBlockStmt{line: line, filters: filters, body: body}, p.endBlock()
}

func (p *parser) parseWith() (stmt, error) {
	line := p.next().line
	node := &withStmt{line: line}
	for p.cur().kind != tBlockEnd {
		if len(node.targets) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		tgt, err := p.parseAssignTarget(false, false, nil)
		if err != nil {
			return nil, err
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		v, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		node.targets = append(node.targets, tgt)
		node.values = append(node.values, v)
	}
	p.next()
	body, _, err := p.parseBody("with", []string{"endwith"})
	if err != nil {
		return nil, err
	}
	node.body = body
	return node, p.endBlock()
}

// parseAssignTarget reads a name, a tuple of names, or (for set) ns.attr.
func (p *parser) parseAssignTarget(withTuple, withNamespace bool, extraEnd []string) (*target, error) {
	t := p.cur()
	if withNamespace && t.kind == tName && p.peek().kind == tOp && p.peek().val == "." {
		p.next()
		p.next()
		at, err := p.expectKind(tName)
		if err != nil {
			return nil, err
		}
		return &target{line: t.line, name: t.val, attr: at.val}, nil
	}
	var items []*target
	sawComma := false
	for {
		if p.atTupleEnd(extraEnd) || (len(items) > 0 && p.isOp("=")) {
			break
		}
		it, err := p.parseTargetPrimary()
		if err != nil {
			return nil, err
		}
		items = append(items, it)
		if !withTuple {
			return it, nil
		}
		if !p.skipOp(",") {
			break
		}
		sawComma = true
	}
	if len(items) == 0 {
		return nil, p.errorf(t.line, "can't assign to %s", t.describe())
	}
	if len(items) == 1 && !sawComma {
		return items[0], nil
	}
	return &target{line: t.line, items: items}, nil
}

func (p *parser) parseTargetPrimary() (*target, error) {
	t := p.cur()
	switch {
	case t.kind == tName:
		p.next()
		switch t.val {
		case "true", "false", "none", "True", "False", "None":
			return nil, p.errorf(t.line, "can't assign to '%s'", t.val)
		}
		return &target{line: t.line, name: t.val}, nil
	case t.kind == tOp && t.val == "(":
		p.next()
		inner, err := p.parseAssignTarget(true, false, nil)
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		if inner.items == nil {
			return inner, nil
		}
		return inner, nil
	}
	return nil, p.errorf(t.line, "can't assign to %s", t.describe())
}

func (p *parser) atTupleEnd(extra []string) bool {
	t := p.cur()
	switch t.kind {
	case tVarEnd, tBlockEnd, tEOF:
		return true
	case tOp:
		return t.val == ")"
	case tName:
		for _, e := range extra {
			if t.val == e {
				return true
			}
		}
	}
	return false
}

// parseTuple parses comma-separated expressions. One expression without a
// comma is returned as is; otherwise a tuple.
func (p *parser) parseTuple(simplified, withCondExpr bool, extraEnd []string, explicitParens bool) (expr, error) {
	line := p.cur().line
	var items []expr
	isTuple := false
	for {
		if len(items) > 0 {
			if !p.skipOp(",") {
				break
			}
			isTuple = true
		}
		if p.atTupleEnd(extraEnd) {
			break
		}
		var e expr
		var err error
		switch {
		case simplified:
			e, err = p.parsePrimary()
		case withCondExpr:
			e, err = p.parseExpression(true)
		default:
			e, err = p.parseOr()
		}
		if err != nil {
			return nil, err
		}
		items = append(items, e)
		if !p.isOp(",") {
			break
		}
	}
	if !isTuple {
		if len(items) == 1 {
			return items[0], nil
		}
		if !explicitParens {
			return nil, p.errorf(line, "Expected an expression, got %s", p.cur().describe())
		}
	}
	return &tupleExpr{items: items}, nil
}

func (p *parser) parseExpression(withCondExpr bool) (expr, error) {
	if withCondExpr {
		return p.parseCondExpr()
	}
	return p.parseOr()
}

func (p *parser) parseCondExpr() (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		line := p.next().line
		test, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		c := &condExpr{line: line, test: test, then: e}
		if p.skipName("else") {
			if c.orElse, err = p.parseCondExpr(); err != nil {
				return nil, err
			}
		}
		e = c
	}
	return e, nil
}

func (p *parser) parseOr() (expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isName("or") {
		line := p.next().line
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &binExpr{line: line, op: "or", l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseAnd() (expr, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isName("and") {
		line := p.next().line
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = &binExpr{line: line, op: "and", l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseNot() (expr, error) {
	if p.isName("not") {
		line := p.next().line
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{line: line, op: "not", x: x}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (expr, error) {
	line := p.cur().line
	first, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	var ops []cmpOp
	for {
		t := p.cur()
		var op string
		switch {
		case t.kind == tOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == "<=" || t.val == ">" || t.val == ">="):
			op = t.val
			p.next()
		case p.isName("in"):
			op = "in"
			p.next()
		case p.isName("not") && p.peek().kind == tName && p.peek().val == "in":
			op = "notin"
			p.next()
			p.next()
		default:
			if len(ops) == 0 {
				return first, nil
			}
			return &compareExpr{line: line, first: first, ops: ops}, nil
		}
		e, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		ops = append(ops, cmpOp{op: op, e: e})
	}
}

func (p *parser) parseMath1() (expr, error) {
	l, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		t := p.next()
		r, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		l = &binExpr{line: t.line, op: t.val, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseConcat() (expr, error) {
	line := p.cur().line
	first, err := p.parseMath2()
	if err != nil {
		return nil, err
	}
	items := []expr{first}
	for p.skipOp("~") {
		e, err := p.parseMath2()
		if err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	if len(items) == 1 {
		return first, nil
	}
	return &concatExpr{line: line, items: items}, nil
}

func (p *parser) parseMath2() (expr, error) {
	l, err := p.parsePow()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		t := p.next()
		r, err := p.parsePow()
		if err != nil {
			return nil, err
		}
		l = &binExpr{line: t.line, op: t.val, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parsePow() (expr, error) {
	l, err := p.parseUnary(true)
	if err != nil {
		return nil, err
	}
	for p.isOp("**") {
		t := p.next()
		r, err := p.parseUnary(true)
		if err != nil {
			return nil, err
		}
		l = &binExpr{line: t.line, op: "**", l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.cur()
	var e expr
	var err error
	if t.kind == tOp && (t.val == "-" || t.val == "+") {
		p.next()
		x, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		e = &unaryExpr{line: t.line, op: t.val, x: x}
	} else {
		if e, err = p.parsePrimary(); err != nil {
			return nil, err
		}
	}
	if e, err = p.parsePostfix(e); err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterExpr(e)
	}
	return e, nil
}

func (p *parser) parsePrimary() (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.cur()
	switch t.kind {
	case tName:
		p.next()
		switch t.val {
		case "true", "True":
			return &constExpr{val: true}, nil
		case "false", "False":
			return &constExpr{val: false}, nil
		case "none", "None":
			return &constExpr{val: nil}, nil
		}
		return &nameExpr{line: t.line, name: t.val}, nil
	case tString:
		p.next()
		s := t.val
		for p.cur().kind == tString {
			s += p.next().val
		}
		return &constExpr{val: s}, nil
	case tInt:
		p.next()
		return &constExpr{val: t.ival}, nil
	case tFloat:
		p.next()
		return &constExpr{val: t.fval}, nil
	case tOp:
		switch t.val {
		case "(":
			p.next()
			e, err := p.parseTuple(false, true, nil, true)
			if err != nil {
				return nil, err
			}
			return e, p.expectOp(")")
		case "[":
			return p.parseList()
		case "{":
			return p.parseDict()
		}
	}
	return nil, p.errorf(t.line, "unexpected %s", t.describe())
}

func (p *parser) parseList() (expr, error) {
	p.next()
	var items []expr
	for !p.isOp("]") {
		if len(items) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			if p.isOp("]") {
				break
			}
		}
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	p.next()
	return &listExpr{items: items}, nil
}

func (p *parser) parseDict() (expr, error) {
	p.next()
	d := &dictExpr{}
	for !p.isOp("}") {
		if len(d.keys) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			if p.isOp("}") {
				break
			}
		}
		k, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(":"); err != nil {
			return nil, err
		}
		v, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		d.keys = append(d.keys, k)
		d.vals = append(d.vals, v)
	}
	p.next()
	return d, nil
}

func (p *parser) parsePostfix(e expr) (expr, error) {
	for {
		t := p.cur()
		if t.kind != tOp {
			return e, nil
		}
		var err error
		switch t.val {
		case ".", "[":
			if e, err = p.parseSubscript(e); err != nil {
				return nil, err
			}
		case "(":
			if e, err = p.parseCall(e); err != nil {
				return nil, err
			}
		default:
			return e, nil
		}
	}
}

func (p *parser) parseFilterExpr(e expr) (expr, error) {
	for {
		var err error
		switch {
		case p.isOp("|"):
			p.next()
			if e, err = p.parseFilterOne(e); err != nil {
				return nil, err
			}
		case p.isName("is"):
			if e, err = p.parseTest(e); err != nil {
				return nil, err
			}
		case p.isOp("("):
			if e, err = p.parseCall(e); err != nil {
				return nil, err
			}
		default:
			return e, nil
		}
	}
}

func (p *parser) parseSubscript(e expr) (expr, error) {
	t := p.next()
	if t.val == "." {
		at := p.next()
		switch at.kind {
		case tName:
			return &getattrExpr{line: t.line, obj: e, attr: at.val}, nil
		case tInt:
			return &getitemExpr{line: t.line, obj: e, key: &constExpr{val: at.ival}}, nil
		}
		return nil, p.errorf(at.line, "expected name or number")
	}
	var args []expr
	for !p.isOp("]") {
		if len(args) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			if p.isOp("]") {
				break
			}
		}
		a, err := p.parseSubscribed()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
	}
	if err := p.expectOp("]"); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, p.errorf(t.line, "expected subscript expression")
	}
	key := args[0]
	if len(args) > 1 {
		key = &tupleExpr{items: args}
	}
	return &getitemExpr{line: t.line, obj: e, key: key}, nil
}

func (p *parser) parseSubscribed() (expr, error) {
	var parts [3]expr
	if p.isOp(":") {
		p.next()
	} else {
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		if !p.isOp(":") {
			return e, nil
		}
		p.next()
		parts[0] = e
	}
	if !p.isOp("]") && !p.isOp(",") && !p.isOp(":") {
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		parts[1] = e
	}
	if p.skipOp(":") {
		if !p.isOp("]") && !p.isOp(",") {
			e, err := p.parseExpression(true)
			if err != nil {
				return nil, err
			}
			parts[2] = e
		}
	}
	return &sliceExpr{start: parts[0], stop: parts[1], step: parts[2]}, nil
}

func (p *parser) parseCallArgs() (callArgs, error) {
	var ca callArgs
	if err := p.expectOp("("); err != nil {
		return ca, err
	}
	first := true
	for !p.isOp(")") {
		if !first {
			if err := p.expectOp(","); err != nil {
				return ca, err
			}
			if p.isOp(")") {
				break
			}
		}
		first = false
		t := p.cur()
		switch {
		case p.isOp("**"):
			p.next()
			e, err := p.parseExpression(true)
			if err != nil {
				return ca, err
			}
			ca.dynKwargs = e
		case p.isOp("*"):
			p.next()
			e, err := p.parseExpression(true)
			if err != nil {
				return ca, err
			}
			ca.dynArgs = e
		case t.kind == tName && p.peek().kind == tOp && p.peek().val == "=":
			p.next()
			p.next()
			e, err := p.parseExpression(true)
			if err != nil {
				return ca, err
			}
			ca.kwargs = append(ca.kwargs, kwArg{name: t.val, val: e})
		default:
			if len(ca.kwargs) > 0 || ca.dynArgs != nil || ca.dynKwargs != nil {
				return ca, p.errorf(t.line, "Invalid argument syntax: positional argument follows keyword argument")
			}
			e, err := p.parseExpression(true)
			if err != nil {
				return ca, err
			}
			ca.args = append(ca.args, e)
		}
	}
	p.next()
	return ca, nil
}

func (p *parser) parseCall(e expr) (expr, error) {
	line := p.cur().line
	ca, err := p.parseCallArgs()
	if err != nil {
		return nil, err
	}
	return &callExpr{line: line, fn: e, callArgs: ca}, nil
}

func (p *parser) dottedName() (string, int, error) {
	t, err := p.expectKind(tName)
	if err != nil {
		return "", 0, err
	}
	name := t.val
	for p.isOp(".") {
		p.next()
		nt, err := p.expectKind(tName)
		if err != nil {
			return "", 0, err
		}
		name += "." + nt.val
	}
	return name, t.line, nil
}

func (p *parser) parseFilterOne(input expr) (*filterExpr, error) {
	name, line, err := p.dottedName()
	if err != nil {
		return nil, err
	}
	f := &filterExpr{line: line, input: input, name: name}
	if p.isOp("(") {
		if f.callArgs, err = p.parseCallArgs(); err != nil {
			return nil, err
		}
	}
	if _, ok := filters[name]; !ok {
		p.noteUnknown(line, "No filter named '%s'.", name)
	}
	return f, nil
}

func (p *parser) noteUnknown(line int, format string, args ...any) {
	if !p.soft && p.unknown == nil {
		p.unknown = p.errorf(line, format, args...)
	}
}

func (p *parser) parseTest(e expr) (expr, error) {
	line := p.next().line // "is"
	negated := p.skipName("not")
	name, _, err := p.dottedName()
	if err != nil {
		return nil, err
	}
	te := &testExpr{line: line, input: e, name: name}
	t := p.cur()
	switch {
	case p.isOp("("):
		if te.callArgs, err = p.parseCallArgs(); err != nil {
			return nil, err
		}
	case (t.kind == tName || t.kind == tString || t.kind == tInt || t.kind == tFloat ||
		(t.kind == tOp && (t.val == "(" || t.val == "[" || t.val == "{"))) &&
		!(t.kind == tName && (t.val == "else" || t.val == "or" || t.val == "and")):
		if t.kind == tName && t.val == "is" {
			return nil, p.errorf(t.line, "You cannot chain multiple tests with is")
		}
		arg, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if arg, err = p.parsePostfix(arg); err != nil {
			return nil, err
		}
		te.args = []expr{arg}
	}
	if _, ok := tests[name]; !ok {
		p.noteUnknown(line, "No test named '%s'.", name)
	}
	if negated {
		return &unaryExpr{line: line, op: "not", x: te}, nil
	}
	return te, nil
}

// markSpecialNames records whether a macro body refers to caller, varargs
// or kwargs, which changes how the macro accepts arguments.
func markSpecialNames(m *macroStmt) {
	walkNames(m.body, func(name string) {
		switch name {
		case "caller":
			m.usesCaller = true
		case "varargs":
			m.usesVarargs = true
		case "kwargs":
			m.usesKwargs = true
		}
	})
}

// walkNames calls fn for every variable name read in the statements,
// not descending into nested macros (they have their own signatures).
func walkNames(body []stmt, fn func(string)) {
	var we func(e expr)
	wa := func(ca callArgs) {
		for _, a := range ca.args {
			we(a)
		}
		for _, k := range ca.kwargs {
			we(k.val)
		}
		we(ca.dynArgs)
		we(ca.dynKwargs)
	}
	we = func(e expr) {
		switch x := e.(type) {
		case *nameExpr:
			fn(x.name)
		case *listExpr:
			for _, it := range x.items {
				we(it)
			}
		case *tupleExpr:
			for _, it := range x.items {
				we(it)
			}
		case *dictExpr:
			for i := range x.keys {
				we(x.keys[i])
				we(x.vals[i])
			}
		case *getattrExpr:
			we(x.obj)
		case *getitemExpr:
			we(x.obj)
			we(x.key)
		case *sliceExpr:
			we(x.start)
			we(x.stop)
			we(x.step)
		case *callExpr:
			we(x.fn)
			wa(x.callArgs)
		case *filterExpr:
			we(x.input)
			wa(x.callArgs)
		case *testExpr:
			we(x.input)
			wa(x.callArgs)
		case *binExpr:
			we(x.l)
			we(x.r)
		case *unaryExpr:
			we(x.x)
		case *compareExpr:
			we(x.first)
			for _, o := range x.ops {
				we(o.e)
			}
		case *concatExpr:
			for _, it := range x.items {
				we(it)
			}
		case *condExpr:
			we(x.test)
			we(x.then)
			we(x.orElse)
		}
	}
	var ws func(body []stmt)
	ws = func(body []stmt) {
		for _, s := range body {
			switch x := s.(type) {
			case *outputStmt:
				we(x.e)
			case *ifStmt:
				we(x.cond)
				ws(x.body)
				ws(x.elseBody)
			case *forStmt:
				we(x.iter)
				we(x.filter)
				ws(x.body)
				ws(x.elseBody)
			case *setStmt:
				we(x.value)
			case *setBlockStmt:
				for _, f := range x.filters {
					we(f)
				}
				ws(x.body)
			case *callBlockStmt:
				we(x.call)
			case *filterBlockStmt:
				for _, f := range x.filters {
					we(f)
				}
				ws(x.body)
			case *withStmt:
				for _, v := range x.values {
					we(v)
				}
				ws(x.body)
			case *scopeStmt:
				ws(x.body)
			}
		}
	}
	ws(body)
}
