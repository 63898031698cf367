package pipelines

import (
	"context"
	"fmt"
	"io"

	"go.starlark.net/starlark"
)

// Complete runs the pipe (or manifold) a chat request names in its model
// field. Each piece of the answer goes to onChunk as it is produced; if the
// pipe returned a whole response dict instead, Complete returns it as JSON
// and onChunk is not called for it. The "user" field Open WebUI adds to
// the request is taken out and passed as the pipe's second argument.
func (m *Manager) Complete(ctx context.Context, req []byte, onChunk func(string) error) (raw []byte, err error) {
	v, err := decodeJSON(req, m.lim.MaxElems)
	if err != nil {
		return nil, &BadRequest{fmt.Sprintf("bad chat request: %v", err)}
	}
	body, ok := v.(*starlark.Dict)
	if !ok {
		return nil, &BadRequest{"bad chat request: not a JSON object"}
	}
	mv, _, _ := body.Get(starlark.String("model"))
	model, ok := mv.(starlark.String)
	if !ok || model == "" {
		return nil, &BadRequest{"bad chat request: no model"}
	}
	p, sub, found := m.get(string(model))
	if !found || p.kind == KindFilter {
		return nil, &NotFound{fmt.Sprintf("Pipeline %s not found", model)}
	}
	if sub != "" {
		body.SetKey(starlark.String("model"), starlark.String(sub))
	}
	var user starlark.Value = starlark.None
	if u, found, _ := body.Get(starlark.String("user")); found {
		if _, isDict := u.(*starlark.Dict); isDict {
			user = u
			body.Delete(starlark.String("user"))
		}
	}
	res, err := p.call(ctx, p.pipe, callArgs(p.pipe, body, user), m.lim.PipeTimeout, onChunk)
	if err != nil {
		return nil, err
	}
	bad := func(what string) error {
		return &ScriptError{Pipeline: p.id, File: p.file, Msg: "pipe returned " + what + "; return a string, a list of strings, a response dict, a models.stream or None"}
	}
	switch r := res.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.String:
		return nil, onChunk(string(r))
	case *starlark.List, starlark.Tuple:
		seq := r.(starlark.Indexable)
		for i := 0; i < seq.Len(); i++ {
			s, ok := seq.Index(i).(starlark.String)
			if !ok {
				return nil, bad("a list holding a " + seq.Index(i).Type())
			}
			if err := onChunk(string(s)); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case *starlark.Dict:
		out, err := encodeJSON(r, int(m.lim.MaxBody))
		if err != nil {
			return nil, &ScriptError{Pipeline: p.id, File: p.file, Msg: fmt.Sprintf("the response returned: %v", err)}
		}
		return out, nil
	case *chunkStream:
		defer r.close()
		for {
			text, err := r.next()
			if err == io.EOF {
				return nil, nil
			}
			if err != nil {
				return nil, &ScriptError{Pipeline: p.id, File: p.file, Msg: err.Error()}
			}
			if err := onChunk(text); err != nil {
				return nil, err
			}
		}
	}
	return nil, bad("a " + res.Type())
}
