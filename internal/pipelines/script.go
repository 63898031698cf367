package pipelines

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Kinds of pipeline.
const (
	KindFilter   = "filter"
	KindPipe     = "pipe"
	KindManifold = "manifold"
)

// instance is one loaded pipeline script.
type instance struct {
	mgr         *Manager
	id          string
	file        string // <id>.star, as error messages name it
	src         []byte
	name        string
	kind        string
	description string
	header      map[string]string

	globals starlark.StringDict
	inlet   starlark.Callable
	outlet  starlark.Callable
	pipe    starlark.Callable
	subs    starlark.Value // pipelines(): a function or a list
	updated starlark.Callable

	valves *valves
	state  *stateStore
	stuck  atomic.Bool
}

// idPattern is what a pipeline id (its file name) may look like: ids
// appear in URL paths, and manifold models are named <id>.<model>.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// reservedIDs would clash with the protocol's own paths.
var reservedIDs = map[string]bool{"v1": true, "models": true, "pipelines": true, "chat": true}

// CheckID reports whether id can name a pipeline.
func CheckID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("pipeline id %q: use 1 to 64 letters, digits, _ or -", id)
	}
	if reservedIDs[id] {
		return fmt.Errorf("pipeline id %q is reserved", id)
	}
	return nil
}

// parseHeader reads the "key: value" lines of a module docstring. A line
// without a colon continues the previous value.
func parseHeader(doc string) map[string]string {
	h := map[string]string{}
	last := ""
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			last = ""
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		key := strings.ToLower(strings.TrimSpace(k))
		if ok && key != "" && !strings.ContainsAny(key, " \t") {
			h[key] = strings.TrimSpace(v)
			last = key
			continue
		}
		if last != "" {
			h[last] = strings.TrimSpace(h[last] + " " + line)
		}
	}
	return h
}

// load parses, guards, compiles and initializes a pipeline script.
func (m *Manager) load(ctx context.Context, id string, src []byte) (*instance, error) {
	file := id + ".star"
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if len(src) > m.lim.MaxScript {
		return nil, &ScriptError{Pipeline: id, File: file, Msg: fmt.Sprintf("the script is larger than %d bytes", m.lim.MaxScript)}
	}
	p := &instance{mgr: m, id: id, file: file, src: src, valves: &valves{values: map[string]any{}}, state: newStateStore()}
	p.valves.refreezeLocked()

	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true}
	f, err := opts.Parse(file, src, 0)
	if err != nil {
		return nil, syntaxError(id, file, err)
	}
	doc := ""
	if len(f.Stmts) > 0 {
		if es, ok := f.Stmts[0].(*syntax.ExprStmt); ok {
			if lit, ok := es.X.(*syntax.Literal); ok && lit.Token == syntax.STRING {
				doc, _ = lit.Value.(string)
			}
		}
	}
	p.header = parseHeader(doc)
	if err := guardFile(f); err != nil {
		return nil, syntaxError(id, file, err)
	}
	pre := p.predeclared()
	prog, err := starlark.FileProgram(f, pre.Has)
	if err != nil {
		return nil, syntaxError(id, file, err)
	}
	globals, err := p.run(ctx, m.lim.Timeout, nil, func(thread *starlark.Thread) (starlark.Value, error) {
		g, err := prog.Init(thread, pre)
		p.globals = g
		return starlark.None, err
	})
	if err != nil {
		return nil, err
	}
	_ = globals
	p.globals.Freeze()
	if err := p.bind(); err != nil {
		return nil, err
	}
	return p, nil
}

// bind finds the pipeline's functions and checks them against its kind.
func (p *instance) bind() error {
	fail := func(format string, args ...any) error {
		return &ScriptError{Pipeline: p.id, File: p.file, Msg: fmt.Sprintf(format, args...)}
	}
	fn := func(name string) (starlark.Callable, error) {
		v, ok := p.globals[name]
		if !ok {
			return nil, nil
		}
		c, ok := v.(starlark.Callable)
		if !ok {
			return nil, fail("%s must be a function, got a %s", name, v.Type())
		}
		return c, nil
	}
	var err error
	if p.inlet, err = fn("inlet"); err != nil {
		return err
	}
	if p.outlet, err = fn("outlet"); err != nil {
		return err
	}
	if p.pipe, err = fn("pipe"); err != nil {
		return err
	}
	if p.updated, err = fn("on_valves_updated"); err != nil {
		return err
	}
	if v, ok := p.globals["pipelines"]; ok {
		switch v.(type) {
		case starlark.Callable, *starlark.List, starlark.Tuple:
			p.subs = v
		default:
			return fail("pipelines must be a function or a list, got a %s", v.Type())
		}
	}

	p.kind = strings.ToLower(p.header["kind"])
	if p.kind == "" {
		p.kind = strings.ToLower(p.header["type"])
	}
	if p.kind == "" {
		switch {
		case p.pipe != nil && p.subs != nil:
			p.kind = KindManifold
		case p.pipe != nil:
			p.kind = KindPipe
		case p.inlet != nil || p.outlet != nil:
			p.kind = KindFilter
		default:
			return fail("a pipeline needs a docstring header with kind: filter, pipe or manifold, and the functions of its kind")
		}
	}
	switch p.kind {
	case KindFilter:
		if p.inlet == nil && p.outlet == nil {
			return fail("a filter must define inlet(body, user) or outlet(body, user)")
		}
		prio := int64(0)
		if s, ok := p.header["priority"]; ok {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fail("header priority: %q is not an integer", s)
			}
			prio = n
		}
		targets := []string{"*"}
		if s, ok := p.header["pipelines"]; ok {
			v, _ := coerceValve(valveSpec{Type: valveList}, s)
			targets = v.([]string)
		}
		// Which models a filter applies to and its order are valves, as
		// in Open WebUI's Pipelines, so an admin can change them.
		p.valves.addSpec(valveSpec{Name: "priority", Type: valveInt, Default: prio, Title: "Priority", Description: "Filters run in increasing priority"}, true)
		p.valves.addSpec(valveSpec{Name: "pipelines", Type: valveList, Default: targets, Title: "Pipelines", Description: "Models this filter applies to; * for all"}, true)
	case KindPipe:
		if p.pipe == nil {
			return fail("a pipe must define pipe(body, user)")
		}
	case KindManifold:
		if p.pipe == nil || p.subs == nil {
			return fail("a manifold must define pipe(body, user) and pipelines()")
		}
	default:
		return fail("unknown kind %q: use filter, pipe or manifold", p.kind)
	}
	p.name = p.header["name"]
	if p.name == "" {
		p.name = p.id
	}
	p.description = p.header["description"]
	return nil
}

// args builds the arguments of a call to fn from body and user, passing
// only as many as fn declares (def pipe(body) is fine).
func callArgs(fn starlark.Callable, all ...starlark.Value) starlark.Tuple {
	f, ok := fn.(*starlark.Function)
	if !ok || f.HasVarargs() || f.NumParams() >= len(all) {
		return all
	}
	return all[:f.NumParams()]
}

// priority returns the filter's priority valve.
func (p *instance) priority() int64 {
	if v, ok := p.valves.get("priority"); ok {
		if n, ok := v.(int64); ok {
			return n
		}
	}
	return 0
}

// targets returns the filter's pipelines valve.
func (p *instance) targets() []string {
	if v, ok := p.valves.get("pipelines"); ok {
		if l, ok := v.([]string); ok {
			return l
		}
	}
	return []string{}
}

// SubModel is one model a manifold serves.
type SubModel struct {
	ID   string
	Name string
}

// subModels lists a manifold's models.
func (p *instance) subModels(ctx context.Context) ([]SubModel, error) {
	v := p.subs
	if fn, ok := v.(starlark.Callable); ok {
		var err error
		v, err = p.call(ctx, fn, nil, p.mgr.lim.Timeout, nil)
		if err != nil {
			return nil, err
		}
	}
	seq, ok := v.(starlark.Indexable)
	if !ok {
		return nil, &ScriptError{Pipeline: p.id, File: p.file, Msg: fmt.Sprintf("pipelines() must return a list, got a %s", v.Type())}
	}
	var out []SubModel
	for i := 0; i < seq.Len(); i++ {
		d, ok := seq.Index(i).(*starlark.Dict)
		if !ok {
			return nil, &ScriptError{Pipeline: p.id, File: p.file, Msg: "pipelines(): each model must be a dict with id and name"}
		}
		get := func(k string) string {
			x, _, _ := d.Get(starlark.String(k))
			s, _ := x.(starlark.String)
			return string(s)
		}
		sm := SubModel{ID: get("id"), Name: get("name")}
		if sm.ID == "" {
			return nil, &ScriptError{Pipeline: p.id, File: p.file, Msg: "pipelines(): a model has no id"}
		}
		if sm.Name == "" {
			sm.Name = sm.ID
		}
		out = append(out, sm)
	}
	return out, nil
}
