// Package sample picks the next token from a model's logits.
//
// The options are the ones Ollama users set in a request's "options"
// (temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,
// presence_penalty, frequency_penalty, seed), and they are applied in the
// order of llama.cpp's common sampler chain, which is what Ollama's llama.cpp
// runner uses, so a given set of options means the same thing here:
//
//	penalties → top_k → top_p → min_p → temperature → draw
//
// Truncation (top_k, top_p, min_p) therefore looks at the penalised but
// un-tempered distribution; temperature only reshapes the survivors.
// Temperature 0 is greedy decoding: the argmax of the penalised logits.
//
// A Sampler keeps the penalty history and the random state of one sequence.
// It is not safe for concurrent use; give each sequence its own.
package sample

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Options are the sampling settings, named and defaulted as in Ollama.
type Options struct {
	// Temperature divides the logits before the draw. 0 means greedy
	// decoding: always the highest logit, ties to the lowest token id.
	Temperature float32
	// TopK keeps the K highest logits; <= 0 disables it.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches TopP, including the token that crosses it; >= 1 disables it.
	TopP float32
	// MinP drops tokens whose probability is below MinP times that of the
	// most likely token; <= 0 disables it.
	MinP float32
	// RepeatPenalty divides positive logits and multiplies negative ones of
	// every token seen in the last RepeatLastN tokens; 1 disables it.
	RepeatPenalty float32
	// RepeatLastN is how many recent accepted tokens the penalties look at.
	// 0 disables the penalties; -1 means every token accepted since the
	// last Reset (Ollama maps -1 to num_ctx, which is the same window when
	// the caller resets per sequence).
	RepeatLastN int
	// PresencePenalty is subtracted once from the logit of every token in
	// the window (OpenAI semantics).
	PresencePenalty float32
	// FrequencyPenalty is subtracted from a token's logit once per
	// occurrence in the window (OpenAI semantics).
	FrequencyPenalty float32
	// Seed fixes the random sequence; any negative value picks a random
	// seed (see Sampler.Seed to log it).
	Seed int64
}

// DefaultOptions returns Ollama's defaults.
func DefaultOptions() Options {
	return Options{
		Temperature:   0.8,
		TopK:          40,
		TopP:          0.9,
		MinP:          0,
		RepeatPenalty: 1.1,
		RepeatLastN:   64,
		Seed:          -1,
	}
}

// Validate reports the first option that is out of range.
func (o Options) Validate() error {
	finite := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	switch {
	case !finite(o.Temperature) || o.Temperature < 0:
		return fmt.Errorf("sample: temperature %v: must be a finite number >= 0 (0 = greedy)", o.Temperature)
	case !finite(o.TopP) || o.TopP < 0 || o.TopP > 1:
		return fmt.Errorf("sample: top_p %v: must be in [0, 1] (1 = disabled)", o.TopP)
	case !finite(o.MinP) || o.MinP > 1:
		return fmt.Errorf("sample: min_p %v: must be at most 1 (0 = disabled)", o.MinP)
	case !finite(o.RepeatPenalty) || o.RepeatPenalty <= 0:
		return fmt.Errorf("sample: repeat_penalty %v: must be a finite number > 0 (1 = disabled)", o.RepeatPenalty)
	case o.RepeatLastN < -1:
		return fmt.Errorf("sample: repeat_last_n %d: must be >= -1 (0 = disabled, -1 = whole history)", o.RepeatLastN)
	case !finite(o.PresencePenalty):
		return fmt.Errorf("sample: presence_penalty %v: must be a finite number", o.PresencePenalty)
	case !finite(o.FrequencyPenalty):
		return fmt.Errorf("sample: frequency_penalty %v: must be a finite number", o.FrequencyPenalty)
	}
	return nil
}

// pcgStream is the second PCG seed word. Any constant works; it only has to
// stay fixed so that a seed always names the same sequence.
const pcgStream = 0x9e3779b97f4a7c15

// Sampler draws tokens for one sequence. Its buffers grow to the vocabulary
// size on the first Sample and are reused afterwards, so steady-state calls
// do not allocate.
type Sampler struct {
	opts     Options
	seed     int64 // the seed in use: Options.Seed, or the random one
	rng      rand.PCG
	penalise bool // penalties are on and can change a logit

	// hist is the penalty window: a ring of the last RepeatLastN accepted
	// tokens once full (next is the slot to overwrite), or the whole
	// history when RepeatLastN is -1.
	hist []int32
	next int

	counts []int32   // per-token occurrence counts; all zero between calls
	work   []float32 // penalised copy of the caller's logits
	cand   []tok     // candidate list for truncation
	w      []float64 // weights for top_p and the draw; same cap as cand
}

// tok is one candidate: a token id and its current logit.
type tok struct {
	id    int32
	logit float32
}

// New checks o and returns a Sampler for it.
func New(o Options) (*Sampler, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := &Sampler{opts: o}
	s.penalise = o.RepeatLastN != 0 &&
		(o.RepeatPenalty != 1 || o.PresencePenalty != 0 || o.FrequencyPenalty != 0)
	s.reseed()
	return s, nil
}

// reseed starts the random sequence over: from Options.Seed when it is
// fixed, from a fresh random seed otherwise.
func (s *Sampler) reseed() {
	s.seed = s.opts.Seed
	if s.seed < 0 {
		s.seed = int64(rand.Uint64() >> 1)
	}
	s.rng.Seed(uint64(s.seed), pcgStream)
}

// Options returns the options the Sampler was built with.
func (s *Sampler) Options() Options { return s.opts }

// Seed returns the seed in use. With a negative Options.Seed this is the
// random seed that was picked; passing it back as Options.Seed replays the
// same draws for the same logits.
func (s *Sampler) Seed() int64 { return s.seed }

// Accept records id in the penalty history. Call it for every prompt token
// (llama.cpp and Ollama penalise repeats of the prompt too) and for every
// token kept from Sample: Sample itself records nothing.
func (s *Sampler) Accept(id int32) {
	if !s.penalise {
		return
	}
	n := s.opts.RepeatLastN
	if n < 0 || len(s.hist) < n {
		s.hist = append(s.hist, id)
		return
	}
	s.hist[s.next] = id
	s.next++
	if s.next == n {
		s.next = 0
	}
}

// Reset forgets the penalty history and restarts the random sequence: with
// a fixed seed the draws repeat from the start, with a random seed a new
// seed is picked.
func (s *Sampler) Reset() {
	s.hist = s.hist[:0]
	s.next = 0
	s.reseed()
}

// ErrEmptyLogits is what SampleChecked returns for an empty logit vector.
var ErrEmptyLogits = errors.New("sample: empty logits (vocabulary size 0)")

// SampleChecked is Sample with the empty-input case as an error.
func (s *Sampler) SampleChecked(logits []float32) (int32, error) {
	if len(logits) == 0 {
		return -1, ErrEmptyLogits
	}
	return s.Sample(logits), nil
}

// Sample returns the next token id for logits, which hold one value per
// vocabulary entry. logits is only read, never written: penalties are
// applied to an internal copy, so the caller may reuse the slice at once.
// Sample does not record the token; call Accept with the token you keep.
//
// It returns -1 if logits is empty. NaN logits count as -Inf and +Inf as
// the largest float32, so odd values from a broken forward pass give a
// token rather than a panic.
func (s *Sampler) Sample(logits []float32) int32 {
	if len(logits) == 0 {
		return -1
	}
	src := s.penalised(logits)
	if s.opts.Temperature <= 0 {
		return argmax(src)
	}
	return s.draw(s.truncate(src))
}

// penalised returns logits with the penalties applied, in s.work, or
// logits itself when no penalty can apply.
func (s *Sampler) penalised(logits []float32) []float32 {
	if !s.penalise || len(s.hist) == 0 {
		return logits
	}
	if cap(s.work) < len(logits) {
		s.work = make([]float32, len(logits))
	}
	s.work = s.work[:len(logits)]
	copy(s.work, logits)
	s.applyPenalties(s.work)
	return s.work
}

// applyPenalties applies the repeat, frequency and presence penalties to
// l in place, for the tokens in the history window, as llama.cpp does:
// a token seen c > 0 times has its logit divided by RepeatPenalty if it is
// positive (multiplied if <= 0), then lowered by c*FrequencyPenalty +
// PresencePenalty. Ids outside l are ignored.
func (s *Sampler) applyPenalties(l []float32) {
	n := uint32(len(l))
	if uint32(len(s.counts)) < n {
		s.counts = make([]int32, n)
	}
	for _, id := range s.hist {
		if uint32(id) < n {
			s.counts[id]++
		}
	}
	rep, freq, pres := s.opts.RepeatPenalty, s.opts.FrequencyPenalty, s.opts.PresencePenalty
	for _, id := range s.hist {
		if uint32(id) >= n || s.counts[id] == 0 {
			continue // out of range, or a repeat already handled
		}
		c := s.counts[id]
		s.counts[id] = 0 // keep counts all-zero for the next call
		v := l[id]
		if v <= 0 {
			v *= rep
		} else {
			v /= rep
		}
		l[id] = v - (float32(c)*freq + pres)
	}
}

// truncate applies top_k, top_p and min_p to src and returns the surviving
// candidates with their (un-tempered) logits, in s.cand.
func (s *Sampler) truncate(src []float32) []tok {
	n := len(src)
	if cap(s.cand) < n {
		s.cand = make([]tok, n)
		s.w = make([]float64, n)
	}
	var cand []tok
	sorted := false
	if k := s.opts.TopK; k > 0 && k < n {
		cand = topK(src, s.cand[:k])
		sorted = true
	} else {
		cand = s.cand[:n]
		for i, v := range src {
			cand[i] = tok{int32(i), clean(v)}
		}
	}
	if p := s.opts.TopP; p < 1 {
		cand, sorted = topP(cand, s.w, p, sorted)
	}
	if p := s.opts.MinP; p > 0 {
		cand = minP(cand, p, sorted)
	}
	return cand
}

// draw divides the candidates' logits by the temperature, takes the softmax
// and picks one with the seeded generator.
func (s *Sampler) draw(cand []tok) int32 {
	if len(cand) == 1 {
		return cand[0].id // nothing to choose: leave the generator alone
	}
	best := cand[0]
	for _, t := range cand[1:] {
		if better(t, best) {
			best = t
		}
	}
	if math.IsInf(float64(best.logit), -1) {
		return best.id // every candidate is impossible; stay deterministic
	}
	w := s.w[:len(cand)]
	mx, temp := float64(best.logit), float64(s.opts.Temperature)
	var z float64
	for i, t := range cand {
		e := math.Exp((float64(t.logit) - mx) / temp)
		w[i] = e
		z += e
	}
	// 53 random bits → a uniform float64 in [0, 1), fixed by PCG's output
	// alone so a seed means the same draws on every Go version.
	target := float64(s.rng.Uint64()>>11) * 0x1p-53 * z
	var cum float64
	for i, e := range w {
		cum += e
		if cum > target {
			return cand[i].id
		}
	}
	// Rounding left target at or above the sum: take the last token that
	// had any weight.
	for i := len(w) - 1; i >= 0; i-- {
		if w[i] > 0 {
			return cand[i].id
		}
	}
	return best.id
}

// clean maps NaN to -Inf and +Inf to the largest float32 so that ordering
// and softmax stay well defined.
func clean(v float32) float32 {
	switch {
	case v != v:
		return float32(math.Inf(-1))
	case v > math.MaxFloat32:
		return math.MaxFloat32
	}
	return v
}

// argmax returns the index of the largest value, the lowest index on ties.
// NaN never wins unless everything is NaN, in which case it returns 0.
func argmax(l []float32) int32 {
	best, bi := clean(l[0]), 0
	for i, v := range l[1:] {
		if v > best {
			best, bi = v, i+1
		}
	}
	return int32(bi)
}
