// Package jinja is an interpreter for the Jinja2 template language as
// Hugging Face chat templates use it (the tokenizer.chat_template of a GGUF
// file), written to render byte-for-byte what transformers renders with
// jinja2: an ImmutableSandboxedEnvironment with trim_blocks and
// lstrip_blocks, the loopcontrols extension, the {% generation %} block,
// transformers' tojson (ensure_ascii=False, keys in insertion order), and
// the raise_exception and strftime_now globals.
//
// Values follow Python semantics (see Value): truthiness, str() and repr()
// of None, booleans, lists and dicts, undefined variables, Markup escaping
// on concatenation, and string and dict methods such as strip, split,
// startswith, get and items.
//
// A template cannot hang or exhaust memory: rendering is bounded by a step
// budget, a call-depth limit and an output-size limit (see Config).
package jinja

import (
	"fmt"
	"time"
)

// ErrorKind classifies template errors.
type ErrorKind int

const (
	// SyntaxError: the template text cannot be parsed.
	SyntaxError ErrorKind = iota
	// RuntimeError: an operation failed while rendering (a Python
	// TypeError, ValueError and the like in jinja2).
	RuntimeError
	// UndefinedError: an undefined value was used in a way that needs a
	// value (arithmetic, attribute access, a call).
	UndefinedError
	// Raised: the template called raise_exception(message).
	Raised
	// SecurityError: the sandbox refused an operation, such as calling
	// list.append.
	SecurityError
	// LimitError: rendering exceeded the step, depth or output budget.
	LimitError
)

func (k ErrorKind) String() string {
	switch k {
	case SyntaxError:
		return "syntax error"
	case RuntimeError:
		return "runtime error"
	case UndefinedError:
		return "undefined error"
	case Raised:
		return "template error"
	case SecurityError:
		return "security error"
	case LimitError:
		return "limit exceeded"
	}
	return "error"
}

// Error is the error type returned by Parse and Render. For Raised errors
// Msg is exactly the message given to raise_exception.
type Error struct {
	Kind ErrorKind
	Line int // 1-based line of the template; 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("jinja %s at line %d: %s", e.Kind, e.Line, e.Msg)
	}
	return fmt.Sprintf("jinja %s: %s", e.Kind, e.Msg)
}

// Template is a parsed template. It is safe for concurrent use: rendering
// does not modify it.
type Template struct {
	body []stmt
	opts Options
}

// Parse parses a chat template with transformers' environment settings
// (TransformersOptions).
func Parse(src string) (*Template, error) {
	return ParseWithOptions(src, TransformersOptions)
}

// ParseWithOptions parses a template with the given environment settings.
// Syntax errors name the line.
func ParseWithOptions(src string, opts Options) (t *Template, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, &Error{Kind: SyntaxError, Msg: fmt.Sprintf("internal error: %v", p)}
		}
	}()
	src = normalizeSource(src, opts.KeepTrailingNewline)
	toks, err := lex(src, opts)
	if err != nil {
		return nil, err
	}
	body, err := parseTemplate(toks)
	if err != nil {
		return nil, err
	}
	return &Template{body: body, opts: opts}, nil
}

// Config bounds and parameterizes one rendering.
type Config struct {
	// Now is the clock strftime_now reads; zero means time.Now().
	Now time.Time
	// MaxSteps bounds the statements, expressions and loop iterations
	// evaluated; 0 means DefaultMaxSteps.
	MaxSteps int
	// MaxDepth bounds nested macro calls; 0 means DefaultMaxDepth.
	MaxDepth int
	// MaxOutput bounds the bytes written (including text captured by
	// macros and set blocks) and the size of any single string value;
	// 0 means DefaultMaxOutput.
	MaxOutput int
	// Deadline, when set, stops rendering that runs past it.
	Deadline time.Time
}

// Default rendering budgets. Real chat templates need a few thousand steps
// and a few kilobytes per conversation turn.
const (
	DefaultMaxSteps  = 5_000_000
	DefaultMaxDepth  = 200
	DefaultMaxOutput = 16 << 20
)

// Render renders the template with the given variables and a default
// Config. Variables are template values (see Value, FromJSON, FromGo).
func (t *Template) Render(vars map[string]Value) (string, error) {
	return t.Execute(vars, Config{})
}

// Execute renders the template with the given variables and budgets.
func (t *Template) Execute(vars map[string]Value, cfg Config) (out string, err error) {
	defer func() {
		// Defense in depth: a bug in the interpreter must not take down
		// the server. The fuzz test checks this never happens.
		if p := recover(); p != nil {
			out, err = "", &Error{Kind: RuntimeError, Msg: fmt.Sprintf("internal error: %v", p)}
		}
	}()
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = DefaultMaxSteps
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = DefaultMaxOutput
	}
	r := &renderer{cfg: cfg}
	root := newScope(nil)
	for k, v := range vars {
		root.vars[k] = v
	}
	r.root = root
	var buf outBuf
	r.out = &buf
	if _, err := r.execBody(t.body, root); err != nil {
		return "", err
	}
	return buf.String(), nil
}
