package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A JSON Schema validator for the supported subset, written from the
// specification's meaning and independent of the automaton: it works on
// decoded values, uses Go's regexp for patterns, time.Parse for dates and
// math/big for numbers. (additionalProperties left out means "allowed"
// here, as the specification says; the generator is stricter.)

type validator struct {
	root any
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the value")
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("data after the value")
	}
	return v, nil
}

// validateDoc checks doc (the generated text) against schema.
func validateDoc(schema, doc []byte) error {
	if !utf8.Valid(doc) {
		return fmt.Errorf("not valid UTF-8")
	}
	if !json.Valid(doc) {
		return fmt.Errorf("not valid JSON")
	}
	s, err := decodeJSON(schema)
	if err != nil {
		return fmt.Errorf("schema: %v", err)
	}
	v, err := decodeJSON(doc)
	if err != nil {
		return err
	}
	return (&validator{root: s}).check(s, v, "$")
}

func (vd *validator) check(schema, v any, at string) error {
	switch s := schema.(type) {
	case bool:
		if !s {
			return fmt.Errorf("%s: schema false", at)
		}
		return nil
	case map[string]any:
		return vd.checkObj(s, v, at)
	}
	return fmt.Errorf("%s: bad schema %T", at, schema)
}

func num(v any) (*big.Rat, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(n.String())
	return r, ok
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if r, ok := num(x); ok && r.IsInt() {
			return "integer"
		}
		return "number"
	}
	return "?"
}

func equalJSON(a, b any) bool {
	if ra, ok := num(a); ok {
		rb, ok := num(b)
		return ok && ra.Cmp(rb) == 0
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equalJSON(xv, yv) {
				return false
			}
		}
		return true
	}
	return a == b
}

func (vd *validator) resolve(ref string) (any, error) {
	if ref == "#" {
		return vd.root, nil
	}
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("unsupported ref %q", ref)
	}
	cur := vd.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, _ := strconv.Atoi(tok)
			cur = c[i]
		default:
			return nil, fmt.Errorf("bad ref %q", ref)
		}
	}
	return cur, nil
}

var (
	reUUID     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	reHostname = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
	reTimeTail = regexp.MustCompile(`^\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
)

func checkFormat(f, s string) error {
	switch f {
	case "date":
		if len(s) != 10 {
			return fmt.Errorf("date %q", s)
		}
		_, err := time.Parse("2006-01-02", s)
		return err
	case "date-time":
		if len(s) < 20 || (s[10] != 'T') || !reTimeTail.MatchString(s[11:]) {
			return fmt.Errorf("date-time %q", s)
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err
	case "time":
		if !reTimeTail.MatchString(s) {
			return fmt.Errorf("time %q", s)
		}
		_, err := time.Parse("2006-01-02T"+"15:04:05Z07:00", "2000-01-01T"+s)
		return err
	case "uuid":
		if !reUUID.MatchString(s) {
			return fmt.Errorf("uuid %q", s)
		}
	case "email":
		at := strings.LastIndexByte(s, '@')
		if at <= 0 || at == len(s)-1 || !strings.Contains(s[at:], ".") || strings.ContainsAny(s, " \"\\") {
			return fmt.Errorf("email %q", s)
		}
	case "hostname":
		if !reHostname.MatchString(s) || len(s) > 253 {
			return fmt.Errorf("hostname %q", s)
		}
		for _, l := range strings.Split(s, ".") {
			if len(l) > 63 {
				return fmt.Errorf("hostname label %q", l)
			}
		}
	case "ipv4":
		ip := net.ParseIP(s)
		if ip == nil || ip.To4() == nil || strings.Count(s, ".") != 3 || strings.Contains(s, ":") {
			return fmt.Errorf("ipv4 %q", s)
		}
		for _, part := range strings.Split(s, ".") {
			if len(part) > 1 && part[0] == '0' {
				return fmt.Errorf("ipv4 leading zero %q", s)
			}
		}
	}
	return nil
}

func (vd *validator) checkObj(s map[string]any, v any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		t, err := vd.resolve(ref)
		if err != nil {
			return err
		}
		if err := vd.check(t, v, at); err != nil {
			return err
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			if err := vd.check(sub, v, at); err != nil {
				return err
			}
		}
	}
	if anyOf, ok := s["anyOf"].([]any); ok {
		var errs []string
		for _, sub := range anyOf {
			err := vd.check(sub, v, at)
			if err == nil {
				errs = nil
				break
			}
			errs = append(errs, err.Error())
		}
		if errs != nil {
			return fmt.Errorf("%s: no anyOf branch: %s", at, strings.Join(errs, "; "))
		}
	}
	if oneOf, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, sub := range oneOf {
			if vd.check(sub, v, at) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: %d oneOf branches match", at, n)
		}
	}
	if t, ok := s["type"]; ok {
		var names []string
		switch x := t.(type) {
		case string:
			names = []string{x}
		case []any:
			for _, e := range x {
				names = append(names, e.(string))
			}
		}
		if s["nullable"] == true {
			names = append(names, "null")
		}
		got := jsonType(v)
		match := false
		for _, n := range names {
			if n == got || (n == "number" && got == "integer") {
				match = true
			}
		}
		if !match {
			return fmt.Errorf("%s: type %s, want %v", at, got, names)
		}
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, x := range e {
			if equalJSON(x, v) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: %v not in enum", at, v)
		}
	}
	if k, ok := s["const"]; ok && !equalJSON(k, v) {
		return fmt.Errorf("%s: %v is not the const", at, v)
	}
	switch x := v.(type) {
	case string:
		n := utf8.RuneCountInString(x)
		if m, ok := num(s["minLength"]); ok && big.NewRat(int64(n), 1).Cmp(m) < 0 {
			return fmt.Errorf("%s: %q shorter than %v", at, x, m)
		}
		if m, ok := num(s["maxLength"]); ok && big.NewRat(int64(n), 1).Cmp(m) > 0 {
			return fmt.Errorf("%s: %q longer than %v", at, x, m)
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("validator cannot compile %q: %v", p, err)
			}
			if !re.MatchString(x) {
				return fmt.Errorf("%s: %q does not match %q", at, x, p)
			}
		}
		if f, ok := s["format"].(string); ok {
			if err := checkFormat(f, x); err != nil {
				return fmt.Errorf("%s: format: %v", at, err)
			}
		}
	case json.Number:
		r, _ := num(x)
		if m, ok := num(s["minimum"]); ok && r.Cmp(m) < 0 {
			return fmt.Errorf("%s: %s below minimum %v", at, x, m.RatString())
		}
		if m, ok := num(s["maximum"]); ok && r.Cmp(m) > 0 {
			return fmt.Errorf("%s: %s above maximum %v", at, x, m.RatString())
		}
		if m, ok := num(s["exclusiveMinimum"]); ok && r.Cmp(m) <= 0 {
			return fmt.Errorf("%s: %s not above %v", at, x, m.RatString())
		}
		if m, ok := num(s["exclusiveMaximum"]); ok && r.Cmp(m) >= 0 {
			return fmt.Errorf("%s: %s not below %v", at, x, m.RatString())
		}
	case []any:
		if m, ok := num(s["minItems"]); ok && big.NewRat(int64(len(x)), 1).Cmp(m) < 0 {
			return fmt.Errorf("%s: %d items, fewer than %v", at, len(x), m)
		}
		if m, ok := num(s["maxItems"]); ok && big.NewRat(int64(len(x)), 1).Cmp(m) > 0 {
			return fmt.Errorf("%s: %d items, more than %v", at, len(x), m)
		}
		prefix, _ := s["prefixItems"].([]any)
		items, hasItems := s["items"]
		if tuple, ok := items.([]any); ok {
			prefix, hasItems = tuple, false
			items, hasItems = s["additionalItems"]
		}
		for i, e := range x {
			where := fmt.Sprintf("%s[%d]", at, i)
			var err error
			switch {
			case i < len(prefix):
				err = vd.check(prefix[i], e, where)
			case hasItems:
				err = vd.check(items, e, where)
			}
			if err != nil {
				return err
			}
		}
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					return fmt.Errorf("%s: missing required %q", at, r)
				}
			}
		}
		addl, hasAddl := s["additionalProperties"]
		if u, ok := s["unevaluatedProperties"]; ok && u == false && !hasAddl {
			addl, hasAddl = false, true
		}
		for k, e := range x {
			where := at + "." + k
			if ps, ok := props[k]; ok {
				if err := vd.check(ps, e, where); err != nil {
					return err
				}
			} else if hasAddl {
				if err := vd.check(addl, e, where); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
