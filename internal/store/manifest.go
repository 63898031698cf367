package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Media types of the registry protocol as Ollama uses it: a Docker
// distribution v2 manifest whose layers are the model's parts.
const (
	MediaTypeManifest  = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeOCI       = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig    = "application/vnd.docker.container.image.v1+json"
	MediaTypeModel     = "application/vnd.ollama.image.model"
	MediaTypeAdapter   = "application/vnd.ollama.image.adapter"
	MediaTypeProjector = "application/vnd.ollama.image.projector"
	MediaTypeTemplate  = "application/vnd.ollama.image.template"
	MediaTypeSystem    = "application/vnd.ollama.image.system"
	MediaTypeParams    = "application/vnd.ollama.image.params"
	MediaTypeMessages  = "application/vnd.ollama.image.messages"
	MediaTypeLicense   = "application/vnd.ollama.image.license"
	// MediaTypePrompt is the template's name in old Ollama manifests.
	MediaTypePrompt = "application/vnd.ollama.image.prompt"
)

// Layer is one blob of a model, as listed in its manifest.
type Layer struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	// From names the model a layer was taken from when a model was created
	// from another one (its short name, as Ollama records it). It is the
	// model's parent, and a push to the same registry mounts the blob from
	// that model's repository instead of uploading it again.
	From string `json:"from,omitempty"`
}

// Manifest lists a model's config blob and layers.
type Manifest struct {
	SchemaVersion int     `json:"schemaVersion"`
	MediaType     string  `json:"mediaType"`
	Config        Layer   `json:"config"`
	Layers        []Layer `json:"layers"`
}

// ConfigFile is the model's config blob. Ollama's registry fills the
// model_* fields and file_type; architecture and os are Docker leftovers.
type ConfigFile struct {
	ModelFormat   string   `json:"model_format,omitempty"`
	ModelFamily   string   `json:"model_family,omitempty"`
	ModelFamilies []string `json:"model_families,omitempty"`
	ModelType     string   `json:"model_type,omitempty"`
	FileType      string   `json:"file_type,omitempty"`
	Architecture  string   `json:"architecture,omitempty"`
	OS            string   `json:"os,omitempty"`
	RootFS        RootFS   `json:"rootfs"`
}

// RootFS is the Docker config's layer list.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// ParseManifest decodes and checks a manifest: schema version 2, a
// well-formed digest and a non-negative size for every blob.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest is not valid JSON: %v", err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest schema version %d is not supported (want 2)", m.SchemaVersion)
	}
	if m.MediaType != "" && m.MediaType != MediaTypeManifest && m.MediaType != MediaTypeOCI {
		return nil, fmt.Errorf("manifest media type %q is not supported", m.MediaType)
	}
	for _, l := range m.Blobs() {
		if err := CheckDigest(l.Digest); err != nil {
			return nil, fmt.Errorf("manifest layer %s: %v", l.MediaType, err)
		}
		if l.Size < 0 {
			return nil, fmt.Errorf("manifest layer %s has negative size %d", l.Digest, l.Size)
		}
	}
	if len(m.Layers) == 0 {
		return nil, fmt.Errorf("manifest has no layers")
	}
	return &m, nil
}

// Blobs returns the layers followed by the config blob (when present):
// everything the manifest needs on disk.
func (m *Manifest) Blobs() []Layer {
	out := append([]Layer(nil), m.Layers...)
	if m.Config.Digest != "" {
		out = append(out, m.Config)
	}
	return out
}

// Size is the total size of the manifest's blobs.
func (m *Manifest) Size() int64 {
	var n int64
	for _, l := range m.Blobs() {
		n += l.Size
	}
	return n
}

// Layer returns the first layer of the given media type.
func (m *Manifest) Layer(mediaType string) (Layer, bool) {
	for _, l := range m.Layers {
		if l.MediaType == mediaType {
			return l, true
		}
	}
	return Layer{}, false
}

// CheckDigest validates a digest of the form sha256:<64 lowercase hex>.
func CheckDigest(d string) error {
	hexPart, ok := strings.CutPrefix(d, "sha256:")
	if !ok {
		return fmt.Errorf("digest %q is not of the form sha256:<hex>", d)
	}
	if len(hexPart) != 64 {
		return fmt.Errorf("digest %q: want 64 hex digits, have %d", d, len(hexPart))
	}
	for i := 0; i < len(hexPart); i++ {
		c := hexPart[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("digest %q: %q is not a lowercase hex digit", d, c)
		}
	}
	return nil
}

// DigestOf returns the sha256 digest of data in the form sha256:<hex>.
func DigestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
