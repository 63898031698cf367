//go:build browser

package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/registry"
	"github.com/golem-llm/golem/internal/registry/registrytest"
	"github.com/golem-llm/golem/internal/server"
	"github.com/golem-llm/golem/internal/testutil"
	"github.com/golem-llm/golem/internal/webui"
)

// modelName is what the flow pulls: the seed pulls "llama3" from Ollama's library; the tests pull this
// tiny model from a loopback registry that stands in for it (GOLEM_REGISTRY_MIRROR's role).
const modelName = "stories260k"

// registryFor starts the test registry with stories260K published as library/stories260k:latest.
func registryFor(t *testing.T) *registrytest.Server {
	t.Helper()
	reg := registrytest.New(t, registrytest.Options{Auth: true, Redirect: true})
	if _, err := reg.AddModel("library/"+modelName, "latest", registrytest.Model{
		GGUF: testutil.Shared(t, "testdata", "models", "stories260K.gguf"),
	}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// golemServer is one Golem server: the UI and its API and the built-in engine's APIs on one port.
// Restart keeps the address, the data dir, the model store and the database.
type golemServer interface {
	URL() string
	Restart()
	Stop()
}

// newGolem starts `golem serve` as a process when the binary serves the UI, else (GOLEM_E2E_SERVER=
// inprocess, or a binary without the UI) the same composition in this process.
func newGolem(t *testing.T, dataDir, modelsDir, dbURL, registryURL string) golemServer {
	t.Helper()
	mode := os.Getenv("GOLEM_E2E_SERVER")
	if mode != "inprocess" {
		p := startProcess(t, dataDir, modelsDir, dbURL, registryURL)
		if p.servesUI() {
			return p
		}
		p.Stop()
		if mode == "process" {
			t.Fatal("GOLEM_E2E_SERVER=process, but `golem serve` does not serve the web UI (/api/v1/config)")
		}
		t.Log("`golem serve` does not serve the web UI yet: testing the same composition in-process")
	}
	return newInProcess(t, dataDir, modelsDir, dbURL, registryURL)
}

// golem is Golem composed in this process as `golem serve` composes it: the UI and its API
// (internal/webui) and the built-in engine's Ollama and OpenAI APIs (internal/server) on one port.
// Stop and Start keep the address, as a restart of the process would.
type golem struct {
	t         *testing.T
	addr      string
	dataDir   string
	modelsDir string
	dbURL     string
	registry  string
	hs        *http.Server
	eng       *server.Server
	ui        *webui.Handler
	done      chan struct{}
}

func newInProcess(t *testing.T, dataDir, modelsDir, dbURL, registryURL string) *golem {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &golem{t: t, addr: ln.Addr().String(), dataDir: dataDir, modelsDir: modelsDir, dbURL: dbURL, registry: registryURL}
	g.start(ln)
	t.Cleanup(g.Stop)
	return g
}

func (g *golem) URL() string { return "http://" + g.addr }

func (g *golem) start(ln net.Listener) {
	t := g.t
	eng, err := server.New(server.Config{
		Addr:        g.addr,
		ModelsDir:   g.modelsDir,
		Registry:    registry.Config{Mirrors: map[string]string{"registry.ollama.ai": g.registry}},
		NumParallel: 2,
		Version:     "e2e",
	})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	env := map[string]string{"WEBUI_SECRET_KEY": ""}
	ui, err := webui.New(webui.Config{
		DataDir:     g.dataDir,
		DatabaseURL: g.dbURL,
		Engine:      eng.Handler(),
		Getenv:      func(k string) string { return env[k] },
		Version:     "e2e",
	})
	if err != nil {
		t.Fatalf("webui: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", ui)
	mux.Handle("/api/", eng.Handler())
	mux.Handle("/v1/", eng.Handler())
	mux.Handle("/", ui)
	g.eng, g.ui = eng, ui
	g.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	g.done = make(chan struct{})
	go func() {
		defer close(g.done)
		if err := g.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve %s: %v", g.addr, err)
		}
	}()
}

// Stop ends the server as a process exit would: connections closed, models unloaded, database closed.
func (g *golem) Stop() {
	if g.hs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	g.hs.Shutdown(ctx)
	cancel()
	g.hs.Close()
	<-g.done
	g.eng.Close()
	g.ui.Close()
	g.hs = nil
}

// Start starts it again on the same address.
func (g *golem) Start() {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", g.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		g.t.Fatalf("listen again on %s: %v", g.addr, err)
	}
	g.start(ln)
}

func (g *golem) Restart() {
	g.Stop()
	g.Start()
}

// slowServer is an Ollama-API model server on another port that relays a real one and holds each line
// of a streamed answer back for delay: a model server far away, or a slow GPU. With it a test can watch
// tokens arrive one by one, and press stop in the middle of an answer.
func slowServer(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = u.Scheme, u.Host, u.Host, ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		stream := strings.HasPrefix(r.URL.Path, "/api/chat") || strings.HasPrefix(r.URL.Path, "/api/generate")
		if !stream {
			io.Copy(w, resp.Body)
			return
		}
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
					return
				}
				if _, werr := w.Write(line); werr != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// roundRobin is a load balancer in front of several replicas: each request goes to the next one, so a
// page's requests alternate between them.
type roundRobin struct {
	URL     string
	n       atomic.Uint64
	counts  []atomic.Int64
	targets []*url.URL
}

func newRoundRobin(t *testing.T, targets ...string) *roundRobin {
	t.Helper()
	rr := &roundRobin{counts: make([]atomic.Int64, len(targets))}
	for _, s := range targets {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		rr.targets = append(rr.targets, u)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := int((rr.n.Add(1) - 1) % uint64(len(rr.targets)))
			rr.counts[i].Add(1)
			pr.SetURL(rr.targets[i])
			pr.Out.Host = pr.In.Host
		},
		FlushInterval: -1,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: proxy}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	rr.URL = "http://" + ln.Addr().String()
	return rr
}

func tempDirs(t *testing.T) (data, models string) {
	d := t.TempDir()
	return filepath.Join(d, "data"), filepath.Join(d, "models")
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// golemBinary builds cmd/golem once per test run.
func golemBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "golem-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "golem")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/golem")
		cmd.Dir = testutil.RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/golem: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// process is `golem serve` running as a child process.
type process struct {
	t    *testing.T
	addr string
	env  []string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

func startProcess(t *testing.T, dataDir, modelsDir, dbURL, registryURL string) *process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.CreateTemp(t.TempDir(), "golem-serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, addr: addr, log: logf, env: append(os.Environ(),
		"GOLEM_HOST="+addr, "GOLEM_HOME="+dataDir, "GOLEM_MODELS="+modelsDir, "DATABASE_URL="+dbURL,
		"GOLEM_REGISTRY_MIRROR="+registryURL, "GOLEM_SHUTDOWN_TIMEOUT=2s", "GOLEM_NUM_PARALLEL=2",
		"OLLAMA_BASE_URL=", "OLLAMA_BASE_URLS=", "OPENAI_API_BASE_URL=", "OPENAI_API_BASE_URLS=",
		"OPENAI_API_KEY=", "OPENAI_API_KEYS=", "ENABLE_SIGNUP=", "DEFAULT_USER_ROLE=", "WEBUI_SECRET_KEY=")}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

func (p *process) URL() string { return "http://" + p.addr }

func (p *process) Start() {
	t := p.t
	p.cmd = exec.Command(golemBinary(t), "serve")
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start golem serve: %v", err)
	}
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.URL() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("golem serve exited at start: %s", p.logText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("golem serve did not answer /healthz within 30 s: %s", p.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *process) servesUI() bool {
	resp, err := http.Get(p.URL() + "/api/v1/config")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
}

func (p *process) logText() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop ends the process as an operator would: SIGTERM, then a kill if it hangs.
func (p *process) Stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

func (p *process) Restart() {
	p.Stop()
	p.Start()
}
