package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// DefaultPort is the port Ollama clients assume.
const DefaultPort = "11434"

// ParseHost parses a listen or connect address the way Ollama reads
// OLLAMA_HOST: "host", "host:port", ":port", "[v6]:port" or
// "scheme://host[:port][/path]". The default is http://127.0.0.1:11434;
// an explicit http:// or https:// scheme without a port defaults to 80 or
// 443.
func ParseHost(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	port := DefaultPort
	scheme, hostport, ok := strings.Cut(s, "://")
	switch {
	case !ok:
		scheme, hostport = "http", s
	case scheme == "http":
		port = "80"
	case scheme == "https":
		port = "443"
	default:
		return nil, fmt.Errorf("host %q: scheme must be http or https", s)
	}
	hostport, path, _ := strings.Cut(hostport, "/")
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		host = "127.0.0.1"
		if ip := net.ParseIP(strings.Trim(hostport, "[]")); ip != nil {
			host = ip.String()
		} else if hostport != "" {
			host = hostport
		}
	} else {
		port = p
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return nil, fmt.Errorf("host %q: invalid port %q", s, port)
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}
	if path != "" {
		u.Path = "/" + path
	}
	return u, nil
}

// HostFromEnv is the server address from GOLEM_HOST, else OLLAMA_HOST,
// else the default.
func HostFromEnv() (*url.URL, error) {
	s := os.Getenv("GOLEM_HOST")
	if s == "" {
		s = os.Getenv("OLLAMA_HOST")
	}
	return ParseHost(s)
}

// Client talks to a Golem (or Ollama) server.
type Client struct {
	base   *url.URL
	http   *http.Client
	apiKey string
}

// NewClient returns a client for the server at base. An empty apiKey sends
// no Authorization header.
func NewClient(base *url.URL, hc *http.Client, apiKey string) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	b := *base
	// A server listening on every interface is reached on loopback.
	if h, p, err := net.SplitHostPort(b.Host); err == nil {
		if ip := net.ParseIP(h); h == "" || ip != nil && ip.IsUnspecified() {
			b.Host = net.JoinHostPort("127.0.0.1", p)
		}
	}
	return &Client{base: &b, http: hc, apiKey: apiKey}
}

// ClientFromEnv connects to HostFromEnv with the key in GOLEM_API_KEY.
func ClientFromEnv() (*Client, error) {
	u, err := HostFromEnv()
	if err != nil {
		return nil, err
	}
	return NewClient(u, nil, os.Getenv("GOLEM_API_KEY")), nil
}

// Base is the server URL.
func (c *Client) Base() *url.URL { return c.base }

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader, accept string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base.JoinPath(path).String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "golem-cli")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return req, nil
}

func statusError(resp *http.Response, body []byte) error {
	e := StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	var er ErrorResponse
	if json.Unmarshal(body, &er) == nil && er.Error != "" {
		e.ErrorMessage = er.Error
	} else {
		e.ErrorMessage = strings.TrimSpace(string(body))
	}
	return e
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case io.Reader:
		body = v
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return statusError(resp, data)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// stream posts in and calls fn with each NDJSON line of the answer. An
// {"error": ...} line ends the stream with that error.
func (c *Client) stream(ctx context.Context, path string, in any, fn func([]byte) error) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := c.newRequest(ctx, http.MethodPost, path, bytes.NewReader(b), "application/x-ndjson")
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		data, _ := io.ReadAll(resp.Body)
		return statusError(resp, data)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var er ErrorResponse
		if err := json.Unmarshal(line, &er); err != nil {
			return fmt.Errorf("bad line from server: %q", line)
		}
		if er.Error != "" {
			return errors.New(er.Error)
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Heartbeat reports whether the server answers.
func (c *Client) Heartbeat(ctx context.Context) error {
	return c.do(ctx, http.MethodHead, "/", nil, nil)
}

// Version returns the server's version.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v VersionResponse
	err := c.do(ctx, http.MethodGet, "/api/version", nil, &v)
	return v.Version, err
}

// Generate runs /api/generate, calling fn for each chunk.
func (c *Client) Generate(ctx context.Context, req *GenerateRequest, fn func(GenerateResponse) error) error {
	return c.stream(ctx, "/api/generate", req, func(b []byte) error {
		var r GenerateResponse
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		return fn(r)
	})
}

// Chat runs /api/chat, calling fn for each chunk.
func (c *Client) Chat(ctx context.Context, req *ChatRequest, fn func(ChatResponse) error) error {
	return c.stream(ctx, "/api/chat", req, func(b []byte) error {
		var r ChatResponse
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		return fn(r)
	})
}

func (c *Client) progress(ctx context.Context, path string, req any, fn func(ProgressResponse) error) error {
	return c.stream(ctx, path, req, func(b []byte) error {
		var r ProgressResponse
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		return fn(r)
	})
}

// Pull downloads a model into the server's store.
func (c *Client) Pull(ctx context.Context, req *PullRequest, fn func(ProgressResponse) error) error {
	return c.progress(ctx, "/api/pull", req, fn)
}

// Push uploads a model from the server's store.
func (c *Client) Push(ctx context.Context, req *PushRequest, fn func(ProgressResponse) error) error {
	return c.progress(ctx, "/api/push", req, fn)
}

// Create builds a model on the server.
func (c *Client) Create(ctx context.Context, req *CreateRequest, fn func(ProgressResponse) error) error {
	return c.progress(ctx, "/api/create", req, fn)
}

// List returns the stored models.
func (c *Client) List(ctx context.Context) (*ListResponse, error) {
	var r ListResponse
	return &r, c.do(ctx, http.MethodGet, "/api/tags", nil, &r)
}

// ListRunning returns the loaded models.
func (c *Client) ListRunning(ctx context.Context) (*ProcessResponse, error) {
	var r ProcessResponse
	return &r, c.do(ctx, http.MethodGet, "/api/ps", nil, &r)
}

// Show describes a model.
func (c *Client) Show(ctx context.Context, req *ShowRequest) (*ShowResponse, error) {
	var r ShowResponse
	return &r, c.do(ctx, http.MethodPost, "/api/show", req, &r)
}

// Copy copies a model under a new name.
func (c *Client) Copy(ctx context.Context, req *CopyRequest) error {
	return c.do(ctx, http.MethodPost, "/api/copy", req, nil)
}

// Delete removes a model.
func (c *Client) Delete(ctx context.Context, req *DeleteRequest) error {
	return c.do(ctx, http.MethodDelete, "/api/delete", req, nil)
}

// Embed computes embeddings.
func (c *Client) Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error) {
	var r EmbedResponse
	return &r, c.do(ctx, http.MethodPost, "/api/embed", req, &r)
}

// CreateBlob uploads a file as a blob with the given "sha256:<hex>" digest.
func (c *Client) CreateBlob(ctx context.Context, digest string, r io.Reader) error {
	return c.do(ctx, http.MethodPost, "/api/blobs/"+digest, r, nil)
}

// HasBlob reports whether the server holds a blob.
func (c *Client) HasBlob(ctx context.Context, digest string) (bool, error) {
	err := c.do(ctx, http.MethodHead, "/api/blobs/"+digest, nil, nil)
	var se StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}
