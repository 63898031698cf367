package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/registry/registrytest"
)

// TestPullGatesReady: /readyz is 503 until the GOLEM_PULL models are in
// the store; they are pulled but not loaded.
func TestPullGatesReady(t *testing.T) {
	reg := registrytest.New(t, registrytest.Options{})
	if _, err := reg.AddModel("library/stories", "latest", registrytest.Model{GGUF: modelFile(t, "stories260K.gguf")}); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) {
		c.Pull = []string{"stories"}
		c.Registry.Mirrors = map[string]string{"registry.ollama.ai": reg.URL}
	})
	if status, body := ts.do(t, "GET", "/readyz", ""); status != 503 || !strings.Contains(string(body), "stories") {
		t.Fatalf("/readyz before pulling: %d %s", status, body)
	}
	if err := ts.s.Preload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.s.store.Get("stories"); err != nil {
		t.Fatalf("GOLEM_PULL did not pull the model: %v", err)
	}
	if status, body := ts.do(t, "GET", "/readyz", ""); status != 200 {
		t.Fatalf("/readyz after pulling: %d %s", status, body)
	}
	if status, body := ts.do(t, "GET", "/api/ps", ""); status != 200 || strings.Contains(string(body), "stories") {
		t.Fatalf("a pulled model was loaded: %d %s", status, body)
	}
}

type statusErr struct {
	status int
	msg    string
}

func (e statusErr) Error() string   { return e.msg }
func (e statusErr) HTTPStatus() int { return e.status }

// TestMountUIAndAuthenticator: with a UI and a mount, the APIs keep their
// paths and GOLEM_API_KEYS; the UI gets / and /api/v1/, the mount its
// prefix, neither behind the server's keys; an authenticator admits other
// keys; ready checks gate /readyz.
func TestMountUIAndAuthenticator(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.APIKeys = []string{"server-key"} })
	tag := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(name + " " + r.Method + " " + r.URL.Path))
		})
	}
	ts.s.SetUI(tag("ui"))
	ts.s.Mount("/pipelines/", http.StripPrefix("/pipelines", tag("pipelines")))
	ts.s.SetAuthenticator(func(r *http.Request) error {
		switch r.Header.Get("Authorization") {
		case "Bearer sk-user":
			return nil
		case "Bearer sk-pending":
			return statusErr{403, "account pending approval"}
		}
		return errors.New("unknown API key")
	})
	var dbDown bool
	ts.s.AddReadyCheck("database", func(context.Context) error {
		if dbDown {
			return errors.New("unreachable")
		}
		return nil
	})

	for _, c := range []struct{ method, path, want string }{
		{"GET", "/", "ui GET /"},
		{"GET", "/api/v1/config", "ui GET /api/v1/config"},
		{"GET", "/assets/app.js", "ui GET /assets/app.js"},
		{"GET", "/pipelines/v1/models", "pipelines GET /v1/models"},
		{"GET", "/pipelines", "pipelines GET "},
	} {
		status, body := ts.do(t, c.method, c.path, "")
		if status != 200 || string(body) != c.want {
			t.Errorf("%s %s without a key: %d %q, want 200 %q", c.method, c.path, status, body, c.want)
		}
	}
	// HEAD / is the UI's too, not the server's "Ollama is running".
	req, _ := http.NewRequest("HEAD", ts.url+"/", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len("ui HEAD /")) {
		t.Errorf("HEAD /: %v %+v", err, resp)
	}
	// The APIs still need a key, and get it from GOLEM_API_KEYS or the
	// authenticator.
	for _, c := range []struct {
		key    string
		status int
		msg    string
	}{
		{"", 401, "missing API key"},
		{"wrong", 401, "unknown API key"},
		{"sk-pending", 403, "pending"},
		{"sk-user", 200, ""},
		{"server-key", 200, ""},
	} {
		hdr := []string{}
		if c.key != "" {
			hdr = []string{"Authorization", "Bearer " + c.key}
		}
		for _, path := range []string{"/api/tags", "/v1/models"} {
			status, body := ts.do(t, "GET", path, "", hdr...)
			if status != c.status || !strings.Contains(string(body), c.msg) {
				t.Errorf("GET %s with key %q: %d %s, want %d %q", path, c.key, status, body, c.status, c.msg)
			}
		}
	}
	if status, body := ts.do(t, "GET", "/api/v1x", ""); status != 401 {
		t.Errorf("/api/v1x is an API path: %d %s", status, body)
	}
	// A page of the UI posts from its own origin, wherever it is reached;
	// the APIs keep the CORS allow-list.
	host := strings.TrimPrefix(ts.url, "http://")
	if status, body := ts.do(t, "POST", "/api/v1/chats", "{}", "Origin", "http://"+host); status != 200 {
		t.Errorf("same-origin POST to the UI: %d %s", status, body)
	}
	if status, _ := ts.do(t, "POST", "/api/v1/chats", "{}", "Origin", "http://evil.example"); status != 403 {
		t.Errorf("cross-origin POST to the UI: %d, want 403", status)
	}
	// /readyz follows the checks.
	if status, body := ts.do(t, "GET", "/readyz", "", "Authorization", "Bearer server-key"); status != 200 {
		t.Fatalf("/readyz: %d %s", status, body)
	}
	dbDown = true
	if status, body := ts.do(t, "GET", "/readyz", "", "Authorization", "Bearer server-key"); status != 503 || !strings.Contains(string(body), "database: unreachable") {
		t.Fatalf("/readyz with the database down: %d %s", status, body)
	}
	// A probe without a key learns the status alone.
	if status, body := ts.do(t, "GET", "/readyz", ""); status != 503 || strings.TrimSpace(string(body)) != `{"status":"not ready"}` {
		t.Fatalf("/readyz without a key, the database down: %d %s", status, body)
	}
	if status, body := ts.do(t, "GET", "/readyz", "", "Authorization", "Bearer sk-user"); status != 503 || !strings.Contains(string(body), "database") {
		t.Fatalf("/readyz with a UI key, the database down: %d %s", status, body)
	}
	// EngineHandler serves the APIs without a key, for in-process callers.
	rec := &recorder{header: http.Header{}}
	r, _ := http.NewRequest("GET", "/api/tags", nil)
	ts.s.EngineHandler().ServeHTTP(rec, r)
	if rec.status != 200 {
		t.Errorf("EngineHandler /api/tags: %d %s", rec.status, rec.body.String())
	}
}

type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(200)
	return r.body.Write(b)
}
