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
	"strings"
	"time"

	"github.com/golem-llm/golem/internal/auth"
	"github.com/golem-llm/golem/internal/pipelines"
)

// The admin panel's Pipelines tab: it manages the pipelines of a connection that is a Pipelines server
// (Golem's `golem pipelines` or Open WebUI's Python one) through this server, which holds the
// connection's key, so the browser never sees it. Every endpoint takes ?connection_id=.

// maxPipelineUpload bounds an uploaded pipeline file with its form (Golem's server takes files up to
// 1 MiB; Python pipelines are smaller still).
const maxPipelineUpload = 2 << 20

// pipelinesServer loads the connection named by ?connection_id= and checks that it is a Pipelines
// server, asking its /models when the last listing did not say so.
func (h *Handler) pipelinesServer(r *http.Request) (Connection, *pipelines.Client, error) {
	ctx := r.Context()
	id := r.URL.Query().Get("connection_id")
	if id == "" {
		return Connection{}, nil, errorf(400, "connection_id is required: the connection of the Pipelines server")
	}
	c, err := h.connection(ctx, id)
	if err != nil {
		return c, nil, err
	}
	if c.Type != typeOpenAI {
		return c, nil, errorf(400, "connection %q is an Ollama API, not a Pipelines server", id)
	}
	if !c.Pipelines {
		lctx, cancel := context.WithTimeout(ctx, listTimeout)
		_, isPipelines, err := h.connectionModels(lctx, c)
		cancel()
		if err != nil {
			return c, nil, err
		}
		if !isPipelines {
			return c, nil, errorf(400, `connection %q is not a Pipelines server: its /models answer does not say "pipelines": true`, id)
		}
		if err := h.notePipelines(ctx, c.ID, true); err != nil {
			return c, nil, err
		}
		c.Pipelines = true
	}
	pc := pipelines.NewClient(c.URL, c.Key)
	pc.HTTP = h.http
	return c, pc, nil
}

// pipelinesError turns a Pipelines server's error into this API's: its refusals of the request keep
// their message; a refused key or a failing server is a 502 (never a 401, which would sign the admin out).
func pipelinesError(c Connection, err error) error {
	var ae *pipelines.APIError
	if !errors.As(err, &ae) {
		return errorf(502, "Pipelines server %s: %v", c.URL, unwrapURLError(err))
	}
	switch {
	case ae.Status == 401 || ae.Status == 403:
		return errorf(502, "Pipelines server %s refused the connection's API key: %s", c.URL, ae.Detail)
	case ae.Status == 404 || ae.Status == 413:
		return errorf(ae.Status, "%s", ae.Detail)
	case ae.Status >= 400 && ae.Status < 500:
		return errorf(400, "%s", ae.Detail)
	}
	return errorf(502, "Pipelines server %s: %d: %s", c.URL, ae.Status, ae.Detail)
}

// pipelineID reads the {id} path value.
func pipelineID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > 200 || strings.ContainsAny(id, "/\\") {
		return "", errorf(400, "bad pipeline id %q", id)
	}
	return id, nil
}

// listPipelineServers answers the connections that are Pipelines servers, after asking every enabled
// connection for its models (which is how one is recognised).
func (h *Handler) listPipelineServers(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx := r.Context()
	if _, _, err := h.allModels(ctx); err != nil {
		return err
	}
	cs, err := h.connections(ctx)
	if err != nil {
		return err
	}
	type server struct {
		ConnectionID string `json:"connection_id"`
		Name         string `json:"name"`
		URL          string `json:"url"`
		Enabled      bool   `json:"enabled"`
	}
	out := []server{}
	for _, c := range cs {
		if c.Type == typeOpenAI && c.Pipelines {
			out = append(out, server{ConnectionID: c.ID, Name: c.Name, URL: c.URL, Enabled: c.Enabled})
		}
	}
	writeJSON(w, 200, map[string]any{"data": out})
	return nil
}

// listPipelines answers the server's /pipelines, each entry with what its /models says: a filter's
// priority and target models, a manifold's models.
func (h *Handler) listPipelines(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	c, pc, err := h.pipelinesServer(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	raw, err := pc.Do(ctx, "GET", "/pipelines", nil, "")
	if err != nil {
		return pipelinesError(c, err)
	}
	var list struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return errorf(502, "Pipelines server %s: /pipelines answered something other than {\"data\": [...]}: %v", c.URL, err)
	}
	models, err := pc.Models(ctx)
	if err != nil {
		return pipelinesError(c, err)
	}
	for _, p := range list.Data {
		id, _ := p["id"].(string)
		var subs []map[string]string
		for _, m := range models.Data {
			switch {
			case m.Pipeline == nil:
			case m.ID == id && m.Pipeline.Type == pipelines.KindFilter:
				p["pipelines"] = m.Pipeline.Pipelines
				p["priority"] = m.Pipeline.Priority
			case m.ID == id || strings.HasPrefix(m.ID, id+"."):
				subs = append(subs, map[string]string{"id": m.ID, "name": m.Name})
			}
		}
		if subs != nil {
			p["models"] = subs
		}
	}
	if list.Data == nil {
		list.Data = []map[string]any{}
	}
	writeJSON(w, 200, map[string]any{"data": list.Data})
	return nil
}

// uploadPipeline sends a pipeline file (multipart field "file") to the server.
func (h *Handler) uploadPipeline(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	c, pc, err := h.pipelinesServer(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPipelineUpload)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(413, "a pipeline upload may be at most %d bytes", maxPipelineUpload)
		}
		return errorf(400, "expected a multipart form with the pipeline file in its field \"file\": %v", err)
	}
	defer f.Close()
	src, err := io.ReadAll(f)
	if err != nil {
		return errorf(400, "reading the upload: %v", err)
	}
	name := hdr.Filename
	if name == "" {
		return errorf(400, "the uploaded file has no name (the server takes the pipeline's id from it)")
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	if err := pc.Upload(ctx, name, bytes.NewReader(src)); err != nil {
		return pipelinesError(c, err)
	}
	writeJSON(w, 200, map[string]any{"ok": true})
	return nil
}

// addPipeline has the server install a pipeline from a URL: {"url": "https://…/filter.star"}.
func (h *Handler) addPipeline(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var in struct {
		URL string `json:"url"`
	}
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	in.URL = strings.TrimSpace(in.URL)
	if u, err := url.Parse(in.URL); err != nil || u.Scheme == "" || len(in.URL) > 2000 {
		return errorf(400, "url is required: the address of a pipeline file")
	}
	c, pc, err := h.pipelinesServer(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	if err := pc.Add(ctx, in.URL); err != nil {
		return pipelinesError(c, err)
	}
	writeJSON(w, 200, map[string]any{"ok": true})
	return nil
}

func (h *Handler) deletePipeline(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	id, err := pipelineID(r)
	if err != nil {
		return err
	}
	c, pc, err := h.pipelinesServer(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := pc.Delete(ctx, id); err != nil {
		return pipelinesError(c, err)
	}
	writeJSON(w, 200, map[string]any{"ok": true})
	return nil
}

func (h *Handler) reloadPipelines(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	c, pc, err := h.pipelinesServer(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	if err := pc.Reload(ctx); err != nil {
		return pipelinesError(c, err)
	}
	writeJSON(w, 200, map[string]any{"ok": true})
	return nil
}

// pipelineValves answers GET …/valves and GET …/valves/spec with the server's JSON as it is: the spec's
// properties keep their order, which is the form's.
func (h *Handler) pipelineValves(spec bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
		id, err := pipelineID(r)
		if err != nil {
			return err
		}
		c, pc, err := h.pipelinesServer(r)
		if err != nil {
			return err
		}
		path := "/" + url.PathEscape(id) + "/valves"
		if spec {
			path += "/spec"
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		raw, err := pc.Do(ctx, "GET", path, nil, "")
		if err != nil {
			return pipelinesError(c, err)
		}
		return writeRawJSON(w, c, raw)
	}
}

// updateValves sends new valve values ({"name": value, …}) and answers the values as saved.
func (h *Handler) updateValves(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	id, err := pipelineID(r)
	if err != nil {
		return err
	}
	var values map[string]json.RawMessage
	if err := decodeJSON(w, r, &values, maxBody, false); err != nil {
		return err
	}
	if values == nil {
		return errorf(400, "expected a JSON object of valve values")
	}
	c, pc, err := h.pipelinesServer(r)
	if err != nil {
		return err
	}
	body, err := json.Marshal(values)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	raw, err := pc.Do(ctx, "POST", "/"+url.PathEscape(id)+"/valves/update", bytes.NewReader(body), "application/json")
	if err != nil {
		return pipelinesError(c, err)
	}
	return writeRawJSON(w, c, raw)
}

// writeRawJSON passes a server's JSON answer on unchanged, after checking that it is JSON.
func writeRawJSON(w http.ResponseWriter, c Connection, raw []byte) error {
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) {
		return errorf(502, "Pipelines server %s answered something other than JSON: %s", c.URL, clip(string(raw), 100))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(200)
	w.Write(raw)
	fmt.Fprintln(w)
	return nil
}
