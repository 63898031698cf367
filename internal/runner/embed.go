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

// embedState serialises embedding requests per runner: the encoder's forward
// pass uses the model's worker pool.
type embedState struct{ mu sync.Mutex }

// Embed returns one L2-normalised embedding per input text. Inputs longer
// than the model's context are cut to fit when truncate is set, and are an
// error otherwise. dims > 0 keeps the first dims components and normalises
// them again (Matryoshka-style truncation, as OpenAI's `dimensions`).
func (r *Runner) Embed(ctx context.Context, inputs []string, truncate bool, dims int) (*EmbedResult, error) {
	enc := r.l.Encoder
	if enc == nil {
		return nil, ErrNoEmbed
	}
	r.embed.mu.Lock()
	defer r.embed.mu.Unlock()
	res := &EmbedResult{}
	for i, text := range inputs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ids := r.l.Tokenizer.Encode(text, true, true)
		if len(ids) > enc.NCtxTrain {
			if !truncate {
				return nil, fmt.Errorf("%w: input %d has %d tokens, the model takes %d", ErrPromptTooLong, i, len(ids), enc.NCtxTrain)
			}
			last := ids[len(ids)-1]
			ids = append(ids[:enc.NCtxTrain-1], last) // keep the closing [SEP]
		}
		v, err := enc.Embed(ids)
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
