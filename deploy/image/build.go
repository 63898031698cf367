package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's fixed layout. The chart and docs/roles.md rely on these.
const (
	binaryPath = "/usr/local/bin/golem"
	dataDir    = "/data"
	certsPath  = "/etc/ssl/certs/ca-certificates.crt"
	uid        = 65532
	userName   = "golem"
)

// Platform is one os/arch the image is built for.
type Platform struct {
	OS, Arch, Variant string
}

// ParsePlatform reads "linux/amd64" or "linux/arm64" (arm64 gets variant v8, as registries list it).
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("platform %q: want os/arch, e.g. linux/amd64", s)
	}
	p := Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	} else if p.Arch == "arm64" {
		p.Variant = "v8"
	}
	if p.OS != "linux" {
		return Platform{}, fmt.Errorf("platform %q: only linux images are built", s)
	}
	return p, nil
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Options says what goes into the image.
type Options struct {
	Platforms []Platform
	// Binaries maps a platform ("linux/amd64") to a prebuilt golem binary; platforms not
	// listed are built from Src with `go build`.
	Binaries map[string]string
	Src      string    // repository root (the module github.com/golem-llm/golem)
	Version  string    // stamped into the binary (main.version) and the image labels
	Epoch    time.Time // every timestamp in the image: files, config, history
	Certs    []byte    // PEM CA bundle; nil takes the x509roots fallback bundle
	WorkDir  string    // scratch folder for built binaries
}

// Build returns the multi-platform image index and each platform's image, in Platforms order.
func Build(o Options) (v1.ImageIndex, []v1.Image, error) {
	if len(o.Platforms) == 0 {
		return nil, nil, fmt.Errorf("no platforms to build")
	}
	certs := o.Certs
	if certs == nil {
		certs = FallbackCerts()
	}
	if err := checkCerts(certs); err != nil {
		return nil, nil, err
	}
	base, err := tarLayer(baseEntries(certs), o.Epoch)
	if err != nil {
		return nil, nil, fmt.Errorf("base layer: %w", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var images []v1.Image
	for _, p := range o.Platforms {
		bin := o.Binaries[p.String()]
		if bin == "" {
			if o.Src == "" {
				return nil, nil, fmt.Errorf("%s: no binary given and no source folder to build one", p)
			}
			bin = filepath.Join(o.WorkDir, "golem-"+p.OS+"-"+p.Arch)
			if err := GoBuild(o.Src, p, o.Version, bin); err != nil {
				return nil, nil, err
			}
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		binLayer, err := tarLayer([]entry{
			{name: "usr/", dir: true, mode: 0o755},
			{name: "usr/local/", dir: true, mode: 0o755},
			{name: "usr/local/bin/", dir: true, mode: 0o755},
			{name: strings.TrimPrefix(binaryPath, "/"), mode: 0o755, data: data},
		}, o.Epoch)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: binary layer: %w", p, err)
		}
		img, err := platformImage(p, o, base, binLayer)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		images = append(images, img)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: p.OS, Architecture: p.Arch, Variant: p.Variant},
			},
		})
	}
	return idx, images, nil
}

func platformImage(p Platform, o Options, base, bin v1.Layer) (v1.Image, error) {
	created := v1.Time{Time: o.Epoch}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "golem image: user, CA certificates, /data, /tmp"}},
		mutate.Addendum{Layer: bin, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "golem image: " + binaryPath}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Arch, p.Variant
	cf.Created = created
	cf.Author = ""
	cf.Config = v1.Config{
		User: fmt.Sprintf("%d:%d", uid, uid),
		Env: []string{
			"PATH=/usr/local/bin:/usr/bin:/bin",
			"GOLEM_HOME=" + dataDir,
			"GOLEM_HOST=0.0.0.0:11434",
			"SSL_CERT_FILE=" + certsPath,
			"TMPDIR=/tmp",
		},
		Entrypoint:   []string{binaryPath},
		Cmd:          []string{"serve"},
		WorkingDir:   dataDir,
		Volumes:      map[string]struct{}{dataDir: {}},
		ExposedPorts: map[string]struct{}{"11434/tcp": {}, "8080/tcp": {}, "9099/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "golem",
			"org.opencontainers.image.description": "Golem: self-hosted LLMs in one static binary (engine, web UI, pipelines)",
			"org.opencontainers.image.source":      "https://github.com/golem-llm/golem",
			"org.opencontainers.image.version":     o.Version,
		},
		StopSignal: "SIGTERM",
	}
	return mutate.ConfigFile(img, cf)
}

// GoBuild builds the static golem binary for p: no cgo, no build paths, no build ID, so
// the same sources give the same bytes.
func GoBuild(src string, p Platform, version, out string) error {
	ldflags := "-s -w -buildid= -X main.version=" + version
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, "./cmd/golem")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=-mod=readonly", "GOWORK=off")
	if p.Arch == "arm" && p.Variant != "" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s in %s: %v\n%s", p, src, err, stderr.Bytes())
	}
	return nil
}

// FallbackCerts returns the root certificates of golang.org/x/crypto/x509roots/fallback
// (Mozilla's list, pinned by the module version in go.mod) as PEM, so every build machine
// puts the same bundle in the image.
func FallbackCerts() []byte {
	var b bytes.Buffer
	for c := range bundle.Roots() {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate})
	}
	return b.Bytes()
}

func checkCerts(certs []byte) error {
	n := 0
	for rest := certs; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("CA bundle holds no PEM certificates")
	}
	return nil
}

// entry is one file or folder of a layer.
type entry struct {
	name     string // relative, folders end in "/"
	dir      bool
	mode     int64
	uid, gid int
	data     []byte
}

func baseEntries(certs []byte) []entry {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", userName, uid, uid, userName, dataDir)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", userName, uid)
	return []entry{
		{name: "data/", dir: true, mode: 0o755, uid: uid, gid: uid},
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/", dir: true, mode: 0o755},
		{name: strings.TrimPrefix(certsPath, "/"), mode: 0o644, data: certs},
		{name: "tmp/", dir: true, mode: 0o1777},
	}
}

// tarLayer writes entries sorted by name with fixed times and owners, gzips them, and
// returns the layer. The same entries always give the same bytes.
func tarLayer(entries []entry, epoch time.Time) (v1.Layer, error) {
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range sorted {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: epoch,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, &raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	compressed := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
