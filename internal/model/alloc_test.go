package model_test

import (
	"testing"

	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/internal/testutil"
)

// TestDecodeDoesNotAllocate checks that, once a session has evaluated its
// prompt, generating a token allocates nothing, in every mode and kernel
// level (weights from the mapped file, buffers made up front), and that a
// two-sequence decode step through Forward allocates nothing either.
func TestDecodeDoesNotAllocate(t *testing.T) {
	for _, stem := range []string{"syn-llama-256-Q4_K_M", "syn-gemma3-256-Q8_0", "syn-qwen2-256-F16"} {
		for _, md := range testModes() {
			t.Run(stem+"/"+md.name, func(t *testing.T) {
				f, m := loadMode(t, testutil.Shared(t, "testdata", "models", "synthetic", stem+".gguf"), md, 2)
				defer f.Close()
				defer m.Close()
				s, err := m.NewSession(64)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Eval([]int32{1, 5, 9, 13, 2, 7}); err != nil {
					t.Fatal(err)
				}
				tok := int32(3)
				allocs := testing.AllocsPerRun(10, func() {
					if _, err := s.Eval([]int32{tok}); err != nil {
						t.Fatal(err)
					}
					tok++
				})
				if allocs != 0 {
					t.Errorf("a decode step allocates %v times", allocs)
				}

				// Two sequences decoding together.
				a, err := m.NewSequence(64, 4)
				if err != nil {
					t.Fatal(err)
				}
				b, err := m.NewSequence(64, 4)
				if err != nil {
					t.Fatal(err)
				}
				ws, err := m.NewWorkspace(8, 2)
				if err != nil {
					t.Fatal(err)
				}
				var batch model.Batch
				step := func() {
					batch.Reset()
					batch.Add(a, tok%50, true)
					batch.Add(b, (tok+7)%50, true)
					if _, err := ws.Forward(&batch); err != nil {
						t.Fatal(err)
					}
					tok++
				}
				step()
				if allocs := testing.AllocsPerRun(10, step); allocs != 0 {
					t.Errorf("a two-sequence decode step allocates %v times", allocs)
				}
			})
		}
	}
}

// TestKVCacheBytesBoundsSequences checks the estimate the scheduler budgets
// with against what sequences really allocate: equal for full-attention
// models, an upper bound for sliding-window ones, in both modes.
func TestKVCacheBytesBoundsSequences(t *testing.T) {
	for _, stem := range []string{"syn-llama-256-Q8_0", "syn-qwen2-256-F16", "syn-gemma2-32-Q8_0"} {
		for _, exact := range []bool{false, true} {
			f, m := loadMode(t, testutil.Shared(t, "testdata", "models", "synthetic", stem+".gguf"), mode{exact: exact, simd: tensor.BestLevel().String()}, 1)
			for _, numCtx := range []int{1, 50, 64, 300} {
				s, err := m.NewSequence(numCtx, 8)
				if err != nil {
					t.Fatal(err)
				}
				got, est := s.CacheBytes(), m.Config.KVCacheBytes(numCtx, exact)
				sliding := false
				for _, l := range m.Layers {
					sliding = sliding || l.Window > 0
				}
				if got > est || (!sliding && got != est) {
					t.Errorf("%s exact=%v numCtx=%d: sequence holds %d bytes, KVCacheBytes says %d", stem, exact, numCtx, got, est)
				}
			}
			m.Close()
			f.Close()
		}
	}
}
