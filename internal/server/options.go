package server

import (
	"fmt"
	"math"
	"sort"

	"github.com/golem-llm/golem/internal/runner"
	"github.com/golem-llm/golem/internal/sample"
)

// modelOptions are the typed options of one request: Ollama's defaults,
// then the model's Modelfile PARAMETERs, then the request's "options".
type modelOptions struct {
	NumCtx      int // 0 = the server default
	NumKeep     int
	NumPredict  int
	Stop        []string
	Sample      sample.Options
	explicitPen bool // a penalty was set explicitly (by the model or the request)
}

type optKind int

const (
	optInt optKind = iota
	optFloat
	optBool
	optStrings
)

// knownOptions are the option names of Ollama's API and their JSON types.
// Options the engine has no use for (num_gpu, use_mmap, ...) are checked
// and then ignored, so Ollama clients can send them.
var knownOptions = map[string]optKind{
	"num_ctx": optInt, "num_batch": optInt, "num_gpu": optInt, "main_gpu": optInt, "num_thread": optInt,
	"num_keep": optInt, "num_predict": optInt, "seed": optInt, "top_k": optInt, "repeat_last_n": optInt,
	"top_p": optFloat, "min_p": optFloat, "typical_p": optFloat, "temperature": optFloat,
	"repeat_penalty": optFloat, "presence_penalty": optFloat, "frequency_penalty": optFloat,
	"use_mmap": optBool, "stop": optStrings,
}

// defaultOptions are Ollama's defaults (api.DefaultOptions).
func defaultOptions() modelOptions {
	return modelOptions{NumKeep: 4, NumPredict: -1, Sample: sample.DefaultOptions()}
}

// optionError is a request option of the wrong type; it answers 400.
type optionError struct{ msg string }

func (e *optionError) Error() string { return e.msg }

// apply sets the options in m over o. Unknown names are ignored, as
// Ollama does; known names with a value of the wrong type are an error.
func (o *modelOptions) apply(m map[string]any) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		kind, ok := knownOptions[k]
		if !ok || v == nil {
			continue
		}
		switch kind {
		case optInt:
			n, err := toInt(k, v)
			if err != nil {
				return err
			}
			o.setInt(k, n)
		case optFloat:
			f, err := toFloat(k, v)
			if err != nil {
				return err
			}
			o.setFloat(k, f)
		case optBool:
			if _, ok := v.(bool); !ok {
				return &optionError{fmt.Sprintf("option %q must be of type boolean", k)}
			}
		case optStrings:
			ss, err := toStrings(k, v)
			if err != nil {
				return err
			}
			o.Stop = ss
		}
	}
	return nil
}

func (o *modelOptions) setInt(k string, n int) {
	switch k {
	case "num_ctx":
		o.NumCtx = n
	case "num_keep":
		o.NumKeep = n
	case "num_predict":
		o.NumPredict = n
	case "seed":
		o.Sample.Seed = int64(n)
	case "top_k":
		o.Sample.TopK = n
	case "repeat_last_n":
		o.Sample.RepeatLastN = n
	}
}

func (o *modelOptions) setFloat(k string, f float64) {
	v := float32(f)
	switch k {
	case "top_p":
		o.Sample.TopP = v
	case "min_p":
		o.Sample.MinP = v
	case "temperature":
		o.Sample.Temperature = v
	case "repeat_penalty":
		o.Sample.RepeatPenalty = v
		o.explicitPen = true
	case "presence_penalty":
		o.Sample.PresencePenalty = v
		o.explicitPen = true
	case "frequency_penalty":
		o.Sample.FrequencyPenalty = v
		o.explicitPen = true
	}
}

func toInt(k string, v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case int32:
		return int(x), nil
	case float64:
		// JSON numbers arrive as float64; Ollama truncates them.
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > math.MaxInt32*1024.0 {
			return 0, &optionError{fmt.Sprintf("option %q: %v is out of range", k, x)}
		}
		return int(x), nil
	case float32:
		return int(x), nil
	}
	return 0, &optionError{fmt.Sprintf("option %q must be of type integer, not %s", k, jsonType(v))}
}

func toFloat(k string, v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	}
	return 0, &optionError{fmt.Sprintf("option %q must be of type number, not %s", k, jsonType(v))}
}

func toStrings(k string, v any) ([]string, error) {
	switch x := v.(type) {
	case []string:
		return append([]string(nil), x...), nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, &optionError{fmt.Sprintf("option %q must be an array of strings", k)}
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, &optionError{fmt.Sprintf("option %q must be of type array of strings, not %s", k, jsonType(v))}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, float32, int, int64:
		return "number"
	case []any, []string:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// runnerOptions converts to what the runner takes; shift is the request's
// "shift" (Ollama's default: on). Temperature 0 is
// greedy decoding of the model's own logits: the default repeat penalty
// is then dropped unless a penalty was set explicitly, so that greedy
// output through the API equals the engine's reference output.
func (o *modelOptions) runnerOptions(shift bool) (runner.Options, error) {
	s := o.Sample
	if s.Temperature <= 0 && !o.explicitPen {
		s.RepeatPenalty, s.PresencePenalty, s.FrequencyPenalty = 1, 0, 0
	}
	if err := s.Validate(); err != nil {
		return runner.Options{}, &optionError{err.Error()}
	}
	return runner.Options{NumPredict: o.NumPredict, Stop: o.Stop, Sample: s, Shift: shift, NumKeep: o.NumKeep}, nil
}
