package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/golem-llm/golem/internal/store"
)

// maxManifestSize bounds the manifest we read: real ones are a few KB.
const maxManifestSize = 4 << 20

// Pull fetches a model into the store. Events, as Ollama sends them:
// "pulling manifest"; for each blob "pulling <12 hex>" with digest, total
// and completed (repeated while it downloads, also for blobs already
// present); "verifying sha256 digest"; "writing manifest"; "success".
// A blob is committed only after its sha256 matched; a blob whose bytes do
// not match is downloaded once more from scratch, then the pull fails.
// Interrupted downloads are resumed from their partial data on the next
// Pull, in this process or another.
func (c *Client) Pull(ctx context.Context, name string, fn func(store.Progress)) error {
	if fn == nil {
		fn = func(store.Progress) {}
	}
	n, err := store.ParseName(name)
	if err != nil {
		return err
	}
	ep, err := c.endpointFor(n)
	if err != nil {
		return err
	}
	fn(store.Progress{Status: "pulling manifest"})
	raw, m, err := c.fetchManifest(ctx, ep)
	if err != nil {
		return err
	}

	// Download every missing blob to its partial file, holding its lock
	// until the blob is committed, so that another pull of the same blob
	// (another process, or the server pulling twice) waits and then finds
	// it done.
	var pending []*blobDownload
	defer func() {
		for _, d := range pending {
			d.unlock()
		}
	}()
	seen := map[string]bool{}
	for _, l := range m.Blobs() {
		if seen[l.Digest] {
			continue // a manifest may list the same blob twice
		}
		seen[l.Digest] = true
		if c.Store.HasBlob(l.Digest, l.Size) {
			fn(pullingEvent(l.Digest, l.Size, l.Size))
			continue
		}
		d, err := c.newDownload(l)
		if err != nil {
			return err
		}
		pending = append(pending, d)
		if err := d.lock(ctx, fn); err != nil {
			return err
		}
		if c.Store.HasBlob(l.Digest, l.Size) {
			// Another pull finished it while we waited.
			fn(pullingEvent(l.Digest, l.Size, l.Size))
			d.done = true
			continue
		}
		if err := c.download(ctx, ep, d, fn); err != nil {
			return err
		}
	}

	fn(store.Progress{Status: "verifying sha256 digest"})
	for _, d := range pending {
		if d.done {
			continue
		}
		err := d.commit()
		var mismatch *store.DigestMismatchError
		if errors.As(err, &mismatch) {
			// The bytes are wrong: a corrupting proxy, a bad mirror, or a
			// partial file damaged by a crash. Fetch it once more whole.
			c.logf("registry: %s: %v; downloading it again", d.layer.Digest, err)
			d.reset()
			if err := c.download(ctx, ep, d, fn); err != nil {
				return err
			}
			err = d.commit()
		}
		if err != nil {
			return fmt.Errorf("registry: pulling %s: blob %s: %w", ep.label, d.layer.Digest, err)
		}
	}

	fn(store.Progress{Status: "writing manifest"})
	if err := c.Store.WriteManifest(n, raw); err != nil {
		return err
	}
	fn(store.Progress{Status: "success"})
	return nil
}

func pullingEvent(digest string, total, completed int64) store.Progress {
	return store.Progress{Status: "pulling " + shortDigest(digest), Digest: digest, Total: total, Completed: completed}
}

// shortDigest is the first 12 hex digits, as Ollama shows digests.
func shortDigest(d string) string {
	if len(d) >= 19 {
		return d[7:19]
	}
	return d
}

// fetchManifest gets and checks the manifest of ep's repository and tag.
func (c *Client) fetchManifest(ctx context.Context, ep *endpoint) ([]byte, *store.Manifest, error) {
	h := http.Header{}
	h.Set("Accept", store.MediaTypeManifest+", "+store.MediaTypeOCI)
	resp, err := c.do(ctx, &request{method: http.MethodGet, url: ep.url("manifests", ep.tag), header: h, ep: ep, action: "pull"})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil, fmt.Errorf("registry: pull %s: model or tag not found at %s: %w", ep.label, ep.base, err)
		}
		return nil, nil, fmt.Errorf("registry: pull %s: %w", ep.label, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("registry: pull %s: reading the manifest: %v", ep.label, err)
	}
	if len(raw) > maxManifestSize {
		return nil, nil, fmt.Errorf("registry: pull %s: manifest larger than %d bytes", ep.label, maxManifestSize)
	}
	if want := resp.Header.Get("Docker-Content-Digest"); want != "" && store.CheckDigest(want) == nil && store.DigestOf(raw) != want {
		return nil, nil, fmt.Errorf("registry: pull %s: manifest digest mismatch: header says %s, body is %s", ep.label, want, store.DigestOf(raw))
	}
	m, err := store.ParseManifest(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("registry: pull %s: %v", ep.label, err)
	}
	if _, ok := m.Layer(store.MediaTypeModel); !ok {
		return nil, nil, fmt.Errorf("registry: pull %s: the manifest has no model layer (%s)", ep.label, store.MediaTypeModel)
	}
	return raw, m, nil
}

// Remove deletes a blob's partial download and its bookkeeping.
func removePartial(path string) {
	os.Remove(path + "-partial")
	os.Remove(path + "-partial.json")
}
