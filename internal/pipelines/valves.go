package pipelines

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"go.starlark.net/starlark"
)

// A valve type: the kinds of setting a pipeline can declare.
const (
	valveInt   = "int"
	valveFloat = "float"
	valveBool  = "bool"
	valveStr   = "str"
	valveList  = "list"
)

// valveSpec is one declared setting.
type valveSpec struct {
	Name        string
	Type        string
	Default     any // Go value: int64, float64, bool, string, []string or nil
	Description string
	Title       string
	Choices     []any
}

// valves holds a pipeline's settings: the declaration and the current
// values. Scripts read it as the global valves (valves.name); admins
// change it through the protocol.
type valves struct {
	mu     sync.RWMutex
	specs  []valveSpec
	values map[string]any // Go values, always present for every spec
	frozen map[string]starlark.Value
}

var _ starlark.HasAttrs = (*valves)(nil)

func (v *valves) String() string        { return "<valves>" }
func (v *valves) Type() string          { return "valves" }
func (v *valves) Freeze()               {}
func (v *valves) Truth() starlark.Bool  { return true }
func (v *valves) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: valves") }

// Attr returns the current value of a valve. Values are frozen: a script
// cannot change its settings, only an admin can.
func (v *valves) Attr(name string) (starlark.Value, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if x, ok := v.frozen[name]; ok {
		return x, nil
	}
	return nil, starlark.NoSuchAttrError(fmt.Sprintf("valves has no %q; declared: %s", name, strings.Join(v.namesLocked(), ", ")))
}

func (v *valves) AttrNames() []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	names := v.namesLocked()
	sort.Strings(names)
	return names
}

func (v *valves) namesLocked() []string {
	var names []string
	for _, s := range v.specs {
		names = append(names, s.Name)
	}
	return names
}

func (v *valves) spec(name string) (valveSpec, bool) {
	for _, s := range v.specs {
		if s.Name == name {
			return s, true
		}
	}
	return valveSpec{}, false
}

// addSpec declares a valve unless one of that name exists, with its
// default as the current value.
func (v *valves) addSpec(s valveSpec, front bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.spec(s.Name); ok {
		return
	}
	if front {
		v.specs = append([]valveSpec{s}, v.specs...)
	} else {
		v.specs = append(v.specs, s)
	}
	if v.values == nil {
		v.values = map[string]any{}
	}
	v.values[s.Name] = s.Default
	v.refreezeLocked()
}

func (v *valves) refreezeLocked() {
	v.frozen = make(map[string]starlark.Value, len(v.values))
	for k, x := range v.values {
		sv := goToStarlark(x)
		sv.Freeze()
		v.frozen[k] = sv
	}
}

// Values returns a copy of the current values.
func (v *valves) Values() map[string]any {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[string]any, len(v.values))
	for k, x := range v.values {
		out[k] = x
	}
	return out
}

// orderedJSON writes the values in declaration order.
func (v *valves) orderedJSON() []byte {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range v.specs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(s.Name)
		val, _ := json.Marshal(v.values[s.Name])
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// get returns the current value of one valve.
func (v *valves) get(name string) (any, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	x, ok := v.values[name]
	return x, ok
}

// merge checks and converts the given values (as decoded from JSON; the
// web UI sends numbers as text) and returns the full set of values that
// would result, without applying it. Unknown names are an error; null
// means "no value" for a valve whose default is None, and the default
// otherwise.
func (v *valves) merge(in map[string]any) (map[string]any, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[string]any, len(v.values))
	for k, x := range v.values {
		out[k] = x
	}
	var names []string
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s, ok := v.spec(k)
		if !ok {
			return nil, fmt.Errorf("unknown valve %q (valves: %s)", k, strings.Join(v.namesLocked(), ", "))
		}
		x, err := coerceValve(s, in[k])
		if err != nil {
			return nil, fmt.Errorf("valve %q: %v", k, err)
		}
		out[k] = x
	}
	return out, nil
}

// set replaces the current values (as returned by merge).
func (v *valves) set(values map[string]any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.values = values
	v.refreezeLocked()
}

// coerceValve converts one JSON value to the valve's type.
func coerceValve(s valveSpec, x any) (any, error) {
	if x == nil {
		return s.Default, nil
	}
	var out any
	switch s.Type {
	case valveInt:
		switch t := x.(type) {
		case json.Number:
			i, err := strconv.ParseInt(string(t), 10, 64)
			if err != nil {
				f, ferr := t.Float64()
				if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
					return nil, fmt.Errorf("%s is not an integer", t)
				}
				i = int64(f)
			}
			out = i
		case float64:
			if t != math.Trunc(t) || math.Abs(t) > 1<<53 {
				return nil, fmt.Errorf("%v is not an integer", t)
			}
			out = int64(t)
		case int64:
			out = t
		case int:
			out = int64(t)
		case string:
			i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", t)
			}
			out = i
		default:
			return nil, fmt.Errorf("want an integer, got %T", x)
		}
	case valveFloat:
		switch t := x.(type) {
		case json.Number:
			f, err := t.Float64()
			if err != nil {
				return nil, fmt.Errorf("%s is not a number", t)
			}
			out = f
		case float64:
			out = t
		case int64:
			out = float64(t)
		case int:
			out = float64(t)
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", t)
			}
			out = f
		default:
			return nil, fmt.Errorf("want a number, got %T", x)
		}
	case valveBool:
		switch t := x.(type) {
		case bool:
			out = t
		case string:
			switch strings.ToLower(strings.TrimSpace(t)) {
			case "true", "1", "yes", "on":
				out = true
			case "false", "0", "no", "off", "":
				out = false
			default:
				return nil, fmt.Errorf("%q is not true or false", t)
			}
		default:
			return nil, fmt.Errorf("want true or false, got %T", x)
		}
	case valveStr:
		switch t := x.(type) {
		case string:
			out = t
		case json.Number:
			out = string(t)
		default:
			return nil, fmt.Errorf("want a string, got %T", x)
		}
	case valveList:
		var list []string
		switch t := x.(type) {
		case string:
			for _, f := range strings.Split(t, ",") {
				if f = strings.TrimSpace(f); f != "" {
					list = append(list, f)
				}
			}
		case []any:
			for _, e := range t {
				switch es := e.(type) {
				case string:
					list = append(list, es)
				case json.Number:
					list = append(list, string(es))
				default:
					return nil, fmt.Errorf("list elements must be strings, got %T", e)
				}
			}
		case []string:
			list = append(list, t...)
		default:
			return nil, fmt.Errorf("want a list of strings, got %T", x)
		}
		if list == nil {
			list = []string{}
		}
		out = list
	default:
		return nil, fmt.Errorf("unknown valve type %q", s.Type)
	}
	if len(s.Choices) > 0 {
		for _, c := range s.Choices {
			if fmt.Sprint(c) == fmt.Sprint(out) {
				return out, nil
			}
		}
		return nil, fmt.Errorf("%v is not one of %v", out, s.Choices)
	}
	return out, nil
}

// schema returns the JSON-schema-like description Open WebUI builds its
// valves form from: properties with title, type, default, description and
// enum, in declaration order.
func (v *valves) schema() []byte {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var b strings.Builder
	b.WriteString(`{"title":"Valves","type":"object","properties":{`)
	for i, s := range v.specs {
		if i > 0 {
			b.WriteByte(',')
		}
		prop := map[string]any{"title": s.Title, "type": jsonSchemaType(s.Type)}
		if s.Default != nil {
			prop["default"] = s.Default
		}
		if s.Description != "" {
			prop["description"] = s.Description
		}
		if s.Type == valveList {
			prop["items"] = map[string]any{"type": "string"}
		}
		if len(s.Choices) > 0 {
			prop["enum"] = s.Choices
		}
		k, _ := json.Marshal(s.Name)
		p, _ := json.Marshal(prop)
		b.Write(k)
		b.WriteByte(':')
		b.Write(p)
	}
	b.WriteString(`},"required":[]}`)
	return []byte(b.String())
}

func jsonSchemaType(t string) string {
	switch t {
	case valveInt:
		return "integer"
	case valveFloat:
		return "number"
	case valveBool:
		return "boolean"
	case valveList:
		return "array"
	}
	return "string"
}

// titleOf makes a form label from a name, as pydantic does:
// requests_per_minute -> "Requests Per Minute".
func titleOf(name string) string {
	words := strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' })
	for i, w := range words {
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		words[i] = string(r)
	}
	return strings.Join(words, " ")
}

// goToStarlark converts a valve value to Starlark.
func goToStarlark(x any) starlark.Value {
	switch t := x.(type) {
	case nil:
		return starlark.None
	case int64:
		return starlark.MakeInt64(t)
	case float64:
		return starlark.Float(t)
	case bool:
		return starlark.Bool(t)
	case string:
		return starlark.String(t)
	case []string:
		elems := make([]starlark.Value, len(t))
		for i, s := range t {
			elems[i] = starlark.String(s)
		}
		return starlark.NewList(elems)
	}
	return starlark.None
}

// starlarkToValve converts a declared default or choice to the valve's Go
// type.
func starlarkToValve(typ string, v starlark.Value) (any, error) {
	if v == starlark.None {
		return nil, nil
	}
	switch typ {
	case valveInt:
		if i, ok := v.(starlark.Int); ok {
			if n, ok := i.Int64(); ok {
				return n, nil
			}
		}
	case valveFloat:
		switch t := v.(type) {
		case starlark.Float:
			return float64(t), nil
		case starlark.Int:
			n, _ := t.Int64()
			return float64(n), nil
		}
	case valveBool:
		if b, ok := v.(starlark.Bool); ok {
			return bool(b), nil
		}
	case valveStr:
		if s, ok := v.(starlark.String); ok {
			return string(s), nil
		}
	case valveList:
		if seq, ok := v.(starlark.Indexable); ok {
			out := []string{}
			for i := 0; i < seq.Len(); i++ {
				s, ok := seq.Index(i).(starlark.String)
				if !ok {
					return nil, fmt.Errorf("a list valve holds strings, got a %s", seq.Index(i).Type())
				}
				out = append(out, string(s))
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("%s is not a valid %s", v.Type(), typ)
}

// valveBuiltin implements valve(type, default, description="", choices=None, title=None).
func valveBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var typ, def starlark.Value
	var desc, title string
	var choices *starlark.List
	if err := starlark.UnpackArgs("valve", args, kwargs, "type", &typ, "default", &def, "description?", &desc, "choices?", &choices, "title?", &title); err != nil {
		return nil, err
	}
	t := ""
	switch x := typ.(type) {
	case *starlark.Builtin:
		t = x.Name()
	case starlark.String:
		t = string(x)
	}
	switch t {
	case "int", "integer":
		t = valveInt
	case "float", "number":
		t = valveFloat
	case "bool", "boolean":
		t = valveBool
	case "str", "string":
		t = valveStr
	case "list", "array":
		t = valveList
	default:
		return nil, fmt.Errorf("valve: type must be int, float, bool, str or list, got %s", typ)
	}
	d, err := starlarkToValve(t, def)
	if err != nil {
		return nil, fmt.Errorf("valve: default: %v", err)
	}
	spec := &valveDecl{valveSpec{Type: t, Default: d, Description: desc, Title: title}}
	if choices != nil {
		for i := 0; i < choices.Len(); i++ {
			c, err := starlarkToValve(t, choices.Index(i))
			if err != nil {
				return nil, fmt.Errorf("valve: choices: %v", err)
			}
			spec.Choices = append(spec.Choices, c)
		}
		if d != nil {
			if _, err := coerceValve(spec.valveSpec, d); err != nil {
				return nil, fmt.Errorf("valve: the default %v is not one of the choices", d)
			}
		}
	}
	return spec, nil
}

// valveDecl is what valve(...) returns; Valves(...) collects them.
type valveDecl struct{ valveSpec }

func (d *valveDecl) String() string        { return fmt.Sprintf("valve(%s, %v)", d.valveSpec.Type, d.Default) }
func (d *valveDecl) Type() string          { return "valve" }
func (d *valveDecl) Freeze()               {}
func (d *valveDecl) Truth() starlark.Bool  { return true }
func (d *valveDecl) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: valve") }
