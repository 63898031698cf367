package jinja

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestHostileTemplates checks that templates written to hang or exhaust
// memory stop with a LimitError (or another clean error), quickly.
func TestHostileTemplates(t *testing.T) {
	cases := []struct {
		name, src string
		kind      ErrorKind
	}{
		{"nested-loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", LimitError},
		{"string-doubling", "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}", LimitError},
		{"plus-doubling", "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", LimitError},
		{"list-doubling", "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", LimitError},
		{"recursion", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", LimitError},
		{"mutual-recursion", "{% macro a(n) %}{{ b(n) }}{% endmacro %}{% macro b(n) %}{{ a(n) }}{% endmacro %}{{ a(1) }}", LimitError},
		{"big-repeat", "{{ 'x' * 1000000000 }}", LimitError},
		{"output-flood", "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", LimitError},
		{"replace-growth", "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s.replace('x', 'xx') %}{% endfor %}", LimitError},
		{"join-growth", "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s|list|join(ns.s) %}{% endfor %}", LimitError},
		{"recursive-loop", "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", LimitError},
		{"range-too-big", "{{ range(10000000)|length }}", RuntimeError},
		{"huge-width", "{{ '%999999999s' % 'x' }}", LimitError},
		{"huge-precision", "{{ '%.99999999f' % 1.5 }}", LimitError},
		{"huge-center", "{{ 'x'.center(1000000000) }}", LimitError},
		{"huge-indent", "{{ [1, [2, [3]]]|tojson(indent=100000000) }}", LimitError},
		{"string-iteration", "{% set ns = namespace(s='xy') %}{% for i in range(22) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{% for c in ns.s %}{% for d in ns.s %}{% endfor %}{% endfor %}", LimitError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := Parse(c.src)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = tmpl.Execute(nil, Config{MaxSteps: 2_000_000, MaxOutput: 4 << 20})
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("want a *jinja.Error, got %v", err)
			}
			if je.Kind != c.kind {
				t.Fatalf("want %s, got %v", c.kind, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v to stop", d)
			}
		})
	}
}

// TestDeepNesting checks that deeply nested source is refused at parse
// time rather than overflowing the stack.
func TestDeepNesting(t *testing.T) {
	for _, src := range []string{
		"{{ " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + " }}",
		"{{ " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + " }}",
		"{{ " + strings.Repeat("not ", 100000) + "1 }}",
		"{{ " + strings.Repeat("-", 100000) + "1 }}",
		strings.Repeat("{% if true %}", 10000) + strings.Repeat("{% endif %}", 10000),
		"{{ 1" + strings.Repeat(" if 1 else 1", 100000) + " }}",
	} {
		_, err := Parse(src)
		var je *Error
		if !errors.As(err, &je) || je.Kind != SyntaxError || !strings.Contains(je.Msg, "too deep") {
			t.Fatalf("want a nesting error for %.40q..., got %v", src, err)
		}
	}
}

// TestDeadline checks that Config.Deadline stops a long rendering.
func TestDeadline(t *testing.T) {
	tmpl, err := Parse("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = tmpl.Execute(nil, Config{MaxSteps: 1 << 40, Deadline: time.Now().Add(50 * time.Millisecond)})
	var je *Error
	if !errors.As(err, &je) || je.Kind != LimitError || !strings.Contains(je.Msg, "deadline") {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("deadline honoured only after %v", d)
	}
}

// TestSyntaxErrorLine checks that parse errors name the line.
func TestSyntaxErrorLine(t *testing.T) {
	cases := []struct {
		src  string
		line int
	}{
		{"line1\nline2\n{{ 1 + }}", 3},
		{"{% for x in y %}\n\n\n{% endif %}", 4},
		{"a\n{# never closed", 2},
		{"{% if x %}\n{{ 'unterminated }}\n{% endif %}", 2},
		{"\n\n\n\n{% macro m(a=1, b) %}{% endmacro %}", 5},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		var je *Error
		if !errors.As(err, &je) {
			t.Fatalf("%q: want an error, got %v", c.src, err)
		}
		if je.Line != c.line || !strings.Contains(err.Error(), "line") {
			t.Fatalf("%q: error %q at line %d, want line %d", c.src, err, je.Line, c.line)
		}
	}
}

// TestRuntimeErrorLine checks that render errors name the line too.
func TestRuntimeErrorLine(t *testing.T) {
	tmpl, err := Parse("a\n{% for m in messages %}\n{{ m.content + 1 }}\n{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := FromJSON([]byte(`[{"content": "x"}]`))
	_, err = tmpl.Render(map[string]Value{"messages": msgs})
	var je *Error
	if !errors.As(err, &je) || je.Line != 3 {
		t.Fatalf("want an error at line 3, got %v", err)
	}
}

// TestIntegerOverflow checks that integer arithmetic beyond 64 bits fails
// cleanly instead of wrapping around.
func TestIntegerOverflow(t *testing.T) {
	for _, src := range []string{"{{ 2 ** 64 }}", "{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775807 - 2 }}", "{{ 4294967296 * 4294967296 }}"} {
		tmpl, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := tmpl.Render(nil); err == nil {
			t.Fatalf("%s rendered %q, want an overflow error", src, out)
		}
	}
	tmpl, _ := Parse("{{ 2 ** 62 }} {{ (-2) ** 63 }} {{ 0 ** 0 }} {{ 1 ** 1000000 }} {{ 0 ** 5 }} {{ (-1) ** 3 }}")
	out, err := tmpl.Render(nil)
	if err != nil || out != "4611686018427387904 -9223372036854775808 1 1 0 -1" {
		t.Fatalf("got %q, %v", out, err)
	}
}
