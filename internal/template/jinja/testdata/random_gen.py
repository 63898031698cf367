#!/usr/bin/env python3
"""Regenerates random.json: randomly generated expressions and statement
blocks (whitespace control, loops, sets, macros) rendered by jinja2 in the
transformers chat-template environment. TestRandomDifferential compares.

Slicing of non-variables and printing bound methods are left out: jinja2
constant-folds the first (turning errors into undefined) and prints memory
addresses for the second.

Usage: python3 random_gen.py > random.json   (needs jinja2 3.1.x)
"""
import copy
import json
import random
import sys

import semantics_gen as sg
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ATOMS = ["messages", "d", "s", "u", "n", "neg", "f", "t", "z", "e", "lst", "words", "none", "people", "missing",
         "'a'", '"x y"', "1", "0", "-2", "2.5", "true", "false", "none", "[1, 2]", "{'k': 1, 'j': 'v'}", "'Hello World'", "''", "[]", "(1, 'a')", "'<b>'|safe", "'3'", "'a,b,c'"]
FILTERS = ["trim", "upper", "lower", "title", "capitalize", "length", "first", "last", "join(', ')", "join", "default('D')", "default('D', true)",
           "tojson", "string", "int", "float", "list", "items|list", "dictsort", "sort", "reverse|list", "unique|list", "map('upper')|list",
           "select('odd')|list", "reject('none')|list", "replace('a', 'b')", "indent(2)", "wordcount", "round", "abs", "batch(2)|list", "sum", "min", "max",
           "count", "e", "safe", "selectattr('name')|list", "map(attribute='role')|list", "tojson(indent=1)", "center(9)", "truncate(9)", "format(1)", "attr('role')"]
TESTS = ["defined", "undefined", "none", "string", "number", "mapping", "iterable", "sequence", "odd", "even", "divisibleby 2", "in [1, 'a']",
         "boolean", "integer", "float", "lower", "upper", "true", "false", "callable", "sameas none", "eq 1", "escaped"]
POST = [".role", "['content']", "[0]", "[-1]", ".get('a')", ".get('zz', 5)", ".strip()", ".split(',')", ".split()", ".upper()",
        ".startswith('a')", ".endswith('d')", ".replace('l', 'L')", ".items()|list", ".keys()|list", ".values()|list", ".title()", ".lstrip('H ')",
        ".count(1)", ".index(1)", ".find('o')", "|length", ".name", ".0"]
BIN = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">", "<=", ">=", "in", "not in", "and", "or"]

def expr(d=0):
    r = random.random()
    if d > 3 or r < 0.25:
        e = random.choice(ATOMS)
    elif r < 0.45:
        e = "(" + expr(d+1) + ")|" + random.choice(FILTERS)
    elif r < 0.55:
        e = "(" + expr(d+1) + " is " + random.choice(["", "not "]) + random.choice(TESTS) + ")"
    elif r < 0.7:
        e = "(" + expr(d+1) + ")" + random.choice(POST)
    elif r < 0.9:
        e = "(" + expr(d+1) + " " + random.choice(BIN) + " " + expr(d+1) + ")"
    elif r < 0.95:
        e = "(" + expr(d+1) + " if " + expr(d+1) + " else " + expr(d+1) + ")"
    else:
        e = "(not " + expr(d+1) + ")"
    return e

TEXT = ["", " ", "  ", "\n", "\n  ", "  \n", "\t", "x", "a b", "\n\n", " y \n ", "\r\n", "é"]
def ws(): return random.choice(["", "-", "+", ""]) if random.random() < 0.5 else ""
def lws(): return random.choice(["", "-", ""])
def sp(): return random.choice([" ", "  ", "\n", ""]) if random.random() < 0.3 else " "
EXPRS = ["x", "loop.index", "n", "s|trim", "lst|length", "i", "k ~ v", "ns.c", "m(1)", "'q'", "none", "d.a", "e or 'E'", "x * 2 if x is number else x"]
CONDS = ["true", "false", "x", "n > 3", "loop.first", "i is odd", "e", "lst", "x is defined", "not ns.c"]

def block(d):
    out = []
    for _ in range(random.randint(1, 4)):
        out.append(random.choice(TEXT))
        r = random.random()
        if d > 2 or r < 0.35:
            out.append("{{" + lws() + sp() + random.choice(EXPRS) + sp() + lws() + "}}")
        elif r < 0.5:
            out.append("{%" + ws() + " if " + random.choice(CONDS) + " " + ws() + "%}" + block(d+1) +
                       (("{%" + ws() + " else " + ws() + "%}" + block(d+1)) if random.random() < 0.4 else "") + "{%" + ws() + " endif " + ws() + "%}")
        elif r < 0.65:
            it = random.choice(["lst", "range(3)", "[]", "words", "'ab'"])
            out.append("{%" + ws() + " for i in " + it + " " + ws() + "%}" + block(d+1) +
                       (("{%" + ws() + " else " + ws() + "%}" + block(d+1)) if random.random() < 0.3 else "") + "{%" + ws() + " endfor " + ws() + "%}")
        elif r < 0.75:
            out.append("{%" + ws() + " set x = " + random.choice(["1", "'s'", "x ~ 'z'" , "n + 1", "[1, 2]"]) + " " + ws() + "%}")
        elif r < 0.82:
            out.append("{%" + ws() + " set ns.c = ns.c + 1 " + ws() + "%}")
        elif r < 0.9:
            out.append("{#" + ws() + random.choice([" c ", "\n", ""]) + ws() + "#}")
        else:
            out.append("{%" + ws() + " for k, v in d.items() " + ws() + "%}" + block(d+1) + "{%" + ws() + " endfor " + ws() + "%}")
    out.append(random.choice(TEXT))
    return "".join(out)


def main():
    random.seed(20260101)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, sg.Generation])
    env.filters["tojson"] = sg.tojson
    env.globals["raise_exception"] = sg.raise_exception
    env.globals["strftime_now"] = sg.strftime_now
    orig = copy.deepcopy(sg.VARS)
    cases = []
    sources = ["{{ " + expr() + " }}" for _ in range(1000)]
    sources += ["{% set ns = namespace(c=0) %}{% macro m(a) %}[{{ a }}]{% endmacro %}" + block(0) for _ in range(400)]
    for src in sources:
        c = {"template": src}
        try:
            # A fresh copy each time: some filters mutate lists in place
            # on the Python side (indent does "s += newline").
            c["expected"] = env.from_string(src).render(**copy.deepcopy(orig))
        except Exception as ex:
            c["error"] = type(ex).__name__ + ": " + str(ex)
        cases.append(c)
    json.dump({"jinja2": __import__("jinja2").__version__, "vars": orig, "cases": cases}, sys.stdout, ensure_ascii=False, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
