package sched

import (
	"fmt"
	"os"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
)

// estimate returns the bytes a model would take loaded: its file (mapped)
// plus the KV caches of numParallel sequences (the server computes in the
// fast mode, whose cache holds F16 entries).
func estimate(path string, numCtx, numParallel int) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if model.IsEncoder(f) {
		return fi.Size(), nil // embeddings need no KV cache
	}
	c, err := model.ReadConfig(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if numCtx <= 0 {
		numCtx = min(4096, c.NCtxTrain)
	}
	return fi.Size() + int64(numParallel)*c.KVCacheBytes(numCtx, false), nil
}
