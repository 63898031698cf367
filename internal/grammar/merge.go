package grammar

import (
	"math/big"
)

// allOf is compiled by merging its schemas into one, keyword by keyword,
// with the meaning "both must hold": type lists intersect, lower bounds
// take the larger value and upper bounds the smaller, required lists join,
// enums intersect, and object properties combine with each side's
// additionalProperties applied to the names only the other side declares.
// Combinations that would need automaton intersection (two different
// patterns or formats, two anyOf lists, two prefixItems lists) are refused.

const maxMergeDepth = 32

func (c *compiler) merge(a, b *jv, path string, depth int) (*jv, error) {
	if depth > maxMergeDepth {
		return nil, c.fail(path, "allOf", "schemas combine too deeply (a reference loop through allOf?)")
	}
	c.nodes++
	if c.nodes > maxSchemaNodes {
		return nil, c.fail(path, "allOf", "schema too large (more than %d subschemas after expansion)", maxSchemaNodes)
	}
	var err error
	if a, err = c.flatten(a, path, depth); err != nil {
		return nil, err
	}
	if b, err = c.flatten(b, path, depth); err != nil {
		return nil, err
	}
	switch {
	case a.kind == 'f' || b.kind == 'f':
		return nil, c.fail(path, "allOf", "a false schema allows no value")
	case a.kind == 't':
		return b, nil
	case b.kind == 't':
		return a, nil
	case a.kind != 'o' || b.kind != 'o':
		return nil, c.fail(path, "allOf", "a schema must be an object or a boolean")
	}
	if err := c.check(a, path); err != nil {
		return nil, err
	}
	if err := c.check(b, path); err != nil {
		return nil, err
	}
	out := &jv{kind: 'o'}
	for _, kv := range a.obj {
		if !constraining[kv.k] {
			out.obj = append(out.obj, kv)
		}
	}
	for _, kv := range b.obj {
		if !constraining[kv.k] && !out.has(kv.k) {
			out.obj = append(out.obj, kv)
		}
	}

	// Types.
	if hasTypeKeywords(a) || hasTypeKeywords(b) {
		ta, err := c.types(a, path)
		if err != nil {
			return nil, err
		}
		tb, err := c.types(b, path)
		if err != nil {
			return nil, err
		}
		var list []*jv
		for _, x := range expandNumber(ta) {
			for _, y := range expandNumber(tb) {
				if x == y {
					list = append(list, &jv{kind: 's', str: x})
				}
			}
		}
		if len(list) == 0 {
			return nil, c.fail(path, "type", "the schemas of allOf have no type in common")
		}
		out.set("type", &jv{kind: 'a', arr: list})
	}

	// Objects.
	if a.has("properties") || b.has("properties") || a.has("additionalProperties") || b.has("additionalProperties") {
		if err := c.mergeObject(out, a, b, path); err != nil {
			return nil, err
		}
	}
	if ra, rb := a.get("required"), b.get("required"); ra != nil || rb != nil {
		seen := map[string]bool{}
		list := &jv{kind: 'a'}
		for _, r := range []*jv{ra, rb} {
			if r == nil {
				continue
			}
			if r.kind != 'a' {
				return nil, c.fail(path, "required", "must be an array of strings")
			}
			for _, e := range r.arr {
				if e.kind == 's' && !seen[e.str] {
					seen[e.str] = true
					list.arr = append(list.arr, e)
				}
			}
		}
		out.set("required", list)
	}
	if u := a.get("unevaluatedProperties"); u != nil {
		out.set("unevaluatedProperties", u)
	}
	if u := b.get("unevaluatedProperties"); u != nil {
		out.set("unevaluatedProperties", u)
	}

	// Arrays.
	for _, kw := range []string{"items", "additionalItems"} {
		x, y := a.get(kw), b.get(kw)
		switch {
		case x != nil && y != nil:
			if x.kind == 'a' || y.kind == 'a' {
				return nil, c.fail(path, kw, "combining tuple forms in allOf is not supported")
			}
			out.set(kw, both(x, y))
		case x != nil:
			out.set(kw, x)
		case y != nil:
			out.set(kw, y)
		}
	}
	if x, y := a.get("prefixItems"), b.get("prefixItems"); x != nil && y != nil {
		return nil, c.fail(path, "prefixItems", "combining two prefixItems lists in allOf is not supported")
	} else if x != nil {
		out.set("prefixItems", x)
	} else if y != nil {
		out.set("prefixItems", y)
	}

	// Bounds.
	for _, kw := range []string{"minLength", "minItems", "minimum", "exclusiveMinimum"} {
		if err := pickBound(out, a, b, kw, 1, c, path); err != nil {
			return nil, err
		}
	}
	for _, kw := range []string{"maxLength", "maxItems", "maximum", "exclusiveMaximum"} {
		if err := pickBound(out, a, b, kw, -1, c, path); err != nil {
			return nil, err
		}
	}
	for _, kw := range []string{"uniqueItems"} {
		if v := a.get(kw); v != nil {
			out.set(kw, v)
		}
		if v := b.get(kw); v != nil && v.kind == 't' {
			out.set(kw, v)
		}
	}

	// Strings.
	for _, kw := range []string{"pattern", "format"} {
		x, y := a.get(kw), b.get(kw)
		switch {
		case x != nil && y != nil:
			if x.text() != y.text() {
				return nil, c.fail(path, kw, "two different %ss in allOf are not supported", kw)
			}
			out.set(kw, x)
		case x != nil:
			out.set(kw, x)
		case y != nil:
			out.set(kw, y)
		}
	}

	// Enumerations.
	if a.has("enum") || a.has("const") || b.has("enum") || b.has("const") {
		var set []*jv
		first := true
		for _, s := range []*jv{a, b} {
			vals := enumValues(s)
			if vals == nil {
				continue
			}
			if first {
				set, first = vals, false
				continue
			}
			var keep []*jv
			for _, v := range set {
				for _, w := range vals {
					if v.text() == w.text() {
						keep = append(keep, v)
						break
					}
				}
			}
			set = keep
		}
		if len(set) == 0 {
			return nil, c.fail(path, "enum", "the schemas of allOf share no enum value")
		}
		out.set("enum", &jv{kind: 'a', arr: set})
	}

	// Choices.
	var choice *jv
	choiceKw := ""
	for _, s := range []*jv{a, b} {
		for _, kw := range []string{"anyOf", "oneOf"} {
			if v := s.get(kw); v != nil {
				if choice != nil {
					return nil, c.fail(path, kw, "combining two anyOf/oneOf lists in allOf is not supported")
				}
				choice, choiceKw = v, kw
			}
		}
	}
	if choice != nil {
		out.set(choiceKw, choice)
	}
	return out, nil
}

// flatten resolves a bare $ref and folds a schema's own allOf into it.
func (c *compiler) flatten(s *jv, path string, depth int) (*jv, error) {
	s, err := c.derefDepth(s, path, depth)
	if err != nil {
		return nil, err
	}
	if s.kind != 'o' || !s.has("allOf") {
		return s, nil
	}
	all := s.get("allOf")
	if all.kind != 'a' || len(all.arr) == 0 {
		return nil, c.fail(path, "allOf", "must be a non-empty array of schemas")
	}
	out := s.without("allOf")
	for _, br := range all.arr {
		if out, err = c.merge(out, br, path, depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *compiler) derefDepth(s *jv, path string, depth int) (*jv, error) {
	for i := 0; s.kind == 'o' && s.has("$ref"); i++ {
		if i > 64 {
			return nil, c.fail(path, "$ref", "reference chain too long")
		}
		ref := s.get("$ref")
		if ref.kind != 's' {
			return nil, c.fail(path, "$ref", "must be a string")
		}
		t, _, err := c.resolve(ref.str, path)
		if err != nil {
			return nil, err
		}
		if hasConstraints(s, "$ref") {
			return c.merge(s.without("$ref"), t, path, depth+1)
		}
		s = t
	}
	return s, nil
}

func hasTypeKeywords(s *jv) bool {
	for _, k := range []string{"type", "nullable", "properties", "required", "additionalProperties",
		"unevaluatedProperties", "items", "prefixItems", "additionalItems", "minItems", "maxItems",
		"minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
		if s.has(k) {
			return true
		}
	}
	return false
}

// expandNumber lists integer beside number, since number admits integers.
func expandNumber(ts []string) []string {
	out := append([]string(nil), ts...)
	for _, t := range ts {
		if t == "number" {
			out = append(out, "integer")
		}
	}
	return out
}

func both(x, y *jv) *jv {
	return &jv{kind: 'o', obj: []jkv{{"allOf", &jv{kind: 'a', arr: []*jv{x, y}}}}}
}

func enumValues(s *jv) []*jv {
	var vals []*jv
	has := false
	if e := s.get("enum"); e != nil && e.kind == 'a' {
		vals, has = e.arr, true
	}
	if k := s.get("const"); k != nil {
		if has {
			var keep []*jv
			for _, v := range vals {
				if v.text() == k.text() {
					keep = append(keep, v)
				}
			}
			return append(keep[:0:0], keep...)
		}
		return []*jv{k}
	}
	if !has {
		return nil
	}
	return append([]*jv{}, vals...)
}

// pickBound keeps the tighter of two numeric bounds (dir 1: the larger,
// -1: the smaller). Draft 4 boolean exclusive flags must agree.
func pickBound(out, a, b *jv, kw string, dir int, c *compiler, path string) error {
	x, y := a.get(kw), b.get(kw)
	switch {
	case x == nil && y == nil:
		return nil
	case x == nil:
		out.set(kw, y)
		return nil
	case y == nil:
		out.set(kw, x)
		return nil
	}
	if x.kind != 'n' || y.kind != 'n' {
		if x.kind == y.kind {
			out.set(kw, x)
			return nil
		}
		return c.fail(path, kw, "cannot combine these bounds in allOf")
	}
	rx, ok1 := new(big.Rat).SetString(x.str)
	ry, ok2 := new(big.Rat).SetString(y.str)
	if !ok1 || !ok2 {
		return c.fail(path, kw, "must be a number")
	}
	if rx.Cmp(ry)*dir >= 0 {
		out.set(kw, x)
	} else {
		out.set(kw, y)
	}
	return nil
}

// mergeObject combines properties and additionalProperties.
func (c *compiler) mergeObject(out, a, b *jv, path string) error {
	pa, pb := a.get("properties"), b.get("properties")
	for _, p := range []*jv{pa, pb} {
		if p != nil && p.kind != 'o' {
			return c.fail(path, "properties", "must be an object")
		}
	}
	aa, ab := a.get("additionalProperties"), b.get("additionalProperties")
	required := map[string]bool{}
	for _, s := range []*jv{a, b} {
		if r := s.get("required"); r != nil && r.kind == 'a' {
			for _, e := range r.arr {
				if e.kind == 's' {
					required[e.str] = true
				}
			}
		}
	}
	var names []string
	seen := map[string]bool{}
	for _, p := range []*jv{pa, pb} {
		if p == nil {
			continue
		}
		for _, kv := range p.obj {
			if !seen[kv.k] {
				seen[kv.k] = true
				names = append(names, kv.k)
			}
		}
	}
	props := &jv{kind: 'o'}
	for _, name := range names {
		var parts []*jv
		drop := false
		for _, side := range []struct{ p, addl *jv }{{pa, aa}, {pb, ab}} {
			if s := side.p.get(name); s != nil {
				parts = append(parts, s)
				continue
			}
			switch {
			case side.addl == nil || side.addl.kind == 't':
			case side.addl.kind == 'f':
				drop = true
			default:
				parts = append(parts, side.addl)
			}
		}
		if drop {
			if required[name] {
				return c.fail(path, "required", "property %q is required by one schema of allOf and forbidden by another", name)
			}
			continue
		}
		if len(parts) == 1 {
			props.obj = append(props.obj, jkv{name, parts[0]})
		} else {
			props.obj = append(props.obj, jkv{name, both(parts[0], parts[1])})
		}
	}
	if pa != nil || pb != nil {
		out.set("properties", props)
	}
	switch {
	case aa == nil && ab == nil:
	case aa != nil && aa.kind == 'f', ab != nil && ab.kind == 'f':
		out.set("additionalProperties", &jv{kind: 'f'})
	case aa == nil || aa.kind == 't':
		out.set("additionalProperties", ab)
	case ab == nil || ab.kind == 't':
		out.set("additionalProperties", aa)
	default:
		out.set("additionalProperties", both(aa, ab))
	}
	return nil
}
