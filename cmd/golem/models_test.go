package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/registry"
	"github.com/golem-llm/golem/internal/registry/registrytest"
	"github.com/golem-llm/golem/internal/store"
	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/internal/testutil"
)

// golemCmd runs Main with a private model store and returns its output.
func golemCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func useStore(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "models")
	t.Setenv("GOLEM_MODELS", dir)
	t.Setenv("GOLEM_REGISTRY_MIRROR", "")
	t.Setenv("HF_ENDPOINT", "")
	t.Setenv("HF_TOKEN", "")
	return dir
}

func writeModelfile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "Modelfile")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := golemCmd(t, args...)
	if code != 0 {
		t.Fatalf("golem %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// TestModelCommands drives create, list, show, cp and rm as a user would.
func TestModelCommands(t *testing.T) {
	root := useStore(t)
	src := testutil.Shared(t, "testdata", "models", "stories260K.gguf")
	mf := writeModelfile(t, "FROM "+src+"\nPARAMETER temperature 0.4\nPARAMETER stop \"</s>\"\nSYSTEM Tell a story.\nLICENSE \"\"\"MIT License\nCopyright (c) Andrej Karpathy\"\"\"\n")
	_, errs, code := golemCmd(t, "create", "stories", "-f", mf)
	if code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	for _, want := range []string{"gathering model components", "writing manifest", "success"} {
		if !strings.Contains(errs, want) {
			t.Errorf("create progress lacks %q:\n%s", want, errs)
		}
	}

	out := mustRun(t, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "ID") || !strings.Contains(lines[0], "MODIFIED") {
		t.Fatalf("list:\n%s", out)
	}
	f := strings.Fields(lines[1])
	if f[0] != "stories:latest" || len(f[1]) != 12 || f[2]+" "+f[3] != "1.2 MB" || !strings.HasSuffix(lines[1], "ago") {
		t.Errorf("list row %q", lines[1])
	}

	out = mustRun(t, "show", "stories")
	for _, want := range []string{"  Model\n", "architecture        llama", "parameters          293K", "context length      2048",
		"embedding length    64", "quantization        F32", "  Parameters\n", `stop           "</s>"`, "temperature    0.4",
		"  System\n    Tell a story.", "  License\n    MIT License\n    Copyright (c) Andrej Karpathy"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if out := mustRun(t, "show", "stories", "--system"); out != "Tell a story.\n" {
		t.Errorf("show --system: %q", out)
	}
	if out := mustRun(t, "show", "stories", "--license"); !strings.HasPrefix(out, "MIT License\n") {
		t.Errorf("show --license: %q", out)
	}
	if out := mustRun(t, "show", "stories", "--parameters"); !strings.Contains(out, "temperature                    0.4") {
		t.Errorf("show --parameters: %q", out)
	}
	if out := mustRun(t, "show", "stories", "--modelfile"); !strings.Contains(out, "FROM "+filepath.Join(root, "blobs", "sha256-")) || !strings.Contains(out, "PARAMETER temperature 0.4") {
		t.Errorf("show --modelfile:\n%s", out)
	}

	if out := mustRun(t, "cp", "stories", "me/stories:v2"); out != "copied 'stories' to 'me/stories:v2'\n" {
		t.Errorf("cp: %q", out)
	}
	blobs := func() int {
		entries, _ := os.ReadDir(filepath.Join(root, "blobs"))
		return len(entries)
	}
	n := blobs()
	if out := mustRun(t, "rm", "stories"); out != "deleted 'stories'\n" {
		t.Errorf("rm: %q", out)
	}
	if blobs() != n {
		t.Errorf("rm removed blobs the copy uses")
	}
	if out := mustRun(t, "ls"); !strings.Contains(out, "me/stories:v2") || strings.Contains(out, "\nstories:latest") {
		t.Errorf("list after rm:\n%s", out)
	}
	_, errs, code = golemCmd(t, "rm", "stories")
	if code == 0 || errs != "Error: model 'stories' not found\n" {
		t.Errorf("rm of a missing model: %d %q", code, errs)
	}
	_, errs, code = golemCmd(t, "show", "nothing")
	if code == 0 || !strings.HasPrefix(errs, "Error: ") {
		t.Errorf("show of a missing model: %d %q", code, errs)
	}
	_, errs, code = golemCmd(t, "create", "x", "-f", writeModelfile(t, "FROM x\nPARAMETER bogus 1\n"))
	if code == 0 || !strings.Contains(errs, `unknown parameter "bogus"`) {
		t.Errorf("bad Modelfile: %d %q", code, errs)
	}
}

// TestCreateQuantizeCommand quantizes the synthetic F32 model from the CLI
// and checks the result against llama-quantize's file.
func TestCreateQuantizeCommand(t *testing.T) {
	root := useStore(t)
	src := testutil.Shared(t, "testdata", "models", "synthetic", "syn-llama-256-F32.gguf")
	mf := writeModelfile(t, "FROM "+src+"\n")
	_, errs, code := golemCmd(t, "create", "syn:q4_K_M", "-f", mf, "--quantize", "q4_K_M")
	if code != 0 {
		t.Fatalf("create --quantize: %d %s", code, errs)
	}
	if !strings.Contains(errs, "quantizing F32 model to Q4_K_M") {
		t.Errorf("no quantizing progress:\n%s", errs)
	}
	out := mustRun(t, "show", "syn:q4_K_M")
	if !strings.Contains(out, "quantization        Q4_K_M") || !strings.Contains(out, "parameters          1.84M") {
		t.Errorf("show:\n%s", out)
	}
	st, _ := store.New(root)
	r, err := st.Resolve("syn:q4_K_M")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(r.ModelPath)
	want, _ := os.ReadFile(testutil.Shared(t, "testdata", "models", "synthetic", "syn-llama-256-Q4_K_M.gguf"))
	if !bytes.Equal(got, want) {
		t.Error("created model differs from syn-llama-256-Q4_K_M.gguf")
	}
	_, errs, code = golemCmd(t, "create", "x", "-f", mf, "--quantize", "q9")
	if code == 0 || !strings.Contains(errs, "unsupported quantization type") {
		t.Errorf("bad --quantize: %d %q", code, errs)
	}
}

// TestPullThenRun pulls stories260K through the test registry (token
// auth, blob redirects) and runs it by name. The model's stored
// num_predict applies when --num-predict is not given.
func TestPullThenRun(t *testing.T) {
	useStore(t)
	srv := registrytest.New(t, registrytest.Options{Auth: true, Redirect: true})
	if _, err := srv.AddModel("library/stories", "latest", registrytest.Model{
		GGUF: testutil.Shared(t, "testdata", "models", "stories260K.gguf"), Params: map[string]any{"num_predict": 3},
	}); err != nil {
		t.Fatal(err)
	}
	name := srv.Host + "/library/stories"
	_, errs, code := golemCmd(t, "pull", "--insecure", name)
	if code != 0 {
		t.Fatalf("pull: %d %s", code, errs)
	}
	for _, want := range []string{"pulling manifest\n", "pulling 270cba1bd510... 100% 1.2 MB\n", "verifying sha256 digest\n", "writing manifest\n", "success\n"} {
		if !strings.Contains(errs, want) {
			t.Errorf("pull output lacks %q:\n%s", want, errs)
		}
	}
	out := mustRun(t, "run", name, "Once upon a time", "--temperature", "0", "--num-predict", "8")
	if !strings.HasPrefix(out, ", there was a little girl") {
		t.Errorf("run %s printed %q", name, out)
	}
	short := mustRun(t, "run", name, "Once upon a time", "--temperature", "0")
	if len(short) >= len(out) || !strings.HasPrefix(out, strings.TrimSuffix(short, "\n")) {
		t.Errorf("with the stored num_predict 3: %q (8 tokens: %q)", short, out)
	}
	_, errs, code = golemCmd(t, "run", "no-such-model", "hi")
	if code == 0 || !strings.Contains(errs, "golem pull") {
		t.Errorf("run of an unknown name: %d %q", code, errs)
	}
}

// buildGolem builds the binary once per test run.
func buildGolem(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "golem")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(testutil.RepoRoot(t), "cmd", "golem")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeBigModel writes a valid GGUF holding one random F32 tensor.
func writeBigModel(t *testing.T, mb int) string {
	t.Helper()
	n := mb << 20 / 4
	data := make([]byte, n*4)
	rand.Read(data)
	for i := 3; i < len(data); i += 4 {
		data[i] &= 0xbf // finite values
	}
	path := filepath.Join(t.TempDir(), "big.gguf")
	kvs := []gguf.KV{{Key: "general.architecture", Value: "llama"}}
	if err := gguf.WriteFile(path, kvs, []gguf.WriteTensor{{Name: "big.weight", Dims: []uint64{1024, uint64(n / 1024)}, Type: tensor.F32, Data: data}}); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPullResumesAfterKill starts `golem pull` as a process, kills it in
// the middle of a large throttled blob, starts it again and checks that
// the second run fetched only the rest and ended with a verified blob.
// It also checks that HTTP_PROXY and NO_PROXY are honoured.
func TestPullResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Log("short mode: the resume test still runs; it takes a few seconds")
	}
	bin := buildGolem(t)
	models := filepath.Join(t.TempDir(), "models")
	srv := registrytest.New(t, registrytest.Options{Auth: true, Redirect: true, Throttle: 8 << 20})
	big := writeBigModel(t, 32)
	raw, err := srv.AddModel("library/big", "latest", registrytest.Model{GGUF: big})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := store.ParseManifest(raw)
	ml, _ := m.Layer(store.MediaTypeModel)
	name := srv.Host + "/library/big"
	env := append(os.Environ(), "GOLEM_MODELS="+models, "GOLEM_REGISTRY_MIRROR=", "HF_ENDPOINT=")

	cmd := exec.Command(bin, "pull", "--insecure", name)
	cmd.Env = env
	var firstOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &firstOut, &firstOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for srv.BytesServed(ml.Digest) < ml.Size/3 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the pull did not get a third of the blob in 30 s:\n%s", firstOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// Let the server notice the dead connection before counting.
	first := srv.BytesServed(ml.Digest)
	for i := 0; i < 50; i++ {
		time.Sleep(20 * time.Millisecond)
		if n := srv.BytesServed(ml.Digest); n == first {
			break
		} else {
			first = n
		}
	}
	st, err := store.New(models)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := registry.Partials(st)
	if err != nil {
		t.Fatal(err)
	}
	done := parts[ml.Digest][0]
	if done <= 0 || done >= ml.Size {
		t.Fatalf("after the kill the partial download records %d of %d bytes", done, ml.Size)
	}
	if st.HasBlob(ml.Digest, -1) {
		t.Fatal("the blob was committed before it was complete")
	}

	srv.ResetStats()
	srv.SetThrottle(64 << 20)
	cmd = exec.Command(bin, "pull", "--insecure", name)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("second pull: %v\n%s", err, out)
	}
	second := srv.BytesServed(ml.Digest)
	t.Logf("blob of %d bytes: first run served %d (recorded %d), second run served %d", ml.Size, first, done, second)
	if second != ml.Size-done {
		t.Errorf("the second run fetched %d bytes; %d remained", second, ml.Size-done)
	}
	if !strings.Contains(string(out), "verifying sha256 digest") || !strings.HasSuffix(string(out), "success\n") {
		t.Errorf("second run output:\n%s", out)
	}
	p, _ := st.BlobPath(ml.Digest)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	io.Copy(h, f)
	f.Close()
	if "sha256:"+hex.EncodeToString(h.Sum(nil)) != ml.Digest {
		t.Error("the committed blob does not match its digest")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(models, "blobs", "*partial*")); len(leftovers) > 0 {
		t.Errorf("partial files left: %v", leftovers)
	}
	if _, err := st.Get(name); err != nil {
		t.Errorf("no manifest after the resumed pull: %v", err)
	}

	// HTTP_PROXY: a registry host that only the proxy can reach.
	var proxied atomic.Int64
	target, _ := http.NewRequest("GET", srv.URL, nil)
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		proxied.Add(1)
		r.Out.URL.Scheme, r.Out.URL.Host = "http", target.URL.Host
		r.Out.Host = target.URL.Host
	}})
	defer proxy.Close()
	srv.SetThrottle(0)
	if _, err := srv.AddModel("library/small", "latest", registrytest.Model{GGUF: testutil.Shared(t, "testdata", "models", "stories260K.gguf")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd = exec.CommandContext(ctx, bin, "pull", "--insecure", "registry.test/library/small")
	cmd.Env = append(env, "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	if out, err := cmd.CombinedOutput(); err != nil || proxied.Load() == 0 {
		t.Errorf("pull through HTTP_PROXY: %v (%d proxied requests)\n%s", err, proxied.Load(), out)
	}
	before := proxied.Load()
	cmd = exec.CommandContext(ctx, bin, "pull", "--insecure", "registry.test/library/small:other")
	cmd.Env = append(env, "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=registry.test", "no_proxy=registry.test")
	if out, err := cmd.CombinedOutput(); err == nil || proxied.Load() != before {
		t.Errorf("with NO_PROXY the request still went through the proxy: %v\n%s", err, out)
	}
}
