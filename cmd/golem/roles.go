package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/auth"
	"github.com/golem-llm/golem/internal/pipelines"
	"github.com/golem-llm/golem/internal/server"
	"github.com/golem-llm/golem/internal/webui"
)

// The roles of `golem serve` (docs/roles.md): everything on one port (the
// default), the model server alone, or the web UI alone.
const (
	roleAll    = "all"
	roleEngine = "engine"
	roleUI     = "ui"
)

// parseRole checks a --role value; "" is the all-in-one default.
func parseRole(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", roleAll:
		return roleAll, nil
	case roleEngine:
		return roleEngine, nil
	case roleUI:
		return roleUI, nil
	}
	return "", fmt.Errorf("unknown role %q: want engine (the model APIs) or ui (the web UI and its API); without --role everything runs in one process", s)
}

// uiDefaultPort is where `golem serve --role ui` listens unless GOLEM_HOST
// or --host names a port.
const uiDefaultPort = "8080"

// listenAddr reads a listen address as GOLEM_HOST takes it, with defPort
// when it names none; "" is 127.0.0.1:defPort.
func listenAddr(s, defPort string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return net.JoinHostPort("127.0.0.1", defPort), nil
	}
	u, err := api.ParseHost(s)
	if err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(u.Host)
	if port == api.DefaultPort && !strings.Contains(s, api.DefaultPort) {
		port = defPort
	}
	return net.JoinHostPort(host, port), nil
}

// golemHome is the data folder: $GOLEM_HOME, else ~/.golem.
func golemHome(getenv func(string) string) (string, error) {
	if h := getenv("GOLEM_HOME"); h != "" {
		return h, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no GOLEM_HOME and no home directory: %v", err)
	}
	return filepath.Join(home, ".golem"), nil
}

// roleApp is what one `golem serve` process serves on its port.
type roleApp struct {
	role    string
	handler http.Handler
	// serve answers on ln until ctx ends, then shuts down gracefully.
	serve func(ctx context.Context, ln net.Listener) error
	// close releases what compose opened; serve has returned.
	close func()
	// notes are printed at start, below the listening line.
	notes []string
}

// compose builds the role's handlers. addr is the listener's address (the
// all-in-one's pipelines call the engine's OpenAI API there).
func compose(ctx context.Context, role string, cfg server.Config, addr net.Addr, getenv func(string) string) (*roleApp, error) {
	switch role {
	case roleEngine:
		s, err := server.New(cfg)
		if err != nil {
			return nil, err
		}
		return &roleApp{role: role, handler: s.Handler(), serve: s.Serve, close: func() {}}, nil
	case roleUI:
		return composeUI(cfg, getenv)
	case roleAll:
		return composeAll(ctx, cfg, addr, getenv)
	}
	return nil, fmt.Errorf("unknown role %q", role)
}

// composeAll is the embedded default: the model APIs, the web UI at / with
// its API under /api/v1/, and a Pipelines server under /pipelines/ that the
// UI knows as its built-in Pipelines connection.
func composeAll(ctx context.Context, cfg server.Config, addr net.Addr, getenv func(string) string) (*roleApp, error) {
	home, err := golemHome(getenv)
	if err != nil {
		return nil, err
	}
	s, err := server.New(cfg)
	if err != nil {
		return nil, err
	}
	m, key, err := embeddedPipelines(ctx, cfg, home, addr, getenv)
	if err != nil {
		s.Close()
		return nil, err
	}
	ui, err := webui.New(webui.Config{
		DataDir:      home,
		Engine:       s.EngineHandler(),
		Pipelines:    m.Handler(),
		PipelinesKey: key,
		Getenv:       getenv,
		Logger:       cfg.Logger,
		Version:      cfg.Version,
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.SetUI(ui)
	s.Mount("/pipelines/", http.StripPrefix("/pipelines", m.Handler()))
	s.SetAuthenticator(uiAuthenticator(ui.Auth()))
	s.AddReadyCheck("database", ui.Ready)
	base := "http://" + loopbackFor(addr)
	return &roleApp{
		role: roleAll, handler: s.Handler(), serve: s.Serve,
		close: func() { ui.Close() },
		notes: []string{
			"Web UI at " + base + "/ (Ollama API at /api, OpenAI API at /v1, pipelines at /pipelines)",
		},
	}, nil
}

// embeddedPipelines opens the all-in-one's Pipelines server: data in
// PIPELINES_DIR (default $GOLEM_HOME/pipelines), its key PIPELINES_API_KEY or
// one generated once and kept there, models.* calling this process's
// OpenAI API.
func embeddedPipelines(ctx context.Context, cfg server.Config, home string, addr net.Addr, getenv func(string) string) (*pipelines.Manager, string, error) {
	dir := getenv("PIPELINES_DIR")
	if dir == "" {
		dir = filepath.Join(home, "pipelines")
	}
	key := getenv("PIPELINES_API_KEY")
	if key == "" {
		var err error
		if key, err = storedKey(filepath.Join(dir, ".api-key")); err != nil {
			return nil, "", fmt.Errorf("pipelines: %v", err)
		}
	}
	hosts, err := pipelines.ParseHostList(getenv("PIPELINES_HTTP_ALLOW"))
	if err != nil {
		return nil, "", fmt.Errorf("PIPELINES_HTTP_ALLOW: %v", err)
	}
	modelsURL := getenv("PIPELINES_MODELS_URL")
	if modelsURL == "" {
		modelsURL = "http://" + loopbackFor(addr) + "/v1"
	}
	modelsKey := getenv("PIPELINES_MODELS_API_KEY")
	if modelsKey == "" && len(cfg.APIKeys) > 0 {
		modelsKey = cfg.APIKeys[0]
	}
	m, err := pipelines.Open(ctx, pipelines.Options{
		Dir: dir, APIKey: key, AllowHosts: hosts, ModelsURL: modelsURL, ModelsAPIKey: modelsKey, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, "", err
	}
	if urls := getenv("PIPELINES_URLS"); urls != "" {
		for _, e := range m.InstallURLs(ctx, urls) {
			cfg.Logger.Error("PIPELINES_URLS", "error", e.Error())
		}
	}
	return m, key, nil
}

// storedKey reads the key kept in path, or makes one and keeps it there.
// Two processes starting at once agree: the file appears whole (a hard
// link of a finished temporary file) and the first one wins.
func storedKey(path string) (string, error) {
	read := func() (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		k := strings.TrimSpace(string(b))
		if k == "" {
			return "", fmt.Errorf("%s is empty: delete it to have a new key made", path)
		}
		return k, nil
	}
	if k, err := read(); !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".api-key-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(b) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	return read()
}

// loopbackFor is the address to reach a listener from this machine: its
// own, with the loopback address for one listening on every interface.
func loopbackFor(addr net.Addr) string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := ta.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}

// httpStatusError carries the status the API key check answers with.
type httpStatusError struct {
	status int
	msg    string
}

func (e *httpStatusError) Error() string   { return e.msg }
func (e *httpStatusError) HTTPStatus() int { return e.status }

// uiAuthenticator lets the web UI's API keys (sk-…) and session tokens open
// the model APIs when GOLEM_API_KEYS is set, for accounts that are
// approved. Only a key the client sent counts: cookies are ignored, so a
// web page elsewhere cannot use a signed-in browser's session.
func uiAuthenticator(a *auth.Service) func(*http.Request) error {
	return func(r *http.Request) error {
		key := ""
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, rest, _ := strings.Cut(h, " ")
			if strings.EqualFold(scheme, "Bearer") {
				key = strings.TrimSpace(rest)
			}
		} else {
			key = strings.TrimSpace(r.Header.Get("X-Api-Key"))
		}
		if key == "" {
			return &httpStatusError{http.StatusUnauthorized, "missing API key"}
		}
		in := r.Clone(r.Context())
		in.Header.Del("Cookie")
		in.Header.Set("Authorization", "Bearer "+key)
		p, err := a.Authenticate(in)
		var ae *auth.Error
		switch {
		case errors.As(err, &ae):
			return &httpStatusError{ae.Status, "invalid API key: " + ae.Detail}
		case err != nil:
			return err
		case p == nil:
			return &httpStatusError{http.StatusUnauthorized, "invalid API key"}
		case p.Role == auth.RolePending:
			return &httpStatusError{http.StatusForbidden, "account pending approval: an admin must approve it before its keys work"}
		}
		return nil
	}
}

// composeUI is the web UI alone: its pages and API, with /healthz and
// /readyz (the database answers), reaching models through the connections
// of its environment (OLLAMA_BASE_URL(S), OPENAI_API_BASE_URL(S)) and
// those its admins add.
func composeUI(cfg server.Config, getenv func(string) string) (*roleApp, error) {
	home, err := golemHome(getenv)
	if err != nil {
		return nil, err
	}
	ui, err := webui.New(webui.Config{DataDir: home, Getenv: getenv, Logger: cfg.Logger, Version: cfg.Version})
	if err != nil {
		return nil, err
	}
	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusOK, "ok", "")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			writeStatus(w, http.StatusServiceUnavailable, "shutting down", "")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := ui.Ready(ctx); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, "not ready", err.Error())
			return
		}
		writeStatus(w, http.StatusOK, "ready", "")
	})
	mux.Handle("/", ui)
	h := logRequests(cfg.Logger, mux)
	serve := func(ctx context.Context, ln net.Listener) error {
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)}
		errc := make(chan error, 1)
		go func() { errc <- hs.Serve(ln) }()
		cfg.Logger.Info("listening", "role", roleUI, "addr", ln.Addr().String(), "version", cfg.Version)
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		draining.Store(true)
		grace, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := hs.Shutdown(grace); err != nil {
			hs.Close()
		}
		cfg.Logger.Info("stopped")
		return nil
	}
	return &roleApp{role: roleUI, handler: h, serve: serve, close: func() { ui.Close() }}, nil
}

func writeStatus(w http.ResponseWriter, status int, word, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if detail != "" {
		fmt.Fprintf(w, "{\"status\":%q,\"error\":%q}\n", word, detail)
		return
	}
	fmt.Fprintf(w, "{\"status\":%q}\n", word)
}

// logRequests logs one line per request of the UI role; a panic is logged
// and answered 500.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					http.Error(rec, "internal error", http.StatusInternalServerError)
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			level := slog.LevelInfo
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
				level = slog.LevelDebug
			}
			if status >= 500 {
				level = slog.LevelWarn
			}
			log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", status,
				"duration", time.Since(start), "bytes", rec.bytes, "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(rec, r)
	})
}

// statusWriter remembers a response's status and size; Flush and Unwrap
// pass through, so streamed answers stay streamed.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
