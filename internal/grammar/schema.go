package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// JSON Schema support. The subset is what clients send for structured
// output (Pydantic, Zod, OpenAI strict mode, hand-written schemas):
//
//	type (a name or a list of names), nullable (OpenAPI)
//	enum, const
//	properties, required, additionalProperties, unevaluatedProperties: false
//	items, prefixItems, additionalItems, minItems, maxItems
//	minLength, maxLength, pattern, format (date, time, date-time, uuid,
//	  email, hostname, ipv4; other formats are annotations and ignored)
//	minimum, maximum, exclusiveMinimum, exclusiveMaximum (both forms)
//	anyOf, oneOf (treated as anyOf), allOf (merged)
//	$ref to "#" or "#/..." JSON pointers ($defs, definitions, anywhere),
//	  recursion included
//
// Annotations (title, description, default, examples, ...) and unknown
// keywords are ignored, as JSON Schema asks. Constraining keywords outside
// the subset are refused with a *SchemaError naming the keyword, so that a
// server can answer 400 instead of generating output the schema rejects.
//
// Objects: properties are written in the schema's order; optional ones may
// be left out. When additionalProperties is not given, an object with
// declared properties gets no others (OpenAI strict mode requires false
// anyway, and llama.cpp's converter, which Ollama uses, does the same); an
// object without declared properties takes any keys.

// SchemaError reports a schema that cannot be compiled.
type SchemaError struct {
	Path    string // JSON pointer of the subschema, "#" for the root
	Keyword string // the keyword at fault, if one is
	Msg     string
}

func (e *SchemaError) Error() string {
	if e.Keyword != "" {
		return fmt.Sprintf("json schema at %s: %q: %s", e.Path, e.Keyword, e.Msg)
	}
	return fmt.Sprintf("json schema at %s: %s", e.Path, e.Msg)
}

// unsupported are the constraining keywords outside the subset.
var unsupported = map[string]string{
	"not":                   "negation is not supported",
	"if":                    "conditional schemas are not supported",
	"then":                  "conditional schemas are not supported",
	"else":                  "conditional schemas are not supported",
	"dependentRequired":     "is not supported",
	"dependentSchemas":      "is not supported",
	"dependencies":          "is not supported",
	"patternProperties":     "is not supported",
	"propertyNames":         "is not supported",
	"unevaluatedItems":      "is not supported",
	"contains":              "is not supported",
	"minContains":           "is not supported",
	"maxContains":           "is not supported",
	"multipleOf":            "is not supported",
	"minProperties":         "is not supported",
	"maxProperties":         "is not supported",
	"$dynamicRef":           "is not supported",
	"$recursiveRef":         "is not supported",
	"contentSchema":         "is not supported",
	"$dynamicAnchor":        "is not supported",
	"$recursiveAnchor":      "is not supported",
	"uniqueItems":           "true is not supported",
	"unevaluatedProperties": "is supported only as false",
}

// constraining are the supported keywords that restrict values; any other
// keyword is an annotation.
var constraining = map[string]bool{
	"type": true, "enum": true, "const": true, "nullable": true,
	"properties": true, "required": true, "additionalProperties": true, "unevaluatedProperties": true,
	"items": true, "prefixItems": true, "additionalItems": true, "minItems": true, "maxItems": true,
	"uniqueItems": true,
	"minLength":   true, "maxLength": true, "pattern": true, "format": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true,
	"anyOf": true, "oneOf": true, "allOf": true, "$ref": true,
}

var typeNames = []string{"null", "boolean", "object", "array", "number", "integer", "string"}

// jv is a JSON value with object keys in document order.
type jv struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 't' true, 'f' false, 'z' null
	obj  []jkv
	arr  []*jv
	str  string // string value, or number text
}

type jkv struct {
	k string
	v *jv
}

func (v *jv) get(k string) *jv {
	if v == nil || v.kind != 'o' {
		return nil
	}
	for i := len(v.obj) - 1; i >= 0; i-- {
		if v.obj[i].k == k {
			return v.obj[i].v
		}
	}
	return nil
}

func (v *jv) has(k string) bool { return v.get(k) != nil }

// without returns a copy of an object without the named keys.
func (v *jv) without(keys ...string) *jv {
	out := &jv{kind: 'o'}
	for _, kv := range v.obj {
		drop := false
		for _, k := range keys {
			if kv.k == k {
				drop = true
			}
		}
		if !drop {
			out.obj = append(out.obj, kv)
		}
	}
	return out
}

func (v *jv) set(k string, val *jv) {
	for i := range v.obj {
		if v.obj[i].k == k {
			v.obj[i].v = val
		}
	}
	if !v.has(k) {
		v.obj = append(v.obj, jkv{k, val})
	}
}

// text writes the value as compact JSON (keys in document order).
func (v *jv) text() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v *jv) write(b *strings.Builder) {
	switch v.kind {
	case 'o':
		b.WriteByte('{')
		for i, kv := range v.obj {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quote(kv.k))
			b.WriteByte(':')
			kv.v.write(b)
		}
		b.WriteByte('}')
	case 'a':
		b.WriteByte('[')
		for i, e := range v.arr {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	case 's':
		b.WriteString(quote(v.str))
	case 'n':
		b.WriteString(v.str)
	case 't':
		b.WriteString("true")
	case 'f':
		b.WriteString("false")
	case 'z':
		b.WriteString("null")
	}
}

// quote writes s as a JSON string the way encoding/json does, without
// HTML escaping.
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

const maxSchemaDepth = 256

func parseJV(data []byte) (*jv, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJV(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the schema")
	}
	return v, nil
}

func readJV(dec *json.Decoder, depth int) (*jv, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("nested more than %d levels", maxSchemaDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := &jv{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				e, err := readJV(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.obj = append(v.obj, jkv{k, e})
			}
			_, err := dec.Token()
			return v, err
		case '[':
			v := &jv{kind: 'a'}
			for dec.More() {
				e, err := readJV(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, e)
			}
			_, err := dec.Token()
			return v, err
		}
	case string:
		return &jv{kind: 's', str: t}, nil
	case json.Number:
		return &jv{kind: 'n', str: t.String()}, nil
	case bool:
		if t {
			return &jv{kind: 't'}, nil
		}
		return &jv{kind: 'f'}, nil
	case nil:
		return &jv{kind: 'z'}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// FromSchema compiles a JSON Schema. Every error is a *SchemaError (JSON
// syntax errors included) describing what the client sent wrong. Compiled
// grammars are kept in a small cache keyed by the schema text, so a client
// repeating a schema reuses the grammar and its warm mask cache.
func FromSchema(schema []byte) (*Grammar, error) {
	key := string(schema)
	if g := schemaCache.get(key); g != nil {
		return g, nil
	}
	root, err := parseJV(schema)
	if err != nil {
		return nil, &SchemaError{Path: "#", Msg: "not valid JSON: " + err.Error()}
	}
	c := &compiler{b: newBuilder(), root: root, refs: map[string]int32{}}
	value, err := c.compile(root, "#", 0)
	if err != nil {
		return nil, err
	}
	g, err := c.b.finish(value)
	if err != nil {
		return nil, &SchemaError{Path: "#", Msg: err.Error()}
	}
	schemaCache.put(key, g)
	return g, nil
}

// ParseFormat reads Ollama's "format" field: absent, null or "" means no
// constraint (nil, nil); "json" means any JSON object; an object is a JSON
// Schema. Anything else is an error with Ollama's wording.
func ParseFormat(raw []byte) (*Grammar, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return nil, nil
	}
	if string(raw) == `"json"` {
		return JSON(), nil
	}
	if raw[0] == '{' {
		return FromSchema(raw)
	}
	return nil, fmt.Errorf("invalid format: %s; expected \"json\" or a valid JSON Schema object", raw)
}

// ParseResponseFormat reads OpenAI's "response_format": {"type": "text"}
// or absent means no constraint (nil, nil); "json_object" any JSON object;
// "json_schema" the schema in json_schema.schema (strict or not: output is
// always held to the schema).
func ParseResponseFormat(raw []byte) (*Grammar, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return nil, fmt.Errorf("invalid response_format: %v", err)
	}
	switch rf.Type {
	case "", "text":
		return nil, nil
	case "json_object":
		return JSON(), nil
	case "json_schema":
		if rf.JSONSchema == nil {
			return nil, errors.New("invalid response_format: json_schema is missing")
		}
		s := bytes.TrimSpace(rf.JSONSchema.Schema)
		if len(s) == 0 || string(s) == "null" {
			return JSON(), nil
		}
		return FromSchema(s)
	}
	return nil, fmt.Errorf("invalid response_format type %q: expected \"text\", \"json_object\" or \"json_schema\"", rf.Type)
}

// schemaCache is a small LRU of compiled grammars.
var schemaCache = &grammarLRU{max: 16}

type grammarLRU struct {
	mu    sync.Mutex
	max   int
	keys  []string // most recent last
	items map[string]*Grammar
}

func (l *grammarLRU) get(k string) *Grammar {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.items[k]
	if g != nil {
		for i, x := range l.keys {
			if x == k {
				l.keys = append(append(l.keys[:i:i], l.keys[i+1:]...), k)
				break
			}
		}
	}
	return g
}

func (l *grammarLRU) put(k string, g *Grammar) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.items == nil {
		l.items = map[string]*Grammar{}
	}
	if _, ok := l.items[k]; ok {
		return
	}
	if len(l.keys) >= l.max {
		delete(l.items, l.keys[0])
		l.keys = l.keys[1:]
	}
	l.keys = append(l.keys, k)
	l.items[k] = g
}

type compiler struct {
	b     *builder
	root  *jv
	refs  map[string]int32
	nodes int // subschemas compiled and merges done: the work so far
}

// maxSchemaNodes bounds compilation work: allOf merging copies schemas, and
// references can make that exponential in the schema's size.
const maxSchemaNodes = 20000

func (c *compiler) fail(path, kw, format string, args ...any) error {
	return &SchemaError{Path: path, Keyword: kw, Msg: fmt.Sprintf(format, args...)}
}

// compile turns a subschema into a node.
func (c *compiler) compile(s *jv, path string, depth int) (int32, error) {
	c.nodes++
	if c.nodes > maxSchemaNodes {
		return -1, c.fail(path, "", "schema too large (more than %d subschemas after expansion)", maxSchemaNodes)
	}
	if depth > maxSchemaDepth {
		return -1, c.fail(path, "", "nested too deeply")
	}
	switch s.kind {
	case 't':
		return c.b.anyValue(), nil
	case 'f':
		return -1, c.fail(path, "", "the schema false allows no value")
	case 'o':
	default:
		return -1, c.fail(path, "", "a schema must be an object or a boolean")
	}
	if err := c.check(s, path); err != nil {
		return -1, err
	}
	if ref := s.get("$ref"); ref != nil {
		if ref.kind != 's' {
			return -1, c.fail(path, "$ref", "must be a string")
		}
		if !hasConstraints(s, "$ref") {
			return c.ref(ref.str, path)
		}
		// A $ref with constraining siblings means both hold.
		target, _, err := c.resolve(ref.str, path)
		if err != nil {
			return -1, err
		}
		merged, err := c.merge(s.without("$ref"), target, path, 0)
		if err != nil {
			return -1, err
		}
		return c.compile(merged, path, depth+1)
	}
	if all := s.get("allOf"); all != nil {
		if all.kind != 'a' || len(all.arr) == 0 {
			return -1, c.fail(path, "allOf", "must be a non-empty array of schemas")
		}
		merged := s.without("allOf")
		for i, br := range all.arr {
			var err error
			merged, err = c.merge(merged, br, fmt.Sprintf("%s/allOf/%d", path, i), 0)
			if err != nil {
				return -1, err
			}
		}
		return c.compile(merged, path, depth+1)
	}
	anyOf, oneOf := s.get("anyOf"), s.get("oneOf")
	if anyOf != nil && oneOf != nil {
		return -1, c.fail(path, "oneOf", "anyOf and oneOf in the same schema are not supported")
	}
	if anyOf != nil || oneOf != nil {
		kw, list := "anyOf", anyOf
		if oneOf != nil {
			kw, list = "oneOf", oneOf
		}
		if list.kind != 'a' || len(list.arr) == 0 {
			return -1, c.fail(path, kw, "must be a non-empty array of schemas")
		}
		rest := s.without("anyOf", "oneOf")
		var alts []int32
		for i, br := range list.arr {
			bpath := fmt.Sprintf("%s/%s/%d", path, kw, i)
			sub := br
			if hasConstraints(rest) {
				var err error
				if sub, err = c.merge(rest, br, bpath, 0); err != nil {
					return -1, err
				}
			}
			id, err := c.compile(sub, bpath, depth+1)
			if err != nil {
				return -1, err
			}
			alts = append(alts, id)
		}
		return c.b.alt(alts), nil
	}
	types, err := c.types(s, path)
	if err != nil {
		return -1, err
	}
	if e, k := s.get("enum"), s.get("const"); e != nil || k != nil {
		return c.enum(s, types, path)
	}
	if len(types) == len(typeNames)-1 && !hasConstraints(s, "type", "nullable") {
		return c.b.anyValue(), nil
	}
	var alts []int32
	for _, t := range types {
		id, err := c.typed(s, t, path, depth)
		if err != nil {
			return -1, err
		}
		alts = append(alts, id)
	}
	return c.b.alt(alts), nil
}

// check refuses unsupported keywords.
func (c *compiler) check(s *jv, path string) error {
	for _, kv := range s.obj {
		msg, bad := unsupported[kv.k]
		if !bad {
			continue
		}
		switch kv.k {
		case "uniqueItems":
			if kv.v.kind == 'f' {
				continue
			}
		case "unevaluatedProperties":
			if kv.v.kind == 'f' {
				continue
			}
		}
		return c.fail(path, kv.k, "%s", msg)
	}
	return nil
}

// hasConstraints reports whether s has constraining keywords other than
// the ones named.
func hasConstraints(s *jv, except ...string) bool {
	if s.kind != 'o' {
		return s.kind == 'f'
	}
	for _, kv := range s.obj {
		if !constraining[kv.k] {
			if _, bad := unsupported[kv.k]; !bad {
				continue
			}
		}
		skip := false
		for _, e := range except {
			if kv.k == e {
				skip = true
			}
		}
		if !skip {
			return true
		}
	}
	return false
}

// ref returns the node of a local reference, compiling its target once.
// The node is created before the target is compiled, so recursive schemas
// point back at it.
func (c *compiler) ref(ref, path string) (int32, error) {
	target, tpath, err := c.resolve(ref, path)
	if err != nil {
		return -1, err
	}
	if id, ok := c.refs[tpath]; ok {
		return id, nil
	}
	id := c.b.g.add(node{kind: kAlt})
	c.refs[tpath] = id
	t, err := c.compile(target, tpath, 0)
	if err != nil {
		return -1, err
	}
	c.b.g.nodes[id].alts = []int32{t}
	return id, nil
}

// resolve follows a local JSON pointer reference.
func (c *compiler) resolve(ref, path string) (*jv, string, error) {
	if ref != "#" && !strings.HasPrefix(ref, "#/") {
		return nil, "", c.fail(path, "$ref", "only local references (\"#\" or \"#/...\") are supported, not %q", ref)
	}
	frag, err := url.PathUnescape(ref[1:])
	if err != nil {
		return nil, "", c.fail(path, "$ref", "bad reference %q: %v", ref, err)
	}
	cur := c.root
	if frag != "" {
		for _, tok := range strings.Split(frag[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch cur.kind {
			case 'o':
				cur = cur.get(tok)
			case 'a':
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(cur.arr) {
					cur = nil
				} else {
					cur = cur.arr[i]
				}
			default:
				cur = nil
			}
			if cur == nil {
				return nil, "", c.fail(path, "$ref", "reference %q points at nothing", ref)
			}
		}
	}
	return cur, "#" + frag, nil
}

// types returns the type names a schema allows (integer and number both
// listed when number is), from "type" or, without it, from the keywords
// present: a schema with only string keywords is a string, and so on;
// one without type keywords allows every type.
func (c *compiler) types(s *jv, path string) ([]string, error) {
	var names []string
	if t := s.get("type"); t != nil {
		switch t.kind {
		case 's':
			names = []string{t.str}
		case 'a':
			for _, e := range t.arr {
				if e.kind != 's' {
					return nil, c.fail(path, "type", "must be a string or an array of strings")
				}
				names = append(names, e.str)
			}
		default:
			return nil, c.fail(path, "type", "must be a string or an array of strings")
		}
		for _, n := range names {
			known := false
			for _, k := range typeNames {
				if n == k {
					known = true
				}
			}
			if !known {
				return nil, c.fail(path, "type", "unknown type %q", n)
			}
		}
		if len(names) == 0 {
			return nil, c.fail(path, "type", "an empty type list allows no value")
		}
	} else {
		has := func(kws ...string) bool {
			for _, k := range kws {
				if s.has(k) {
					return true
				}
			}
			return false
		}
		if has("properties", "required", "additionalProperties", "unevaluatedProperties") {
			names = append(names, "object")
		}
		if has("items", "prefixItems", "additionalItems", "minItems", "maxItems") {
			names = append(names, "array")
		}
		if has("minLength", "maxLength", "pattern", "format") {
			names = append(names, "string")
		}
		if has("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") {
			names = append(names, "number")
		}
		if len(names) == 0 {
			names = []string{"null", "boolean", "object", "array", "number", "string"}
		}
	}
	if n := s.get("nullable"); n != nil && n.kind == 't' {
		names = append(names, "null")
	}
	// number includes integer; keep one of them, and each name once.
	seen := map[string]bool{}
	var out []string
	hasNumber := false
	for _, n := range names {
		if n == "number" {
			hasNumber = true
		}
	}
	for _, n := range names {
		if seen[n] || (n == "integer" && hasNumber) {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

func typeOf(v *jv) []string {
	switch v.kind {
	case 'o':
		return []string{"object"}
	case 'a':
		return []string{"array"}
	case 's':
		return []string{"string"}
	case 't', 'f':
		return []string{"boolean"}
	case 'z':
		return []string{"null"}
	case 'n':
		if r, ok := new(big.Rat).SetString(v.str); ok && r.IsInt() {
			return []string{"number", "integer"}
		}
		return []string{"number"}
	}
	return nil
}

// enum compiles enum/const into a literal node, keeping the values of the
// allowed types.
func (c *compiler) enum(s *jv, types []string, path string) (int32, error) {
	for _, kv := range s.obj {
		if constraining[kv.k] && kv.k != "enum" && kv.k != "const" && kv.k != "type" && kv.k != "nullable" {
			return -1, c.fail(path, kv.k, "combining enum or const with %q is not supported", kv.k)
		}
	}
	var vals []*jv
	if e := s.get("enum"); e != nil {
		if e.kind != 'a' {
			return -1, c.fail(path, "enum", "must be an array")
		}
		vals = e.arr
	}
	if k := s.get("const"); k != nil {
		if s.has("enum") {
			var keep []*jv
			for _, v := range vals {
				if v.text() == k.text() {
					keep = append(keep, v)
				}
			}
			vals = keep
		} else {
			vals = []*jv{k}
		}
	}
	allowed := map[string]bool{}
	for _, t := range types {
		allowed[t] = true
	}
	seen := map[string]bool{}
	var texts []string
	for _, v := range vals {
		ok := false
		for _, t := range typeOf(v) {
			if allowed[t] {
				ok = true
			}
		}
		if txt := v.text(); ok && !seen[txt] {
			seen[txt] = true
			texts = append(texts, txt)
		}
	}
	if len(texts) == 0 {
		return -1, c.fail(path, "enum", "no listed value has an allowed type")
	}
	sort.Strings(texts)
	return c.b.literal(texts)
}

// typed compiles the keywords of one type.
func (c *compiler) typed(s *jv, t, path string, depth int) (int32, error) {
	switch t {
	case "null":
		return c.b.literal([]string{"null"})
	case "boolean":
		return c.b.literal([]string{"false", "true"})
	case "string":
		return c.str(s, path)
	case "integer", "number":
		return c.number(s, t == "integer", path)
	case "array":
		return c.array(s, path, depth)
	case "object":
		return c.object(s, path, depth)
	}
	return -1, c.fail(path, "type", "unknown type %q", t)
}

// count reads a non-negative integer keyword; -1 when absent.
func (c *compiler) count(s *jv, kw, path string) (int64, error) {
	v := s.get(kw)
	if v == nil {
		return -1, nil
	}
	if v.kind == 'n' {
		if r, ok := new(big.Rat).SetString(v.str); ok && r.IsInt() && r.Sign() >= 0 {
			if r.Num().IsInt64() && r.Num().Int64() <= 1<<40 {
				return r.Num().Int64(), nil
			}
			return 1 << 40, nil
		}
	}
	return -1, c.fail(path, kw, "must be a non-negative integer")
}

func (c *compiler) str(s *jv, path string) (int32, error) {
	minLen, err := c.count(s, "minLength", path)
	if err != nil {
		return -1, err
	}
	maxLen, err := c.count(s, "maxLength", path)
	if err != nil {
		return -1, err
	}
	if minLen < 0 {
		minLen = 0
	}
	var content *table
	key := "string"
	if f := s.get("format"); f != nil && f.kind == 's' {
		t, ok, err := formatTable(f.str)
		if err != nil {
			return -1, err
		}
		if ok {
			content = t
			key += "\x00format=" + f.str
		}
	}
	if p := s.get("pattern"); p != nil {
		if p.kind != 's' {
			return -1, c.fail(path, "pattern", "must be a string")
		}
		if content != nil {
			return -1, c.fail(path, "pattern", "a pattern together with format %q is not supported", s.get("format").str)
		}
		t, err := regexTable(p.str)
		if err != nil {
			return -1, c.fail(path, "pattern", "%v", err)
		}
		content = t
		key += "\x00pattern=" + p.str
	}
	if content == nil {
		if minLen == 0 && maxLen < 0 {
			return c.b.plainString(), nil
		}
		if maxLen >= 0 && minLen > maxLen {
			return -1, c.fail(path, "minLength", "minLength %d is above maxLength %d", minLen, maxLen)
		}
		return c.b.countedString(minLen, maxLen), nil
	}
	key += fmt.Sprintf("\x00len=%d,%d", minLen, maxLen)
	id, err := c.b.lex(key, func() (*dfa, error) {
		if maxLen > maxProductStates || minLen > maxProductStates {
			return nil, fmt.Errorf("length bound too large: %w", errTooLarge)
		}
		return stringDFA(content, int(minLen), int(maxLen))
	})
	if err != nil {
		kw := "pattern"
		if !s.has("pattern") {
			kw = "format"
		}
		if minLen > 0 || maxLen >= 0 {
			kw = "maxLength"
			if maxLen < 0 {
				kw = "minLength"
			}
		}
		return -1, c.fail(path, kw, "no string satisfies the constraints (%v)", err)
	}
	return id, nil
}

// bound reads a numeric keyword.
func (c *compiler) bound(s *jv, kw, path string) (*big.Rat, bool, error) {
	v := s.get(kw)
	if v == nil {
		return nil, false, nil
	}
	if v.kind == 't' || v.kind == 'f' {
		return nil, v.kind == 't', nil // draft 4 exclusive flags
	}
	if v.kind != 'n' {
		return nil, false, c.fail(path, kw, "must be a number")
	}
	r, ok := new(big.Rat).SetString(v.str)
	if !ok {
		return nil, false, c.fail(path, kw, "bad number %s", v.str)
	}
	return r, false, nil
}

func (c *compiler) number(s *jv, integer bool, path string) (int32, error) {
	lo, _, err := c.bound(s, "minimum", path)
	if err != nil {
		return -1, err
	}
	hi, _, err := c.bound(s, "maximum", path)
	if err != nil {
		return -1, err
	}
	xlo, xloFlag, err := c.bound(s, "exclusiveMinimum", path)
	if err != nil {
		return -1, err
	}
	xhi, xhiFlag, err := c.bound(s, "exclusiveMaximum", path)
	if err != nil {
		return -1, err
	}
	loExcl, hiExcl := xloFlag, xhiFlag
	if xlo != nil && (lo == nil || xlo.Cmp(lo) >= 0) {
		lo, loExcl = xlo, true
	}
	if xhi != nil && (hi == nil || xhi.Cmp(hi) <= 0) {
		hi, hiExcl = xhi, true
	}
	if lo == nil && hi == nil {
		return c.b.plainNumber(integer), nil
	}
	n, err := newNumInfo(integer, lo, hi, loExcl, hiExcl)
	if err != nil {
		return -1, c.fail(path, "minimum", "%v", err)
	}
	return c.b.g.add(node{kind: kNum, num: n}), nil
}

func (c *compiler) array(s *jv, path string, depth int) (int32, error) {
	a := &arrInfo{items: -1, max: -1}
	minItems, err := c.count(s, "minItems", path)
	if err != nil {
		return -1, err
	}
	maxItems, err := c.count(s, "maxItems", path)
	if err != nil {
		return -1, err
	}
	a.min, a.max = max(minItems, 0), maxItems
	items := s.get("items")
	prefix := s.get("prefixItems")
	after := items
	if items != nil && items.kind == 'a' { // draft 4 tuple form
		if prefix != nil {
			return -1, c.fail(path, "items", "an items array together with prefixItems is not supported")
		}
		prefix, after = items, s.get("additionalItems")
	}
	if prefix != nil {
		if prefix.kind != 'a' {
			return -1, c.fail(path, "prefixItems", "must be an array of schemas")
		}
		for i, p := range prefix.arr {
			if p.kind == 'f' { // nothing can sit here, so the array stops before
				if a.max < 0 || a.max > int64(i) {
					a.max = int64(i)
				}
				break
			}
			id, err := c.compile(p, fmt.Sprintf("%s/prefixItems/%d", path, i), depth+1)
			if err != nil {
				return -1, err
			}
			a.prefix = append(a.prefix, id)
		}
	}
	switch {
	case after == nil || after.kind == 't':
		a.items = c.b.anyValue()
	case after.kind == 'f':
		a.items = -1
	default:
		id, err := c.compile(after, path+"/items", depth+1)
		if err != nil {
			return -1, err
		}
		a.items = id
	}
	if a.max >= 0 && a.min > a.max {
		return -1, c.fail(path, "minItems", "minItems %d is above maxItems %d", a.min, a.max)
	}
	if a.items < 0 && a.min > int64(len(a.prefix)) {
		return -1, c.fail(path, "minItems", "minItems %d cannot be met: only %d items are allowed", a.min, len(a.prefix))
	}
	if a.min > 1<<20 {
		return -1, c.fail(path, "minItems", "minItems %d is too large", a.min)
	}
	return c.b.array(a), nil
}

func (c *compiler) object(s *jv, path string, depth int) (int32, error) {
	o := &objInfo{addl: -1}
	required := map[string]bool{}
	var reqOrder []string
	if r := s.get("required"); r != nil {
		if r.kind != 'a' {
			return -1, c.fail(path, "required", "must be an array of strings")
		}
		for _, e := range r.arr {
			if e.kind != 's' {
				return -1, c.fail(path, "required", "must be an array of strings")
			}
			if !required[e.str] {
				required[e.str] = true
				reqOrder = append(reqOrder, e.str)
			}
		}
	}
	props := s.get("properties")
	if props != nil && props.kind != 'o' {
		return -1, c.fail(path, "properties", "must be an object")
	}
	declared := map[string]bool{}
	if props != nil {
		for _, kv := range props.obj {
			if declared[kv.k] {
				continue
			}
			declared[kv.k] = true
			ppath := path + "/properties/" + escapePointer(kv.k)
			if kv.v.kind == 'f' {
				if required[kv.k] {
					return -1, c.fail(ppath, "required", "property %q is required but its schema is false", kv.k)
				}
				continue
			}
			id, err := c.compile(kv.v, ppath, depth+1)
			if err != nil {
				return -1, err
			}
			o.props = append(o.props, prop{name: kv.k, enc: strings.Trim(quote(kv.k), `"`), node: id, required: required[kv.k]})
		}
	}
	ap := s.get("additionalProperties")
	switch {
	case ap == nil:
		if props == nil || len(props.obj) == 0 {
			o.addl = c.b.anyValue()
		}
	case ap.kind == 't':
		o.addl = c.b.anyValue()
	case ap.kind == 'f':
	default:
		id, err := c.compile(ap, path+"/additionalProperties", depth+1)
		if err != nil {
			return -1, err
		}
		o.addl = id
	}
	if u := s.get("unevaluatedProperties"); u != nil && u.kind == 'f' && ap == nil {
		o.addl = -1
	}
	// Required names without a declaration take the additional schema.
	for _, name := range reqOrder {
		if declared[name] {
			continue
		}
		v := o.addl
		if v < 0 {
			if ap != nil && ap.kind == 'f' {
				return -1, c.fail(path, "required", "property %q is required but not allowed (additionalProperties is false)", name)
			}
			v = c.b.anyValue()
		}
		o.props = append(o.props, prop{name: name, enc: strings.Trim(quote(name), `"`), node: v, required: true})
	}
	return c.b.object(o), nil
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
