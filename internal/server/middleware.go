package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// statusRecorder remembers the status and size of a response and passes
// Flush through, so streaming keeps working under the middleware.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// endpointOf names a request's route for metrics and logs without the
// unbounded parts (blob digests, model ids).
func endpointOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/blobs/"):
		return "/api/blobs/{digest}"
	case strings.HasPrefix(p, "/v1/models/"):
		return "/v1/models/{model}"
	}
	switch p {
	case "/", "/api/version", "/api/generate", "/api/chat", "/api/embed", "/api/embeddings", "/api/tags",
		"/api/show", "/api/ps", "/api/pull", "/api/push", "/api/create", "/api/copy", "/api/delete",
		"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models", "/metrics", "/healthz", "/readyz":
		return p
	}
	return "other"
}

// reqInfo collects what a handler learns about a request (the model, the
// tokens) for its log line.
type reqInfo struct {
	mu                 sync.Mutex
	model              string
	promptTokens, eval int
	cached             int
	reason             string
}

type reqInfoKey struct{}

// noteModel records the model a request used, for its log line.
func noteModel(ctx context.Context, model string) {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		ri.mu.Lock()
		ri.model = model
		ri.mu.Unlock()
	}
}

// noteGeneration records a finished generation's counts.
func noteGeneration(ctx context.Context, prompt, cached, eval int, reason string) {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		ri.mu.Lock()
		ri.promptTokens += prompt
		ri.cached += cached
		ri.eval += eval
		ri.reason = reason
		ri.mu.Unlock()
	}
}

// logRequests logs one structured line per request when it ends, and
// counts it in the metrics. A panic in a handler is logged with its stack
// and answered 500; the server keeps serving.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		ep := endpointOf(r)
		ri := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
		s.metrics.inflight.Inc()
		defer func() {
			s.metrics.inflight.Dec()
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeJSON(rec, http.StatusInternalServerError, map[string]string{"error": fmt.Sprintf("internal error: %v", v)})
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			if r.Context().Err() != nil && status == http.StatusOK && rec.bytes == 0 {
				status = statusClientClosed
			}
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(ep, strconv.Itoa(status)).Inc()
			s.metrics.requestDuration.WithLabelValues(ep).Observe(d.Seconds())
			level := slog.LevelInfo
			if ep == "/healthz" || ep == "/readyz" || ep == "/metrics" {
				level = slog.LevelDebug
			}
			if status >= 500 {
				level = slog.LevelWarn
			}
			attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status,
				"duration", d, "bytes", rec.bytes, "remote", r.RemoteAddr, "user_agent", r.UserAgent()}
			ri.mu.Lock()
			if ri.model != "" {
				attrs = append(attrs, "model", ri.model)
			}
			if ri.reason != "" {
				attrs = append(attrs, "prompt_tokens", ri.promptTokens, "cached_tokens", ri.cached, "eval_tokens", ri.eval, "done_reason", ri.reason)
			}
			ri.mu.Unlock()
			s.log.Log(r.Context(), level, "request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// checkAPIKey requires one of the configured keys on every endpoint but
// the probes /healthz and /readyz (which answers the status alone without
// a key), as "Authorization: Bearer KEY" (or "x-api-key: KEY", which
// some OpenAI-style clients send). Keys are compared by their hashes in
// constant time.
func (s *Server) checkAPIKey(next http.Handler) http.Handler {
	if len(s.keyHashes) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		key := ""
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, rest, _ := strings.Cut(h, " ")
			if strings.EqualFold(scheme, "Bearer") {
				key = strings.TrimSpace(rest)
			}
		} else {
			key = strings.TrimSpace(r.Header.Get("X-Api-Key"))
		}
		if r.URL.Path == "/readyz" && !s.validKey(r, key) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), anonymousKey{}, true)))
			return
		}
		if key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="golem"`)
			s.writeAuthError(w, r, "missing API key: send it as \"Authorization: Bearer <key>\"")
			return
		}
		if !s.keyListed(key) {
			status, msg := http.StatusUnauthorized, "invalid API key"
			if s.authenticate != nil {
				err := s.authenticate(r)
				if err == nil {
					next.ServeHTTP(w, r)
					return
				}
				msg = err.Error()
				var se interface{ HTTPStatus() int }
				if errors.As(err, &se) && se.HTTPStatus() >= 400 {
					status = se.HTTPStatus()
				}
			}
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="golem", error="invalid_token"`)
			}
			s.writeAuthStatus(w, r, status, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// keyListed reports whether key is one of GOLEM_API_KEYS, comparing hashes
// in constant time.
func (s *Server) keyListed(key string) bool {
	sum := sha256.Sum256([]byte(key))
	ok := 0
	for _, h := range s.keyHashes {
		ok |= subtle.ConstantTimeCompare(sum[:], h[:])
	}
	return ok == 1
}

// validKey reports whether key opens the APIs: a listed key, or one the
// authenticator accepts.
func (s *Server) validKey(r *http.Request, key string) bool {
	if key == "" {
		return false
	}
	return s.keyListed(key) || s.authenticate != nil && s.authenticate(r) == nil
}

func (s *Server) writeAuthError(w http.ResponseWriter, r *http.Request, msg string) {
	s.writeAuthStatus(w, r, http.StatusUnauthorized, msg)
}

func (s *Server) writeAuthStatus(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		code := "invalid_api_key"
		if status == http.StatusForbidden {
			code = "permission_denied"
		}
		writeOpenAIError(w, status, msg, code)
		return
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

// defaultOrigins are always allowed, as Ollama allows them: local pages,
// desktop apps and editor webviews.
var defaultOrigins = []string{
	"http://localhost", "https://localhost", "http://localhost:*", "https://localhost:*",
	"http://127.0.0.1", "https://127.0.0.1", "http://127.0.0.1:*", "https://127.0.0.1:*",
	"http://0.0.0.0", "https://0.0.0.0", "http://0.0.0.0:*", "https://0.0.0.0:*",
	"app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*",
}

// corsHeaders are the request headers browsers may send (OpenAI SDKs add
// their x-stainless-* headers).
const corsHeaders = "Authorization, Content-Type, User-Agent, Accept, X-Requested-With, X-Api-Key, OpenAI-Beta, " +
	"x-stainless-arch, x-stainless-async, x-stainless-custom-poll-interval, x-stainless-helper-method, " +
	"x-stainless-lang, x-stainless-os, x-stainless-package-version, x-stainless-poll-helper, " +
	"x-stainless-retry-count, x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout"

// matchOrigin matches an origin against a pattern in which "*" stands for
// any text.
func matchOrigin(pattern, origin string) bool {
	if pattern == "*" {
		return true
	}
	parts := strings.Split(strings.ToLower(pattern), "*")
	o := strings.ToLower(origin)
	if len(parts) == 1 {
		return parts[0] == o
	}
	if !strings.HasPrefix(o, parts[0]) {
		return false
	}
	o = o[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(o, p)
		}
		j := strings.Index(o, p)
		if j < 0 {
			return false
		}
		o = o[j+len(p):]
	}
	return true
}

func (s *Server) originAllowed(origin string) bool {
	for _, p := range s.origins {
		if matchOrigin(p, origin) {
			return true
		}
	}
	return false
}

// cors answers preflight requests and sets Access-Control-Allow-Origin
// for allowed origins only. A request from a disallowed origin is refused
// with 403, as Ollama does, so a web page cannot drive a local server.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		// The web UI's own pages call it from its own origin (browsers send
		// Origin on same-origin POSTs): wherever it is reached from, that is
		// allowed. The APIs keep the allow-list.
		if !s.originAllowed(origin) && !(s.route(r) != nil && sameOrigin(origin, r.Host)) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("origin %q is not allowed (set GOLEM_ORIGINS)", origin)})
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Credentials", "true")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", "43200")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether origin names host (host[:port]), as a page
// served from this server sends it.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// allowedHosts protects a server that listens on loopback from DNS
// rebinding: a request naming a public host name in Host is refused.
func (s *Server) allowedHosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.loopbackOnly || hostAllowed(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("host %q is not allowed", r.Host)})
	})
}

func hostAllowed(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "" || host == "localhost" {
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast()
	}
	if hn, err := os.Hostname(); err == nil && strings.EqualFold(host, hn) {
		return true
	}
	for _, tld := range []string{".localhost", ".local", ".internal"} {
		if strings.HasSuffix(host, tld) {
			return true
		}
	}
	return false
}
