package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/registry"
	"github.com/golem-llm/golem/internal/store"
)

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func detailsOf(d store.Details) api.ModelDetails {
	return api.ModelDetails{ParentModel: d.ParentModel, Format: d.Format, Family: d.Family, Families: d.Families,
		ParameterSize: d.ParameterSize, QuantizationLevel: d.QuantizationLevel}
}

// digestHex is a manifest digest as Ollama lists it: hex without the
// "sha256:" prefix.
func digestHex(d string) string { return strings.TrimPrefix(d, "sha256:") }

// checkName parses a model name, answering 400 for a malformed one.
func checkName(name, what string) (store.Name, error) {
	if strings.TrimSpace(name) == "" {
		return store.Name{}, errorf(http.StatusBadRequest, "%s is required", what)
	}
	n, err := store.ParseName(name)
	if err != nil {
		return store.Name{}, errorf(http.StatusBadRequest, "invalid model name: %v", err)
	}
	return n, nil
}

func (s *Server) listModels() ([]api.ListModelResponse, error) {
	ms, err := s.store.List()
	if err != nil {
		return nil, err
	}
	out := []api.ListModelResponse{}
	for _, m := range ms {
		n := m.Name.DisplayShortest()
		out = append(out, api.ListModelResponse{Name: n, Model: n, ModifiedAt: m.ModifiedAt, Size: m.Manifest.Size(),
			Digest: digestHex(m.Digest), Details: detailsOf(s.store.Details(m))})
	}
	return out, nil
}

func (s *Server) handleTags(w http.ResponseWriter, r *http.Request) {
	models, err := s.listModels()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.ListResponse{Models: models})
}

func (s *Server) handleShow(w http.ResponseWriter, r *http.Request) {
	var req api.ShowRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	name := modelName(req.Model, req.Name)
	if _, err := checkName(name, "model"); err != nil {
		writeError(w, err)
		return
	}
	resp, err := s.show(name, req.Verbose)
	if err != nil {
		writeError(w, err)
		return
	}
	if req.System != "" {
		resp.System = req.System
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) show(name string, verbose bool) (*api.ShowResponse, error) {
	si, err := s.store.Show(name, verbose)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errorf(http.StatusNotFound, "model '%s' not found", name)
		}
		return nil, err
	}
	resp := &api.ShowResponse{License: si.License, Modelfile: si.Modelfile, Parameters: si.Parameters, Template: si.Template,
		System: si.System, Details: detailsOf(si.Details), ModelInfo: si.ModelInfo, Capabilities: si.Capabilities, ModifiedAt: si.ModifiedAt}
	for _, m := range si.Messages {
		resp.Messages = append(resp.Messages, api.Message{Role: m.Role, Content: m.Content})
	}
	// Capabilities as Ollama derives them from the template.
	if !contains(resp.Capabilities, "embedding") {
		chatTemplate := ""
		if r, err := s.store.Resolve(name); err == nil && si.Template == "" {
			if f, err := gguf.Open(r.ModelPath); err == nil {
				chatTemplate, _ = f.String("tokenizer.chat_template")
				f.Close()
			}
		}
		if t, err := chooseTemplate("", si.Template, chatTemplate); err == nil {
			c := capabilitiesOf(t)
			for _, cap := range []struct {
				on   bool
				name string
			}{{c.tools, "tools"}, {c.insert, "insert"}, {c.thinking, "thinking"}} {
				if cap.on {
					resp.Capabilities = appendUnique(resp.Capabilities, cap.name)
				}
			}
		}
	}
	return resp, nil
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func (s *Server) handlePs(w http.ResponseWriter, r *http.Request) {
	out := []api.ProcessModelResponse{}
	for _, ms := range s.sched.Running() {
		p := api.ProcessModelResponse{Name: ms.Name, Model: ms.Name, Size: ms.Size, ContextLength: ms.NumCtx}
		switch {
		case ms.Forever:
			p.ExpiresAt = time.Now().Add(time.Duration(math.MaxInt64)).UTC()
		case ms.ExpiresAt.IsZero():
			p.ExpiresAt = time.Now().Add(s.cfg.KeepAlive)
		default:
			p.ExpiresAt = ms.ExpiresAt
		}
		if m, err := s.store.Get(ms.Name); err == nil {
			p.Digest = digestHex(m.Digest)
			p.Details = detailsOf(s.store.Details(m))
		}
		out = append(out, p)
	}
	// Longest remaining time first, as Ollama lists them.
	sort.SliceStable(out, func(i, j int) bool { return out[i].ExpiresAt.After(out[j].ExpiresAt) })
	writeJSON(w, http.StatusOK, api.ProcessResponse{Models: out})
}

// progressStream runs op, streaming its progress as NDJSON, or, with
// stream false, answering only its last event (or its error).
func progressStream(w http.ResponseWriter, stream bool, op func(fn func(store.Progress)) error) {
	if !stream {
		var last store.Progress
		if err := op(func(p store.Progress) { last = p }); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, api.ProgressResponse(last))
		return
	}
	out := &ndjson{w: w}
	var werr error
	err := op(func(p store.Progress) {
		if werr == nil {
			werr = out.send(api.ProgressResponse(p))
		}
	})
	if err != nil {
		out.fail(err)
	}
}

// registryFor returns the registry client, or one that talks plain HTTP
// when the request asks for insecure.
func (s *Server) registryFor(insecure bool) *registry.Client {
	if !insecure {
		return s.reg
	}
	cfg := s.cfg.Registry
	cfg.Insecure = true
	c := registry.New(s.store, cfg)
	c.Logf = s.reg.Logf
	return c
}

// registryStatus maps registry errors to Ollama's answers.
func registryStatus(err error, name string) error {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return errorf(http.StatusNotFound, "pull model manifest: file does not exist: %s: %v", name, err)
	case errors.Is(err, registry.ErrUnauthorized):
		return errorf(http.StatusUnauthorized, "%v", err)
	}
	return err
}

func (s *Server) handlePull(w http.ResponseWriter, r *http.Request) {
	var req api.PullRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	name := modelName(req.Model, req.Name)
	if _, err := checkName(name, "model"); err != nil {
		writeError(w, err)
		return
	}
	reg := s.registryFor(req.Insecure)
	progressStream(w, streamOf(req.Stream), func(fn func(store.Progress)) error {
		if err := reg.Pull(r.Context(), name, fn); err != nil {
			return registryStatus(err, name)
		}
		return nil
	})
}

func (s *Server) handlePush(w http.ResponseWriter, r *http.Request) {
	var req api.PushRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	name := modelName(req.Model, req.Name)
	if _, err := checkName(name, "model"); err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.store.Get(name); err != nil {
		writeError(w, errorf(http.StatusNotFound, "model '%s' not found", name))
		return
	}
	reg := s.registryFor(req.Insecure)
	progressStream(w, streamOf(req.Stream), func(fn func(store.Progress)) error {
		return registryStatus(reg.Push(r.Context(), name, fn), name)
	})
}

// modelfileOf builds the Modelfile a create request describes: either
// its legacy Modelfile text, or its fields.
func modelfileOf(req *api.CreateRequest) (*store.Modelfile, error) {
	if req.Modelfile != "" && req.From == "" && len(req.Files) == 0 {
		mf, err := store.ParseModelfile(strings.NewReader(req.Modelfile))
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "%v", err)
		}
		return mf, nil
	}
	mf := &store.Modelfile{}
	add := func(name, args string) { mf.Commands = append(mf.Commands, store.Command{Name: name, Args: args}) }
	switch {
	case req.From != "":
		add("model", req.From)
	case len(req.Files) > 0:
		// Files maps file names to uploaded blob digests; one GGUF is
		// the model.
		var names []string
		for n := range req.Files {
			names = append(names, n)
		}
		sort.Strings(names)
		var pick string
		for _, n := range names {
			if strings.HasSuffix(strings.ToLower(n), ".gguf") || len(names) == 1 {
				if pick != "" {
					return nil, errorf(http.StatusBadRequest, "files: more than one GGUF file (%s and %s)", pick, n)
				}
				pick = n
			}
		}
		if pick == "" {
			return nil, errorf(http.StatusBadRequest, "files: no .gguf file among %v (Golem imports GGUF only)", names)
		}
		add("model", req.Files[pick])
	default:
		return nil, errorf(http.StatusBadRequest, "neither 'from' or 'files' was specified")
	}
	if len(req.Adapters) > 0 {
		return nil, errorf(http.StatusBadRequest, "adapters are not supported by Golem yet")
	}
	if req.Template != "" {
		add("template", req.Template)
	}
	if req.System != "" {
		add("system", req.System)
	}
	var keys []string
	for k := range req.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := req.Parameters[k].(type) {
		case []any:
			for _, e := range v {
				add(k, fmt.Sprint(e))
			}
		case []string:
			for _, e := range v {
				add(k, e)
			}
		case float64:
			add(k, formatNumber(v))
		default:
			add(k, fmt.Sprint(v))
		}
	}
	switch l := req.License.(type) {
	case string:
		add("license", l)
	case []any:
		for _, e := range l {
			add("license", fmt.Sprint(e))
		}
	}
	for _, m := range req.Messages {
		add("message", m.Role+": "+m.Content)
	}
	return mf, nil
}

func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprint(f)
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req api.CreateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	name := modelName(req.Model, req.Name)
	if _, err := checkName(name, "model"); err != nil {
		writeError(w, err)
		return
	}
	mf, err := modelfileOf(&req)
	if err != nil {
		writeError(w, err)
		return
	}
	// Parameters are checked before anything is copied.
	if _, err := mf.Parameters(); err != nil {
		writeError(w, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	quantize := req.Quantize
	if quantize == "" {
		quantize = req.Quantization
	}
	opts := store.CreateOptions{Quantize: quantize, Threads: s.cfg.Threads,
		Pull: func(ctx context.Context, n string, fn func(store.Progress)) error { return s.reg.Pull(ctx, n, fn) }}
	progressStream(w, streamOf(req.Stream), func(fn func(store.Progress)) error {
		err := s.store.Create(r.Context(), name, mf, opts, fn)
		var pe *store.ParseError
		if errors.As(err, &pe) {
			return errorf(http.StatusBadRequest, "%v", err)
		}
		return err
	})
}

func (s *Server) handleCopy(w http.ResponseWriter, r *http.Request) {
	var req api.CopyRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if _, err := checkName(req.Source, "source"); err != nil {
		writeError(w, err)
		return
	}
	if _, err := checkName(req.Destination, "destination"); err != nil {
		writeError(w, err)
		return
	}
	if err := s.store.Copy(req.Source, req.Destination); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, errorf(http.StatusNotFound, "model %q not found", req.Source))
			return
		}
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	var req api.DeleteRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	name := modelName(req.Model, req.Name)
	if _, err := checkName(name, "model"); err != nil {
		writeError(w, err)
		return
	}
	if err := s.store.Delete(name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, errorf(http.StatusNotFound, "model '%s' not found", name))
			return
		}
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleHeadBlob(w http.ResponseWriter, r *http.Request) {
	d := r.PathValue("digest")
	p, err := s.store.BlobPath(d)
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		writeError(w, errorf(http.StatusNotFound, "blob %q not found", d))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handlePostBlob(w http.ResponseWriter, r *http.Request) {
	d := r.PathValue("digest")
	if err := store.CheckDigest(d); err != nil {
		writeError(w, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	if s.store.HasBlob(d, -1) {
		w.WriteHeader(http.StatusOK)
		return
	}
	// The upload goes to a temporary file and is committed only if its
	// bytes hash to the digest; a bad upload leaves the store untouched.
	f, err := s.store.TempFile("upload-*")
	if err != nil {
		writeError(w, err)
		return
	}
	_, err = io.Copy(f, r.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		writeError(w, errorf(http.StatusBadRequest, "reading the blob: %v", err))
		return
	}
	if err := s.store.CommitBlob(f.Name(), d); err != nil {
		os.Remove(f.Name())
		var mm *store.DigestMismatchError
		if errors.As(err, &mm) {
			writeError(w, errorf(http.StatusBadRequest, "digest mismatch, expected %q, got %q", mm.Want, mm.Got))
			return
		}
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
