package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/golem-llm/golem/internal/gguf"
)

// Progress is one event of a long operation (pull, push, create), shaped
// like Ollama's NDJSON progress so the same stream feeds the CLI and the
// HTTP API: a status line and, for transfers, the digest with bytes done.
type Progress struct {
	Status    string `json:"status"`
	Digest    string `json:"digest,omitempty"`
	Total     int64  `json:"total,omitempty"`
	Completed int64  `json:"completed,omitempty"`
}

// CreateOptions controls Create.
type CreateOptions struct {
	// Quantize, when set, quantizes an F32/F16/BF16 model ("q4_K_M", ...).
	Quantize string
	// Dir is the folder relative FROM and ADAPTER paths are resolved
	// against (the Modelfile's folder).
	Dir string
	// Pull, when set, fetches a FROM model that is not in the store.
	Pull func(ctx context.Context, name string, fn func(Progress)) error
	// Threads for quantization (0 = one per CPU).
	Threads int
}

// Create builds the model name from a Modelfile and stores it. FROM may
// name a GGUF file (absolute, ~/..., or relative to opts.Dir), a blob
// already in the store (sha256:<hex>), or a stored model whose layers are
// reused; the other instructions replace the base model's template,
// system prompt, messages and licenses, and add to its parameters.
// Progress events: "gathering model components", "copying file <digest>",
// "quantizing <from> model to <to>" (with counts), "using existing layer"
// or "creating new layer <digest>", "writing manifest", "success".
func (s *Store) Create(ctx context.Context, name string, mf *Modelfile, opts CreateOptions, fn func(Progress)) error {
	if fn == nil {
		fn = func(Progress) {}
	}
	target, err := ParseName(name)
	if err != nil {
		return err
	}
	var qtype FileType
	if opts.Quantize != "" {
		if qtype, err = ParseQuantizeType(opts.Quantize); err != nil {
			return err
		}
	}
	from, ok := mf.From()
	if !ok {
		return &ParseError{Msg: "no FROM line"}
	}
	for _, c := range mf.Commands {
		if c.Name == "adapter" {
			return errors.New("create: ADAPTER is not supported by Golem yet (LoRA adapters cannot be applied)")
		}
	}
	params, err := mf.Parameters()
	if err != nil {
		return fmt.Errorf("create: %v", err)
	}

	fn(Progress{Status: "gathering model components"})
	var layers []Layer
	parent := ""
	switch path, isFile, err := s.fromFile(from, opts.Dir); {
	case err != nil:
		return err
	case isFile:
		l, err := s.importGGUF(ctx, path, fn)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	default:
		base, err := s.fromModel(ctx, from, opts, fn)
		if err != nil {
			return err
		}
		parent = base.Name.DisplayShortest()
		for _, l := range base.Manifest.Layers {
			if l.From == "" {
				l.From = parent
			}
			layers = append(layers, l)
		}
	}

	// Instructions override what the base model had.
	baseParams := map[string]any{}
	for _, l := range layers {
		if l.MediaType == MediaTypeParams {
			if b, err := s.ReadBlob(l.Digest, 16<<20); err == nil {
				var p map[string]any
				if json.Unmarshal(b, &p) == nil {
					baseParams = NormalizeParameters(p)
				}
			}
		}
	}
	replace := func(mediaType string, text string) error {
		layers = removeLayers(layers, mediaType)
		l, err := s.textLayer(mediaType, []byte(text), fn)
		if err != nil {
			return err
		}
		layers = append(layers, l)
		return nil
	}
	var licenses []string
	for _, c := range mf.Commands {
		switch c.Name {
		case "template":
			if err := replace(MediaTypeTemplate, c.Args); err != nil {
				return err
			}
			layers = removeLayers(layers, MediaTypePrompt)
		case "system":
			if err := replace(MediaTypeSystem, c.Args); err != nil {
				return err
			}
		case "license":
			licenses = append(licenses, c.Args)
		}
	}
	if len(licenses) > 0 {
		layers = removeLayers(layers, MediaTypeLicense)
		for _, text := range licenses {
			l, err := s.textLayer(MediaTypeLicense, []byte(text), fn)
			if err != nil {
				return err
			}
			layers = append(layers, l)
		}
	}
	if msgs := mf.Messages(); len(msgs) > 0 {
		b, err := json.Marshal(msgs)
		if err != nil {
			return err
		}
		if err := replace(MediaTypeMessages, string(b)); err != nil {
			return err
		}
	}
	if len(params) > 0 {
		for k, v := range baseParams {
			if _, ok := params[k]; !ok {
				params[k] = v
			}
		}
		b, err := encodeParams(params)
		if err != nil {
			return err
		}
		if err := replace(MediaTypeParams, string(b)); err != nil {
			return err
		}
	}

	// Quantize the model layer if asked.
	modelIdx := -1
	for i, l := range layers {
		if l.MediaType == MediaTypeModel {
			modelIdx = i
			break
		}
	}
	if modelIdx < 0 {
		return fmt.Errorf("create: %s has no model layer", from)
	}
	if opts.Quantize != "" {
		l, err := s.quantizeLayer(ctx, layers[modelIdx], qtype, opts.Threads, fn)
		if err != nil {
			return err
		}
		layers[modelIdx] = l
	}

	modelPath, err := s.BlobPath(layers[modelIdx].Digest)
	if err != nil {
		return err
	}
	info, err := inspectGGUF(modelPath)
	if err != nil {
		return fmt.Errorf("create: reading the model: %v", err)
	}
	cfg := ConfigFile{
		ModelFormat: "gguf", ModelFamily: info.Arch, ModelType: HumanNumber(info.ParamCount),
		FileType: info.FileType.String(), Architecture: runtime.GOARCH, OS: runtime.GOOS,
		RootFS: RootFS{Type: "layers"},
	}
	if info.Arch != "" {
		cfg.ModelFamilies = []string{info.Arch}
	}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.Digest)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cfgDigest, cfgSize, err := s.WriteBlob(bytes.NewReader(cfgJSON))
	if err != nil {
		return err
	}
	m := Manifest{
		SchemaVersion: 2, MediaType: MediaTypeManifest,
		Config: Layer{MediaType: MediaTypeConfig, Digest: cfgDigest, Size: cfgSize},
		Layers: layers,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	fn(Progress{Status: "writing manifest"})
	if err := s.WriteManifest(target, raw); err != nil {
		return err
	}
	fn(Progress{Status: "success"})
	return nil
}

func removeLayers(layers []Layer, mediaType string) []Layer {
	out := layers[:0]
	for _, l := range layers {
		if l.MediaType != mediaType {
			out = append(out, l)
		}
	}
	return out
}

// textLayer stores a small layer and reports whether it was new.
func (s *Store) textLayer(mediaType string, data []byte, fn func(Progress)) (Layer, error) {
	digest := DigestOf(data)
	if s.HasBlob(digest, int64(len(data))) {
		fn(Progress{Status: "using existing layer " + digest})
		return Layer{MediaType: mediaType, Digest: digest, Size: int64(len(data))}, nil
	}
	got, size, err := s.WriteBlob(bytes.NewReader(data))
	if err != nil {
		return Layer{}, err
	}
	fn(Progress{Status: "creating new layer " + got})
	return Layer{MediaType: mediaType, Digest: got, Size: size}, nil
}

// fromFile decides whether FROM names a file. It returns the file's path
// and true, or false when FROM should be read as a model name.
func (s *Store) fromFile(from, dir string) (string, bool, error) {
	if d, ok := strings.CutPrefix(from, "@"); ok {
		from = d
	}
	if CheckDigest(from) == nil {
		p, _ := s.BlobPath(from)
		if !s.HasBlob(from, -1) {
			return "", false, fmt.Errorf("create: FROM %s: no such blob in the store", from)
		}
		return p, true, nil
	}
	path := from
	if path == "~" || strings.HasPrefix(path, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false, fmt.Errorf("create: FROM %s: %v", from, err)
		}
		path = filepath.Join(home, path[1:])
	} else if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		looksLikePath := strings.HasSuffix(strings.ToLower(from), ".gguf") || strings.HasPrefix(from, ".") ||
			strings.HasPrefix(from, "/") || strings.HasPrefix(from, "~")
		if looksLikePath {
			return "", false, fmt.Errorf("create: FROM %s: %v", from, err)
		}
		return "", false, nil
	}
	if fi.IsDir() {
		ggufs, _ := filepath.Glob(filepath.Join(path, "*.gguf"))
		if len(ggufs) == 1 {
			return ggufs[0], true, nil
		}
		return "", false, fmt.Errorf("create: FROM %s is a folder; Golem imports single GGUF files only (safetensors must be converted to GGUF first)", from)
	}
	return path, true, nil
}

// importGGUF copies a GGUF file into the store as a model layer.
func (s *Store) importGGUF(ctx context.Context, path string, fn func(Progress)) (Layer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return Layer{}, fmt.Errorf("create: %v", err)
	}
	f.Close()
	in, err := os.Open(path)
	if err != nil {
		return Layer{}, fmt.Errorf("create: %v", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return Layer{}, fmt.Errorf("create: %v", err)
	}
	total := fi.Size()
	status := "copying file " + filepath.Base(path)
	pr := &progressReader{r: in, ctx: ctx, fn: func(n int64) {
		fn(Progress{Status: status, Total: total, Completed: n})
	}}
	digest, size, err := s.WriteBlob(pr)
	if err != nil {
		return Layer{}, err
	}
	fn(Progress{Status: "copying file " + digest, Digest: digest, Total: size, Completed: size})
	return Layer{MediaType: MediaTypeModel, Digest: digest, Size: size}, nil
}

// progressReader reports bytes read every 16 MiB and stops on ctx.
type progressReader struct {
	r    io.Reader
	ctx  context.Context
	fn   func(int64)
	n    int64
	last int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.last >= 16<<20 {
		p.last = p.n
		p.fn(p.n)
	}
	return n, err
}

// fromModel finds the FROM model in the store, pulling it if allowed.
func (s *Store) fromModel(ctx context.Context, from string, opts CreateOptions, fn func(Progress)) (*Model, error) {
	n, err := ParseName(from)
	if err != nil {
		return nil, fmt.Errorf("create: FROM %s: not a file and not a model name: %v", from, err)
	}
	m, err := s.GetName(n)
	if errors.Is(err, ErrNotFound) && opts.Pull != nil {
		if err := opts.Pull(ctx, from, fn); err != nil {
			return nil, fmt.Errorf("create: pulling %s: %w", from, err)
		}
		m, err = s.GetName(n)
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("create: FROM %s: no such file, and no such model in the store: %w", from, err)
		}
		return nil, err
	}
	return m, nil
}

// quantizeLayer quantizes a model layer to ft and stores the result.
func (s *Store) quantizeLayer(ctx context.Context, l Layer, ft FileType, threads int, fn func(Progress)) (Layer, error) {
	path, err := s.BlobPath(l.Digest)
	if err != nil {
		return Layer{}, err
	}
	src, err := gguf.Open(path)
	if err != nil {
		return Layer{}, fmt.Errorf("create: %v", err)
	}
	defer src.Close()
	info, err := inspectGGUF(path)
	if err != nil {
		return Layer{}, err
	}
	switch info.FileType {
	case FileTypeF32, FileTypeF16, FileTypeBF16:
	default:
		if info.FileType != ft {
			return Layer{}, fmt.Errorf("create: the model is %s; only F32, F16 and BF16 models can be quantized", info.FileType)
		}
	}
	status := fmt.Sprintf("quantizing %s model to %s", info.FileType, ft)
	fn(Progress{Status: status})
	tmp, err := s.TempFile("quantize-*")
	if err != nil {
		return Layer{}, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	h := NewHash()
	var size int64
	cw := &countWriter{w: io.MultiWriter(tmp, h), n: &size}
	err = Quantize(ctx, src, cw, QuantizeOptions{Type: ft, Threads: threads, Progress: func(done, total int64) {
		fn(Progress{Status: status, Digest: "0000000000000000000", Total: total, Completed: done})
	}})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Layer{}, fmt.Errorf("create: %v", err)
	}
	digest := fmt.Sprintf("sha256:%x", h.Sum(nil))
	if err := s.CommitBlob(tmpName, digest); err != nil {
		return Layer{}, err
	}
	fn(Progress{Status: "creating new layer " + digest})
	// The parent stays the model this one was made from.
	return Layer{MediaType: MediaTypeModel, Digest: digest, Size: size, From: l.From}, nil
}

type countWriter struct {
	w io.Writer
	n *int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	*c.n += int64(n)
	return n, err
}
