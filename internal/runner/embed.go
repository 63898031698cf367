package runner

import (
	"context"
	"fmt"
	"sync"

	"github.com/golem-llm/golem/internal/model"
)

// EmbedResult is the output of Embed.
type EmbedResult struct {
	Embeddings   [][]float32
	PromptTokens int
}

// embedState serialises embedding requests per runner: they share one
// workspace and the model's worker pool.
type embedState struct {
	mu sync.Mutex
	ws *model.Workspace // decoder embeddings: scratch for one input at a time
	b  model.Batch
}

// Embed returns one L2-normalised embedding per input text. Inputs longer
// than the model's context are cut to fit when truncate is set, and are an
// error otherwise. dims > 0 keeps the first dims components and normalises
// them again (Matryoshka-style truncation, as OpenAI's `dimensions`).
func (r *Runner) Embed(ctx context.Context, inputs []string, truncate bool, dims int) (*EmbedResult, error) {
	enc, dec := r.l.Encoder, r.l.Model
	if enc == nil && (dec == nil || dec.Pooling == model.PoolNone) {
		return nil, ErrNoEmbed
	}
	limit := r.cfg.NumCtx
	r.embed.mu.Lock()
	defer r.embed.mu.Unlock()
	res := &EmbedResult{}
	for i, text := range inputs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ids := r.l.Tokenizer.Encode(text, true, true)
		if len(ids) == 0 {
			return nil, fmt.Errorf("input %d has no tokens", i)
		}
		if len(ids) > limit {
			if !truncate {
				return nil, fmt.Errorf("%w: input %d has %d tokens, the model takes %d", ErrPromptTooLong, i, len(ids), limit)
			}
			last := ids[len(ids)-1]
			ids = append(ids[:limit-1], last) // keep the closing special token ([SEP], EOS)
		}
		var v []float32
		var err error
		if enc != nil {
			v, err = enc.Embed(ids)
		} else {
			v, err = r.decoderEmbed(ids)
		}
		if err != nil {
			return nil, err
		}
		if dims > 0 && dims < len(v) {
			v = v[:dims]
			model.Normalize(v)
		}
		res.Embeddings = append(res.Embeddings, v)
		res.PromptTokens += len(ids)
	}
	return res, nil
}

// decoderEmbed pools the final hidden states of a decoder that declares a
// pooling type: the last token's (last), the first token's (cls) or the
// mean over all tokens (mean), L2-normalised.
func (r *Runner) decoderEmbed(ids []int32) ([]float32, error) {
	m := r.l.Model
	e := &r.embed
	T := len(ids)
	want := func(t int) bool {
		switch m.Pooling {
		case model.PoolLast:
			return t == T-1
		case model.PoolCLS:
			return t == 0
		}
		return true // mean: every row
	}
	rows := 1
	if m.Pooling == model.PoolMean {
		rows = T
	}
	batch := max(T, 1)
	if e.ws == nil || e.ws.Batch() < batch || e.ws.MaxLogits() < rows {
		ws, err := m.NewWorkspace(batch, rows)
		if err != nil {
			return nil, err
		}
		e.ws = ws
	}
	seq, err := m.NewSequence(T, batch)
	if err != nil {
		return nil, err
	}
	e.b.Reset()
	for t, id := range ids {
		e.b.Add(seq, id, want(t))
	}
	if _, err := e.ws.Forward(&e.b); err != nil {
		return nil, err
	}
	out := make([]float32, m.NEmbd)
	for k := 0; k < rows; k++ {
		for i, x := range e.ws.Hidden(k) {
			out[i] += x
		}
	}
	if rows > 1 {
		inv := 1 / float32(rows)
		for i := range out {
			out[i] *= inv
		}
	}
	model.Normalize(out)
	return out, nil
}
