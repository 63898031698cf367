package store

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/tensor"
)

// FileType is llama.cpp's llama_ftype: what a GGUF file's weights were
// mostly quantized to, stored as general.file_type.
type FileType uint32

// The file types, numbered as in llama.cpp.
const (
	FileTypeF32    FileType = 0
	FileTypeF16    FileType = 1
	FileTypeQ4_0   FileType = 2
	FileTypeQ4_1   FileType = 3
	FileTypeQ8_0   FileType = 7
	FileTypeQ5_0   FileType = 8
	FileTypeQ5_1   FileType = 9
	FileTypeQ2_K   FileType = 10
	FileTypeQ3_K_S FileType = 11
	FileTypeQ3_K_M FileType = 12
	FileTypeQ3_K_L FileType = 13
	FileTypeQ4_K_S FileType = 14
	FileTypeQ4_K_M FileType = 15
	FileTypeQ5_K_S FileType = 16
	FileTypeQ5_K_M FileType = 17
	FileTypeQ6_K   FileType = 18
	FileTypeBF16   FileType = 32
)

var fileTypeNames = map[FileType]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
	16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
	22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
	28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
}

func (f FileType) String() string {
	if s, ok := fileTypeNames[f]; ok {
		return s
	}
	return fmt.Sprintf("unknown file type %d", uint32(f))
}

// ParseFileType returns the file type with the given name,
// case-insensitively ("q4_k_m", "Q4_K_M").
func ParseFileType(s string) (FileType, bool) {
	for ft, name := range fileTypeNames {
		if strings.EqualFold(name, s) {
			return ft, true
		}
	}
	return 0, false
}

// tensorFileType maps a tensor type to the file type a file made mostly of
// it is usually given; used when general.file_type is missing.
var tensorFileType = map[tensor.Type]FileType{
	tensor.F32: FileTypeF32, tensor.F16: FileTypeF16, tensor.BF16: FileTypeBF16,
	tensor.Q4_0: FileTypeQ4_0, tensor.Q4_1: FileTypeQ4_1, tensor.Q5_0: FileTypeQ5_0,
	tensor.Q5_1: FileTypeQ5_1, tensor.Q8_0: FileTypeQ8_0, tensor.Q2_K: FileTypeQ2_K,
	tensor.Q3_K: FileTypeQ3_K_S, tensor.Q4_K: FileTypeQ4_K_S, tensor.Q5_K: FileTypeQ5_K_S,
	tensor.Q6_K: FileTypeQ6_K,
}

// Details summarizes a model as Ollama's API reports it.
type Details struct {
	ParentModel       string   `json:"parent_model"`
	Format            string   `json:"format"`
	Family            string   `json:"family"`
	Families          []string `json:"families"`
	ParameterSize     string   `json:"parameter_size"`
	QuantizationLevel string   `json:"quantization_level"`
}

// ggufInfo is what the store reads from a model's GGUF header.
type ggufInfo struct {
	Arch       string
	ParamCount uint64
	FileType   FileType
	KVs        []gguf.KV
}

// inspectGGUF reads the metadata of a GGUF file.
func inspectGGUF(path string) (*ggufInfo, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info := &ggufInfo{Arch: f.Architecture(), KVs: f.KVs}
	for _, t := range f.Tensors {
		info.ParamCount += t.Elements()
	}
	if ft, ok := f.Uint("general.file_type"); ok && ft <= math.MaxUint32 {
		info.FileType = FileType(ft)
	} else {
		info.FileType = guessFileType(f)
	}
	return info, nil
}

// guessFileType picks the file type of the tensor type that holds most of
// the weights of the 2-D tensors.
func guessFileType(f *gguf.File) FileType {
	byType := map[tensor.Type]uint64{}
	for _, t := range f.Tensors {
		if len(t.Dims) >= 2 {
			byType[t.Type] += t.Elements()
		}
	}
	best, bestN := tensor.F32, uint64(0)
	for t, n := range byType {
		if n > bestN || n == bestN && t < best {
			best, bestN = t, n
		}
	}
	if ft, ok := tensorFileType[best]; ok {
		return ft
	}
	return FileTypeF32
}

func (g *ggufInfo) details() Details {
	d := Details{Format: "gguf", Family: g.Arch, ParameterSize: HumanNumber(g.ParamCount), QuantizationLevel: g.FileType.String()}
	if g.Arch != "" {
		d.Families = []string{g.Arch}
	}
	return d
}

// modelInfo converts the GGUF metadata to the map /api/show returns as
// model_info: numbers as numbers, arrays left out (nil) unless verbose,
// and general.parameter_count added.
func (g *ggufInfo) modelInfo(verbose bool) map[string]any {
	out := map[string]any{}
	for _, kv := range g.KVs {
		switch kv.Key {
		case "general.name", "tokenizer.chat_template":
			continue
		}
		switch v := kv.Value.(type) {
		case gguf.Array:
			if verbose {
				out[kv.Key] = v.Values
			} else {
				out[kv.Key] = nil
			}
		default:
			out[kv.Key] = v
		}
	}
	out["general.parameter_count"] = g.ParamCount
	return out
}

// HumanNumber formats a parameter count as Ollama does: 8B, 3.2B, 494.03M, 293K.
func HumanNumber(n uint64) string {
	const thousand, million, billion = 1e3, 1e6, 1e9
	switch {
	case n >= billion:
		v := float64(n) / billion
		if v == math.Floor(v) {
			return fmt.Sprintf("%.0fB", v)
		}
		return fmt.Sprintf("%.1fB", v)
	case n >= million:
		v := float64(n) / million
		if v == math.Floor(v) {
			return fmt.Sprintf("%.0fM", v)
		}
		return fmt.Sprintf("%.2fM", v)
	case n >= thousand:
		return fmt.Sprintf("%.0fK", float64(n)/thousand)
	}
	return strconv.FormatUint(n, 10)
}

// HumanBytes formats a size in decimal units as Ollama does: 4.7 GB, 12 MB, 487 B.
func HumanBytes(b int64) string {
	units := []struct {
		size float64
		name string
	}{{1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "KB"}}
	for _, u := range units {
		if float64(b) >= u.size {
			v := float64(b) / u.size
			switch {
			case v >= 10:
				return fmt.Sprintf("%d %s", int(v), u.name)
			case v != math.Trunc(v):
				return fmt.Sprintf("%.1f %s", v, u.name)
			}
			return fmt.Sprintf("%d %s", int(v), u.name)
		}
	}
	return fmt.Sprintf("%d B", b)
}

// ShowInfo is everything `show` and /api/show report about a model.
type ShowInfo struct {
	Name         string         `json:"-"`
	License      string         `json:"license,omitempty"`
	Modelfile    string         `json:"modelfile"`
	Parameters   string         `json:"parameters,omitempty"`
	Template     string         `json:"template,omitempty"`
	System       string         `json:"system,omitempty"`
	Details      Details        `json:"details"`
	Messages     []Message      `json:"messages,omitempty"`
	ModelInfo    map[string]any `json:"model_info,omitempty"`
	Capabilities []string       `json:"capabilities,omitempty"`
	ModifiedAt   time.Time      `json:"modified_at"`
	// ParameterValues is Parameters as typed values.
	ParameterValues map[string]any `json:"-"`
}

// ContextLength returns <arch>.context_length from the model info, or 0.
func (si *ShowInfo) ContextLength() uint64 {
	return infoUint(si.ModelInfo, si.Details.Family+".context_length")
}

// EmbeddingLength returns <arch>.embedding_length from the model info, or 0.
func (si *ShowInfo) EmbeddingLength() uint64 {
	return infoUint(si.ModelInfo, si.Details.Family+".embedding_length")
}

func infoUint(m map[string]any, key string) uint64 {
	switch v := m[key].(type) {
	case uint32:
		return uint64(v)
	case uint64:
		return v
	case int32:
		if v >= 0 {
			return uint64(v)
		}
	case int64:
		if v >= 0 {
			return uint64(v)
		}
	case uint16:
		return uint64(v)
	}
	return 0
}

// Show gathers a model's details, metadata, parameters, template, system
// prompt, messages and licenses, and renders its Modelfile.
func (s *Store) Show(name string, verbose bool) (*ShowInfo, error) {
	m, err := s.Get(name)
	if err != nil {
		return nil, err
	}
	r, err := s.resolveModel(m)
	if err != nil {
		return nil, err
	}
	info, err := inspectGGUF(r.ModelPath)
	if err != nil {
		return nil, fmt.Errorf("store: %s: reading the model file: %v", m.Name.DisplayShortest(), err)
	}
	si := &ShowInfo{
		Name:            m.Name.DisplayShortest(),
		License:         strings.Join(r.License, "\n"),
		Template:        r.Template,
		System:          r.System,
		Messages:        r.Messages,
		ModelInfo:       info.modelInfo(verbose),
		ModifiedAt:      m.ModifiedAt,
		Parameters:      formatParameters(r.Parameters),
		ParameterValues: r.Parameters,
		Details:         info.details(),
	}
	// The config blob, when the registry or create filled it, has the last
	// word on the details (Ollama reports it that way).
	if cfg, err := s.readConfig(m.Manifest); err == nil {
		if cfg.ModelFormat != "" {
			si.Details.Format = cfg.ModelFormat
		}
		if cfg.ModelFamily != "" {
			si.Details.Family = cfg.ModelFamily
		}
		if len(cfg.ModelFamilies) > 0 {
			si.Details.Families = cfg.ModelFamilies
		}
		if cfg.ModelType != "" {
			si.Details.ParameterSize = cfg.ModelType
		}
		if cfg.FileType != "" {
			si.Details.QuantizationLevel = cfg.FileType
		}
	}
	si.Details.ParentModel = r.ParentModel
	if _, ok := si.ModelInfo[info.Arch+".pooling_type"]; ok || info.Arch == "bert" || info.Arch == "nomic-bert" {
		si.Capabilities = []string{"embedding"}
	} else {
		si.Capabilities = []string{"completion"}
	}

	mf := Modelfile{Commands: []Command{{Name: "model", Args: r.ModelPath}}}
	for _, a := range r.Adapters {
		mf.Commands = append(mf.Commands, Command{Name: "adapter", Args: a})
	}
	if r.Template != "" {
		mf.Commands = append(mf.Commands, Command{Name: "template", Args: r.Template})
	}
	if r.System != "" {
		mf.Commands = append(mf.Commands, Command{Name: "system", Args: r.System})
	}
	mf.Commands = append(mf.Commands, paramCommands(r.Parameters)...)
	for _, l := range r.License {
		mf.Commands = append(mf.Commands, Command{Name: "license", Args: l})
	}
	for _, msg := range r.Messages {
		mf.Commands = append(mf.Commands, Command{Name: "message", Args: msg.Role + ": " + msg.Content})
	}
	var b strings.Builder
	b.WriteString("# Modelfile generated by \"golem show\"\n")
	b.WriteString("# To build a new Modelfile based on this, replace FROM with:\n")
	fmt.Fprintf(&b, "# FROM %s\n\n", m.Name.DisplayShortest())
	b.WriteString(mf.String())
	si.Modelfile = b.String()
	return si, nil
}

// readConfig reads and decodes a manifest's config blob.
func (s *Store) readConfig(m *Manifest) (*ConfigFile, error) {
	if m.Config.Digest == "" {
		return nil, fmt.Errorf("no config blob")
	}
	data, err := s.ReadBlob(m.Config.Digest, 1<<20)
	if err != nil {
		return nil, err
	}
	var cfg ConfigFile
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("config blob %s: %v", m.Config.Digest, err)
	}
	return &cfg, nil
}

// Details returns a stored model's details from its config blob (the
// cheap path /api/tags uses), falling back to reading the GGUF header.
func (s *Store) Details(m *Model) Details {
	var d Details
	if cfg, err := s.readConfig(m.Manifest); err == nil {
		d = Details{Format: cfg.ModelFormat, Family: cfg.ModelFamily, Families: cfg.ModelFamilies,
			ParameterSize: cfg.ModelType, QuantizationLevel: cfg.FileType}
	}
	if d.Family == "" || d.ParameterSize == "" || d.QuantizationLevel == "" {
		if l, ok := m.Manifest.Layer(MediaTypeModel); ok {
			if p, err := s.BlobPath(l.Digest); err == nil {
				if info, err := inspectGGUF(p); err == nil {
					g := info.details()
					if d.Family == "" {
						d.Family, d.Families = g.Family, g.Families
					}
					if d.ParameterSize == "" {
						d.ParameterSize = g.ParameterSize
					}
					if d.QuantizationLevel == "" {
						d.QuantizationLevel = g.QuantizationLevel
					}
				}
			}
		}
	}
	if d.Format == "" {
		d.Format = "gguf"
	}
	return d
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
