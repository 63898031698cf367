package runner

import (
	"fmt"
	"os"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/tokenizer"
)

// Loaded is a model file opened for inference: its mapping, weights and
// tokenizer.
type Loaded struct {
	Path      string
	FileSize  int64
	File      *gguf.File
	Model     *model.Model
	Tokenizer *tokenizer.Tokenizer
}

// LoadFile opens a GGUF file and prepares its model and tokenizer. threads
// <= 0 uses one worker per CPU.
func LoadFile(path string, threads int) (*Loaded, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := model.Load(f, threads)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		m.Close()
		f.Close()
		return nil, fmt.Errorf("%s: tokenizer: %w", path, err)
	}
	if tok.VocabSize() != m.NVocab {
		m.Close()
		f.Close()
		return nil, fmt.Errorf("%s: tokenizer has %d tokens but the embedding has %d rows", path, tok.VocabSize(), m.NVocab)
	}
	var size int64
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	return &Loaded{Path: path, FileSize: size, File: f, Model: m, Tokenizer: tok}, nil
}

// Size is the bytes of the model file, all of which is mapped.
func (l *Loaded) Size() int64 { return l.FileSize }

// Close releases the model's workers and unmaps the file.
func (l *Loaded) Close() error {
	l.Model.Close()
	return l.File.Close()
}
