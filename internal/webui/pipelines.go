package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/golem-llm/golem/internal/pipelines"
)

// PipelinesFilters runs the filter pipelines of Pipelines servers (Golem's own or Open WebUI's) over the
// Pipelines protocol. New uses it when Config.Filters is nil.
//
// The order is Open WebUI's: the filters of every server that target the model (or "*") sorted by
// priority, lowest first (ties keep the servers' order, then the filters' ids), for the inlet and the
// outlet alike. When the model is itself a pipe or manifold of one of the servers, its own inlet runs
// after the filters and its own outlet before them.
type PipelinesFilters struct {
	// HTTP is the client for the servers; http.DefaultClient when nil.
	HTTP *http.Client
}

// Inlet runs the inlet of each filter that applies to the model, in order, each on the previous one's
// answer.
func (p PipelinesFilters) Inlet(ctx context.Context, call FilterCall) (map[string]any, error) {
	steps, err := p.plan(ctx, call, false)
	if err != nil {
		return nil, err
	}
	return run(ctx, call, steps, (*pipelines.Client).Inlet)
}

// Outlet runs the filters' outlets on the finished conversation.
func (p PipelinesFilters) Outlet(ctx context.Context, call FilterCall) (map[string]any, error) {
	steps, err := p.plan(ctx, call, true)
	if err != nil {
		return nil, err
	}
	return run(ctx, call, steps, (*pipelines.Client).Outlet)
}

// filterStep is one call of a chain: a filter of a server, or the model's own pipe (which a server
// without filter endpoints for pipes may answer with 404: then it is passed over).
type filterStep struct {
	client   *pipelines.Client
	url      string
	id       string
	priority int64
	own      bool
}

// listTimeout bounds how long a server may take to list its models before a completion.
const listTimeout = 10 * time.Second

// plan lists every server's models at once and returns the calls to make, in order.
func (p PipelinesFilters) plan(ctx context.Context, call FilterCall, outlet bool) ([]filterStep, error) {
	lists := make([]*pipelines.ModelList, len(call.Servers))
	errs := make([]error, len(call.Servers))
	clients := make([]*pipelines.Client, len(call.Servers))
	var wg sync.WaitGroup
	for i, s := range call.Servers {
		clients[i] = pipelines.NewClient(s.URL, s.Key)
		clients[i].HTTP = p.HTTP
		wg.Add(1)
		go func() {
			defer wg.Done()
			lctx, cancel := context.WithTimeout(ctx, listTimeout)
			defer cancel()
			lists[i], errs[i] = clients[i].Models(lctx)
		}()
	}
	wg.Wait()
	var steps []filterStep
	var own *filterStep
	for i, s := range call.Servers {
		if errs[i] != nil {
			// Without the list the filters cannot run; a completion that skipped them could pass a rate
			// limit or leak what a redaction filter should mask, so it fails instead.
			return nil, fmt.Errorf("listing the filters of %s: %w", s.URL, remoteError(errs[i]))
		}
		for _, f := range pipelines.FiltersFor(lists[i].Data, call.Model) {
			steps = append(steps, filterStep{client: clients[i], url: s.URL, id: f.ID, priority: f.Pipeline.Priority})
		}
		if s.ConnectionID != call.ConnectionID || own != nil {
			continue
		}
		for _, m := range lists[i].Data {
			if m.ID == call.Model && m.Pipeline != nil && m.Pipeline.Type != pipelines.KindFilter {
				own = &filterStep{client: clients[i], url: s.URL, id: m.ID, own: true}
				break
			}
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].priority < steps[j].priority })
	if own != nil {
		if outlet {
			steps = append([]filterStep{*own}, steps...)
		} else {
			steps = append(steps, *own)
		}
	}
	return steps, nil
}

type filterFunc func(c *pipelines.Client, ctx context.Context, id string, body json.RawMessage, u *pipelines.User) (json.RawMessage, error)

// run passes the body through the steps, each getting the previous one's answer.
func run(ctx context.Context, call FilterCall, steps []filterStep, fn filterFunc) (map[string]any, error) {
	body, err := json.Marshal(call.Body)
	if err != nil {
		return nil, err
	}
	user := &pipelines.User{ID: call.User.ID, Email: call.User.Email, Name: call.User.Name, Role: call.User.Role}
	for _, s := range steps {
		out, err := fn(s.client, ctx, s.id, body, user)
		var ae *pipelines.APIError
		switch {
		case err == nil:
			body = out
			continue
		case errors.As(err, &ae) && ae.Status == 404 && s.own:
			continue // the server runs no filter functions of pipes
		case errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != 401 && ae.Status != 403:
			// The filter refused the request (a rate limit, a policy): its message is for the user.
			msg := ae.Detail
			if msg == "" {
				msg = fmt.Sprintf("the request was refused by the filter %s", s.id)
			}
			return nil, &Blocked{Message: msg}
		}
		return nil, fmt.Errorf("filter %s on %s: %w", s.id, s.url, remoteError(err))
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, fmt.Errorf("a filter answered with something other than a JSON object: %s", clip(string(body), 100))
	}
	return m, nil
}

// remoteError words a Pipelines server's error for an admin: a refused key says so.
func remoteError(err error) error {
	var ae *pipelines.APIError
	if errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403) {
		return fmt.Errorf("the server refused the connection's API key (%d %s)", ae.Status, ae.Detail)
	}
	return err
}
