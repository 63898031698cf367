package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Session tokens are JWTs signed with HS256, so other tools can read them; the session id inside ties
// each one to a row in the sessions table, which sign-out and account deletion remove.

type claims struct {
	Sub string `json:"sub"` // user id
	Sid string `json:"sid"` // session id
	Iat int64  `json:"iat"` // seconds
	Exp int64  `json:"exp"` // seconds
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

func signToken(secret []byte, c claims) string {
	body, _ := json.Marshal(c)
	msg := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(msg))
	return msg + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

var errBadToken = errors.New("invalid or expired token")

// parseToken checks the signature and expiry and returns the claims.
func parseToken(secret []byte, tok string, now time.Time) (claims, error) {
	var c claims
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || len(tok) > 4096 {
		return c, errBadToken
	}
	msg, sig := tok[:i], tok[i+1:]
	head, body, ok := strings.Cut(msg, ".")
	if !ok || head != jwtHeader {
		return c, errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return c, errBadToken
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(msg))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return c, errBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Sub == "" || c.Sid == "" {
		return c, errBadToken
	}
	if now.Unix() >= c.Exp {
		return c, errBadToken
	}
	return c, nil
}
