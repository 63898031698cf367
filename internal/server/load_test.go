package server

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoad is a bounded load test on loopback: 16 workers send a mix of
// generate, chat and OpenAI requests (streaming and not), embeddings and
// model listings to three small models for at most 4 seconds or 600
// requests. Every answer must be a success or a deliberate 503 (the queue
// is kept small so some are refused), streams must end properly, and
// afterwards the heap and the goroutine count return to their baseline.
func TestLoad(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.NumParallel = 2; c.MaxQueue = 2 })
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	ts.create(t, "qwen", modelFile(t, "synthetic", "syn-qwen2-256-Q8_0.gguf"), "TEMPLATE \"\"\""+chatMLTemplate(t)+"\"\"\"")
	ts.create(t, "bert", modelFile(t, "synthetic", "syn-bert-128-Q8_0.gguf"))
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	type req struct{ method, path, body string }
	mix := []req{
		{"POST", "/api/generate", `{"model":"stories","prompt":"Once upon a time","options":{"num_predict":24}}`},
		{"POST", "/api/generate", `{"model":"stories","prompt":"The dog","stream":false,"options":{"num_predict":16,"temperature":0}}`},
		{"POST", "/api/chat", `{"model":"qwen","messages":[{"role":"user","content":"Hi"}],"options":{"num_predict":16}}`},
		{"POST", "/api/chat", `{"model":"qwen","stream":false,"format":"json","messages":[{"role":"user","content":"JSON please"}],"options":{"num_predict":40}}`},
		{"POST", "/v1/chat/completions", `{"model":"qwen","stream":true,"max_tokens":12,"messages":[{"role":"user","content":"Hello"}]}`},
		{"POST", "/v1/completions", `{"model":"stories","prompt":"Lily","max_tokens":12}`},
		{"POST", "/api/embed", `{"model":"bert","input":["a cat","a dog"]}`},
		{"GET", "/api/tags", ``},
		{"GET", "/api/ps", ``},
		{"POST", "/api/show", `{"model":"qwen"}`},
		{"GET", "/metrics", ``},
	}
	send := func(r req) (int, error) {
		hr, err := http.NewRequest(r.method, ts.url+r.path, strings.NewReader(r.body))
		if err != nil {
			return 0, err
		}
		resp, err := hc.Do(hr)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			io.Copy(io.Discard, resp.Body)
			return resp.StatusCode, nil
		}
		// A stream must end with its final event and carry no error line.
		var last string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<16), 1<<24)
		for sc.Scan() {
			if l := sc.Text(); l != "" {
				last = l
				if strings.HasPrefix(l, `{"error"`) || strings.HasPrefix(l, `data: {"error"`) {
					return 0, fmt.Errorf("%s: error line %s", r.path, l)
				}
			}
		}
		if err := sc.Err(); err != nil {
			return 0, err
		}
		switch {
		case r.path == "/v1/chat/completions" && last != "data: [DONE]",
			strings.HasPrefix(r.path, "/api/") && strings.Contains(r.body, `"messages"`) && !strings.Contains(last, `"done":true`):
			return 0, fmt.Errorf("%s: stream ended with %q", r.path, last)
		}
		return 200, nil
	}
	// Warm up: load every model once, then take the baseline.
	for _, r := range mix {
		if st, err := send(r); err != nil || st != 200 {
			t.Fatalf("warm-up %s: %d %v", r.path, st, err)
		}
	}
	baseHeap, baseG := settle()

	const workers, maxRequests = 16, 600
	deadline := time.Now().Add(4 * time.Second)
	var sent, ok, busy atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i += workers {
				if sent.Add(1) > maxRequests {
					return
				}
				r := mix[i%len(mix)]
				st, err := send(r)
				switch {
				case err == nil && st == 200:
					ok.Add(1)
				case err == nil && st == http.StatusServiceUnavailable:
					busy.Add(1)
				default:
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s %s: status %d, %v", r.method, r.path, st, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	hc.CloseIdleConnections()
	t.Logf("load: %d ok, %d deliberate 503s, %d failures", ok.Load(), busy.Load(), len(failures))
	if len(failures) > 0 {
		t.Fatalf("%d failures, first: %s", len(failures), failures[0])
	}
	if ok.Load() < 50 {
		t.Fatalf("only %d requests succeeded", ok.Load())
	}
	heap, g := settle()
	t.Logf("heap %d -> %d bytes, goroutines %d -> %d", baseHeap, heap, baseG, g)
	if heap > baseHeap+baseHeap/4+8<<20 {
		t.Fatalf("heap did not return to its baseline: %d bytes before, %d after", baseHeap, heap)
	}
	if g > baseG+4 {
		t.Fatalf("goroutines did not return to their baseline: %d before, %d after", baseG, g)
	}
}

// settle waits for background work to finish and returns the live heap
// and the goroutine count.
func settle() (uint64, int) {
	var ms runtime.MemStats
	var g int
	for i := 0; i < 20; i++ {
		runtime.GC()
		debug.FreeOSMemory()
		time.Sleep(20 * time.Millisecond)
		if n := runtime.NumGoroutine(); n == g {
			break
		} else {
			g = n
		}
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, runtime.NumGoroutine()
}
