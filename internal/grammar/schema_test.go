package grammar

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestUnsupportedKeywords(t *testing.T) {
	for kw := range unsupported {
		val := `{}`
		switch kw {
		case "uniqueItems":
			val = `true`
		case "minProperties", "maxProperties", "multipleOf", "minContains", "maxContains":
			val = `2`
		case "dependentRequired":
			val = `{"a":["b"]}`
		case "$dynamicRef", "$recursiveRef", "$dynamicAnchor":
			val = `"#x"`
		case "$recursiveAnchor":
			val = `true`
		}
		for _, schema := range []string{
			`{"type":"object","` + kw + `":` + val + `}`,
			`{"type":"object","properties":{"a":{"` + kw + `":` + val + `}}}`,
			`{"anyOf":[{"type":"string"},{"` + kw + `":` + val + `}]}`,
			`{"allOf":[{"type":"object"},{"` + kw + `":` + val + `}]}`,
		} {
			_, err := FromSchema([]byte(schema))
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("%s: want a SchemaError, got %v", schema, err)
			}
			if se.Keyword != kw || !strings.Contains(err.Error(), kw) {
				t.Fatalf("%s: error %q does not name %q", schema, err, kw)
			}
		}
	}
}

func TestSchemaErrors(t *testing.T) {
	cases := []struct{ schema, want string }{
		{`{`, "not valid JSON"},
		{`{"type":"object"} x`, "not valid JSON"},
		{`false`, "allows no value"},
		{`[]`, "object or a boolean"},
		{`{"type":"thing"}`, `unknown type "thing"`},
		{`{"type":[]}`, "empty type list"},
		{`{"type":3}`, `"type"`},
		{`{"type":"string","minLength":-1}`, `"minLength"`},
		{`{"type":"string","maxLength":1.5}`, `"maxLength"`},
		{`{"type":"string","minLength":5,"maxLength":2}`, "above maxLength"},
		{`{"type":"string","pattern":"^a{3}$","maxLength":2}`, "no string satisfies"},
		{`{"type":"string","format":"email","maxLength":3000000}`, "too large"},
		{`{"type":"string","pattern":"(a"}`, "missing ')'"},
		{`{"type":"string","pattern":"a\\1"}`, "backreferences"},
		{`{"type":"string","pattern":"(?=a)b"}`, "lookaround"},
		{`{"type":"string","pattern":"\\bword"}`, "word boundaries"},
		{`{"type":"string","pattern":"\\p{L}"}`, "Unicode property"},
		{`{"type":"string","pattern":"a^b"}`, "start and end"},
		{`{"type":"string","pattern":"a{2,1}"}`, "min above max"},
		{`{"type":"string","pattern":"a{5000}"}`, "repeat count"},
		{`{"type":"string","pattern":"[b-a]"}`, "out of order"},
		{`{"type":"string","pattern":"^$","minLength":1}`, "no string satisfies"},
		{`{"type":"string","format":"date","pattern":"x"}`, "together with format"},
		{`{"$ref":"http://example.com/s.json"}`, "only local references"},
		{`{"$ref":"#/$defs/missing"}`, "points at nothing"},
		{`{"$ref":"#"}`, "no finite JSON value"},
		{`{"$defs":{"n":{"type":"object","properties":{"c":{"$ref":"#/$defs/n"}},"required":["c"]}},"$ref":"#/$defs/n"}`, "no finite JSON value"},
		{`{"type":"array","items":{"$ref":"#"},"minItems":1}`, "no finite JSON value"},
		{`{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"anyOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}`, "no finite JSON value"},
		{`{"anyOf":[]}`, "non-empty array"},
		{`{"oneOf":{}}`, "non-empty array"},
		{`{"allOf":[]}`, "non-empty array"},
		{`{"anyOf":[{"type":"string"}],"oneOf":[{"type":"string"}]}`, "anyOf and oneOf"},
		{`{"enum":[1,2],"type":"string"}`, "no listed value"},
		{`{"enum":"x"}`, "must be an array"},
		{`{"enum":["a"],"minLength":1}`, "combining enum"},
		{`{"type":"integer","minimum":10,"maximum":9}`, "no integer lies"},
		{`{"type":"integer","minimum":1.5,"maximum":1.9}`, "no integer lies"},
		{`{"type":"number","exclusiveMinimum":1,"exclusiveMaximum":1}`, "no number lies"},
		{`{"type":"integer","minimum":"3"}`, "must be a number"},
		{`{"type":"array","minItems":3,"maxItems":2}`, "minItems 3 is above maxItems 2"},
		{`{"type":"array","prefixItems":[{}],"items":false,"minItems":2}`, "cannot be met"},
		{`{"type":"object","properties":{"a":false},"required":["a"]}`, "schema is false"},
		{`{"type":"object","required":["a"],"additionalProperties":false}`, "not allowed"},
		{`{"type":"object","required":"a"}`, "array of strings"},
		{`{"type":"object","properties":[]}`, "must be an object"},
		{`{"allOf":[{"type":"string"},{"type":"integer"}]}`, "no type in common"},
		{`{"allOf":[{"type":"string","pattern":"a"},{"pattern":"b"}]}`, "two different patterns"},
		{`{"allOf":[{"enum":[1,2]},{"enum":[3]}]}`, "share no enum value"},
		{`{"allOf":[{"properties":{"a":{}},"required":["a"]},{"additionalProperties":false}]}`, "forbidden by another"},
		{`{"allOf":[{"$ref":"#"}]}`, "too deeply"},
		{`{"type":"array","items":{"type":"string","pattern":"^[ab]*a[ab]{17}$"}}`, "too large"},
	}
	for _, tc := range cases {
		_, err := FromSchema([]byte(tc.schema))
		if err == nil {
			t.Errorf("%s: compiled, want an error containing %q", tc.schema, tc.want)
			continue
		}
		var se *SchemaError
		if !errors.As(err, &se) {
			t.Errorf("%s: %T is not a SchemaError: %v", tc.schema, err, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.schema, err, tc.want)
		}
	}
}

func TestAnnotationsIgnored(t *testing.T) {
	for _, schema := range []string{
		`{"title":"T","description":"d","default":{"a":1},"examples":[1],"$comment":"c","deprecated":true,"readOnly":true,
		  "$schema":"https://json-schema.org/draft/2020-12/schema","$id":"urn:x","x-vendor":{"not":{}},"type":"object"}`,
		`{"type":"object","properties":{"a":{"type":"string","description":"d","contentMediaType":"text/plain"}},"discriminator":{"propertyName":"a"}}`,
		`{"type":"array","uniqueItems":false}`,
		`{"type":"object","unevaluatedProperties":false,"properties":{"a":{"type":"integer"}}}`,
		`{"type":"string","format":"uri"}`,
	} {
		if _, err := FromSchema([]byte(schema)); err != nil {
			t.Errorf("%s: %v", schema, err)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, raw := range []string{``, `null`, `""`, "  "} {
		if g, err := ParseFormat([]byte(raw)); g != nil || err != nil {
			t.Errorf("ParseFormat(%q) = %v, %v; want no grammar", raw, g, err)
		}
	}
	if g, err := ParseFormat([]byte(`"json"`)); g != JSON() || err != nil {
		t.Errorf(`ParseFormat("json") = %v, %v`, g, err)
	}
	if g, err := ParseFormat([]byte(`{"type":"object"}`)); g == nil || err != nil {
		t.Errorf("ParseFormat(schema) = %v, %v", g, err)
	}
	for _, raw := range []string{`"yaml"`, `3`, `[1]`, `true`} {
		_, err := ParseFormat([]byte(raw))
		if err == nil || !strings.Contains(err.Error(), `expected "json" or a valid JSON Schema object`) {
			t.Errorf("ParseFormat(%s) error %v", raw, err)
		}
	}
	if _, err := ParseFormat([]byte(`{"type":"nope"}`)); err == nil {
		t.Errorf("ParseFormat accepted a bad schema")
	}
}

func TestParseResponseFormat(t *testing.T) {
	for _, raw := range []string{``, `null`, `{"type":"text"}`} {
		if g, err := ParseResponseFormat([]byte(raw)); g != nil || err != nil {
			t.Errorf("ParseResponseFormat(%q) = %v, %v; want no grammar", raw, g, err)
		}
	}
	if g, err := ParseResponseFormat([]byte(`{"type":"json_object"}`)); g != JSON() || err != nil {
		t.Errorf("json_object = %v, %v", g, err)
	}
	g, err := ParseResponseFormat([]byte(`{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}}}`))
	if err != nil || g == nil || g == JSON() {
		t.Fatalf("json_schema = %v, %v", g, err)
	}
	for _, raw := range []string{`{"type":"xml"}`, `{"type":"json_schema"}`, `{"type":`, `{"type":"json_schema","json_schema":{"schema":{"type":"nope"}}}`} {
		if _, err := ParseResponseFormat([]byte(raw)); err == nil {
			t.Errorf("ParseResponseFormat(%s) accepted", raw)
		}
	}
}

func TestSchemaCacheReturnsSameGrammar(t *testing.T) {
	s := []byte(`{"type":"object","properties":{"cache_test":{"type":"integer"}}}`)
	a, err := FromSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := FromSchema(s)
	if a != b {
		t.Fatalf("the same schema text compiled twice")
	}
}

func TestSchemaWorkIsBounded(t *testing.T) {
	// Each definition merges two copies of the next: 2^30 merges unless the
	// compiler stops.
	var defs []string
	for i := 0; i < 30; i++ {
		defs = append(defs, fmt.Sprintf(`"d%d":{"allOf":[{"$ref":"#/$defs/d%d"},{"$ref":"#/$defs/d%d"},{"properties":{"p%d":{"type":"integer"}}}]}`, i, i+1, i+1, i))
	}
	defs = append(defs, `"d30":{"type":"object"}`)
	schema := `{"$defs":{` + strings.Join(defs, ",") + `},"$ref":"#/$defs/d0"}`
	start := time.Now()
	_, err := FromSchema([]byte(schema))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("want a too-large error, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusing took %v", d)
	}
}
