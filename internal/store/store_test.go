package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/internal/testutil"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func model(t *testing.T, elem ...string) string {
	return testutil.Shared(t, append([]string{"testdata", "models"}, elem...)...)
}

// createFrom creates name from a Modelfile text in a temporary folder.
func createFrom(t *testing.T, s *Store, name, modelfile string, opts CreateOptions) []Progress {
	t.Helper()
	mf, err := ParseModelfile(strings.NewReader(modelfile))
	if err != nil {
		t.Fatal(err)
	}
	var events []Progress
	if err := s.Create(context.Background(), name, mf, opts, func(p Progress) { events = append(events, p) }); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return events
}

func blobCount(t *testing.T, s *Store) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Root, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "sha256-") {
			n++
		}
	}
	return n
}

func TestCreateShowCopyDelete(t *testing.T) {
	s := newStore(t)
	src := model(t, "stories260K.gguf")
	events := createFrom(t, s, "stories", "FROM "+src+`
PARAMETER temperature 0.3
PARAMETER stop "</s>"
SYSTEM You tell stories.
LICENSE MIT
`, CreateOptions{})
	if last := events[len(events)-1]; last.Status != "success" {
		t.Errorf("last event %+v, want success", last)
	}
	var sawWriting bool
	for _, e := range events {
		sawWriting = sawWriting || e.Status == "writing manifest"
	}
	if !sawWriting {
		t.Errorf("no \"writing manifest\" event in %+v", events)
	}

	// The model blob is the file, byte for byte.
	r, err := s.Resolve("stories")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(src)
	got, _ := os.ReadFile(r.ModelPath)
	if !bytes.Equal(got, want) {
		t.Fatal("stored model blob differs from the source file")
	}
	if r.System != "You tell stories." || r.Parameters["temperature"] != 0.3 || len(r.License) != 1 {
		t.Errorf("resolved %+v", r)
	}
	if stop, _ := r.Parameters["stop"].([]string); len(stop) != 1 || stop[0] != "</s>" {
		t.Errorf("stop = %v", r.Parameters["stop"])
	}

	// Show reports what the MANIFEST says about stories260K.
	si, err := s.Show("STORIES:latest", false)
	if err != nil {
		t.Fatal(err)
	}
	d := si.Details
	if d.Format != "gguf" || d.Family != "llama" || d.ParameterSize != "293K" || d.QuantizationLevel != "F32" {
		t.Errorf("details %+v", d)
	}
	if si.ContextLength() != 2048 || si.EmbeddingLength() != 64 {
		t.Errorf("context %d, embedding %d; want 2048, 64", si.ContextLength(), si.EmbeddingLength())
	}
	if si.ModelInfo["general.parameter_count"] != uint64(292800) {
		t.Errorf("parameter_count %v", si.ModelInfo["general.parameter_count"])
	}
	if v, ok := si.ModelInfo["tokenizer.ggml.tokens"]; !ok || v != nil {
		t.Errorf("tokens should be present and nil when not verbose, got %v", v)
	}
	if !strings.Contains(si.Parameters, `stop                           "</s>"`) || !strings.Contains(si.Parameters, "temperature                    0.3") {
		t.Errorf("parameters:\n%s", si.Parameters)
	}
	if !strings.Contains(si.Modelfile, "FROM "+r.ModelPath) || !strings.Contains(si.Modelfile, "SYSTEM You tell stories.") ||
		!strings.Contains(si.Modelfile, "# FROM stories:latest") {
		t.Errorf("modelfile:\n%s", si.Modelfile)
	}
	// The rendered Modelfile creates the same model again.
	createFrom(t, s, "stories-again", si.Modelfile, CreateOptions{})
	a, _ := s.Get("stories")
	b, _ := s.Get("stories-again")
	if !bytes.Equal(a.Raw, b.Raw) {
		t.Errorf("recreating from show --modelfile changed the manifest:\n%s\n%s", a.Raw, b.Raw)
	}
	if err := s.Delete("stories-again"); err != nil {
		t.Fatal(err)
	}

	// cp shares the blobs.
	before := blobCount(t, s)
	if err := s.Copy("stories", "other/stories-copy:v1"); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, s); n != before {
		t.Errorf("copy changed the blob count from %d to %d", before, n)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v, %v", list, err)
	}
	if list[0].Digest != list[1].Digest {
		t.Errorf("copies have different IDs %s and %s", list[0].ID(), list[1].ID())
	}

	// rm of one leaves the blobs the other uses; rm of the last removes them.
	if err := s.Delete("stories"); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, s); n != before {
		t.Errorf("rm of one copy removed shared blobs: %d -> %d", before, n)
	}
	if _, err := s.Resolve("other/stories-copy:v1"); err != nil {
		t.Errorf("the copy no longer resolves: %v", err)
	}
	if err := s.Delete("other/stories-copy:V1"); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, s); n != 0 {
		t.Errorf("%d blobs left after removing every model", n)
	}
	if err := s.Delete("stories"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting a missing model: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.Root, "manifests")); len(entries) != 0 {
		t.Errorf("empty manifest folders left: %v", entries)
	}
}

func TestCreateFromModelAndQuantize(t *testing.T) {
	s := newStore(t)
	createFrom(t, s, "base", "FROM "+model(t, "synthetic", "syn-llama-256-F32.gguf")+"\nPARAMETER temperature 0.5\nPARAMETER top_k 7\nTEMPLATE {{ .Prompt }}\n", CreateOptions{})
	events := createFrom(t, s, "derived:q4", "FROM base\nPARAMETER temperature 0.9\nSYSTEM hi\n", CreateOptions{Quantize: "q4_K_M"})
	var quantizing bool
	for _, e := range events {
		if e.Status == "quantizing F32 model to Q4_K_M" && e.Total > 0 && e.Completed == e.Total {
			quantizing = true
		}
	}
	if !quantizing {
		t.Errorf("no completed quantizing event in %+v", events)
	}
	r, err := s.Resolve("derived:q4")
	if err != nil {
		t.Fatal(err)
	}
	if r.Parameters["temperature"] != 0.9 || r.Parameters["top_k"] != 7 || r.Template != "{{ .Prompt }}" || r.System != "hi" {
		t.Errorf("derived model: %+v", r)
	}
	// The quantized blob is llama-quantize's Q4_K_M file, byte for byte.
	got, _ := os.ReadFile(r.ModelPath)
	want, _ := os.ReadFile(model(t, "synthetic", "syn-llama-256-Q4_K_M.gguf"))
	if !bytes.Equal(got, want) {
		t.Errorf("quantized model differs from syn-llama-256-Q4_K_M.gguf")
	}
	si, err := s.Show("derived:q4", false)
	if err != nil {
		t.Fatal(err)
	}
	d := si.Details
	if d.Family != "llama" || d.ParameterSize != "1.84M" || d.QuantizationLevel != "Q4_K_M" || d.ParentModel != "base:latest" {
		t.Errorf("details %+v", d)
	}
	f, err := gguf.Open(r.ModelPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if tt, _ := f.Tensor("output.weight"); tt == nil || tt.Type != tensor.Q6_K {
		t.Errorf("output.weight should be Q6_K in a Q4_K_M mix")
	}
	// The base keeps its own layers.
	base, err := s.Resolve("base")
	if err != nil || base.Parameters["temperature"] != 0.5 || base.System != "" {
		t.Errorf("base changed: %+v %v", base, err)
	}
}

func TestCreateErrors(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	notGGUF := filepath.Join(dir, "x.gguf")
	os.WriteFile(notGGUF, []byte("not a gguf file at all"), 0o644)
	cases := map[string]string{
		"FROM " + notGGUF:     "gguf",
		"FROM ./missing.gguf": "no such file",
		"FROM nosuchmodel":    "no such model",
		"FROM " + model(t, "stories260K.gguf") + "\nADAPTER ./lora.gguf": "ADAPTER is not supported",
		"FROM " + t.TempDir(): "folder",
	}
	for src, want := range cases {
		mf, err := ParseModelfile(strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		err = s.Create(context.Background(), "x", mf, CreateOptions{Dir: dir}, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("create from %q: %v, want an error containing %q", src, err, want)
		}
	}
	mf, _ := ParseModelfile(strings.NewReader("FROM " + model(t, "synthetic", "syn-llama-256-Q8_0.gguf")))
	err := s.Create(context.Background(), "x", mf, CreateOptions{Quantize: "q4_0"}, nil)
	if err == nil || !strings.Contains(err.Error(), "only F32, F16 and BF16") {
		t.Errorf("quantizing a Q8_0 model: %v", err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("failed creates left models: %v", list)
	}
}

func TestWriteManifestRefusesMissingBlobs(t *testing.T) {
	s := newStore(t)
	d, size, err := s.WriteBlob(strings.NewReader("template"))
	if err != nil {
		t.Fatal(err)
	}
	missing := DigestOf([]byte("never stored"))
	raw := []byte(`{"schemaVersion":2,"mediaType":"` + MediaTypeManifest + `","config":{"mediaType":"` + MediaTypeConfig + `","digest":"` + missing + `","size":12},"layers":[{"mediaType":"` + MediaTypeTemplate + `","digest":"` + d + `","size":` + strconv.FormatInt(size, 10) + `}]}`)
	n, _ := ParseName("m")
	if err := s.WriteManifest(n, raw); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("manifest with a missing blob: %v", err)
	}
	if _, err := s.Get("m"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a manifest was written: %v", err)
	}
	if err := s.PutBlob(missing, strings.NewReader("other bytes")); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Errorf("PutBlob with wrong bytes: %v", err)
	}
	if s.HasBlob(missing, -1) {
		t.Error("a blob with the wrong bytes was stored")
	}
	if err := s.PutBlob(missing, strings.NewReader("never stored")); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteManifest(n, raw); err != nil {
		t.Errorf("manifest after its blobs arrived: %v", err)
	}
}

func TestCaseInsensitiveLookup(t *testing.T) {
	s := newStore(t)
	createFrom(t, s, "Example.com/Some/Model:Tag", "FROM "+model(t, "stories260K.gguf"), CreateOptions{})
	m, err := s.Get("example.com/some/model:tag")
	if err != nil {
		t.Fatal(err)
	}
	if m.Name.String() != "Example.com/Some/Model:Tag" {
		t.Errorf("stored name %s", m.Name)
	}
	// Writing with another case updates the same manifest.
	if err := s.Copy("example.com/some/model:tag", "EXAMPLE.COM/some/MODEL:TAG"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(); len(list) != 1 {
		t.Errorf("%d models after a copy onto the same name in another case", len(list))
	}
}

func TestResolvePlainFile(t *testing.T) {
	s := newStore(t)
	p := model(t, "stories260K.gguf")
	r, err := s.Resolve(p)
	if err != nil || r.ModelPath != p {
		t.Fatalf("Resolve(%s) = %+v, %v", p, r, err)
	}
	if _, err := s.Resolve("nothing-here"); err == nil || !strings.Contains(err.Error(), "golem pull") {
		t.Errorf("resolving a missing model: %v", err)
	}
}

func TestHumanFormats(t *testing.T) {
	for n, want := range map[uint64]string{8030261248: "8.0B", 8000000000: "8B", 494032768: "494.03M", 1836288: "1.84M", 292800: "293K", 999: "999"} {
		if got := HumanNumber(n); got != want {
			t.Errorf("HumanNumber(%d) = %s, want %s", n, got, want)
		}
	}
	for n, want := range map[int64]string{4661224676: "4.7 GB", 2000000000: "2 GB", 12345678: "12 MB", 1185376: "1.2 MB", 487: "487 B"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestPrune(t *testing.T) {
	s := newStore(t)
	createFrom(t, s, "m", "FROM "+model(t, "stories260K.gguf"), CreateOptions{})
	orphan, _, _ := s.WriteBlob(strings.NewReader("orphan"))
	os.WriteFile(filepath.Join(s.Root, "blobs", ".tmp-leftover"), nil, 0o644)
	partial := filepath.Join(s.Root, "blobs", "sha256-"+strings.Repeat("a", 64)+"-partial")
	os.WriteFile(partial, nil, 0o644)
	n, err := s.Prune(false)
	if err != nil || n != 2 {
		t.Errorf("Prune removed %d, %v; want 2 (orphan, temp file)", n, err)
	}
	if s.HasBlob(orphan, -1) {
		t.Error("orphan blob kept")
	}
	if _, err := os.Stat(partial); err != nil {
		t.Error("partial download removed without partials=true")
	}
	if _, err := s.Resolve("m"); err != nil {
		t.Errorf("prune broke a model: %v", err)
	}
}

func TestVerifyAndRepair(t *testing.T) {
	s := newStore(t)
	d, _, err := s.WriteBlob(strings.NewReader("good bytes"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.BlobPath(d)
	os.WriteFile(p, []byte("bad"), 0o644)
	bad, err := s.Verify(false)
	if err != nil || len(bad) != 1 || bad[0] != d {
		t.Fatalf("Verify = %v, %v", bad, err)
	}
	// Writing the right bytes again replaces the damaged copy.
	if _, _, err := s.WriteBlob(strings.NewReader("good bytes")); err != nil {
		t.Fatal(err)
	}
	if bad, _ := s.Verify(true); len(bad) != 0 {
		t.Errorf("still damaged: %v", bad)
	}
}

// TestPutBlobMismatchKeepsStoredBlob uploads bytes that are already stored
// (by no manifest yet) under a wrong digest: the upload fails and the
// stored blob stays.
func TestPutBlobMismatchKeepsStoredBlob(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("an uploaded blob no manifest names yet")
	d, _, err := s.WriteBlob(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	wrong := "sha256:" + strings.Repeat("0", 64)
	if err := s.PutBlob(wrong, bytes.NewReader(data)); err == nil {
		t.Fatal("upload under the wrong digest accepted")
	}
	if !s.HasBlob(d, int64(len(data))) {
		t.Fatalf("the stored blob %s was removed by a failed upload", d)
	}
	if s.HasBlob(wrong, -1) {
		t.Fatalf("a blob was stored under the wrong digest")
	}
	if err := s.PutBlob(d, bytes.NewReader(data)); err != nil {
		t.Fatalf("upload under the right digest: %v", err)
	}
}
