package jinja

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Value is a template value. The dynamic types mirror the Python objects a
// jinja2 template sees:
//
//	nil           None
//	bool          bool
//	int64         int
//	float64       float
//	string        str
//	Markup        markupsafe.Markup (a str marked safe; see the safe filter)
//	[]Value       list
//	Tuple         tuple
//	*Dict         dict, keeping insertion order as Python does
//	*Namespace    jinja2's namespace()
//	*Undefined    jinja2.Undefined
//
// plus callables (*Macro, *Func), the loop object and lazy iterators (*Iter)
// produced by filters such as map and select.
type Value = any

// Markup is a string marked as safe HTML. With autoescaping off it prints
// like any string, but concatenating it with + escapes the other operand,
// as markupsafe does.
type Markup string

// Tuple is an immutable sequence; it differs from a list when printed and
// compared.
type Tuple []Value

// Undefined is the value of a missing variable, attribute or item. Like
// jinja2's default Undefined it prints as "" and is false, but most other
// uses (arithmetic, attribute access, calls) fail.
type Undefined struct {
	name   Value // the missing name or key
	obj    Value // the object looked into, when hasObj
	hasObj bool
	hint   string // overrides the message when set
}

func undefinedName(name string) *Undefined { return &Undefined{name: name} }

func undefinedHint(hint string) *Undefined { return &Undefined{hint: hint} }

func undefinedIn(obj Value, name Value) *Undefined {
	return &Undefined{name: name, obj: obj, hasObj: true}
}

// message is the text of the error raised when the value is used.
func (u *Undefined) message() string {
	if u.hint != "" {
		return u.hint
	}
	if !u.hasObj {
		return fmt.Sprintf("%s is undefined", repr(u.name))
	}
	if _, ok := u.name.(string); !ok {
		return fmt.Sprintf("%s has no element %s", objectTypeRepr(u.obj), repr(u.name))
	}
	return fmt.Sprintf("%s has no attribute %s", repr(objectTypeRepr(u.obj)), repr(u.name))
}

func objectTypeRepr(v Value) string {
	if v == nil {
		return "None"
	}
	return typeName(v) + " object"
}

// Namespace is the mutable attribute bag made by namespace(); it is the only
// object a template can modify ({% set ns.attr = value %}).
type Namespace struct{ attrs *Dict }

// Dict is an insertion-ordered Python dict. Keys are hashed the Python way:
// 1, 1.0 and True are the same key.
type Dict struct {
	keys  []Value
	vals  []Value
	index map[any]int
}

// NewDict returns an empty dict.
func NewDict() *Dict { return &Dict{index: map[any]int{}} }

type noneKey struct{}
type tupleKey string

// hashKey maps a value to a Go map key with Python's equality for hashable
// values.
func hashKey(k Value) (any, error) {
	switch v := k.(type) {
	case nil:
		return noneKey{}, nil
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	case int64:
		return v, nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
			return int64(v), nil
		}
		return v, nil
	case string:
		return v, nil
	case Markup:
		return string(v), nil
	case Tuple:
		var b strings.Builder
		for _, it := range v {
			h, err := hashKey(it)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&b, "%T:%v\x00", h, h)
		}
		return tupleKey(b.String()), nil
	}
	return nil, &Error{Kind: RuntimeError, Msg: fmt.Sprintf("unhashable type: '%s'", typeName(k))}
}

// Set stores v under k, keeping the position of an existing key.
func (d *Dict) Set(k, v Value) error {
	h, err := hashKey(k)
	if err != nil {
		return err
	}
	if i, ok := d.index[h]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

// SetStr stores v under the string key k.
func (d *Dict) SetStr(k string, v Value) { _ = d.Set(k, v) }

// Get returns the value stored under k.
func (d *Dict) Get(k Value) (Value, bool) {
	h, err := hashKey(k)
	if err != nil {
		return nil, false
	}
	i, ok := d.index[h]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// Len is the number of keys.
func (d *Dict) Len() int { return len(d.keys) }

// Keys returns the keys in insertion order (the slice must not be modified).
func (d *Dict) Keys() []Value { return d.keys }

// Values returns the values in insertion order (must not be modified).
func (d *Dict) Values() []Value { return d.vals }

func (d *Dict) copy() *Dict {
	n := &Dict{keys: append([]Value(nil), d.keys...), vals: append([]Value(nil), d.vals...), index: make(map[any]int, len(d.index))}
	for k, v := range d.index {
		n.index[k] = v
	}
	return n
}

// Iter is a lazy Python iterable that is not a sequence: a generator from
// filters like map and select, a dict view, or a reverse iterator. It can be
// iterated and converted with list, but has no length or indexing, and a
// generator is exhausted after one pass.
type Iter struct {
	kind     string // Python type name: generator, dict_items, list_reverseiterator, ...
	items    []Value
	oneShot  bool
	consumed bool
	hasLen   bool
}

func newGenerator(items []Value) *Iter { return &Iter{kind: "generator", items: items, oneShot: true} }

func (it *Iter) take() []Value {
	if it.oneShot {
		if it.consumed {
			return nil
		}
		it.consumed = true
	}
	return it.items
}

// typeName is the Python type name of v, used in error messages.
func typeName(v Value) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case Markup:
		return "Markup"
	case []Value:
		return "list"
	case Tuple:
		return "tuple"
	case *Dict:
		return "dict"
	case *Namespace:
		return "Namespace"
	case *Undefined:
		return "Undefined"
	case *Macro:
		return "Macro"
	case *Func:
		if x.method {
			return "builtin_function_or_method"
		}
		return "function"
	case *loopCtx:
		return "LoopContext"
	case *Iter:
		return x.kind
	case *cycler:
		return "Cycler"
	case *groupTuple:
		return "_GroupTuple"
	case *joiner:
		return "Joiner"
	}
	return fmt.Sprintf("%T", v)
}

// truthy is Python's bool().
func truthy(v Value) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case Markup:
		return x != ""
	case []Value:
		return len(x) > 0
	case Tuple:
		return len(x) > 0
	case *Dict:
		return x.Len() > 0
	case *Undefined:
		return false
	case *Iter:
		if x.hasLen {
			return len(x.items) > 0
		}
		return true
	}
	return true
}

// toStr is Python's str(); Markup stays text.
func toStr(v Value) string {
	switch x := v.(type) {
	case string:
		return x
	case Markup:
		return string(x)
	case *Undefined:
		return ""
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return formatFloat(x)
	}
	return repr(v)
}

// repr is Python's repr().
func repr(v Value) string {
	var b strings.Builder
	writeRepr(&b, v, 0)
	return b.String()
}

func writeRepr(b *strings.Builder, v Value, depth int) {
	if depth > 100 {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case string:
		b.WriteString(pyQuote(x))
	case Markup:
		b.WriteString("Markup(" + pyQuote(string(x)) + ")")
	case []Value:
		b.WriteByte('[')
		for i, it := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, it, depth+1)
		}
		b.WriteByte(']')
	case Tuple:
		b.WriteByte('(')
		for i, it := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, it, depth+1)
		}
		if len(x) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case *Dict:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, k, depth+1)
			b.WriteString(": ")
			writeRepr(b, x.vals[i], depth+1)
		}
		b.WriteByte('}')
	case *Undefined:
		b.WriteString("Undefined")
	case *groupTuple:
		b.WriteString("_GroupTuple(grouper=")
		writeRepr(b, x.grouper, depth+1)
		b.WriteString(", list=")
		writeRepr(b, x.list, depth+1)
		b.WriteString(")")
	case *Namespace:
		b.WriteString("<Namespace ")
		writeRepr(b, x.attrs, depth+1)
		b.WriteString(">")
	case *Macro:
		fmt.Fprintf(b, "<Macro '%s'>", x.name)
	case *Func:
		fmt.Fprintf(b, "<function %s>", x.name)
	case *loopCtx:
		fmt.Fprintf(b, "<LoopContext %d/%d>", x.idx+1, len(x.items))
	case *Iter:
		switch x.kind {
		case "dict_items", "dict_keys", "dict_values":
			b.WriteString(x.kind + "(")
			writeRepr(b, x.items, depth+1)
			b.WriteString(")")
		default:
			fmt.Fprintf(b, "<%s object>", x.kind)
		}
	default:
		b.WriteString(toStr(v))
	}
}

// pyQuote writes s the way Python's repr(str) does.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x80 || (unicode.IsPrint(r) && r != 0xad):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// formatFloat is Python's repr(float): the shortest round-trip digits,
// positional notation for exponents in [-4, 16), and ".0" on integers.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	ePos := strings.IndexByte(s, 'e')
	mant, expStr := s[:ePos], s[ePos+1:]
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	if exp >= -5 && exp < 16 {
		// Python switches to exponent form when exp < -4.
		if exp < -4 {
			out = sciFloat(digits, exp)
		} else if exp < 0 {
			out = "0." + strings.Repeat("0", -exp-1) + digits
		} else if len(digits) <= exp+1 {
			out = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
		} else {
			out = digits[:exp+1] + "." + digits[exp+1:]
		}
	} else {
		out = sciFloat(digits, exp)
	}
	if neg {
		return "-" + out
	}
	return out
}

func sciFloat(digits string, exp int) string {
	m := digits[:1]
	if len(digits) > 1 {
		m += "." + digits[1:]
	}
	sign := "+"
	if exp < 0 {
		sign = "-"
		exp = -exp
	}
	return fmt.Sprintf("%se%s%02d", m, sign, exp)
}

// jsonOptions are the json.dumps arguments the tojson filter accepts.
type jsonOptions struct {
	indent      *string // nil: single line
	itemSep     string
	keySep      string
	sortKeys    bool
	ensureASCII bool
}

// toJSON serializes v as Python's json.dumps with the given options.
func toJSON(v Value, o jsonOptions) (string, error) {
	var b strings.Builder
	if err := writeJSON(&b, v, o, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func jsonTypeError(v Value) error {
	return &Error{Kind: RuntimeError, Msg: fmt.Sprintf("Object of type %s is not JSON serializable", typeName(v))}
}

func writeJSONNewline(b *strings.Builder, o jsonOptions, level int) error {
	if err := checkAlloc(int64(b.Len()) + int64(level)*int64(len(*o.indent))); err != nil {
		return err
	}
	b.WriteByte('\n')
	for i := 0; i < level; i++ {
		b.WriteString(*o.indent)
	}
	return nil
}

func writeJSON(b *strings.Builder, v Value, o jsonOptions, level int) error {
	if level > 500 {
		return &Error{Kind: RuntimeError, Msg: "maximum recursion depth exceeded while encoding a JSON object"}
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		switch {
		case math.IsInf(x, 1):
			b.WriteString("Infinity")
		case math.IsInf(x, -1):
			b.WriteString("-Infinity")
		case math.IsNaN(x):
			b.WriteString("NaN")
		default:
			b.WriteString(formatFloat(x))
		}
	case string:
		writeJSONString(b, x, o.ensureASCII)
	case Markup:
		writeJSONString(b, string(x), o.ensureASCII)
	case []Value:
		return writeJSONList(b, x, o, level)
	case Tuple:
		return writeJSONList(b, x, o, level)
	case *groupTuple:
		return writeJSONList(b, x.items(), o, level)
	case *Dict:
		if x.Len() == 0 {
			b.WriteString("{}")
			return nil
		}
		order := make([]int, x.Len())
		for i := range order {
			order[i] = i
		}
		if o.sortKeys {
			var serr error
			sort.SliceStable(order, func(i, j int) bool {
				c, err := compare(x.keys[order[i]], x.keys[order[j]])
				if err != nil && serr == nil {
					serr = err
				}
				return c < 0
			})
			if serr != nil {
				return serr
			}
		}
		b.WriteByte('{')
		for n, i := range order {
			if n > 0 {
				b.WriteString(o.itemSep)
			}
			if o.indent != nil {
				if err := writeJSONNewline(b, o, level+1); err != nil {
					return err
				}
			}
			var ks string
			switch k := x.keys[i].(type) {
			case string:
				ks = k
			case Markup:
				ks = string(k)
			case int64:
				ks = strconv.FormatInt(k, 10)
			case float64:
				var kb strings.Builder
				_ = writeJSON(&kb, k, o, level)
				ks = kb.String()
			case bool:
				ks = "false"
				if k {
					ks = "true"
				}
			case nil:
				ks = "null"
			default:
				return &Error{Kind: RuntimeError, Msg: fmt.Sprintf("keys must be str, int, float, bool or None, not %s", typeName(k))}
			}
			writeJSONString(b, ks, o.ensureASCII)
			b.WriteString(o.keySep)
			if err := writeJSON(b, x.vals[i], o, level+1); err != nil {
				return err
			}
		}
		if o.indent != nil {
			if err := writeJSONNewline(b, o, level); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return jsonTypeError(v)
	}
	return nil
}

func writeJSONList(b *strings.Builder, items []Value, o jsonOptions, level int) error {
	if len(items) == 0 {
		b.WriteString("[]")
		return nil
	}
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteString(o.itemSep)
		}
		if o.indent != nil {
			if err := writeJSONNewline(b, o, level+1); err != nil {
				return err
			}
		}
		if err := writeJSON(b, it, o, level+1); err != nil {
			return err
		}
	}
	if o.indent != nil {
		if err := writeJSONNewline(b, o, level); err != nil {
			return err
		}
	}
	b.WriteByte(']')
	return nil
}

// writeJSONString quotes s as Python's json module does.
func writeJSONString(b *strings.Builder, s string, ensureASCII bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20:
				fmt.Fprintf(b, `\u%04x`, r)
			case ensureASCII && r > 0x7e:
				if r >= 0x10000 {
					r -= 0x10000
					fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
				} else {
					fmt.Fprintf(b, `\u%04x`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// FromJSON decodes JSON text into template values the way Python's
// json.loads does: objects become *Dict in document order, integers int64,
// other numbers float64.
func FromJSON(data []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeJSONValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("jinja: trailing data after JSON value")
	}
	return v, nil
}

func decodeJSONValue(dec *json.Decoder, depth int) (Value, error) {
	if depth > 1000 {
		return nil, fmt.Errorf("jinja: JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("jinja: JSON object key is not a string")
				}
				v, err := decodeJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				d.SetStr(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return d, nil
		case '[':
			list := []Value{}
			for dec.More() {
				v, err := decodeJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return list, nil
		}
		return nil, fmt.Errorf("jinja: unexpected JSON delimiter %v", t)
	case json.Number:
		s := string(t)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("jinja: bad JSON number %q", s)
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("jinja: unexpected JSON token %v", tok)
}

// FromGo converts common Go values into template values: maps (keys
// sorted, as Go maps have no order), slices, strings, numbers, bools, nil,
// json.RawMessage (decoded in document order) and values that are already
// template values.
func FromGo(v any) (Value, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, Markup, *Dict, *Namespace, *Undefined, Tuple, *Func, *Macro:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case json.Number:
		return FromJSON([]byte(x))
	case json.RawMessage:
		if len(x) == 0 {
			return nil, nil
		}
		return FromJSON(x)
	case []Value:
		out := make([]Value, len(x))
		for i, it := range x {
			c, err := FromGo(it)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case []string:
		out := make([]Value, len(x))
		for i, it := range x {
			out[i] = it
		}
		return out, nil
	case []map[string]any:
		out := make([]Value, len(x))
		for i, it := range x {
			c, err := FromGo(it)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := NewDict()
		for _, k := range keys {
			c, err := FromGo(x[k])
			if err != nil {
				return nil, err
			}
			d.SetStr(k, c)
		}
		return d, nil
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := NewDict()
		for _, k := range keys {
			d.SetStr(k, x[k])
		}
		return d, nil
	}
	// Anything else goes through encoding/json (structs with tags, for
	// example), which keeps struct field order.
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("jinja: cannot convert %T: %v", v, err)
	}
	return FromJSON(data)
}

// ToJSON writes v as Python's json.dumps(v, ensure_ascii=False) does:
// ", " and ": " separators, keys in insertion order.
func ToJSON(v Value) (string, error) {
	return toJSON(v, jsonOptions{itemSep: ", ", keySep: ": "})
}
