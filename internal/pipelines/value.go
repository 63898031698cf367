package pipelines

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// maxJSONDepth bounds nesting in both directions; deeper documents are
// rejected rather than risking deep recursion.
const maxJSONDepth = 200

// decodeJSON turns a JSON document into Starlark values: objects become
// dicts that keep the document's key order, integers stay exact. maxElems
// bounds the number of values built.
func decodeJSON(data []byte, maxElems int) (starlark.Value, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	count := 0
	v, err := decodeValue(d, 0, &count, maxElems)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("json: unexpected data after the value")
	}
	return v, nil
}

func decodeValue(d *json.Decoder, depth int, count *int, maxElems int) (starlark.Value, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("json: nested deeper than %d", maxJSONDepth)
	}
	*count++
	if *count > maxElems {
		return nil, fmt.Errorf("json: more than %d values", maxElems)
	}
	tok, err := d.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("json: unexpected end of input")
		}
		return nil, fmt.Errorf("json: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			dict := starlark.NewDict(0)
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, fmt.Errorf("json: %v", err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("json: object key is not a string")
				}
				v, err := decodeValue(d, depth+1, count, maxElems)
				if err != nil {
					return nil, err
				}
				if err := dict.SetKey(starlark.String(k), v); err != nil {
					return nil, err
				}
			}
			if _, err := d.Token(); err != nil {
				return nil, fmt.Errorf("json: %v", err)
			}
			return dict, nil
		case '[':
			var elems []starlark.Value
			for d.More() {
				v, err := decodeValue(d, depth+1, count, maxElems)
				if err != nil {
					return nil, err
				}
				elems = append(elems, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, fmt.Errorf("json: %v", err)
			}
			return starlark.NewList(elems), nil
		}
		return nil, fmt.Errorf("json: unexpected %v", t)
	case string:
		return starlark.String(t), nil
	case bool:
		return starlark.Bool(t), nil
	case nil:
		return starlark.None, nil
	case json.Number:
		return numberValue(string(t))
	}
	return nil, fmt.Errorf("json: unexpected token %v", tok)
}

// numberValue converts a JSON number: integers to Int (exact, however
// long), everything else to Float.
func numberValue(s string) (starlark.Value, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return starlark.MakeInt64(i), nil
		}
		if len(s) > 4300 {
			return nil, fmt.Errorf("json: integer with %d digits is too long", len(s))
		}
		b, ok := new(big.Int).SetString(s, 10)
		if ok {
			return starlark.MakeBigInt(b), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("json: bad number %q", s)
	}
	return starlark.Float(f), nil
}

// errTooBig reports that an encoding would exceed its byte limit.
type errTooBig struct{ limit int }

func (e errTooBig) Error() string {
	return fmt.Sprintf("the value is larger than %d bytes as JSON", e.limit)
}

// encodeJSON writes v as JSON of at most limit bytes. Dicts need string
// keys; structs encode as objects. Shared or cyclic structures are caught
// by the depth and size limits.
func encodeJSON(v starlark.Value, limit int) ([]byte, error) {
	e := &jsonEncoder{limit: limit}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

type jsonEncoder struct {
	buf   bytes.Buffer
	limit int
}

func (e *jsonEncoder) write(s string) error {
	if e.buf.Len()+len(s) > e.limit {
		return errTooBig{e.limit}
	}
	e.buf.WriteString(s)
	return nil
}

func (e *jsonEncoder) str(s string) error {
	if e.buf.Len()+len(s) > e.limit {
		return errTooBig{e.limit}
	}
	b, _ := json.Marshal(s)
	return e.write(string(b))
}

func (e *jsonEncoder) value(v starlark.Value, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("cannot encode as JSON: nested deeper than %d", maxJSONDepth)
	}
	switch x := v.(type) {
	case starlark.NoneType:
		return e.write("null")
	case starlark.Bool:
		if x {
			return e.write("true")
		}
		return e.write("false")
	case starlark.Int:
		return e.write(x.String())
	case starlark.Float:
		f := float64(x)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("cannot encode %v as JSON", x)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return e.write(strconv.FormatFloat(f, 'f', 1, 64))
		}
		return e.write(strconv.FormatFloat(f, 'g', -1, 64))
	case starlark.String:
		return e.str(string(x))
	case starlark.Bytes:
		return e.str(string(x))
	case *starlark.Dict:
		if err := e.write("{"); err != nil {
			return err
		}
		for i, it := range x.Items() {
			k, ok := it[0].(starlark.String)
			if !ok {
				return fmt.Errorf("cannot encode as JSON: dict key %s is not a string", it[0].Type())
			}
			if i > 0 {
				if err := e.write(","); err != nil {
					return err
				}
			}
			if err := e.str(string(k)); err != nil {
				return err
			}
			if err := e.write(":"); err != nil {
				return err
			}
			if err := e.value(it[1], depth+1); err != nil {
				return err
			}
		}
		return e.write("}")
	case *starlarkstruct.Struct:
		d := starlark.StringDict{}
		x.ToStringDict(d)
		if err := e.write("{"); err != nil {
			return err
		}
		for i, k := range d.Keys() {
			if i > 0 {
				if err := e.write(","); err != nil {
					return err
				}
			}
			if err := e.str(k); err != nil {
				return err
			}
			if err := e.write(":"); err != nil {
				return err
			}
			if err := e.value(d[k], depth+1); err != nil {
				return err
			}
		}
		return e.write("}")
	case starlark.Indexable: // list, tuple
		if _, isIter := v.(starlark.Iterable); !isIter {
			break
		}
		if err := e.write("["); err != nil {
			return err
		}
		for i := 0; i < x.Len(); i++ {
			if i > 0 {
				if err := e.write(","); err != nil {
					return err
				}
			}
			if err := e.value(x.Index(i), depth+1); err != nil {
				return err
			}
		}
		return e.write("]")
	}
	return fmt.Errorf("cannot encode a %s as JSON", v.Type())
}

// strBound returns an upper estimate of len(str(v)) and false if it
// exceeds limit. It walks shared substructures once per reference, as
// str() does, but stops as soon as the limit is passed, so that str() of a
// structure that shares itself exponentially fails fast instead of
// building gigabytes.
func strBound(v starlark.Value, limit int) (int, bool) {
	n := 0
	ok := strWalk(v, limit, &n, 0, true)
	return n, ok
}

func strWalk(v starlark.Value, limit int, n *int, depth int, top bool) bool {
	if *n > limit || depth > maxJSONDepth {
		return false
	}
	switch x := v.(type) {
	case starlark.String:
		if top {
			*n += len(x)
		} else {
			*n += len(x) + 2
		}
	case starlark.Bytes:
		*n += len(x) + 3
	case *starlark.Dict:
		*n += 2
		for _, it := range x.Items() {
			*n += 4
			if !strWalk(it[0], limit, n, depth+1, false) || !strWalk(it[1], limit, n, depth+1, false) {
				return false
			}
		}
	case *starlark.List:
		*n += 2
		for i := 0; i < x.Len(); i++ {
			*n += 2
			if !strWalk(x.Index(i), limit, n, depth+1, false) {
				return false
			}
		}
	case starlark.Tuple:
		*n += 3
		for _, e := range x {
			*n += 2
			if !strWalk(e, limit, n, depth+1, false) {
				return false
			}
		}
	case *starlark.Set:
		*n += 5
		for e := range x.Elements() {
			*n += 2
			if !strWalk(e, limit, n, depth+1, false) {
				return false
			}
		}
	case starlark.Int:
		if i, ok := x.Int64(); ok {
			*n += 20
			_ = i
		} else {
			*n += x.BigInt().BitLen()/3 + 2
		}
	case *starlarkstruct.Struct:
		d := starlark.StringDict{}
		x.ToStringDict(d)
		*n += 8
		for k, e := range d {
			*n += len(k) + 3
			if !strWalk(e, limit, n, depth+1, false) {
				return false
			}
		}
	default:
		*n += 64 // functions, builtins, floats, None: short fixed forms
	}
	return *n <= limit
}

// toGo converts a JSON-like Starlark value to plain Go values
// (map[string]any, []any, string, int64, float64, bool, nil) through JSON,
// which keeps the limits in one place.
func toGo(v starlark.Value, limit int) (any, error) {
	b, err := encodeJSON(v, limit)
	if err != nil {
		return nil, err
	}
	var out any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// fromGo converts plain Go values (as produced by encoding/json) to
// Starlark through JSON.
func fromGo(v any, maxElems int) (starlark.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeJSON(b, maxElems)
}
