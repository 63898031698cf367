package webui

import (
	"context"
	"net/http/httptest"
	"sort"
	"testing"
	"time"
)

// firstTokenDelay measures, for one completion, how long the engine's first piece takes to reach the
// client as an SSE delta: from the moment the engine flushed it to the moment the client parsed it.
// The engine holds the rest of the answer until then, so nothing else is in flight.
func firstTokenDelay(t testing.TB, A *client, engine *fakeOllama, chatID, conn string) time.Duration {
	engine.gate = make(chan struct{})
	defer close(engine.gate)
	_, evs := A.stream(context.Background(), "/api/v1/chats/"+chatID+"/completions",
		map[string]any{"content": "Go", "model": "stories260K:latest", "connection_id": conn})
	var sent time.Time
	for ev := range evs {
		if ev.name == "delta" {
			got := time.Now()
			select {
			case sent = <-engine.firstSent:
			case <-time.After(5 * time.Second):
				t.Fatal("engine did not report its first piece")
			}
			go func() {
				for range evs {
				}
			}()
			return got.Sub(sent)
		}
	}
	t.Fatal("no delta event")
	return 0
}

func latencySetup(t testing.TB, builtin bool) (*client, *fakeOllama, string, string) {
	engine := newFakeOllama("stories260K:latest")
	engine.firstSent = make(chan time.Time, 1)
	var A *client
	conn := "builtin"
	if builtin {
		A, _ = admin(t, engine, nil)
	} else {
		remote := httptest.NewServer(engine)
		t.Cleanup(remote.Close)
		A, _ = admin(t, nil, map[string]string{"OLLAMA_BASE_URL": remote.URL})
		conn = "env-ollama-0"
	}
	id := A.must(201, "POST", "/api/v1/chats", map[string]any{"title": "latency"})["id"].(string)
	return A, engine, id, conn
}

// The bound: the first streamed token reaches the browser within 50 ms of the engine producing
// it, through the built-in (in-process) connection and through a remote Ollama-API connection.
func TestFirstTokenLatency(t *testing.T) {
	for _, builtin := range []bool{true, false} {
		A, engine, id, conn := latencySetup(t, builtin)
		var ds []time.Duration
		for range 9 {
			ds = append(ds, firstTokenDelay(t, A, engine, id, conn))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		t.Logf("%s: first token engine → client: median %v, max %v", conn, ds[4], ds[8])
		if ds[4] > 50*time.Millisecond {
			t.Errorf("%s: median first-token delay %v, want under 50ms (all: %v)", conn, ds[4], ds)
		}
	}
}

// BenchmarkFirstToken reports the engine-to-client delay of the first token (ns/op is one whole
// completion; first-token-µs is the delay itself).
func BenchmarkFirstToken(b *testing.B) {
	for _, builtin := range []bool{true, false} {
		name := "remote"
		if builtin {
			name = "builtin"
		}
		b.Run(name, func(b *testing.B) {
			A, engine, id, conn := latencySetup(b, builtin)
			var total time.Duration
			for b.Loop() {
				total += firstTokenDelay(b, A, engine, id, conn)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "first-token-µs")
		})
	}
}
