// Package server is Golem's HTTP server: Ollama's API under /api, the
// OpenAI API under /v1, and what Ollama does not offer: API keys,
// Prometheus metrics (also under vLLM's names), health and readiness
// probes, model preloading, a CORS allow-list, structured request logs and
// graceful shutdown. Models come from the store and are run by the
// scheduler, whose runners batch concurrent requests together.
package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/registry"
	"github.com/golem-llm/golem/internal/sched"
	"github.com/golem-llm/golem/internal/store"
)

// Server serves the APIs over one model store and scheduler.
type Server struct {
	cfg     Config
	store   *store.Store
	reg     *registry.Client
	sched   *sched.Scheduler
	metrics *metrics
	log     *slog.Logger
	handler http.Handler

	keyHashes    [][32]byte
	origins      []string
	loopbackOnly bool

	preloaded  atomic.Bool
	preloadMu  sync.Mutex
	preloadErr error
	draining   atomic.Bool

	// hardStop is cancelled when the shutdown grace period ends: streams
	// still running then are ended with a final error line.
	hardStop   context.Context
	cancelHard context.CancelFunc

	encMu    sync.Mutex
	encoders map[string]bool // model file -> is an embedding model

	// api is the API routes without the key check, for in-process
	// callers (EngineHandler).
	api http.Handler
	// Set before serving (Mount, SetUI, SetAuthenticator, AddReadyCheck):
	// what else the port serves and who else may use the APIs.
	mounts       []mount
	ui           http.Handler
	authenticate func(*http.Request) error
	readyChecks  []readyCheck
}

// mount is a handler serving every path under prefix.
type mount struct {
	prefix string
	h      http.Handler
}

type readyCheck struct {
	name string
	fn   func(context.Context) error
}

// New opens the store and prepares the scheduler. It loads nothing;
// Serve starts the preloads.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.Version == "" {
		cfg.Version = "0.0.0"
	}
	root := cfg.ModelsDir
	if root == "" {
		var err error
		if root, err = store.DefaultRoot(); err != nil {
			return nil, err
		}
	}
	st, err := store.New(root)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: st, log: cfg.Logger, encoders: map[string]bool{}}
	s.reg = registry.New(st, cfg.Registry)
	s.reg.Logf = func(format string, args ...any) { s.log.Info(fmt.Sprintf(format, args...)) }
	s.sched = sched.New(sched.Config{
		NumParallel: cfg.NumParallel, MaxLoaded: cfg.MaxLoaded, MemoryBudget: cfg.MemoryBudget,
		DefaultKeepAlive: cfg.KeepAlive, MaxQueue: cfg.MaxQueue, Threads: cfg.Threads, Batch: cfg.Batch,
		Resolve: s.resolvePath,
	})
	s.metrics = newMetrics(s.sched)
	for _, k := range cfg.APIKeys {
		s.keyHashes = append(s.keyHashes, sha256.Sum256([]byte(k)))
	}
	s.origins = append(append([]string{}, cfg.Origins...), defaultOrigins...)
	if host, _, err := net.SplitHostPort(cfg.Addr); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() || host == "localhost" {
			s.loopbackOnly = true
		}
	}
	s.hardStop, s.cancelHard = context.WithCancel(context.Background())
	s.preloaded.Store(len(cfg.Preload) == 0 && len(cfg.Pull) == 0)
	s.handler = s.routes()
	return s, nil
}

// Store is the model store the server uses.
func (s *Server) Store() *store.Store { return s.store }

// Scheduler is the server's scheduler.
func (s *Server) Scheduler() *sched.Scheduler { return s.sched }

// Handler is the server's HTTP handler with all middleware.
func (s *Server) Handler() http.Handler { return s.handler }

// EngineHandler serves the Ollama and OpenAI APIs (with request logs and
// metrics) without the API key check, CORS or host checks: it is for
// callers in this process that have already authenticated their users,
// such as the web UI calling the built-in engine. It must never be served
// on a port.
func (s *Server) EngineHandler() http.Handler { return s.logRequests(s.api) }

// Mount serves h for every path under prefix (which ends in "/", as
// "/pipelines/") and for the prefix without its slash, ahead of the APIs.
// Requests to it pass the request log, CORS and host checks but not
// GOLEM_API_KEYS: a mounted handler authenticates its own requests. Call it
// before serving.
func (s *Server) Mount(prefix string, h http.Handler) {
	s.mounts = append(s.mounts, mount{prefix, h})
}

// SetUI makes h answer every path the APIs leave: the web UI at / and its
// API under /api/v1/ (Ollama's API has no /api/v1 routes). The server's own
// "Ollama is running" at / gives way to it. Like a mount, h authenticates
// its own requests. Call it before serving.
func (s *Server) SetUI(h http.Handler) { s.ui = h }

// SetAuthenticator lets requests that carry a key other than the
// GOLEM_API_KEYS ones use the APIs when fn accepts them (returns nil): the
// web UI's API keys and sessions. Its error is the answer's message; an
// error with a method HTTPStatus() int sets the status (401 otherwise).
// It only matters when GOLEM_API_KEYS is set: without keys the APIs are
// open, as Ollama's. Call it before serving.
func (s *Server) SetAuthenticator(fn func(*http.Request) error) { s.authenticate = fn }

// AddReadyCheck adds a condition of readiness: /readyz answers 503 while
// fn fails (the web UI's database, for one). Call it before serving.
func (s *Server) AddReadyCheck(name string, fn func(context.Context) error) {
	s.readyChecks = append(s.readyChecks, readyCheck{name, fn})
}

// route picks the mounted handler or the UI for a request, or nil for the
// APIs.
func (s *Server) route(r *http.Request) http.Handler {
	p := r.URL.Path
	for _, m := range s.mounts {
		if strings.HasPrefix(p, m.prefix) || p == strings.TrimSuffix(m.prefix, "/") {
			return m.h
		}
	}
	if s.ui == nil || isAPIPath(p) {
		return nil
	}
	return s.ui
}

// isAPIPath reports whether p belongs to the server's own routes rather
// than to the web UI.
func isAPIPath(p string) bool {
	switch {
	case p == "/api/v1" || strings.HasPrefix(p, "/api/v1/"):
		return false
	case strings.HasPrefix(p, "/api/"), p == "/v1", strings.HasPrefix(p, "/v1/"):
		return true
	}
	return p == "/metrics" || p == "/healthz" || p == "/readyz" || p == "/api"
}

// resolvePath maps a stored model name to its GGUF file, for the scheduler.
func (s *Server) resolvePath(name string) (string, error) {
	m, err := s.store.Get(name)
	if err != nil {
		return "", err
	}
	r, err := s.store.Resolve(m.Name.String())
	if err != nil {
		return "", err
	}
	return r.ModelPath, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	root := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Ollama is running")
	}
	// GET patterns answer HEAD too; other paths get the mux's 404, and
	// known paths with the wrong method its 405, as Ollama answers them.
	mux.HandleFunc("GET /{$}", root)
	version := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.VersionResponse{Version: s.cfg.Version})
	}
	mux.HandleFunc("GET /api/version", version)

	mux.HandleFunc("POST /api/generate", s.handleGenerate)
	mux.HandleFunc("POST /api/chat", s.handleChat)
	mux.HandleFunc("POST /api/embed", s.handleEmbed)
	mux.HandleFunc("POST /api/embeddings", s.handleEmbeddings)
	mux.HandleFunc("GET /api/tags", s.handleTags)
	mux.HandleFunc("POST /api/show", s.handleShow)
	mux.HandleFunc("GET /api/ps", s.handlePs)
	mux.HandleFunc("POST /api/pull", s.handlePull)
	mux.HandleFunc("POST /api/push", s.handlePush)
	mux.HandleFunc("POST /api/create", s.handleCreate)
	mux.HandleFunc("POST /api/copy", s.handleCopy)
	mux.HandleFunc("DELETE /api/delete", s.handleDelete)
	mux.HandleFunc("HEAD /api/blobs/{digest}", s.handleHeadBlob)
	mux.HandleFunc("POST /api/blobs/{digest}", s.handlePostBlob)

	mux.HandleFunc("POST /v1/chat/completions", s.handleOpenAIChat)
	mux.HandleFunc("POST /v1/completions", s.handleOpenAICompletion)
	mux.HandleFunc("POST /v1/embeddings", s.handleOpenAIEmbeddings)
	mux.HandleFunc("GET /v1/models", s.handleOpenAIModels)
	mux.HandleFunc("GET /v1/models/{model...}", s.handleOpenAIModel)

	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.handleReady)

	s.api = mux
	keyed := s.checkAPIKey(mux)
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if other := s.route(r); other != nil {
			other.ServeHTTP(w, r)
			return
		}
		keyed.ServeHTTP(w, r)
	})
	h = s.cors(h)
	h = s.allowedHosts(h)
	h = s.logRequests(h)
	return h
}

// handleReady answers 200 once the preloaded models are in memory and the
// server is not shutting down, 503 otherwise.
//
// Probes carry no key, so /readyz answers without one; when GOLEM_API_KEYS
// is set, such an answer has the status alone, without model names or
// errors.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if anonymous, _ := r.Context().Value(anonymousKey{}).(bool); anonymous {
		rec := &statusRecorder{ResponseWriter: discardBody{w}}
		s.readiness(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		word := "ready"
		if status != http.StatusOK {
			word = "not ready"
		}
		writeJSON(w, status, map[string]string{"status": word})
		return
	}
	s.readiness(w, r)
}

// anonymousKey marks a /readyz request without a valid key.
type anonymousKey struct{}

// discardBody keeps the headers and drops the body of a response.
type discardBody struct{ http.ResponseWriter }

func (d discardBody) WriteHeader(int)             {}
func (d discardBody) Write(b []byte) (int, error) { return len(b), nil }

func (s *Server) readiness(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.draining.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
	case !s.preloaded.Load():
		s.preloadMu.Lock()
		err := s.preloadErr
		s.preloadMu.Unlock()
		msg := map[string]any{"status": "loading", "models": s.cfg.Preload, "pull": s.cfg.Pull}
		if err != nil {
			msg["status"] = "preload failed"
			msg["error"] = err.Error()
		}
		writeJSON(w, http.StatusServiceUnavailable, msg)
	default:
		for _, c := range s.readyChecks {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			err := c.fn(ctx)
			cancel()
			if err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": c.name + ": " + err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// Preload pulls the GOLEM_PULL and GOLEM_PRELOAD models the store lacks,
// then loads the GOLEM_PRELOAD ones and keeps them loaded. Serve calls it
// in the background; readiness follows its success.
func (s *Server) Preload(ctx context.Context) error {
	if len(s.cfg.Preload) == 0 && len(s.cfg.Pull) == 0 {
		s.preloaded.Store(true)
		return nil
	}
	// A model the store lacks is pulled first, so a fresh container with
	// GOLEM_PRELOAD=llama3 becomes ready once llama3 is downloaded and
	// loaded, and one with GOLEM_PULL=llama3 once it is downloaded.
	seen := map[string]bool{}
	for _, name := range append(append([]string{}, s.cfg.Pull...), s.cfg.Preload...) {
		if seen[name] {
			continue
		}
		seen[name] = true
		_, err := s.store.Get(name)
		if errors.Is(err, store.ErrNotFound) {
			s.log.Info("pulling a model at start", "model", name)
			last := ""
			err = s.reg.Pull(ctx, name, func(p store.Progress) {
				if p.Status != last {
					last = p.Status
					s.log.Info("pull", "model", name, "status", p.Status)
				}
			})
		}
		if err != nil {
			err = fmt.Errorf("pulling %s at start: %w", name, err)
			s.setPreloadErr(err)
			return err
		}
	}
	if len(s.cfg.Preload) > 0 {
		start := time.Now()
		if err := s.sched.Preload(ctx, s.cfg.Preload); err != nil {
			s.setPreloadErr(err)
			return err
		}
		s.log.Info("preloaded models", "models", s.cfg.Preload, "duration", time.Since(start))
	}
	s.preloaded.Store(true)
	return nil
}

func (s *Server) setPreloadErr(err error) {
	s.preloadMu.Lock()
	s.preloadErr = err
	s.preloadMu.Unlock()
	s.log.Error("preload failed", "error", err)
}

// Serve answers requests on ln until ctx ends, then shuts down
// gracefully: readiness turns 503, new connections are refused, running
// requests (streams included) get ShutdownTimeout to finish, and those
// still running after it end with a final {"error": "server is shutting
// down"} line. Models are unloaded last.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	preloadCtx, stopPreload := context.WithCancel(ctx)
	defer stopPreload()
	go s.Preload(preloadCtx)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "version", s.cfg.Version, "models", s.store.Root,
		"api_keys", len(s.keyHashes) > 0, "preload", s.cfg.Preload, "pull", s.cfg.Pull)
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", s.cfg.ShutdownTimeout)
	s.draining.Store(true)
	stopPreload()
	grace, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	err := hs.Shutdown(grace)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) {
		// End the streams still running, give them a moment to write
		// their last line, then close what is left.
		s.cancelHard()
		late, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = hs.Shutdown(late)
		cancel()
		if err != nil {
			hs.Close()
		}
	}
	s.Close()
	s.log.Info("stopped")
	return nil
}

// Close unloads every model. Requests still running fail.
func (s *Server) Close() {
	s.cancelHard()
	s.sched.Close()
}
