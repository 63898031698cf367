package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var testEpoch = time.Unix(1700000000, 0).UTC()

// fakeBinaries writes a distinct small file per platform in place of the golem binary.
func fakeBinaries(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	m := map[string]string{}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		path := filepath.Join(dir, strings.ReplaceAll(p, "/", "-"))
		if err := os.WriteFile(path, []byte("#!fake golem for "+p+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		m[p] = path
	}
	return m
}

func testOptions(t *testing.T) Options {
	t.Helper()
	amd, _ := ParsePlatform("linux/amd64")
	arm, _ := ParsePlatform("linux/arm64")
	return Options{
		Platforms: []Platform{amd, arm},
		Binaries:  fakeBinaries(t),
		Version:   "1.2.3",
		Epoch:     testEpoch,
	}
}

func indexDigest(t *testing.T, o Options) v1.Hash {
	t.Helper()
	idx, _, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuildIsReproducible(t *testing.T) {
	o := testOptions(t)
	a, b := indexDigest(t, o), indexDigest(t, o)
	if a != b {
		t.Fatalf("two builds of the same inputs: %s and %s", a, b)
	}
	// The digest must follow the inputs, or the equality above proves nothing.
	o2 := o
	o2.Epoch = o.Epoch.Add(time.Second)
	if c := indexDigest(t, o2); c == a {
		t.Errorf("another epoch gave the same digest %s", c)
	}
	o3 := o
	o3.Version = "1.2.4"
	if c := indexDigest(t, o3); c == a {
		t.Errorf("another version gave the same digest %s", c)
	}
}

// layerFile is one tar entry of a layer, with its position.
type layerFile struct {
	hdr  *tar.Header
	data []byte
}

func layerEntries(t *testing.T, l v1.Layer) []layerFile {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []layerFile
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, layerFile{h, b})
	}
}

func TestImageContents(t *testing.T) {
	o := testOptions(t)
	idx, images, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("index: media type %s with %d manifests, want an OCI index of 2", im.MediaType, len(im.Manifests))
	}
	for i, img := range images {
		p := o.Platforms[i]
		desc := im.Manifests[i]
		if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != p.Arch {
			t.Errorf("%s: index entry platform %+v", p, desc.Platform)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != p.Arch || cf.OS != "linux" {
			t.Errorf("%s: config says %s/%s", p, cf.OS, cf.Architecture)
		}
		c := cf.Config
		if c.User != "65532:65532" {
			t.Errorf("%s: user %q, want 65532:65532", p, c.User)
		}
		env := strings.Join(c.Env, "\n")
		for _, want := range []string{"GOLEM_HOME=/data", "GOLEM_HOST=0.0.0.0:11434", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"} {
			if !strings.Contains(env, want) {
				t.Errorf("%s: env %q lacks %s", p, c.Env, want)
			}
		}
		if _, ok := c.Volumes["/data"]; !ok {
			t.Errorf("%s: volumes %v lack /data", p, c.Volumes)
		}
		if strings.Join(c.Entrypoint, " ") != "/usr/local/bin/golem" || strings.Join(c.Cmd, " ") != "serve" {
			t.Errorf("%s: entrypoint %q cmd %q", p, c.Entrypoint, c.Cmd)
		}
		if !cf.Created.Time.Equal(testEpoch) {
			t.Errorf("%s: created %v, want %v", p, cf.Created.Time, testEpoch)
		}
		for _, h := range cf.History {
			if !h.Created.Time.Equal(testEpoch) {
				t.Errorf("%s: history %q created %v", p, h.CreatedBy, h.Created.Time)
			}
		}

		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]layerFile{}
		for li, l := range layers {
			mt, _ := l.MediaType()
			if mt != types.OCILayer {
				t.Errorf("%s: layer %d media type %s", p, li, mt)
			}
			entries := layerEntries(t, l)
			names := make([]string, len(entries))
			for j, e := range entries {
				names[j] = e.hdr.Name
				if !e.hdr.ModTime.Equal(testEpoch) {
					t.Errorf("%s: %s mtime %v", p, e.hdr.Name, e.hdr.ModTime)
				}
				files["/"+strings.TrimSuffix(e.hdr.Name, "/")] = e
			}
			if !sort.StringsAreSorted(names) {
				t.Errorf("%s: layer %d entries not sorted: %q", p, li, names)
			}
		}
		want, _ := os.ReadFile(o.Binaries[p.String()])
		bin, ok := files["/usr/local/bin/golem"]
		if !ok || !bytes.Equal(bin.data, want) || bin.hdr.Mode&0o777 != 0o755 {
			t.Errorf("%s: /usr/local/bin/golem missing, wrong content or mode", p)
		}
		data, ok := files["/data"]
		if !ok || data.hdr.Typeflag != tar.TypeDir || data.hdr.Uid != 65532 || data.hdr.Gid != 65532 {
			t.Errorf("%s: /data is not a folder owned by 65532: %+v", p, data.hdr)
		}
		tmp, ok := files["/tmp"]
		if !ok || tmp.hdr.Mode&0o7777 != 0o1777 {
			t.Errorf("%s: /tmp missing or not 1777", p)
		}
		if pw := string(files["/etc/passwd"].data); !strings.Contains(pw, ":65532:65532:") {
			t.Errorf("%s: /etc/passwd has no user 65532:\n%s", p, pw)
		}
		certs := files["/etc/ssl/certs/ca-certificates.crt"].data
		n := 0
		for rest := certs; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				t.Fatalf("%s: CA bundle: %v", p, err)
			}
			n++
		}
		if n < 50 {
			t.Errorf("%s: CA bundle has %d certificates, want a full root list", p, n)
		}
	}
	// The base layer is the same for every platform, so a registry stores it once.
	l0, _ := images[0].Layers()
	l1, _ := images[1].Layers()
	d0, _ := l0[0].Digest()
	d1, _ := l1[0].Digest()
	if d0 != d1 {
		t.Errorf("base layers differ between platforms: %s and %s", d0, d1)
	}
}

func TestLayoutArchiveAndPush(t *testing.T) {
	o := testOptions(t)
	dir := t.TempDir()
	layoutDir := filepath.Join(dir, "oci")
	archive := filepath.Join(dir, "golem.tar")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/golem:test"

	args := []string{"-o", layoutDir, "-archive", archive, "-platform", "linux/arm64", "-push", ref,
		"-epoch", "1700000000", "-version", "1.2.3", "-tag", "golem:test"}
	for p, path := range o.Binaries {
		args = append(args, "-bin", p+"="+path)
	}
	var stdout, stderr bytes.Buffer
	if rc := run(args, &stdout, &stderr); rc != 0 {
		t.Fatalf("run: exit %d\n%s%s", rc, stdout.String(), stderr.String())
	}
	want := indexDigest(t, o)
	if !strings.Contains(stdout.String(), "index "+want.String()) {
		t.Errorf("output does not name index %s:\n%s", want, stdout.String())
	}

	lp, err := layout.FromPath(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].Digest != want || tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "golem:test" {
		t.Errorf("layout index.json: %+v, want one entry %s named golem:test", tm.Manifests, want)
	}

	_, images, _ := Build(o)
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := img.ConfigName()
	wantCfg, _ := images[1].ConfigName()
	if got != wantCfg {
		t.Errorf("archive holds config %s, want the arm64 image's %s", got, wantCfg)
	}

	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := pushed.Digest(); d != want {
		t.Errorf("registry holds %s, want %s", d, want)
	}
}

func TestBadInput(t *testing.T) {
	for _, s := range []string{"linux", "windows/amd64", "/amd64", "linux/amd64/v1/x"} {
		if _, err := ParsePlatform(s); err == nil {
			t.Errorf("ParsePlatform(%q) accepted", s)
		}
	}
	o := testOptions(t)
	o.Certs = []byte("not a certificate")
	if _, _, err := Build(o); err == nil || !strings.Contains(err.Error(), "CA bundle") {
		t.Errorf("a bundle without certificates: %v", err)
	}
	o = testOptions(t)
	o.Binaries = map[string]string{"linux/amd64": filepath.Join(t.TempDir(), "missing")}
	if _, _, err := Build(o); err == nil {
		t.Error("a missing binary was accepted")
	}
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"-bin", "linux/amd64"}, &stdout, &stderr); rc != 2 {
		t.Errorf("run without an output: exit %d", rc)
	}
	if rc := run([]string{"-o", t.TempDir(), "-epoch", "yesterday"}, &stdout, &stderr); rc != 2 || !strings.Contains(stderr.String(), "epoch") {
		t.Errorf("bad epoch: exit %d, %s", rc, stderr.String())
	}
}
