package webui

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golem-llm/golem/internal/auth"
)

// envConfig is what the environment fixes, read once at start. Names follow Open WebUI's, so existing
// deployments (the Helm values in the seed) carry over; a value set here always wins over the database.
type envConfig struct {
	signup      *bool
	defaultRole *auth.Role
	ollama      []string      // OLLAMA_BASE_URLS, or OLLAMA_BASE_URL
	openai      []openaiEnvDB // OPENAI_API_BASE_URL(S) with OPENAI_API_KEY(S)
	secret      string        // WEBUI_SECRET_KEY
	trustedMail string        // GOLEM_TRUSTED_EMAIL_HEADER (or Open WebUI's WEBUI_AUTH_TRUSTED_EMAIL_HEADER)
	trustedName string        // GOLEM_TRUSTED_NAME_HEADER (or WEBUI_AUTH_TRUSTED_NAME_HEADER)
	cookieSec   bool          // GOLEM_COOKIE_SECURE
}

type openaiEnvDB struct{ url, key string }

// defaultOpenAIURL is where an OpenAI key without a base URL goes, as in Open WebUI.
const defaultOpenAIURL = "https://api.openai.com/v1"

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("webui: %s=%q: want true or false", name, v)
}

func readEnv(getenv func(string) string) (envConfig, error) {
	var e envConfig
	if v := getenv("ENABLE_SIGNUP"); v != "" {
		b, err := parseBool("ENABLE_SIGNUP", v)
		if err != nil {
			return e, err
		}
		e.signup = &b
	}
	if v := strings.ToLower(strings.TrimSpace(getenv("DEFAULT_USER_ROLE"))); v != "" {
		r := auth.Role(v)
		if !r.Valid() {
			return e, fmt.Errorf("webui: DEFAULT_USER_ROLE=%q: want pending, user or admin", v)
		}
		e.defaultRole = &r
	}
	if v := getenv("OLLAMA_BASE_URLS"); v != "" {
		e.ollama = splitList(v)
	} else if v := strings.TrimSpace(getenv("OLLAMA_BASE_URL")); v != "" {
		e.ollama = []string{v}
	}
	urls := splitList(getenv("OPENAI_API_BASE_URLS"))
	if len(urls) == 0 {
		urls = splitList(getenv("OPENAI_API_BASE_URL"))
	}
	keys := strings.Split(getenv("OPENAI_API_KEYS"), ";")
	if getenv("OPENAI_API_KEYS") == "" {
		keys = []string{getenv("OPENAI_API_KEY")}
	}
	if len(urls) == 0 && strings.TrimSpace(keys[0]) != "" {
		urls = []string{defaultOpenAIURL}
	}
	for i, u := range urls {
		k := ""
		if i < len(keys) {
			k = strings.TrimSpace(keys[i])
		}
		e.openai = append(e.openai, openaiEnvDB{url: u, key: k})
	}
	for _, u := range append(append([]string{}, e.ollama...), urls...) {
		if _, err := normalizeURL(u); err != nil {
			return e, fmt.Errorf("webui: environment: %v", err)
		}
	}
	e.secret = getenv("WEBUI_SECRET_KEY")
	e.trustedMail = firstNonEmpty(getenv("GOLEM_TRUSTED_EMAIL_HEADER"), getenv("WEBUI_AUTH_TRUSTED_EMAIL_HEADER"))
	e.trustedName = firstNonEmpty(getenv("GOLEM_TRUSTED_NAME_HEADER"), getenv("WEBUI_AUTH_TRUSTED_NAME_HEADER"))
	if v := getenv("GOLEM_COOKIE_SECURE"); v != "" {
		b, err := parseBool("GOLEM_COOKIE_SECURE", v)
		if err != nil {
			return e, err
		}
		e.cookieSec = b
	}
	return e, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// Settings are the admin's switches.
type Settings struct {
	EnableSignup    bool      `json:"enable_signup"`
	DefaultUserRole auth.Role `json:"default_user_role"`
}

type settingsView struct {
	Settings
	Env map[string]bool `json:"env"`
}

var defaultSettings = Settings{EnableSignup: true, DefaultUserRole: auth.RolePending}

// settings reads the stored settings and lays the environment over them.
func (h *Handler) settings(ctx context.Context) (Settings, error) {
	s := defaultSettings
	var raw string
	err := h.db.QueryRow(ctx, `SELECT value FROM config WHERE key = 'settings'`).Scan(&raw)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s, err
	}
	if err == nil {
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return s, fmt.Errorf("stored settings: %w", err)
		}
	}
	if h.env.signup != nil {
		s.EnableSignup = *h.env.signup
	}
	if h.env.defaultRole != nil {
		s.DefaultUserRole = *h.env.defaultRole
	}
	return s, nil
}

func (h *Handler) policy(ctx context.Context) (auth.Policy, error) {
	s, err := h.settings(ctx)
	return auth.Policy{SignupEnabled: s.EnableSignup, DefaultRole: s.DefaultUserRole}, err
}

func (h *Handler) settingsView(ctx context.Context) (settingsView, error) {
	s, err := h.settings(ctx)
	return settingsView{Settings: s, Env: map[string]bool{
		"enable_signup":     h.env.signup != nil,
		"default_user_role": h.env.defaultRole != nil,
	}}, err
}

func (h *Handler) getSettings(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	v, err := h.settingsView(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (h *Handler) postSettings(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var in struct {
		EnableSignup    *bool   `json:"enable_signup"`
		DefaultUserRole *string `json:"default_user_role"`
	}
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	ctx := r.Context()
	if in.EnableSignup != nil && h.env.signup != nil {
		return errorf(409, "enable_signup is set by ENABLE_SIGNUP in the environment")
	}
	if in.DefaultUserRole != nil && h.env.defaultRole != nil {
		return errorf(409, "default_user_role is set by DEFAULT_USER_ROLE in the environment")
	}
	if in.DefaultUserRole != nil && *in.DefaultUserRole != "user" && *in.DefaultUserRole != "pending" {
		return errorf(400, "default_user_role %q: want user or pending", *in.DefaultUserRole)
	}
	err := h.db.InTx(ctx, func(tx *dbTx) error {
		s := defaultSettings
		var raw string
		err := tx.QueryRow(ctx, `SELECT value FROM config WHERE key = 'settings'`).Scan(&raw)
		if err == nil {
			err = json.Unmarshal([]byte(raw), &s)
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if in.EnableSignup != nil {
			s.EnableSignup = *in.EnableSignup
		}
		if in.DefaultUserRole != nil {
			s.DefaultUserRole = auth.Role(*in.DefaultUserRole)
		}
		b, _ := json.Marshal(s)
		_, err = tx.Exec(ctx, `INSERT INTO config (key, value, updated_at) VALUES ('settings', ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			string(b), time.Now().UnixMilli())
		return err
	})
	if err != nil {
		return err
	}
	return h.getSettings(w, r, nil)
}
