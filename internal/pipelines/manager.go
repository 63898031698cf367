package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"
)

// Options configures a Manager.
type Options struct {
	// Dir holds the pipelines (<id>.star) and their valves
	// (<id>.valves.json). It is created if missing.
	Dir string
	// APIKey is the bearer token every protocol request must carry.
	APIKey string
	// Limits bounds each script call; zero fields take DefaultLimits.
	Limits Limits
	// AllowHosts is the allow-list for http.* and for models.* with a
	// url of their own (see ParseHostList). Empty: no host.
	AllowHosts []string
	// ModelsURL is the OpenAI-compatible API models.* calls by default
	// (DefaultModelsURL when empty); ModelsAPIKey its bearer token.
	ModelsURL    string
	ModelsAPIKey string
	// HTTPClient is the base of the clients used by the builtins and to
	// download pipelines; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Logger receives the server's and the scripts' logs; nil discards.
	Logger *slog.Logger
	// OnLog, if set, also receives each line a script logs.
	OnLog func(pipeline, msg string)
	// Now is the clock of time.time(); nil means time.Now.
	Now func() time.Time
}

// Manager holds the loaded pipelines of one data directory.
type Manager struct {
	opts Options
	lim  Limits
	log  *slog.Logger
	sem  chan struct{}

	clientOnce sync.Once
	client     *http.Client

	dirMu  sync.Mutex // serializes changes to the directory
	mu     sync.RWMutex
	pipes  map[string]*instance
	failed map[string]error
}

// Open loads the pipelines in opts.Dir. A script that fails to load is
// logged and left out (see Failed), not fatal.
func Open(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Dir == "" {
		return nil, errors.New("pipelines: no data directory")
	}
	if opts.APIKey == "" {
		return nil, errors.New("pipelines: no API key; every endpoint requires one")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("pipelines: %v", err)
	}
	m := &Manager{opts: opts, lim: opts.Limits.withDefaults(), log: opts.Logger, pipes: map[string]*instance{}, failed: map[string]error{}}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m.sem = make(chan struct{}, m.lim.MaxCalls)
	if err := m.Reload(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Manager) now() time.Time {
	if m.opts.Now != nil {
		return m.opts.Now()
	}
	return time.Now()
}

func (m *Manager) acquire(ctx context.Context) error {
	select {
	case m.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pipelines: too busy: %v", ctx.Err())
	}
}

func (m *Manager) release() { <-m.sem }

// Reload reads every pipeline in the directory afresh: state is cleared,
// valves are read back from their files.
func (m *Manager) Reload(ctx context.Context) error {
	m.dirMu.Lock()
	defer m.dirMu.Unlock()
	entries, err := os.ReadDir(m.opts.Dir)
	if err != nil {
		return fmt.Errorf("pipelines: %v", err)
	}
	pipes := map[string]*instance{}
	failed := map[string]error{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".star") {
			continue
		}
		id := strings.TrimSuffix(name, ".star")
		p, err := m.loadFile(ctx, id)
		if err != nil {
			m.log.Error("pipeline failed to load", "pipeline", id, "err", err)
			failed[id] = err
			continue
		}
		pipes[id] = p
	}
	m.mu.Lock()
	m.pipes, m.failed = pipes, failed
	m.mu.Unlock()
	m.log.Info("pipelines loaded", "dir", m.opts.Dir, "count", len(pipes), "failed", len(failed))
	return nil
}

// loadFile loads <id>.star and applies <id>.valves.json.
func (m *Manager) loadFile(ctx context.Context, id string) (*instance, error) {
	src, err := os.ReadFile(filepath.Join(m.opts.Dir, id+".star"))
	if err != nil {
		return nil, err
	}
	p, err := m.load(ctx, id, src)
	if err != nil {
		return nil, err
	}
	m.applySavedValves(p)
	return p, nil
}

// applySavedValves merges the valves file into p's defaults; values that
// no longer fit the script's declaration are dropped with a warning.
func (m *Manager) applySavedValves(p *instance) {
	data, err := os.ReadFile(m.valvesPath(p.id))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.log.Warn("cannot read valves", "pipeline", p.id, "err", err)
		}
		return
	}
	var saved map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&saved); err != nil {
		m.log.Warn("ignoring a bad valves file", "pipeline", p.id, "err", err)
		return
	}
	for k, v := range saved {
		merged, err := p.valves.merge(map[string]any{k: v})
		if err != nil {
			m.log.Warn("ignoring a saved valve", "pipeline", p.id, "err", err)
			continue
		}
		p.valves.set(merged)
	}
}

func (m *Manager) valvesPath(id string) string {
	return filepath.Join(m.opts.Dir, id+".valves.json")
}

// Failed returns the scripts in the directory that did not load, by id.
func (m *Manager) Failed() map[string]error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]error, len(m.failed))
	for k, v := range m.failed {
		out[k] = v
	}
	return out
}

// get returns a pipeline by id. For a manifold model id (<manifold>.<model>)
// it returns the manifold and the model id.
func (m *Manager) get(id string) (*instance, string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if p, ok := m.pipes[id]; ok {
		return p, "", true
	}
	if mid, sub, ok := strings.Cut(id, "."); ok {
		if p, ok := m.pipes[mid]; ok && p.kind == KindManifold && sub != "" {
			return p, sub, true
		}
	}
	return nil, "", false
}

func (m *Manager) sorted() []*instance {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*instance, 0, len(m.pipes))
	for _, p := range m.pipes {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Info describes an installed pipeline.
type Info struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	Valves      bool   `json:"valves"`
}

func (p *instance) info() Info {
	return Info{ID: p.id, Name: p.name, Type: p.kind, Description: p.description, Valves: len(p.valves.AttrNames()) > 0}
}

// List returns the installed pipelines, by id.
func (m *Manager) List() []Info {
	var out []Info
	for _, p := range m.sorted() {
		out = append(out, p.info())
	}
	return out
}

// Model is one entry of /v1/models: a pipe, a manifold's model or a
// filter, with the pipeline object Open WebUI reads.
type Model struct {
	ID       string
	Name     string
	Type     string   // filter, pipe or manifold
	Targets  []string // filters: the models they apply to
	Priority int64    // filters
	Valves   bool
}

// Models lists what the server offers. A manifold whose pipelines()
// fails is left out and logged.
func (m *Manager) Models(ctx context.Context) []Model {
	var out []Model
	for _, p := range m.sorted() {
		hasValves := len(p.valves.AttrNames()) > 0
		switch p.kind {
		case KindFilter:
			out = append(out, Model{ID: p.id, Name: p.name, Type: p.kind, Targets: p.targets(), Priority: p.priority(), Valves: hasValves})
		case KindPipe:
			out = append(out, Model{ID: p.id, Name: p.name, Type: p.kind, Valves: hasValves})
		case KindManifold:
			subs, err := p.subModels(ctx)
			if err != nil {
				m.log.Error("manifold could not list its models", "pipeline", p.id, "err", err)
				continue
			}
			for _, s := range subs {
				out = append(out, Model{ID: p.id + "." + s.ID, Name: manifoldName(p.header["name"], s.Name), Type: p.kind, Valves: hasValves})
			}
		}
	}
	return out
}

// manifoldName names a manifold's model: "Remote: gpt-4o" for a header
// name Remote, or the name and the model run together when the header
// name ends in punctuation ("Remote/" gives "Remote/gpt-4o").
func manifoldName(header, model string) string {
	if header == "" {
		return model
	}
	last := header[len(header)-1]
	if last >= 'a' && last <= 'z' || last >= 'A' && last <= 'Z' || last >= '0' && last <= '9' || last >= 0x80 {
		return header + ": " + model
	}
	return header + model
}

// Install checks and saves a pipeline given as a file name (<id>.star)
// and its source, replacing one of the same id. Saved valves of that id
// are kept where they still fit.
func (m *Manager) Install(ctx context.Context, filename string, src []byte) (Info, error) {
	base := path.Base(filepath.ToSlash(filename))
	if strings.HasSuffix(base, ".py") {
		return Info{}, &BadRequest{fmt.Sprintf("%s is a Python pipeline; Golem runs Starlark pipelines (.star) in a sandbox: port it (see examples/pipelines)", base)}
	}
	if !strings.HasSuffix(base, ".star") {
		return Info{}, &BadRequest{fmt.Sprintf("%s: a pipeline file must end in .star", base)}
	}
	id := strings.TrimSuffix(base, ".star")
	if err := CheckID(id); err != nil {
		return Info{}, &BadRequest{err.Error()}
	}
	p, err := m.load(ctx, id, src)
	if err != nil {
		return Info{}, &BadRequest{err.Error()}
	}
	m.dirMu.Lock()
	defer m.dirMu.Unlock()
	if err := writeFileAtomic(filepath.Join(m.opts.Dir, id+".star"), src); err != nil {
		return Info{}, err
	}
	m.applySavedValves(p)
	m.mu.Lock()
	m.pipes[id] = p
	delete(m.failed, id)
	m.mu.Unlock()
	m.log.Info("pipeline installed", "pipeline", id, "kind", p.kind)
	return p.info(), nil
}

// BadRequest is an error caused by the request (a bad file, an unknown
// valve), as opposed to the server.
type BadRequest struct{ Msg string }

func (e *BadRequest) Error() string { return e.Msg }

// NotFound is an error for an unknown pipeline.
type NotFound struct{ Msg string }

func (e *NotFound) Error() string { return e.Msg }

var githubBlob = regexp.MustCompile(`^https://github\.com/([^/]+)/([^/]+)/blob/([^/]+)/(.+)$`)

// rawURL turns a GitHub page URL of a file into the URL of its content,
// as Open WebUI's Pipelines does.
func rawURL(u string) string {
	if m := githubBlob.FindStringSubmatch(u); m != nil {
		return fmt.Sprintf("https://raw.githubusercontent.com/%s/%s/%s/%s", m[1], m[2], m[3], m[4])
	}
	return u
}

// InstallURL downloads a pipeline (http, https or file URL; GitHub page
// URLs are turned into raw ones) and installs it. The file name comes from
// the URL's path.
func (m *Manager) InstallURL(ctx context.Context, rawU string) (Info, error) {
	rawU = rawURL(strings.TrimSpace(rawU))
	u, err := url.Parse(rawU)
	if err != nil {
		return Info{}, &BadRequest{fmt.Sprintf("bad URL %q: %v", rawU, err)}
	}
	name := path.Base(u.Path)
	var src []byte
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return Info{}, &BadRequest{err.Error()}
		}
		src, err = io.ReadAll(io.LimitReader(f, int64(m.lim.MaxScript)+1))
		f.Close()
		if err != nil {
			return Info{}, &BadRequest{err.Error()}
		}
	case "http", "https":
		if !strings.HasSuffix(name, ".star") && !strings.HasSuffix(name, ".py") {
			return Info{}, &BadRequest{fmt.Sprintf("URL %s must point to a .star file", rawU)}
		}
		ctx, cancel := context.WithTimeout(ctx, m.lim.HTTPTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", rawU, nil)
		if err != nil {
			return Info{}, &BadRequest{err.Error()}
		}
		client := m.opts.HTTPClient
		if client == nil {
			client = http.DefaultClient
		}
		resp, err := client.Do(req)
		if err != nil {
			return Info{}, &BadRequest{fmt.Sprintf("downloading %s: %v", rawU, err)}
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return Info{}, &BadRequest{fmt.Sprintf("downloading %s: %s", rawU, resp.Status)}
		}
		src, err = io.ReadAll(io.LimitReader(resp.Body, int64(m.lim.MaxScript)+1))
		if err != nil {
			return Info{}, &BadRequest{fmt.Sprintf("downloading %s: %v", rawU, err)}
		}
	default:
		return Info{}, &BadRequest{fmt.Sprintf("URL %s: use http, https or file", rawU)}
	}
	if len(src) > m.lim.MaxScript {
		return Info{}, &BadRequest{fmt.Sprintf("%s is larger than %d bytes", rawU, m.lim.MaxScript)}
	}
	return m.Install(ctx, name, src)
}

// SplitURLs splits PIPELINES_URLS: URLs separated by semicolons (as Open
// WebUI's Pipelines does), commas or white space.
func SplitURLs(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

// InstallURLs installs each URL of a PIPELINES_URLS list, logging and
// returning the failures without stopping at them.
func (m *Manager) InstallURLs(ctx context.Context, list string) []error {
	var errs []error
	for _, u := range SplitURLs(list) {
		if _, err := m.InstallURL(ctx, u); err != nil {
			m.log.Error("cannot install pipeline", "url", u, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
		}
	}
	return errs
}

// Delete removes a pipeline (or the manifold of a manifold model id) and
// its valves.
func (m *Manager) Delete(id string) error {
	p, _, ok := m.get(id)
	if !ok {
		return &NotFound{fmt.Sprintf("Pipeline %s not found", id)}
	}
	m.dirMu.Lock()
	defer m.dirMu.Unlock()
	if err := os.Remove(filepath.Join(m.opts.Dir, p.id+".star")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(m.valvesPath(p.id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	m.mu.Lock()
	delete(m.pipes, p.id)
	m.mu.Unlock()
	m.log.Info("pipeline deleted", "pipeline", p.id)
	return nil
}

// withValves returns the pipeline owning id's valves, or NotFound.
func (m *Manager) withValves(id string) (*instance, error) {
	p, _, ok := m.get(id)
	if !ok {
		return nil, &NotFound{fmt.Sprintf("Pipeline %s not found", id)}
	}
	if len(p.valves.AttrNames()) == 0 {
		return nil, &NotFound{fmt.Sprintf("Valves for %s not found", id)}
	}
	return p, nil
}

// Valves returns a pipeline's current valves as a JSON object.
func (m *Manager) Valves(id string) ([]byte, error) {
	p, err := m.withValves(id)
	if err != nil {
		return nil, err
	}
	return p.valves.orderedJSON(), nil
}

// ValvesSpec returns the JSON-schema-like description of a pipeline's
// valves that Open WebUI builds its form from.
func (m *Manager) ValvesSpec(id string) ([]byte, error) {
	p, err := m.withValves(id)
	if err != nil {
		return nil, err
	}
	return p.valves.schema(), nil
}

// UpdateValves sets some of a pipeline's valves from a JSON object, runs
// its on_valves_updated(), saves them and returns the new values. If the
// values are bad or on_valves_updated fails, nothing changes.
func (m *Manager) UpdateValves(ctx context.Context, id string, body []byte) ([]byte, error) {
	p, err := m.withValves(id)
	if err != nil {
		return nil, err
	}
	var in map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&in); err != nil {
		return nil, &BadRequest{fmt.Sprintf("valves must be a JSON object: %v", err)}
	}
	m.dirMu.Lock()
	defer m.dirMu.Unlock()
	old := p.valves.Values()
	merged, err := p.valves.merge(in)
	if err != nil {
		return nil, &BadRequest{err.Error()}
	}
	p.valves.set(merged)
	if p.updated != nil {
		if _, err := p.call(ctx, p.updated, nil, m.lim.Timeout, nil); err != nil {
			p.valves.set(old)
			return nil, fmt.Errorf("on_valves_updated failed, valves unchanged: %w", err)
		}
	}
	out := p.valves.orderedJSON()
	if err := writeFileAtomic(m.valvesPath(p.id), out); err != nil {
		p.valves.set(old)
		return nil, err
	}
	return out, nil
}

// writeFileAtomic writes data to name through a temporary file, so that a
// crash never leaves half a file.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// filterForm is the body of /{id}/filter/inlet and /outlet.
type filterForm struct {
	Body json.RawMessage `json:"body"`
	User json.RawMessage `json:"user"`
}

// Inlet runs a pipeline's inlet on a filter request ({"body": ..., "user":
// ...}) and returns the new body. A pipeline without inlet returns the
// body unchanged.
func (m *Manager) Inlet(ctx context.Context, id string, form []byte) ([]byte, error) {
	return m.filter(ctx, id, form, true)
}

// Outlet is Inlet for the outlet function.
func (m *Manager) Outlet(ctx context.Context, id string, form []byte) ([]byte, error) {
	return m.filter(ctx, id, form, false)
}

func (m *Manager) filter(ctx context.Context, id string, form []byte, in bool) ([]byte, error) {
	p, _, ok := m.get(id)
	if !ok {
		return nil, &NotFound{fmt.Sprintf("Filter %s not found", id)}
	}
	var f filterForm
	if err := json.Unmarshal(form, &f); err != nil {
		return nil, &BadRequest{fmt.Sprintf("bad filter request: %v", err)}
	}
	if len(f.Body) == 0 || string(f.Body) == "null" {
		return nil, &BadRequest{"bad filter request: no body"}
	}
	fn := p.outlet
	if in {
		fn = p.inlet
	}
	if fn == nil {
		return f.Body, nil
	}
	body, err := decodeJSON(f.Body, m.lim.MaxElems)
	if err != nil {
		return nil, &BadRequest{fmt.Sprintf("bad filter request: body: %v", err)}
	}
	if _, ok := body.(*starlark.Dict); !ok {
		return nil, &BadRequest{"bad filter request: body is not an object"}
	}
	var user starlark.Value = starlark.None
	if len(f.User) > 0 {
		if user, err = decodeJSON(f.User, m.lim.MaxElems); err != nil {
			return nil, &BadRequest{fmt.Sprintf("bad filter request: user: %v", err)}
		}
	}
	res, err := p.call(ctx, fn, callArgs(fn, body, user), m.lim.Timeout, nil)
	if err != nil {
		return nil, err
	}
	if res == starlark.None {
		res = body // changed in place, or not at all
	}
	if _, ok := res.(*starlark.Dict); !ok {
		name := "outlet"
		if in {
			name = "inlet"
		}
		return nil, &ScriptError{Pipeline: p.id, File: p.file, Msg: fmt.Sprintf("%s must return the body (a dict) or None, got a %s", name, res.Type())}
	}
	out, err := encodeJSON(res, int(m.lim.MaxBody))
	if err != nil {
		return nil, &ScriptError{Pipeline: p.id, File: p.file, Msg: fmt.Sprintf("the body returned: %v", err)}
	}
	return out, nil
}
