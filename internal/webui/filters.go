package webui

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golem-llm/golem/internal/auth"
)

// Filters runs Pipelines filters around a completion: Inlet on the request before it goes to the model,
// Outlet on the finished conversation. Each returns the (possibly changed) body, or a *Blocked error when
// a filter refused the request. PipelinesFilters implements it over the Pipelines protocol.
type Filters interface {
	Inlet(ctx context.Context, call FilterCall) (map[string]any, error)
	Outlet(ctx context.Context, call FilterCall) (map[string]any, error)
}

// Blocked is a filter's refusal (a rate limit, a policy); Message is shown to the user.
type Blocked struct{ Message string }

func (b *Blocked) Error() string { return b.Message }

// FilterCall is one inlet or outlet call.
type FilterCall struct {
	// Servers are the Pipelines servers among the enabled connections (their /models said
	// "pipelines": true); their filter pipelines apply.
	Servers []FilterServer
	// Model is the model the completion is for (filters choose by it).
	Model string
	// ConnectionID is the connection that serves Model. When it is one of Servers and Model is one of
	// its pipes, that pipe's own inlet and outlet run too (after the filters' inlets, before their
	// outlets), as Open WebUI does.
	ConnectionID string
	User         FilterUser
	// Body is the OpenAI-style request: model, messages ([{role, content}]), stream, and for chats
	// chat_id and options (the chat's parameters). At the outlet, messages end with the answer.
	Body map[string]any
}

// FilterServer is a Pipelines server to call.
type FilterServer struct {
	ConnectionID string
	URL          string
	Key          string
}

// FilterUser is the user a completion runs for, as the Pipelines protocol passes it.
type FilterUser struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// filter runs the inlet or outlet stage if filters and Pipelines servers exist; otherwise body passes as is.
func (h *Handler) filter(ctx context.Context, outlet bool, p *auth.Principal, conn Connection, model string, body map[string]any) (map[string]any, error) {
	if h.filters == nil {
		return body, nil
	}
	cs, err := h.connections(ctx)
	if err != nil {
		return nil, err
	}
	var servers []FilterServer
	for _, c := range cs {
		if !c.Enabled || c.ID == builtinID || c.Type != typeOpenAI {
			continue
		}
		if !c.checked {
			// Nothing has listed this connection's models yet (a new deployment, a client that never
			// lists): ask now, or a Pipelines server's filters would be skipped.
			c.Pipelines = h.probePipelines(ctx, c)
		}
		if c.Pipelines {
			servers = append(servers, FilterServer{ConnectionID: c.ID, URL: c.URL, Key: c.Key})
		}
	}
	if len(servers) == 0 {
		return body, nil
	}
	call := FilterCall{Servers: servers, Model: model, ConnectionID: conn.ID, Body: body,
		User: FilterUser{ID: p.ID, Email: p.Email, Name: p.Name, Role: string(p.Role)}}
	stage, run := "inlet", h.filters.Inlet
	if outlet {
		stage, run = "outlet", h.filters.Outlet
	}
	out, err := run(ctx, call)
	var b *Blocked
	if errors.As(err, &b) {
		return nil, b // a 400 with the filter's message (writeError)
	}
	if err != nil {
		return nil, errorf(502, "pipelines %s filter: %v", stage, err)
	}
	if out == nil {
		return nil, fmt.Errorf("pipelines %s filter returned no body", stage)
	}
	return out, nil
}

// probePipelines asks a connection's /models whether it is a Pipelines server and records the answer. A
// server that does not answer is not known to be one: it is asked again after probeRetry (remembered in
// this process only, to spare completions the wait on a dead connection), or found by the next listing.
func (h *Handler) probePipelines(ctx context.Context, c Connection) bool {
	key := c.ID + " " + c.URL
	if t, ok := h.probeFailed.Load(key); ok && time.Since(t.(time.Time)) < probeRetry {
		return false
	}
	lctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, isPipelines, err := h.connectionModels(lctx, c)
	if err != nil {
		h.probeFailed.Store(key, time.Now())
		return false
	}
	h.probeFailed.Delete(key)
	if err := h.notePipelines(ctx, c.ID, isPipelines); err != nil {
		h.log.Error("webui: note pipelines", "connection", c.ID, "err", err)
	}
	return isPipelines
}

const (
	probeTimeout = 3 * time.Second
	probeRetry   = time.Minute
)
