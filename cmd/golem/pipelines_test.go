package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPipelinesCommand runs `golem pipelines` on a free port with
// PIPELINES_URLS, checks the key on a route, that the example pipeline was
// installed and persisted, and that a signal stops it cleanly.
func TestPipelinesCommand(t *testing.T) {
	dir := t.TempDir()
	example, err := filepath.Abs(filepath.Join("..", "..", "examples", "pipelines", "turn_limit.star"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PIPELINES_API_KEY", "cmd-key")
	t.Setenv("PIPELINES_URLS", "file://"+example)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old := pipelinesSignals
	pipelinesSignals = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	defer func() { pipelinesSignals = old }()

	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"pipelines", "--host", "127.0.0.1", "--port", "0", "--data-dir", dir}, nil, &stdout, &stderr)
	}()
	addr := ""
	re := regexp.MustCompile(`listening on (http://\S+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("exited with %d: %s %s", code, stdout.String(), stderr.String())
		default:
		}
	}
	if addr == "" {
		t.Fatalf("no address in %q (stderr %q)", stdout.String(), stderr.String())
	}
	get := func(path, key string) (int, []byte) {
		req, _ := http.NewRequest("GET", addr+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if status, _ := get("/v1/models", ""); status != 401 {
		t.Fatalf("without key: %d", status)
	}
	if status, _ := get("/v1/models", "0p3n-w3bu!"); status != 401 {
		t.Fatalf("with the upstream default key while another is set: %d", status)
	}
	status, body := get("/v1/models", "cmd-key")
	var ml struct {
		Pipelines bool `json:"pipelines"`
		Data      []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ml); status != 200 || err != nil || !ml.Pipelines || len(ml.Data) != 1 || ml.Data[0].ID != "turn_limit" {
		t.Fatalf("models: %d %s", status, body)
	}
	if _, err := os.Stat(filepath.Join(dir, "turn_limit.star")); err != nil {
		t.Fatalf("PIPELINES_URLS did not install into the data dir: %v", err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop")
	}
}

func TestPipelinesCommandDefaultKeyWarns(t *testing.T) {
	t.Setenv("PIPELINES_API_KEY", "")
	t.Setenv("PIPELINES_URLS", "")
	ctx, cancel := context.WithCancel(context.Background())
	old := pipelinesSignals
	pipelinesSignals = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	defer func() { pipelinesSignals = old }()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"pipelines", "--host", "127.0.0.1", "--port", "0", "--data-dir", t.TempDir()}, nil, &stdout, &stderr)
	}()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(stdout.String(), "listening"); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 || !strings.Contains(stderr.String(), "PIPELINES_API_KEY is not set") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if code := Main([]string{"pipelines", "--allow-host", "http://x/y"}, nil, &stdout, &stderr); code != 2 {
		t.Fatalf("a URL as --allow-host: exit %d", code)
	}
}

// TestPipelinesHostAndProbes: PIPELINES_HOST is the listen address (flags
// win over it), and /healthz and /readyz answer without the key while
// everything else still needs it.
func TestPipelinesHostAndProbes(t *testing.T) {
	t.Setenv("PIPELINES_API_KEY", "probe-key")
	t.Setenv("PIPELINES_URLS", "")
	t.Setenv("PIPELINES_HOST", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old := pipelinesSignals
	pipelinesSignals = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	defer func() { pipelinesSignals = old }()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- Main([]string{"pipelines", "--data-dir", t.TempDir()}, nil, &stdout, &stderr) }()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	addr := ""
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		}
	}
	if !strings.HasPrefix(addr, "http://127.0.0.1:") || strings.HasSuffix(addr, ":9099") {
		t.Fatalf("PIPELINES_HOST=127.0.0.1:0 not honoured: %q (stderr %q)", addr, stderr.String())
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if status, _, body := call(t, "GET", addr+p, "", nil); status != 200 {
			t.Errorf("%s without the key: %d %s", p, status, body)
		}
	}
	if status, _, _ := call(t, "GET", addr+"/v1/models", "", nil); status != 401 {
		t.Errorf("/v1/models without the key: %d", status)
	}
	if status, _, _ := call(t, "GET", addr+"/v1/models", "probe-key", nil); status != 200 {
		t.Errorf("/v1/models with the key: %d", status)
	}
	// The probe command agrees.
	var out, errb strings.Builder
	if code := Main([]string{"probe", addr + "/healthz", addr + "/readyz"}, nil, &out, &errb); code != 0 {
		t.Errorf("golem probe of the pipelines' health: exit %d %s", code, errb.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestPipelinesListen(t *testing.T) {
	for _, c := range []struct {
		in   string
		host string
		port int
	}{
		{"", "0.0.0.0", 9099},
		{"127.0.0.1", "127.0.0.1", 9099},
		{"0.0.0.0:9100", "0.0.0.0", 9100},
		{"[::1]:9101", "::1", 9101},
		{"::", "::", 9099},
	} {
		if h, p := pipelinesListen(c.in); h != c.host || p != c.port {
			t.Errorf("pipelinesListen(%q) = %q, %d; want %q, %d", c.in, h, p, c.host, c.port)
		}
	}
	// The chart's flags override PIPELINES_HOST; a bad port is refused.
	var out, errb strings.Builder
	if code := Main([]string{"pipelines", "--port", "70000"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "70000") {
		t.Fatalf("--port 70000: exit %d %q", code, errb.String())
	}
}
