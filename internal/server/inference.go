package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/runner"
	"github.com/golem-llm/golem/internal/sched"
	"github.com/golem-llm/golem/internal/store"
	"github.com/golem-llm/golem/internal/template"
	"github.com/golem-llm/golem/internal/tokenizer"
)

// modelInfo is a stored model resolved for a request: its manifest, its
// Modelfile defaults and the request's merged options.
type modelInfo struct {
	name string // as the client wrote it, echoed in answers
	id   string // the stored name, shortest form: metrics and logs use it
	m    *store.Model
	res  *store.Resolved
	opts modelOptions
}

// loaded is a model in memory for one request.
type loaded struct {
	*modelInfo
	lease        *sched.Lease
	r            *runner.Runner
	tok          *tokenizer.Tokenizer
	loadDuration time.Duration
	tmpl         template.Template
	caps         capabilities
}

type capabilities struct {
	completion, tools, thinking, thinkLevels, insert, embedding bool
}

// lookup resolves a model name and merges options: Ollama's defaults,
// then the model's PARAMETERs, then the request's options.
func (s *Server) lookup(ctx context.Context, name string, reqOpts map[string]any) (*modelInfo, error) {
	if _, err := checkName(name, "model"); err != nil {
		return nil, err
	}
	m, err := s.store.Get(name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errorf(http.StatusNotFound, "model '%s' not found", name)
		}
		return nil, err
	}
	res, err := s.store.Resolve(m.Name.String())
	if err != nil {
		return nil, err
	}
	mi := &modelInfo{name: name, id: m.Name.DisplayShortest(), m: m, res: res, opts: defaultOptions()}
	noteModel(ctx, mi.id)
	if err := mi.opts.apply(res.Parameters); err != nil {
		return nil, fmt.Errorf("model %s: bad PARAMETER: %w", name, err)
	}
	if err := mi.opts.apply(reqOpts); err != nil {
		return nil, err
	}
	return mi, nil
}

func keepAliveOf(d *api.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := d.Duration
	if v < 0 {
		v = -1
	}
	return &v
}

// acquire loads (or finds loaded) the model of mi and prepares its chat
// template. templateOverride replaces the model's template when set.
func (s *Server) acquire(ctx context.Context, mi *modelInfo, keepAlive *api.Duration, templateOverride string) (*loaded, error) {
	numCtx := mi.opts.NumCtx
	if numCtx <= 0 {
		numCtx = s.cfg.NumCtx
	}
	if numCtx <= 0 && s.isEncoder(mi.res.ModelPath) {
		// An embedding model's context is its own (the runner takes it
		// from the file); the scheduler needs a size to plan with.
		numCtx = 512
	}
	start := time.Now()
	lease, err := s.sched.Acquire(ctx, mi.id, sched.LoadOptions{NumCtx: numCtx, KeepAlive: keepAliveOf(keepAlive)})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errorf(http.StatusNotFound, "model %q not found, try pulling it first", mi.name)
		}
		return nil, err
	}
	l := &loaded{modelInfo: mi, lease: lease, r: lease.Runner, tok: lease.Runner.Loaded().Tokenizer, loadDuration: time.Since(start)}
	ld := l.r.Loaded()
	chatTemplate, _ := ld.File.String("tokenizer.chat_template")
	t, err := chooseTemplate(templateOverride, mi.res.Template, chatTemplate)
	if err != nil {
		lease.Release()
		return nil, err
	}
	l.tmpl = t
	l.caps = capabilitiesOf(t)
	l.caps.completion, l.caps.embedding = ld.Model != nil, ld.Encoder != nil
	return l, nil
}

func (l *loaded) release() { l.lease.Release() }

// isEncoder reports whether a model file is an embedding (encoder-only)
// model, remembering the answer per file.
func (s *Server) isEncoder(path string) bool {
	s.encMu.Lock()
	v, ok := s.encoders[path]
	s.encMu.Unlock()
	if ok {
		return v
	}
	f, err := gguf.Open(path)
	if err != nil {
		return false
	}
	v = model.IsEncoder(f)
	f.Close()
	s.encMu.Lock()
	s.encoders[path] = v
	s.encMu.Unlock()
	return v
}

// tokenize encodes the rendered prompt with the model's BOS (when it
// takes one), parsing special tokens written in the text. A template that
// writes the BOS itself does not get a second one.
func (l *loaded) tokenize(text string, addSpecial bool) []int32 {
	ids := l.tok.Encode(text, addSpecial, true)
	if addSpecial && len(ids) >= 2 && ids[0] == l.tok.BOS() && ids[1] == ids[0] {
		ids = ids[1:]
	}
	return ids
}

// fit makes a prompt fit the context. Too long with truncate off is an
// error (400, Ollama's message); with truncate on, the first num_keep
// tokens are kept and the oldest ones after them dropped.
func (l *loaded) fit(ids []int32, truncate bool) ([]int32, error) {
	n := l.r.Config().NumCtx
	if len(ids) <= n {
		return ids, nil
	}
	if !truncate {
		return nil, errorf(http.StatusBadRequest, "the input length exceeds the context length (%d tokens, num_ctx %d)", len(ids), n)
	}
	keep := min(max(l.opts.NumKeep, 0), n-1)
	if l.tok.AddBOS() && len(ids) > 0 && ids[0] == l.tok.BOS() {
		keep = max(keep, 1)
	}
	out := append(append([]int32{}, ids[:keep]...), ids[len(ids)-(n-keep):]...)
	return out, nil
}

// budgetOf is the most tokens an answer to a prompt of n tokens can
// have: num_predict, or the room left in the context.
func budgetOf(l *loaded, n, numPredict int) int {
	b := l.r.Config().NumCtx - n
	if numPredict >= 0 && numPredict < b {
		b = numPredict
	}
	return b
}

// genJob is one generation through a runner.
type genJob struct {
	l           *loaded
	prompt      []int32
	opts        runner.Options
	constraint  runner.Constraint
	logprobs    bool
	topLogprobs int
	parser      *outputParser
	start       time.Time // when the request arrived
	generated   []int32   // tokens generated so far
}

// delta is a piece of a generation's answer, shaped for the handlers.
type delta struct {
	Content    string
	Thinking   string
	ToolCalls  []api.ToolCall
	Logprobs   []api.Logprob
	Done       bool
	DoneReason string
	Stats      runner.Stats
}

// generate runs j, calling emit for every delta that carries something
// and once with Done. It returns a submission error (nothing emitted) or
// a failure during generation (after emits).
func (s *Server) generate(ctx context.Context, j *genJob, emit func(delta) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.hardStop, func() { cancel(errShuttingDown) })
	defer stop()

	stream, err := j.l.r.Submit(ctx, &runner.Request{Prompt: j.prompt, Options: j.opts, Constraint: j.constraint,
		Logprobs: j.logprobs, TopLogprobs: j.topLogprobs})
	if err != nil {
		if errors.Is(err, runner.ErrQueueFull) {
			s.metrics.rejected.WithLabelValues(j.l.id).Inc()
		}
		return err
	}
	for {
		ev, ok := stream.Next(ctx)
		if !ok {
			return nil
		}
		d := delta{Done: ev.Done}
		j.generated = append(j.generated, ev.Tokens...)
		text := ev.Text
		if len(ev.Logprobs) > 0 {
			d.Logprobs = toLogprobs(ev.Logprobs, ev.Top)
		}
		if ev.Done {
			if ev.Err != nil {
				if c := context.Cause(ctx); c != nil && !errors.Is(ev.Err, runner.ErrClosed) {
					return c
				}
				return ev.Err
			}
			d.DoneReason = ev.Stats.DoneReason
			d.Stats = ev.Stats
			st := ev.Stats
			s.metrics.observeGeneration(j.l.id, st.PromptTokens, st.CachedTokens, st.EvalTokens,
				st.TimeToFirstToken, st.EvalDuration, st.TotalDuration, st.DoneReason)
			noteGeneration(ctx, st.PromptTokens, st.CachedTokens, st.EvalTokens, st.DoneReason)
		}
		if j.parser != nil {
			d.Content, d.Thinking, d.ToolCalls = j.parser.add(text, ev.Done)
		} else {
			d.Content = text
		}
		if d.Content == "" && d.Thinking == "" && len(d.ToolCalls) == 0 && len(d.Logprobs) == 0 && !d.Done {
			continue
		}
		if err := emit(d); err != nil {
			return err
		}
		if ev.Done {
			return nil
		}
	}
}

func toLogprobs(lps []runner.TokenLogprob, top [][]runner.TokenLogprob) []api.Logprob {
	out := make([]api.Logprob, len(lps))
	for i, lp := range lps {
		out[i] = api.Logprob{TokenLogprob: tokenLogprob(lp)}
		if i < len(top) {
			for _, t := range top[i] {
				out[i].TopLogprobs = append(out[i].TopLogprobs, tokenLogprob(t))
			}
		}
	}
	return out
}

func tokenLogprob(t runner.TokenLogprob) api.TokenLogprob {
	b := make([]int, len(t.Text))
	for i := 0; i < len(t.Text); i++ {
		b[i] = int(t.Text[i])
	}
	return api.TokenLogprob{Token: t.Text, Logprob: t.Logprob, Bytes: b}
}

// metricsOf converts runner statistics to Ollama's final-chunk fields.
// prompt_eval_count counts every prompt token, cached or not, as Ollama
// reports it.
func metricsOf(st runner.Stats, load time.Duration, start time.Time) api.Metrics {
	return api.Metrics{
		TotalDuration:      time.Since(start),
		LoadDuration:       load,
		PromptEvalCount:    st.PromptTokens + st.CachedTokens,
		PromptEvalDuration: st.PromptDuration,
		EvalCount:          st.EvalTokens,
		EvalDuration:       st.EvalDuration,
	}
}
