package runner

import (
	"errors"
	"fmt"
	"os"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/tokenizer"
)

// Loaded is a model file opened for inference: its mapping, weights and
// tokenizer. Exactly one of Model (a generative decoder) and Encoder (an
// embedding-only model) is set.
type Loaded struct {
	Path      string
	FileSize  int64
	File      *gguf.File
	Model     *model.Model
	Encoder   *model.Encoder
	Tokenizer *tokenizer.Tokenizer
}

// ErrNoGenerate is returned when a generation is asked of an
// embedding-only model.
var ErrNoGenerate = errors.New("model does not support generate")

// ErrNoEmbed is returned when embeddings are asked of a model that does not
// produce them (a generative model whose file declares no pooling).
var ErrNoEmbed = errors.New("model does not support embeddings")

// LoadFile opens a GGUF file and prepares its model and tokenizer. threads
// <= 0 uses one worker per CPU.
func LoadFile(path string, threads int) (*Loaded, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	l := &Loaded{Path: path, File: f}
	var nVocab int
	if model.IsEncoder(f) {
		l.Encoder, err = model.LoadEncoder(f, threads)
		if err == nil {
			nVocab = l.Encoder.NVocab
		}
	} else {
		l.Model, err = model.Load(f, threads)
		if err == nil {
			nVocab = l.Model.NVocab
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if l.Tokenizer, err = tokenizer.FromGGUF(f); err != nil {
		l.Close()
		return nil, fmt.Errorf("%s: tokenizer: %w", path, err)
	}
	if l.Tokenizer.VocabSize() != nVocab {
		l.Close()
		return nil, fmt.Errorf("%s: tokenizer has %d tokens but the embedding has %d rows", path, l.Tokenizer.VocabSize(), nVocab)
	}
	if fi, err := os.Stat(path); err == nil {
		l.FileSize = fi.Size()
	}
	return l, nil
}

// Size is the bytes of the model file, all of which is mapped.
func (l *Loaded) Size() int64 { return l.FileSize }

// ContextLength is the most tokens the model was trained on.
func (l *Loaded) ContextLength() int {
	if l.Encoder != nil {
		return l.Encoder.NCtxTrain
	}
	return l.Model.NCtxTrain
}

// Close releases the model's workers and unmaps the file.
func (l *Loaded) Close() error {
	if l.Model != nil {
		l.Model.Close()
	}
	if l.Encoder != nil {
		l.Encoder.Close()
	}
	return l.File.Close()
}
