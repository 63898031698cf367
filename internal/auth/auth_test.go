package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/db"
	"github.com/golem-llm/golem/internal/db/dbtest"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with the documented cost", h)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct hors": false, "": false, "Correct horse": false} {
		ok, err := VerifyPassword(h, pw)
		if err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "!", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=64,t=1,p=1$***$AAAA"} {
		if ok, err := VerifyPassword(bad, "x"); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
}

func TestToken(t *testing.T) {
	sec := []byte("secret")
	now := time.Unix(1_700_000_000, 0)
	tok := signToken(sec, claims{Sub: "u", Sid: "s", Iat: now.Unix(), Exp: now.Unix() + 60})
	c, err := parseToken(sec, tok, now)
	if err != nil || c.Sub != "u" || c.Sid != "s" {
		t.Fatalf("parse own token: %+v %v", c, err)
	}
	if _, err := parseToken(sec, tok, now.Add(61*time.Second)); err == nil {
		t.Fatal("expired token accepted")
	}
	if _, err := parseToken([]byte("other"), tok, now); err == nil {
		t.Fatal("token accepted with another secret")
	}
	// Change one character of the payload.
	i := strings.IndexByte(tok, '.') + 3
	forged := tok[:i] + string(tok[i]^1) + tok[i+1:]
	if _, err := parseToken(sec, forged, now); err == nil {
		t.Fatal("tampered token accepted")
	}
	for _, bad := range []string{"", ".", "a.b.c", tok + "x", "x" + tok} {
		if _, err := parseToken(sec, bad, now); err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func newService(t *testing.T, u, dir string, o Options) (*Service, *db.DB) {
	t.Helper()
	d, err := db.Open(context.Background(), u, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s, err := New(context.Background(), d, o)
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

func status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

var open = Policy{SignupEnabled: true, DefaultRole: RolePending}

func TestSignupRoles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, u, dir string) {
		ctx := context.Background()
		s, _ := newService(t, u, dir, Options{})
		closed := Policy{SignupEnabled: false, DefaultRole: RoleUser}
		a, err := s.Signup(ctx, " Ada@Example.COM ", "Ada", "password1", closed)
		if err != nil {
			t.Fatal(err)
		}
		if a.Role != RoleAdmin || a.Email != "ada@example.com" {
			t.Fatalf("first account %+v, want admin with lower-cased e-mail", a)
		}
		if _, err := s.Signup(ctx, "bob@example.com", "", "password1", closed); status(err) != 403 {
			t.Fatalf("sign-up while disabled: %v", err)
		}
		b, err := s.Signup(ctx, "bob@example.com", "", "password1", open)
		if err != nil || b.Role != RolePending || b.Name != "bob" {
			t.Fatalf("second account %+v %v, want pending named bob", b, err)
		}
		c, err := s.Signup(ctx, "cy@example.com", "Cy", "password1", Policy{SignupEnabled: true, DefaultRole: RoleUser})
		if err != nil || c.Role != RoleUser {
			t.Fatalf("default role user: %+v %v", c, err)
		}
		if _, err := s.Signup(ctx, "ADA@example.com", "x", "password2", open); status(err) != 409 {
			t.Fatalf("duplicate e-mail: %v, want 409", err)
		}
		for _, bad := range [][2]string{{"not-an-email", "password1"}, {"a@b.c", "short"}, {"", "password1"},
			{"Ada <a@b.c>", "password1"}, {"x@y.z", strings.Repeat("p", 257)}} {
			if _, err := s.Signup(ctx, bad[0], "", bad[1], open); status(err) != 400 {
				t.Errorf("Signup(%q, %q): %v, want 400", bad[0], bad[1], err)
			}
		}
		us, err := s.Users(ctx)
		if err != nil || len(us) != 3 {
			t.Fatalf("users %v %v, want 3 (nothing written by failures)", us, err)
		}
	})
}

// Several sign-ups at once on an empty database: exactly one admin.
func TestFirstSignupRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, u, dir string) {
		ctx := context.Background()
		s1, _ := newService(t, u, dir, Options{})
		s2, _ := newService(t, u, dir, Options{})
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := s1
				if i%2 == 1 {
					s = s2
				}
				_, err := s.Signup(ctx, "u"+string(rune('a'+i))+"@example.com", "", "password1", open)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		us, _ := s1.Users(ctx)
		admins := 0
		for _, u := range us {
			if u.Role == RoleAdmin {
				admins++
			}
		}
		if len(us) != 6 || admins != 1 {
			t.Fatalf("%d users, %d admins; want 6 and 1", len(us), admins)
		}
	})
}

func request(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/api/v1/auths/", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

func TestSessionsAcrossRestartAndReplicas(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, u, dir string) {
		ctx := context.Background()
		s1, d1 := newService(t, u, dir, Options{})
		a, _ := s1.Signup(ctx, "ada@example.com", "", "password1", open)
		se, err := s1.StartSession(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		d1.Close() // "restart"
		s2, _ := newService(t, u, dir, Options{})
		s3, _ := newService(t, u, dir, Options{})
		for _, s := range []*Service{s2, s3} {
			p, err := s.Authenticate(request(se.Token))
			if err != nil || p == nil || p.ID != a.ID || p.SessionID != se.ID {
				t.Fatalf("session after restart: %+v %v", p, err)
			}
		}
		// Cookie works too.
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: se.Token})
		if p, err := s2.Authenticate(r); err != nil || p == nil || p.ID != a.ID {
			t.Fatalf("cookie: %+v %v", p, err)
		}
		// Sign-out on one replica ends it on the other.
		if err := s2.EndSession(ctx, se.ID); err != nil {
			t.Fatal(err)
		}
		if p, err := s3.Authenticate(request(se.Token)); status(err) != 401 || p != nil {
			t.Fatalf("ended session: %+v %v, want 401", p, err)
		}
		// No credentials: nobody, no error. Garbage: 401.
		if p, err := s3.Authenticate(request("")); p != nil || err != nil {
			t.Fatalf("anonymous: %+v %v", p, err)
		}
		for _, h := range []string{"Bearer junk", "Basic abc", "Bearer "} {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", h)
			if _, err := s3.Authenticate(r); status(err) != 401 {
				t.Errorf("Authorization %q: %v, want 401", h, err)
			}
		}
	})
}

func TestSecretFromEnvironment(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s1, _ := newService(t, "", dir, Options{Secret: "one"})
	a, _ := s1.Signup(ctx, "ada@example.com", "", "password1", open)
	se, _ := s1.StartSession(ctx, a.ID)
	s2, _ := newService(t, "", dir, Options{Secret: "one"})
	if _, err := s2.Authenticate(request(se.Token)); err != nil {
		t.Fatalf("same WEBUI_SECRET_KEY: %v", err)
	}
	s3, _ := newService(t, "", dir, Options{Secret: "two"})
	if _, err := s3.Authenticate(request(se.Token)); status(err) != 401 {
		t.Fatalf("other WEBUI_SECRET_KEY: %v, want 401", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	s, _ := newService(t, "", t.TempDir(), Options{SessionTTL: time.Hour, Now: func() time.Time { return now }})
	a, _ := s.Signup(ctx, "ada@example.com", "", "password1", open)
	se, _ := s.StartSession(ctx, a.ID)
	if _, err := s.Authenticate(request(se.Token)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour + time.Second)
	if _, err := s.Authenticate(request(se.Token)); status(err) != 401 {
		t.Fatalf("expired session: %v, want 401", err)
	}
}

func TestSigninAndRateLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, u, dir string) {
		ctx := context.Background()
		now := time.Unix(1_700_000_000, 0)
		clock := func() time.Time { return now }
		o := Options{MaxFailuresPerEmail: 3, MaxFailuresPerClient: 5, Window: time.Minute, Now: clock}
		s1, _ := newService(t, u, dir, o)
		s2, _ := newService(t, u, dir, o) // a second replica shares the count
		a, _ := s1.Signup(ctx, "ada@example.com", "", "password1", open)
		if got, err := s1.Signin(ctx, "ADA@example.com", "password1", "10.0.0.1"); err != nil || got.ID != a.ID {
			t.Fatalf("sign-in: %+v %v", got, err)
		}
		if _, err := s1.Signin(ctx, "ada@example.com", "wrong", "10.0.0.1"); status(err) != 401 {
			t.Fatalf("wrong password: %v, want 401", err)
		}
		if _, err := s2.Signin(ctx, "nobody@example.com", "password1", "10.0.0.1"); status(err) != 401 {
			t.Fatalf("unknown e-mail: %v, want 401", err)
		}
		s2.Signin(ctx, "ada@example.com", "wrong", "10.0.0.2")
		s1.Signin(ctx, "ada@example.com", "wrong", "10.0.0.3")
		// Three failures for ada (from three addresses, on two replicas): even the right password waits.
		_, err := s2.Signin(ctx, "ada@example.com", "password1", "10.0.0.4")
		var e *Error
		if !errors.As(err, &e) || e.Status != 429 || e.RetryAfter <= 0 || e.RetryAfter > time.Minute {
			t.Fatalf("after 3 failures: %v, want 429 with Retry-After ≤ 1m", err)
		}
		// The client limit: 10.0.0.1 has 2 failures; 3 more on other e-mails reach 5.
		for _, m := range []string{"x@example.com", "y@example.com", "z@example.com"} {
			s1.Signin(ctx, m, "wrong", "10.0.0.1")
		}
		if _, err := s1.Signin(ctx, "q@example.com", "whatever", "10.0.0.1"); status(err) != 429 {
			t.Fatalf("client over its limit: %v, want 429", err)
		}
		now = now.Add(61 * time.Second)
		if _, err := s2.Signin(ctx, "ada@example.com", "password1", "10.0.0.1"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, "", t.TempDir(), Options{})
	a, _ := s.Signup(ctx, "ada@example.com", "", "password1", open)
	if k, _ := s.APIKey(ctx, a.ID); k.Exists {
		t.Fatal("key before creation")
	}
	key, _, err := s.CreateAPIKey(ctx, a.ID)
	if err != nil || !strings.HasPrefix(key, "sk-") || len(key) < 40 {
		t.Fatalf("key %q %v", key, err)
	}
	p, err := s.Authenticate(request(key))
	if err != nil || p == nil || p.ID != a.ID || !p.APIKey {
		t.Fatalf("API key auth: %+v %v", p, err)
	}
	info, _ := s.APIKey(ctx, a.ID)
	if !info.Exists || !strings.HasPrefix(key, info.Prefix) || len(info.Prefix) >= len(key) {
		t.Fatalf("info %+v", info)
	}
	key2, _, _ := s.CreateAPIKey(ctx, a.ID)
	if _, err := s.Authenticate(request(key)); status(err) != 401 {
		t.Fatalf("replaced key still works: %v", err)
	}
	if _, err := s.Authenticate(request(key2)); err != nil {
		t.Fatal(err)
	}
	s.DeleteAPIKey(ctx, a.ID)
	if _, err := s.Authenticate(request(key2)); status(err) != 401 {
		t.Fatalf("deleted key still works: %v", err)
	}
}

func TestTrustedHeader(t *testing.T) {
	ctx := context.Background()
	pol := Policy{SignupEnabled: true, DefaultRole: RoleUser}
	s, _ := newService(t, "", t.TempDir(), Options{TrustedEmailHeader: "X-Email", TrustedNameHeader: "X-Name",
		Policy: func(context.Context) (Policy, error) { return pol, nil }})
	r := request("")
	r.Header.Set("X-Email", "Boss@Corp.example")
	r.Header.Set("X-Name", "The Boss")
	p, err := s.Authenticate(r)
	if err != nil || p == nil || p.Email != "boss@corp.example" || p.Role != RoleAdmin || p.Name != "The Boss" || !p.Trusted {
		t.Fatalf("first trusted user: %+v %v", p, err)
	}
	r.Header.Set("X-Email", "dev@corp.example")
	if p, err = s.Authenticate(r); err != nil || p.Role != RoleUser {
		t.Fatalf("second trusted user: %+v %v", p, err)
	}
	p2, err := s.Authenticate(r)
	if err != nil || p2.ID != p.ID {
		t.Fatalf("same header, another account: %+v %v", p2, err)
	}
	// An account made this way has no password.
	if _, err := s.Signin(ctx, "dev@corp.example", "!", "1.2.3.4"); status(err) != 401 {
		t.Fatalf("password sign-in to a trusted-header account: %v", err)
	}
	pol.SignupEnabled = false
	r.Header.Set("X-Email", "new@corp.example")
	if _, err := s.Authenticate(r); status(err) != 403 {
		t.Fatalf("new trusted user with sign-up disabled: %v, want 403", err)
	}
	r.Header.Set("X-Email", "not an address")
	if _, err := s.Authenticate(r); status(err) != 401 {
		t.Fatalf("bad trusted e-mail: %v, want 401", err)
	}
}

func TestRolesAndDeletion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, u, dir string) {
		ctx := context.Background()
		s, d := newService(t, u, dir, Options{})
		a, _ := s.Signup(ctx, "ada@example.com", "", "password1", open)
		b, _ := s.Signup(ctx, "bob@example.com", "", "password1", open)
		if _, err := s.SetRole(ctx, a.ID, RoleUser); status(err) != 409 {
			t.Fatalf("demoting the only admin: %v, want 409", err)
		}
		if err := s.DeleteUser(ctx, a.ID); status(err) != 409 {
			t.Fatalf("deleting the only admin: %v, want 409", err)
		}
		if _, err := s.SetRole(ctx, b.ID, "boss"); status(err) != 400 {
			t.Fatalf("bad role: %v", err)
		}
		if _, err := s.SetRole(ctx, "nope", RoleUser); status(err) != 404 {
			t.Fatalf("unknown user: %v", err)
		}
		if got, err := s.SetRole(ctx, b.ID, RoleAdmin); err != nil || got.Role != RoleAdmin {
			t.Fatalf("promote: %+v %v", got, err)
		}
		if _, err := s.SetRole(ctx, a.ID, RoleUser); err != nil {
			t.Fatalf("demote with another admin: %v", err)
		}
		se, _ := s.StartSession(ctx, a.ID)
		s.CreateAPIKey(ctx, a.ID)
		if err := s.DeleteUser(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(request(se.Token)); status(err) != 401 {
			t.Fatalf("deleted user's session: %v", err)
		}
		var n int
		d.QueryRow(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n)
		var k int
		d.QueryRow(ctx, `SELECT COUNT(*) FROM api_keys`).Scan(&k)
		if n != 0 || k != 0 {
			t.Fatalf("%d sessions and %d keys left after deleting their user", n, k)
		}
	})
}

func TestClientAddr(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.1:5555"
	if got := ClientAddr(r); got != "192.0.2.1" {
		t.Fatalf("peer: %q", got)
	}
	r.Header.Add("X-Forwarded-For", "1.1.1.1, 10.0.0.9")
	if got := ClientAddr(r); got != "10.0.0.9" {
		t.Fatalf("X-Forwarded-For: %q, want the proxy-appended last entry", got)
	}
}
