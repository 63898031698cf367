// Package registry pulls models into the store and pushes them out over
// the registry protocol Ollama uses: Docker distribution v2 manifests whose
// layers carry Ollama's media types, served at /v2/<namespace>/<model>/...
// by registry.ollama.ai, by Hugging Face (hf.co) and by mirrors.
//
// Pulls are built for bad networks: Bearer-token auth on demand, blob
// redirects to other hosts, large blobs fetched as parallel ranged parts,
// retries with back-off, stall detection, and partial data kept on disk
// (blobs/sha256-<hex>-partial plus a small JSON record of each part's
// progress) so that a pull interrupted by a crash resumes where it stopped.
// Every blob's sha256 is checked before it enters the store, and a
// manifest is written only once all its blobs are there.
//
// Progress is reported as store.Progress events with Ollama's exact
// statuses, so one stream feeds the CLI, /api/pull and the web UI.
package registry

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golem-llm/golem/internal/store"
)

// Config says where names are fetched from and with which credentials.
// ConfigFromEnv fills it from the environment; a server can fill it from
// its own configuration.
type Config struct {
	// Insecure talks plain HTTP to registries (not to mirrors or
	// HF_ENDPOINT, whose URLs carry their own scheme).
	Insecure bool
	// Mirrors maps a registry host to a base URL serving the same
	// protocol; names on that host are fetched from the mirror but stored
	// under their own name.
	Mirrors map[string]string
	// HFEndpoint replaces https://hf.co for hf.co/... names (HF_ENDPOINT).
	HFEndpoint string
	// HFToken is sent to the Hugging Face endpoint (HF_TOKEN), for
	// private and gated repositories.
	HFToken string
	// Username and Password, when set, are sent as basic credentials to
	// token endpoints and to registries that ask for basic auth.
	Username, Password string
	// KeyPath is the ed25519 key (OpenSSH format) that signs token
	// requests, as ollama.com expects for pushes to a user's namespace;
	// made there by the first push when missing. Empty: token requests go
	// unsigned. Not used with basic credentials or for Hugging Face.
	KeyPath string
}

// ConfigFromEnv reads GOLEM_REGISTRY_MIRROR, HF_ENDPOINT, HF_TOKEN,
// GOLEM_REGISTRY_USERNAME and GOLEM_REGISTRY_PASSWORD, and takes the key
// at DefaultKeyPath (GOLEM_KEY). GOLEM_REGISTRY_MIRROR
// is either a URL, which mirrors registry.ollama.ai, or a comma-separated
// list of host=URL pairs.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		HFEndpoint: strings.TrimSpace(os.Getenv("HF_ENDPOINT")),
		HFToken:    strings.TrimSpace(os.Getenv("HF_TOKEN")),
		Username:   os.Getenv("GOLEM_REGISTRY_USERNAME"),
		Password:   os.Getenv("GOLEM_REGISTRY_PASSWORD"),
		KeyPath:    DefaultKeyPath(),
	}
	if cfg.HFToken == "" {
		cfg.HFToken = strings.TrimSpace(os.Getenv("HUGGING_FACE_HUB_TOKEN"))
	}
	if cfg.HFEndpoint != "" {
		if err := checkBaseURL(cfg.HFEndpoint); err != nil {
			return cfg, fmt.Errorf("HF_ENDPOINT: %v", err)
		}
	}
	m, err := ParseMirrors(os.Getenv("GOLEM_REGISTRY_MIRROR"))
	if err != nil {
		return cfg, fmt.Errorf("GOLEM_REGISTRY_MIRROR: %v", err)
	}
	cfg.Mirrors = m
	return cfg, nil
}

// ParseMirrors parses GOLEM_REGISTRY_MIRROR: "URL" (a mirror of
// registry.ollama.ai) or "host=URL,host=URL".
func ParseMirrors(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		host, u, ok := strings.Cut(item, "=")
		if !ok {
			host, u = store.DefaultHost, item
		}
		if err := checkBaseURL(u); err != nil {
			return nil, err
		}
		out[strings.ToLower(strings.TrimSpace(host))] = strings.TrimRight(strings.TrimSpace(u), "/")
	}
	return out, nil
}

func checkBaseURL(s string) error {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// Client pulls and pushes models for a store.
type Client struct {
	Store  *store.Store
	Config Config
	// HTTP is the client used for every request. Its transport should
	// honour HTTPS_PROXY/NO_PROXY (the default does, through
	// http.ProxyFromEnvironment). Its CheckRedirect is replaced per
	// request.
	HTTP *http.Client

	// Transfer tuning; zero values take the defaults.
	MinPartSize      int64         // smallest ranged part of a blob (64 MiB)
	MaxParts         int           // parts fetched in parallel per blob (8)
	MaxRetries       int           // attempts in a row without progress before giving up (6)
	RetryBase        time.Duration // first back-off (250 ms), doubling
	MaxBackoff       time.Duration // longest back-off (30 s)
	StallTimeout     time.Duration // no bytes for this long cancels and retries a part (30 s)
	ProgressInterval time.Duration // between progress events of a transfer (100 ms)
	ChunkSize        int64         // upload chunk size (64 MiB)

	// Logf, when set, receives retry and resume notes.
	Logf func(format string, args ...any)

	mu     sync.Mutex
	tokens map[string]string // registry host + repository -> bearer token
	key    *Key              // loaded from Config.KeyPath on first use
}

// signingKey returns the key that signs token requests, loading it on
// first use, or making it when create is set (pushes; a pull does not
// write a key file); nil when there is none to use. A key that cannot be
// read or made is logged and left out: public pulls must not fail for it.
func (c *Client) signingKey(create bool) *Key {
	if c.Config.KeyPath == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key == nil {
		load := LoadKey
		if create {
			load = LoadOrCreateKey
		}
		k, err := load(c.Config.KeyPath)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				c.logf("registry: no signing key: %v", err)
			}
			return nil
		}
		c.key = k
	}
	return c.key
}

// New returns a client for st with the given configuration and a default
// HTTP client.
func New(st *store.Store, cfg Config) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	return &Client{Store: st, Config: cfg, HTTP: &http.Client{Transport: tr}}
}

func (c *Client) minPartSize() int64       { return defaultInt64(c.MinPartSize, 64<<20) }
func (c *Client) chunkSize() int64         { return defaultInt64(c.ChunkSize, 64<<20) }
func (c *Client) maxParts() int            { return int(defaultInt64(int64(c.MaxParts), 8)) }
func (c *Client) maxRetries() int          { return int(defaultInt64(int64(c.MaxRetries), 6)) }
func (c *Client) retryBase() time.Duration { return defaultDur(c.RetryBase, 250*time.Millisecond) }
func (c *Client) maxBackoff() time.Duration {
	return defaultDur(c.MaxBackoff, 30*time.Second)
}
func (c *Client) stallTimeout() time.Duration { return defaultDur(c.StallTimeout, 30*time.Second) }
func (c *Client) progressInterval() time.Duration {
	return defaultDur(c.ProgressInterval, 100*time.Millisecond)
}

func defaultInt64(v, d int64) int64 {
	if v > 0 {
		return v
	}
	return d
}

func defaultDur(v, d time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return d
}

func (c *Client) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// backoff sleeps before attempt n (1-based): RetryBase doubled each time,
// capped, with ±50% jitter so that parallel parts do not retry in step.
func (c *Client) backoff(ctx context.Context, n int) error {
	d := c.retryBase()
	for i := 1; i < n && d < c.maxBackoff(); i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff())
	d = time.Duration(float64(d) * (0.5 + rand.Float64()))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// endpoint is where a model name is fetched from.
type endpoint struct {
	base  *url.URL // scheme://host[/prefix] of the registry API
	repo  string   // namespace/model
	tag   string
	isHF  bool
	label string // for messages: the name as typed
}

// endpointFor maps a name to its registry: the HF endpoint for hf.co
// names, a mirror when one is configured for the host, else the host
// itself over HTTPS (HTTP with Insecure).
func (c *Client) endpointFor(n store.Name) (*endpoint, error) {
	ep := &endpoint{repo: n.Repository(), tag: n.Tag, isHF: n.IsHF(), label: n.DisplayShortest()}
	var raw string
	switch {
	case ep.isHF && c.Config.HFEndpoint != "":
		raw = c.Config.HFEndpoint
	case c.Config.Mirrors[strings.ToLower(n.Host)] != "":
		raw = c.Config.Mirrors[strings.ToLower(n.Host)]
	case c.Config.Insecure:
		raw = "http://" + n.Host
	default:
		raw = "https://" + n.Host
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("registry: bad registry URL %q: %v", raw, err)
	}
	ep.base = u
	return ep, nil
}

// url returns the API URL base/v2/<repo>/<kind>/<ref>.
func (ep *endpoint) url(kind, ref string) *url.URL {
	return ep.base.JoinPath("v2", ep.repo, kind, ref)
}

// StatusError is an unexpected HTTP status from a registry.
type StatusError struct {
	Method, URL string
	Code        int
	Body        string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Temporary reports whether retrying may help: server errors, rate
// limits and timeouts.
func (e *StatusError) Temporary() bool {
	return e.Code >= 500 || e.Code == http.StatusTooManyRequests || e.Code == http.StatusRequestTimeout
}

// ErrNotFound is returned (wrapped) when the registry has no such model
// or blob.
var ErrNotFound = errors.New("not found")

// ErrUnauthorized is returned (wrapped) when the registry refuses our
// credentials.
var ErrUnauthorized = errors.New("unauthorized")

func statusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.TrimSpace(string(body))
	// Registries answer with {"errors":[{"code":...,"message":...}]}.
	var e struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		msg = e.Errors[0].Code + ": " + e.Errors[0].Message
	}
	err := &StatusError{Method: resp.Request.Method, URL: redact(resp.Request.URL), Code: resp.StatusCode, Body: msg}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return err
}

// redact drops the query of a URL (blob hosts put signatures there).
func redact(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	c.User = nil
	return c.String()
}

// temporary reports whether an error is worth retrying.
func temporary(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var pe *permanentError
	if errors.As(err, &pe) {
		return false
	}
	// An unknown host stays unknown; other DNS failures may pass.
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false
	}
	// Network errors, resets, unexpected EOFs, stalls.
	return true
}

// permanentError marks an error retries cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// request is one registry call: everything needed to send it again.
type request struct {
	method  string
	url     *url.URL
	header  http.Header
	body    []byte // replayed on retries
	ep      *endpoint
	action  string // "pull" or "pull,push": the scope asked for on 401
	noRetry bool
	// stopRedirect stops at the first redirect to another host, so that
	// its Location can be read (blob downloads).
	stopRedirect bool
}

// do sends a request with auth and retries: a 401 is answered once with a
// token from the registry's WWW-Authenticate challenge; network errors and
// 5xx/429 are retried with back-off. Statuses >= 400 become errors; the
// caller closes the body of the response it gets.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	var lastErr error
	authed := false
	for attempt := 1; ; attempt++ {
		resp, err := c.send(ctx, r)
		if err == nil && resp.StatusCode == http.StatusUnauthorized && !authed {
			challenge := resp.Header.Get("WWW-Authenticate")
			resp.Body.Close()
			authed = true
			if err := c.authorize(ctx, r, challenge); err != nil {
				return nil, err
			}
			attempt--
			continue
		}
		if err == nil && resp.StatusCode < 400 {
			return resp, nil
		}
		if err == nil {
			err = statusError(resp)
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
		if r.noRetry || !temporary(err) || attempt >= c.maxRetries() {
			if temporary(err) && attempt > 1 {
				return nil, fmt.Errorf("registry: giving up after %d attempts: %w", attempt, lastErr)
			}
			return nil, fmt.Errorf("registry: %w", lastErr)
		}
		c.logf("registry: %v; retrying", err)
		if err := c.backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// send sends a request once with the credentials we hold for its host.
func (c *Client) send(ctx context.Context, r *request) (*http.Response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url.String(), body)
	if err != nil {
		return nil, &permanentError{err}
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "golem (registry client)")
	if r.body != nil {
		req.ContentLength = int64(len(r.body))
	}
	c.setAuth(req, r.ep)
	client := *c.HTTP
	origHost := req.URL.Host
	client.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if next.URL.Scheme == "http" && via[0].URL.Scheme == "https" && !c.Config.Insecure {
			return fmt.Errorf("refusing redirect from https to http (%s)", redact(next.URL))
		}
		if r.stopRedirect && next.URL.Host != origHost {
			return http.ErrUseLastResponse
		}
		// Credentials go to the registry host only; Go drops them on
		// redirects to other domains, and we drop them on other ports too.
		if next.URL.Host != origHost {
			next.Header.Del("Authorization")
		}
		return nil
	}
	return client.Do(req)
}

// tokenKey is the key of a bearer token: registry host and repository.
func tokenKey(ep *endpoint) string { return ep.base.Host + " " + ep.repo }

// setAuth adds the credentials we hold for the endpoint: a bearer token
// from an earlier challenge, the HF token for Hugging Face, or basic
// credentials.
func (c *Client) setAuth(req *http.Request, ep *endpoint) {
	if ep == nil || req.URL.Host != ep.base.Host {
		return
	}
	c.mu.Lock()
	tok := c.tokens[tokenKey(ep)]
	c.mu.Unlock()
	switch {
	case tok != "":
		req.Header.Set("Authorization", "Bearer "+tok)
	case ep.isHF && c.Config.HFToken != "":
		req.Header.Set("Authorization", "Bearer "+c.Config.HFToken)
	case c.Config.Username != "" && c.Config.Password != "":
		req.SetBasicAuth(c.Config.Username, c.Config.Password)
	}
}

// forgetToken drops the bearer token held for an endpoint, so that the
// next request is challenged and gets a fresh one.
func (c *Client) forgetToken(ep *endpoint) {
	c.mu.Lock()
	delete(c.tokens, tokenKey(ep))
	c.mu.Unlock()
}

// challenge is a parsed WWW-Authenticate header.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenge parses `Bearer realm="...",service="...",scope="..."`.
func parseChallenge(h string) challenge {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	ch := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
	for rest = strings.TrimSpace(rest); rest != ""; {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		key = strings.ToLower(strings.TrimSpace(key))
		after = strings.TrimSpace(after)
		var val string
		if strings.HasPrefix(after, `"`) {
			end := 1
			for end < len(after) && after[end] != '"' {
				if after[end] == '\\' {
					end++
				}
				end++
			}
			val = strings.ReplaceAll(after[1:min(end, len(after))], `\"`, `"`)
			after = after[min(end+1, len(after)):]
		} else {
			val, after, _ = strings.Cut(after, ",")
			after = "," + after
		}
		ch.params[key] = val
		after = strings.TrimSpace(after)
		rest = strings.TrimPrefix(after, ",")
		rest = strings.TrimSpace(rest)
	}
	return ch
}

// authorize answers a 401 challenge: for Bearer, it fetches a token from
// the realm for the challenge's scope (or repository:<repo>:<action>) and
// remembers it for the repository; for Basic it needs credentials.
func (c *Client) authorize(ctx context.Context, r *request, header string) error {
	if r.ep == nil || r.url.Host != r.ep.base.Host {
		return fmt.Errorf("registry: %s %s: %w (401 from a blob host)", r.method, redact(r.url), ErrUnauthorized)
	}
	ch := parseChallenge(header)
	switch ch.scheme {
	case "bearer":
	case "basic":
		if c.Config.Username == "" {
			return fmt.Errorf("registry: %s asks for a username and password: %w", r.ep.base.Host, ErrUnauthorized)
		}
		return nil // setAuth sends them on the retry
	default:
		return fmt.Errorf("registry: %s %s: %w (challenge %q)", r.method, redact(r.url), ErrUnauthorized, header)
	}
	realm := ch.params["realm"]
	ru, err := url.Parse(realm)
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" {
		return fmt.Errorf("registry: %s: bad token realm %q in the auth challenge", r.ep.base.Host, realm)
	}
	if ru.Scheme == "http" && r.url.Scheme == "https" && !c.Config.Insecure {
		return fmt.Errorf("registry: refusing to fetch a token over plain http from %s", ru.Host)
	}
	q := ru.Query()
	if s := ch.params["service"]; s != "" {
		q.Set("service", s)
	}
	scope := ch.params["scope"]
	if scope == "" {
		scope = "repository:" + r.ep.repo + ":" + r.action
	}
	for _, s := range strings.Fields(scope) {
		q.Add("scope", s)
	}
	// With a key (and no other credentials), the token request is signed
	// as Ollama signs it: a timestamp and a nonce in the query, then
	// "GET,<URL>,<body hash>" signed into the Authorization header.
	var key *Key
	if !r.ep.isHF && c.Config.Username == "" {
		key = c.signingKey(strings.Contains(r.action, "push"))
	}
	if key != nil {
		q.Set("ts", strconv.FormatInt(time.Now().Unix(), 10))
		nonce := make([]byte, 16)
		if _, err := crand.Read(nonce); err != nil {
			return err
		}
		q.Set("nonce", base64.RawURLEncoding.EncodeToString(nonce))
	}
	ru.RawQuery = q.Encode()
	tr := &request{method: http.MethodGet, url: ru}
	var tokResp *http.Response
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ru.String(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "golem (registry client)")
		switch {
		case r.ep.isHF && c.Config.HFToken != "":
			req.Header.Set("Authorization", "Bearer "+c.Config.HFToken)
		case c.Config.Username != "" && c.Config.Password != "":
			req.SetBasicAuth(c.Config.Username, c.Config.Password)
		case key != nil:
			sig, err := key.signRequest(http.MethodGet, ru.String(), nil)
			if err != nil {
				return fmt.Errorf("registry: signing the token request: %v", err)
			}
			req.Header.Set("Authorization", sig)
		}
		tokResp, err = c.HTTP.Do(req)
		if err == nil && tokResp.StatusCode < 400 {
			break
		}
		if err == nil {
			err = statusError(tokResp)
			tokResp.Body.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !temporary(err) || attempt >= c.maxRetries() {
			if key != nil && errors.Is(err, ErrUnauthorized) {
				return fmt.Errorf("registry: getting a token for %s from %s: %w (requests are signed with %s; "+
					"the registry must know its public key, e.g. at https://ollama.com/settings/keys: %s)",
					r.ep.repo, redact(tr.url), err, key.Path(), key.PublicKey())
			}
			return fmt.Errorf("registry: getting a token for %s from %s: %w", r.ep.repo, redact(tr.url), err)
		}
		if err := c.backoff(ctx, attempt); err != nil {
			return err
		}
	}
	defer tokResp.Body.Close()
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(tokResp.Body, 1<<20)).Decode(&tok); err != nil {
		return fmt.Errorf("registry: token from %s: %v", ru.Host, err)
	}
	t := tok.Token
	if t == "" {
		t = tok.AccessToken
	}
	if t == "" {
		return fmt.Errorf("registry: token endpoint %s returned no token", ru.Host)
	}
	c.mu.Lock()
	if c.tokens == nil {
		c.tokens = map[string]string{}
	}
	c.tokens[tokenKey(r.ep)] = t
	c.mu.Unlock()
	return nil
}
