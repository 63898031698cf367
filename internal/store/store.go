// Package store owns Golem's model store on disk: model names, manifests
// and content-addressed blobs in Ollama's layout (so an Ollama store can be
// read in place), Modelfiles, and creating models from them, quantization
// included. The registry package fills the store over the network.
//
// Layout under the root ($GOLEM_MODELS, default ~/.golem/models):
//
//	manifests/<host>/<namespace>/<model>/<tag>   the manifest JSON
//	blobs/sha256-<hex>                           blobs, each stored once
//
// Every file is written to a temporary name and renamed into place, so a
// crash never leaves a half-written manifest or blob under its real name,
// and a blob is only ever committed after its sha256 has been checked.
package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned (wrapped) when a model is not in the store.
var ErrNotFound = errors.New("model not found")

// Store is a model store rooted at a directory. Its methods are safe for
// concurrent use within one process; manifest writes and deletions are
// serialized so that garbage collection never races a manifest update.
type Store struct {
	Root string
	mu   sync.Mutex
}

// New returns the store rooted at root, creating its folders.
func New(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("store: empty root directory")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("store: %v", err)
	}
	for _, d := range []string{"blobs", "manifests"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return nil, fmt.Errorf("store: %v", err)
		}
	}
	return &Store{Root: abs}, nil
}

// DefaultRoot returns $GOLEM_MODELS, else $GOLEM_HOME/models, else
// ~/.golem/models.
func DefaultRoot() (string, error) {
	if d := os.Getenv("GOLEM_MODELS"); d != "" {
		return d, nil
	}
	if h := os.Getenv("GOLEM_HOME"); h != "" {
		return filepath.Join(h, "models"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("store: cannot find the home directory (set GOLEM_MODELS): %v", err)
	}
	return filepath.Join(home, ".golem", "models"), nil
}

// OpenDefault opens the store at DefaultRoot.
func OpenDefault() (*Store, error) {
	root, err := DefaultRoot()
	if err != nil {
		return nil, err
	}
	return New(root)
}

// BlobPath returns the file of a blob (blobs/sha256-<hex>), whether or
// not it exists.
func (s *Store) BlobPath(digest string) (string, error) {
	if err := CheckDigest(digest); err != nil {
		return "", err
	}
	return filepath.Join(s.Root, "blobs", strings.Replace(digest, ":", "-", 1)), nil
}

// HasBlob reports whether the blob is present with the given size (size <
// 0 skips the size check).
func (s *Store) HasBlob(digest string, size int64) bool {
	p, err := s.BlobPath(digest)
	if err != nil {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// TempFile creates a temporary file in the blobs folder, on the same file
// system as the blobs so that it can be renamed into place.
func (s *Store) TempFile(pattern string) (*os.File, error) {
	dir := filepath.Join(s.Root, "blobs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(dir, ".tmp-"+pattern)
}

// WriteBlob stores the bytes read from r as a blob and returns its digest
// and size. The bytes are hashed while they are copied to a temporary
// file, which is then renamed to its content address; a blob already
// present is left as it is.
func (s *Store) WriteBlob(r io.Reader) (digest string, size int64, err error) {
	tmp, digest, size, err := s.writeTemp(r)
	if err != nil {
		return "", 0, err
	}
	if err := s.commit(tmp, digest); err != nil {
		return "", 0, err
	}
	return digest, size, nil
}

// writeTemp copies r to a temporary file in the blob folder, hashing it on
// the way, and returns the file's path, digest and size. On error nothing
// is left behind.
func (s *Store) writeTemp(r io.Reader) (path, digest string, size int64, err error) {
	f, err := s.TempFile("blob-*")
	if err != nil {
		return "", "", 0, fmt.Errorf("store: %v", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return "", "", 0, fmt.Errorf("store: writing blob: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", "", 0, fmt.Errorf("store: writing blob: %v", err)
	}
	if err := f.Close(); err != nil {
		return "", "", 0, fmt.Errorf("store: writing blob: %v", err)
	}
	return f.Name(), "sha256:" + hex.EncodeToString(h.Sum(nil)), size, nil
}

// PutBlob stores the bytes read from r under digest, failing (and storing
// nothing) when they do not hash to it. It is how blobs uploaded by a
// client are accepted.
func (s *Store) PutBlob(digest string, r io.Reader) error {
	if err := CheckDigest(digest); err != nil {
		return fmt.Errorf("store: %v", err)
	}
	if s.HasBlob(digest, -1) {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	// Check the digest before anything is committed, so a bad upload can
	// never touch a blob that is already stored.
	tmp, got, _, err := s.writeTemp(r)
	if err != nil {
		return err
	}
	if got != digest {
		os.Remove(tmp)
		return fmt.Errorf("store: blob digest mismatch: want %s, got %s", digest, got)
	}
	return s.commit(tmp, digest)
}

// CommitBlob moves a fully written temporary file into place as the blob
// digest, after checking that its sha256 matches. On a mismatch the file
// is removed and an error naming both digests is returned.
func (s *Store) CommitBlob(tmpPath, digest string) error {
	got, err := hashFile(tmpPath)
	if err != nil {
		return fmt.Errorf("store: verifying %s: %v", digest, err)
	}
	if got != digest {
		os.Remove(tmpPath)
		return &DigestMismatchError{Want: digest, Got: got}
	}
	return s.commit(tmpPath, digest)
}

// DigestMismatchError reports bytes that do not hash to their digest.
type DigestMismatchError struct{ Want, Got string }

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("digest mismatch: want %s, got %s", e.Want, e.Got)
}

// commit renames a verified file to its blob path.
func (s *Store) commit(tmpPath, digest string) error {
	p, err := s.BlobPath(digest)
	if err != nil {
		os.Remove(tmpPath)
		return err
	}
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		if tf, err := os.Stat(tmpPath); err == nil && tf.Size() == fi.Size() {
			// Already stored: keep the existing file, so that readers
			// holding it open are undisturbed. (A same-size file with
			// other bytes would have to be damaged on disk; Verify finds
			// those.)
			os.Remove(tmpPath)
			return nil
		}
		// A damaged copy of another size: replace it.
	}
	if err := os.Rename(tmpPath, p); err != nil {
		os.Remove(tmpPath)
		return fmt.Errorf("store: committing blob %s: %v", digest, err)
	}
	return nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// NewHash returns the hash used for blob digests (sha256).
func NewHash() hash.Hash { return sha256.New() }

// manifestDir is the root of the manifests tree.
func (s *Store) manifestDir() string { return filepath.Join(s.Root, "manifests") }

// findManifest locates the manifest of name, matching each path part
// without regard to case. It returns the path and the name as stored.
func (s *Store) findManifest(n Name) (string, Name, error) {
	dir := s.manifestDir()
	parts := n.parts()
	found := make([]string, len(parts))
	for i, want := range parts {
		p := filepath.Join(dir, want)
		if _, err := os.Lstat(p); err == nil {
			found[i] = want
			dir = p
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", Name{}, fmt.Errorf("%w: %s", ErrNotFound, n.DisplayShortest())
		}
		match := ""
		for _, e := range entries {
			if strings.EqualFold(e.Name(), want) {
				match = e.Name()
				break
			}
		}
		if match == "" {
			return "", Name{}, fmt.Errorf("%w: %s", ErrNotFound, n.DisplayShortest())
		}
		found[i] = match
		dir = filepath.Join(dir, match)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.Mode().IsRegular() {
		return "", Name{}, fmt.Errorf("%w: %s", ErrNotFound, n.DisplayShortest())
	}
	return dir, Name{Host: found[0], Namespace: found[1], Model: found[2], Tag: found[3]}, nil
}

// Model is a stored model: its name, manifest and the manifest's bytes.
type Model struct {
	Name       Name
	Manifest   *Manifest
	Raw        []byte    // the manifest file, byte for byte
	Digest     string    // sha256 of Raw: the model's ID
	ModifiedAt time.Time // when the manifest was written
	Path       string    // the manifest file
}

// ID returns the first 12 hex digits of the manifest digest, the ID that
// `list` shows.
func (m *Model) ID() string { return strings.TrimPrefix(m.Digest, "sha256:")[:12] }

// Get reads a model's manifest, looking the name up without regard to case.
func (s *Store) Get(name string) (*Model, error) {
	n, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	return s.GetName(n)
}

// GetName is Get for a parsed name.
func (s *Store) GetName(n Name) (*Model, error) {
	p, stored, err := s.findManifest(n)
	if err != nil {
		return nil, err
	}
	return s.readManifest(p, stored)
}

func (s *Store) readManifest(path string, n Name) (*Model, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("store: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("store: %v", err)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %v", path, err)
	}
	return &Model{Name: n, Manifest: m, Raw: raw, Digest: DigestOf(raw), ModifiedAt: fi.ModTime(), Path: path}, nil
}

// WriteManifest stores raw as the manifest of name, atomically. It refuses
// a manifest that does not parse or whose blobs are not all present with
// their listed sizes, so the store never names a blob it lacks. An existing
// manifest whose name differs only in case is replaced in place.
func (s *Store) WriteManifest(name Name, raw []byte) error {
	m, err := ParseManifest(raw)
	if err != nil {
		return fmt.Errorf("store: %s: %v", name.DisplayShortest(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range m.Blobs() {
		if !s.HasBlob(l.Digest, l.Size) {
			return fmt.Errorf("store: %s: blob %s (%d bytes) is missing; not writing the manifest", name.DisplayShortest(), l.Digest, l.Size)
		}
	}
	path := s.manifestPathFor(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("store: %v", err)
	}
	return writeFileAtomic(path, raw)
}

// manifestPathFor returns where name's manifest goes: each part reuses an
// existing folder or file whose name differs only in case.
func (s *Store) manifestPathFor(n Name) string {
	dir := s.manifestDir()
	for _, want := range n.parts() {
		next := filepath.Join(dir, want)
		if _, err := os.Lstat(next); err != nil {
			if entries, err := os.ReadDir(dir); err == nil {
				for _, e := range entries {
					if strings.EqualFold(e.Name(), want) {
						next = filepath.Join(dir, e.Name())
						break
					}
				}
			}
		}
		dir = next
	}
	return dir
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("store: %v", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("store: writing %s: %v", path, err)
	}
	return nil
}

// List returns every stored model, most recently modified first.
// Manifests that cannot be read or whose path is not a valid name are
// skipped.
func (s *Store) List() ([]*Model, error) {
	var out []*Model
	root := s.manifestDir()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return nil
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 4 {
			return nil
		}
		n := Name{Host: parts[0], Namespace: parts[1], Model: parts[2], Tag: parts[3]}
		if _, err := ParseName(n.String()); err != nil {
			return nil
		}
		m, err := s.readManifest(path, n)
		if err != nil {
			return nil
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: listing models: %v", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].ModifiedAt.Equal(out[j].ModifiedAt) {
			return out[i].ModifiedAt.After(out[j].ModifiedAt)
		}
		return out[i].Name.String() < out[j].Name.String()
	})
	return out, nil
}

// Copy makes dst name the same model as src. The manifest is copied; the
// blobs are shared, not duplicated.
func (s *Store) Copy(src, dst string) error {
	sm, err := s.Get(src)
	if err != nil {
		return err
	}
	dn, err := ParseName(dst)
	if err != nil {
		return err
	}
	return s.WriteManifest(dn, sm.Raw)
}

// Delete removes a model's manifest, then the blobs it used that no
// other manifest uses.
func (s *Store) Delete(name string) error {
	n, err := ParseName(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path, stored, err := s.findManifest(n)
	if err != nil {
		return err
	}
	m, rerr := s.readManifest(path, stored)
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("store: deleting %s: %v", n.DisplayShortest(), err)
	}
	s.removeEmptyDirs(filepath.Dir(path))
	if rerr != nil {
		// An unreadable manifest names no blobs we can trust; leave them
		// to Prune.
		return nil
	}
	used, err := s.usedBlobs()
	if err != nil {
		return err
	}
	for _, l := range m.Manifest.Blobs() {
		if !used[l.Digest] {
			if p, err := s.BlobPath(l.Digest); err == nil {
				os.Remove(p)
			}
		}
	}
	return nil
}

// removeEmptyDirs removes dir and its parents up to the manifests root
// while they are empty.
func (s *Store) removeEmptyDirs(dir string) {
	root := s.manifestDir()
	for dir != root && strings.HasPrefix(dir, root) {
		if err := os.Remove(dir); err != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// usedBlobs returns the digests named by any manifest in the store.
func (s *Store) usedBlobs() (map[string]bool, error) {
	used := map[string]bool{}
	root := s.manifestDir()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		m, err := ParseManifest(raw)
		if err != nil {
			return nil
		}
		for _, l := range m.Blobs() {
			used[l.Digest] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: scanning manifests: %v", err)
	}
	return used, nil
}

// Prune removes blobs that no manifest uses and leftover temporary files.
// Partial downloads (…-partial and their bookkeeping) are kept so that
// pulls can resume; pass partials=true to remove them too. Do not run it
// while pulls or creates are in progress: their blobs are not yet named by
// a manifest.
func (s *Store) Prune(partials bool) (removed int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	used, err := s.usedBlobs()
	if err != nil {
		return 0, err
	}
	dir := filepath.Join(s.Root, "blobs")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("store: %v", err)
	}
	for _, e := range entries {
		name := e.Name()
		var drop bool
		switch {
		case strings.HasPrefix(name, ".tmp-"):
			drop = true
		case strings.Contains(name, "-partial"):
			drop = partials
		case strings.HasPrefix(name, "sha256-"):
			drop = !used[strings.Replace(name, "-", ":", 1)]
		}
		if drop && os.Remove(filepath.Join(dir, name)) == nil {
			removed++
		}
	}
	return removed, nil
}

// Verify re-hashes every blob and reports those whose bytes do not match
// their names (damaged on disk); with remove, it deletes them.
func (s *Store) Verify(remove bool) ([]string, error) {
	dir := filepath.Join(s.Root, "blobs")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("store: %v", err)
	}
	var bad []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "sha256-") || strings.Contains(name, "-partial") {
			continue
		}
		digest := strings.Replace(name, "-", ":", 1)
		if CheckDigest(digest) != nil {
			continue
		}
		got, err := hashFile(filepath.Join(dir, name))
		if err != nil || got != digest {
			bad = append(bad, digest)
			if remove {
				os.Remove(filepath.Join(dir, name))
			}
		}
	}
	return bad, nil
}

// ReadBlob returns the contents of a small blob (template, system prompt,
// parameters...). It refuses blobs over limit bytes.
func (s *Store) ReadBlob(digest string, limit int64) ([]byte, error) {
	p, err := s.BlobPath(digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("store: blob %s: %w", digest, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("store: blob %s: %v", digest, err)
	}
	if n > limit {
		return nil, fmt.Errorf("store: blob %s is larger than %d bytes", digest, limit)
	}
	return buf.Bytes(), nil
}
