package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	oapi "github.com/ollama/ollama/api"
)

// TestFormatJSON: format "json" yields a JSON object on every model and
// prompt, random weights included, because decoding is constrained.
func TestFormatJSON(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	ts.create(t, "qwen", modelFile(t, "synthetic", "syn-qwen2-256-Q8_0.gguf"), "TEMPLATE \"\"\""+chatMLTemplate(t)+"\"\"\"")
	c := ts.ollama(t, "")
	f := false
	for _, model := range []string{"stories", "qwen"} {
		for i, prompt := range []string{"Once upon a time", "Give me JSON", "The quick brown fox"} {
			var r oapi.ChatResponse
			err := c.Chat(context.Background(), &oapi.ChatRequest{Model: model, Stream: &f, Format: json.RawMessage(`"json"`),
				Messages: []oapi.Message{{Role: "user", Content: prompt}},
				Options:  map[string]any{"temperature": 0.9, "seed": i, "num_predict": 150}},
				func(cr oapi.ChatResponse) error { r = cr; return nil })
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(r.Message.Content), &v); err != nil {
				t.Fatalf("%s %q: not a JSON object (%v, done_reason %s, %d tokens): %q", model, prompt, err, r.DoneReason, r.EvalCount, r.Message.Content)
			}
			if r.DoneReason != "stop" {
				t.Fatalf("%s: done_reason %q", model, r.DoneReason)
			}
		}
	}
}

// validate checks v against the subset of JSON Schema the test uses; it
// is written independently of the grammar package.
func validate(schema map[string]any, v any, path string) error {
	if alts, ok := schema["anyOf"].([]any); ok {
		for _, a := range alts {
			if validate(a.(map[string]any), v, path) == nil {
				return nil
			}
		}
		return fmt.Errorf("%s: matches no anyOf alternative: %v", path, v)
	}
	if enum, ok := schema["enum"].([]any); ok {
		for _, e := range enum {
			if e == v {
				return nil
			}
		}
		return fmt.Errorf("%s: %v not in enum %v", path, v, enum)
	}
	switch schema["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not an object", path)
		}
		props, _ := schema["properties"].(map[string]any)
		for _, r := range schema["required"].([]any) {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: missing required %q", path, r)
			}
		}
		for k, x := range obj {
			ps, ok := props[k]
			if !ok {
				if schema["additionalProperties"] == false {
					return fmt.Errorf("%s: unexpected property %q", path, k)
				}
				continue
			}
			if err := validate(ps.(map[string]any), x, path+"."+k); err != nil {
				return err
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: not an array", path)
		}
		if n, ok := schema["minItems"].(float64); ok && float64(len(arr)) < n {
			return fmt.Errorf("%s: %d items < minItems %v", path, len(arr), n)
		}
		if n, ok := schema["maxItems"].(float64); ok && float64(len(arr)) > n {
			return fmt.Errorf("%s: %d items > maxItems %v", path, len(arr), n)
		}
		for i, x := range arr {
			if err := validate(schema["items"].(map[string]any), x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: not a string", path)
		}
		if n, ok := schema["maxLength"].(float64); ok && float64(len([]rune(s))) > n {
			return fmt.Errorf("%s: %q longer than %v", path, s, n)
		}
		if n, ok := schema["minLength"].(float64); ok && float64(len([]rune(s))) < n {
			return fmt.Errorf("%s: %q shorter than %v", path, s, n)
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok || schema["type"] == "integer" && f != math.Trunc(f) {
			return fmt.Errorf("%s: %v is not an %s", path, v, schema["type"])
		}
		if n, ok := schema["minimum"].(float64); ok && f < n {
			return fmt.Errorf("%s: %v < minimum %v", path, f, n)
		}
		if n, ok := schema["maximum"].(float64); ok && f > n {
			return fmt.Errorf("%s: %v > maximum %v", path, f, n)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: not a boolean", path)
		}
	case "null":
		if v != nil {
			return fmt.Errorf("%s: not null", path)
		}
	}
	return nil
}

const testSchema = `{
  "type": "object",
  "properties": {
    "title": {"type": "string", "minLength": 1, "maxLength": 30},
    "rating": {"type": "integer", "minimum": 1, "maximum": 5},
    "score": {"type": "number", "minimum": -1, "maximum": 1},
    "genre": {"enum": ["fantasy", "mystery", "fable"]},
    "done": {"type": "boolean"},
    "author": {"anyOf": [{"type": "string", "maxLength": 20}, {"type": "null"}]},
    "characters": {
      "type": "array", "minItems": 1, "maxItems": 3,
      "items": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 15}, "age": {"type": "integer", "minimum": 0, "maximum": 120}},
        "required": ["name", "age"], "additionalProperties": false}
    }
  },
  "required": ["title", "rating", "score", "genre", "done", "author", "characters"],
  "additionalProperties": false
}`

// TestFormatSchema: "format" with a JSON Schema yields JSON that validates
// against it, for several models, seeds and temperatures, through
// /api/generate and /api/chat, even when the token budget is tight.
func TestFormatSchema(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	ts.create(t, "qwen", modelFile(t, "synthetic", "syn-qwen3-256-Q4_K_M.gguf"), "TEMPLATE \"\"\""+chatMLTemplate(t)+"\"\"\"")
	ts.create(t, "phi3", modelFile(t, "synthetic", "syn-phi3-256-Q8_0.gguf"))
	var schema map[string]any
	if err := json.Unmarshal([]byte(testSchema), &schema); err != nil {
		t.Fatal(err)
	}
	c := ts.ollama(t, "")
	f := false
	n := 0
	for _, model := range []string{"stories", "qwen", "phi3"} {
		for seed := 0; seed < 4; seed++ {
			opts := map[string]any{"temperature": 0.3 * float64(seed), "seed": seed, "num_predict": 120 + 40*seed}
			var text, reason string
			var err error
			if seed%2 == 0 {
				var r oapi.GenerateResponse
				err = c.Generate(context.Background(), &oapi.GenerateRequest{Model: model, Prompt: "A story:", Stream: &f,
					Format: json.RawMessage(testSchema), Options: opts}, func(g oapi.GenerateResponse) error { r = g; return nil })
				text, reason = r.Response, r.DoneReason
			} else {
				var r oapi.ChatResponse
				err = c.Chat(context.Background(), &oapi.ChatRequest{Model: model, Stream: &f, Format: json.RawMessage(testSchema),
					Messages: []oapi.Message{{Role: "user", Content: "Describe a story."}}, Options: opts},
					func(g oapi.ChatResponse) error { r = g; return nil })
				text, reason = r.Message.Content, r.DoneReason
			}
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal([]byte(text), &v); err != nil {
				t.Fatalf("%s seed %d: not JSON (%v, done_reason %s): %q", model, seed, err, reason, text)
			}
			if err := validate(schema, v, "$"); err != nil {
				t.Fatalf("%s seed %d: %v: %s", model, seed, err, text)
			}
			n++
		}
	}
	t.Logf("%d answers validated", n)
	// A budget too small for any valid answer is refused up front rather
	// than answered with truncated JSON.
	status, body := ts.do(t, "POST", "/api/generate", `{"model": "stories", "prompt": "x", "format": `+testSchema+`, "options": {"num_predict": 10}}`)
	if status != 400 || !strings.Contains(errorBody(t, body), "needs at least") {
		t.Fatalf("tiny budget: %d %s", status, body)
	}
}
