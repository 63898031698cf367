package jinja

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// method returns the bound Python method name of obj: a *Func, an
// *Undefined for methods the immutable sandbox forbids (list.append,
// dict.update, ...), or nil when obj has no such attribute.
func method(obj Value, name string) Value {
	if strings.HasPrefix(name, "_") {
		return nil
	}
	switch x := obj.(type) {
	case string:
		return strMethod(x, false, name)
	case Markup:
		return strMethod(string(x), true, name)
	case *Dict:
		return dictMethod(x, name)
	case []Value:
		return seqMethod(obj, x, name, true)
	case Tuple:
		return seqMethod(obj, x, name, false)
	}
	return nil
}

func bound(name string, fn func(r *renderer, args []Value, kw []namedArg) (Value, error)) *Func {
	return &Func{name: name, method: true, fn: fn}
}

func dictMethod(d *Dict, name string) Value {
	switch name {
	case "get":
		return bound("get", func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(kw) > 0 {
				return nil, runtimeErr("get() takes no keyword arguments")
			}
			if len(args) < 1 || len(args) > 2 {
				return nil, runtimeErr("get expected 1 or 2 arguments, got %d", len(args))
			}
			if _, err := hashKey(args[0]); err != nil {
				return nil, err
			}
			if v, ok := d.Get(args[0]); ok {
				return v, nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return nil, nil
		})
	case "items":
		return bound("items", func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(args)+len(kw) > 0 {
				return nil, runtimeErr("items() takes no arguments")
			}
			out := make([]Value, d.Len())
			for i, k := range d.keys {
				out[i] = Tuple{k, d.vals[i]}
			}
			return &Iter{kind: "dict_items", items: out, hasLen: true}, nil
		})
	case "keys":
		return bound("keys", func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(args)+len(kw) > 0 {
				return nil, runtimeErr("keys() takes no arguments")
			}
			return &Iter{kind: "dict_keys", items: append([]Value(nil), d.keys...), hasLen: true}, nil
		})
	case "values":
		return bound("values", func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(args)+len(kw) > 0 {
				return nil, runtimeErr("values() takes no arguments")
			}
			return &Iter{kind: "dict_values", items: append([]Value(nil), d.vals...), hasLen: true}, nil
		})
	case "copy":
		return bound("copy", func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			return d.copy(), nil
		})
	case "pop", "popitem", "setdefault", "update", "clear":
		return unsafeAttr(d, name)
	}
	return nil
}

func seqMethod(obj Value, items []Value, name string, isList bool) Value {
	switch name {
	case "count":
		return bound("count", func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(args) != 1 || len(kw) > 0 {
				return nil, runtimeErr("count() takes exactly one argument")
			}
			n := int64(0)
			for _, it := range items {
				if equal(it, args[0]) {
					n++
				}
			}
			return n, nil
		})
	case "index":
		return bound("index", func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(args) < 1 || len(kw) > 0 {
				return nil, runtimeErr("index() takes at least 1 argument")
			}
			for i, it := range items {
				if equal(it, args[0]) {
					return int64(i), nil
				}
			}
			return nil, runtimeErr("%s is not in %s", repr(args[0]), typeName(obj))
		})
	case "copy":
		if isList {
			return bound("copy", func(r *renderer, args []Value, kw []namedArg) (Value, error) {
				return append([]Value(nil), items...), nil
			})
		}
	case "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear":
		if isList {
			return unsafeAttr(obj, name)
		}
	}
	return nil
}

// strResult wraps a string result in Markup when the receiver was Markup.
func strResult(s string, markup bool) Value {
	if markup {
		return Markup(s)
	}
	return s
}

// strArg returns a string argument; for Markup receivers, plain string
// arguments are escaped first, as markupsafe does.
func strArg(fname string, v Value, markup bool) (string, error) {
	s, ok := isStr(v)
	if !ok {
		if u, isU := v.(*Undefined); isU {
			return "", undefinedErr(u)
		}
		return "", runtimeErr("%s() argument must be str, not %s", fname, typeName(v))
	}
	if markup {
		if _, isM := v.(Markup); !isM {
			s = htmlEscape(s)
		}
	}
	return s, nil
}

// stripSet returns a predicate for str.strip's optional chars argument.
func stripSet(fname string, v Value) (func(rune) bool, error) {
	if v == nil {
		return isPySpace, nil
	}
	chars, ok := isStr(v)
	if !ok {
		return nil, runtimeErr("%s arg must be None or str", fname)
	}
	return func(r rune) bool { return strings.ContainsRune(chars, r) }, nil
}

func strMethod(s string, markup bool, name string) Value {
	switch name {
	case "strip", "lstrip", "rstrip":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			p, err := params(name, args, kw, []string{"chars"}, nil)
			if err != nil {
				return nil, err
			}
			set, err := stripSet(name, p[0])
			if err != nil {
				return nil, err
			}
			switch name {
			case "strip":
				return strResult(strings.TrimFunc(s, set), markup), nil
			case "lstrip":
				return strResult(strings.TrimLeftFunc(s, set), markup), nil
			}
			return strResult(strings.TrimRightFunc(s, set), markup), nil
		})
	case "split", "rsplit":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			p, err := params(name, args, kw, []string{"sep", "maxsplit"}, nil, int64(-1))
			if err != nil {
				return nil, err
			}
			maxsplit, err := toInt(name, p[1])
			if err != nil {
				return nil, err
			}
			var parts []string
			if p[0] == nil {
				parts = pySplitSpace(s, int(maxsplit), name == "rsplit")
			} else {
				sep, err := strArg(name, p[0], markup)
				if err != nil {
					return nil, err
				}
				if sep == "" {
					return nil, runtimeErr("empty separator")
				}
				parts = pySplitSep(s, sep, int(maxsplit), name == "rsplit")
			}
			out := make([]Value, len(parts))
			for i, part := range parts {
				out[i] = strResult(part, markup)
			}
			return out, nil
		})
	case "splitlines":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			p, err := params(name, args, kw, []string{"keepends"}, false)
			if err != nil {
				return nil, err
			}
			lines := pySplitLines(s, truthy(p[0]))
			out := make([]Value, len(lines))
			for i, l := range lines {
				out[i] = strResult(l, markup)
			}
			return out, nil
		})
	case "startswith", "endswith":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(kw) > 0 {
				return nil, runtimeErr("%s() takes no keyword arguments", name)
			}
			if len(args) < 1 || len(args) > 3 {
				return nil, runtimeErr("%s() takes from 1 to 3 arguments", name)
			}
			sub := s
			if len(args) > 1 {
				v, err := sliceValue(s, args[1], argOr(args, 2), nil)
				if err != nil {
					return nil, err
				}
				sub = v.(string)
			}
			var cands []Value
			if t, ok := args[0].(Tuple); ok {
				cands = t
			} else {
				cands = []Value{args[0]}
			}
			for _, c := range cands {
				cs, ok := isStr(c)
				if !ok {
					return nil, runtimeErr("%s first arg must be str or a tuple of str, not %s", name, typeName(c))
				}
				if name == "startswith" && strings.HasPrefix(sub, cs) || name == "endswith" && strings.HasSuffix(sub, cs) {
					return true, nil
				}
			}
			return false, nil
		})
	case "replace":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			p, err := params(name, args, kw, []string{"old", "new", "count"}, int64(-1))
			if err != nil {
				return nil, err
			}
			old, err := strArg(name, p[0], markup)
			if err != nil {
				return nil, err
			}
			nw, err := strArg(name, p[1], markup)
			if err != nil {
				return nil, err
			}
			n, err := toInt(name, p[2])
			if err != nil {
				return nil, err
			}
			out, err := pyReplace(s, old, nw, int(n))
			if err != nil {
				return nil, err
			}
			return strResult(out, markup), nil
		})
	case "upper":
		return noArgs(name, func() Value { return strResult(pyUpper(s), markup) })
	case "lower":
		return noArgs(name, func() Value { return strResult(strings.ToLower(s), markup) })
	case "casefold":
		return noArgs(name, func() Value { return strResult(strings.ToLower(s), markup) })
	case "title":
		return noArgs(name, func() Value { return strResult(pyTitle(s), markup) })
	case "capitalize":
		return noArgs(name, func() Value { return strResult(pyCapitalize(s), markup) })
	case "swapcase":
		return noArgs(name, func() Value {
			return strResult(strings.Map(func(r rune) rune {
				if unicode.IsUpper(r) {
					return unicode.ToLower(r)
				}
				return unicode.ToUpper(r)
			}, s), markup)
		})
	case "isalpha", "isdigit", "isnumeric", "isdecimal", "isalnum", "isspace", "islower", "isupper", "istitle":
		return noArgs(name, func() Value { return strPredicate(name, s) })
	case "join":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(args) != 1 || len(kw) > 0 {
				return nil, runtimeErr("join() takes exactly one argument")
			}
			items, err := iterate(args[0])
			if err != nil {
				return nil, runtimeErr("can only join an iterable")
			}
			parts := make([]string, len(items))
			size := int64(len(s)) * int64(len(items))
			for i, it := range items {
				str, ok := isStr(it)
				size += int64(len(str))
				if !ok {
					return nil, runtimeErr("sequence item %d: expected str instance, %s found", i, typeName(it))
				}
				if markup {
					if _, isM := it.(Markup); !isM {
						str = htmlEscape(str)
					}
				}
				parts[i] = str
			}
			if err := checkAlloc(size); err != nil {
				return nil, err
			}
			return strResult(strings.Join(parts, s), markup), nil
		})
	case "find", "rfind", "index", "rindex", "count":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(kw) > 0 || len(args) < 1 || len(args) > 3 {
				return nil, runtimeErr("%s() takes from 1 to 3 positional arguments", name)
			}
			sub, err := strArg(name, args[0], false)
			if err != nil {
				return nil, err
			}
			runes := []rune(s)
			st, en, _, err := sliceIndices(argOr(args, 1), argOr(args, 2), nil, len(runes))
			if err != nil {
				return nil, err
			}
			if en < st {
				en = st
			}
			if st > len(runes) {
				st, en = len(runes), len(runes)
			}
			hay := string(runes[st:en])
			if name == "count" {
				if sub == "" {
					return int64(utf8.RuneCountInString(hay) + 1), nil
				}
				return int64(strings.Count(hay, sub)), nil
			}
			var i int
			if name == "find" || name == "index" {
				i = strings.Index(hay, sub)
			} else {
				i = strings.LastIndex(hay, sub)
			}
			if i < 0 {
				if name == "index" || name == "rindex" {
					return nil, runtimeErr("substring not found")
				}
				return int64(-1), nil
			}
			return int64(st + utf8.RuneCountInString(hay[:i])), nil
		})
	case "center", "ljust", "rjust":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(kw) > 0 || len(args) < 1 || len(args) > 2 {
				return nil, runtimeErr("%s() takes 1 or 2 arguments", name)
			}
			w, err := toInt(name, args[0])
			if err != nil {
				return nil, err
			}
			if err := checkAlloc(w); err != nil {
				return nil, err
			}
			fill := " "
			if len(args) == 2 {
				f, ok := isStr(args[1])
				if !ok || utf8.RuneCountInString(f) != 1 {
					return nil, runtimeErr("The fill character must be exactly one character long")
				}
				fill = f
			}
			return strResult(pad(s, int(w), fill, name), markup), nil
		})
	case "zfill":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(kw) > 0 || len(args) != 1 {
				return nil, runtimeErr("zfill() takes exactly one argument")
			}
			w, err := toInt(name, args[0])
			if err != nil {
				return nil, err
			}
			if err := checkAlloc(w); err != nil {
				return nil, err
			}
			n := utf8.RuneCountInString(s)
			if int(w) <= n {
				return strResult(s, markup), nil
			}
			zeros := strings.Repeat("0", int(w)-n)
			if s != "" && (s[0] == '+' || s[0] == '-') {
				return strResult(s[:1]+zeros+s[1:], markup), nil
			}
			return strResult(zeros+s, markup), nil
		})
	case "partition", "rpartition":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(kw) > 0 || len(args) != 1 {
				return nil, runtimeErr("%s() takes exactly one argument", name)
			}
			sep, err := strArg(name, args[0], markup)
			if err != nil {
				return nil, err
			}
			if sep == "" {
				return nil, runtimeErr("empty separator")
			}
			var i int
			if name == "partition" {
				i = strings.Index(s, sep)
			} else {
				i = strings.LastIndex(s, sep)
			}
			if i < 0 {
				if name == "partition" {
					return Tuple{strResult(s, markup), strResult("", markup), strResult("", markup)}, nil
				}
				return Tuple{strResult("", markup), strResult("", markup), strResult(s, markup)}, nil
			}
			return Tuple{strResult(s[:i], markup), strResult(sep, markup), strResult(s[i+len(sep):], markup)}, nil
		})
	case "removeprefix", "removesuffix":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if len(kw) > 0 || len(args) != 1 {
				return nil, runtimeErr("%s() takes exactly one argument", name)
			}
			a, err := strArg(name, args[0], markup)
			if err != nil {
				return nil, err
			}
			if name == "removeprefix" {
				return strResult(strings.TrimPrefix(s, a), markup), nil
			}
			return strResult(strings.TrimSuffix(s, a), markup), nil
		})
	case "format":
		return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
			if markup {
				for i, a := range args {
					args[i] = escapeValue(a)
				}
				for i := range kw {
					kw[i].val = escapeValue(kw[i].val)
				}
			}
			out, err := pyFormat(r, s, args, kw)
			if err != nil {
				return nil, err
			}
			return strResult(out, markup), nil
		})
	}
	return nil
}

func argOr(args []Value, i int) Value {
	if i < len(args) {
		return args[i]
	}
	return nil
}

func noArgs(name string, fn func() Value) *Func {
	return bound(name, func(r *renderer, args []Value, kw []namedArg) (Value, error) {
		if len(args)+len(kw) > 0 {
			return nil, runtimeErr("%s() takes no arguments", name)
		}
		return fn(), nil
	})
}

// pySplitSpace is str.split() / str.rsplit() without a separator.
func pySplitSpace(s string, maxsplit int, fromRight bool) []string {
	var out []string
	if !fromRight {
		rest := strings.TrimLeftFunc(s, isPySpace)
		for rest != "" {
			if maxsplit >= 0 && len(out) == maxsplit {
				out = append(out, rest)
				return out
			}
			i := strings.IndexFunc(rest, isPySpace)
			if i < 0 {
				out = append(out, rest)
				return out
			}
			out = append(out, rest[:i])
			rest = strings.TrimLeftFunc(rest[i:], isPySpace)
		}
		return out
	}
	rest := strings.TrimRightFunc(s, isPySpace)
	for rest != "" {
		if maxsplit >= 0 && len(out) == maxsplit {
			out = append(out, rest)
			break
		}
		i := strings.LastIndexFunc(rest, isPySpace)
		if i < 0 {
			out = append(out, rest)
			break
		}
		_, n := utf8.DecodeRuneInString(rest[i:])
		out = append(out, rest[i+n:])
		rest = strings.TrimRightFunc(rest[:i], isPySpace)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// pySplitSep is str.split(sep, maxsplit) / str.rsplit.
func pySplitSep(s, sep string, maxsplit int, fromRight bool) []string {
	if maxsplit < 0 {
		return strings.Split(s, sep)
	}
	if !fromRight {
		return strings.SplitN(s, sep, maxsplit+1)
	}
	var out []string
	rest := s
	for len(out) < maxsplit {
		i := strings.LastIndex(rest, sep)
		if i < 0 {
			break
		}
		out = append(out, rest[i+len(sep):])
		rest = rest[:i]
	}
	out = append(out, rest)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// pySplitLines is str.splitlines.
func pySplitLines(s string, keepEnds bool) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isLineBreak(r) {
			i += n
			continue
		}
		end := i + n
		if r == '\r' && end < len(s) && s[end] == '\n' {
			end++
		}
		if keepEnds {
			out = append(out, s[start:end])
		} else {
			out = append(out, s[start:i])
		}
		start = end
		i = end
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// pyReplace is str.replace with Python's handling of an empty old string.
func pyReplace(s, old, nw string, count int) (string, error) {
	n := int64(utf8.RuneCountInString(s) + 1)
	if old != "" {
		n = int64(strings.Count(s, old))
	}
	if count >= 0 && int64(count) < n {
		n = int64(count)
	}
	if err := checkAlloc(int64(len(s)) + n*int64(len(nw))); err != nil {
		return "", err
	}
	if old == "" {
		runes := []rune(s)
		var b strings.Builder
		n := 0
		for i := 0; i <= len(runes); i++ {
			if count < 0 || n < count {
				b.WriteString(nw)
				n++
			}
			if i < len(runes) {
				b.WriteRune(runes[i])
			}
		}
		return b.String(), nil
	}
	return strings.Replace(s, old, nw, count), nil
}

func pyUpper(s string) string {
	if strings.ContainsRune(s, 'ß') {
		s = strings.ReplaceAll(s, "ß", "SS")
	}
	return strings.ToUpper(s)
}

func isCased(r rune) bool { return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) }

// titleRune is the titlecase of r as a string; Python maps ß to "Ss".
func titleRune(r rune) string {
	if r == 'ß' {
		return "Ss"
	}
	return string(unicode.ToTitle(r))
}

// pyTitle is str.title: a cased letter after a non-cased one is titlecased,
// the other cased letters lowercased.
func pyTitle(s string) string {
	var b strings.Builder
	prev := false
	for _, r := range s {
		if isCased(r) {
			if prev {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteString(titleRune(r))
			}
			prev = true
		} else {
			b.WriteRune(r)
			prev = false
		}
	}
	return b.String()
}

func pyCapitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return titleRune(r) + strings.ToLower(s[n:])
}

func strPredicate(name, s string) bool {
	if s == "" {
		return false
	}
	switch name {
	case "islower", "isupper":
		anyCased := false
		for _, r := range s {
			if unicode.IsUpper(r) || unicode.IsTitle(r) {
				if name == "islower" {
					return false
				}
				anyCased = true
			} else if unicode.IsLower(r) {
				if name == "isupper" {
					return false
				}
				anyCased = true
			}
		}
		return anyCased
	case "istitle":
		return pyTitle(s) == s && strings.IndexFunc(s, isCased) >= 0
	}
	for _, r := range s {
		var ok bool
		switch name {
		case "isalpha":
			ok = unicode.IsLetter(r)
		case "isdigit", "isdecimal":
			ok = unicode.IsDigit(r)
		case "isnumeric":
			ok = unicode.IsNumber(r)
		case "isalnum":
			ok = unicode.IsLetter(r) || unicode.IsNumber(r)
		case "isspace":
			ok = isPySpace(r)
		}
		if !ok {
			return false
		}
	}
	return true
}

// pad is str.center / ljust / rjust.
func pad(s string, width int, fill, how string) string {
	n := utf8.RuneCountInString(s)
	if width <= n {
		return s
	}
	total := width - n
	switch how {
	case "ljust":
		return s + strings.Repeat(fill, total)
	case "rjust":
		return strings.Repeat(fill, total) + s
	}
	left := total / 2
	if total%2 == 1 && width%2 == 1 {
		left++
	}
	return strings.Repeat(fill, left) + s + strings.Repeat(fill, total-left)
}
