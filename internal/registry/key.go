package registry

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Key is the ed25519 key that signs token requests, as Ollama's registry
// (ollama.com) expects: pushing to a namespace there is allowed to the
// public keys its owner registered (https://ollama.com/settings/keys).
// The key is an OpenSSH private key file (id_ed25519) with its public
// half beside it (id_ed25519.pub), the format and the file names Ollama
// uses, so a key already registered for ollama can be used as it is.
type Key struct {
	signer ssh.Signer
	path   string
}

// LoadKey reads the OpenSSH private key at path.
func LoadKey(path string) (*Key, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("registry key %s: %v", path, err)
	}
	if s.PublicKey().Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("registry key %s: a %s key, want ed25519", path, s.PublicKey().Type())
	}
	return &Key{signer: s, path: path}, nil
}

// LoadOrCreateKey reads the key at path, or makes a new one there (and
// its .pub) when there is none.
func LoadOrCreateKey(path string) (*Key, error) {
	k, err := LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// O_EXCL: two processes making the key at once keep the first one's.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadKey(path)
	}
	if err != nil {
		return nil, err
	}
	if err := pem.Encode(f, block); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, err
	}
	k = &Key{signer: signer, path: path}
	if err := os.WriteFile(path+".pub", []byte(k.PublicKey()+"\n"), 0o644); err != nil {
		return nil, err
	}
	return k, nil
}

// PublicKey is the key's public half as an authorized_keys line
// ("ssh-ed25519 AAAA..."), what ollama.com's key settings take.
func (k *Key) PublicKey() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.signer.PublicKey())))
}

// Path is the private key's file.
func (k *Key) Path() string { return k.path }

// signRequest returns the Authorization value for a request to url with
// the given method and body: "<public key>:<signature>", both base64, the
// signature over "METHOD,URL,base64(hex(sha256(body)))".
func (k *Key) signRequest(method, url string, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	data := method + "," + url + "," + base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:])))
	sig, err := k.signer.Sign(rand.Reader, []byte(data))
	if err != nil {
		return "", err
	}
	pub := base64.StdEncoding.EncodeToString(k.signer.PublicKey().Marshal())
	return pub + ":" + base64.StdEncoding.EncodeToString(sig.Blob), nil
}

// DefaultKeyPath is where Golem keeps its key: $GOLEM_KEY, else
// $GOLEM_HOME/id_ed25519 (default ~/.golem), except that when that file
// does not exist and Ollama's key (~/.ollama/id_ed25519) does, that one,
// so that a key already registered with ollama.com keeps working.
func DefaultKeyPath() string {
	if p := strings.TrimSpace(os.Getenv("GOLEM_KEY")); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	dir := os.Getenv("GOLEM_HOME")
	if dir == "" {
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".golem")
	}
	own := filepath.Join(dir, "id_ed25519")
	if _, err := os.Stat(own); err != nil && home != "" {
		ollama := filepath.Join(home, ".ollama", "id_ed25519")
		if _, err := os.Stat(ollama); err == nil {
			return ollama
		}
	}
	return own
}
