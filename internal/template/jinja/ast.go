package jinja

// Statements. Each carries the source line it starts on for error messages.

type stmt interface{}

type dataStmt struct{ text string }

type outputStmt struct {
	line int
	e    expr
}

type ifStmt struct {
	line     int
	cond     expr
	body     []stmt
	elseBody []stmt // an elif is an ifStmt alone in elseBody
}

type forStmt struct {
	line      int
	target    *target
	iter      expr
	filter    expr
	body      []stmt
	elseBody  []stmt
	recursive bool
}

type setStmt struct {
	line   int
	target *target
	value  expr
}

type setBlockStmt struct {
	line    int
	target  *target
	filters []*filterExpr // applied in order to the captured text
	body    []stmt
}

type macroStmt struct {
	line        int
	name        string
	params      []string
	defaults    []expr // for the last len(defaults) params
	body        []stmt
	usesCaller  bool
	usesVarargs bool
	usesKwargs  bool
}

type callBlockStmt struct {
	line  int
	call  *callExpr
	macro *macroStmt // the caller() body and its parameters
}

type filterBlockStmt struct {
	line    int
	filters []*filterExpr
	body    []stmt
}

type withStmt struct {
	line    int
	targets []*target
	values  []expr
	body    []stmt
}

type scopeStmt struct{ body []stmt } // {% generation %}: the body in a scope of its own

type blockStmt struct {
	name string
	body []stmt
}

// loaderStmt is {% extends %}, {% include %}, {% import %} or {% from %}:
// parsed, but failing when executed, as there is no template loader.
type loaderStmt struct{ line int }

type breakStmt struct{ line int }
type continueStmt struct{ line int }

// target is the left side of an assignment or a for loop.
type target struct {
	line  int
	name  string    // simple name, or namespace variable when attr != ""
	attr  string    // namespace attribute: {% set ns.attr = ... %}
	items []*target // tuple unpacking when non-nil
}

// Expressions.

type expr interface{}

type constExpr struct{ val Value }

type nameExpr struct {
	line int
	name string
}

type listExpr struct{ items []expr }
type tupleExpr struct{ items []expr }

type dictExpr struct {
	keys []expr
	vals []expr
}

type getattrExpr struct {
	line int
	obj  expr
	attr string
}

type getitemExpr struct {
	line int
	obj  expr
	key  expr
}

type sliceExpr struct{ start, stop, step expr } // nil parts are omitted

type kwArg struct {
	name string
	val  expr
}

type callArgs struct {
	args      []expr
	kwargs    []kwArg
	dynArgs   expr
	dynKwargs expr
}

type callExpr struct {
	line int
	fn   expr
	callArgs
}

type filterExpr struct {
	line  int
	input expr // nil inside {% filter %} and {% set x | f %}
	name  string
	callArgs
}

type testExpr struct {
	line  int
	input expr
	name  string
	callArgs
}

type binExpr struct {
	line int
	op   string // + - * / // % ** and or
	l, r expr
}

type unaryExpr struct {
	line int
	op   string // - + not
	x    expr
}

type cmpOp struct {
	op string // == != < <= > >= in notin
	e  expr
}

type compareExpr struct {
	line  int
	first expr
	ops   []cmpOp
}

type concatExpr struct {
	line  int
	items []expr
}

type condExpr struct {
	line   int
	test   expr
	then   expr
	orElse expr // nil: undefined when the test fails
}
