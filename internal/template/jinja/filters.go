package jinja

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

type filterFunc func(r *renderer, in Value, args []Value, kw []namedArg) (Value, error)

var filters map[string]filterFunc

func init() {
	filters = map[string]filterFunc{
		"abs":         filterAbs,
		"attr":        filterAttr,
		"batch":       filterBatch,
		"capitalize":  strFilter(pyCapitalize),
		"center":      filterCenter,
		"count":       filterLength,
		"d":           filterDefault,
		"default":     filterDefault,
		"dictsort":    filterDictsort,
		"e":           filterEscape,
		"escape":      filterEscape,
		"first":       filterFirst,
		"float":       filterFloat,
		"forceescape": filterForceEscape,
		"format":      filterFormat,
		"groupby":     filterGroupby,
		"indent":      filterIndent,
		"int":         filterInt,
		"items":       filterItems,
		"join":        filterJoin,
		"last":        filterLast,
		"length":      filterLength,
		"list":        filterList,
		"lower":       strFilter(strings.ToLower),
		"map":         filterMap,
		"max":         filterMinMax(true),
		"min":         filterMinMax(false),
		"reject":      selectFilter(false, false),
		"rejectattr":  selectFilter(false, true),
		"replace":     filterReplace,
		"reverse":     filterReverse,
		"round":       filterRound,
		"safe":        filterSafe,
		"select":      selectFilter(true, false),
		"selectattr":  selectFilter(true, true),
		"slice":       filterSlice,
		"sort":        filterSort,
		"string":      filterString,
		"striptags":   filterStriptags,
		"sum":         filterSum,
		"title":       strFilter(jinjaTitle),
		"tojson":      filterToJSON,
		"trim":        filterTrim,
		"truncate":    filterTruncate,
		"unique":      filterUnique,
		"upper":       strFilter(pyUpper),
		"wordcount":   filterWordcount,
	}
}

// softStr is jinja2's soft_str: strings (and Markup) unchanged, anything
// else through str().
func softStr(v Value) Value {
	switch x := v.(type) {
	case string, Markup:
		return x
	}
	return toStr(v)
}

// strFilter lifts a text function to a filter that keeps Markup.
func strFilter(fn func(string) string) filterFunc {
	return func(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
		if len(args)+len(kw) > 0 {
			return nil, runtimeErr("filter takes no arguments")
		}
		s := softStr(in)
		if m, ok := s.(Markup); ok {
			return Markup(fn(string(m))), nil
		}
		return fn(s.(string)), nil
	}
}

var wordBeginningSplit = regexp.MustCompile(`[-\s({\[<]+`)

// jinjaTitle is the title filter: each word's first character upper case,
// the rest lower case, words split at whitespace, dashes and brackets.
func jinjaTitle(s string) string {
	var b strings.Builder
	last := 0
	emit := func(item string) {
		if item == "" {
			return
		}
		r, n := utf8.DecodeRuneInString(item)
		b.WriteString(pyUpper(string(r)))
		b.WriteString(strings.ToLower(item[n:]))
	}
	for _, loc := range wordBeginningSplit.FindAllStringIndex(s, -1) {
		emit(s[last:loc[0]])
		emit(s[loc[0]:loc[1]])
		last = loc[1]
	}
	emit(s[last:])
	return b.String()
}

func filterAbs(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	switch x := in.(type) {
	case int64:
		if x < 0 {
			return -x, nil
		}
		return x, nil
	case float64:
		return math.Abs(x), nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case *Undefined:
		return nil, undefinedErr(x)
	}
	return nil, runtimeErr("bad operand type for abs(): '%s'", typeName(in))
}

func filterAttr(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("attr", args, kw, []string{"name"})
	if err != nil {
		return nil, err
	}
	name, ok := isStr(p[0])
	if !ok {
		return undefinedIn(in, p[0]), nil
	}
	switch x := in.(type) {
	case *Undefined:
		return nil, undefinedErr(x)
	case *Namespace:
		if v, ok := x.attrs.Get(name); ok {
			return v, nil
		}
	case *loopCtx:
		return x.attr(r, name), nil
	}
	// attr() looks up Python attributes only, never items.
	if m := method(in, name); m != nil {
		return m, nil
	}
	return undefinedIn(in, name), nil
}

func filterBatch(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("batch", args, kw, []string{"linecount", "fill_with"}, nil)
	if err != nil {
		return nil, err
	}
	n, err := toInt("batch", p[0])
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, runtimeErr("batch size must be positive")
	}
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	var out []Value
	var cur []Value
	for _, it := range items {
		if int64(len(cur)) == n {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, it)
	}
	if len(cur) > 0 {
		if p[1] != nil {
			for int64(len(cur)) < n {
				cur = append(cur, p[1])
			}
		}
		out = append(out, cur)
	}
	return newGenerator(out), nil
}

func filterCenter(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("center", args, kw, []string{"width"}, int64(80))
	if err != nil {
		return nil, err
	}
	w, err := toInt("center", p[0])
	if err != nil {
		return nil, err
	}
	if err := checkAlloc(w); err != nil {
		return nil, err
	}
	s := softStr(in)
	out := pad(toStr(s), int(w), " ", "center")
	if _, ok := s.(Markup); ok {
		return Markup(out), nil
	}
	return out, nil
}

func filterDefault(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("default", args, kw, []string{"default_value", "boolean"}, "", false)
	if err != nil {
		return nil, err
	}
	if _, ok := in.(*Undefined); ok || (truthy(p[1]) && !truthy(in)) {
		return p[0], nil
	}
	return in, nil
}

// ignoreCase lowercases strings for case-insensitive sorting.
func ignoreCase(v Value) Value {
	switch x := v.(type) {
	case string:
		return strings.ToLower(x)
	case Markup:
		return Markup(strings.ToLower(string(x)))
	}
	return v
}

// sortValues sorts stably by key, failing on unorderable keys like Python.
func sortValues(items []Value, key func(Value) (Value, error), reverse bool) ([]Value, error) {
	keys := make([]Value, len(items))
	for i, it := range items {
		k, err := key(it)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	var cmpErr error
	sort.SliceStable(idx, func(a, b int) bool {
		c, err := compare(keys[idx[a]], keys[idx[b]])
		if err != nil && cmpErr == nil {
			cmpErr = err
		}
		if reverse {
			return c > 0
		}
		return c < 0
	})
	if cmpErr != nil {
		return nil, cmpErr
	}
	out := make([]Value, len(items))
	for i, j := range idx {
		out[i] = items[j]
	}
	return out, nil
}

func filterDictsort(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("dictsort", args, kw, []string{"case_sensitive", "by", "reverse"}, false, "key", false)
	if err != nil {
		return nil, err
	}
	d, ok := in.(*Dict)
	if !ok {
		if u, isU := in.(*Undefined); isU {
			return nil, undefinedErr(u)
		}
		return nil, runtimeErr("'%s' object has no attribute 'items'", typeName(in))
	}
	pos := 0
	switch toStr(p[1]) {
	case "key":
	case "value":
		pos = 1
	default:
		return nil, runtimeErr(`You can only sort by either "key" or "value"`)
	}
	items := make([]Value, d.Len())
	for i, k := range d.keys {
		items[i] = Tuple{k, d.vals[i]}
	}
	cs := truthy(p[0])
	return sortValues(items, func(v Value) (Value, error) {
		k := v.(Tuple)[pos]
		if !cs {
			k = ignoreCase(k)
		}
		return k, nil
	}, truthy(p[2]))
}

func filterEscape(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	return escapeValue(in), nil
}

func filterForceEscape(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	return Markup(htmlEscape(toStr(in))), nil
}

func filterFirst(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undefinedHint("No first item, sequence was empty."), nil
	}
	return items[0], nil
}

func filterLast(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	if it, ok := in.(*Iter); ok && it.oneShot {
		return nil, runtimeErr("'%s' object is not reversible", it.kind)
	}
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undefinedHint("No last item, sequence was empty."), nil
	}
	return items[len(items)-1], nil
}

// parsePyInt parses text the way Python's int(text, base) does.
func parsePyInt(s string, base int) (int64, bool) {
	s = strings.TrimFunc(s, isPySpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if base == 0 || base == 16 || base == 8 || base == 2 {
		low := strings.ToLower(s)
		switch {
		case strings.HasPrefix(low, "0x") && (base == 0 || base == 16):
			s, base = s[2:], 16
		case strings.HasPrefix(low, "0o") && (base == 0 || base == 8):
			s, base = s[2:], 8
		case strings.HasPrefix(low, "0b") && (base == 0 || base == 2):
			s, base = s[2:], 2
		case base == 0:
			base = 10
		}
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), base, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// parsePyFloat parses text the way Python's float(text) does.
func parsePyFloat(s string) (float64, bool) {
	s = strings.TrimFunc(s, isPySpace)
	low := strings.ToLower(strings.TrimLeft(s, "+-"))
	switch low {
	case "inf", "infinity", "nan":
	default:
		if s == "" || strings.ContainsAny(low, "xp") || strings.HasPrefix(low, "_") {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

func filterInt(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("int", args, kw, []string{"default", "base"}, int64(0), int64(10))
	if err != nil {
		return nil, err
	}
	base, err := toInt("int", p[1])
	if err != nil {
		return nil, err
	}
	switch x := in.(type) {
	case *Undefined:
		return nil, undefinedErr(x)
	case int64:
		return x, nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return p[0], nil
		}
		return int64(x), nil
	case string, Markup:
		s, _ := isStr(x)
		if v, ok := parsePyInt(s, int(base)); ok {
			return v, nil
		}
		if f, ok := parsePyFloat(s); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return int64(f), nil
		}
	}
	return p[0], nil
}

func filterFloat(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("float", args, kw, []string{"default"}, 0.0)
	if err != nil {
		return nil, err
	}
	switch x := in.(type) {
	case *Undefined:
		return nil, undefinedErr(x)
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case bool:
		if x {
			return 1.0, nil
		}
		return 0.0, nil
	case string, Markup:
		s, _ := isStr(x)
		if f, ok := parsePyFloat(s); ok {
			return f, nil
		}
	}
	return p[0], nil
}

func filterFormat(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	if len(args) > 0 && len(kw) > 0 {
		return nil, runtimeErr("can't handle positional and keyword arguments at the same time")
	}
	var a Value
	if len(kw) > 0 {
		d := NewDict()
		for _, k := range kw {
			d.SetStr(k.name, k.val)
		}
		a = d
	} else {
		a = Tuple(args)
	}
	s := softStr(in)
	return arith("%", s, a)
}

// attrGetter is jinja2's make_attrgetter: a dotted path of item lookups
// ("a.b.0") applied with the sandbox's getitem.
func (r *renderer) attrGetter(attr Value, def Value) func(Value) (Value, error) {
	var parts []Value
	if s, ok := isStr(attr); ok {
		for _, part := range strings.Split(s, ".") {
			if n, err := strconv.Atoi(part); err == nil {
				parts = append(parts, int64(n))
			} else {
				parts = append(parts, part)
			}
		}
	} else {
		parts = []Value{attr}
	}
	return func(item Value) (Value, error) {
		var err error
		for _, part := range parts {
			if item, err = r.getitem(item, part); err != nil {
				return nil, err
			}
			if _, isU := item.(*Undefined); isU && def != nil {
				item = def
			}
		}
		return item, nil
	}
}

func filterGroupby(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("groupby", args, kw, []string{"attribute", "default", "case_sensitive"}, nil, false)
	if err != nil {
		return nil, err
	}
	get := r.attrGetter(p[0], p[1])
	cs := truthy(p[2])
	key := func(v Value) (Value, error) {
		k, err := get(v)
		if err != nil {
			return nil, err
		}
		if !cs {
			k = ignoreCase(k)
		}
		return k, nil
	}
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	sorted, err := sortValues(items, key, false)
	if err != nil {
		return nil, err
	}
	var out []Value
	for _, it := range sorted {
		k, err := key(it)
		if err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && equal(out[n-1].(*groupTuple).key, k) {
			g := out[n-1].(*groupTuple)
			g.list = append(g.list, it)
			continue
		}
		grouper := k
		if !cs {
			if grouper, err = get(it); err != nil {
				return nil, err
			}
		}
		out = append(out, &groupTuple{key: k, grouper: grouper, list: []Value{it}})
	}
	return out, nil
}

func filterIndent(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("indent", args, kw, []string{"width", "first", "blank"}, int64(4), false, false)
	if err != nil {
		return nil, err
	}
	var indention string
	if s, ok := isStr(p[0]); ok {
		indention = s
	} else {
		w, err := toInt("indent", p[0])
		if err != nil {
			return nil, err
		}
		if err := checkAlloc(w); err != nil {
			return nil, err
		}
		if w > 0 {
			indention = strings.Repeat(" ", int(w))
		}
	}
	s, ok := isStr(in)
	if !ok {
		if u, isU := in.(*Undefined); isU {
			return nil, undefinedErr(u)
		}
		return nil, runtimeErr("unsupported operand type(s) for +=: '%s' and 'str'", typeName(in))
	}
	_, markup := in.(Markup)
	s += "\n"
	lines := pySplitLines(s, false)
	if err := checkAlloc(int64(len(s)) + int64(len(lines))*int64(len(indention))); err != nil {
		return nil, err
	}
	var out string
	if truthy(p[2]) {
		out = strings.Join(lines, "\n"+indention)
	} else {
		out = lines[0]
		if len(lines) > 1 {
			rest := make([]string, len(lines)-1)
			for i, l := range lines[1:] {
				if l != "" {
					rest[i] = indention + l
				}
			}
			out += "\n" + strings.Join(rest, "\n")
		}
	}
	if truthy(p[1]) {
		out = indention + out
	}
	if markup {
		return Markup(out), nil
	}
	return out, nil
}

func filterItems(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	switch d := in.(type) {
	case *Undefined:
		return newGenerator(nil), nil
	case *Dict:
		out := make([]Value, d.Len())
		for i, k := range d.keys {
			out[i] = Tuple{k, d.vals[i]}
		}
		return newGenerator(out), nil
	}
	return nil, runtimeErr("Can only get item pairs from a mapping.")
}

func filterJoin(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("join", args, kw, []string{"d", "attribute"}, "", nil)
	if err != nil {
		return nil, err
	}
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	if p[1] != nil {
		get := r.attrGetter(p[1], nil)
		mapped := make([]Value, len(items))
		for i, it := range items {
			if mapped[i], err = get(it); err != nil {
				return nil, err
			}
		}
		items = mapped
	}
	sep := toStr(p[0])
	parts := make([]string, len(items))
	size := int64(len(sep)) * int64(len(items))
	for i, it := range items {
		parts[i] = toStr(it)
		size += int64(len(parts[i]))
	}
	if err := checkAlloc(size); err != nil {
		return nil, err
	}
	return strings.Join(parts, sep), nil
}

func filterLength(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	n, err := length(in)
	if err != nil {
		return nil, err
	}
	return int64(n), nil
}

func filterList(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	return append([]Value{}, items...), nil
}

func filterMap(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	if !truthy(in) {
		return newGenerator(nil), nil
	}
	var fn func(Value) (Value, error)
	if len(args) == 0 {
		var attr, def Value
		found := false
		var rest []namedArg
		for _, k := range kw {
			switch k.name {
			case "attribute":
				attr, found = k.val, true
			case "default":
				def = k.val
			default:
				rest = append(rest, k)
			}
		}
		if !found {
			return nil, runtimeErr("map requires a filter argument")
		}
		if len(rest) > 0 {
			return nil, runtimeErr("Unexpected keyword argument '%s'", rest[0].name)
		}
		fn = r.attrGetter(attr, def)
	} else {
		name, ok := isStr(args[0])
		if !ok {
			return nil, runtimeErr("map filter name must be a string")
		}
		fargs := args[1:]
		fn = func(v Value) (Value, error) { return r.callFilter(name, v, fargs, kw) }
	}
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	out := make([]Value, len(items))
	for i, it := range items {
		if err := r.step(); err != nil {
			return nil, err
		}
		if out[i], err = fn(it); err != nil {
			return nil, err
		}
	}
	return newGenerator(out), nil
}

func filterMinMax(isMax bool) filterFunc {
	return func(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
		name := "min"
		if isMax {
			name = "max"
		}
		p, err := params(name, args, kw, []string{"case_sensitive", "attribute"}, false, nil)
		if err != nil {
			return nil, err
		}
		items, err := r.iterate(in)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return undefinedHint("No aggregated item, sequence was empty."), nil
		}
		var get func(Value) (Value, error)
		if p[1] != nil {
			get = r.attrGetter(p[1], nil)
		} else {
			get = func(v Value) (Value, error) { return v, nil }
		}
		key := func(v Value) (Value, error) {
			k, err := get(v)
			if err != nil || truthy(p[0]) {
				return k, err
			}
			return ignoreCase(k), nil
		}
		best := items[0]
		bk, err := key(best)
		if err != nil {
			return nil, err
		}
		for _, it := range items[1:] {
			k, err := key(it)
			if err != nil {
				return nil, err
			}
			c, err := compare(k, bk)
			if err != nil {
				return nil, err
			}
			if (isMax && c > 0) || (!isMax && c < 0) {
				best, bk = it, k
			}
		}
		return best, nil
	}
}

// selectFilter builds select, reject, selectattr and rejectattr.
func selectFilter(keep, byAttr bool) filterFunc {
	return func(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
		if !truthy(in) {
			return newGenerator(nil), nil
		}
		trans := func(v Value) (Value, error) { return v, nil }
		off := 0
		if byAttr {
			if len(args) == 0 {
				return nil, runtimeErr("Missing parameter for attribute name")
			}
			trans = r.attrGetter(args[0], nil)
			off = 1
		}
		test := func(v Value) (bool, error) { return truthy(v), nil }
		if len(args) > off {
			name, ok := isStr(args[off])
			if !ok {
				return nil, runtimeErr("test name must be a string")
			}
			targs := args[off+1:]
			test = func(v Value) (bool, error) { return r.runTest(name, v, targs, kw) }
		}
		items, err := r.iterate(in)
		if err != nil {
			return nil, err
		}
		var out []Value
		for _, it := range items {
			if err := r.step(); err != nil {
				return nil, err
			}
			v, err := trans(it)
			if err != nil {
				return nil, err
			}
			ok, err := test(v)
			if err != nil {
				return nil, err
			}
			if ok == keep {
				out = append(out, it)
			}
		}
		return newGenerator(out), nil
	}
}

func filterReplace(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("replace", args, kw, []string{"old", "new", "count"}, nil)
	if err != nil {
		return nil, err
	}
	count := int64(-1)
	if p[2] != nil {
		if count, err = toInt("replace", p[2]); err != nil {
			return nil, err
		}
	}
	return pyReplace(toStr(in), toStr(p[0]), toStr(p[1]), int(count))
}

func filterReverse(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	switch x := in.(type) {
	case string:
		rs := []rune(x)
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return string(rs), nil
	case Markup:
		rs := []rune(string(x))
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return Markup(string(rs)), nil
	}
	items, err := r.iterate(in)
	if err != nil {
		return nil, runtimeErr("argument must be iterable")
	}
	out := make([]Value, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it
	}
	switch in.(type) {
	case []Value, Tuple, *Dict:
		return &Iter{kind: "list_reverseiterator", items: out, oneShot: true}, nil
	}
	return out, nil
}

func filterRound(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("round", args, kw, []string{"precision", "method"}, int64(0), "common")
	if err != nil {
		return nil, err
	}
	prec, err := toInt("round", p[0])
	if err != nil {
		return nil, err
	}
	_, f, _, ok := asNumber(in)
	if !ok {
		if u, isU := in.(*Undefined); isU {
			return nil, undefinedErr(u)
		}
		return nil, runtimeErr("type %s doesn't define __round__ method", typeName(in))
	}
	method := toStr(p[1])
	switch method {
	case "common":
		// Python's round(): correctly rounded, ties to even; ints stay ints.
		if i, ok := in.(int64); ok && prec >= 0 {
			return i, nil
		}
		if b, ok := in.(bool); ok && prec >= 0 {
			if b {
				return int64(1), nil
			}
			return int64(0), nil
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return f, nil
		}
		if prec >= 0 {
			v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', int(prec), 64), 64)
			return v, nil
		}
		scale := math.Pow(10, float64(-prec))
		return math.RoundToEven(f/scale) * scale, nil
	case "ceil", "floor":
		scale := math.Pow(10, float64(prec))
		if method == "ceil" {
			return math.Ceil(f*scale) / scale, nil
		}
		return math.Floor(f*scale) / scale, nil
	}
	return nil, runtimeErr("method must be common, ceil or floor")
}

func filterSafe(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	if m, ok := in.(Markup); ok {
		return m, nil
	}
	return Markup(toStr(in)), nil
}

func filterSlice(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("slice", args, kw, []string{"slices", "fill_with"}, nil)
	if err != nil {
		return nil, err
	}
	n, err := toInt("slice", p[0])
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, runtimeErr("slice count must be positive")
	}
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	per := len(items) / int(n)
	extra := len(items) % int(n)
	offset := 0
	var out []Value
	for i := 0; i < int(n); i++ {
		start := offset + i*per
		if i < extra {
			offset++
		}
		end := offset + (i+1)*per
		part := append([]Value{}, items[start:end]...)
		if p[1] != nil && i >= extra {
			part = append(part, p[1])
		}
		out = append(out, part)
	}
	return newGenerator(out), nil
}

func filterSort(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("sort", args, kw, []string{"reverse", "case_sensitive", "attribute"}, false, false, nil)
	if err != nil {
		return nil, err
	}
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	var getters []func(Value) (Value, error)
	if p[2] != nil {
		if s, ok := isStr(p[2]); ok {
			for _, a := range strings.Split(s, ",") {
				getters = append(getters, r.attrGetter(a, nil))
			}
		} else {
			getters = append(getters, r.attrGetter(p[2], nil))
		}
	}
	cs := truthy(p[1])
	key := func(v Value) (Value, error) {
		if len(getters) == 0 {
			if cs {
				return v, nil
			}
			return ignoreCase(v), nil
		}
		var ks []Value
		for _, g := range getters {
			k, err := g(v)
			if err != nil {
				return nil, err
			}
			if !cs {
				k = ignoreCase(k)
			}
			ks = append(ks, k)
		}
		if len(ks) == 1 {
			return ks[0], nil
		}
		return ks, nil
	}
	return sortValues(items, key, truthy(p[0]))
}

func filterString(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	return softStr(in), nil
}

var (
	tagRE   = regexp.MustCompile(`(?s)<!--.*?-->|<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

func filterStriptags(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	s := tagRE.ReplaceAllString(toStr(in), "")
	s = strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
	return htmlUnescape(s), nil
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&#39;", "'", "&#34;", "\"", "&quot;", "\"", "&amp;", "&").Replace(s)
}

func filterSum(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("sum", args, kw, []string{"attribute", "start"}, nil, int64(0))
	if err != nil {
		return nil, err
	}
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	total := p[1]
	var get func(Value) (Value, error)
	if p[0] != nil {
		get = r.attrGetter(p[0], nil)
	}
	for _, it := range items {
		if get != nil {
			if it, err = get(it); err != nil {
				return nil, err
			}
		}
		if total, err = arith("+", total, it); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// filterToJSON is transformers' replacement of jinja2's tojson:
// json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False), so non-ASCII text and HTML characters pass through.
func filterToJSON(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("tojson", args, kw, []string{"ensure_ascii", "indent", "separators", "sort_keys"}, false, nil, nil, false)
	if err != nil {
		return nil, err
	}
	o := jsonOptions{ensureASCII: truthy(p[0]), sortKeys: truthy(p[3]), itemSep: ", ", keySep: ": "}
	if p[1] != nil {
		var ind string
		if s, ok := isStr(p[1]); ok {
			ind = s
		} else {
			n, err := toInt("tojson", p[1])
			if err != nil {
				return nil, err
			}
			if err := checkAlloc(n); err != nil {
				return nil, err
			}
			if n > 0 {
				ind = strings.Repeat(" ", int(n))
			}
		}
		o.indent = &ind
		o.itemSep = ","
	}
	if p[2] != nil {
		seps, err := iterate(p[2])
		if err != nil || len(seps) != 2 {
			return nil, runtimeErr("tojson separators must be a pair of strings")
		}
		o.itemSep, o.keySep = toStr(seps[0]), toStr(seps[1])
	}
	return toJSON(in, o)
}

func filterTrim(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("trim", args, kw, []string{"chars"}, nil)
	if err != nil {
		return nil, err
	}
	set, err := stripSet("strip", p[0])
	if err != nil {
		return nil, err
	}
	s := softStr(in)
	if m, ok := s.(Markup); ok {
		return Markup(strings.TrimFunc(string(m), set)), nil
	}
	return strings.TrimFunc(s.(string), set), nil
}

func filterTruncate(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("truncate", args, kw, []string{"length", "killwords", "end", "leeway"}, int64(255), false, "...", nil)
	if err != nil {
		return nil, err
	}
	n, err := toInt("truncate", p[0])
	if err != nil {
		return nil, err
	}
	leeway := int64(5)
	if p[3] != nil {
		if leeway, err = toInt("truncate", p[3]); err != nil {
			return nil, err
		}
	}
	end := toStr(p[2])
	endLen := int64(utf8.RuneCountInString(end))
	if n < endLen {
		return nil, runtimeErr("expected length >= %d, got %d", endLen, n)
	}
	size, err := length(in)
	if err != nil {
		return nil, err
	}
	if int64(size) <= n+leeway {
		return in, nil
	}
	s, ok := isStr(in)
	if !ok {
		return nil, runtimeErr("can only concatenate %s (not \"str\") to %s", typeName(in), typeName(in))
	}
	rs := []rune(s)
	cut := string(rs[:n-endLen])
	if truthy(p[1]) {
		return cut + end, nil
	}
	if i := strings.LastIndex(cut, " "); i >= 0 {
		cut = cut[:i]
	}
	return cut + end, nil
}

func filterUnique(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	p, err := params("unique", args, kw, []string{"case_sensitive", "attribute"}, false, nil)
	if err != nil {
		return nil, err
	}
	items, err := r.iterate(in)
	if err != nil {
		return nil, err
	}
	get := func(v Value) (Value, error) { return v, nil }
	if p[1] != nil {
		get = r.attrGetter(p[1], nil)
	}
	seen := map[any]bool{}
	var out []Value
	for _, it := range items {
		k, err := get(it)
		if err != nil {
			return nil, err
		}
		if !truthy(p[0]) {
			k = ignoreCase(k)
		}
		h, err := hashKey(k)
		if err != nil {
			return nil, err
		}
		if !seen[h] {
			seen[h] = true
			out = append(out, it)
		}
	}
	return newGenerator(out), nil
}

// wordRE is Python's \w+ on str: Unicode letters, digits and underscore.
var wordRE = regexp.MustCompile(`[\p{L}\p{N}_]+`)

func filterWordcount(r *renderer, in Value, args []Value, kw []namedArg) (Value, error) {
	return int64(len(wordRE.FindAllStringIndex(toStr(in), -1))), nil
}

// groupTuple is the (grouper, list) named tuple groupby yields.
type groupTuple struct {
	key     Value // the comparison key (lowercased when case-insensitive)
	grouper Value
	list    []Value
}

func (g *groupTuple) items() []Value { return []Value{g.grouper, g.list} }
