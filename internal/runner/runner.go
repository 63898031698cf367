package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/sample"
	"github.com/golem-llm/golem/internal/tokenizer"
)

// Constraint restricts which tokens may be sampled, e.g. to force JSON
// that matches a schema. The runner calls Mask before each sample, Accept
// after it, and ends the generation when Done reports true.
type Constraint interface {
	Mask(logits []float32)
	Accept(id int32) error
	Done() bool
}

// Request is one generation: a tokenized prompt and how to continue it.
type Request struct {
	Prompt  []int32
	Options Options
	// Constraint, when set, is consulted at every step. It belongs to this
	// request alone.
	Constraint Constraint
	// TopLogprobs > 0 (or Logprobs) reports the log-probability of each
	// generated token and of the TopLogprobs most likely alternatives.
	Logprobs    bool
	TopLogprobs int
}

// TokenLogprob is the log-probability of a token under the model.
type TokenLogprob struct {
	ID      int32
	Text    string
	Logprob float64
}

// Event is streamed to the caller as generation proceeds. The last event
// has Done set, with Stats and, on failure, Err.
type Event struct {
	Text     string
	Tokens   []int32        // ids generated since the previous event (end-of-generation tokens excluded)
	Logprobs []TokenLogprob // one per token in this event, with Top filled per entry
	Top      [][]TokenLogprob

	Done  bool
	Stats Stats
	Err   error
}

// Config sizes a Runner.
type Config struct {
	NumParallel int // sequences decoded together (default 4)
	NumCtx      int // context of each sequence (default 4096, at most the model's training context unless set)
	Batch       int // most tokens per forward pass (default model.DefaultBatch)
	MaxQueue    int // requests waiting beyond the parallel ones before Submit fails (default 512)
}

// ErrQueueFull is returned by Submit when too many requests are waiting.
var ErrQueueFull = errors.New("server busy: too many requests are waiting")

// ErrClosed is returned for requests submitted to or pending in a closed runner.
var ErrClosed = errors.New("model was unloaded")

// Runner serves one loaded model to many concurrent requests by continuous
// batching: each forward pass carries one token of every decoding sequence
// plus chunks of the prompts of new ones, so new requests join the running
// batch at once and the weights are read once per step for all of them.
// Slots keep their KV cache after a request ends, and a new request whose
// prompt starts with a cached prefix reuses it (prefix caching).
type Runner struct {
	l   *Loaded
	cfg Config
	ws  *model.Workspace

	mu      sync.Mutex
	pending []*job
	closed  bool
	wake    chan struct{}
	done    chan struct{}

	slots []*slot
	batch model.Batch
	clock uint64 // for least-recently-used slot choice

	statsMu sync.Mutex
	stats   RunnerStats

	embed embedState
}

// RunnerStats are counters for metrics.
type RunnerStats struct {
	Running, Waiting    int
	PromptTokens        int64
	GeneratedTokens     int64
	CachedPromptTokens  int64 // prompt tokens served from the prefix cache
	KVCacheBytes        int64
	KVCacheUsedFraction float64
}

type slot struct {
	seq    *model.Sequence
	cached []int32 // the tokens whose K/V the sequence holds, in order
	// reusable is how many of cached a new prompt may reuse: all of them
	// (-1), or only those before a context shift, since the shifted ones
	// hold what a fresh evaluation would not.
	reusable int
	lastUse  uint64
	job      *job
}

// job is a request being served.
type job struct {
	ctx  context.Context
	req  *Request
	out  *eventQueue
	slot *slot

	sampler  *sample.Sampler
	dec      *tokenizer.StreamDecoder
	stop     *stopWriter
	fed      int // prompt tokens already in the cache
	next     int32
	decoding bool
	logits   []float32 // masked copy for constrained sampling

	text       string // decoded text not yet sent
	err        error  // failure noticed while sampling
	stats      Stats
	start      time.Time
	evalStart  time.Time
	firstToken time.Time
}

// NewRunner starts a runner over a loaded model. Close stops it.
func NewRunner(l *Loaded, cfg Config) (*Runner, error) {
	if l.Encoder != nil {
		// An embedding model: no slots, no loop; Embed serves it.
		r := &Runner{l: l, cfg: cfg, done: make(chan struct{}), closed: true}
		r.cfg.NumCtx = l.Encoder.NCtxTrain
		close(r.done)
		return r, nil
	}
	if cfg.NumParallel <= 0 {
		cfg.NumParallel = 4
	}
	if cfg.NumCtx <= 0 {
		cfg.NumCtx = min(4096, l.Model.NCtxTrain)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = model.DefaultBatch
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 512
	}
	cfg.Batch = max(cfg.Batch, cfg.NumParallel)
	ws, err := l.Model.NewWorkspace(cfg.Batch, cfg.NumParallel)
	if err != nil {
		return nil, err
	}
	r := &Runner{l: l, cfg: cfg, ws: ws, wake: make(chan struct{}, 1), done: make(chan struct{})}
	for i := 0; i < cfg.NumParallel; i++ {
		seq, err := l.Model.NewSequence(cfg.NumCtx, cfg.Batch)
		if err != nil {
			return nil, err
		}
		r.slots = append(r.slots, &slot{seq: seq, reusable: -1})
		r.stats.KVCacheBytes += seq.CacheBytes()
	}
	go r.loop()
	return r, nil
}

// Loaded is the model the runner serves.
func (r *Runner) Loaded() *Loaded { return r.l }

// Config is the runner's configuration after defaults.
func (r *Runner) Config() Config { return r.cfg }

// Stats returns a snapshot of the runner's counters.
func (r *Runner) Stats() RunnerStats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return r.stats
}

// Close stops the runner; pending and running requests end with ErrClosed.
// It waits for the loop to finish but does not close the model.
func (r *Runner) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		<-r.done
		return
	}
	r.closed = true
	r.mu.Unlock()
	r.signal()
	<-r.done
}

func (r *Runner) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Submit queues a request and returns the stream of its events, which ends
// with an event whose Done is set. Cancelling ctx stops the request at the
// next step and frees its slot.
func (r *Runner) Submit(ctx context.Context, req *Request) (*Stream, error) {
	if r.l.Model == nil {
		return nil, ErrNoGenerate
	}
	if len(req.Prompt) == 0 {
		return nil, fmt.Errorf("empty prompt: nothing to generate from")
	}
	if len(req.Prompt) > r.cfg.NumCtx {
		return nil, fmt.Errorf("%w: %d prompt tokens, context size %d (raise num_ctx)", ErrPromptTooLong, len(req.Prompt), r.cfg.NumCtx)
	}
	for _, id := range req.Prompt {
		if id < 0 || int(id) >= r.l.Model.NVocab {
			return nil, fmt.Errorf("prompt token id %d is outside the vocabulary of %d", id, r.l.Model.NVocab)
		}
	}
	smp, err := sample.New(req.Options.Sample)
	if err != nil {
		return nil, err
	}
	j := &job{ctx: ctx, req: req, out: newEventQueue(), sampler: smp,
		dec: r.l.Tokenizer.NewContinuationDecoder(), start: time.Now()}
	j.stop = newStopWriter(req.Options.Stop, func(s string) error { j.text += s; return nil })
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if len(r.pending) >= r.cfg.MaxQueue {
		r.mu.Unlock()
		return nil, ErrQueueFull
	}
	r.pending = append(r.pending, j)
	r.mu.Unlock()
	r.signal()
	return &Stream{q: j.out}, nil
}

// loop is the runner's single goroutine: admit, batch, evaluate, sample.
func (r *Runner) loop() {
	defer close(r.done)
	for {
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed {
			r.failAll(ErrClosed)
			return
		}
		r.admit()
		r.dropCancelled()
		if !r.step() {
			r.updateStats()
			<-r.wake // idle until a request arrives or Close
		}
	}
}

// admit moves pending requests into free slots, reusing the slot whose
// cached tokens share the longest prefix with the new prompt.
func (r *Runner) admit() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.pending) > 0 {
		var free []*slot
		for _, s := range r.slots {
			if s.job == nil {
				free = append(free, s)
			}
		}
		if len(free) == 0 {
			return
		}
		j := r.pending[0]
		r.pending = r.pending[1:]
		if j.ctx.Err() != nil {
			j.finish(j.ctx.Err())
			continue
		}
		best, bestLen := free[0], -1
		for _, s := range free {
			n := commonPrefix(s.cached, j.req.Prompt)
			if s.reusable >= 0 {
				n = min(n, s.reusable)
			}
			if n > bestLen || n == bestLen && s.lastUse < best.lastUse {
				best, bestLen = s, n
			}
		}
		// At least the last prompt token is evaluated, to get its logits.
		keep := min(bestLen, len(j.req.Prompt)-1)
		if err := best.seq.Rewind(keep); err != nil {
			keep = 0
			best.seq.Rewind(0)
		}
		best.cached = best.cached[:keep]
		best.reusable = -1
		r.clock++
		best.lastUse = r.clock
		best.job = j
		j.slot = best
		j.fed = keep
		j.stats.CachedTokens = keep
		for _, id := range j.req.Prompt {
			j.sampler.Accept(id)
		}
		r.statsMu.Lock()
		r.stats.CachedPromptTokens += int64(keep)
		r.statsMu.Unlock()
	}
}

func (r *Runner) dropCancelled() {
	for _, s := range r.slots {
		if s.job != nil && s.job.ctx.Err() != nil {
			s.job.finish(s.job.ctx.Err())
			s.job = nil
		}
	}
}

// step builds and evaluates one batch. It reports false when there was
// nothing to do.
func (r *Runner) step() bool {
	b := &r.batch
	b.Reset()
	budget := r.cfg.Batch
	// Decoding sequences first: one token each.
	for _, s := range r.slots {
		if j := s.job; j != nil && j.decoding {
			b.Add(s.seq, j.next, true)
			budget--
		}
	}
	// Then prompt chunks, oldest slots first, in what the budget leaves.
	for _, s := range r.slots {
		j := s.job
		if j == nil || j.decoding || budget <= 0 {
			continue
		}
		rest := j.req.Prompt[j.fed:]
		n := min(len(rest), budget)
		if j.evalStart.IsZero() {
			j.evalStart = time.Now()
		}
		for i := 0; i < n; i++ {
			b.Add(s.seq, rest[i], j.fed+i == len(j.req.Prompt)-1)
		}
		budget -= n
	}
	if b.Len() == 0 {
		return false
	}
	out, err := r.ws.Forward(b)
	if err != nil {
		// A failed pass leaves the sequences unchanged; end every job in it.
		for _, s := range r.slots {
			if s.job != nil {
				s.job.finish(fmt.Errorf("evaluating batch: %w", err))
				s.job = nil
				s.cached = s.cached[:0]
				s.seq.Rewind(0)
			}
		}
		return true
	}
	// Bookkeeping in batch order; logits rows come in the same order.
	k := 0
	handled := map[*slot]bool{}
	for t := range b.Tokens {
		s := slotOf(r.slots, b.Seqs[t])
		s.cached = append(s.cached, b.Tokens[t])
		j := s.job
		if !j.decoding {
			j.fed++
			j.stats.PromptTokens++
		}
		if !b.Logits[t] {
			continue
		}
		logits := out[k]
		k++
		if handled[s] {
			continue
		}
		handled[s] = true
		if !j.decoding {
			j.decoding = true
			j.stats.PromptDuration = time.Since(j.evalStart)
			j.evalStart = time.Now()
		}
		if r.sampleNext(j, logits) {
			j.finish(nil)
			s.job = nil
		}
	}
	r.updateStats()
	return true
}

func slotOf(slots []*slot, seq *model.Sequence) *slot {
	for _, s := range slots {
		if s.seq == seq {
			return s
		}
	}
	panic("runner: sequence of no slot in the batch")
}

// sampleNext picks the token after logits for job j, streams its text, and
// reports whether the job has finished.
func (r *Runner) sampleNext(j *job, logits []float32) bool {
	opts := &j.req.Options
	if opts.NumPredict >= 0 && j.stats.EvalTokens >= opts.NumPredict {
		j.stats.DoneReason = DoneLength
		return true
	}
	src := logits
	if j.req.Constraint != nil {
		j.logits = append(j.logits[:0], logits...)
		j.req.Constraint.Mask(j.logits)
		src = j.logits
	}
	id := j.sampler.Sample(src)
	j.sampler.Accept(id)
	j.stats.EvalTokens++
	if j.firstToken.IsZero() {
		j.firstToken = time.Now()
		j.stats.TimeToFirstToken = j.firstToken.Sub(j.start)
	}
	r.statsMu.Lock()
	r.stats.GeneratedTokens++
	r.statsMu.Unlock()

	var ev Event
	if j.req.Logprobs || j.req.TopLogprobs > 0 {
		lp, top := r.logprobs(logits, id, j.req.TopLogprobs)
		ev.Logprobs = []TokenLogprob{lp}
		ev.Top = [][]TokenLogprob{top}
	}
	if r.l.Tokenizer.IsEOG(id) {
		j.stats.DoneReason = DoneStop
		if ev.Logprobs != nil {
			j.out.push(ev)
		}
		return true
	}
	if j.req.Constraint != nil {
		if err := j.req.Constraint.Accept(id); err != nil {
			j.stats.DoneReason = DoneStop
			j.err = fmt.Errorf("constrained decoding: %w", err)
			return true
		}
	}
	stopped, _ := j.stop.write(j.dec.Add(id))
	ev.Text, j.text = j.text, ""
	ev.Tokens = []int32{id}
	{
		j.out.push(ev)
	}
	if stopped || (j.req.Constraint != nil && j.req.Constraint.Done()) {
		j.stats.DoneReason = DoneStop
		return true
	}
	if opts.NumPredict >= 0 && j.stats.EvalTokens >= opts.NumPredict ||
		opts.NumPredict < 0 && opts.Shift && j.stats.EvalTokens >= 10*r.cfg.NumCtx {
		j.stats.DoneReason = DoneLength
		return true
	}
	if j.slot.seq.Pos() >= j.slot.seq.NumCtx() && !(opts.Shift && r.shift(j)) {
		j.stats.DoneReason = DoneLength
		return true
	}
	j.next = id
	return false
}

// shift makes room in job j's full sequence: the first NumKeep tokens (and
// at least the BOS) stay, half of the rest, the oldest, go. It reports
// false when the sequence cannot shift.
func (r *Runner) shift(j *job) bool {
	s := j.slot
	pos := s.seq.Pos()
	keep := min(max(j.req.Options.NumKeep, 0), pos-2)
	if tok := r.l.Tokenizer; tok.AddBOS() && len(s.cached) > 0 && s.cached[0] == tok.BOS() {
		keep = max(keep, 1)
	}
	discard := (pos - keep) / 2
	if discard < 1 || !r.l.Model.CanShift() {
		return false
	}
	if err := s.seq.Shift(keep, discard); err != nil {
		return false
	}
	s.cached = append(s.cached[:keep], s.cached[keep+discard:]...)
	if s.reusable < 0 || s.reusable > keep {
		s.reusable = keep
	}
	j.stats.Shifts++
	return true
}

// logprobs returns the log-probability of id under logits and the top
// most likely tokens.
func (r *Runner) logprobs(logits []float32, id int32, top int) (TokenLogprob, []TokenLogprob) {
	maxv := math.Inf(-1)
	for _, v := range logits {
		maxv = math.Max(maxv, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - maxv)
	}
	lse := maxv + math.Log(sum)
	tok := r.l.Tokenizer
	mk := func(t int32) TokenLogprob {
		return TokenLogprob{ID: t, Text: string(tok.Piece(t)), Logprob: float64(logits[t]) - lse}
	}
	var best []TokenLogprob
	if top > 0 {
		idx := make([]int32, 0, top+1)
		for i := range logits {
			idx = append(idx, int32(i))
			if len(idx) > top {
				sort.Slice(idx, func(a, b int) bool {
					if logits[idx[a]] != logits[idx[b]] {
						return logits[idx[a]] > logits[idx[b]]
					}
					return idx[a] < idx[b]
				})
				idx = idx[:top]
			}
		}
		for _, t := range idx {
			best = append(best, mk(t))
		}
	}
	return mk(id), best
}

func (r *Runner) updateStats() {
	r.mu.Lock()
	waiting := len(r.pending)
	r.mu.Unlock()
	running, used, total := 0, 0, 0
	for _, s := range r.slots {
		if s.job != nil {
			running++
		}
		used += s.seq.Pos()
		total += s.seq.NumCtx()
	}
	r.statsMu.Lock()
	r.stats.Running, r.stats.Waiting = running, waiting
	if total > 0 {
		r.stats.KVCacheUsedFraction = float64(used) / float64(total)
	}
	r.statsMu.Unlock()
}

func (r *Runner) failAll(err error) {
	r.mu.Lock()
	pending := r.pending
	r.pending = nil
	r.mu.Unlock()
	for _, j := range pending {
		j.finish(err)
	}
	for _, s := range r.slots {
		if s.job != nil {
			s.job.finish(err)
			s.job = nil
		}
	}
}

func commonPrefix(a, b []int32) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
