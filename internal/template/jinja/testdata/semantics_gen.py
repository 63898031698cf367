#!/usr/bin/env python3
"""Regenerates semantics.json: small templates rendered by the reference
implementation (jinja2, in the environment transformers uses for chat
templates). The Go test TestSemantics compares the interpreter against it.

Usage: python3 semantics_gen.py > semantics.json   (needs jinja2 3.1.x)
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Generation(Extension):
    """transformers' {% generation %} block, reduced to what rendering sees:
    the body is output unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()

VARS = json.loads(r'''{
  "messages": [
    {"role": "system", "content": "  Be brief.\n"},
    {"role": "user", "content": "Hi <there> & 'you'"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call1", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "metric": true}}}]},
    {"role": "tool", "content": "{\"temp\": 21.5}", "tool_call_id": "call1"},
    {"role": "user", "content": "Thanks 谢谢 😀"}
  ],
  "d": {"b": 2, "a": 1, "C": 3, "items": "shadow", "nested": {"x": [1, 2, {"y": null}]}},
  "s": "  Hello World  ",
  "u": "héllo wörld ß",
  "n": 7,
  "neg": -7,
  "f": 2.5,
  "big": 1e20,
  "small": 0.00001,
  "t": true,
  "z": 0,
  "e": "",
  "lst": [3, 1, 2],
  "words": ["banana", "Apple", "cherry", "apple"],
  "none": null,
  "people": [{"name": "Ann", "age": 31, "tags": ["a"]}, {"name": "bob", "age": 25}, {"name": "Cy", "age": 31, "tags": []}]
}''')

CASES = [
    # whitespace control, trim_blocks, lstrip_blocks, comments, raw
    ("ws-trim", "a\n{% if true %}\nb\n{% endif %}\nc"),
    ("ws-lstrip", "x\n    {% if true %}\n    y\n    {% endif %}\nz"),
    ("ws-minus", "a   {%- if true -%}   b   {%- endif -%}   c"),
    ("ws-var-minus", "a \n {{- 'b' -}} \n c"),
    ("ws-var-no-trim", "{{ 'a' }}\nb"),
    ("ws-plus", "x\n    {%+ if true %}y{% endif %}"),
    ("ws-plus-end", "{% if true +%}\nA{% endif %}"),
    ("ws-comment", "a\n  {# note #}\nb {#- x -#} c"),
    ("ws-comment-multiline", "a{#\n multi\n line\n#}\nb"),
    ("ws-raw", "{% raw %}{{ not evaluated }}{% endraw %}\nafter"),
    ("ws-lstrip-tab", "a\n\t \t{% if true %}b{% endif %}"),
    ("ws-lstrip-not-after-text", "a {% if true %}b{% endif %}"),
    ("ws-trailing-newline", "line\n"),
    ("ws-two-trailing-newlines", "line\n\n"),
    ("ws-crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n"),
    ("ws-var-after-block-line", "{% set x = 1 %}\n  {{ x }}\n"),
    # literals and printing
    ("print-values", "{{ none }}|{{ true }}|{{ false }}|{{ 1 }}|{{ 1.0 }}|{{ 1.5e3 }}|{{ big }}|{{ small }}|{{ 0.1 + 0.2 }}"),
    ("print-containers", "{{ [1, 'a', none, true, 2.0] }}|{{ (1,) }}|{{ (1, 'b') }}|{{ {'k': 'v', 1: none} }}|{{ d.nested }}"),
    ("print-quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\tnl\\n'] }}"),
    ("print-unicode-repr", "{{ ['é', '谢', '😀', '\\x00', '\\u200b', '\\xa0'] }}"),
    ("string-escapes", "{{ 'a\\nb' }}|{{ \"q\\\"q\" }}|{{ 'x\\x41\\u00e9\\U0001F600' }}|{{ 'back\\\\slash' }}|{{ '\\d' }}"),
    ("string-adjacent", "{{ 'a' 'b' \"c\" }}"),
    ("numbers", "{{ 1_000 }}|{{ 0x1F }}|{{ 0o17 }}|{{ 0b101 }}|{{ 1e3 }}|{{ 2.5e-3 }}"),
    ("print-namespace", "{% set ns = namespace(a=1) %}{{ ns }}"),
    ("print-markup", "{{ ['<b>'|safe] }}"),
    # arithmetic
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7 / 2 }} {{ 6 / 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}"),
    ("arith-bool", "{{ true + 1 }} {{ true + true }} {{ 3 * true }}"),
    ("arith-str-mul", "{{ 'ab' * 3 }}|{{ 2 * 'x' }}|{{ [1] * 3 }}|{{ 'a' * 0 }}|{{ 'a' * -1 }}"),
    ("arith-list-add", "{{ [1] + [2, 3] }}|{{ (1,) + (2,) }}"),
    ("arith-unary", "{{ -n }} {{ +n }} {{ -f }} {{ - - 3 }} {{ not n }} {{ not none }}"),
    ("concat", "{{ 'a' ~ 1 ~ none ~ true ~ undefined_var ~ [1] }}"),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 'a' ~ 'b' == 'ab' }} {{ 1 ~ 2 * 3 }}"),
    ("precedence-concat-plus", "{{ 1 ~ 2 + 3 }}"),
    ("filter-precedence", "{{ -3|abs }} {{ ' a '|trim ~ 'b' }} {{ 1 + lst|length }}"),
    # comparisons and logic
    ("compare", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ none == none }} {{ 1 == true }} {{ 'a' != 'a' }}"),
    ("in-ops", "{{ 'ell' in 'hello' }} {{ 2 in lst }} {{ 'a' in d }} {{ 'zz' not in d }} {{ 1 not in [1] }} {{ 'x' in undefined_var }}"),
    ("and-or-values", "{{ 0 or 'x' }}|{{ 'a' and 'b' }}|{{ '' and 'b' }}|{{ none or none }}|{{ e or 'default' }}"),
    ("ternary", "{{ 'y' if t else 'n' }}|{{ 'y' if z else 'n' }}|{{ 'y' if z }}|{{ ('a' if false) is defined }}"),
    ("not-precedence", "{{ not 1 == 2 }} {{ not none is none }} {{ not 'a' in 'abc' }}"),
    # undefined
    ("undef-print", "[{{ missing }}][{{ d.missing }}][{{ d['missing'] }}][{{ lst[10] }}][{{ none.attr }}]"),
    ("undef-tests", "{{ missing is defined }} {{ d.missing is undefined }} {{ missing is none }} {{ missing is string }} {{ missing is sequence }} {{ missing is iterable }} {{ missing is mapping }}"),
    ("undef-filters", "[{{ missing|default('dflt') }}][{{ missing|length }}][{{ missing|trim }}][{{ missing|upper }}][{{ missing|list }}][{{ missing|join(',') }}][{{ missing|string }}]"),
    ("undef-loop", "{% for x in missing %}{{ x }}{% else %}empty{% endfor %}"),
    ("undef-eq", "{{ missing == missing }} {{ missing == none }} {{ missing != 1 }} {{ missing|default(none) is none }}"),
    ("undef-bool", "{% if missing %}yes{% else %}no{% endif %}{% if not missing %}!{% endif %}"),
    ("undef-arith-error", "{{ missing + 1 }}"),
    ("undef-attr-error", "{{ missing.attr }}"),
    ("undef-item-error", "{{ missing['k'] }}"),
    ("undef-concat-error", "{{ 'a' + missing }}"),
    ("undef-call-error", "{{ missing() }}"),
    ("undef-nested-error", "{{ d.missing.deeper }}"),
    ("undef-compare-error", "{{ missing < 1 }}"),
    ("undef-in-error", "{{ missing in 'abc' }}"),
    ("default-boolean", "{{ e|default('x') }}|{{ e|default('x', true) }}|{{ none|default('x') }}|{{ none|d('x', true) }}|{{ 0|default(5, boolean=true) }}"),
    # attribute / item access
    ("getattr-dict-method-wins", "{{ d.items is defined }} {{ d['items'] }} {{ d.get('a') }} {{ d.get('zz', 'dflt') }} {{ d.get('zz') }}"),
    ("getitem-negative", "{{ lst[-1] }} {{ 'abc'[1] }} {{ 'héllo'[1] }} {{ lst.0 }} {{ people.1.name }}"),
    ("slices", "{{ lst[1:] }} {{ lst[:-1] }} {{ lst[::-1] }} {{ 'hello'[1:4] }} {{ 'hello'[::2] }} {{ lst[5:] }} {{ lst[-10:2] }} {{ 'héllo'[::-1] }}"),
    ("item-vs-attr", "{{ messages[0].role }} {{ messages[0]['role'] }} {{ messages[2].tool_calls[0].function.arguments.city }}"),
    # strings methods
    ("str-methods", "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ '--x--'.strip('-') }}][{{ s.upper() }}][{{ s.lower() }}][{{ u.title() }}][{{ u.upper() }}][{{ 'hello world'.capitalize() }}]"),
    ("str-split", "{{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'x'.split('y') }} {{ ''.split() }} {{ ''.split(',') }}"),
    ("str-startswith", "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }} {{ 'hello'.startswith('l', 2) }}"),
    ("str-replace", "{{ 'aaa'.replace('a', 'b') }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'abc'.replace('', '-') }}"),
    ("str-find", "{{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.count('l') }} {{ 'héllo'.find('l') }}"),
    ("str-misc", "{{ 'ab'.center(6, '*') }} {{ 'ab'.ljust(4, '.') }} {{ 'ab'.rjust(4) }} {{ '42'.zfill(5) }} {{ 'a b'.partition(' ') }} {{ 'abc'.isalpha() }} {{ '12'.isdigit() }} {{ 'Ab'.islower() }}"),
    ("str-join", "{{ ', '.join(['a', 'b']) }} {{ '-'.join('abc') }}"),
    ("str-format", "{{ '{} and {}'.format('a', 'b') }}|{{ '{1}{0}'.format('a', 'b') }}|{{ '{x}!'.format(x=5) }}|{{ '{:>5}|{:<4}|{:^6}'.format('r', 'l', 'c') }}|{{ '{:.2f}'.format(3.14159) }}|{{ '{!r}'.format('q') }}"),
    ("percent-format", "{{ '%s-%s' % ('a', 1) }}|{{ '%d' % 3.7 }}|{{ '%05.1f' % 2.25 }}|{{ '%(a)s' % {'a': 'x'} }}|{{ '%r' % 'q' }}|{{ '%x' % 255 }}|{{ '%-4s|' % 'a' }}|{{ '%%' % () }}"),
    ("str-splitlines", "{{ 'a\\nb\\r\\nc\\n'.splitlines() }}"),
    # filters
    ("filter-trim", "[{{ s|trim }}][{{ '--x--'|trim('-') }}][{{ 5|trim }}]"),
    ("filter-case", "{{ 'hello wORLD'|title }}|{{ \"it's a-test (x)\"|title }}|{{ 'hELLO'|capitalize }}|{{ u|upper }}|{{ 'ABC'|lower }}"),
    ("filter-length", "{{ lst|length }} {{ 'héllo'|length }} {{ d|length }} {{ lst|count }}"),
    ("filter-first-last", "{{ lst|first }} {{ lst|last }} {{ 'abc'|first }} {{ d|first }} {{ []|first is defined }}"),
    ("filter-join", "{{ lst|join }}|{{ lst|join(', ') }}|{{ people|join(', ', attribute='name') }}|{{ [1, none, true]|join('-') }}"),
    ("filter-replace", "{{ 'hello'|replace('l', 'L') }} {{ 'hello'|replace('l', 'L', 1) }} {{ 5|replace('5', 'five') }}"),
    ("filter-list", "{{ 'abc'|list }} {{ d|list }} {{ (1, 2)|list }}"),
    ("filter-items", "{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}"),
    ("filter-dictsort", "{{ d|dictsort }} | {{ d|dictsort(true) }} | {{ {'b': 1, 'a': 2}|dictsort(by='value') }} | {{ {'b': 1, 'a': 2}|dictsort(reverse=true) }}"),
    ("filter-sort", "{{ lst|sort }} {{ words|sort }} {{ words|sort(case_sensitive=true) }} {{ lst|sort(reverse=true) }} {{ people|sort(attribute='age')|map(attribute='name')|list }} {{ people|sort(attribute='age,name')|map(attribute='name')|list }}"),
    ("filter-unique", "{{ words|unique|list }} {{ words|unique(case_sensitive=true)|list }} {{ people|unique(attribute='age')|map(attribute='name')|list }}"),
    ("filter-map", "{{ people|map(attribute='name')|list }} {{ words|map('upper')|list }} {{ people|map(attribute='tags.0', default='none')|list }} {{ lst|map('string')|join }}"),
    ("filter-select", "{{ lst|select('odd')|list }} {{ lst|reject('odd')|list }} {{ people|selectattr('age', 'equalto', 31)|map(attribute='name')|list }} {{ people|rejectattr('tags')|map(attribute='name')|list }} {{ people|selectattr('tags', 'defined')|map(attribute='name')|list }} {{ [0, 1, '', 'a']|select|list }}"),
    ("filter-select-role", "{{ messages|selectattr('role', 'equalto', 'user')|list|length }} {{ messages|selectattr('role', '==', 'tool')|map(attribute='tool_call_id')|first }}"),
    ("filter-reverse", "{{ lst|reverse|list }} {{ 'abc'|reverse }} {{ d|reverse|list }}"),
    ("filter-int-float", "{{ '42'|int }} {{ '42.7'|int }} {{ 'x'|int }} {{ 'x'|int(-1) }} {{ 3.9|int }} {{ '0x1A'|int(0, 16) }} {{ '3.5'|float }} {{ 'x'|float }} {{ 2|float }} {{ true|int }}"),
    ("filter-string", "{{ 5|string ~ 'a' }} {{ none|string }} {{ [1]|string }}"),
    ("filter-indent", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'x\\ny'|indent('> ') }}"),
    ("filter-tojson", "{{ d|tojson }}|{{ 'é\"<'|tojson }}|{{ [1, 2.0, none, true]|tojson }}|{{ 'é'|tojson(ensure_ascii=true) }}"),
    ("filter-tojson-indent", "{{ d|tojson(indent=2) }}|{{ []|tojson(indent=2) }}|{{ {}|tojson(indent=2) }}|{{ [1, [2]]|tojson(indent=0) }}"),
    ("filter-tojson-seps", "{{ d|tojson(separators=(',', ':')) }}|{{ d|tojson(sort_keys=true) }}"),
    ("filter-tojson-markup", "{{ ('<a>'|safe)|tojson }}"),
    ("filter-wordcount", "{{ 'one two  three-four'|wordcount }}"),
    ("filter-round", "{{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ -2.5|round }} {{ 7|round }}"),
    ("filter-batch-slice", "{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3, 4, 5]|batch(2, 0)|list }} {{ [1, 2, 3, 4, 5]|slice(2)|list }}"),
    ("filter-minmax-sum", "{{ lst|min }} {{ lst|max }} {{ words|max }} {{ lst|sum }} {{ people|sum(attribute='age') }} {{ people|max(attribute='age')|attr('get') is defined }}"),
    ("filter-format", "{{ '%s=%d'|format('x', 3) }}"),
    ("filter-center-truncate", "[{{ 'ab'|center(6) }}] {{ 'hello world foo bar'|truncate(12) }} {{ 'hello world'|truncate(5, true) }}"),
    ("filter-abs-attr", "{{ -3.5|abs }} {{ d|attr('items') is defined }} {{ d|attr('a') is defined }}"),
    ("filter-groupby", "{% for g in people|groupby('age') %}{{ g.grouper }}:{{ g.list|map(attribute='name')|join(',') }};{% endfor %}"),
    ("filter-escape", "{{ '<a href=\"x\">&\\''|e }} {{ ('<b>'|safe)|escape }} {{ '<x>'|forceescape }}"),
    ("filter-block", "{% filter upper %}abc {{ 'd' }}{% endfilter %}"),
    # Markup arithmetic
    ("markup-concat", "{{ '<a>'|safe + '<b>' }}|{{ '<b>' + '<a>'|safe }}|{{ '<a>'|safe ~ '<b>' }}|{{ ('x'|safe) * 2 }}"),
    ("markup-methods", "{{ ('<a> '|safe).strip() + '&' }}|{{ ('a,b'|safe).split(',') }}|{{ ('%s'|safe) % '<' }}|{{ ('<p>'|safe)|upper }}|{{ ('<p>'|safe)|replace('p', '&') }}"),
    ("markup-join", "{{ ['<a>', '<b>'|safe]|join(', ') }}|{{ ('<j>'|safe).join(['<', '>']) }}"),
    ("markup-in-dict", "{{ {'k': 'v'|safe} }}"),
    # tests
    ("tests-types", "{{ 'a' is string }} {{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ true is boolean }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ none is none }} {{ d is mapping }} {{ lst is mapping }}"),
    ("tests-seq", "{{ 'a' is sequence }} {{ lst is sequence }} {{ d is sequence }} {{ 1 is sequence }} {{ 'a' is iterable }} {{ d is iterable }} {{ 1 is iterable }} {{ lst|map('string') is sequence }} {{ lst|map('string') is iterable }} {{ d.items() is sequence }}"),
    ("tests-num", "{{ 3 is odd }} {{ 3 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 1 is eq 1 }} {{ 2 is gt 1 }} {{ 1 is lessthan 2 }} {{ 1 is in [1, 2] }} {{ 'a' is in 'abc' }}"),
    ("tests-misc", "{{ true is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }} {{ none is sameas none }} {{ 'upper' is filter }} {{ 'odd' is test }} {{ 'ABC' is upper }} {{ 'abc' is lower }} {{ range is callable }} {{ ('a'|safe) is escaped }}"),
    ("tests-not", "{{ 1 is not string }} {{ none is not none }} {{ missing is not defined }}"),
    # loops
    ("loop-vars", "{% for x in lst %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}"),
    ("loop-prev-next", "{% for x in lst %}{{ loop.previtem|default('^') }}{{ x }}{{ loop.nextitem|default('$') }} {% endfor %}"),
    ("loop-cycle-changed", "{% for x in [1, 1, 2] %}{{ loop.cycle('a', 'b') }}{{ loop.changed(x) }} {% endfor %}"),
    ("loop-else", "{% for x in [] %}x{% else %}none{% endfor %}|{% for x in [1] %}x{% else %}none{% endfor %}"),
    ("loop-filter", "{% for x in lst if x > 1 %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}"),
    ("loop-break-continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
    ("loop-unpack", "{% for a, b in [(1, 2), [3, 4], 'xy'] %}{{ a }}{{ b }} {% endfor %}"),
    ("loop-dict", "{% for k in d %}{{ k }} {% endfor %}|{% for k, v in d.items() %}{{ k }}={{ v }} {% endfor %}"),
    ("loop-string", "{% for c in 'héy' %}[{{ c }}]{% endfor %}"),
    ("loop-nested", "{% for x in [1, 2] %}{% for y in 'ab' %}{{ x }}{{ y }}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}"),
    ("loop-scope", "{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }}{% endfor %}|{{ x }}"),
    ("loop-scope-var-leak", "{% for i in range(2) %}{% set inner = i %}{% endfor %}{{ inner is defined }} {{ i is defined }}"),
    ("loop-namespace", "{% set ns = namespace(c=0, items=[]) %}{% for i in range(4) %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }} {{ ns.items }}"),
    ("loop-recursive", "{% for item in [{'n': 'a', 'c': [{'n': 'b', 'c': []}]}] recursive %}{{ item.n }}{{ loop.depth }}({{ loop(item.c) }}){% endfor %}"),
    ("loop-range", "{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ range(0)|list }}"),
    ("loop-dict-view", "{{ d.keys()|list }} {{ d.values()|list|length }} {{ d.items()|list|first }}"),
    # set / with / macro / call
    ("set-tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, %}{{ c }}"),
    ("set-block", "{% set x %}\n  hi {{ 1 }}\n{% endset %}[{{ x }}]{% set y | upper %}up{% endset %}{{ y }}"),
    ("with-block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }}"),
    ("macro-basic", "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet(greeting='Yo', name='Cy') }} {{ greet() }}"),
    ("macro-varargs-kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}"),
    ("macro-default-refers", "{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(3) }}"),
    ("macro-recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}"),
    ("macro-sees-globals", "{% set g = 'top' %}{% macro m() %}{{ g }}{{ n }}{% endmacro %}{% set g = 'later' %}{{ m() }}"),
    ("macro-scope", "{% macro m() %}{% set x = 'inner' %}{{ x }}{% endmacro %}{% set x = 'outer' %}{{ m() }}{{ x }}"),
    ("macro-returns-str", "{% macro m() %}<b>{% endmacro %}{{ m() + '<i>' }} {{ m() is string }}"),
    ("macro-call-block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('p') %}body {{ n }}{% endcall %}"),
    ("macro-call-args", "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}[{{ v }}]{% endcall %}"),
    ("macro-too-many-args", "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}"),
    ("macro-bad-kwarg", "{% macro m(a) %}{% endmacro %}{{ m(b=1) }}"),
    ("generation-block", "{% generation %}gen {{ 1 }}{% endgeneration %}"),
    # globals
    ("namespace-init", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns.c is defined }}"),
    ("dict-global", "{{ dict(a=1, b=2) }} {{ dict([('x', 1)]) }}"),
    ("raise", "{{ raise_exception('Bad role: ' ~ messages[0].role) }}"),
    ("strftime", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j %p %I') }}|{{ strftime_now('%-d/%-m') }}"),
    ("cycler-joiner", "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}{% set j = joiner('|') %}{{ j() }}x{{ j() }}y"),
    # sandbox
    ("sandbox-append", "{% set l = [1] %}{{ l.append(2) }}"),
    ("sandbox-update", "{{ d.update({'x': 1}) }}"),
    ("sandbox-append-defined", "{{ lst.append is defined }}"),
    # errors
    ("err-type-concat", "{{ 'a' + 1 }}"),
    ("err-not-iterable", "{% for x in 5 %}{% endfor %}"),
    ("err-none-iterable", "{% for x in none %}{% endfor %}"),
    ("err-ns-assign", "{% set x = 1 %}{% set x.a = 2 %}"),
    ("err-unknown-filter", "{{ 1|nosuchfilter }}"),
    ("err-unknown-filter-in-if", "{% if false %}{{ 1|nosuchfilter }}{% endif %}ok"),
    ("err-unknown-test", "{{ 1 is nosuchtest }}"),
    ("err-div-zero", "{{ 1 / 0 }}"),
    ("err-compare", "{{ 1 < 'a' }}"),
    ("err-unpack", "{% for a, b in [(1, 2, 3)] %}{% endfor %}"),
    ("err-len", "{{ 5|length }}"),
    ("err-items", "{{ lst|items|list }}"),
    ("err-tojson-undefined", "{{ missing|tojson }}"),
    ("err-tojson-generator", "{{ lst|map('string')|tojson }}"),
    ("err-range-too-big", "{{ range(100001)|length }}"),
    # more lexer corners
    ("lex-start-minus", "   {%- if true %}x{% endif %}"),
    ("lex-var-not-lstripped", "a\n    {{ 'b' }}\n    {% if true %}c{% endif %}"),
    ("lex-minus-then-newline", "{% if true -%}\n\n  x{% endif %}"),
    ("lex-comment-lstrip", "a\n   {# c #}\n   b"),
    ("lex-comment-minus", "a\n   {#- c -#}\n   b"),
    ("lex-raw-minus", "x {% raw -%}  {{ y }}  {%- endraw %} z"),
    ("lex-multiline-tag", "{%\n  if true\n%}yes{%\nendif\n%}"),
    ("lex-string-with-delims", "{% set x = '%}' %}{{ x }}{{ '}}' }}{{ \"{%\" }}"),
    ("lex-dict-braces", "{{ {'a': {'b': 1}} }}{{ {'a': {'b': 1}}['a'] }}"),
    ("lex-tab-after-text", "a\t{% if true %}b{% endif %}"),
    ("lex-plus-lstrip", "a\n  {%+ if true %}b{% endif %}"),
    ("lex-blank-lines-between-blocks", "{% set a = 1 %}\n\n{% set b = 2 %}\n{{ a }}{{ b }}"),
    ("lex-unicode-space", "a\n\u00a0{% if true %}b{% endif %}"),
    ("lex-endraw-trim", "{% raw %}r{% endraw %}\nafter"),
    ("lex-nested-quotes", "{{ \"it's\" ~ 'say \"x\"' }}"),
    ("lex-minus-number", "{{ 5-3 }}|{{ 5 -3 }}|{{- 4 }}"),
    ("lex-dot-int", "{{ lst.1 }}{{ messages.0.role }}"),
    ("lex-keywords-as-names", "{% set item = 1 %}{{ item }}{% for if_ in [1] %}{{ if_ }}{% endfor %}"),
    # syntax errors (with line numbers)
    ("syntax-unclosed-if", "a\n{% if true %}\nb"),
    ("syntax-unclosed-for", "{% for x in y %}\n{% if x %}\n{% endfor %}"),
    ("syntax-stray-end", "x\n\n{% endif %}"),
    ("syntax-unknown-tag", "{% frobnicate %}"),
    ("syntax-bad-expr", "{{ 1 + }}"),
    ("syntax-unclosed-var", "{{ x "),
    ("syntax-unclosed-string", "{{ 'abc }}"),
    ("syntax-unclosed-comment", "a {# b"),
    ("syntax-bad-paren", "{{ (1, 2]) }}"),
    ("syntax-break-outside", "{% break %}"),
    ("syntax-assign-loop", "{% for loop in x %}{% endfor %}"),
    ("syntax-multiline-error", "{% if true %}\n\n\n{{ x | }}\n{% endif %}"),
    ("syntax-chained-is", "{{ x is defined is defined }}"),
    ("syntax-elif-after-else", "{% if a %}{% else %}{% elif b %}{% endif %}"),
    ("syntax-extends", "{% extends 'base' %}"),
    ("include-not-run", "{% if false %}{% include 'x.jinja' ignore missing with context %}{% import 'm' as m %}{% from 'f' import a, b as c %}{% endif %}ok"),
    ("include-runs", "{% include 'x.jinja' %}"),
    ("block-inline", "{% set v = 1 %}a{% block body %}[{{ v }}]{% endblock %}b{% block tail scoped %}{% endblock tail %}"),
]


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime(2026, 1, 1, 0, 0, 0).strftime(fmt)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, Generation])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    out = []
    for name, src in CASES:
        case = {"name": name, "template": src}
        try:
            case["expected"] = env.from_string(src).render(**VARS)
        except jinja2.exceptions.TemplateSyntaxError as e:
            case["error"] = {"kind": "syntax", "message": e.message, "line": e.lineno}
        except SyntaxError as e:
            # jinja2 compiles to Python; a misplaced break surfaces here.
            case["error"] = {"kind": "syntax", "message": f"SyntaxError: {e.msg}"}
        except jinja2.exceptions.SecurityError as e:
            case["error"] = {"kind": "security", "message": str(e)}
        except jinja2.exceptions.UndefinedError as e:
            case["error"] = {"kind": "undefined", "message": str(e)}
        except jinja2.exceptions.TemplateError as e:
            kind = "raised" if type(e) is jinja2.exceptions.TemplateError else "runtime"
            case["error"] = {"kind": kind, "message": str(e)}
        except Exception as e:
            case["error"] = {"kind": "runtime", "message": f"{type(e).__name__}: {e}"}
        out.append(case)
    json.dump({"jinja2": jinja2.__version__, "vars": VARS, "cases": out}, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
