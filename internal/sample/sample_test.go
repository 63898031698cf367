package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// mustNew builds a Sampler or fails the test.
func mustNew(t testing.TB, o Options) *Sampler {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return s
}

// plain returns options with every filter and penalty off.
func plain(temp float32, seed int64) Options {
	return Options{Temperature: temp, TopP: 1, RepeatPenalty: 1, Seed: seed}
}

// logProbs returns ln(p) for each p, as logits whose softmax is p.
func logProbs(p ...float64) []float32 {
	l := make([]float32, len(p))
	for i, v := range p {
		l[i] = float32(math.Log(v))
	}
	return l
}

func randomLogits(r *rand.Rand, n int, step float32) []float32 {
	l := make([]float32, n)
	for i := range l {
		v := float32(r.NormFloat64() * 3)
		if step > 0 { // quantise to force ties
			v = float32(math.Round(float64(v/step))) * step
		}
		l[i] = v
	}
	return l
}

func TestDefaultOptions(t *testing.T) {
	want := Options{Temperature: 0.8, TopK: 40, TopP: 0.9, MinP: 0, RepeatPenalty: 1.1,
		RepeatLastN: 64, PresencePenalty: 0, FrequencyPenalty: 0, Seed: -1}
	if got := DefaultOptions(); got != want {
		t.Fatalf("DefaultOptions() = %+v, want %+v", got, want)
	}
	if err := want.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestGreedy(t *testing.T) {
	cases := []struct {
		name   string
		logits []float32
		want   int32
	}{
		{"single", []float32{-3}, 0},
		{"max in middle", []float32{0.1, 2, 5, -1, 4.99}, 2},
		{"max last", []float32{0, 1, 2, 3}, 3},
		{"tie goes to lowest id", []float32{1, 7, 3, 7, 7}, 1},
		{"tie at start", []float32{9, 9}, 0},
		{"NaN never wins", []float32{float32(math.NaN()), 1, float32(math.NaN()), 2}, 3},
		{"all -Inf", []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, 0},
		{"negative", []float32{-5, -2, -3}, 1},
	}
	for _, c := range cases {
		for _, seed := range []int64{1, 2, -1} {
			// Filters must not matter at temperature 0.
			o := DefaultOptions()
			o.Temperature, o.Seed = 0, seed
			s := mustNew(t, o)
			for range 3 {
				if got := s.Sample(c.logits); got != c.want {
					t.Fatalf("%s (seed %d): got %d, want %d", c.name, seed, got, c.want)
				}
			}
		}
	}
}

func TestGreedyRandomVocab(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := mustNew(t, plain(0, 1))
	for trial := range 50 {
		l := randomLogits(r, 1000+trial, 0.5)
		want := 0
		for i, v := range l {
			if v > l[want] {
				want = i
			}
		}
		if got := s.Sample(l); int(got) != want {
			t.Fatalf("trial %d: got %d, want %d", trial, got, want)
		}
	}
}

func TestTopK1IsGreedy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, temp := range []float32{0.01, 0.5, 1, 3, 100} {
		o := plain(temp, 7)
		o.TopK = 1
		s := mustNew(t, o)
		g := mustNew(t, plain(0, 7))
		for trial := range 30 {
			l := randomLogits(r, 500, 0.25) // ties likely
			if got, want := s.Sample(l), g.Sample(l); got != want {
				t.Fatalf("temp %v trial %d: top_k=1 gave %d, greedy %d", temp, trial, got, want)
			}
		}
	}
}

// refTruncate is a deliberately naive reference: full stable sort, then each
// filter straight from its definition, probabilities in float64.
func refTruncate(l []float32, o Options) []int32 {
	ids := make([]int32, len(l))
	for i := range ids {
		ids[i] = int32(i)
	}
	slices.SortStableFunc(ids, func(a, b int32) int {
		switch {
		case l[a] > l[b]:
			return -1
		case l[a] < l[b]:
			return 1
		}
		return 0
	})
	if o.TopK > 0 && o.TopK < len(ids) {
		ids = ids[:o.TopK]
	}
	probs := func() []float64 {
		p := make([]float64, len(ids))
		var z float64
		for i, id := range ids {
			p[i] = math.Exp(float64(l[id]) - float64(l[ids[0]]))
			z += p[i]
		}
		for i := range p {
			p[i] /= z
		}
		return p
	}
	if o.TopP < 1 {
		p := probs()
		var cum float64
		for i := range ids {
			cum += p[i]
			if cum >= float64(o.TopP) {
				ids = ids[:i+1]
				break
			}
		}
	}
	if o.MinP > 0 {
		p := probs()
		keep := 1
		for keep < len(ids) && p[keep] >= float64(o.MinP)*p[0] {
			keep++
		}
		ids = ids[:keep]
	}
	slices.Sort(ids)
	return ids
}

func TestTruncationMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 7, 300, 5000} {
		for _, step := range []float32{0, 0.125} {
			l := randomLogits(r, n, step)
			for _, k := range []int{0, 1, 3, 40, n - 1, n, n + 5} {
				for _, p := range []float32{0, 0.3, 0.9, 0.999, 1} {
					for _, mp := range []float32{0, 0.05, 0.5} {
						o := plain(1, 1)
						o.TopK, o.TopP, o.MinP = k, p, mp
						s := mustNew(t, o)
						var got []int32
						for _, c := range s.truncate(l) {
							got = append(got, c.id)
						}
						slices.Sort(got)
						want := refTruncate(l, o)
						if !slices.Equal(got, want) {
							t.Fatalf("n=%d step=%v top_k=%d top_p=%v min_p=%v: kept %d tokens %v, want %d tokens %v",
								n, step, k, p, mp, len(got), head(got), len(want), head(want))
						}
					}
				}
			}
		}
	}
}

func head(ids []int32) []int32 {
	if len(ids) > 12 {
		return ids[:12]
	}
	return ids
}

// TestTopPNeedsGrowth makes top_p over an unsorted full vocabulary go past
// the first partial-sort window, and checks the kept set by hand.
func TestTopPNeedsGrowth(t *testing.T) {
	const n = 10000
	for _, p := range []float32{0.5, 0.0256, 0.02561, 0.999} {
		l := make([]float32, n) // flat: every token has probability 1/n
		o := plain(1, 1)
		o.TopP = p
		s := mustNew(t, o)
		// cum reaches p·n (integer weights, exact sums) at ceil(p·n).
		want := int(math.Ceil(float64(p) * n))
		var got []int32
		for _, c := range s.truncate(l) {
			got = append(got, c.id)
		}
		slices.Sort(got)
		if len(got) != want {
			t.Fatalf("top_p %v: kept %d tokens, want %d", p, len(got), want)
		}
		for i, id := range got { // equal logits: lowest ids win
			if id != int32(i) {
				t.Fatalf("top_p %v: kept id %d at rank %d, want %d", p, id, i, i)
			}
		}
	}
}

// chiSquareCrit approximates the chi-square quantile with df degrees of
// freedom at upper tail ~1e-6 (Wilson–Hilferty, z = 4.75).
func chiSquareCrit(df int) float64 {
	d := float64(df)
	a := 2 / (9 * d)
	return d * math.Pow(1-a+4.75*math.Sqrt(a), 3)
}

// checkDraws samples draws times and checks the counts against want (a
// distribution over the vocabulary; zeros must never be drawn).
func checkDraws(t *testing.T, name string, s *Sampler, l []float32, want []float64, draws int) []int {
	t.Helper()
	counts := make([]int, len(l))
	for range draws {
		id := s.Sample(l)
		if id < 0 || int(id) >= len(l) {
			t.Fatalf("%s: id %d out of range", name, id)
		}
		counts[id]++
	}
	var chi float64
	df := -1
	for i, p := range want {
		if p == 0 {
			if counts[i] != 0 {
				t.Fatalf("%s: token %d drawn %d times, but it should have been cut", name, i, counts[i])
			}
			continue
		}
		e := p * float64(draws)
		d := float64(counts[i]) - e
		chi += d * d / e
		df++
	}
	if df > 0 {
		if crit := chiSquareCrit(df); chi > crit {
			t.Fatalf("%s: chi-square %.1f > %.1f (df %d): counts %v, want probs %v", name, chi, crit, df, counts, want)
		}
	}
	return counts
}

// softmaxOver returns softmax(l/temp) restricted to keep, zero elsewhere.
func softmaxOver(l []float32, temp float64, keep ...int) []float64 {
	p := make([]float64, len(l))
	var z float64
	for _, i := range keep {
		p[i] = math.Exp(float64(l[i]) / temp)
		z += p[i]
	}
	for _, i := range keep {
		p[i] /= z
	}
	return p
}

func TestEmpiricalDistributions(t *testing.T) {
	const draws = 100000
	l8 := []float32{1, 3, 2, 0.5, 2.5, -1, 0, 1.5}
	p4 := logProbs(0.5, 0.3, 0.15, 0.05)
	q4 := logProbs(0.4, 0.3, 0.2, 0.1)
	cases := []struct {
		name   string
		o      Options
		logits []float32
		want   []float64
	}{
		{"full softmax", plain(1, 11), l8, softmaxOver(l8, 1, 0, 1, 2, 3, 4, 5, 6, 7)},
		{"top_k 3", func() Options { o := plain(1, 12); o.TopK = 3; return o }(), l8, softmaxOver(l8, 1, 1, 4, 2)},
		{"top_k 3 temp 0.7", func() Options { o := plain(0.7, 13); o.TopK = 3; return o }(), l8, softmaxOver(l8, 0.7, 1, 4, 2)},
		// 0.5 < 0.75 <= 0.8: the token that crosses p is kept.
		{"top_p 0.75", func() Options { o := plain(1, 14); o.TopP = 0.75; return o }(), p4, []float64{0.5 / 0.8, 0.3 / 0.8, 0, 0}},
		// top_p picks its set before temperature: a hot temperature
		// flattens the two survivors but cannot bring back the others.
		{"top_p 0.75 temp 3", func() Options { o := plain(3, 15); o.TopP = 0.75; return o }(), p4, softmaxOver(p4, 3, 0, 1)},
		{"top_p 0 keeps one", func() Options { o := plain(1, 16); o.TopP = 0; return o }(), p4, []float64{1, 0, 0, 0}},
		// min_p 0.35 → threshold 0.14: keeps 0.4, 0.3, 0.2.
		{"min_p 0.35", func() Options { o := plain(1, 17); o.MinP = 0.35; return o }(), q4, []float64{0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9, 0}},
		// min_p 0.6 → threshold 0.24: keeps 0.4, 0.3.
		{"min_p 0.6 temp 2", func() Options { o := plain(2, 18); o.MinP = 0.6; return o }(), q4, softmaxOver(q4, 2, 0, 1)},
		// top_k 3 → {0.4,0.3,0.2}, renormalised {4/9,3/9,2/9}; top_p 0.5
		// → {0,1}; min_p 0.8 of 4/7 → threshold 0.457 > 3/7: {0}.
		{"chain k p", func() Options { o := plain(1, 19); o.TopK, o.TopP = 3, 0.5; return o }(), q4, []float64{4.0 / 7, 3.0 / 7, 0, 0}},
		{"chain k p min", func() Options { o := plain(1, 20); o.TopK, o.TopP, o.MinP = 3, 0.5, 0.8; return o }(), q4, []float64{1, 0, 0, 0}},
	}
	for _, c := range cases {
		checkDraws(t, c.name, mustNew(t, c.o), c.logits, c.want, draws)
	}
}

// TestChiSquareCanFail shows the distribution check has teeth: a sampler
// whose temperature is off by 10% is caught.
func TestChiSquareCanFail(t *testing.T) {
	l8 := []float32{1, 3, 2, 0.5, 2.5, -1, 0, 1.5}
	s := mustNew(t, plain(1.1, 21))
	want := softmaxOver(l8, 1, 0, 1, 2, 3, 4, 5, 6, 7)
	counts := make([]int, len(l8))
	const draws = 100000
	for range draws {
		counts[s.Sample(l8)]++
	}
	var chi float64
	for i, p := range want {
		e := p * draws
		chi += (float64(counts[i]) - e) * (float64(counts[i]) - e) / e
	}
	if chi <= chiSquareCrit(7) {
		t.Fatalf("chi-square %.1f did not reject a wrong temperature (crit %.1f)", chi, chiSquareCrit(7))
	}
}

func TestTemperatureEntropy(t *testing.T) {
	const draws = 100000
	l := []float32{2, 1, 0.5, 0, -0.5, -1, -2, 1.5}
	all := []int{0, 1, 2, 3, 4, 5, 6, 7}
	entropy := func(p []float64) float64 {
		var h float64
		for _, v := range p {
			if v > 0 {
				h -= v * math.Log(v)
			}
		}
		return h
	}
	prev := -1.0
	for i, temp := range []float32{0.25, 0.5, 1, 2, 4} {
		want := softmaxOver(l, float64(temp), all...)
		counts := checkDraws(t, "temperature", mustNew(t, plain(temp, int64(30+i))), l, want, draws)
		emp := make([]float64, len(counts))
		for j, c := range counts {
			emp[j] = float64(c) / draws
		}
		h := entropy(emp)
		if math.Abs(h-entropy(want)) > 0.02 {
			t.Fatalf("temp %v: empirical entropy %.4f, expected %.4f", temp, h, entropy(want))
		}
		if h <= prev {
			t.Fatalf("temp %v: entropy %.4f did not rise above %.4f", temp, h, prev)
		}
		prev = h
	}
}

func TestPenaltiesTransform(t *testing.T) {
	base := []float32{0.5, 2, -1, 0, 3, 1, 1, 1, 1, 4}
	hist := []int32{9, 1, 2, 1, 3, 1} // token 9 is oldest
	const rep, freq, pres = float32(2), float32(0.5), float32(0.25)
	pen := func(v float32, c int) float32 {
		if v <= 0 {
			v *= rep
		} else {
			v /= rep
		}
		return v - (float32(c)*freq + pres)
	}
	cases := []struct {
		lastN  int
		counts map[int]int // token → occurrences in the window
	}{
		{4, map[int]int{2: 1, 1: 2, 3: 1}},        // window: 2 1 3 1
		{-1, map[int]int{9: 1, 1: 3, 2: 1, 3: 1}}, // whole history
		{100, map[int]int{9: 1, 1: 3, 2: 1, 3: 1}},
		{1, map[int]int{1: 1}},
		{0, map[int]int{}}, // disabled
	}
	for _, c := range cases {
		o := plain(1, 1)
		o.RepeatPenalty, o.FrequencyPenalty, o.PresencePenalty, o.RepeatLastN = rep, freq, pres, c.lastN
		s := mustNew(t, o)
		for _, id := range hist {
			s.Accept(id)
		}
		for round := range 2 { // the second round checks the counts were cleared
			in := slices.Clone(base)
			got := s.penalised(in)
			if !slices.Equal(in, base) {
				t.Fatalf("last_n %d: caller's logits modified: %v", c.lastN, in)
			}
			for i, v := range base {
				want := v
				if n, ok := c.counts[i]; ok {
					want = pen(v, n)
				}
				if got[i] != want {
					t.Fatalf("last_n %d round %d: logit %d = %v, want %v (all: %v)", c.lastN, round, i, got[i], want, got)
				}
			}
		}
	}
}

func TestPenaltyValues(t *testing.T) {
	// Hand-computed: rep 2, freq 0.5, pres 0.25.
	o := plain(1, 1)
	o.RepeatPenalty, o.FrequencyPenalty, o.PresencePenalty, o.RepeatLastN = 2, 0.5, 0.25, 64
	s := mustNew(t, o)
	for _, id := range []int32{0, 0, 1, 2} {
		s.Accept(id)
	}
	got := s.penalised([]float32{2, -1, 0, 5})
	want := []float32{
		2.0/2 - (2*0.5 + 0.25), // positive, seen twice: -0.25
		-1*2 - (0.5 + 0.25),    // negative, once: -2.75
		0 - (0.5 + 0.25),       // zero counts as non-positive: -0.75
		5,                      // unseen
	}
	if !slices.Equal(got, want) {
		t.Fatalf("penalised = %v, want %v", got, want)
	}
}

func TestPenaltyRingAndReset(t *testing.T) {
	o := plain(1, 1)
	o.RepeatPenalty, o.RepeatLastN = 2, 3
	s := mustNew(t, o)
	for id := range int32(10) {
		s.Accept(id)
	}
	l := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	got := s.penalised(l)
	for i, v := range got {
		want := float32(1)
		if i >= 7 { // window is the last three: 7 8 9
			want = 0.5
		}
		if v != want {
			t.Fatalf("logit %d = %v, want %v (all %v)", i, v, want, got)
		}
	}
	s.Reset()
	if got := s.penalised(l); !slices.Equal(got, l) {
		t.Fatalf("after Reset penalties still apply: %v", got)
	}
}

func TestPenaltyOutOfRangeIDs(t *testing.T) {
	o := plain(0, 1)
	o.RepeatPenalty, o.PresencePenalty, o.RepeatLastN = 1.5, 1, -1
	s := mustNew(t, o)
	for _, id := range []int32{-5, 1 << 30, 3, -1} {
		s.Accept(id)
	}
	got := s.penalised([]float32{1, 1, 1, 3})
	want := []float32{1, 1, 1, 3/1.5 - 1}
	if !slices.Equal(got, want) {
		t.Fatalf("penalised = %v, want %v", got, want)
	}
}

func TestPenaltyChangesGreedy(t *testing.T) {
	l := []float32{2.0, 1.9, 0}
	o := plain(0, 1)
	o.RepeatPenalty, o.RepeatLastN = 1.1, 64
	s := mustNew(t, o)
	if got := s.Sample(l); got != 0 {
		t.Fatalf("no history: got %d, want 0", got)
	}
	s.Accept(0) // 2.0/1.1 = 1.818 < 1.9
	if got := s.Sample(l); got != 1 {
		t.Fatalf("after accepting 0: got %d, want 1", got)
	}
	if l[0] != 2.0 {
		t.Fatalf("Sample modified the caller's logits: %v", l)
	}
}

func TestFrequencyPresenceSampling(t *testing.T) {
	// Negative penalties raise a token; with presence -10 the seen token
	// should dominate a draw that otherwise favours token 0.
	l := []float32{1, 0, 0, 0}
	o := plain(1, 3)
	o.PresencePenalty, o.RepeatLastN = -10, 64
	s := mustNew(t, o)
	s.Accept(2)
	want := softmaxOver([]float32{1, 0, 10, 0}, 1, 0, 1, 2, 3)
	checkDraws(t, "presence -10", s, l, want, 50000)
}

func TestSeeds(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	l := randomLogits(r, 2000, 0)
	run := func(s *Sampler, n int) []int32 {
		out := make([]int32, n)
		for i := range out {
			out[i] = s.Sample(l)
			s.Accept(out[i])
		}
		return out
	}
	o := DefaultOptions()
	o.Temperature, o.TopK, o.Seed = 1.5, 0, 42
	a := run(mustNew(t, o), 300)
	b := run(mustNew(t, o), 300)
	if !slices.Equal(a, b) {
		t.Fatal("same seed gave different sequences")
	}
	o.Seed = 43
	c := run(mustNew(t, o), 300)
	if slices.Equal(a, c) {
		t.Fatal("seeds 42 and 43 gave the same sequence")
	}

	// Reset replays a fixed seed.
	o.Seed = 42
	s := mustNew(t, o)
	run(s, 50)
	s.Reset()
	if d := run(s, 300); !slices.Equal(a, d) {
		t.Fatal("Reset did not replay the sequence")
	}

	// A random seed is reported and can be replayed.
	o.Seed = -1
	s = mustNew(t, o)
	if s.Seed() < 0 {
		t.Fatalf("Seed() = %d, want >= 0", s.Seed())
	}
	x := run(s, 300)
	o.Seed = s.Seed()
	if y := run(mustNew(t, o), 300); !slices.Equal(x, y) {
		t.Fatal("replaying the reported random seed gave a different sequence")
	}
	o.Seed = -1
	if z := run(mustNew(t, o), 300); slices.Equal(x, z) {
		t.Fatal("two random-seed samplers gave the same sequence")
	}
}

func TestValidation(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	bad := []struct {
		field string
		edit  func(*Options)
	}{
		{"temperature", func(o *Options) { o.Temperature = -0.1 }},
		{"temperature", func(o *Options) { o.Temperature = nan }},
		{"temperature", func(o *Options) { o.Temperature = inf }},
		{"top_p", func(o *Options) { o.TopP = -0.01 }},
		{"top_p", func(o *Options) { o.TopP = 1.5 }},
		{"top_p", func(o *Options) { o.TopP = nan }},
		{"min_p", func(o *Options) { o.MinP = 1.01 }},
		{"min_p", func(o *Options) { o.MinP = nan }},
		{"repeat_penalty", func(o *Options) { o.RepeatPenalty = 0 }},
		{"repeat_penalty", func(o *Options) { o.RepeatPenalty = -1 }},
		{"repeat_penalty", func(o *Options) { o.RepeatPenalty = nan }},
		{"repeat_last_n", func(o *Options) { o.RepeatLastN = -2 }},
		{"presence_penalty", func(o *Options) { o.PresencePenalty = nan }},
		{"frequency_penalty", func(o *Options) { o.FrequencyPenalty = -inf }},
	}
	for _, b := range bad {
		o := DefaultOptions()
		b.edit(&o)
		s, err := New(o)
		if err == nil || s != nil {
			t.Fatalf("%s: New(%+v) accepted bad options", b.field, o)
		}
		if !strings.Contains(err.Error(), b.field) {
			t.Fatalf("%s: error %q does not name the option", b.field, err)
		}
	}
	good := []func(*Options){
		func(o *Options) { o.Temperature = 0 },
		func(o *Options) { o.TopP = 0 },
		func(o *Options) { o.TopP = 1 },
		func(o *Options) { o.TopK = -5 },
		func(o *Options) { o.MinP = 1 },
		func(o *Options) { o.MinP = -1 },
		func(o *Options) { o.RepeatLastN = -1 },
		func(o *Options) { o.RepeatLastN = 0 },
		func(o *Options) { o.PresencePenalty, o.FrequencyPenalty = -2, 2 },
		func(o *Options) { o.Seed = math.MinInt64 },
	}
	for i, g := range good {
		o := DefaultOptions()
		g(&o)
		if _, err := New(o); err != nil {
			t.Fatalf("good case %d (%+v): %v", i, o, err)
		}
	}
}

func TestEdgeInputs(t *testing.T) {
	s := mustNew(t, DefaultOptions())
	if got := s.Sample(nil); got != -1 {
		t.Fatalf("Sample(nil) = %d, want -1", got)
	}
	if _, err := s.SampleChecked(nil); err == nil {
		t.Fatal("SampleChecked(nil) gave no error")
	}
	ninf := float32(math.Inf(-1))
	pinf := float32(math.Inf(1))
	nan := float32(math.NaN())
	inputs := []struct {
		l    []float32
		want int32 // -1: any valid id
	}{
		{[]float32{ninf, ninf, ninf}, 0},
		{[]float32{nan, nan, 1, nan}, 2},
		{[]float32{0, pinf, 0, 0}, 1},
		{[]float32{nan, ninf, 5, pinf, pinf}, -1},
	}
	for _, topK := range []int{0, 1, 2, 40} {
		for _, topP := range []float32{0.5, 1} {
			for _, minP := range []float32{0, 0.1} {
				o := plain(1, 5)
				o.TopK, o.TopP, o.MinP = topK, topP, minP
				s := mustNew(t, o)
				for _, in := range inputs {
					got := s.Sample(in.l)
					if got < 0 || int(got) >= len(in.l) || (in.want >= 0 && got != in.want) {
						t.Fatalf("%+v on %v: got %d, want %d", o, in.l, got, in.want)
					}
				}
			}
		}
	}
}

func TestVocabSizeChanges(t *testing.T) {
	o := DefaultOptions()
	o.Seed = 1
	s := mustNew(t, o)
	s.Accept(5)
	s.Accept(900)
	for _, n := range []int{10, 1000, 3, 2000} {
		l := make([]float32, n)
		for i := range l {
			l[i] = float32(i % 7)
		}
		if got := s.Sample(l); got < 0 || int(got) >= n {
			t.Fatalf("vocab %d: id %d out of range", n, got)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	l := randomLogits(r, 32000, 0)
	configs := map[string]func(*Options){
		"default":      func(o *Options) {},
		"greedy":       func(o *Options) { o.Temperature = 0 },
		"full top_p":   func(o *Options) { o.TopK = 0 },
		"full min_p":   func(o *Options) { o.TopK, o.TopP, o.MinP = 0, 1, 0.05 },
		"full dist":    func(o *Options) { o.TopK, o.TopP = 0, 1 },
		"all history":  func(o *Options) { o.RepeatLastN = -1; o.FrequencyPenalty = 0.1 },
		"no penalties": func(o *Options) { o.RepeatPenalty = 1 },
	}
	for name, edit := range configs {
		o := DefaultOptions()
		o.Seed = 9
		edit(&o)
		s := mustNew(t, o)
		for range 200 { // fill the window and grow every buffer
			s.Accept(s.Sample(l))
		}
		if o.RepeatLastN < 0 {
			// A whole-history window grows with each token by design;
			// only Sample itself must not allocate.
			if a := testing.AllocsPerRun(50, func() { s.Sample(l) }); a != 0 {
				t.Fatalf("%s: %v allocs per Sample", name, a)
			}
			continue
		}
		if a := testing.AllocsPerRun(50, func() { s.Accept(s.Sample(l)) }); a != 0 {
			t.Fatalf("%s: %v allocs per Sample+Accept", name, a)
		}
	}
}

func benchSample(b *testing.B, edit func(*Options)) {
	r := rand.New(rand.NewPCG(12, 13))
	l := randomLogits(r, 150000, 0)
	o := DefaultOptions()
	o.Seed = 1
	edit(&o)
	s := mustNew(b, o)
	for range 100 {
		s.Accept(s.Sample(l))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Accept(s.Sample(l))
	}
}

func BenchmarkSample150k(b *testing.B) {
	b.Run("default", func(b *testing.B) { benchSample(b, func(o *Options) {}) })
	b.Run("greedy", func(b *testing.B) { benchSample(b, func(o *Options) { o.Temperature = 0 }) })
	b.Run("top_p_no_top_k", func(b *testing.B) { benchSample(b, func(o *Options) { o.TopK = 0 }) })
	b.Run("min_p_no_top_k", func(b *testing.B) { benchSample(b, func(o *Options) { o.TopK, o.TopP, o.MinP = 0, 1, 0.05 }) })
	b.Run("full_softmax", func(b *testing.B) { benchSample(b, func(o *Options) { o.TopK, o.TopP = 0, 1 }) })
}

// TestMinPBoundary puts a token just inside and just outside the min_p
// threshold, on both the sorted path (after top_k) and the unsorted one.
func TestMinPBoundary(t *testing.T) {
	q4 := logProbs(0.4, 0.3, 0.2, 0.1) // 0.2 is exactly half of 0.4
	for _, topK := range []int{0, 4, 3} {
		for _, c := range []struct {
			minP float32
			keep int
		}{{0.499, 3}, {0.501, 2}, {0.2499, 4}, {0.2501, 3}, {1, 1}} {
			o := plain(1, 1)
			o.TopK, o.MinP = topK, c.minP
			s := mustNew(t, o)
			want := min(c.keep, 3)
			if topK == 0 || topK == 4 {
				want = c.keep
			}
			if got := len(s.truncate(q4)); got != want {
				t.Fatalf("top_k %d min_p %v: kept %d, want %d", topK, c.minP, got, want)
			}
		}
	}
}
