package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	oapi "github.com/ollama/ollama/api"

	"github.com/golem-llm/golem/tools/genmodel"
)

// The benchmarks below run on a ~1B-parameter model: the random-weight
// TinyLlama-1.1B shape that tools/genmodel builds and `golem bench
// --generate` caches (Q4_K_M, or the type in GOLEM_BENCH_TYPE: F16, Q8_0,
// ...), or the GGUF named by GOLEM_BENCH_MODEL. Only `go test -bench` runs
// them; generating a model takes a few minutes the first time.
//
//	go test ./internal/server -run '^$' -bench . -benchtime 3x
//	GOLEM_BENCH_TYPE=Q8_0 go test ./internal/server -run '^$' -bench ParallelStreams -benchtime 2x

func benchModel(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("GOLEM_BENCH_MODEL"); p != "" {
		return p
	}
	shape := os.Getenv("GOLEM_BENCH_SHAPE")
	if shape == "" {
		shape = "tinyllama-1.1b"
	}
	s, ok := genmodel.Shapes[shape]
	if !ok {
		b.Fatalf("unknown GOLEM_BENCH_SHAPE %q (have %v)", shape, genmodel.ShapeNames())
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	dir = filepath.Join(dir, "golem", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	typ := os.Getenv("GOLEM_BENCH_TYPE")
	if typ == "" {
		typ = "Q4_K_M"
	}
	// The same file name as `golem bench --shape S --type T`.
	path := filepath.Join(dir, shape+"-"+typ+"-seed1.gguf")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	b.Logf("generating %s (%.2fB parameters)...", path, float64(s.Params())/1e9)
	if err := genmodel.Generate(context.Background(), path, s, typ, genmodel.Options{Seed: 1}); err != nil {
		b.Fatal(err)
	}
	return path
}

var benchAggregate = map[int]float64{} // streams -> tokens/s

// benchStreams starts a test server with the benchmark model loaded and
// returns a client for it and the tokens each stream generates (128, or
// GOLEM_BENCH_PREDICT).
func benchStreams(b *testing.B) (*oapi.Client, int) {
	path := benchModel(b)
	ts := newTestServer(b, func(c *Config) { c.NumParallel = 8; c.Threads = 0; c.NumCtx = 512 })
	ts.create(b, "bench", path)
	c := ts.ollama(b, "")
	f := false
	// Load once outside the timing.
	if err := c.Generate(context.Background(), &oapi.GenerateRequest{Model: "bench", Prompt: "x", Raw: true, Stream: &f,
		Options: map[string]any{"num_predict": 1}}, func(oapi.GenerateResponse) error { return nil }); err != nil {
		b.Fatal(err)
	}
	n := 128
	if v := os.Getenv("GOLEM_BENCH_PREDICT"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("GOLEM_BENCH_PREDICT=%q: want a positive number of tokens", v)
		}
	}
	return c, n
}

// runStreams sends streams concurrent greedy requests of n tokens each,
// with prompts that differ by run, and returns the tokens generated and
// the wall time from the first request to the last answer.
func runStreams(b *testing.B, c *oapi.Client, streams, n, run int) (int64, time.Duration) {
	f := false
	var tokens int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	for s := 0; s < streams; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r oapi.GenerateResponse
			err := c.Generate(context.Background(), &oapi.GenerateRequest{Model: "bench", Raw: true, Stream: &f,
				Prompt:  fmt.Sprintf("stream %d of run %d: once upon a time", s, run),
				Options: map[string]any{"temperature": 0, "num_predict": n}}, func(g oapi.GenerateResponse) error { r = g; return nil })
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			tokens += int64(r.EvalCount)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return tokens, time.Since(start)
}

// BenchmarkParallelStreams reports the aggregate generation speed of 1, 2,
// 4 and 8 concurrent streams on one model through /api/generate. Each
// stream has its own prompt (about a dozen tokens) and generates 128
// tokens greedily (llama-bench's tg128; GOLEM_BENCH_PREDICT changes it);
// the server decodes them together by continuous batching. The aggregate
// is all streams' generated tokens over the wall time from the first
// request to the last answer, prompt processing included. Runs with more
// than one stream also report their speed-up over one stream (the target
// for four is at least 2.5x); BenchmarkStreamsSpeedup measures that ratio
// in alternating pairs, which a shared machine's swings distort less.
func BenchmarkParallelStreams(b *testing.B) {
	c, n := benchStreams(b)
	run := 0
	for _, streams := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			var tokens int64
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				t, d := runStreams(b, c, streams, n, run)
				run++
				tokens += t
				elapsed += d
			}
			rate := float64(tokens) / elapsed.Seconds()
			benchAggregate[streams] = rate
			b.ReportMetric(rate, "tok/s")
			b.ReportMetric(rate/float64(streams), "tok/s/stream")
			if one := benchAggregate[1]; one > 0 && streams > 1 {
				b.ReportMetric(rate/one, "x_vs_1_stream")
			}
		})
	}
}

// BenchmarkStreamsSpeedup measures the speed-up of four streams over one
// as the median of b.N pairs, each a one-stream run followed at once by a
// four-stream run (same generation length, different prompts), so that
// both sides of a ratio see the machine in the same state: on a shared
// machine the memory bandwidth a single stream depends on moves from one
// minute to the next. It also reports the medians of the two aggregates.
//
//	go test ./internal/server -run '^$' -bench StreamsSpeedup -benchtime 5x
func BenchmarkStreamsSpeedup(b *testing.B) {
	c, n := benchStreams(b)
	var ones, fours, ratios []float64
	for i := 0; i < b.N; i++ {
		t1, d1 := runStreams(b, c, 1, n, 2*i)
		t4, d4 := runStreams(b, c, 4, n, 2*i+1)
		one, four := float64(t1)/d1.Seconds(), float64(t4)/d4.Seconds()
		b.Logf("pair %d: 1 stream %.1f tok/s, 4 streams %.1f tok/s: %.2fx", i+1, one, four, four/one)
		ones, fours, ratios = append(ones, one), append(fours, four), append(ratios, four/one)
	}
	b.ReportMetric(median(ones), "tok/s_1_stream")
	b.ReportMetric(median(fours), "tok/s_4_streams")
	b.ReportMetric(median(ratios), "x_4_vs_1_median")
	b.ReportMetric(slices.Min(ratios), "x_4_vs_1_min")
}

// median is the middle value of v (the mean of the middle two when even).
func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkPrefixCacheTTFT measures the time to the first token of a
// chat's first turn (a long system prompt and a question) and of its
// second turn (the same conversation plus the answer and a new question),
// which reuses the first turn's KV cache. It reports the second turn's
// time to first token as a fraction of the first's (target: <= 0.2).
func BenchmarkPrefixCacheTTFT(b *testing.B) {
	path := benchModel(b)
	ts := newTestServer(b, func(c *Config) { c.NumParallel = 2; c.Threads = 0; c.NumCtx = 2048 })
	ts.create(b, "bench", path, `TEMPLATE """{{ range .Messages }}<{{ .Role }}>{{ .Content }}
{{ end }}<assistant>"""`)
	system := strings.Repeat("You are a careful assistant who answers questions about the weather in short sentences. ", 12)
	ttft := func(msgs []oapi.Message) (time.Duration, string) {
		body := mustJSON(b, oapi.ChatRequest{Model: "bench", Messages: msgs, Options: map[string]any{"temperature": 0, "num_predict": 8}})
		start := time.Now()
		resp, err := http.Post(ts.url+"/api/chat", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var first time.Duration
		var answer strings.Builder
		for sc.Scan() {
			if first == 0 {
				first = time.Since(start)
			}
			var r oapi.ChatResponse
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				b.Fatal(err)
			}
			answer.WriteString(r.Message.Content)
		}
		return first, answer.String()
	}
	var t1, t2 time.Duration
	for i := 0; i < b.N; i++ {
		// A new system prompt each iteration so turn 1 is never cached.
		msgs := []oapi.Message{{Role: "system", Content: fmt.Sprintf("Session %d. %s", i, system)},
			{Role: "user", Content: "What is the weather like in Paris today?"}}
		d1, answer := ttft(msgs)
		msgs = append(msgs, oapi.Message{Role: "assistant", Content: answer}, oapi.Message{Role: "user", Content: "And tomorrow?"})
		d2, _ := ttft(msgs)
		t1 += d1
		t2 += d2
	}
	b.ReportMetric(float64(t1.Milliseconds())/float64(b.N), "ms_ttft_turn1")
	b.ReportMetric(float64(t2.Milliseconds())/float64(b.N), "ms_ttft_turn2")
	b.ReportMetric(float64(t2)/float64(t1), "turn2/turn1")
}
