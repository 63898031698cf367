package server

import (
	"net/http"
	"time"

	"github.com/golem-llm/golem/api"
)

func checkTopLogprobs(n int) error {
	if n < 0 || n > 20 {
		return errorf(http.StatusBadRequest, "top_logprobs must be between 0 and 20")
	}
	return nil
}

// checkThink refuses thinking for models that cannot think, and the
// string levels for templates that take no reasoning effort.
func checkThink(name string, t *api.ThinkValue, caps capabilities) error {
	if t == nil {
		return nil
	}
	if t.Level() != "" && !caps.thinkLevels {
		return errorf(http.StatusBadRequest, "think value %q is not supported for this model", t.Level())
	}
	if t.Enabled() && !caps.thinking {
		return errorf(http.StatusBadRequest, "%q does not support thinking", name)
	}
	return nil
}

func (s *Server) handleGenerate(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req api.GenerateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if err := checkTopLogprobs(req.TopLogprobs); err != nil {
		writeError(w, err)
		return
	}
	mi, err := s.lookup(r.Context(), req.Model, req.Options)
	if err != nil {
		writeError(w, err)
		return
	}
	// An empty prompt with keep_alive 0 unloads the model.
	if req.Prompt == "" && req.Suffix == "" && req.KeepAlive != nil && req.KeepAlive.Duration == 0 {
		s.sched.Unload(mi.id)
		writeJSON(w, http.StatusOK, api.GenerateResponse{Model: req.Model, CreatedAt: time.Now().UTC(), Done: true, DoneReason: "unload"})
		return
	}
	if req.Raw && (req.Template != "" || req.System != "" || len(req.Context) > 0) {
		writeError(w, errorf(http.StatusBadRequest, "raw mode does not support template, system, or context"))
		return
	}
	if len(req.Images) > 0 {
		writeError(w, errorf(http.StatusBadRequest, "%q does not support images (Golem runs text models only)", req.Model))
		return
	}
	l, err := s.acquire(r.Context(), mi, req.KeepAlive, req.Template)
	if err != nil {
		writeError(w, err)
		return
	}
	defer l.release()
	if !l.caps.completion {
		writeError(w, errorf(http.StatusBadRequest, "%q does not support generate", req.Model))
		return
	}
	if err := checkThink(req.Model, req.Think, l.caps); err != nil {
		writeError(w, err)
		return
	}
	if req.Think == nil && l.caps.thinking {
		req.Think = &api.ThinkValue{Value: true}
	}
	if req.Suffix != "" && !l.caps.insert {
		writeError(w, errorf(http.StatusBadRequest, "%q does not support insert", req.Model))
		return
	}
	// A model name alone loads the model.
	if req.Prompt == "" && req.Suffix == "" {
		writeJSON(w, http.StatusOK, api.GenerateResponse{Model: req.Model, CreatedAt: time.Now().UTC(), Done: true, DoneReason: "load"})
		return
	}

	prompt := req.Prompt
	if !req.Raw {
		v := templateValues{Think: req.Think}
		if req.Suffix != "" {
			v.Prompt, v.Suffix = req.Prompt, req.Suffix
		} else {
			system := req.System
			if system == "" {
				system = mi.res.System
			}
			if system != "" {
				v.Messages = append(v.Messages, api.Message{Role: "system", Content: system})
			}
			if len(req.Context) == 0 {
				for _, m := range mi.res.Messages {
					v.Messages = append(v.Messages, api.Message{Role: m.Role, Content: m.Content})
				}
			}
			v.Messages = append(v.Messages, api.Message{Role: "user", Content: req.Prompt})
		}
		if prompt, err = l.render(v); err != nil {
			writeError(w, err)
			return
		}
	}
	if req.DebugRenderOnly {
		writeJSON(w, http.StatusOK, api.GenerateResponse{Model: req.Model, CreatedAt: time.Now().UTC(),
			DebugInfo: &api.DebugInfo{RenderedTemplate: prompt}})
		return
	}

	var ids []int32
	if len(req.Context) > 0 {
		for _, id := range req.Context {
			if id < 0 || id >= l.tok.VocabSize() {
				writeError(w, errorf(http.StatusBadRequest, "context token %d is outside the vocabulary of %d tokens", id, l.tok.VocabSize()))
				return
			}
			ids = append(ids, int32(id))
		}
		ids = append(ids, l.tokenize(prompt, false)...)
	} else {
		ids = l.tokenize(prompt, true)
	}
	if ids, err = l.fit(ids, req.Truncate == nil || *req.Truncate); err != nil {
		writeError(w, err)
		return
	}
	ropts, err := l.opts.runnerOptions(req.Shift == nil || *req.Shift)
	if err != nil {
		writeError(w, err)
		return
	}
	constraint, err := s.formatConstraint(l, req.Format, budgetOf(l, len(ids), ropts.NumPredict))
	if err != nil {
		writeError(w, err)
		return
	}
	j := &genJob{l: l, prompt: ids, opts: ropts, constraint: constraint, logprobs: req.Logprobs || req.TopLogprobs > 0,
		topLogprobs: req.TopLogprobs, start: start}
	if !req.Raw {
		j.parser = newOutputParser(l.tmpl, prompt, req.Think.Enabled() && constraint == nil, nil, false)
	}
	final := func(d delta) api.GenerateResponse {
		resp := api.GenerateResponse{Model: req.Model, CreatedAt: time.Now().UTC(), Response: d.Content, Thinking: d.Thinking,
			Logprobs: d.Logprobs, Done: d.Done}
		if d.Done {
			resp.DoneReason = d.DoneReason
			resp.Metrics = metricsOf(d.Stats, l.loadDuration, start)
			if !req.Raw {
				resp.Context = intsOf(ids, j.generated)
			}
		}
		return resp
	}

	if !streamOf(req.Stream) {
		var all api.GenerateResponse
		var content, thinking []byte
		var lps []api.Logprob
		err := s.generate(r.Context(), j, func(d delta) error {
			content = append(content, d.Content...)
			thinking = append(thinking, d.Thinking...)
			lps = append(lps, d.Logprobs...)
			if d.Done {
				all = final(d)
			}
			return nil
		})
		if err != nil {
			writeError(w, err)
			return
		}
		all.Response, all.Thinking, all.Logprobs = string(content), string(thinking), lps
		writeJSON(w, http.StatusOK, all)
		return
	}
	out := &ndjson{w: w}
	if err := s.generate(r.Context(), j, func(d delta) error { return out.send(final(d)) }); err != nil {
		out.fail(err)
	}
}

func intsOf(parts ...[]int32) []int {
	var out []int
	for _, p := range parts {
		for _, id := range p {
			out = append(out, int(id))
		}
	}
	return out
}
