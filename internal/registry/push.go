package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/golem-llm/golem/internal/store"
)

// Push uploads a model to the registry its name points at. Events:
// "retrieving manifest"; for each blob "pushing <12 hex>" with digest,
// total and completed (blobs the registry already has, or can mount from
// the repository of the model this one was created from, are not
// uploaded); "pushing manifest"; "success".
//
// Blobs go up with the distribution protocol: POST .../blobs/uploads/,
// PATCH chunks (Content-Range), PUT ?digest= to finish. A chunk that fails
// is resumed from the offset the registry reports for the upload.
func (c *Client) Push(ctx context.Context, name string, fn func(store.Progress)) error {
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
	fn(store.Progress{Status: "retrieving manifest"})
	m, err := c.Store.GetName(n)
	if err != nil {
		return err
	}
	for _, l := range m.Manifest.Blobs() {
		if err := c.pushBlob(ctx, ep, n, l, fn); err != nil {
			return fmt.Errorf("registry: push %s: blob %s: %w", ep.label, l.Digest, err)
		}
	}
	fn(store.Progress{Status: "pushing manifest"})
	h := http.Header{}
	h.Set("Content-Type", store.MediaTypeManifest)
	resp, err := c.do(ctx, &request{method: http.MethodPut, url: ep.url("manifests", ep.tag), header: h, body: m.Raw, ep: ep, action: "pull,push"})
	if err != nil {
		return fmt.Errorf("registry: push %s: manifest: %w", ep.label, err)
	}
	resp.Body.Close()
	fn(store.Progress{Status: "success"})
	return nil
}

func pushingEvent(digest string, total, completed int64) store.Progress {
	return store.Progress{Status: "pushing " + shortDigest(digest), Digest: digest, Total: total, Completed: completed}
}

// pushBlob uploads one blob unless the registry has it or can mount it.
func (c *Client) pushBlob(ctx context.Context, ep *endpoint, target store.Name, l store.Layer, fn func(store.Progress)) error {
	resp, err := c.do(ctx, &request{method: http.MethodHead, url: ep.url("blobs", l.Digest), ep: ep, action: "pull,push"})
	if err == nil {
		resp.Body.Close()
		fn(pushingEvent(l.Digest, l.Size, l.Size))
		return nil
	}
	if !errors.Is(err, ErrNotFound) {
		return err
	}

	start := ep.url("blobs", "uploads") // .../blobs/uploads/
	start.Path += "/"
	if from, err := store.ParseName(l.From); err == nil && l.From != "" &&
		strings.EqualFold(from.Host, target.Host) && !strings.EqualFold(from.Repository(), ep.repo) {
		q := url.Values{"mount": {l.Digest}, "from": {from.Repository()}}
		start.RawQuery = q.Encode()
	}
	resp, err = c.do(ctx, &request{method: http.MethodPost, url: start, body: []byte{}, ep: ep, action: "pull,push"})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		// Mounted from the parent model's repository.
		fn(pushingEvent(l.Digest, l.Size, l.Size))
		return nil
	}
	loc, err := uploadLocation(resp)
	if err != nil {
		return err
	}

	path, err := c.Store.BlobPath(l.Digest)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading the blob: %v", err)
	}
	defer f.Close()
	fn(pushingEvent(l.Digest, l.Size, 0))
	var off int64
	failures := 0
	for off < l.Size {
		n := min(c.chunkSize(), l.Size-off)
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the blob: %v", err)
		}
		h := http.Header{}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+n-1))
		resp, err := c.do(ctx, &request{method: http.MethodPatch, url: loc, header: h, body: buf, ep: ep, action: "pull,push", noRetry: true})
		if err == nil {
			resp.Body.Close()
			if next, lerr := uploadLocation(resp); lerr == nil {
				loc = next
			}
			off += n
			failures = 0
			fn(pushingEvent(l.Digest, l.Size, off))
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failures++
		if !temporary(err) || failures > c.maxRetries() {
			return err
		}
		c.logf("registry: uploading %s at %d: %v; resuming", shortDigest(l.Digest), off, err)
		if err := c.backoff(ctx, failures); err != nil {
			return err
		}
		// Ask the registry how much of the upload it has.
		if got, next, err := c.uploadStatus(ctx, ep, loc); err == nil {
			off, loc = got, next
		}
	}
	q := loc.Query()
	q.Set("digest", l.Digest)
	loc.RawQuery = q.Encode()
	resp, err = c.do(ctx, &request{method: http.MethodPut, url: loc, body: []byte{}, ep: ep, action: "pull,push"})
	if err != nil {
		return err
	}
	resp.Body.Close()
	fn(pushingEvent(l.Digest, l.Size, l.Size))
	return nil
}

// uploadLocation reads the Location of an upload session.
func uploadLocation(resp *http.Response) (*url.URL, error) {
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("%s %s: no upload Location in the %d response", resp.Request.Method, redact(resp.Request.URL), resp.StatusCode)
	}
	return loc, nil
}

// uploadStatus asks how many bytes of an upload the registry holds: the
// Range header of GET <location> is "0-<last>".
func (c *Client) uploadStatus(ctx context.Context, ep *endpoint, loc *url.URL) (int64, *url.URL, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, url: loc, ep: ep, action: "pull,push"})
	if err != nil {
		return 0, nil, err
	}
	resp.Body.Close()
	next := loc
	if l, err := uploadLocation(resp); err == nil {
		next = l
	}
	r := resp.Header.Get("Range")
	_, last, ok := strings.Cut(r, "-")
	if !ok {
		return 0, next, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(last), 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("bad upload Range %q", r)
	}
	return n + 1, next, nil
}
