package webui

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/db"
	"github.com/golem-llm/golem/internal/db/dbtest"
)

func countRows(t *testing.T, d *db.DB, table string) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAccountsAndRoles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL, dir string) {
		srv, h := uiServer(t, Config{DatabaseURL: dbURL, DataDir: dir})
		c := newClient(t, srv.URL)

		cfg := c.must(200, "GET", "/api/v1/config", nil)
		if cfg["onboarding"] != true || cfg["enable_signup"] != true {
			t.Fatalf("fresh config %v: want onboarding and sign-up", cfg)
		}
		// Sign-up sets an HttpOnly cookie, and the cookie alone signs the browser in.
		r := c.do("POST", "/api/v1/auths/signup", map[string]string{"name": "Ada", "email": "ada@example.com", "password": "password1"})
		if r.status != 200 {
			t.Fatalf("first sign-up: %d %s", r.status, r.body)
		}
		admin := r.json(t)
		if admin["role"] != "admin" || admin["token_type"] != "Bearer" {
			t.Fatalf("first account %v, want admin with a bearer token", admin)
		}
		var cookie *http.Cookie
		for _, ck := range (&http.Response{Header: r.header}).Cookies() {
			if ck.Name == "token" {
				cookie = ck
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.Value != admin["token"] || cookie.SameSite != http.SameSiteLaxMode {
			t.Fatalf("session cookie %+v", cookie)
		}
		req := c.req("GET", "/api/v1/auths/", nil)
		req.AddCookie(cookie)
		if me := c.send(req); me.status != 200 || me.json(t)["email"] != "ada@example.com" {
			t.Fatalf("cookie sign-in: %d %s", me.status, me.body)
		}
		A := c.as(admin["token"].(string))
		if cfg := c.must(200, "GET", "/api/v1/config", nil); cfg["onboarding"] != false {
			t.Fatalf("config after first account: %v", cfg)
		}

		// Second account: pending by default, may only ask who it is.
		btok, bob := signup(t, c, "bob@example.com")
		B := c.as(btok)
		if bob["role"] != "pending" {
			t.Fatalf("second account %v, want pending", bob)
		}
		if me := B.must(200, "GET", "/api/v1/auths/", nil); me["role"] != "pending" {
			t.Fatalf("pending /auths/: %v", me)
		}
		for _, ep := range [][2]string{{"GET", "/api/v1/models"}, {"GET", "/api/v1/chats"}, {"POST", "/api/v1/chats"},
			{"GET", "/api/v1/users"}, {"POST", "/api/v1/auths/api_key"}} {
			r := B.do(ep[0], ep[1], nil)
			if r.status != 403 || r.detail() != "account pending approval" {
				t.Errorf("pending %s %s: %d %s", ep[0], ep[1], r.status, r.body)
			}
		}
		if n := countRows(t, h.db, "chats"); n != 0 {
			t.Fatalf("a pending user's request wrote %d chats", n)
		}

		// Admin approves; bob is a user now, but not an admin.
		users := A.must(200, "GET", "/api/v1/users", nil)["users"].([]any)
		if len(users) != 2 {
			t.Fatalf("users %v", users)
		}
		if got := A.must(200, "POST", "/api/v1/users/"+bob["id"].(string)+"/role", map[string]string{"role": "user"}); got["role"] != "user" {
			t.Fatalf("approve: %v", got)
		}
		B.must(200, "GET", "/api/v1/chats", nil)
		for _, ep := range [][2]string{{"GET", "/api/v1/users"}, {"GET", "/api/v1/settings"}, {"GET", "/api/v1/connections"},
			{"POST", "/api/v1/models/pull"}, {"DELETE", "/api/v1/users/" + admin["id"].(string)}} {
			r := B.do(ep[0], ep[1], map[string]string{})
			if r.status != 403 || r.detail() != "admin only" {
				t.Errorf("user %s %s: %d %s", ep[0], ep[1], r.status, r.body)
			}
		}
		if n := countRows(t, h.db, "users"); n != 2 {
			t.Fatalf("%d users after a user's admin calls", n)
		}

		// Bad input: each a clear error, nothing written.
		usersBefore, sessionsBefore := countRows(t, h.db, "users"), countRows(t, h.db, "sessions")
		bad := []struct {
			path, body, ctype string
			status            int
			detail            string
		}{
			{"/api/v1/auths/signin", `{"email":"ada@example.com","password":"wrong-password"}`, "application/json", 401, "wrong e-mail or password"},
			{"/api/v1/auths/signup", `{"email":"ADA@example.com","password":"password2"}`, "application/json", 409, "already registered"},
			{"/api/v1/auths/signup", `{"email":"ada@example.com",`, "application/json", 400, "malformed JSON"},
			{"/api/v1/auths/signup", `{"email":5}`, "application/json", 400, `field "email"`},
			{"/api/v1/auths/signup", `[]`, "application/json", 400, "want a JSON"},
			{"/api/v1/auths/signup", `{"email":"c@example.com","password":"password1"} {}`, "application/json", 400, "more than one"},
			{"/api/v1/auths/signup", `{"email":"c@example.com","password":"short"}`, "application/json", 400, "password"},
			{"/api/v1/auths/signup", `{"email":"nope","password":"password1"}`, "application/json", 400, "not a valid e-mail"},
			{"/api/v1/auths/signup", `email=c@example.com&password=password1`, "application/x-www-form-urlencoded", 415, "application/json"},
			{"/api/v1/auths/signup", `{"email":"c@example.com","password":"password1","name":"` + strings.Repeat("x", 2<<20) + `"}`,
				"application/json", 413, "larger than"},
			{"/api/v1/auths/signup", ``, "application/json", 400, "empty"},
		}
		for _, b := range bad {
			req := c.req("POST", b.path, b.body)
			req.Header.Set("Content-Type", b.ctype)
			r := c.send(req)
			if r.status != b.status || !strings.Contains(r.detail(), b.detail) {
				t.Errorf("POST %s %.60q: %d %q, want %d containing %q", b.path, b.body, r.status, r.detail(), b.status, b.detail)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("error response Content-Type %q", ct)
			}
		}
		if u, s := countRows(t, h.db, "users"), countRows(t, h.db, "sessions"); u != usersBefore || s != sessionsBefore {
			t.Fatalf("bad requests wrote: users %d→%d, sessions %d→%d", usersBefore, u, sessionsBefore, s)
		}
		if r := c.do("GET", "/api/v1/auths/", nil); r.status != 401 {
			t.Fatalf("anonymous /auths/: %d", r.status)
		}
		if r := c.as("garbage").do("GET", "/api/v1/chats", nil); r.status != 401 {
			t.Fatalf("garbage token: %d", r.status)
		}
		if r := c.do("GET", "/api/v1/nope", nil); r.status != 404 || !strings.Contains(r.detail(), "no endpoint") {
			t.Fatalf("unknown endpoint: %d %s", r.status, r.body)
		}

		// The last admin stays; an admin cannot delete themself.
		if r := A.do("POST", "/api/v1/users/"+admin["id"].(string)+"/role", map[string]string{"role": "user"}); r.status != 409 {
			t.Fatalf("demote the only admin: %d %s", r.status, r.body)
		}
		if r := A.do("DELETE", "/api/v1/users/"+admin["id"].(string), nil); r.status != 409 {
			t.Fatalf("delete yourself: %d %s", r.status, r.body)
		}
		if r := A.do("POST", "/api/v1/users/"+bob["id"].(string)+"/role", map[string]string{"role": "god"}); r.status != 400 {
			t.Fatalf("bad role: %d %s", r.status, r.body)
		}

		// Sign-in, then sign-out ends that session only.
		s2 := c.must(200, "POST", "/api/v1/auths/signin", map[string]string{"email": "bob@example.com", "password": "password1"})
		B2 := c.as(s2["token"].(string))
		B2.must(200, "POST", "/api/v1/auths/signout", nil)
		if r := B2.do("GET", "/api/v1/auths/", nil); r.status != 401 {
			t.Fatalf("token after sign-out: %d", r.status)
		}
		B.must(200, "GET", "/api/v1/auths/", nil)

		// Deleting bob ends his sessions and removes his chats.
		B.must(201, "POST", "/api/v1/chats", map[string]string{"title": "bob's"})
		A.must(200, "DELETE", "/api/v1/users/"+bob["id"].(string), nil)
		if r := B.do("GET", "/api/v1/auths/", nil); r.status != 401 {
			t.Fatalf("deleted user's token: %d", r.status)
		}
		if n := countRows(t, h.db, "chats"); n != 0 {
			t.Fatalf("%d chats left after deleting their owner", n)
		}
	})
}

func TestLoginRateLimitHTTP(t *testing.T) {
	srv, _ := uiServer(t, Config{DataDir: t.TempDir()})
	c := newClient(t, srv.URL)
	signup(t, c, "ada@example.com")
	for i := 0; i < 10; i++ {
		if r := c.do("POST", "/api/v1/auths/signin", map[string]string{"email": "ada@example.com", "password": "nope-nope"}); r.status != 401 {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	r := c.do("POST", "/api/v1/auths/signin", map[string]string{"email": "ada@example.com", "password": "password1"})
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(r.detail(), "too many") {
		t.Fatalf("11th attempt: %d %q Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
}

func TestSettingsAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	srv, _ := uiServer(t, Config{DataDir: dir})
	c := newClient(t, srv.URL)
	tok, _ := signup(t, c, "ada@example.com")
	A := c.as(tok)
	s := A.must(200, "GET", "/api/v1/settings", nil)
	if s["enable_signup"] != true || s["default_user_role"] != "pending" {
		t.Fatalf("default settings %v", s)
	}
	s = A.must(200, "POST", "/api/v1/settings", map[string]any{"default_user_role": "user"})
	if s["default_user_role"] != "user" || s["enable_signup"] != true {
		t.Fatalf("after setting the role: %v", s)
	}
	if _, u := signup(t, c, "u1@example.com"); u["role"] != "user" {
		t.Fatalf("sign-up with default role user: %v", u)
	}
	if r := A.do("POST", "/api/v1/settings", map[string]any{"default_user_role": "admin"}); r.status != 400 {
		t.Fatalf("default role admin via API: %d", r.status)
	}
	A.must(200, "POST", "/api/v1/settings", map[string]any{"enable_signup": false})
	if r := c.do("POST", "/api/v1/auths/signup", map[string]string{"email": "u2@example.com", "password": "password1"}); r.status != 403 {
		t.Fatalf("sign-up while disabled: %d %s", r.status, r.body)
	}
	if cfg := c.must(200, "GET", "/api/v1/config", nil); cfg["enable_signup"] != false {
		t.Fatalf("config while disabled: %v", cfg)
	}

	// Same database, restarted with the environment fixing both: env wins, and is reported.
	srv2, _ := uiServer(t, Config{DataDir: dir, Getenv: envMap(map[string]string{"ENABLE_SIGNUP": "true", "DEFAULT_USER_ROLE": "pending"})})
	c2 := newClient(t, srv2.URL)
	A2 := c2.as(tok)
	s = A2.must(200, "GET", "/api/v1/settings", nil)
	env := s["env"].(map[string]any)
	if s["enable_signup"] != true || s["default_user_role"] != "pending" || env["enable_signup"] != true || env["default_user_role"] != true {
		t.Fatalf("settings under env: %v", s)
	}
	if r := A2.do("POST", "/api/v1/settings", map[string]any{"enable_signup": false}); r.status != 409 || !strings.Contains(r.detail(), "ENABLE_SIGNUP") {
		t.Fatalf("changing an env setting: %d %s", r.status, r.body)
	}
	if _, u := signup(t, c2, "u3@example.com"); u["role"] != "pending" {
		t.Fatalf("env default role: %v", u)
	}
	// The refused change wrote nothing: without the env the stored value (disabled) is back.
	srv3, _ := uiServer(t, Config{DataDir: dir})
	if s := newClient(t, srv3.URL).as(tok).must(200, "GET", "/api/v1/settings", nil); s["enable_signup"] != false || s["default_user_role"] != "user" {
		t.Fatalf("stored settings after env restart: %v", s)
	}
	if _, err := New(Config{DataDir: t.TempDir(), Getenv: envMap(map[string]string{"ENABLE_SIGNUP": "maybe"})}); err == nil {
		t.Fatal("ENABLE_SIGNUP=maybe accepted")
	}
	if _, err := New(Config{DataDir: t.TempDir(), Getenv: envMap(map[string]string{"OLLAMA_BASE_URL": "ftp://x"})}); err == nil {
		t.Fatal("OLLAMA_BASE_URL=ftp://x accepted")
	}
}

func TestAPIKeyAndTrustedHeader(t *testing.T) {
	srv, _ := uiServer(t, Config{DataDir: t.TempDir(), Getenv: envMap(map[string]string{"GOLEM_TRUSTED_EMAIL_HEADER": "X-Auth-Email"})})
	c := newClient(t, srv.URL)
	if cfg := c.must(200, "GET", "/api/v1/config", nil); cfg["trusted_header_auth"] != true {
		t.Fatalf("config: %v", cfg)
	}
	req := c.req("GET", "/api/v1/auths/", nil)
	req.Header.Set("X-Auth-Email", "boss@corp.example")
	r := c.send(req)
	if r.status != 200 || r.json(t)["role"] != "admin" {
		t.Fatalf("trusted header: %d %s", r.status, r.body)
	}
	req = c.req("POST", "/api/v1/auths/signin", nil)
	req.Header.Set("X-Auth-Email", "boss@corp.example")
	r = c.send(req)
	if r.status != 200 || r.json(t)["token"] == nil {
		t.Fatalf("trusted sign-in: %d %s", r.status, r.body)
	}
	A := c.as(r.json(t)["token"].(string))
	key := A.must(200, "POST", "/api/v1/auths/api_key", nil)["api_key"].(string)
	if info := A.must(200, "GET", "/api/v1/auths/api_key", nil); info["exists"] != true || !strings.HasPrefix(key, info["prefix"].(string)) {
		t.Fatalf("key info %v", info)
	}
	K := c.as(key)
	K.must(200, "GET", "/api/v1/models", nil)
	K.must(200, "GET", "/api/v1/chats", nil)
	A.must(200, "DELETE", "/api/v1/auths/api_key", nil)
	if r := K.do("GET", "/api/v1/models", nil); r.status != 401 {
		t.Fatalf("deleted key: %d", r.status)
	}
}

// TestPasswordChangeAndReset covers the account form (current password
// required, other sessions end, API keys refused) and an admin's reset of
// a forgotten password.
func TestPasswordChangeAndReset(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL, dir string) {
		srv, h := uiServer(t, Config{DatabaseURL: dbURL, DataDir: dir})
		c := newClient(t, srv.URL)
		atok, admin := signup(t, c, "ada@example.com")
		A := c.as(atok)
		btok, bob := signup(t, c, "bob@example.com")
		A.must(200, "POST", "/api/v1/users/"+bob["id"].(string)+"/role", map[string]string{"role": "user"})
		B := c.as(btok)
		other := c.as(c.must(200, "POST", "/api/v1/auths/signin", map[string]string{"email": "bob@example.com", "password": "password1"})["token"].(string))

		// Wrong or missing current password, too short a new one: refused, the old password still works.
		for _, b := range []struct {
			in     map[string]string
			detail string
		}{
			{map[string]string{"password": "wrong-one", "new_password": "password2"}, "current password is wrong"},
			{map[string]string{"password": "password1", "new_password": "short"}, "8 to 256"},
			{map[string]string{"new_password": "password2"}, "required"},
		} {
			if r := B.do("POST", "/api/v1/auths/update/password", b.in); r.status != 400 || !strings.Contains(r.detail(), b.detail) {
				t.Errorf("change %v: %d %s, want 400 %q", b.in, r.status, r.body, b.detail)
			}
		}
		c.must(200, "POST", "/api/v1/auths/signin", map[string]string{"email": "bob@example.com", "password": "password1"})
		// An API key cannot change the password.
		key := B.must(200, "POST", "/api/v1/auths/api_key", nil)["api_key"].(string)
		if r := c.as(key).do("POST", "/api/v1/auths/update/password", map[string]string{"password": "password1", "new_password": "password2"}); r.status != 403 {
			t.Fatalf("change by API key: %d %s", r.status, r.body)
		}

		sessions := countRows(t, h.db, "sessions")
		B.must(200, "POST", "/api/v1/auths/update/password", map[string]string{"password": "password1", "new_password": "password2"})
		if r := c.do("POST", "/api/v1/auths/signin", map[string]string{"email": "bob@example.com", "password": "password1"}); r.status != 401 {
			t.Fatalf("old password after the change: %d", r.status)
		}
		B.must(200, "GET", "/api/v1/auths/", nil) // the session that changed it stays
		if r := other.do("GET", "/api/v1/auths/", nil); r.status != 401 {
			t.Fatalf("bob's other session after the change: %d", r.status)
		}
		if n := countRows(t, h.db, "sessions"); n >= sessions {
			t.Fatalf("sessions %d -> %d: the change ended none", sessions, n)
		}

		// Admin reset: bob's sessions end, the new password signs in; not for yourself, not for users.
		if r := B.do("POST", "/api/v1/users/"+admin["id"].(string)+"/password", map[string]string{"password": "password9"}); r.status != 403 {
			t.Fatalf("user resets the admin: %d %s", r.status, r.body)
		}
		if r := A.do("POST", "/api/v1/users/"+admin["id"].(string)+"/password", map[string]string{"password": "password9"}); r.status != 409 {
			t.Fatalf("admin resets own password: %d %s", r.status, r.body)
		}
		if r := A.do("POST", "/api/v1/users/nope/password", map[string]string{"password": "password9"}); r.status != 404 {
			t.Fatalf("reset of an unknown user: %d %s", r.status, r.body)
		}
		A.must(200, "POST", "/api/v1/users/"+bob["id"].(string)+"/password", map[string]string{"password": "password3"})
		if r := B.do("GET", "/api/v1/auths/", nil); r.status != 401 {
			t.Fatalf("bob's session after the reset: %d", r.status)
		}
		c.must(200, "POST", "/api/v1/auths/signin", map[string]string{"email": "bob@example.com", "password": "password3"})
	})
}
