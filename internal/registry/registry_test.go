package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/registry/registrytest"
	"github.com/golem-llm/golem/internal/runner"
	"github.com/golem-llm/golem/internal/store"
	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/internal/testutil"
)

func sharedModel(t *testing.T, name string) string {
	return testutil.Shared(t, "testdata", "models", name)
}

// newClient returns a client for a fresh store, tuned to retry quickly.
func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	st, err := store.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Insecure = true
	c := New(st, cfg)
	c.RetryBase = 5 * time.Millisecond
	c.MaxBackoff = 50 * time.Millisecond
	c.StallTimeout = 500 * time.Millisecond
	c.ProgressInterval = 20 * time.Millisecond
	c.Logf = t.Logf
	return c
}

// recorder collects progress events.
type recorder struct {
	mu     sync.Mutex
	events []store.Progress
}

func (r *recorder) fn(p store.Progress) {
	r.mu.Lock()
	r.events = append(r.events, p)
	r.mu.Unlock()
}

func (r *recorder) statuses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if len(out) == 0 || out[len(out)-1] != e.Status {
			out = append(out, e.Status)
		}
	}
	return out
}

// checkStore asserts the store invariants: every blob file hashes to its
// name, and every manifest's blobs are present with their sizes.
func checkStore(t *testing.T, st *store.Store) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(st.Root, "blobs"))
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "sha256-") || strings.Contains(name, "-partial") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(st.Root, "blobs", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := store.DigestOf(data); got != strings.Replace(name, "-", ":", 1) {
			t.Errorf("corrupt blob in the store: %s holds %s", name, got)
		}
	}
	list, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list {
		for _, l := range m.Manifest.Blobs() {
			if !st.HasBlob(l.Digest, l.Size) {
				t.Errorf("manifest %s names missing blob %s", m.Name, l.Digest)
			}
		}
	}
}

func publishStories(t *testing.T, srv *registrytest.Server, repo, tag string) []byte {
	t.Helper()
	raw, err := srv.AddModel(repo, tag, registrytest.Model{
		GGUF: sharedModel(t, "stories260K.gguf"), Template: "{{ .Prompt }}",
		Params: map[string]any{"temperature": 0.2, "stop": []string{"</s>"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestPullWithAuthAndRedirect(t *testing.T) {
	srv := registrytest.New(t, registrytest.Options{Auth: true, Redirect: true})
	raw := publishStories(t, srv, "library/stories", "latest")
	c := newClient(t, Config{})
	var rec recorder
	name := srv.Host + "/library/stories"
	if err := c.Pull(context.Background(), name, rec.fn); err != nil {
		t.Fatal(err)
	}
	// The events, in Ollama's order and wording.
	st := rec.statuses()
	m, _ := store.ParseManifest(raw)
	want := []string{"pulling manifest"}
	for _, l := range m.Blobs() {
		want = append(want, "pulling "+l.Digest[7:19])
	}
	want = append(want, "verifying sha256 digest", "writing manifest", "success")
	if strings.Join(st, "|") != strings.Join(want, "|") {
		t.Errorf("statuses\n%q\nwant\n%q", st, want)
	}
	for _, l := range m.Blobs() {
		var last store.Progress
		for _, e := range rec.events {
			if e.Digest == l.Digest {
				last = e
				if e.Total != l.Size || e.Completed > e.Total {
					t.Errorf("event %+v for a blob of %d bytes", e, l.Size)
				}
			}
		}
		if last.Completed != l.Size {
			t.Errorf("last event for %s: %+v", l.Digest, last)
		}
	}
	if leaks := srv.Leaks(); len(leaks) > 0 {
		t.Errorf("credentials sent to the blob host: %v", leaks)
	}
	if srv.Requests("token") == 0 || srv.Requests("blobhost") == 0 {
		t.Errorf("token requests %d, blob host requests %d: auth or redirect not exercised", srv.Requests("token"), srv.Requests("blobhost"))
	}
	checkStore(t, c.Store)

	// The stored model is the same manifest and the same file, and loads.
	sm, err := c.Store.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sm.Raw, raw) {
		t.Error("stored manifest differs from the registry's")
	}
	r, err := c.Store.Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(r.ModelPath)
	orig, _ := os.ReadFile(sharedModel(t, "stories260K.gguf"))
	if !bytes.Equal(got, orig) {
		t.Fatal("pulled model differs from the published file")
	}
	if r.Template != "{{ .Prompt }}" || r.Parameters["temperature"] != 0.2 {
		t.Errorf("resolved %+v", r)
	}
	l, err := runner.LoadFile(r.ModelPath, 1)
	if err != nil {
		t.Fatalf("the pulled model does not load: %v", err)
	}
	if ids := l.Tokenizer.Encode("Once upon a time", true, false); len(ids) != 5 {
		t.Errorf("prompt tokenized to %v", ids)
	}
	l.Close()

	// A second pull downloads nothing.
	srv.ResetStats()
	var rec2 recorder
	if err := c.Pull(context.Background(), name, rec2.fn); err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Blobs() {
		if n := srv.BytesServed(l.Digest); n != 0 {
			t.Errorf("second pull downloaded %d bytes of %s", n, l.Digest)
		}
	}
	if s := rec2.statuses(); s[len(s)-1] != "success" {
		t.Errorf("second pull: %v", s)
	}
}

// TestPullFaults pulls through injected faults: each either recovers or
// fails with a clear error, and the store stays consistent.
func TestPullFaults(t *testing.T) {
	type setup func(srv *registrytest.Server, model, tmpl string)
	cases := []struct {
		name    string
		setup   setup
		wantErr string // "" means the pull must recover
	}{
		{"connection dropped mid-blob", func(srv *registrytest.Server, model, _ string) {
			srv.SetFault(model, registrytest.Fault{DropAfter: 300 << 10, Times: 3})
		}, ""},
		{"stalled transfer", func(srv *registrytest.Server, model, _ string) {
			srv.SetFault(model, registrytest.Fault{StallAfter: 200 << 10, Times: 2})
		}, ""},
		{"5xx bursts", func(srv *registrytest.Server, model, _ string) {
			srv.FailNext("manifest", 503, 2)
			srv.FailNext("token", 502, 2)
			srv.FailNext("blob", 500, 2)
			srv.FailNext("blobhost", 503, 3)
		}, ""},
		{"wrong bytes once", func(srv *registrytest.Server, model, _ string) {
			srv.SetFault(model, registrytest.Fault{Corrupt: true, Times: 1})
		}, ""},
		{"wrong bytes always", func(srv *registrytest.Server, model, _ string) {
			srv.SetFault(model, registrytest.Fault{Corrupt: true})
		}, "digest mismatch"},
		{"manifest names a missing blob", func(srv *registrytest.Server, _, tmpl string) {
			srv.RemoveBlob(tmpl)
		}, "missing from the registry"},
		{"blob host always failing", func(srv *registrytest.Server, model, _ string) {
			srv.SetFault(model, registrytest.Fault{Status: 500})
		}, "giving up"},
		{"unknown model", func(srv *registrytest.Server, _, _ string) {}, "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := registrytest.New(t, registrytest.Options{Auth: true, Redirect: true})
			raw := publishStories(t, srv, "library/stories", "latest")
			m, _ := store.ParseManifest(raw)
			model, _ := m.Layer(store.MediaTypeModel)
			tmpl, _ := m.Layer(store.MediaTypeTemplate)
			tc.setup(srv, model.Digest, tmpl.Digest)
			c := newClient(t, Config{})
			name := srv.Host + "/library/stories"
			if tc.name == "unknown model" {
				name = srv.Host + "/library/nothing"
			}
			var rec recorder
			err := c.Pull(context.Background(), name, rec.fn)
			checkStore(t, c.Store)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("pull did not recover: %v", err)
				}
				r, err := c.Store.Resolve(name)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(r.ModelPath)
				orig, _ := os.ReadFile(sharedModel(t, "stories260K.gguf"))
				if !bytes.Equal(got, orig) {
					t.Error("recovered pull stored different bytes")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
			t.Logf("error: %v", err)
			if _, err := c.Store.Get(name); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a failed pull left a manifest: %v", err)
			}
			if c.Store.HasBlob(model.Digest, -1) && tc.name == "wrong bytes always" {
				t.Error("the blob with wrong bytes was stored")
			}
		})
	}
}

// writeBigGGUF writes a valid GGUF with one random F32 tensor of about
// mb megabytes.
func writeBigGGUF(t testing.TB, dir string, mb int) string {
	t.Helper()
	n := mb << 20 / 4
	data := make([]byte, n*4)
	rand.Read(data)
	// Keep the values finite: clear each float's top exponent bit.
	for i := 3; i < len(data); i += 4 {
		data[i] &= 0xbf
	}
	path := filepath.Join(dir, "big.gguf")
	kvs := []gguf.KV{{Key: "general.architecture", Value: "llama"}, {Key: "general.name", Value: "big"}}
	if err := gguf.WriteFile(path, kvs, []gguf.WriteTensor{{Name: "big.weight", Dims: []uint64{uint64(n / 1024), 1024}, Type: tensor.F32, Data: data}}); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPullResumesInProcess cancels a throttled pull in the middle of a
// blob and pulls again: the second pull fetches only the rest.
func TestPullResumesInProcess(t *testing.T) {
	srv := registrytest.New(t, registrytest.Options{Redirect: true, Throttle: 8 << 20})
	big := writeBigGGUF(t, t.TempDir(), 4)
	raw, err := srv.AddModel("library/big", "latest", registrytest.Model{GGUF: big})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := store.ParseManifest(raw)
	ml, _ := m.Layer(store.MediaTypeModel)
	c := newClient(t, Config{})
	c.MinPartSize = 1 << 20
	c.MaxParts = 3
	name := srv.Host + "/library/big"

	ctx, cancel := context.WithCancel(context.Background())
	err = c.Pull(ctx, name, func(p store.Progress) {
		if p.Digest == ml.Digest && p.Completed > ml.Size/3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted pull: %v", err)
	}
	// Let the server notice the closed connections before counting.
	first := waitQuiet(srv, ml.Digest)
	parts, _ := Partials(c.Store)
	done := parts[ml.Digest][0]
	if done == 0 || done >= ml.Size {
		t.Fatalf("partial download records %d of %d bytes", done, ml.Size)
	}
	srv.ResetStats()
	if err := c.Pull(context.Background(), name, nil); err != nil {
		t.Fatal(err)
	}
	second := srv.BytesServed(ml.Digest)
	t.Logf("blob %d bytes: first pull served %d, recorded %d; second pull served %d", ml.Size, first, done, second)
	if second != ml.Size-done {
		t.Errorf("resumed pull fetched %d bytes, want the %d remaining", second, ml.Size-done)
	}
	checkStore(t, c.Store)
	if parts, _ := Partials(c.Store); len(parts) != 0 {
		t.Errorf("partial downloads left: %v", parts)
	}
}

// waitQuiet waits until the server stops sending a blob and returns the
// bytes it served.
func waitQuiet(srv *registrytest.Server, digest string) int64 {
	last := srv.BytesServed(digest)
	for i := 0; i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
		n := srv.BytesServed(digest)
		if n == last {
			return n
		}
		last = n
	}
	return last
}

// TestPullParallelParts checks a blob fetched in several ranged parts.
func TestPullParallelParts(t *testing.T) {
	srv := registrytest.New(t, registrytest.Options{Redirect: true})
	big := writeBigGGUF(t, t.TempDir(), 3)
	raw, err := srv.AddModel("library/big", "latest", registrytest.Model{GGUF: big})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := store.ParseManifest(raw)
	ml, _ := m.Layer(store.MediaTypeModel)
	srv.SetFault(ml.Digest, registrytest.Fault{DropAfter: 100 << 10, Times: 2})
	c := newClient(t, Config{})
	c.MinPartSize = 512 << 10
	c.MaxParts = 4
	if err := c.Pull(context.Background(), srv.Host+"/library/big", nil); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests("blobhost"); n < 4 {
		t.Errorf("%d blob host requests; want at least one per part", n)
	}
	if served := srv.BytesServed(ml.Digest); served > ml.Size+200<<10 {
		t.Errorf("served %d bytes for a %d-byte blob", served, ml.Size)
	}
	checkStore(t, c.Store)
}

// TestConcurrentPulls pulls one model twice at once: both succeed and
// the blob is downloaded once.
func TestConcurrentPulls(t *testing.T) {
	srv := registrytest.New(t, registrytest.Options{Throttle: 4 << 20})
	publishStories(t, srv, "library/stories", "latest")
	c := newClient(t, Config{})
	name := srv.Host + "/library/stories"
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = c.Pull(context.Background(), name, nil)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := srv.Manifest("library/stories", "latest")
	m, _ := store.ParseManifest(raw)
	ml, _ := m.Layer(store.MediaTypeModel)
	// One download, plus the one-byte probe that finds where the blob is.
	if n := srv.BytesServed(ml.Digest); n > ml.Size+1 {
		t.Errorf("served %d bytes of a %d-byte blob to two concurrent pulls", n, ml.Size)
	}
	checkStore(t, c.Store)
}

// TestMirrorAndHFEndpoint redirects pulls through GOLEM_REGISTRY_MIRROR
// and HF_ENDPOINT; names keep their own host in the store.
func TestMirrorAndHFEndpoint(t *testing.T) {
	srv := registrytest.New(t, registrytest.Options{Auth: true, Redirect: true})
	publishStories(t, srv, "library/stories", "latest")
	publishStories(t, srv, "someone/Stories-GGUF", "Q8_0")
	publishStories(t, srv, "someone/private-GGUF", "latest")
	srv.SetPrivate("someone/private-GGUF", "hf_secret")

	t.Setenv("GOLEM_REGISTRY_MIRROR", srv.URL)
	t.Setenv("HF_ENDPOINT", srv.URL+"/")
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	cfg, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cfg)
	c.Config.Insecure = false // the mirror URL carries its scheme
	for _, name := range []string{"stories", "hf.co/someone/Stories-GGUF:Q8_0", "huggingface.co/someone/stories-gguf:q8_0"} {
		if err := c.Pull(context.Background(), name, nil); err != nil {
			t.Fatalf("pull %s: %v", name, err)
		}
	}
	list, _ := c.Store.List()
	var names []string
	for _, m := range list {
		names = append(names, m.Name.String())
	}
	want := map[string]bool{"registry.ollama.ai/library/stories:latest": true, "hf.co/someone/Stories-GGUF:Q8_0": true}
	if len(names) != 2 || !want[names[0]] || !want[names[1]] {
		t.Errorf("stored names %v, want %v", names, want)
	}
	if _, err := c.Store.Resolve("hf.co/someone/stories-gguf:Q8_0"); err != nil {
		t.Error(err)
	}

	// A private repository needs HF_TOKEN.
	err = c.Pull(context.Background(), "hf.co/someone/private-GGUF", nil)
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("private repo without a token: %v", err)
	}
	t.Setenv("HF_TOKEN", "hf_secret")
	cfg, _ = ConfigFromEnv()
	c.Config = cfg
	if err := c.Pull(context.Background(), "hf.co/someone/private-GGUF", nil); err != nil {
		t.Errorf("private repo with HF_TOKEN: %v", err)
	}
	if leaks := srv.Leaks(); len(leaks) > 0 {
		t.Errorf("credentials sent to the blob host: %v", leaks)
	}
	checkStore(t, c.Store)

	if _, err := ParseMirrors("ftp://x"); err == nil {
		t.Error("a non-http mirror was accepted")
	}
	if m, err := ParseMirrors("registry.ollama.ai=https://a.example, example.com=http://b.example/"); err != nil || m["example.com"] != "http://b.example" {
		t.Errorf("ParseMirrors: %v %v", m, err)
	}
}

// TestPush pushes a created model with chunked uploads and credentials,
// pulls it back elsewhere, and checks mounts and existing blobs.
func TestPush(t *testing.T) {
	srv := registrytest.New(t, registrytest.Options{Auth: true, PushCredentials: "alice:pw"})
	publishStories(t, srv, "library/stories", "latest")
	c := newClient(t, Config{Username: "alice", Password: "pw"})
	c.ChunkSize = 256 << 10
	base := srv.Host + "/library/stories"
	if err := c.Pull(context.Background(), base, nil); err != nil {
		t.Fatal(err)
	}
	mf, err := store.ParseModelfile(strings.NewReader("FROM " + base + "\nSYSTEM You are a storyteller.\nPARAMETER temperature 0.8\n"))
	if err != nil {
		t.Fatal(err)
	}
	target := srv.Host + "/alice/teller:v1"
	if err := c.Store.Create(context.Background(), target, mf, store.CreateOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	srv.FailNext("upload", 500, 1)
	var rec recorder
	if err := c.Push(context.Background(), target, rec.fn); err != nil {
		t.Fatal(err)
	}
	st := rec.statuses()
	if st[0] != "retrieving manifest" || st[len(st)-2] != "pushing manifest" || st[len(st)-1] != "success" {
		t.Errorf("statuses %q", st)
	}
	// The model blob came from library/stories: mounted, not uploaded.
	if srv.Requests("mount") == 0 {
		t.Error("the base model's blob was not mounted")
	}
	pushed, ok := srv.Manifest("alice/teller", "v1")
	local, _ := c.Store.Get(target)
	if !ok || !bytes.Equal(pushed, local.Raw) {
		t.Fatal("the registry's manifest differs from the pushed one")
	}

	// Pull it into another store.
	c2 := newClient(t, Config{})
	if err := c2.Pull(context.Background(), target, nil); err != nil {
		t.Fatal(err)
	}
	r, err := c2.Store.Resolve(target)
	if err != nil || r.System != "You are a storyteller." {
		t.Fatalf("pulled back %+v, %v", r, err)
	}
	checkStore(t, c2.Store)

	// Pushing again uploads nothing.
	before := srv.Requests("upload")
	if err := c.Push(context.Background(), target, nil); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests("upload"); n != before {
		t.Errorf("second push made %d upload requests", n-before)
	}

	// Without credentials the push is refused clearly.
	c3 := newClient(t, Config{})
	c3.Store = c.Store
	err = c3.Push(context.Background(), target, nil)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "push needs credentials") {
		t.Errorf("push without credentials: %v", err)
	}
}

func TestParseChallenge(t *testing.T) {
	ch := parseChallenge(`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"`)
	if ch.scheme != "bearer" || ch.params["realm"] != "https://auth.example/token" || ch.params["service"] != "registry.example" || ch.params["scope"] != "repository:a/b:pull,push" {
		t.Errorf("%+v", ch)
	}
	ch = parseChallenge(`Basic realm=registry`)
	if ch.scheme != "basic" || ch.params["realm"] != "registry" {
		t.Errorf("%+v", ch)
	}
}

// TestPullSharedModels publishes every model of the shared test data
// (and a few synthetic ones) and pulls them all into one store: each
// arrives byte for byte and loads.
func TestPullSharedModels(t *testing.T) {
	srv := registrytest.New(t, registrytest.Options{Auth: true, Redirect: true})
	files := []string{"stories260K.gguf", "stories260K-q8_0-mix.gguf", "stories260K-q5_0-mix.gguf",
		"stories260K-q4_0-mix.gguf", "llama-2-tiny-random.gguf",
		"synthetic/syn-qwen2-256-Q4_K_M.gguf", "synthetic/syn-qwen3-256-Q6_K.gguf", "synthetic/syn-llama-256-Q5_K.gguf"}
	c := newClient(t, Config{})
	for i, f := range files {
		path := sharedModel(t, f)
		tag := strings.ToLower(strings.TrimSuffix(filepath.Base(f), ".gguf"))
		// The same blob under two tags, and a manifest listing the model
		// blob twice, must not confuse the pull.
		raw, err := srv.AddModel("library/shared", tag, registrytest.Model{GGUF: path, System: "model " + tag})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			m, _ := store.ParseManifest(raw)
			m.Layers = append(m.Layers, m.Layers[0])
			dup, _ := json.Marshal(m)
			srv.AddManifest("library/shared", "dup", dup)
			if err := c.Pull(context.Background(), srv.Host+"/library/shared:dup", nil); err != nil {
				t.Fatalf("manifest listing a blob twice: %v", err)
			}
		}
		name := srv.Host + "/library/shared:" + tag
		if err := c.Pull(context.Background(), name, nil); err != nil {
			t.Fatalf("pull %s: %v", f, err)
		}
		r, err := c.Store.Resolve(name)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(r.ModelPath)
		want, _ := os.ReadFile(path)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: pulled bytes differ", f)
		}
		l, err := runner.LoadFile(r.ModelPath, 1)
		if err != nil {
			t.Errorf("%s: pulled model does not load: %v", f, err)
			continue
		}
		l.Close()
	}
	checkStore(t, c.Store)
	list, _ := c.Store.List()
	if len(list) != len(files)+1 {
		t.Errorf("%d models in the store, want %d", len(list), len(files)+1)
	}
}

// TestPullRenewsExpiredURLsAndTokens expires the signed blob URL and the
// registry token in the middle of a download; after the connection drops
// the client asks the registry again and finishes.
func TestPullRenewsExpiredURLsAndTokens(t *testing.T) {
	srv := registrytest.New(t, registrytest.Options{Auth: true, Redirect: true, Throttle: 2 << 20})
	raw := publishStories(t, srv, "library/stories", "latest")
	m, _ := store.ParseManifest(raw)
	ml, _ := m.Layer(store.MediaTypeModel)
	srv.SetFault(ml.Digest, registrytest.Fault{DropAfter: 600 << 10, Times: 1})
	c := newClient(t, Config{})
	var once sync.Once
	tokensBefore := 0
	err := c.Pull(context.Background(), srv.Host+"/library/stories", func(p store.Progress) {
		if p.Digest == ml.Digest && p.Completed > 100<<10 {
			once.Do(func() {
				tokensBefore = srv.Requests("token")
				srv.ExpireBlobURLs()
				srv.ExpireTokens()
			})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if tokensBefore == 0 || srv.Requests("token") <= tokensBefore {
		t.Errorf("token requests: %d before expiry, %d after; want a renewal", tokensBefore, srv.Requests("token"))
	}
	checkStore(t, c.Store)
	if !c.Store.HasBlob(ml.Digest, ml.Size) {
		t.Error("blob missing after the pull")
	}
}
