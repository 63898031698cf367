package pipelines

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// predeclared returns the names a pipeline script sees besides Starlark's
// own (which are shadowed by guarded versions).
func (p *instance) predeclared() starlark.StringDict {
	d := universeGuards()
	for k, v := range guardBuiltins() {
		d[k] = v
	}
	d["print"] = starlark.NewBuiltin("print", p.logBuiltin)
	d["log"] = starlark.NewBuiltin("log", p.logBuiltin)
	d["fail"] = starlark.NewBuiltin("fail", failBuiltin)
	d["emit"] = starlark.NewBuiltin("emit", emitBuiltin)
	d["open"] = starlark.NewBuiltin("open", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return nil, errors.New("open: pipelines have no file system access; use http.get for remote data or state for memory")
	})
	d["valve"] = starlark.NewBuiltin("valve", valveBuiltin)
	d["Valves"] = p.valvesBuiltin()
	d["valves"] = p.valves
	d["http"] = p.mgr.httpModule()
	d["models"] = p.mgr.modelsModule()
	d["state"] = p.stateModule()
	d["re"] = reModule()
	d["json"] = jsonModule()
	d["time"] = starlarkstruct.FromStringDict(starlark.String("time"), starlark.StringDict{
		"time": starlark.NewBuiltin("time.time", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.Float(float64(p.mgr.now().UnixNano()) / 1e9), nil
		}),
	})
	return d
}

// valvesBuiltin is Valves(name=valve(...), ...): it declares the valves of
// the pipeline being loaded and returns the object scripts read them from.
func (p *instance) valvesBuiltin() *starlark.Builtin {
	declared := false
	return starlark.NewBuiltin("Valves", func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) > 0 {
			return nil, errors.New(`Valves: declare each valve by name, as Valves(limit = valve(int, 10, "..."))`)
		}
		if declared {
			return nil, errors.New("Valves: called twice; a pipeline declares its valves once")
		}
		declared = true
		for _, kv := range kwargs {
			name := string(kv[0].(starlark.String))
			d, ok := kv[1].(*valveDecl)
			if !ok {
				return nil, fmt.Errorf("Valves: %s must be declared with valve(type, default, description), got a %s", name, kv[1].Type())
			}
			s := d.valveSpec
			s.Name = name
			if s.Title == "" {
				s.Title = titleOf(name)
			}
			p.valves.addSpec(s, false)
		}
		return p.valves, nil
	})
}

// textOf renders arguments the way print does, bounded.
func textOf(c *call, args starlark.Tuple, sep string, limit int) (string, error) {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteString(sep)
		}
		if s, ok := a.(starlark.String); ok {
			b.WriteString(string(s))
		} else {
			if _, ok := strBound(a, limit); !ok {
				return "", &limitError{fmt.Sprintf("printing this %s would exceed %d bytes", a.Type(), limit)}
			}
			b.WriteString(a.String())
		}
		if b.Len() > limit {
			break
		}
	}
	s := b.String()
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s, nil
}

func (p *instance) logBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	sep := " "
	if err := starlark.UnpackArgs(b.Name(), nil, kwargs, "sep?", &sep); err != nil {
		return nil, err
	}
	msg, err := textOf(callOf(thread), args, sep, p.mgr.lim.MaxLogBytes)
	if err != nil {
		return nil, err
	}
	p.logLine(msg)
	return starlark.None, nil
}

func (p *instance) logLine(msg string) {
	if len(msg) > p.mgr.lim.MaxLogBytes {
		msg = msg[:p.mgr.lim.MaxLogBytes] + "…"
	}
	p.mgr.log.Info("pipeline log", "pipeline", p.id, "msg", msg)
	if p.mgr.opts.OnLog != nil {
		p.mgr.opts.OnLog(p.id, msg)
	}
}

// failBuiltin is fail(*args, sep=" "): in a filter it blocks the request
// and the message reaches the user as it is.
func failBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	sep := " "
	if err := starlark.UnpackArgs("fail", nil, kwargs, "sep?", &sep); err != nil {
		return nil, err
	}
	msg, err := textOf(callOf(thread), args, sep, 4096)
	if err != nil {
		return nil, err
	}
	if msg == "" {
		msg = "blocked by a pipeline"
	}
	return nil, &blockError{msg}
}

// emitBuiltin is emit(text): inside pipe(), it sends a chunk of the answer
// to the client at once.
func emitBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var text string
	if err := starlark.UnpackPositionalArgs("emit", args, kwargs, 1, &text); err != nil {
		return nil, err
	}
	c := callOf(thread)
	if c == nil || c.emit == nil {
		return nil, errors.New("emit: only pipe() can emit chunks of an answer")
	}
	if err := c.charge(int64(len(text))); err != nil {
		return nil, err
	}
	c.inEmit.Store(true)
	err := c.emit(text)
	c.inEmit.Store(false)
	if err != nil {
		return nil, fmt.Errorf("emit: %v", err)
	}
	return starlark.None, nil
}

// ---- http ----

// checkURL parses a URL a script asked for and checks it against the
// allow-list.
func (m *Manager) checkURL(fn, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: bad URL %q: %v", fn, raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: URL %q: only http and https are allowed", fn, raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: URL %q has no host", fn, raw)
	}
	if !hostList(m.opts.AllowHosts).allows(u) {
		return nil, fmt.Errorf("%s: host %s is not on the pipelines allow-list (an admin can add it with --allow-host or PIPELINES_HTTP_ALLOW)", fn, u.Host)
	}
	return u, nil
}

// checkURLOrModels is checkURL that also lets through the models API.
func (m *Manager) checkURLOrModels(fn, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && m.isModelsURL(u) {
		return u, nil
	}
	return m.checkURL(fn, raw)
}

// sandboxClient is the HTTP client of the http and models builtins: every
// redirect is checked against the allow-list too.
func (m *Manager) sandboxClient() *http.Client {
	m.clientOnce.Do(func() {
		base := m.opts.HTTPClient
		if base == nil {
			base = http.DefaultClient
		}
		c := *base
		c.Timeout = 0 // each request has its own context deadline
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if m.isModelsURL(req.URL) {
				return nil
			}
			if _, err := m.checkURL("redirect", req.URL.String()); err != nil {
				return err
			}
			return nil
		}
		m.client = &c
	})
	return m.client
}

// isModelsURL reports whether u is under the configured models API, which
// scripts may always reach.
func (m *Manager) isModelsURL(u *url.URL) bool {
	base, err := url.Parse(m.modelsURL())
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, base.Scheme) && strings.EqualFold(u.Host, base.Host)
}

func (m *Manager) httpModule() *starlarkstruct.Module {
	return &starlarkstruct.Module{Name: "http", Members: starlark.StringDict{
		"get":  starlark.NewBuiltin("http.get", m.httpGet),
		"post": starlark.NewBuiltin("http.post", m.httpPost),
	}}
}

func (m *Manager) httpGet(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var rawURL string
	var headers, params *starlark.Dict
	var timeout starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "url", &rawURL, "headers?", &headers, "params?", &params, "timeout?", &timeout); err != nil {
		return nil, err
	}
	u, err := m.checkURL(b.Name(), rawURL)
	if err != nil {
		return nil, err
	}
	if params != nil {
		q := u.Query()
		for _, it := range params.Items() {
			k, ok := it[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("%s: params keys must be strings", b.Name())
			}
			if s, ok := it[1].(starlark.String); ok {
				q.Set(string(k), string(s))
			} else {
				q.Set(string(k), it[1].String())
			}
		}
		u.RawQuery = q.Encode()
	}
	return m.doHTTP(thread, b.Name(), "GET", u, headers, nil, "", timeout)
}

func (m *Manager) httpPost(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var rawURL string
	var headers *starlark.Dict
	var jsonBody starlark.Value
	var body starlark.Value = starlark.None
	var timeout starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "url", &rawURL, "json?", &jsonBody, "body?", &body, "headers?", &headers, "timeout?", &timeout); err != nil {
		return nil, err
	}
	u, err := m.checkURL(b.Name(), rawURL)
	if err != nil {
		return nil, err
	}
	var payload []byte
	ctype := ""
	switch {
	case jsonBody != nil:
		payload, err = encodeJSON(jsonBody, m.lim.HTTPMaxBody)
		if err != nil {
			return nil, fmt.Errorf("%s: json: %v", b.Name(), err)
		}
		ctype = "application/json"
	case body != starlark.None:
		switch x := body.(type) {
		case starlark.String:
			payload = []byte(x)
		case starlark.Bytes:
			payload = []byte(x)
		default:
			return nil, fmt.Errorf("%s: body must be a string or bytes, got %s", b.Name(), body.Type())
		}
	}
	return m.doHTTP(thread, b.Name(), "POST", u, headers, payload, ctype, timeout)
}

// requestContext bounds one outgoing request by the call, a default
// limit d (0: none besides the call's) and the script's own timeout.
func (m *Manager) requestContext(thread *starlark.Thread, timeout starlark.Value, d time.Duration) (context.Context, context.CancelFunc, error) {
	ctx := context.Background()
	if c := callOf(thread); c != nil {
		ctx = c.ctx
	}
	if d == 0 {
		d = 1<<63 - 1
	}
	switch t := timeout.(type) {
	case starlark.Int:
		n, _ := t.Int64()
		if n > 0 && time.Duration(n)*time.Second < d {
			d = time.Duration(n) * time.Second
		}
	case starlark.Float:
		if t > 0 && time.Duration(float64(t)*float64(time.Second)) < d {
			d = time.Duration(float64(t) * float64(time.Second))
		}
	case starlark.NoneType:
	default:
		return nil, nil, fmt.Errorf("timeout must be a number of seconds, got %s", timeout.Type())
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, nil
}

func (m *Manager) doHTTP(thread *starlark.Thread, fn, method string, u *url.URL, headers *starlark.Dict, payload []byte, ctype string, timeout starlark.Value) (starlark.Value, error) {
	ctx, cancel, err := m.requestContext(thread, timeout, m.lim.HTTPTimeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", fn, err)
	}
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", fn, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if headers != nil {
		for _, it := range headers.Items() {
			k, ok1 := it[0].(starlark.String)
			v, ok2 := it[1].(starlark.String)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s: headers must map strings to strings", fn)
			}
			req.Header.Set(string(k), string(v))
		}
	}
	resp, err := m.sandboxClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", fn, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(m.lim.HTTPMaxBody)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the response: %v", fn, err)
	}
	if len(data) > m.lim.HTTPMaxBody {
		return nil, fmt.Errorf("%s: the response is larger than the sandbox limit of %d bytes", fn, m.lim.HTTPMaxBody)
	}
	c := callOf(thread)
	if err := c.charge(int64(len(data))); err != nil {
		return nil, err
	}
	hd := starlark.NewDict(len(resp.Header))
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		hd.SetKey(starlark.String(strings.ToLower(k)), starlark.String(resp.Header.Get(k)))
	}
	text := starlark.String(data)
	maxElems := m.lim.MaxElems
	return starlarkstruct.FromStringDict(starlark.String("response"), starlark.StringDict{
		"status":  starlark.MakeInt(resp.StatusCode),
		"headers": hd,
		"text":    text,
		"json": starlark.NewBuiltin("response.json", func(thread *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			v, err := decodeJSON([]byte(text), maxElems)
			if err != nil {
				return nil, fmt.Errorf("response.json: %v", err)
			}
			return v, nil
		}),
	}), nil
}

// ---- state ----

// stateStore is a pipeline's memory between calls: JSON values by key,
// bounded in total size, kept until the pipeline is reloaded.
type stateStore struct {
	lock chan struct{} // a mutex whose waiting can be cancelled
	data map[string][]byte
	size int
}

func newStateStore() *stateStore {
	return &stateStore{lock: make(chan struct{}, 1), data: map[string][]byte{}}
}

func (s *stateStore) acquire(ctx context.Context) error {
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return errors.New("state: timed out waiting for another call's state.update")
	}
}

func (s *stateStore) release() { <-s.lock }

func (p *instance) stateModule() *starlarkstruct.Module {
	st := p.state
	maxElems := p.mgr.lim.MaxElems
	limit := p.mgr.lim.StateBytes
	enter := func(thread *starlark.Thread, name string) (*call, error) {
		c := callOf(thread)
		if c == nil {
			return nil, fmt.Errorf("%s: state is not available here", name)
		}
		if c.inUpdate {
			return nil, fmt.Errorf("%s: cannot be used inside the function given to state.update", name)
		}
		return c, st.acquire(c.ctx)
	}
	load := func(key string, def starlark.Value) (starlark.Value, error) {
		if b, ok := st.data[key]; ok {
			return decodeJSON(b, maxElems)
		}
		return def, nil
	}
	store := func(name, key string, v starlark.Value) error {
		b, err := encodeJSON(v, limit)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		old := 0
		if ob, ok := st.data[key]; ok {
			old = len(ob) + len(key)
		}
		if st.size-old+len(b)+len(key) > limit {
			return fmt.Errorf("%s: the pipeline's state would exceed its limit of %d bytes", name, limit)
		}
		st.data[key] = b
		st.size += len(b) + len(key) - old
		return nil
	}
	checkKey := func(name, key string) error {
		if key == "" || len(key) > 1024 {
			return fmt.Errorf("%s: key must be 1 to 1024 bytes", name)
		}
		return nil
	}
	return &starlarkstruct.Module{Name: "state", Members: starlark.StringDict{
		"get": starlark.NewBuiltin("state.get", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var key string
			var def starlark.Value = starlark.None
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "default?", &def); err != nil {
				return nil, err
			}
			if _, err := enter(thread, b.Name()); err != nil {
				return nil, err
			}
			defer st.release()
			return load(key, def)
		}),
		"set": starlark.NewBuiltin("state.set", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var key string
			var v starlark.Value
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "value", &v); err != nil {
				return nil, err
			}
			if err := checkKey(b.Name(), key); err != nil {
				return nil, err
			}
			if _, err := enter(thread, b.Name()); err != nil {
				return nil, err
			}
			defer st.release()
			return starlark.None, store(b.Name(), key, v)
		}),
		"delete": starlark.NewBuiltin("state.delete", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var key string
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key); err != nil {
				return nil, err
			}
			if _, err := enter(thread, b.Name()); err != nil {
				return nil, err
			}
			defer st.release()
			if ob, ok := st.data[key]; ok {
				st.size -= len(ob) + len(key)
				delete(st.data, key)
			}
			return starlark.None, nil
		}),
		"keys": starlark.NewBuiltin("state.keys", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
				return nil, err
			}
			if _, err := enter(thread, b.Name()); err != nil {
				return nil, err
			}
			defer st.release()
			keys := make([]string, 0, len(st.data))
			for k := range st.data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := make([]starlark.Value, len(keys))
			for i, k := range keys {
				out[i] = starlark.String(k)
			}
			return starlark.NewList(out), nil
		}),
		// update(key, fn, default=None) stores fn(current value) and returns
		// it; no other call of the pipeline touches state meanwhile, so a
		// read-modify-write (a counter, a list of timestamps) is atomic.
		"update": starlark.NewBuiltin("state.update", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var key string
			var fn starlark.Callable
			var def starlark.Value = starlark.None
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "fn", &fn, "default?", &def); err != nil {
				return nil, err
			}
			if err := checkKey(b.Name(), key); err != nil {
				return nil, err
			}
			c, err := enter(thread, b.Name())
			if err != nil {
				return nil, err
			}
			defer st.release()
			cur, err := load(key, def)
			if err != nil {
				return nil, err
			}
			c.inUpdate = true
			nv, err := starlark.Call(thread, fn, starlark.Tuple{cur}, nil)
			c.inUpdate = false
			if err != nil {
				return nil, err
			}
			if err := store(b.Name(), key, nv); err != nil {
				return nil, err
			}
			return nv, nil
		}),
	}}
}

// ---- re ----

var reCache = struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

func compileRE(fn, pattern string) (*regexp.Regexp, error) {
	if len(pattern) > 8192 {
		return nil, fmt.Errorf("%s: pattern longer than 8192 bytes", fn)
	}
	reCache.Lock()
	defer reCache.Unlock()
	if re, ok := reCache.m[pattern]; ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", fn, err)
	}
	if len(reCache.m) >= 512 {
		reCache.m = map[string]*regexp.Regexp{}
	}
	reCache.m[pattern] = re
	return re, nil
}

// matchList is what re.search returns and a re.sub function receives:
// [whole match, group 1, ...], None for groups that did not take part.
func matchList(s string, loc []int) *starlark.List {
	out := make([]starlark.Value, len(loc)/2)
	for i := range out {
		if loc[2*i] < 0 {
			out[i] = starlark.None
		} else {
			out[i] = starlark.String(s[loc[2*i]:loc[2*i+1]])
		}
	}
	return starlark.NewList(out)
}

func reModule() *starlarkstruct.Module {
	return &starlarkstruct.Module{Name: "re", Members: starlark.StringDict{
		"search": starlark.NewBuiltin("re.search", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var pattern, s string
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "string", &s); err != nil {
				return nil, err
			}
			re, err := compileRE(b.Name(), pattern)
			if err != nil {
				return nil, err
			}
			loc := re.FindStringSubmatchIndex(s)
			if loc == nil {
				return starlark.None, nil
			}
			return matchList(s, loc), nil
		}),
		"findall": starlark.NewBuiltin("re.findall", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var pattern, s string
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "string", &s); err != nil {
				return nil, err
			}
			re, err := compileRE(b.Name(), pattern)
			if err != nil {
				return nil, err
			}
			c := callOf(thread)
			limit := 1 << 20
			if c != nil {
				limit = c.lim.MaxElems
			}
			locs := re.FindAllStringSubmatchIndex(s, limit+1)
			if len(locs) > limit {
				return nil, fmt.Errorf("%s: more than %d matches", b.Name(), limit)
			}
			out := make([]starlark.Value, len(locs))
			for i, loc := range locs {
				m := matchList(s, loc)
				switch re.NumSubexp() {
				case 0:
					out[i] = m.Index(0)
				case 1:
					out[i] = m.Index(1)
				default:
					t := make(starlark.Tuple, re.NumSubexp())
					for j := range t {
						t[j] = m.Index(j + 1)
					}
					out[i] = t
				}
			}
			res := starlark.NewList(out)
			return res, c.account(res)
		}),
		"sub":    starlark.NewBuiltin("re.sub", reSub),
		"split":  starlark.NewBuiltin("re.split", reSplit),
		"escape": starlark.NewBuiltin("re.escape", reEscape),
	}}
}

// reSub is re.sub(pattern, repl, string, count=0). repl is a string in
// which \1 or \g<name> stand for groups, or a function that receives the
// match list and returns the replacement.
func reSub(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pattern, s string
	var repl starlark.Value
	count := 0
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "repl", &repl, "string", &s, "count?", &count); err != nil {
		return nil, err
	}
	re, err := compileRE(b.Name(), pattern)
	if err != nil {
		return nil, err
	}
	c := callOf(thread)
	maxLen, maxElems := 16<<20, 1<<20
	if c != nil {
		maxLen, maxElems = c.lim.MaxString, c.lim.MaxElems
	}
	n := -1
	if count > 0 {
		n = count
	}
	locs := re.FindAllStringSubmatchIndex(s, n)
	if len(locs) > maxElems {
		return nil, fmt.Errorf("%s: more than %d matches", b.Name(), maxElems)
	}
	var tmpl []replPart
	fn, isFn := repl.(starlark.Callable)
	if !isFn {
		rs, ok := repl.(starlark.String)
		if !ok {
			return nil, fmt.Errorf("%s: repl must be a string or a function, got %s", b.Name(), repl.Type())
		}
		if tmpl, err = parseRepl(string(rs), re); err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
	}
	var out strings.Builder
	last := 0
	for _, loc := range locs {
		out.WriteString(s[last:loc[0]])
		if isFn {
			r, err := starlark.Call(thread, fn, starlark.Tuple{matchList(s, loc)}, nil)
			if err != nil {
				return nil, err
			}
			rs, ok := r.(starlark.String)
			if !ok {
				return nil, fmt.Errorf("%s: the repl function returned a %s, not a string", b.Name(), r.Type())
			}
			out.WriteString(string(rs))
		} else {
			for _, p := range tmpl {
				if p.group < 0 {
					out.WriteString(p.text)
				} else if loc[2*p.group] >= 0 {
					out.WriteString(s[loc[2*p.group]:loc[2*p.group+1]])
				}
			}
		}
		last = loc[1]
		if out.Len() > maxLen {
			return nil, &limitError{fmt.Sprintf("%s: the result would exceed the sandbox limit of %d bytes", b.Name(), maxLen)}
		}
	}
	out.WriteString(s[last:])
	res := starlark.String(out.String())
	return res, c.account(res)
}

type replPart struct {
	text  string
	group int // -1 for literal text
}

// parseRepl parses a Python-style replacement: \1..\99, \g<1>, \g<name>,
// \\ for a backslash, and the usual \n and \t.
func parseRepl(r string, re *regexp.Regexp) ([]replPart, error) {
	var parts []replPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, replPart{text: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(r); i++ {
		if r[i] != '\\' || i+1 == len(r) {
			lit.WriteByte(r[i])
			continue
		}
		i++
		switch ch := r[i]; {
		case ch >= '0' && ch <= '9':
			g := int(ch - '0')
			if i+1 < len(r) && r[i+1] >= '0' && r[i+1] <= '9' {
				g = g*10 + int(r[i+1]-'0')
				i++
			}
			if g > re.NumSubexp() {
				return nil, fmt.Errorf("invalid group reference \\%d", g)
			}
			flush()
			parts = append(parts, replPart{group: g})
		case ch == 'g' && i+1 < len(r) && r[i+1] == '<':
			end := strings.IndexByte(r[i:], '>')
			if end < 0 {
				return nil, errors.New("missing > in \\g<...>")
			}
			name := r[i+2 : i+end]
			g := -1
			if n, err := fmt.Sscanf(name, "%d", &g); n != 1 || err != nil {
				g = re.SubexpIndex(name)
			}
			if g < 0 || g > re.NumSubexp() {
				return nil, fmt.Errorf("unknown group %q", name)
			}
			flush()
			parts = append(parts, replPart{group: g})
			i += end
		case ch == 'n':
			lit.WriteByte('\n')
		case ch == 't':
			lit.WriteByte('\t')
		case ch == '\\':
			lit.WriteByte('\\')
		default:
			lit.WriteByte('\\')
			lit.WriteByte(ch)
		}
	}
	flush()
	return parts, nil
}

func reSplit(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pattern, s string
	maxsplit := 0
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "string", &s, "maxsplit?", &maxsplit); err != nil {
		return nil, err
	}
	re, err := compileRE(b.Name(), pattern)
	if err != nil {
		return nil, err
	}
	c := callOf(thread)
	limit := 1 << 20
	if c != nil {
		limit = c.lim.MaxElems
	}
	n := limit + 1
	if maxsplit > 0 && maxsplit < limit {
		n = maxsplit + 1
	}
	parts := re.Split(s, n)
	if len(parts) > limit {
		return nil, fmt.Errorf("%s: more than %d pieces", b.Name(), limit)
	}
	out := make([]starlark.Value, len(parts))
	for i, p := range parts {
		out[i] = starlark.String(p)
	}
	res := starlark.NewList(out)
	return res, c.account(res)
}

func reEscape(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "string", &s); err != nil {
		return nil, err
	}
	res := starlark.String(regexp.QuoteMeta(s))
	return res, callOf(thread).account(res)
}

// ---- json ----

func jsonModule() *starlarkstruct.Module {
	return &starlarkstruct.Module{Name: "json", Members: starlark.StringDict{
		"encode": starlark.NewBuiltin("json.encode", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var v starlark.Value
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &v); err != nil {
				return nil, err
			}
			c := callOf(thread)
			limit := 16 << 20
			if c != nil {
				limit = c.lim.MaxString
			}
			out, err := encodeJSON(v, limit)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", b.Name(), err)
			}
			res := starlark.String(out)
			return res, c.account(res)
		}),
		"decode": starlark.NewBuiltin("json.decode", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var s string
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &s); err != nil {
				return nil, err
			}
			c := callOf(thread)
			limit := 1 << 20
			if c != nil {
				limit = c.lim.MaxElems
				if err := c.charge(int64(len(s)) * 2); err != nil {
					return nil, err
				}
			}
			v, err := decodeJSON([]byte(s), limit)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", b.Name(), err)
			}
			return v, nil
		}),
	}}
}
