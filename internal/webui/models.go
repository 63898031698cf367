package webui

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golem-llm/golem/internal/auth"
)

// Model is one model of one connection.
type Model struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Object         string          `json:"object"`
	OwnedBy        string          `json:"owned_by"`
	ConnectionID   string          `json:"connection_id"`
	ConnectionType string          `json:"connection_type"`
	ConnectionName string          `json:"connection_name"`
	Pipelines      bool            `json:"pipelines"`
	Size           int64           `json:"size,omitempty"`
	ModifiedAt     string          `json:"modified_at,omitempty"`
	Details        json.RawMessage `json:"details,omitempty"`
	// Pipeline is set for a Pipelines server's own models: {"type": "pipe"} or {"type": "manifold"}.
	Pipeline *modelPipeline `json:"pipeline,omitempty"`
	// filter marks a Pipelines filter: not a chat model, but a step around completions.
	filter bool
}

type modelPipeline struct {
	Type string `json:"type"`
}

// connectionModels lists a connection's models: Ollama's /api/tags or OpenAI's /models. pipelines
// reports whether the answer carried "pipelines": true (a Pipelines server).
func (h *Handler) connectionModels(ctx context.Context, c Connection) ([]Model, bool, error) {
	var ms []Model
	if c.Type == typeOllama {
		var tags struct {
			Models []struct {
				Name       string          `json:"name"`
				Model      string          `json:"model"`
				Size       int64           `json:"size"`
				ModifiedAt string          `json:"modified_at"`
				Details    json.RawMessage `json:"details"`
			} `json:"models"`
		}
		if err := h.getJSON(ctx, c, "/api/tags", &tags); err != nil {
			return nil, false, err
		}
		for _, m := range tags.Models {
			id := m.Model
			if id == "" {
				id = m.Name
			}
			ms = append(ms, Model{ID: id, Name: m.Name, Object: "model", OwnedBy: "ollama", Size: m.Size,
				ModifiedAt: m.ModifiedAt, Details: m.Details})
		}
	} else {
		var list struct {
			Data []struct {
				ID       string `json:"id"`
				Name     string `json:"name"`
				OwnedBy  string `json:"owned_by"`
				Pipeline *struct {
					Type string `json:"type"`
				} `json:"pipeline"`
			} `json:"data"`
			Pipelines bool `json:"pipelines"`
		}
		if err := h.getJSON(ctx, c, "/models", &list); err != nil {
			return nil, false, err
		}
		for _, m := range list.Data {
			name := m.Name
			if name == "" {
				name = m.ID
			}
			owner := m.OwnedBy
			if owner == "" {
				owner = "openai"
			}
			md := Model{ID: m.ID, Name: name, Object: "model", OwnedBy: owner, Pipelines: list.Pipelines,
				filter: m.Pipeline != nil && m.Pipeline.Type == "filter"}
			if m.Pipeline != nil && !md.filter && list.Pipelines {
				md.Pipeline = &modelPipeline{Type: m.Pipeline.Type}
			}
			ms = append(ms, md)
		}
		c.Pipelines = list.Pipelines
	}
	for i := range ms {
		ms[i].ConnectionID, ms[i].ConnectionType, ms[i].ConnectionName = c.ID, c.Type, c.Name
	}
	return ms, c.Pipelines, nil
}

type connectionError struct {
	ConnectionID string `json:"connection_id"`
	Detail       string `json:"detail"`
}

// allModels asks every enabled connection for its models at once, each for at most 10 seconds. The
// Pipelines flag each answer carries is recorded for the completions that follow.
func (h *Handler) allModels(ctx context.Context) ([]Model, []connectionError, error) {
	cs, err := h.connections(ctx)
	if err != nil {
		return nil, nil, err
	}
	lists := make([][]Model, len(cs))
	errs := make([]error, len(cs))
	pipes := make([]bool, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		if !c.Enabled {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			lists[i], pipes[i], errs[i] = h.connectionModels(cctx, c)
		}()
	}
	wg.Wait()
	models := []Model{}
	cerrs := []connectionError{}
	for i, c := range cs {
		if errs[i] != nil {
			cerrs = append(cerrs, connectionError{ConnectionID: c.ID, Detail: errs[i].Error()})
			continue
		}
		if c.Enabled && pipes[i] != c.Pipelines {
			if err := h.notePipelines(ctx, c.ID, pipes[i]); err != nil {
				return nil, nil, err
			}
		}
		models = append(models, lists[i]...)
	}
	return models, cerrs, nil
}

func (h *Handler) getModels(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ms, errs, err := h.allModels(r.Context())
	if err != nil {
		return err
	}
	chat := []Model{}
	for _, m := range ms {
		if !m.filter {
			chat = append(chat, m)
		}
	}
	writeJSON(w, 200, map[string]any{"data": chat, "errors": errs})
	return nil
}

// ollamaConnection loads a connection that must speak the Ollama API (pull and delete are Ollama's).
func (h *Handler) ollamaConnection(ctx context.Context, id string) (Connection, error) {
	if id == "" {
		return Connection{}, errorf(400, "connection_id is required")
	}
	c, err := h.connection(ctx, id)
	if err != nil {
		return c, err
	}
	if c.Type != typeOllama {
		return c, errorf(400, "connection %q is not an Ollama API: models are pulled and deleted on Ollama servers", id)
	}
	return c, nil
}

func (h *Handler) pullModel(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var in struct {
		ConnectionID string `json:"connection_id"`
		Name         string `json:"name"`
	}
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 500 {
		return errorf(400, "name is required: a model name such as llama3")
	}
	ctx := r.Context()
	c, err := h.ollamaConnection(ctx, in.ConnectionID)
	if err != nil {
		return err
	}
	// The request's context ends when the browser aborts: the pull on the model server ends with it.
	resp, err := h.upstream(ctx, c, "POST", "/api/pull", map[string]any{"model": in.Name, "name": in.Name, "stream": true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return upstreamError(c, "/api/pull", resp)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(200)
	flush(w)
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n')
			}
			if _, werr := w.Write(line); werr != nil {
				return nil // the browser went away
			}
			flush(w)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				b, _ := json.Marshal(map[string]string{"error": "pull stream from " + where(c, "/api/pull") + ": " + err.Error()})
				w.Write(append(b, '\n'))
			}
			return nil
		}
	}
}

func (h *Handler) deleteModel(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	q := r.URL.Query()
	name := strings.TrimSpace(q.Get("name"))
	if name == "" {
		return errorf(400, "name is required")
	}
	c, err := h.ollamaConnection(r.Context(), q.Get("connection_id"))
	if err != nil {
		return err
	}
	resp, err := h.upstream(r.Context(), c, "DELETE", "/api/delete", map[string]string{"model": name, "name": name})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return upstreamError(c, "/api/delete", resp)
	}
	writeJSON(w, 200, map[string]bool{"ok": true})
	return nil
}
