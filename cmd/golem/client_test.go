package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/registry/registrytest"
	"github.com/golem-llm/golem/internal/server"
	"github.com/golem-llm/golem/internal/store"
	"github.com/golem-llm/golem/internal/testutil"
)

// startServer runs a server over an empty store on loopback and points
// the CLI at it with GOLEM_HOST; the CLI's own store is another, empty
// folder, so anything the commands see comes from the server.
func startServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	s, err := server.New(server.Config{ModelsDir: t.TempDir(), NumParallel: 2, Threads: 2, KeepAlive: 5 * 60e9,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		s.Close()
	})
	t.Setenv("GOLEM_HOST", hs.URL)
	t.Setenv("GOLEM_MODELS", t.TempDir())
	return s, hs.URL
}

func golem(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// TestClientMode: with a server running, create (uploading the GGUF),
// list, show, run, ps, cp, rm, stop and pull go through its API.
func TestClientMode(t *testing.T) {
	s, _ := startServer(t)
	gguf := testutil.Shared(t, "testdata", "models", "stories260K.gguf")
	dir := t.TempDir()
	mf := filepath.Join(dir, "Modelfile")
	if err := os.WriteFile(mf, []byte("FROM "+gguf+"\nPARAMETER temperature 0\nSYSTEM A storyteller.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := golem(t, "create", "stories", "-f", mf); code != 0 || !strings.Contains(stderr, "success") {
		t.Fatalf("create: %d %s", code, stderr)
	}
	if m, err := s.Store().Get("stories"); err != nil || m.Name.Model != "stories" {
		t.Fatalf("the server's store lacks the model: %v", err)
	}
	local, _ := store.OpenDefault()
	if ms, _ := local.List(); len(ms) != 0 {
		t.Fatalf("create wrote to the local store: %d models", len(ms))
	}

	out, stderr, code := golem(t, "list")
	if code != 0 || !strings.Contains(out, "stories:latest") || !strings.HasPrefix(out, "NAME") {
		t.Fatalf("list: %d %q %s", code, out, stderr)
	}
	out, stderr, code = golem(t, "show", "stories", "--system")
	if code != 0 || strings.TrimSpace(out) != "A storyteller." {
		t.Fatalf("show --system: %d %q %s", code, out, stderr)
	}
	out, _, code = golem(t, "show", "stories")
	if code != 0 || !strings.Contains(out, "llama") {
		t.Fatalf("show: %d %q", code, out)
	}

	// run: the model's temperature 0 applies on the server; the output is
	// llama.cpp's greedy continuation.
	var g struct {
		Generations []struct {
			Model, Prompt, Continuation string
		}
	}
	b, err := os.ReadFile(testutil.Shared(t, "testdata", "models", "golden", "stories260K.greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &g)
	want := g.Generations[0]
	out, stderr, code = golem(t, "run", "stories", want.Prompt, "--num-predict", "64", "--verbose")
	if code != 0 || out != want.Continuation+"\n" || !strings.Contains(stderr, "eval count:           64 token(s)") {
		t.Fatalf("run: %d\n got %q\nwant %q\n%s", code, out, want.Continuation, stderr)
	}

	out, _, code = golem(t, "ps")
	if code != 0 || !strings.Contains(out, "stories:latest") || !strings.Contains(out, "100% CPU") {
		t.Fatalf("ps: %d %q", code, out)
	}
	if out, _, code = golem(t, "cp", "stories", "tale"); code != 0 || !strings.Contains(out, "copied 'stories' to 'tale'") {
		t.Fatalf("cp: %d %q", code, out)
	}
	if out, _, code = golem(t, "rm", "tale"); code != 0 || !strings.Contains(out, "deleted 'tale'") {
		t.Fatalf("rm: %d %q", code, out)
	}
	if _, stderr, code = golem(t, "rm", "tale"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Fatalf("rm of a missing model: %d %s", code, stderr)
	}
	if _, stderr, code = golem(t, "stop", "stories"); code != 0 {
		t.Fatalf("stop: %d %s", code, stderr)
	}
	if out, _, _ = golem(t, "ps"); strings.Contains(out, "stories") {
		t.Fatalf("ps after stop: %q", out)
	}

	reg := registrytest.New(t, registrytest.Options{Auth: true})
	if _, err := reg.AddModel("library/tiny", "latest", registrytest.Model{GGUF: gguf}); err != nil {
		t.Fatal(err)
	}
	name := reg.Host + "/library/tiny"
	if _, stderr, code = golem(t, "pull", name, "--insecure"); code != 0 || !strings.Contains(stderr, "success") {
		t.Fatalf("pull: %d %s", code, stderr)
	}
	if _, err := s.Store().Get(name); err != nil {
		t.Fatalf("pulled model not in the server's store: %v", err)
	}
}

// TestClientModeNoServer: with GOLEM_HOST naming a server that does not
// answer, the commands say so; ps and stop need a server.
func TestClientModeNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("GOLEM_HOST", addr)
	t.Setenv("GOLEM_MODELS", t.TempDir())
	for _, args := range [][]string{{"ps"}, {"list"}, {"stop", "x"}} {
		_, stderr, code := golem(t, args...)
		if code == 0 || !strings.Contains(stderr, "could not connect") || !strings.Contains(stderr, addr) {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
	}
}
