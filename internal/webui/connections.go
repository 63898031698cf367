package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golem-llm/golem/internal/auth"
)

// Connection is a model server the UI talks to: an Ollama API or an OpenAI-compatible one.
type Connection struct {
	ID        string `json:"id"`
	Type      string `json:"type"` // "ollama" or "openai"
	Name      string `json:"name"`
	URL       string `json:"url"`
	Key       string `json:"-"`
	HasKey    bool   `json:"has_key"`
	KeyHint   string `json:"key_hint"`
	Enabled   bool   `json:"enabled"`
	Builtin   bool   `json:"builtin"`
	Env       bool   `json:"env"`
	Pipelines bool   `json:"pipelines"`
	// checked: a listing or verify has recorded whether it is a Pipelines server.
	checked bool
}

const (
	typeOllama = "ollama"
	typeOpenAI = "openai"
	builtinID  = "builtin"
	// builtinBase is the pretend address of in-process calls to the built-in engine: a loopback host,
	// which servers that check Host (as Ollama does against DNS rebinding) accept.
	builtinBase = "http://127.0.0.1"
	// builtinPipelinesID is the in-process Pipelines server's connection (Config.Pipelines), reached at
	// builtinPipelinesURL: a host under .invalid, which never resolves, so no real server is taken for it.
	builtinPipelinesID   = "builtin-pipelines"
	builtinPipelinesHost = "builtin.invalid"
	builtinPipelinesURL  = "http://" + builtinPipelinesHost + "/pipelines"
)

func keyHint(k string) string {
	if k == "" {
		return ""
	}
	if len(k) <= 8 {
		return "…"
	}
	return k[:3] + "…" + k[len(k)-4:]
}

// normalizeURL checks a base URL and drops a trailing slash.
func normalizeURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("url %q: want http://host[:port][/path] or https://…", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("url %q: a base URL has no query or fragment", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func hostName(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Host
	}
	return s
}

// connections lists the built-in engine, then those from the environment, then stored ones.
func (h *Handler) connections(ctx context.Context) ([]Connection, error) {
	var cs []Connection
	if h.engine != nil {
		cs = append(cs, Connection{ID: builtinID, Type: typeOllama, Name: "Built-in engine", Enabled: true, Builtin: true})
	}
	if h.pipelines != nil {
		cs = append(cs, Connection{ID: builtinPipelinesID, Type: typeOpenAI, Name: "Built-in pipelines",
			URL: builtinPipelinesURL, Key: h.pipelinesKey, Enabled: true, Builtin: true})
	}
	for i, u := range h.env.ollama {
		u, _ := normalizeURL(u)
		cs = append(cs, Connection{ID: "env-ollama-" + strconv.Itoa(i), Type: typeOllama, Name: hostName(u), URL: u,
			Enabled: true, Env: true})
	}
	for i, o := range h.env.openai {
		u, _ := normalizeURL(o.url)
		cs = append(cs, Connection{ID: "env-openai-" + strconv.Itoa(i), Type: typeOpenAI, Name: hostName(u), URL: u,
			Key: o.key, Enabled: true, Env: true})
	}
	rows, err := h.db.Query(ctx, `SELECT id, type, name, url, api_key, enabled FROM connections ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c Connection
		if err := rows.Scan(&c.ID, &c.Type, &c.Name, &c.URL, &c.Key, &c.Enabled); err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	pip := map[string]bool{}
	rows2, err := h.db.Query(ctx, `SELECT id, pipelines FROM connection_state`)
	if err != nil {
		return nil, err
	}
	defer rows2.Close()
	for rows2.Next() {
		var id string
		var p bool
		if err := rows2.Scan(&id, &p); err != nil {
			return nil, err
		}
		pip[id] = p
	}
	for i := range cs {
		cs[i].HasKey = cs[i].Key != ""
		cs[i].KeyHint = keyHint(cs[i].Key)
		cs[i].Pipelines, cs[i].checked = pip[cs[i].ID]
	}
	return cs, rows2.Err()
}

func (h *Handler) connection(ctx context.Context, id string) (Connection, error) {
	cs, err := h.connections(ctx)
	if err != nil {
		return Connection{}, err
	}
	for _, c := range cs {
		if c.ID == id {
			return c, nil
		}
	}
	return Connection{}, errorf(404, "no connection %q", id)
}

// notePipelines records whether a connection's model list said it is a Pipelines server, for every replica.
func (h *Handler) notePipelines(ctx context.Context, id string, p bool) error {
	_, err := h.db.Exec(ctx, `INSERT INTO connection_state (id, pipelines, checked_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET pipelines = excluded.pipelines, checked_at = excluded.checked_at`,
		id, p, time.Now().UnixMilli())
	return err
}

func (h *Handler) listConnections(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	cs, err := h.connections(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"connections": cs})
	return nil
}

type connectionInput struct {
	Type    *string `json:"type"`
	Name    *string `json:"name"`
	URL     *string `json:"url"`
	Key     *string `json:"key"`
	Enabled *bool   `json:"enabled"`
}

// apply checks the input and writes it over c.
func (in connectionInput) apply(c *Connection) error {
	if in.Type != nil {
		if *in.Type != typeOllama && *in.Type != typeOpenAI {
			return errorf(400, "type %q: want ollama or openai", *in.Type)
		}
		c.Type = *in.Type
	}
	if in.URL != nil {
		u, err := normalizeURL(*in.URL)
		if err != nil {
			return errorf(400, "%v", err)
		}
		c.URL = u
	}
	if in.Key != nil { // Ollama servers behind an authenticating proxy take a bearer key too
		c.Key = strings.TrimSpace(*in.Key)
	}
	if in.Name != nil {
		c.Name = strings.TrimSpace(*in.Name)
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	if c.Type == "" {
		return errorf(400, "type is required: ollama or openai")
	}
	if c.URL == "" {
		return errorf(400, "url is required")
	}
	if c.Name == "" {
		c.Name = hostName(c.URL)
	}
	if len(c.Name) > 100 || len(c.Key) > 4096 {
		return errorf(400, "name or key too long")
	}
	return nil
}

func (h *Handler) addConnection(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var in connectionInput
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	c := Connection{ID: "c-" + auth.NewID()[:12], Enabled: true}
	if err := in.apply(&c); err != nil {
		return err
	}
	if _, err := h.db.Exec(r.Context(), `INSERT INTO connections (id, type, name, url, api_key, enabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, c.ID, c.Type, c.Name, c.URL, c.Key, c.Enabled, time.Now().UnixMilli()); err != nil {
		return err
	}
	c.HasKey, c.KeyHint = c.Key != "", keyHint(c.Key)
	writeJSON(w, 201, c)
	return nil
}

// stored loads a connection that the API may change.
func (h *Handler) stored(ctx context.Context, id string) (Connection, error) {
	c, err := h.connection(ctx, id)
	if err != nil {
		return c, err
	}
	if c.Builtin || c.Env {
		return c, errorf(409, "connection %q is fixed (built in or set by the environment)", id)
	}
	return c, nil
}

func (h *Handler) updateConnection(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var in connectionInput
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	c, err := h.stored(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := in.apply(&c); err != nil {
		return err
	}
	if _, err := h.db.Exec(r.Context(), `UPDATE connections SET type = ?, name = ?, url = ?, api_key = ?, enabled = ?
		WHERE id = ?`, c.Type, c.Name, c.URL, c.Key, c.Enabled, c.ID); err != nil {
		return err
	}
	c.HasKey, c.KeyHint = c.Key != "", keyHint(c.Key)
	writeJSON(w, 200, c)
	return nil
}

func (h *Handler) deleteConnection(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	c, err := h.stored(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, err := h.db.Exec(r.Context(), `DELETE FROM connections WHERE id = ?`, c.ID); err != nil {
		return err
	}
	if _, err := h.db.Exec(r.Context(), `DELETE FROM connection_state WHERE id = ?`, c.ID); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]bool{"ok": true})
	return nil
}

type verifyResult struct {
	OK        bool   `json:"ok"`
	Version   string `json:"version,omitempty"`
	Models    int    `json:"models"`
	Pipelines bool   `json:"pipelines"`
}

func (h *Handler) verifyNew(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var in connectionInput
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	c := Connection{ID: "verify"}
	if err := in.apply(&c); err != nil {
		return err
	}
	return h.verify(w, r, c, false)
}

func (h *Handler) verifySaved(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	c, err := h.connection(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.verify(w, r, c, true)
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request, c Connection, saved bool) error {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	res := verifyResult{OK: true}
	if c.Type == typeOllama {
		var v struct {
			Version string `json:"version"`
		}
		if err := h.getJSON(ctx, c, "/api/version", &v); err != nil {
			return err
		}
		res.Version = v.Version
	}
	ms, pipelines, err := h.connectionModels(ctx, c)
	if err != nil {
		return err
	}
	res.Models, res.Pipelines = len(ms), pipelines
	if saved {
		if err := h.notePipelines(r.Context(), c.ID, pipelines); err != nil {
			return err
		}
	}
	writeJSON(w, 200, res)
	return nil
}

// Calling model servers.

// client returns the HTTP client and base URL for a connection: the built-in engine is called in-process.
func (h *Handler) client(c Connection) (*http.Client, string) {
	if c.ID == builtinID {
		return &http.Client{Transport: handlerTransport{h.engine}}, builtinBase
	}
	return h.http, c.URL
}

// upstream sends a request to a connection. body, when not nil, is sent as JSON.
func (h *Handler) upstream(ctx context.Context, c Connection, method, path string, body any) (*http.Response, error) {
	hc, base := h.client(c)
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, errorf(502, "connection %s: %v", c.Name, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, errorf(502, "%s %s: %v", method, where(c, path), unwrapURLError(err))
	}
	return resp, nil
}

func where(c Connection, path string) string {
	if c.ID == builtinID {
		return "built-in engine " + path
	}
	return c.URL + path
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// upstreamError reads a failed response's message: Ollama's {"error": "…"}, OpenAI's
// {"error": {"message": "…"}}, Open WebUI-style {"detail": "…"}, or the text itself.
func upstreamError(c Connection, path string, resp *http.Response) *apiError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(b))
	var e struct {
		Error  json.RawMessage `json:"error"`
		Detail string          `json:"detail"`
	}
	if json.Unmarshal(b, &e) == nil {
		var s string
		var o struct {
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			msg = s
		case json.Unmarshal(e.Error, &o) == nil && o.Message != "":
			msg = o.Message
		case e.Detail != "":
			msg = e.Detail
		}
	}
	if msg == "" {
		msg = resp.Status
	}
	status := 502
	switch resp.StatusCode {
	case 400, 404:
		status = resp.StatusCode
	}
	return errorf(status, "%s: %s", where(c, path), clip(msg, 500))
}

// getJSON GETs path from a connection and decodes the JSON answer.
func (h *Handler) getJSON(ctx context.Context, c Connection, path string, v any) error {
	resp, err := h.upstream(ctx, c, "GET", path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		e := upstreamError(c, path, resp)
		e.status = 502
		return e
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(v); err != nil {
		return errorf(502, "GET %s: bad JSON: %v", where(c, path), err)
	}
	return nil
}

// withBuiltinPipelines returns a copy of hc whose requests to builtinPipelinesURL go to the in-process
// Pipelines server p, so every use of the connection (listings, completions, filters, the admin's
// Pipelines tab) reaches it without a network hop.
func withBuiltinPipelines(hc *http.Client, p http.Handler) *http.Client {
	c := *hc
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = routeTransport{host: builtinPipelinesHost, local: handlerTransport{http.StripPrefix("/pipelines", p)}, next: next}
	return &c
}

// routeTransport sends requests for host to local and the rest to next.
type routeTransport struct {
	host  string
	local http.RoundTripper
	next  http.RoundTripper
}

func (t routeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.EqualFold(req.URL.Host, t.host) {
		return t.local.RoundTrip(req)
	}
	return t.next.RoundTrip(req)
}

// handlerTransport calls an http.Handler in-process, streaming its answer through a pipe as it writes:
// the built-in engine is reached without a network hop or any configuration.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	rw := &pipeResponse{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				rw.WriteHeader(500)
				pw.CloseWithError(fmt.Errorf("built-in engine panicked: %v", p))
				return
			}
			rw.WriteHeader(200) // a handler that wrote nothing
			pw.Close()
		}()
		t.h.ServeHTTP(rw, in)
	}()
	select {
	case <-rw.ready:
	case <-req.Context().Done():
		pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	return &http.Response{Status: fmt.Sprintf("%d %s", rw.status, http.StatusText(rw.status)),
		StatusCode: rw.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rw.sent, Body: pr, ContentLength: -1, Request: req}, nil
}

type pipeResponse struct {
	header http.Header
	sent   http.Header
	pw     *io.PipeWriter
	once   sync.Once
	status int
	ready  chan struct{}
}

func (p *pipeResponse) Header() http.Header { return p.header }

func (p *pipeResponse) WriteHeader(code int) {
	p.once.Do(func() {
		p.status = code
		p.sent = p.header.Clone()
		close(p.ready)
	})
}

func (p *pipeResponse) Write(b []byte) (int, error) {
	p.WriteHeader(200)
	return p.pw.Write(b)
}

// Flush is a no-op: the pipe hands every write to the reader at once.
func (p *pipeResponse) Flush() {}
