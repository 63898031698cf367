package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Client speaks the Pipelines protocol to a server: Golem's own or Open
// WebUI's Python one. The web UI's server uses it to list pipe models and
// filters, run inlet and outlet filters around a completion, and manage
// the pipelines of a connection.
type Client struct {
	// BaseURL is the connection's URL as an admin enters it, for example
	// http://localhost:9099 (with or without /v1).
	BaseURL string
	APIKey  string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// NewClient returns a client for the server at baseURL.
func NewClient(baseURL, apiKey string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), APIKey: apiKey}
}

// APIError is an error answer from a Pipelines server. Detail is the
// server's message: for a filter that blocked a request, the text to show
// the user.
type APIError struct {
	Status int
	Detail string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("pipelines server: %d: %s", e.Status, e.Detail)
}

// RemoteModel is one entry of a Pipelines server's /models list.
type RemoteModel struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Pipeline *RemotePipeline `json:"pipeline,omitempty"`
}

// RemotePipeline is the pipeline object of a /models entry.
type RemotePipeline struct {
	Type      string   `json:"type"` // filter, pipe or manifold
	Pipelines []string `json:"pipelines,omitempty"`
	Priority  int64    `json:"priority,omitempty"`
	Valves    bool     `json:"valves"`
}

// ModelList is a server's /models answer. Pipelines is true for a
// Pipelines server (Open WebUI recognizes one by it).
type ModelList struct {
	Data      []RemoteModel `json:"data"`
	Pipelines bool          `json:"pipelines"`
}

// RemoteInfo is one entry of /pipelines.
type RemoteInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Valves bool   `json:"valves"`
}

// User is the user record filters receive.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	Role  string `json:"role,omitempty"`
}

func (c *Client) url(p string) string {
	base := strings.TrimRight(c.BaseURL, "/")
	return base + p
}

// do sends a request and decodes a 2xx JSON answer into out (if not nil),
// or returns an *APIError.
func (c *Client) do(ctx context.Context, method, p string, body io.Reader, ctype string, out any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(p), body)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, &APIError{Status: resp.StatusCode, Detail: errorDetail(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("pipelines server: %s %s: bad answer: %v", method, p, err)
		}
	}
	return data, nil
}

// Do sends one request to the server (path such as "/pipelines" or
// "/{id}/valves/spec") and returns its 2xx answer unchanged, or an
// *APIError. It is for callers that pass answers on as they are: the web
// UI's admin endpoints keep a valves spec's key order, which is the order
// of the form's fields.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader, contentType string) ([]byte, error) {
	return c.do(ctx, method, path, body, contentType, nil)
}

func (c *Client) postJSON(ctx context.Context, method, p string, in any, out any) ([]byte, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, method, p, bytes.NewReader(b), "application/json", out)
}

// Models returns the server's /models list.
func (c *Client) Models(ctx context.Context) (*ModelList, error) {
	var ml ModelList
	if _, err := c.do(ctx, "GET", "/models", nil, "", &ml); err != nil {
		return nil, err
	}
	return &ml, nil
}

// FiltersFor returns the filters of a model list that apply to model
// (those whose pipelines list holds it or "*"), in the order they run:
// increasing priority, then id.
func FiltersFor(models []RemoteModel, model string) []RemoteModel {
	var out []RemoteModel
	for _, m := range models {
		if m.Pipeline == nil || m.Pipeline.Type != KindFilter {
			continue
		}
		for _, t := range m.Pipeline.Pipelines {
			if t == "*" || t == model {
				out = append(out, m)
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Pipeline.Priority != out[j].Pipeline.Priority {
			return out[i].Pipeline.Priority < out[j].Pipeline.Priority
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Inlet runs filter id's inlet on a chat request body and returns the
// body to send on. An *APIError means the filter blocked the request;
// its Detail is the message for the user.
func (c *Client) Inlet(ctx context.Context, id string, body json.RawMessage, user *User) (json.RawMessage, error) {
	return c.filter(ctx, id, "inlet", body, user)
}

// Outlet runs filter id's outlet on the conversation after the answer.
func (c *Client) Outlet(ctx context.Context, id string, body json.RawMessage, user *User) (json.RawMessage, error) {
	return c.filter(ctx, id, "outlet", body, user)
}

func (c *Client) filter(ctx context.Context, id, which string, body json.RawMessage, user *User) (json.RawMessage, error) {
	form := struct {
		Body json.RawMessage `json:"body"`
		User *User           `json:"user"`
	}{body, user}
	data, err := c.postJSON(ctx, "POST", "/"+url.PathEscape(id)+"/filter/"+which, form, nil)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(data), nil
}

// Pipelines lists the installed pipelines.
func (c *Client) Pipelines(ctx context.Context) ([]RemoteInfo, error) {
	var out struct {
		Data []RemoteInfo `json:"data"`
	}
	if _, err := c.do(ctx, "GET", "/pipelines", nil, "", &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// Add installs a pipeline from a URL.
func (c *Client) Add(ctx context.Context, fileURL string) error {
	_, err := c.postJSON(ctx, "POST", "/pipelines/add", map[string]string{"url": fileURL}, nil)
	return err
}

// Upload installs a pipeline file.
func (c *Client) Upload(ctx context.Context, filename string, src io.Reader) error {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		return err
	}
	if _, err := io.Copy(fw, src); err != nil {
		return err
	}
	if err := mw.Close(); err != nil {
		return err
	}
	_, err = c.do(ctx, "POST", "/pipelines/upload", &buf, mw.FormDataContentType(), nil)
	return err
}

// Delete removes a pipeline.
func (c *Client) Delete(ctx context.Context, id string) error {
	_, err := c.postJSON(ctx, "DELETE", "/pipelines/delete", map[string]string{"id": id}, nil)
	return err
}

// Reload makes the server read its pipelines afresh.
func (c *Client) Reload(ctx context.Context) error {
	_, err := c.do(ctx, "POST", "/pipelines/reload", nil, "", nil)
	return err
}

// Valves returns a pipeline's valves.
func (c *Client) Valves(ctx context.Context, id string) (map[string]any, error) {
	var out map[string]any
	_, err := c.do(ctx, "GET", "/"+url.PathEscape(id)+"/valves", nil, "", &out)
	return out, err
}

// ValvesSpec returns the JSON-schema-like description of a pipeline's
// valves, to build a form from (properties: title, type, default,
// description, enum).
func (c *Client) ValvesSpec(ctx context.Context, id string) (map[string]any, error) {
	var out map[string]any
	_, err := c.do(ctx, "GET", "/"+url.PathEscape(id)+"/valves/spec", nil, "", &out)
	return out, err
}

// UpdateValves changes a pipeline's valves and returns them as saved.
func (c *Client) UpdateValves(ctx context.Context, id string, values map[string]any) (map[string]any, error) {
	var out map[string]any
	_, err := c.postJSON(ctx, "POST", "/"+url.PathEscape(id)+"/valves/update", values, &out)
	return out, err
}
