// Package webui is the backend of Golem's browser UI: its JSON API under /api/v1/ (accounts, admin
// settings, connections to model servers, models, chats with streamed completions) and the embedded
// front end at /. All state is in the database, so any number of replicas can serve any request.
// API.md beside this file describes the API.
package webui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/golem-llm/golem/internal/auth"
	"github.com/golem-llm/golem/internal/db"
)

type dbTx = db.Tx

// Config configures the UI backend. The zero value reads everything from the environment.
type Config struct {
	// DataDir holds golem.db when DatabaseURL is empty. Default: $GOLEM_HOME, else ~/.golem.
	DataDir string
	// DatabaseURL selects PostgreSQL (postgres://…). Default: $DATABASE_URL; empty means SQLite.
	DatabaseURL string
	// DB, when set, is used instead of opening DataDir / DatabaseURL (the caller closes it).
	DB *db.DB
	// Engine is the built-in engine's Ollama API (the handler `golem serve` serves /api/* with). It
	// appears as the connection "builtin" and is called in-process. Nil when the UI runs alone.
	Engine http.Handler
	// Pipelines is a Pipelines server in this process (`golem serve` mounts its own under /pipelines/)
	// and PipelinesKey its API key. It appears as the fixed OpenAI connection "builtin-pipelines" after the
	// built-in engine and is called in-process, so its filters and pipes apply without configuration. Nil
	// when there is none.
	Pipelines    http.Handler
	PipelinesKey string
	// Getenv reads the environment (os.Getenv when nil): OLLAMA_BASE_URL(S), OPENAI_API_BASE_URL(S),
	// OPENAI_API_KEY(S), ENABLE_SIGNUP, DEFAULT_USER_ROLE, WEBUI_SECRET_KEY, GOLEM_TRUSTED_EMAIL_HEADER,
	// GOLEM_TRUSTED_NAME_HEADER, GOLEM_COOKIE_SECURE, and GOLEM_HOME / DATABASE_URL for the defaults above.
	Getenv func(string) string
	// Filters runs Pipelines filters around completions; nil means PipelinesFilters (the Pipelines
	// protocol, against every connection that is a Pipelines server).
	Filters Filters
	// HTTPClient talks to model servers; a client without an overall timeout (streams are long) when nil.
	HTTPClient *http.Client
	// Logger receives errors and notable events; discarded when nil.
	Logger *slog.Logger
	// Version is reported by GET /api/v1/config.
	Version string
}

// Handler serves the UI and its API. Close it to release the database it opened.
type Handler struct {
	db     *db.DB
	ownDB  bool
	auth   *auth.Service
	env    envConfig
	engine http.Handler
	// pipelines and pipelinesKey: the in-process Pipelines server, if any (Config.Pipelines).
	pipelines    http.Handler
	pipelinesKey string
	filters      Filters
	http         *http.Client
	log          *slog.Logger
	version      string
	mux          *http.ServeMux
	// probeFailed: connection (id and URL) → when asking whether it is a Pipelines server last failed.
	probeFailed sync.Map
}

// New opens the database (running its migrations), reads the environment and returns the handler.
func New(cfg Config) (*Handler, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	env, err := readEnv(getenv)
	if err != nil {
		return nil, err
	}
	h := &Handler{env: env, engine: cfg.Engine, filters: cfg.Filters, http: cfg.HTTPClient, log: cfg.Logger,
		version: cfg.Version, db: cfg.DB, pipelines: cfg.Pipelines, pipelinesKey: cfg.PipelinesKey}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.http == nil {
		h.http = &http.Client{Transport: http.DefaultTransport}
	}
	if h.pipelines != nil {
		h.http = withBuiltinPipelines(h.http, h.pipelines)
	}
	if h.filters == nil {
		h.filters = PipelinesFilters{HTTP: h.http}
	}
	if h.version == "" {
		h.version = "dev"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if h.db == nil {
		url := cfg.DatabaseURL
		if url == "" {
			url = getenv("DATABASE_URL")
		}
		dir := cfg.DataDir
		if dir == "" {
			dir = getenv("GOLEM_HOME")
		}
		if dir == "" && url == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("webui: no GOLEM_HOME and no home directory: %w", err)
			}
			dir = filepath.Join(home, ".golem")
		}
		if h.db, err = db.Open(ctx, url, dir); err != nil {
			return nil, err
		}
		h.ownDB = true
	} else if err := h.db.Migrate(ctx, db.Schema); err != nil {
		return nil, err
	}
	h.auth, err = auth.New(ctx, h.db, auth.Options{
		Secret:             env.secret,
		TrustedEmailHeader: env.trustedMail,
		TrustedNameHeader:  env.trustedName,
		CookieSecure:       env.cookieSec,
		Policy:             h.policy,
	})
	if err != nil {
		h.Close()
		return nil, err
	}
	h.mux = h.routes()
	return h, nil
}

// Close releases the database if New opened it.
func (h *Handler) Close() error {
	if h.ownDB {
		return h.db.Close()
	}
	return nil
}

// Ready reports whether the database answers (its migrations ran in New): the UI role's readiness.
func (h *Handler) Ready(ctx context.Context) error {
	if err := h.db.Ping(ctx); err != nil {
		return fmt.Errorf("database %s: %v", h.db.Where, err)
	}
	return nil
}

// Auth is the account service, for servers that want to accept the UI's sessions and API keys on their
// own endpoints (Authenticate).
func (h *Handler) Auth() *auth.Service { return h.auth }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// access levels of an endpoint
const (
	anyone  = iota // signed in, any role (pending included)
	member         // signed in as user or admin
	adminOf        // admin
)

type handlerFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// need wraps an endpoint with authentication at the given level and turns its error into a response.
func (h *Handler) need(level int, fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.auth.Authenticate(r)
		switch {
		case err != nil:
		case p == nil:
			err = errorf(401, "not signed in")
		case level >= member && p.Role == auth.RolePending:
			err = errorf(403, "account pending approval")
		case level >= adminOf && p.Role != auth.RoleAdmin:
			err = errorf(403, "admin only")
		default:
			err = fn(w, r, p)
		}
		if err != nil {
			h.writeError(w, r, err)
		}
	}
}

// open wraps an endpoint that needs no sign-in.
func (h *Handler) open(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	}
}

func (h *Handler) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/v1/config", h.open(h.getConfig))
	m.HandleFunc("GET /api/v1/health", h.open(h.health))

	m.HandleFunc("POST /api/v1/auths/signup", h.open(h.signup))
	m.HandleFunc("POST /api/v1/auths/signin", h.open(h.signin))
	m.HandleFunc("GET /api/v1/auths/{$}", h.need(anyone, h.me))
	m.HandleFunc("GET /api/v1/auths", h.need(anyone, h.me))
	m.HandleFunc("POST /api/v1/auths/signout", h.need(anyone, h.signout))
	m.HandleFunc("POST /api/v1/auths/api_key", h.need(member, h.createAPIKey))
	m.HandleFunc("GET /api/v1/auths/api_key", h.need(member, h.getAPIKey))
	m.HandleFunc("DELETE /api/v1/auths/api_key", h.need(member, h.deleteAPIKey))
	m.HandleFunc("POST /api/v1/auths/update/password", h.need(anyone, h.changePassword))

	m.HandleFunc("GET /api/v1/users", h.need(adminOf, h.listUsers))
	m.HandleFunc("POST /api/v1/users/{id}/role", h.need(adminOf, h.setRole))
	m.HandleFunc("POST /api/v1/users/{id}/password", h.need(adminOf, h.resetPassword))
	m.HandleFunc("DELETE /api/v1/users/{id}", h.need(adminOf, h.deleteUser))

	m.HandleFunc("GET /api/v1/settings", h.need(adminOf, h.getSettings))
	m.HandleFunc("POST /api/v1/settings", h.need(adminOf, h.postSettings))

	m.HandleFunc("GET /api/v1/connections", h.need(adminOf, h.listConnections))
	m.HandleFunc("POST /api/v1/connections", h.need(adminOf, h.addConnection))
	m.HandleFunc("PUT /api/v1/connections/{id}", h.need(adminOf, h.updateConnection))
	m.HandleFunc("DELETE /api/v1/connections/{id}", h.need(adminOf, h.deleteConnection))
	m.HandleFunc("POST /api/v1/connections/verify", h.need(adminOf, h.verifyNew))
	m.HandleFunc("POST /api/v1/connections/{id}/verify", h.need(adminOf, h.verifySaved))

	m.HandleFunc("GET /api/v1/models", h.need(member, h.getModels))
	m.HandleFunc("POST /api/v1/models/pull", h.need(adminOf, h.pullModel))
	m.HandleFunc("DELETE /api/v1/models", h.need(adminOf, h.deleteModel))

	m.HandleFunc("GET /api/v1/pipelines/list", h.need(adminOf, h.listPipelineServers))
	m.HandleFunc("GET /api/v1/pipelines", h.need(adminOf, h.listPipelines))
	m.HandleFunc("POST /api/v1/pipelines/upload", h.need(adminOf, h.uploadPipeline))
	m.HandleFunc("POST /api/v1/pipelines/add", h.need(adminOf, h.addPipeline))
	m.HandleFunc("POST /api/v1/pipelines/reload", h.need(adminOf, h.reloadPipelines))
	m.HandleFunc("DELETE /api/v1/pipelines/{id}", h.need(adminOf, h.deletePipeline))
	m.HandleFunc("GET /api/v1/pipelines/{id}/valves", h.need(adminOf, h.pipelineValves(false)))
	m.HandleFunc("GET /api/v1/pipelines/{id}/valves/spec", h.need(adminOf, h.pipelineValves(true)))
	m.HandleFunc("POST /api/v1/pipelines/{id}/valves/update", h.need(adminOf, h.updateValves))

	m.HandleFunc("GET /api/v1/chats", h.need(member, h.listChats))
	m.HandleFunc("POST /api/v1/chats", h.need(member, h.createChat))
	m.HandleFunc("GET /api/v1/chats/{id}", h.need(member, h.getChat))
	m.HandleFunc("PATCH /api/v1/chats/{id}", h.need(member, h.patchChat))
	m.HandleFunc("DELETE /api/v1/chats/{id}", h.need(member, h.deleteChat))
	m.HandleFunc("GET /api/v1/chats/{id}/export", h.need(member, h.exportChat))
	m.HandleFunc("POST /api/v1/chats/{id}/title", h.need(member, h.titleChat))
	m.HandleFunc("POST /api/v1/chats/{id}/completions", h.need(member, h.chatCompletion))
	m.HandleFunc("POST /api/v1/chat/completions", h.need(member, h.openaiCompletion))

	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeDetail(w, 404, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	}
	m.HandleFunc("/api/", notFound)
	m.HandleFunc("/v1/", notFound)
	m.HandleFunc("/", h.serveAsset)
	return m
}

func (h *Handler) getConfig(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := h.settings(ctx)
	if err != nil {
		return err
	}
	has, err := h.auth.HasUsers(ctx)
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{
		"name":                "Golem",
		"version":             h.version,
		"enable_signup":       s.EnableSignup || !has,
		"onboarding":          !has,
		"trusted_header_auth": h.env.trustedMail != "",
		"default_locale":      "",
	})
	return nil
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.db.Ping(ctx); err != nil {
		return errorf(503, "database %s: %v", h.db.Where, err)
	}
	writeJSON(w, 200, map[string]bool{"status": true})
	return nil
}

// sessionResponse is the user plus a new session, as sign-up and sign-in answer.
type sessionResponse struct {
	auth.User
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresAt int64  `json:"expires_at"`
}

func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, u auth.User) error {
	se, err := h.auth.StartSession(r.Context(), u.ID)
	if err != nil {
		return err
	}
	h.auth.SetCookie(w, r, se)
	writeJSON(w, 200, sessionResponse{User: u, Token: se.Token, TokenType: "Bearer", ExpiresAt: se.ExpiresAt.UnixMilli()})
	return nil
}

type credentials struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (h *Handler) signup(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	p, err := h.policy(r.Context())
	if err != nil {
		return err
	}
	u, err := h.auth.Signup(r.Context(), in.Email, in.Name, in.Password, p)
	if err != nil {
		return err
	}
	h.log.Info("webui: account created", slog.String("email", u.Email), slog.String("role", string(u.Role)))
	return h.startSession(w, r, u)
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	trusted := h.env.trustedMail != "" && r.Header.Get(h.env.trustedMail) != ""
	if err := decodeJSON(w, r, &in, maxBody, trusted); err != nil {
		return err
	}
	if trusted {
		p, err := h.auth.Authenticate(r)
		if err != nil {
			return err
		}
		return h.startSession(w, r, p.User)
	}
	u, err := h.auth.Signin(r.Context(), in.Email, in.Password, auth.ClientAddr(r))
	if err != nil {
		return err
	}
	return h.startSession(w, r, u)
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	writeJSON(w, 200, p.User)
	return nil
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if p.SessionID != "" {
		if err := h.auth.EndSession(r.Context(), p.SessionID); err != nil {
			return err
		}
	}
	h.auth.ClearCookie(w, r)
	writeJSON(w, 200, map[string]bool{"ok": true})
	return nil
}

func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	key, at, err := h.auth.CreateAPIKey(r.Context(), p.ID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"api_key": key, "created_at": at})
	return nil
}

func (h *Handler) getAPIKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	k, err := h.auth.APIKey(r.Context(), p.ID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, k)
	return nil
}

func (h *Handler) deleteAPIKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := h.auth.DeleteAPIKey(r.Context(), p.ID); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]bool{"ok": true})
	return nil
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	us, err := h.auth.Users(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"users": us})
	return nil
}

func (h *Handler) setRole(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in struct {
		Role string `json:"role"`
	}
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	u, err := h.auth.SetRole(r.Context(), r.PathValue("id"), auth.Role(in.Role))
	if err != nil {
		return err
	}
	h.log.Info("webui: role changed", slog.String("email", u.Email), slog.String("role", in.Role),
		slog.String("by", p.Email))
	writeJSON(w, 200, u)
	return nil
}

// changePassword is Open WebUI's account form: {password, new_password}. Only a signed-in session may
// use it, not an API key: a leaked key must not be enough to take the account over.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in struct {
		Password    string `json:"password"`
		NewPassword string `json:"new_password"`
	}
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	if p.SessionID == "" {
		return errorf(403, "sign in with your password to change it (API keys and trusted headers cannot)")
	}
	if err := h.auth.ChangePassword(r.Context(), p.ID, in.Password, in.NewPassword, p.SessionID, auth.ClientAddr(r)); err != nil {
		return err
	}
	h.log.Info("webui: password changed", slog.String("email", p.Email))
	writeJSON(w, 200, map[string]bool{"ok": true})
	return nil
}

// resetPassword lets an admin set another account's password (a forgotten one); that account's sessions
// end.
func (h *Handler) resetPassword(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	id := r.PathValue("id")
	if id == p.ID {
		return errorf(409, "change your own password in your account settings, with your current one")
	}
	if err := h.auth.ResetPassword(r.Context(), id, in.Password); err != nil {
		return err
	}
	h.log.Info("webui: password reset", slog.String("user", id), slog.String("by", p.Email))
	writeJSON(w, 200, map[string]bool{"ok": true})
	return nil
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := r.PathValue("id")
	if id == p.ID {
		return errorf(409, "you cannot delete your own account")
	}
	if err := h.auth.DeleteUser(r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]bool{"ok": true})
	return nil
}
