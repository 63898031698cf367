// Package runner turns a loaded model into text for many requests at once:
// it batches the prompts and decoding steps of concurrent requests into
// shared forward passes (continuous batching), samples tokens, stops on
// end-of-generation tokens, stop sequences or length limits, and streams
// the text out as it is decoded.
package runner

import (
	"errors"
	"strings"
	"time"

	"github.com/golem-llm/golem/internal/sample"
)

// Options controls one generation.
type Options struct {
	// NumPredict is the most tokens to generate; negative means until an
	// end-of-generation token, a stop sequence or a full context (with
	// Shift, at most ten contexts' worth, as Ollama caps it).
	NumPredict int
	// Shift, when the context fills during generation, drops the older
	// half of the tokens after the first NumKeep and goes on (Ollama's
	// context shift, its default) instead of stopping with DoneLength.
	// Models with sliding-window layers cannot shift and stop.
	Shift   bool
	NumKeep int
	// Stop sequences end the generation; the text is cut before them.
	Stop   []string
	Sample sample.Options
}

// Done reasons, as Ollama reports them.
const (
	DoneStop   = "stop"   // end-of-generation token or stop sequence
	DoneLength = "length" // num_predict reached, or the context is full and cannot shift
)

// Stats describes a finished generation.
type Stats struct {
	PromptTokens     int // prompt tokens evaluated (not counting CachedTokens)
	CachedTokens     int // prompt tokens reused from the prefix cache
	PromptDuration   time.Duration
	EvalTokens       int
	EvalDuration     time.Duration
	TotalDuration    time.Duration
	TimeToFirstToken time.Duration
	DoneReason       string
	Shifts           int // context shifts during the generation
}

// ErrPromptTooLong is returned (wrapped) when the prompt does not fit in the
// context.
var ErrPromptTooLong = errors.New("prompt is longer than the context")

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
