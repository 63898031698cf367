// Package auth keeps the web UI's accounts: e-mail and argon2id password, roles (admin, user, pending),
// sessions as signed tokens tied to database rows, personal API keys, login rate limiting and
// trusted-header sign-in for SSO proxies. Everything lives in the database, so any replica can check
// any credential and a restart logs no one out.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golem-llm/golem/internal/db"
)

// Role is an account's role.
type Role string

const (
	RoleAdmin   Role = "admin"
	RoleUser    Role = "user"
	RolePending Role = "pending" // signed up, waiting for an admin's approval
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleUser || r == RolePending }

// User is an account as the API shows it.
type User struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Role      Role   `json:"role"`
	CreatedAt int64  `json:"created_at"`
}

// Error is a refusal with the HTTP status that describes it.
type Error struct {
	Status     int
	Detail     string
	RetryAfter time.Duration // for 429
}

func (e *Error) Error() string { return e.Detail }

func fail(status int, format string, args ...any) *Error {
	return &Error{Status: status, Detail: fmt.Sprintf(format, args...)}
}

// Policy is what sign-up does: whether it is open, and the role new accounts get.
type Policy struct {
	SignupEnabled bool
	DefaultRole   Role
}

// Options configures a Service.
type Options struct {
	// Secret signs session tokens (WEBUI_SECRET_KEY). Empty: a random secret created once and kept in the
	// database, shared by every replica.
	Secret string
	// SessionTTL is how long a session lasts; 30 days when zero.
	SessionTTL time.Duration
	// TrustedEmailHeader, when set, names a request header (set by an SSO proxy) that carries the
	// signed-in user's e-mail; TrustedNameHeader optionally carries the display name.
	TrustedEmailHeader string
	TrustedNameHeader  string
	// Policy gives the sign-up policy for accounts created by trusted-header sign-in.
	Policy func(ctx context.Context) (Policy, error)
	// CookieSecure forces the Secure attribute on the session cookie even for plain-HTTP requests.
	CookieSecure bool
	// Login rate limits: failed sign-ins per e-mail and per client address within Window.
	MaxFailuresPerEmail  int // 10 when zero
	MaxFailuresPerClient int // 50 when zero
	Window               time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service checks and manages accounts.
type Service struct {
	db     *db.DB
	secret []byte
	o      Options
	// dummyHash is verified against when an e-mail is unknown, so that a wrong e-mail takes as long as a
	// wrong password.
	dummyHash string
}

// CookieName is the session cookie's name.
const CookieName = "token"

// New loads (or creates) the signing secret and returns the service.
func New(ctx context.Context, d *db.DB, o Options) (*Service, error) {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 30 * 24 * time.Hour
	}
	if o.MaxFailuresPerEmail <= 0 {
		o.MaxFailuresPerEmail = 10
	}
	if o.MaxFailuresPerClient <= 0 {
		o.MaxFailuresPerClient = 50
	}
	if o.Window <= 0 {
		o.Window = 15 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Policy == nil {
		o.Policy = func(context.Context) (Policy, error) { return Policy{DefaultRole: RolePending}, nil }
	}
	s := &Service{db: d, o: o}
	if o.Secret != "" {
		s.secret = []byte(o.Secret)
	} else {
		// First replica to get here stores its secret; everyone then reads the stored one.
		if _, err := d.Exec(ctx, `INSERT INTO config (key, value, updated_at) VALUES ('session_secret', ?, ?)
			ON CONFLICT (key) DO NOTHING`, randomHex(32), o.Now().UnixMilli()); err != nil {
			return nil, fmt.Errorf("auth: store session secret: %w", err)
		}
		var sec string
		if err := d.QueryRow(ctx, `SELECT value FROM config WHERE key = 'session_secret'`).Scan(&sec); err != nil {
			return nil, fmt.Errorf("auth: read session secret: %w", err)
		}
		s.secret = []byte(sec)
	}
	h, err := HashPassword(randomHex(16))
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	return s, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewID returns a random 128-bit id as 32 hex digits.
func NewID() string { return randomHex(16) }

// normalizeEmail trims and lower-cases an address and checks that it is one plain address.
func normalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return "", fail(400, "e-mail is required")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 || !strings.Contains(e[strings.LastIndexByte(e, '@'):], ".") &&
		!strings.HasSuffix(e, "@localhost") {
		return "", fail(400, "%q is not a valid e-mail address", s)
	}
	return e, nil
}

const (
	minPassword = 8
	maxPassword = 256
)

// Signup creates an account. The very first account is an admin whatever the policy; later ones need
// sign-up enabled and get the policy's default role.
func (s *Service) Signup(ctx context.Context, email, name, password string, p Policy) (User, error) {
	e, err := normalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if len(password) < minPassword || len(password) > maxPassword {
		return User{}, fail(400, "password must be %d to %d bytes long", minPassword, maxPassword)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	return s.create(ctx, e, name, hash, p)
}

// create inserts an account under the "users" lock, so two first sign-ups at once cannot both become admin.
func (s *Service) create(ctx context.Context, email, name, hash string, p Policy) (User, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = email[:strings.IndexByte(email, '@')]
	}
	if utf8.RuneCountInString(name) > 100 {
		return User{}, fail(400, "name is longer than 100 characters")
	}
	now := s.o.Now().UnixMilli()
	u := User{ID: NewID(), Email: email, Name: name, CreatedAt: now}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, "users"); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		switch {
		case n == 0:
			u.Role = RoleAdmin
		case !p.SignupEnabled:
			return fail(403, "sign-up is disabled: ask an admin for an account")
		default:
			u.Role = p.DefaultRole
			if !u.Role.Valid() {
				u.Role = RolePending
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, u.ID, u.Email, u.Name, string(u.Role), hash, now, now)
		if db.IsUniqueViolation(err) {
			return fail(409, "%s is already registered", email)
		}
		return err
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// HasUsers reports whether any account exists (the front end's onboarding state).
func (s *Service) HasUsers(ctx context.Context) (bool, error) {
	var one int
	err := s.db.QueryRow(ctx, `SELECT 1 FROM users LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

const userCols = `u.id, u.email, u.name, u.role, u.created_at`

func scanUser(row interface{ Scan(...any) error }, extra ...any) (User, error) {
	var u User
	var role string
	err := row.Scan(append([]any{&u.ID, &u.Email, &u.Name, &role, &u.CreatedAt}, extra...)...)
	u.Role = Role(role)
	return u, err
}

// Signin checks an e-mail and password. client is the caller's address for rate limiting.
func (s *Service) Signin(ctx context.Context, email, password, client string) (User, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" || password == "" {
		return User{}, fail(400, "e-mail and password are required")
	}
	if len(password) > maxPassword {
		return User{}, fail(401, "wrong e-mail or password")
	}
	keys := []string{"email:" + e, "client:" + client}
	limits := []int{s.o.MaxFailuresPerEmail, s.o.MaxFailuresPerClient}
	if err := s.checkLimit(ctx, keys, limits); err != nil {
		return User{}, err
	}
	var hash string
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+`, u.password_hash FROM users u WHERE u.email = ?`, e), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		VerifyPassword(s.dummyHash, password)
		return User{}, s.failedSignin(ctx, keys)
	}
	if err != nil {
		return User{}, err
	}
	ok, _ := VerifyPassword(hash, password)
	if !ok {
		return User{}, s.failedSignin(ctx, keys)
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM login_failures WHERE key = ?`, keys[0]); err != nil {
		return User{}, err
	}
	return u, nil
}

// checkLimit refuses with 429 when any key has reached its limit of failures within the window.
func (s *Service) checkLimit(ctx context.Context, keys []string, limits []int) error {
	now := s.o.Now()
	since := now.Add(-s.o.Window).UnixMilli()
	for i, k := range keys {
		var n int
		var oldest sql.NullInt64
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = ? AND at > ?`,
			k, since).Scan(&n, &oldest); err != nil {
			return err
		}
		if n >= limits[i] {
			wait := time.UnixMilli(oldest.Int64).Add(s.o.Window).Sub(now)
			if wait < time.Second {
				wait = time.Second
			}
			return &Error{Status: 429, RetryAfter: wait,
				Detail: fmt.Sprintf("too many failed sign-ins: try again in %d seconds", int(wait.Seconds()+0.5))}
		}
	}
	return nil
}

// failedSignin records a failure for each key and drops failures older than the window.
func (s *Service) failedSignin(ctx context.Context, keys []string) error {
	now := s.o.Now()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, k := range keys {
			if _, err := tx.Exec(ctx, `INSERT INTO login_failures (key, at) VALUES (?, ?)`, k, now.UnixMilli()); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE at <= ?`, now.Add(-s.o.Window).UnixMilli())
		return err
	})
	if err != nil {
		return err
	}
	return fail(401, "wrong e-mail or password")
}

// Session is a started session.
type Session struct {
	ID        string
	Token     string
	ExpiresAt time.Time
}

// StartSession creates a session for the user and returns its signed token.
func (s *Service) StartSession(ctx context.Context, userID string) (Session, error) {
	now := s.o.Now()
	se := Session{ID: NewID(), ExpiresAt: now.Add(s.o.SessionTTL).Truncate(time.Second)}
	if _, err := s.db.Exec(ctx, `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		se.ID, userID, now.UnixMilli(), se.ExpiresAt.UnixMilli()); err != nil {
		return Session{}, fmt.Errorf("auth: start session: %w", err)
	}
	se.Token = signToken(s.secret, claims{Sub: userID, Sid: se.ID, Iat: now.Unix(), Exp: se.ExpiresAt.Unix()})
	// Expired sessions are dropped here rather than by a background job, which replicas would all run.
	if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?`, userID, now.UnixMilli()); err != nil {
		return Session{}, err
	}
	return se, nil
}

// EndSession removes a session: its token stops working everywhere.
func (s *Service) EndSession(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return err
}

// Principal is who made a request.
type Principal struct {
	User
	SessionID string // empty for API keys and trusted headers
	APIKey    bool
	Trusted   bool // signed in by the trusted header
}

// Authenticate finds the caller: trusted header, then bearer token (session or API key), then cookie.
// It returns (nil, nil) when the request carries no credentials, and a 401 *Error when they are bad.
func (s *Service) Authenticate(r *http.Request) (*Principal, error) {
	ctx := r.Context()
	if h := s.o.TrustedEmailHeader; h != "" {
		if email := r.Header.Get(h); email != "" {
			return s.trusted(ctx, email, r.Header.Get(s.o.TrustedNameHeader))
		}
	}
	tok := ""
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, rest, _ := strings.Cut(a, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
			return nil, fail(401, "Authorization header must be \"Bearer <token>\"")
		}
		tok = strings.TrimSpace(rest)
	} else if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		tok = c.Value
	}
	if tok == "" {
		return nil, nil
	}
	if strings.HasPrefix(tok, apiKeyPrefix) {
		u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM api_keys k JOIN users u ON u.id = k.user_id
			WHERE k.hash = ?`, hashKey(tok)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fail(401, "unknown API key")
		}
		if err != nil {
			return nil, err
		}
		return &Principal{User: u, APIKey: true}, nil
	}
	c, err := parseToken(s.secret, tok, s.o.Now())
	if err != nil {
		return nil, fail(401, "%v: sign in again", err)
	}
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = ? AND s.expires_at > ?`, c.Sid, s.o.Now().UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) || err == nil && u.ID != c.Sub {
		return nil, fail(401, "session ended: sign in again")
	}
	if err != nil {
		return nil, err
	}
	return &Principal{User: u, SessionID: c.Sid}, nil
}

// trusted signs in the user the SSO proxy named, creating the account on first sight.
func (s *Service) trusted(ctx context.Context, email, name string) (*Principal, error) {
	e, err := normalizeEmail(email)
	if err != nil {
		return nil, fail(401, "trusted header %s: %v", s.o.TrustedEmailHeader, err)
	}
	u, err := s.userBy(ctx, "u.email", e)
	var ae *Error
	if errors.As(err, &ae) && ae.Status == 404 {
		p, perr := s.o.Policy(ctx)
		if perr != nil {
			return nil, perr
		}
		// "!" is no argon2id hash: the account cannot sign in with a password.
		u, err = s.create(ctx, e, name, "!", p)
		if errors.As(err, &ae) && ae.Status == 409 { // another replica created it just now
			u, err = s.userBy(ctx, "u.email", e)
		}
	}
	if err != nil {
		return nil, err
	}
	return &Principal{User: u, Trusted: true}, nil
}

// SetCookie sets the session cookie: HttpOnly, SameSite=Lax, and Secure when the request came over
// HTTPS (directly or per X-Forwarded-Proto) or Options.CookieSecure is set. Browsers drop Secure cookies
// on plain-HTTP pages other than localhost, so plain NodePort set-ups would otherwise never sign in.
func (s *Service) SetCookie(w http.ResponseWriter, r *http.Request, se Session) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: se.Token, Path: "/", Expires: se.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookie(r)})
}

// ClearCookie removes the session cookie.
func (s *Service) ClearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookie(r)})
}

func (s *Service) secureCookie(r *http.Request) bool {
	return s.o.CookieSecure || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// ClientAddr is the caller's address for rate limiting: the address the nearest proxy appended to
// X-Forwarded-For (the one part a client cannot forge past that proxy), else the connection's peer.
func ClientAddr(r *http.Request) string {
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		last := xff[len(xff)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		if a := strings.TrimSpace(last); a != "" {
			return a
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

const apiKeyPrefix = "sk-"

func hashKey(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}

// APIKeyInfo describes a user's API key without the key itself.
type APIKeyInfo struct {
	Exists    bool   `json:"exists"`
	Prefix    string `json:"prefix,omitempty"`
	CreatedAt int64  `json:"created_at,omitempty"`
}

// CreateAPIKey makes a new API key for the user, replacing any old one, and returns it. Only its hash is
// stored.
func (s *Service) CreateAPIKey(ctx context.Context, userID string) (string, int64, error) {
	key := apiKeyPrefix + randomHex(24)
	now := s.o.Now().UnixMilli()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE user_id = ?`, userID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (user_id, hash, prefix, created_at) VALUES (?, ?, ?, ?)`,
			userID, hashKey(key), key[:len(apiKeyPrefix)+4], now)
		return err
	})
	return key, now, err
}

// APIKey describes the user's API key.
func (s *Service) APIKey(ctx context.Context, userID string) (APIKeyInfo, error) {
	var k APIKeyInfo
	err := s.db.QueryRow(ctx, `SELECT prefix, created_at FROM api_keys WHERE user_id = ?`, userID).Scan(&k.Prefix, &k.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKeyInfo{}, nil
	}
	k.Exists = err == nil
	return k, err
}

// DeleteAPIKey removes the user's API key.
func (s *Service) DeleteAPIKey(ctx context.Context, userID string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM api_keys WHERE user_id = ?`, userID)
	return err
}

// Users lists every account, oldest first.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userCols+` FROM users u ORDER BY u.created_at, u.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	us := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		us = append(us, u)
	}
	return us, rows.Err()
}

// User returns one account (404 *Error when there is none).
func (s *Service) User(ctx context.Context, id string) (User, error) {
	return s.userBy(ctx, "u.id", id)
}

func (s *Service) userBy(ctx context.Context, col, v string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users u WHERE `+col+` = ?`, v))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fail(404, "no such user")
	}
	return u, err
}

// SetRole changes an account's role; it refuses to leave the system without an admin.
func (s *Service) SetRole(ctx context.Context, id string, role Role) (User, error) {
	if !role.Valid() {
		return User{}, fail(400, "role %q: want admin, user or pending", role)
	}
	var u User
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, "users"); err != nil {
			return err
		}
		var err error
		if u, err = s.lastAdminCheck(ctx, tx, id, role); err != nil {
			return err
		}
		u.Role = role
		_, err = tx.Exec(ctx, `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`, string(role), s.o.Now().UnixMilli(), id)
		return err
	})
	return u, err
}

// ChangePassword replaces the signed-in user's password after checking the current one. Wrong current
// passwords count against the same failure limit as sign-ins, so the form cannot be used to guess. Every
// other session of the user ends (keepSession, the caller's own, stays): a changed password should lock
// out whoever else had signed in with the old one.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next, keepSession, client string) error {
	if current == "" || next == "" {
		return fail(400, "current and new password are required")
	}
	if len(next) < minPassword || len(next) > maxPassword {
		return fail(400, "new password must be %d to %d bytes long", minPassword, maxPassword)
	}
	var hash, email string
	err := s.db.QueryRow(ctx, `SELECT password_hash, email FROM users WHERE id = ?`, userID).Scan(&hash, &email)
	if errors.Is(err, sql.ErrNoRows) {
		return fail(404, "no such user")
	}
	if err != nil {
		return err
	}
	if hash == "!" {
		return fail(409, "this account signs in through the trusted header and has no password")
	}
	keys := []string{"email:" + email, "client:" + client}
	if err := s.checkLimit(ctx, keys, []int{s.o.MaxFailuresPerEmail, s.o.MaxFailuresPerClient}); err != nil {
		return err
	}
	if ok, _ := VerifyPassword(hash, current); !ok || len(current) > maxPassword {
		// 400, not 401: the caller is signed in, only the form is wrong.
		err := s.failedSignin(ctx, keys)
		var ae *Error
		if errors.As(err, &ae) && ae.Status == 401 {
			return fail(400, "current password is wrong")
		}
		return err
	}
	return s.setPassword(ctx, userID, next, keepSession)
}

// ResetPassword sets another account's password (an admin's action) and ends all of its sessions.
func (s *Service) ResetPassword(ctx context.Context, userID, next string) error {
	if len(next) < minPassword || len(next) > maxPassword {
		return fail(400, "password must be %d to %d bytes long", minPassword, maxPassword)
	}
	if _, err := s.User(ctx, userID); err != nil {
		return err
	}
	return s.setPassword(ctx, userID, next, "")
}

func (s *Service) setPassword(ctx context.Context, userID, next, keepSession string) error {
	h, err := HashPassword(next)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
			h, s.o.Now().UnixMilli(), userID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keepSession)
		return err
	})
}

// DeleteUser removes an account with its sessions, API key and chats; it refuses to remove the last admin.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, "users"); err != nil {
			return err
		}
		if _, err := s.lastAdminCheck(ctx, tx, id, ""); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM users WHERE id = ?`, id)
		return err
	})
}

// lastAdminCheck loads the user and fails with 409 if it is the only admin and would stop being one.
func (s *Service) lastAdminCheck(ctx context.Context, tx *db.Tx, id string, newRole Role) (User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users u WHERE u.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fail(404, "no such user")
	}
	if err != nil {
		return User{}, err
	}
	if u.Role == RoleAdmin && newRole != RoleAdmin {
		var admins int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin'`).Scan(&admins); err != nil {
			return User{}, err
		}
		if admins <= 1 {
			return User{}, fail(409, "%s is the only admin: make another admin first", u.Email)
		}
	}
	return u, nil
}
