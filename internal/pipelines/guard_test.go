package pipelines

import (
	"context"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// The guards must not change what programs compute: each program runs in
// the sandbox and in the unmodified interpreter, and both must agree.
var sameAsStarlark = []string{
	`def main():
    a = [1, 2]
    b = a
    a += [3]          # in place: b sees it
    s = "x"
    t = s
    s += "y"          # strings are values: t does not
    return a, b, s, t`,
	`def main():
    d = {"k": [1]}
    d["k"] += [2]
    d["k"] *= 2
    n = {"c": 1}
    n["c"] += 41
    l = [[0], [1]]
    l[1] += [5]
    x = 7
    x <<= 3
    x %= 5
    return d, n, l, x`,
	`def main():
    return ("%s=%d %r" % ("a", 3, "q"), "%(x)s-%(y)s" % {"x": 1, "y": 2}, "{} {name}".format(1, name = "n"), 17 % 5, 2.5 * 4)`,
	`def main():
    s = "a,b,,c"
    return (s.split(","), s.rsplit(",", 1), " x  y ".split(), "a\nb".splitlines(), ",".join(["p", "q"]),
            s.replace(",", ";"), s.replace(",", "--", 2), "ab".upper(), [c for c in "abc".elems()], s.count(","))`,
	`def main():
    l = [3, 1, 2]
    l.extend((5, 4))
    l.append(0)
    m = sorted(l, key = lambda v: -v)
    d = {}
    d.update({"a": 1}, b = 2)
    d.setdefault("c", 3)
    e = dict(zip(["x", "y"], [1, 2]))
    return l, m, d, e, list(enumerate(["a", "b"])), tuple(reversed([1, 2])), max(l), min(l), any([0, 1]), all([]), d.items()`,
	`def main():
    f = getattr("abc", "upper")
    g = "abc".startswith
    def inner(x, y = "d" + "e", *args, **kw):
        return x + y + str(len(args)) + str(len(kw))
    add = lambda a, b = [1] + [2]: a + b
    return f(), g("a"), inner("z"), inner("z", "w", 1, 2, k = 3), add([0]), hasattr("s", "join"), dir("")[:3]`,
	`def main():
    out = []
    for i in range(5):
        if i % 2 == 0:
            out += [i * i]
        elif i > 2:
            out.append(-i)
    while len(out) < 6:
        out.insert(0, len(out))
    s = set([1, 2]).union([3])
    return out, [x * 2 for x in out if x > 0], {k: v + 1 for k, v in {"a": 1}.items()}, s, 12345678901234567890 * 3`,
	`def main():
    x = "abc"
    return x[1:], x[::-1], [1, 2, 3][-2:], (1, 2) + (3,), [0] * 3, 3 * "ab", -7 // 2, 1 + 2 * 3, str(1 + 0.5), repr("q")`,
}

func TestGuardsKeepSemantics(t *testing.T) {
	m, err := Open(context.Background(), Options{Dir: t.TempDir(), APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for i, prog := range sameAsStarlark {
		opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true}
		thread := &starlark.Thread{}
		g, err := starlark.ExecFileOptions(opts, thread, "plain.star", prog, nil)
		if err != nil {
			t.Fatalf("program %d in plain Starlark: %v", i, err)
		}
		want, err := starlark.Call(thread, g["main"], nil, nil)
		if err != nil {
			t.Fatalf("program %d in plain Starlark: %v", i, err)
		}
		src := "\"\"\"\nkind: pipe\n\"\"\"\ndef pipe(body, user):\n    return \"\"\n" + prog + "\n"
		p, err := m.load(context.Background(), "prog", []byte(src))
		if err != nil {
			t.Fatalf("program %d in the sandbox: %v", i, err)
		}
		got, err := p.call(context.Background(), p.globals["main"], nil, m.lim.Timeout, nil)
		if err != nil {
			t.Fatalf("program %d in the sandbox: %v", i, err)
		}
		if got.String() != want.String() {
			t.Errorf("program %d:\nsandbox %s\n  plain %s", i, got, want)
		}
	}
}

func TestGuardErrorsMatchStarlark(t *testing.T) {
	m, err := Open(context.Background(), Options{Dir: t.TempDir(), APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	// Errors of guarded operations read as Starlark's own.
	for _, c := range []struct{ expr, want string }{
		{`1 + "a"`, "unknown binary op: int + string"},
		{`"a" * "b"`, "unknown binary op: string * string"},
		{`"%d" % "x"`, "%d format requires integer"},
		{`"abc".nope`, "string has no .nope field or method"},
		{`[].join`, "list has no .join field or method"},
		{`"{}{}".format(1)`, "format: tuple index out of range"},
	} {
		src := "\"\"\"\nkind: pipe\n\"\"\"\ndef pipe(body, user):\n    return " + c.expr + "\n"
		p, err := m.load(context.Background(), "e", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.call(context.Background(), p.pipe, starlark.Tuple{starlark.NewDict(0), starlark.None}, m.lim.Timeout, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "e.star:5:") {
			t.Errorf("%s: got %v, want e.star:5: ...%s", c.expr, err, c.want)
		}
	}
}
