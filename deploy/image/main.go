// Command image builds Golem's OCI image without Docker: the static golem binary
// (CGO_ENABLED=0) for each platform, a non-root user (65532), CA certificates, a /data
// volume and /tmp, in two layers with fixed timestamps and sorted entries, so building the
// same sources twice gives the same digest.
//
// Run from the deploy folder (its own Go module):
//
//	go run ./image -o ../dist/golem-oci                          # OCI layout, linux/amd64 + linux/arm64
//	go run ./image -archive ../dist/golem.tar -platform linux/amd64  # for `podman load` / `docker load`
//	go run ./image -push registry.example.com/golem:0.1.0        # push the multi-platform index
//
// The CA bundle is golang.org/x/crypto/x509roots/fallback's (Mozilla's roots, pinned by
// go.mod) unless -certs names a PEM file, e.g. /etc/ssl/certs/ca-certificates.crt.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated platforms of the index")
	src := fs.String("src", "", "repository root (default: the folder above, found from the working directory)")
	version := fs.String("version", envOr("GOLEM_VERSION", "0.1.0"), "version stamped into the binary and labels (GOLEM_VERSION)")
	epoch := fs.String("epoch", envOr("SOURCE_DATE_EPOCH", "0"), "Unix time of every timestamp in the image (SOURCE_DATE_EPOCH)")
	certs := fs.String("certs", "", "PEM CA bundle to install (default: the x509roots fallback bundle)")
	tag := fs.String("tag", "golem:latest", "reference recorded in the OCI layout and the archive")
	out := fs.String("o", "", "write the multi-platform index as an OCI image layout in this folder")
	archive := fs.String("archive", "", "write one platform's image as a docker-archive tar (podman load, docker load)")
	archPlatform := fs.String("platform", "linux/amd64", "the platform -archive writes")
	push := fs.String("push", "", "push the multi-platform index to this registry reference")
	var bins multiFlag
	fs.Var(&bins, "bin", "use a prebuilt binary: os/arch=path (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" && *archive == "" && *push == "" {
		fmt.Fprintln(stderr, "image: nothing to do: give -o DIR, -archive FILE or -push REF")
		return 2
	}
	opts, err := options(*platforms, *src, *version, *epoch, *certs, bins)
	if err != nil {
		fmt.Fprintf(stderr, "image: %v\n", err)
		return 2
	}
	work, err := os.MkdirTemp("", "golem-image-")
	if err != nil {
		fmt.Fprintf(stderr, "image: %v\n", err)
		return 1
	}
	defer os.RemoveAll(work)
	opts.WorkDir = work
	idx, images, err := Build(opts)
	if err != nil {
		fmt.Fprintf(stderr, "image: %v\n", err)
		return 1
	}
	d, err := idx.Digest()
	if err != nil {
		fmt.Fprintf(stderr, "image: %v\n", err)
		return 1
	}
	for i, img := range images {
		size, err := CompressedSize(img)
		if err != nil {
			fmt.Fprintf(stderr, "image: %v\n", err)
			return 1
		}
		id, _ := img.Digest()
		fmt.Fprintf(stdout, "%s %s %.1f MB compressed\n", opts.Platforms[i], id, float64(size)/1e6)
	}
	fmt.Fprintf(stdout, "index %s\n", d)
	if *out != "" {
		if err := WriteLayout(*out, idx, *tag); err != nil {
			fmt.Fprintf(stderr, "image: -o %s: %v\n", *out, err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote OCI layout %s\n", *out)
	}
	if *archive != "" {
		p, err := ParsePlatform(*archPlatform)
		if err != nil {
			fmt.Fprintf(stderr, "image: -platform: %v\n", err)
			return 2
		}
		var img v1.Image
		for i, q := range opts.Platforms {
			if q.String() == p.String() {
				img = images[i]
			}
		}
		if img == nil {
			fmt.Fprintf(stderr, "image: -platform %s is not among -platforms %s\n", p, *platforms)
			return 2
		}
		if err := WriteArchive(*archive, img, *tag); err != nil {
			fmt.Fprintf(stderr, "image: -archive %s: %v\n", *archive, err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s image %s to %s\n", p, *tag, *archive)
	}
	if *push != "" {
		ref, err := name.ParseReference(*push)
		if err != nil {
			fmt.Fprintf(stderr, "image: -push: %v\n", err)
			return 2
		}
		if err := remote.WriteIndex(ref, idx, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			fmt.Fprintf(stderr, "image: push %s: %v\n", ref, err)
			return 1
		}
		fmt.Fprintf(stdout, "pushed %s@%s\n", ref, d)
	}
	return 0
}

func options(platforms, src, version, epoch, certs string, bins multiFlag) (Options, error) {
	var o Options
	for _, s := range strings.Split(platforms, ",") {
		p, err := ParsePlatform(strings.TrimSpace(s))
		if err != nil {
			return o, err
		}
		o.Platforms = append(o.Platforms, p)
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || sec < 0 {
		return o, fmt.Errorf("epoch %q: want seconds since 1970", epoch)
	}
	o.Epoch = time.Unix(sec, 0).UTC()
	o.Version = version
	if certs != "" {
		b, err := os.ReadFile(certs)
		if err != nil {
			return o, fmt.Errorf("-certs: %w", err)
		}
		o.Certs = b
	}
	o.Binaries = map[string]string{}
	for _, b := range bins {
		plat, path, ok := strings.Cut(b, "=")
		if !ok {
			return o, fmt.Errorf("-bin %q: want os/arch=path", b)
		}
		p, err := ParsePlatform(plat)
		if err != nil {
			return o, fmt.Errorf("-bin: %w", err)
		}
		o.Binaries[p.String()] = path
	}
	if len(o.Binaries) < len(o.Platforms) {
		if src == "" {
			src, err = findRepo()
			if err != nil {
				return o, err
			}
		}
		o.Src = src
	}
	return o, nil
}

// findRepo walks up from the working directory to the product module's go.mod.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/golem-llm/golem\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module github.com/golem-llm/golem above the working directory; pass -src")
		}
		dir = parent
	}
}

// WriteLayout writes idx as an OCI image layout whose index.json names it tag.
func WriteLayout(dir string, idx v1.ImageIndex, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag}))
}

// WriteArchive writes img as a docker-archive tar tagged tag.
func WriteArchive(file string, img v1.Image, tag string) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(file, ref, img)
}

// CompressedSize is the bytes a pull of img transfers: manifest, config and layers.
func CompressedSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	return n + int64(len(raw)), nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
