package pipelines

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// okFilter is a well-behaved filter: each sandbox test checks that it
// still answers after another pipeline misbehaved.
const okFilter = `"""
name: OK
kind: filter
"""
def inlet(body, user):
    body["seen"] = True
    return body
`

func checkStillServing(t *testing.T, f *fixture) {
	t.Helper()
	status, data := f.inlet("ok", map[string]any{"model": "m"}, nil)
	if status != 200 || !strings.Contains(string(data), `"seen":true`) {
		t.Fatalf("the server stopped serving: %d %s", status, data)
	}
	m := f.ok("GET", "/v1/models", nil)
	if m["pipelines"] != true {
		t.Fatalf("/v1/models after a failure: %v", m)
	}
}

// filterScript wraps lines of an inlet body in a filter; the body starts
// on line 6 of the file.
func filterScript(body string) string {
	return "\"\"\"\nname: Bad\nkind: filter\n\"\"\"\ndef inlet(body, user):\n" + body
}

func TestSandboxErrorsNameTheLineAndServerGoesOn(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []string // substrings of the error detail
	}{
		{"endless loop", "    n = 0\n    while True:\n        n += 1\n", []string{"bad.star:8:", "step limit of 2000000 exceeded"}},
		{"recursion", "    return inlet(body, user)\n", []string{"bad.star:6:", "called recursively"}},
		{"repeat past Starlark's own limit", "    s = \"x\" * 10000000000\n", []string{"bad.star:6:13:", "would exceed the sandbox limit"}},
		{"gigabyte repeat", "    s = \"x\" * 1000000000\n", []string{"bad.star:6:13:", "a string of 1000000000 bytes would exceed the sandbox limit of 16777216 bytes"}},
		{"doubling concatenation", "    s = \"x\"\n    for i in range(40):\n        s = s + s\n", []string{"bad.star:8:15:", "would exceed the sandbox limit of 16777216 bytes"}},
		{"doubling +=", "    s = [1]\n    for i in range(40):\n        s += s\n", []string{"bad.star:8:11:", "elements would exceed the sandbox limit"}},
		{"huge list from a range", "    return list(range(1000000000))\n", []string{"bad.star:6:16:", "1000000000 elements would exceed"}},
		{"str of a self-sharing structure", "    t = [1]\n    for i in range(40):\n        t = [t, t]\n    return {\"s\": str(t)}\n", []string{"bad.star:9:", "str() of this list would exceed"}},
		{"join blow-up", "    big = \"y\" * 1000000\n    return {\"s\": \"\".join([big] * 100)}\n", []string{"bad.star:7:", "would exceed the sandbox limit"}},
		{"replace blow-up", "    s = \"a\" * 100000\n    return {\"s\": s.replace(\"a\", s)}\n", []string{"bad.star:7:", "would exceed the sandbox limit"}},
		{"format blow-up", "    s = \"z\" * 1000000\n    return {\"s\": (\"%s\" * 100) % tuple([s] * 100)}\n", []string{"bad.star:7:", "would exceed the sandbox limit"}},
		{"integer blow-up", "    n = 3\n    for i in range(30):\n        n = n * n\n", []string{"bad.star:8:15:", "bits would exceed"}},
		{"memory budget", "    parts = []\n    for i in range(400):\n        parts.append(\"q\" * 1000000)\n", []string{"bad.star:8:", "memory budget exceeded"}},
		{"file access", "    return {\"f\": open(\"/etc/passwd\").read()}\n", []string{"bad.star:6:", "no file system access"}},
		{"runtime error", "    return body[\"model\"] + 1\n", []string{"bad.star:6:", "unknown binary op: string + int"}},
		{"key error", "    return body[\"missing\"]\n", []string{"bad.star:6:16:", "not in dict"}},
		{"wrong return", "    return 42\n", []string{"inlet must return the body"}},
	}
	f := newFixture(t, "", Options{Limits: fastLimits()}, map[string]string{"ok": okFilter})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, data := f.upload("bad.star", filterScript(c.body))
			if status != 200 {
				t.Fatalf("upload: %d %s", status, data)
			}
			start := time.Now()
			status, data = f.inlet("bad", map[string]any{"model": "m", "messages": []any{}}, map[string]any{"id": "u"})
			if status != 500 {
				t.Fatalf("got %d %s, want 500", status, data)
			}
			for _, w := range c.want {
				if !strings.Contains(string(data), w) {
					t.Errorf("error %s does not contain %q", data, w)
				}
			}
			if strings.Contains(string(data), "$") {
				t.Errorf("error %s shows a sandbox-internal name", data)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			checkStillServing(t, f)
		})
	}
}

func TestSandboxLoadErrors(t *testing.T) {
	f := newFixture(t, "", Options{Limits: fastLimits()}, map[string]string{"ok": okFilter})
	cases := []struct {
		name, src string
		want      []string
	}{
		{"syntax error", "\"\"\"\nkind: filter\n\"\"\"\ndef inlet(body, user)\n    return body\n", []string{"bad.star:5:", "want ':'"}},
		{"undefined name", "\"\"\"\nkind: filter\n\"\"\"\ndef inlet(body, user):\n    return os.getenv(\"HOME\")\n", []string{"bad.star:5:12:", "undefined: os"}},
		{"load statement", "load(\"secrets.star\", \"key\")\ndef inlet(body, user):\n    return body\n", []string{"bad.star:1:", "cannot load other files"}},
		{"endless loop at top level", "n = [0]\nwhile True:\n    n[0] += 1\n", []string{"bad.star:3:", "step limit"}},
		{"no functions", "\"\"\"\nname: Empty\n\"\"\"\nx = 1\n", []string{"needs a docstring header with kind"}},
		{"filter without inlet", "\"\"\"\nkind: filter\n\"\"\"\ndef pipe(body, user):\n    return \"\"\n", []string{"a filter must define inlet"}},
		{"bad valve", "\"\"\"\nkind: filter\n\"\"\"\nvalves = Valves(n = valve(int, \"ten\", \"a number\"))\ndef inlet(body, user):\n    return body\n", []string{"bad.star:4:", "valve: default"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, data := f.upload("bad.star", c.src)
			if status != 400 {
				t.Fatalf("got %d %s, want 400", status, data)
			}
			for _, w := range c.want {
				if !strings.Contains(string(data), w) {
					t.Errorf("error %s does not contain %q", data, w)
				}
			}
			checkStillServing(t, f)
		})
	}
	// A Python pipeline gets told what to do.
	status, data := f.upload("rate_limit_filter_pipeline.py", "class Pipeline: pass\n")
	if status != 400 || !strings.Contains(string(data), "Starlark") {
		t.Fatalf("python upload: %d %s", status, data)
	}
	// Nothing of the failed uploads was kept.
	list := f.ok("GET", "/pipelines", nil)["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("pipelines after failed uploads: %v", list)
	}
}

func TestSandboxHTTPAllowList(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Method == "POST" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"echo": "posted"}`))
			return
		}
		w.Write([]byte(`{"value": 7}`))
	}))
	defer target.Close()
	host := strings.TrimPrefix(target.URL, "http://")
	script := filterScript(
		"    r = http.get(\"" + target.URL + "/x\")\n" +
			"    p = http.post(\"" + target.URL + "/y\", json = {\"a\": 1})\n" +
			"    body[\"got\"] = r.json()[\"value\"]\n" +
			"    body[\"posted\"] = p.json()[\"echo\"]\n" +
			"    body[\"status\"] = r.status\n" +
			"    return body\n")

	// Not on the allow-list: refused before any connection.
	f := newFixture(t, "", Options{Limits: fastLimits(), AllowHosts: []string{"example.com"}}, map[string]string{"ok": okFilter, "bad": script})
	status, data := f.inlet("bad", map[string]any{"model": "m"}, nil)
	if status != 500 || !strings.Contains(string(data), "bad.star:6:") || !strings.Contains(string(data), "not on the pipelines allow-list") {
		t.Fatalf("got %d %s", status, data)
	}
	if hits.Load() != 0 {
		t.Fatalf("the host not on the allow-list was contacted %d times", hits.Load())
	}
	checkStillServing(t, f)

	// On the allow-list: it works.
	g := newFixture(t, "", Options{Limits: fastLimits(), AllowHosts: []string{host}}, map[string]string{"ok": okFilter, "bad": script})
	status, data = g.inlet("bad", map[string]any{"model": "m"}, nil)
	if status != 200 || !strings.Contains(string(data), `"got":7`) || !strings.Contains(string(data), `"posted":"posted"`) || !strings.Contains(string(data), `"status":200`) {
		t.Fatalf("allowed host: %d %s", status, data)
	}

	// A redirect off the allow-list is refused too.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/x", http.StatusFound)
	}))
	defer redirector.Close()
	before := hits.Load()
	h := newFixture(t, "", Options{Limits: fastLimits(), AllowHosts: []string{strings.TrimPrefix(redirector.URL, "http://")}},
		map[string]string{"ok": okFilter, "bad": filterScript("    http.get(\"" + redirector.URL + "\")\n")})
	status, data = h.inlet("bad", map[string]any{"model": "m"}, nil)
	if status != 500 || !strings.Contains(string(data), "not on the pipelines allow-list") || hits.Load() != before {
		t.Fatalf("redirect: %d %s (target hit %d times)", status, data, hits.Load()-before)
	}

	// Other schemes are refused whatever the list says.
	k := newFixture(t, "", Options{Limits: fastLimits(), AllowHosts: []string{"*"}},
		map[string]string{"ok": okFilter, "bad": filterScript("    http.get(\"file:///etc/passwd\")\n")})
	status, data = k.inlet("bad", map[string]any{"model": "m"}, nil)
	if status != 500 || !strings.Contains(string(data), "only http and https") {
		t.Fatalf("file URL: %d %s", status, data)
	}
}

func TestSandboxWallClock(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer slow.Close()
	lim := fastLimits()
	lim.Timeout = 300 * time.Millisecond
	f := newFixture(t, "", Options{Limits: lim, AllowHosts: []string{strings.TrimPrefix(slow.URL, "http://")}},
		map[string]string{"ok": okFilter, "bad": filterScript("    http.get(\"" + slow.URL + "\")\n")})
	start := time.Now()
	status, data := f.inlet("bad", map[string]any{"model": "m"}, nil)
	if status != 500 || !strings.Contains(string(data), "time limit of 300ms exceeded") {
		t.Fatalf("got %d %s", status, data)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the call took %v", d)
	}
	checkStillServing(t, f)
}

// A script stuck inside one builtin (hashing a structure that shares
// itself 2^27 times) cannot be interrupted: the call is abandoned at its
// time limit, the pipeline disabled, and the server goes on.
func TestSandboxStuckBuiltinDisablesPipeline(t *testing.T) {
	lim := fastLimits()
	lim.Timeout = 150 * time.Millisecond
	lim.Grace = 150 * time.Millisecond
	f := newFixture(t, "", Options{Limits: lim}, map[string]string{"ok": okFilter,
		"bad": filterScript("    t = ()\n    for i in range(27):\n        t = (t, t)\n    d = {t: 1}\n    return body\n")})
	status, data := f.inlet("bad", map[string]any{"model": "m"}, nil)
	if status != 500 || !strings.Contains(string(data), "did not stop") {
		t.Fatalf("got %d %s", status, data)
	}
	status, data = f.inlet("bad", map[string]any{"model": "m"}, nil)
	if status != 500 || !strings.Contains(string(data), "disabled") {
		t.Fatalf("second call: %d %s", status, data)
	}
	checkStillServing(t, f)
}

func TestSandboxStateLimitsAndAtomicUpdate(t *testing.T) {
	lim := fastLimits()
	lim.StateBytes = 1000
	src := filterScript(`    n = state.update("count", lambda c: c + 1, 0)
    body["count"] = n
    if body.get("big"):
        state.set("blob", "x" * 600)
        state.set("blob2", "x" * 600)
    return body
`)
	f := newFixture(t, "", Options{Limits: lim}, map[string]string{"ok": okFilter, "bad": src})
	for i := 1; i <= 3; i++ {
		status, data := f.inlet("bad", map[string]any{"model": "m"}, nil)
		if status != 200 || !strings.Contains(string(data), `"count":`+string(rune('0'+i))) {
			t.Fatalf("call %d: %d %s", i, status, data)
		}
	}
	status, data := f.inlet("bad", map[string]any{"model": "m", "big": true}, nil)
	if status != 500 || !strings.Contains(string(data), "state would exceed its limit of 1000 bytes") {
		t.Fatalf("big state: %d %s", status, data)
	}
	// Concurrent updates are not lost.
	done := make(chan bool)
	for i := 0; i < 20; i++ {
		go func() {
			s, _ := f.inlet("bad", map[string]any{"model": "m"}, nil)
			done <- s == 200
		}()
	}
	for i := 0; i < 20; i++ {
		if !<-done {
			t.Fatal("a concurrent call failed")
		}
	}
	_, data = f.inlet("bad", map[string]any{"model": "m"}, nil)
	if !strings.Contains(string(data), `"count":25`) {
		t.Fatalf("after 25 calls (one failed after counting): %s", data)
	}
}
