package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Resolved is what running a model needs: the GGUF file and the defaults
// its Modelfile set.
type Resolved struct {
	Name        string // display name; empty for a plain file path
	Digest      string // manifest digest; empty for a plain file path
	ModelPath   string // the GGUF blob (or the file itself)
	Adapters    []string
	Projectors  []string
	Parameters  map[string]any // typed as ParseParameter returns them
	Template    string
	System      string
	Messages    []Message
	License     []string
	ParentModel string
}

// Resolve turns a model reference into what running it needs. A reference
// that names an existing file is used as a GGUF path directly; anything
// else is looked up in the store by name.
func (s *Store) Resolve(ref string) (*Resolved, error) {
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		return &Resolved{ModelPath: ref, Parameters: map[string]any{}}, nil
	} else if LooksLikePath(ref) {
		if err == nil {
			return nil, fmt.Errorf("%s is not a regular file", ref)
		}
		return nil, err
	}
	m, err := s.Get(ref)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("model %q not found: not a file, and not in the store at %s (try 'golem pull %s')", ref, s.Root, ref)
		}
		return nil, err
	}
	return s.resolveModel(m)
}

// LooksLikePath reports whether a model reference is meant as a file path
// rather than a name: it starts with '.', '/' or '~', is absolute, or ends
// in ".gguf".
func LooksLikePath(ref string) bool {
	return strings.HasPrefix(ref, ".") || strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "~") ||
		filepath.IsAbs(ref) || strings.HasSuffix(strings.ToLower(ref), ".gguf")
}

// resolveModel reads the small layers of a stored model.
func (s *Store) resolveModel(m *Model) (*Resolved, error) {
	r := &Resolved{Name: m.Name.DisplayShortest(), Digest: m.Digest, Parameters: map[string]any{}}
	for _, l := range m.Manifest.Layers {
		path, err := s.BlobPath(l.Digest)
		if err != nil {
			return nil, err
		}
		if !s.HasBlob(l.Digest, l.Size) {
			return nil, fmt.Errorf("store: %s: blob %s is missing or has the wrong size; pull or create the model again", r.Name, l.Digest)
		}
		text := func() (string, error) {
			b, err := s.ReadBlob(l.Digest, 16<<20)
			return string(b), err
		}
		switch l.MediaType {
		case MediaTypeModel:
			if r.ModelPath == "" {
				r.ModelPath = path
			}
			if l.From != "" && r.ParentModel == "" {
				r.ParentModel = l.From
			}
		case MediaTypeAdapter:
			r.Adapters = append(r.Adapters, path)
		case MediaTypeProjector:
			r.Projectors = append(r.Projectors, path)
		case MediaTypeTemplate, MediaTypePrompt:
			if r.Template, err = text(); err != nil {
				return nil, err
			}
		case MediaTypeSystem:
			if r.System, err = text(); err != nil {
				return nil, err
			}
		case MediaTypeLicense:
			t, err := text()
			if err != nil {
				return nil, err
			}
			r.License = append(r.License, t)
		case MediaTypeParams:
			b, err := s.ReadBlob(l.Digest, 16<<20)
			if err != nil {
				return nil, err
			}
			var p map[string]any
			if err := json.Unmarshal(b, &p); err != nil {
				return nil, fmt.Errorf("store: %s: params layer %s: %v", r.Name, l.Digest, err)
			}
			r.Parameters = NormalizeParameters(p)
		case MediaTypeMessages:
			b, err := s.ReadBlob(l.Digest, 16<<20)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(b, &r.Messages); err != nil {
				return nil, fmt.Errorf("store: %s: messages layer %s: %v", r.Name, l.Digest, err)
			}
		}
	}
	if r.ModelPath == "" {
		return nil, fmt.Errorf("store: %s has no model layer (%s)", r.Name, MediaTypeModel)
	}
	return r, nil
}
