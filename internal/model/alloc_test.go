package model_test

import (
	"testing"

	"github.com/golem-llm/golem/internal/model"
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
