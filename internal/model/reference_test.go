package model_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/testutil"
)

// refCase is one row of the reference table: a model traced by llama.cpp
// (../shared/reference/<dir>/<stem>.json) and the tolerance on teacher-forced
// log-probabilities for this engine (float32 compute, F32 KV cache).
type refCase struct {
	stem string
	dir  string
	tol  float64
}

// family expands a synthetic model family into one row per tensor type.
func family(prefix, dir string, tol float64, types ...string) []refCase {
	var rows []refCase
	for _, t := range types {
		rows = append(rows, refCase{prefix + "-" + t, dir, tol})
	}
	return rows
}

var allTypes = []string{"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q4_K_M"}

// referenceCases is the table: every traced model this engine supports.
// A new model or tensor type is one row.
func referenceCases() []refCase {
	rows := []refCase{
		{"stories260K", "f32ref", 1e-3},
		{"stories260K-q8_0-mix", "f32ref", 1e-3},
		{"stories260K-q5_0-mix", "f32ref", 1e-3},
		{"stories260K-q4_0-mix", "f32ref", 1e-3},
		{"llama-2-tiny-random", "f32ref", 1e-3},
	}
	rows = append(rows, family("syn-llama-256", "f32ref", 1e-3, allTypes...)...)
	rows = append(rows, family("syn-qwen2-256", "f32ref", 1e-3, allTypes...)...)
	rows = append(rows, family("syn-qwen3-256", "f32ref", 1e-3, allTypes...)...)
	rows = append(rows, family("syn-phi3-256", "f32ref", 1e-3, "F32", "F16", "Q8_0", "Q4_0", "Q4_K", "Q6_K", "Q4_K_M")...)
	// Gemma computes GELU exactly here, so its reference is the trace made
	// with ggml's exact GELU (reference README §5.1 and §8).
	rows = append(rows, family("syn-gemma2-32", "f32ref-gelu-exact", 1e-3, "F32", "F16", "Q8_0", "Q4_0")...)
	rows = append(rows, family("syn-gemma3-256", "f32ref-gelu-exact", 1e-3, "F32", "Q8_0", "Q4_0", "Q4_K", "Q6_K", "Q4_K_M")...)
	return rows
}

type trace struct {
	Model struct {
		File string `json:"file"`
	} `json:"model"`
	Vocab struct {
		NVocab int `json:"n_vocab"`
	} `json:"vocab"`
	Prompts []struct {
		Text         string  `json:"text"`
		PromptIDs    []int32 `json:"prompt_ids"`
		GeneratedIDs []int32 `json:"generated_ids"`
		Steps        []struct {
			Pos       int          `json:"pos"`
			Token     int32        `json:"token"`
			LogSumExp float64      `json:"logsumexp"`
			Top       [][2]float64 `json:"top"`
		} `json:"steps"`
	} `json:"prompts"`
}

func loadTrace(t *testing.T, dir, stem string) *trace {
	t.Helper()
	data, err := os.ReadFile(testutil.Shared(t, "reference", dir, stem+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr trace
	if err := json.Unmarshal(data, &tr); err != nil {
		t.Fatalf("%s/%s.json: %v", dir, stem, err)
	}
	return &tr
}

// logSoftmax returns the natural-log softmax of logits, in float64.
func logSoftmax(logits []float32) []float64 {
	maxv := math.Inf(-1)
	for _, v := range logits {
		maxv = math.Max(maxv, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - maxv)
	}
	lse := maxv + math.Log(sum)
	out := make([]float64, len(logits))
	for i, v := range logits {
		out[i] = float64(v) - lse
	}
	return out
}

func argmax(logits []float32) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return int32(best)
}

// TestReferenceTraces checks, for every model of the table, that the
// teacher-forced top-10 log-probabilities agree with llama.cpp's exact-F32
// traces within the row's tolerance, and that free-running greedy decoding
// reproduces the traced ids wherever the reference's top-1/top-2 gap is
// wider than twice the tolerance.
func TestReferenceTraces(t *testing.T) {
	for _, rc := range referenceCases() {
		t.Run(rc.stem, func(t *testing.T) {
			t.Parallel()
			checkTrace(t, rc, model.DefaultBatch)
		})
	}
}

// TestSlidingWindowCache runs the sliding-window models with 3-token
// batches, so that their windowed layers keep only window+2 positions and
// the cache wraps around many times within each trace: the results must
// still match the reference.
func TestSlidingWindowCache(t *testing.T) {
	for _, rc := range referenceCases() {
		if !strings.Contains(rc.stem, "gemma") || !strings.HasSuffix(rc.stem, "F32") {
			continue
		}
		t.Run(rc.stem, func(t *testing.T) {
			t.Parallel()
			checkTrace(t, rc, 3)
		})
	}
}

func checkTrace(t *testing.T, rc refCase, batch int) {
	tr := loadTrace(t, rc.dir, rc.stem)
	f, err := gguf.Open(testutil.Shared(t, filepath.FromSlash(tr.Model.File)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.NVocab != tr.Vocab.NVocab {
		t.Fatalf("vocabulary %d, reference %d", m.NVocab, tr.Vocab.NVocab)
	}
	var worst float64
	for pi, p := range tr.Prompts {
		// Teacher forcing.
		s, err := m.NewSessionBatch(256, batch)
		if err != nil {
			t.Fatal(err)
		}
		if batch < 16 {
			wrapped := false
			for l := range m.Layers {
				if m.Layers[l].Window > 0 {
					wrapped = wrapped || s.CacheRows(l) < len(p.PromptIDs)+len(p.Steps)
				}
			}
			if !wrapped {
				t.Fatalf("no windowed layer's cache wraps around: the test would not test the ring")
			}
		}
		logits, err := s.Eval(p.PromptIDs)
		if err != nil {
			t.Fatal(err)
		}
		for i, step := range p.Steps {
			if i > 0 {
				if logits, err = s.Eval([]int32{p.GeneratedIDs[i-1]}); err != nil {
					t.Fatal(err)
				}
			}
			if s.Pos()-1 != step.Pos {
				t.Fatalf("prompt %d step %d: at position %d, reference %d", pi, i, s.Pos()-1, step.Pos)
			}
			lp := logSoftmax(logits)
			for _, e := range step.Top {
				id, want := int(e[0]), e[1]
				d := math.Abs(lp[id] - want)
				worst = math.Max(worst, d)
				if d > rc.tol {
					t.Errorf("prompt %d step %d token %d: logprob %.7f, reference %.7f (|Δ| %.2g > %.g)", pi, i, id, lp[id], want, d, rc.tol)
				}
			}
		}

		// Free-running greedy decoding.
		s, err = m.NewSessionBatch(256, batch)
		if err != nil {
			t.Fatal(err)
		}
		if logits, err = s.Eval(p.PromptIDs); err != nil {
			t.Fatal(err)
		}
		for i, step := range p.Steps {
			got := argmax(logits)
			if got != step.Token {
				gap := step.Top[0][1] - step.Top[1][1]
				if gap >= 2*rc.tol {
					t.Errorf("prompt %d: greedy token %d is %d, reference %d (reference gap %.3g)", pi, i, got, step.Token, gap)
				}
				break // after a near-tie divergence later steps are not comparable
			}
			if i+1 < len(p.Steps) {
				if logits, err = s.Eval([]int32{got}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	t.Logf("max |Δ logprob| = %.2g", worst)
}

// TestUnsupportedArchitecture checks that a model of an architecture the
// engine does not run fails at load with a message naming it.
func TestUnsupportedArchitecture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mamba.gguf")
	err := gguf.WriteFile(path, []gguf.KV{{Key: "general.architecture", Value: "mamba"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = model.Load(f, 1)
	if err == nil || !strings.Contains(err.Error(), `"mamba"`) {
		t.Fatalf("Load of a mamba model: got error %v, want one naming the architecture", err)
	}
}
