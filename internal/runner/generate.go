// Package runner turns a loaded model into text: it feeds a prompt through
// a session, samples tokens, stops on end-of-generation tokens, stop
// sequences or length limits, and streams the text out as it is decoded.
package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/sample"
	"github.com/golem-llm/golem/internal/tokenizer"
)

// Options controls one generation.
type Options struct {
	// NumPredict is the most tokens to generate; negative means until an
	// end-of-generation token, a stop sequence or a full context.
	NumPredict int
	// Stop sequences end the generation; the text is cut before them.
	Stop   []string
	Sample sample.Options
}

// Done reasons, as Ollama reports them.
const (
	DoneStop   = "stop"   // end-of-generation token or stop sequence
	DoneLength = "length" // num_predict reached or the context is full
)

// Stats describes a finished generation.
type Stats struct {
	PromptTokens   int
	PromptDuration time.Duration
	EvalTokens     int
	EvalDuration   time.Duration
	DoneReason     string
}

// ErrPromptTooLong is returned (wrapped) when the prompt does not fit in the
// session's context.
var ErrPromptTooLong = errors.New("prompt is longer than the context")

// Generate evaluates prompt in sess (after whatever the session already
// holds) and samples up to opts.NumPredict tokens, calling emit with each
// piece of text as soon as it is complete UTF-8 and cannot be the start of a
// stop sequence. It returns when generation ends, ctx is cancelled or emit
// fails.
func Generate(ctx context.Context, sess *model.Session, tok *tokenizer.Tokenizer, prompt []int32, opts Options, emit func(string) error) (Stats, error) {
	var st Stats
	if len(prompt) == 0 {
		return st, fmt.Errorf("empty prompt: nothing to generate from")
	}
	if sess.Pos()+len(prompt) > sess.NumCtx() {
		return st, fmt.Errorf("%w: %d prompt tokens, context size %d (raise num_ctx)", ErrPromptTooLong, sess.Pos()+len(prompt), sess.NumCtx())
	}
	smp, err := sample.New(opts.Sample)
	if err != nil {
		return st, err
	}
	for _, id := range prompt {
		smp.Accept(id)
	}

	start := time.Now()
	logits, err := sess.Eval(prompt)
	if err != nil {
		return st, err
	}
	st.PromptTokens = len(prompt)
	st.PromptDuration = time.Since(start)

	out := newStopWriter(opts.Stop, emit)
	dec := tok.NewStreamDecoder()
	start = time.Now()
	defer func() { st.EvalDuration = time.Since(start) }()
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if opts.NumPredict >= 0 && st.EvalTokens >= opts.NumPredict {
			st.DoneReason = DoneLength
			break
		}
		id := smp.Sample(logits)
		smp.Accept(id)
		st.EvalTokens++
		if tok.IsEOG(id) {
			st.DoneReason = DoneStop
			break
		}
		stopped, err := out.write(dec.Add(id))
		if err != nil {
			return st, err
		}
		if stopped {
			st.DoneReason = DoneStop
			return st, nil
		}
		if sess.Pos() >= sess.NumCtx() {
			st.DoneReason = DoneLength
			break
		}
		if logits, err = sess.Eval([]int32{id}); err != nil {
			return st, err
		}
	}
	if _, err := out.write(dec.Flush()); err != nil {
		return st, err
	}
	return st, out.flush()
}

// stopWriter holds back the tail of the output that could still turn into
// a stop sequence, and cuts the output at the first complete one.
type stopWriter struct {
	stops   []string
	pending string
	emit    func(string) error
	done    bool
}

func newStopWriter(stops []string, emit func(string) error) *stopWriter {
	var nonEmpty []string
	for _, s := range stops {
		if s != "" {
			nonEmpty = append(nonEmpty, s)
		}
	}
	return &stopWriter{stops: nonEmpty, emit: emit}
}

// write adds text and reports whether a stop sequence was found.
func (w *stopWriter) write(text string) (bool, error) {
	if w.done || text == "" {
		return w.done, nil
	}
	w.pending += text
	cut := -1
	for _, s := range w.stops {
		if i := strings.Index(w.pending, s); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		w.done = true
		out := w.pending[:cut]
		w.pending = ""
		if out == "" {
			return true, nil
		}
		return true, w.emit(out)
	}
	// Keep the longest suffix that is a proper prefix of some stop string.
	keep := 0
	for _, s := range w.stops {
		for n := min(len(s)-1, len(w.pending)); n > keep; n-- {
			if strings.HasSuffix(w.pending, s[:n]) {
				keep = n
				break
			}
		}
	}
	out := w.pending[:len(w.pending)-keep]
	w.pending = w.pending[len(w.pending)-keep:]
	if out == "" {
		return false, nil
	}
	return false, w.emit(out)
}

func (w *stopWriter) flush() error {
	if w.done || w.pending == "" {
		return nil
	}
	out := w.pending
	w.pending = ""
	return w.emit(out)
}
