package grammar

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	tv := llama3Vocab(t)
	g := JSON()
	m := g.NewMatcher(tv.vocab)
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, tv.vocab.Size())
	var out []byte
	for step := 0; step < 200 && !m.Done(); step++ {
		for i := range logits {
			logits[i] = 0
		}
		t0 := time.Now()
		m.Mask(logits)
		d := time.Since(t0)
		var allowed []int32
		for i, l := range logits {
			if !math.IsInf(float64(l), -1) {
				allowed = append(allowed, int32(i))
			}
		}
		if len(allowed) == 0 {
			t.Fatalf("no tokens allowed after %q", out)
		}
		id := allowed[rng.IntN(len(allowed))]
		t.Logf("step %d: %v, %d allowed, pick %q", step, d, len(allowed), tv.pieces[id])
		if err := m.Accept(id); err != nil {
			t.Fatal(err)
		}
		out = append(out, tv.pieces[id]...)
	}
	t.Logf("%s", out)
}
