package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/golem-llm/golem/internal/pipelines"
)

// PipelinesFilters runs the filter pipelines of Pipelines servers (Golem's own or Open WebUI's) over the
// Pipelines protocol. New uses it when Config.Filters is nil.
type PipelinesFilters struct {
	// HTTP is the client for the servers; http.DefaultClient when nil.
	HTTP *http.Client
}

// Inlet runs, server by server, each filter that applies to the model, in the server's order.
func (p PipelinesFilters) Inlet(ctx context.Context, call FilterCall) (map[string]any, error) {
	return p.run(ctx, call, (*pipelines.Client).Inlet)
}

// Outlet runs the filters' outlets on the finished conversation.
func (p PipelinesFilters) Outlet(ctx context.Context, call FilterCall) (map[string]any, error) {
	return p.run(ctx, call, (*pipelines.Client).Outlet)
}

type filterStep func(c *pipelines.Client, ctx context.Context, id string, body json.RawMessage, u *pipelines.User) (json.RawMessage, error)

func (p PipelinesFilters) run(ctx context.Context, call FilterCall, step filterStep) (map[string]any, error) {
	body, err := json.Marshal(call.Body)
	if err != nil {
		return nil, err
	}
	user := &pipelines.User{ID: call.User.ID, Email: call.User.Email, Name: call.User.Name, Role: call.User.Role}
	for _, s := range call.Servers {
		c := pipelines.NewClient(s.URL, s.Key)
		c.HTTP = p.HTTP
		list, err := c.Models(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.URL, err)
		}
		for _, f := range pipelines.FiltersFor(list.Data, call.Model) {
			out, err := step(c, ctx, f.ID, body, user)
			var ae *pipelines.APIError
			if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
				// The filter refused the request (a rate limit, a policy): its message is for the user.
				return nil, &Blocked{Message: ae.Detail}
			}
			if err != nil {
				return nil, fmt.Errorf("filter %s on %s: %w", f.ID, s.URL, err)
			}
			body = out
		}
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("filter answer is not a JSON object: %v", err)
	}
	return m, nil
}
