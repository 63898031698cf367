package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/registry/registrytest"
)

// TestKeyFile makes a key, reads it back, and refuses what is not an
// ed25519 OpenSSH key.
func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "id_ed25519")
	k, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.PublicKey(), "ssh-ed25519 AAAA") {
		t.Errorf("public key %q", k.PublicKey())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil || strings.TrimSpace(string(pub)) != k.PublicKey() {
		t.Errorf(".pub %q, %v", pub, err)
	}
	again, err := LoadOrCreateKey(path)
	if err != nil || again.PublicKey() != k.PublicKey() {
		t.Errorf("reloaded %v, %v", again, err)
	}
	raw, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(raw), "-----BEGIN OPENSSH PRIVATE KEY-----") {
		t.Errorf("key file is not an OpenSSH key: %.40q", raw)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("not a key"), 0o600)
	if _, err := LoadKey(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad key file: %v", err)
	}
	if _, err := LoadKey(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing key file: %v", err)
	}
}

// TestPushSignedKey pushes to a registry that, like ollama.com, gives push
// tokens only for token requests signed by a registered key: the first
// push makes the key, an unregistered key is refused with its public key
// in the error, a registered one pushes, and pulls never make a key.
func TestPushSignedKey(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "id_ed25519")
	srv := registrytest.New(t, registrytest.Options{Auth: true})
	publishStories(t, srv, "library/stories", "latest")

	c := newClient(t, Config{KeyPath: keyPath})
	base := srv.Host + "/library/stories"
	if err := c.Pull(context.Background(), base, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keyPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a pull made a key file: %v", err)
	}
	target := srv.Host + "/alice/stories:v1"
	if err := c.Store.Copy(base, target); err != nil {
		t.Fatal(err)
	}

	// An unknown key: refused, and the error names the key to register.
	other, err := LoadOrCreateKey(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	srv2 := registrytest.New(t, registrytest.Options{Auth: true, PushKeys: []string{other.PublicKey()}})
	target2 := srv2.Host + "/alice/stories:v1"
	if err := c.Store.Copy(base, target2); err != nil {
		t.Fatal(err)
	}
	err = c.Push(context.Background(), target2, nil)
	k, kerr := LoadKey(keyPath)
	if kerr != nil {
		t.Fatalf("the push made no key: %v", kerr)
	}
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), k.PublicKey()) || !strings.Contains(err.Error(), keyPath) {
		t.Fatalf("push with an unregistered key: %v", err)
	}
	if _, ok := srv2.Manifest("alice/stories", "v1"); ok {
		t.Fatal("the refused push left a manifest")
	}

	// Registered (with the other key too): the push goes through.
	srv3 := registrytest.New(t, registrytest.Options{Auth: true, PushKeys: []string{other.PublicKey(), k.PublicKey()}})
	target3 := srv3.Host + "/alice/stories:v1"
	if err := c.Store.Copy(base, target3); err != nil {
		t.Fatal(err)
	}
	if err := c.Push(context.Background(), target3, nil); err != nil {
		t.Fatal(err)
	}
	pushed, ok := srv3.Manifest("alice/stories", "v1")
	local, _ := c.Store.Get(target3)
	if !ok || string(pushed) != string(local.Raw) {
		t.Fatal("the registry's manifest differs from the pushed one")
	}

	// Without a key the registry refuses too.
	c2 := newClient(t, Config{})
	c2.Store = c.Store
	if err := c2.Push(context.Background(), target3, nil); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("push without a key: %v", err)
	}
}
