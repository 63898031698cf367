package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golem-llm/golem/internal/store"
)

// A blob download keeps two files beside the final blob path P:
//
//	P-partial        the data, at its final offsets (sparse until done)
//	P-partial.json   which byte ranges are done, rewritten atomically
//
// The JSON never claims bytes that were not yet written to the data file
// (bytes are written first, then counted), so after a crash the download
// resumes from what the JSON says, re-fetching at most the last
// few hundred milliseconds of data. Nothing under P itself exists until the
// whole blob has been verified.

// partMeta is one byte range of a blob and how much of it is done.
type partMeta struct {
	Offset    int64 `json:"offset"`
	Size      int64 `json:"size"`
	Completed int64 `json:"completed"`
}

// downloadMeta is the JSON bookkeeping of a partial download.
type downloadMeta struct {
	Digest string     `json:"digest"`
	Size   int64      `json:"size"`
	Parts  []partMeta `json:"parts"`
}

// part is a range being downloaded.
type part struct {
	offset, size int64
	completed    atomic.Int64
	lastActive   atomic.Int64 // unix nanoseconds of the last byte received
}

func (p *part) remaining() int64 { return p.size - p.completed.Load() }

// blobDownload is the state of one blob's download.
type blobDownload struct {
	c     *Client
	layer store.Layer
	path  string // final blob path
	parts []*part
	lockF *os.File
	done  bool // committed, or found present

	mu        sync.Mutex
	direct    *url.URL // where ranged requests go
	directReg bool     // direct is the registry itself (send credentials)
}

func (c *Client) newDownload(l store.Layer) (*blobDownload, error) {
	p, err := c.Store.BlobPath(l.Digest)
	if err != nil {
		return nil, err
	}
	return &blobDownload{c: c, layer: l, path: p}, nil
}

func (d *blobDownload) dataPath() string { return d.path + "-partial" }
func (d *blobDownload) metaPath() string { return d.path + "-partial.json" }

// lock takes the blob's download lock, waiting (with progress events from
// the other downloader's bookkeeping) while someone else holds it.
func (d *blobDownload) lock(ctx context.Context, fn func(store.Progress)) error {
	waited := false
	for {
		f, ok, err := tryLock(d.path + "-partial.lock")
		if err != nil {
			return fmt.Errorf("registry: locking %s: %v", d.layer.Digest, err)
		}
		if ok {
			d.lockF = f
			return nil
		}
		if !waited {
			d.c.logf("registry: %s is being downloaded by another pull; waiting", shortDigest(d.layer.Digest))
			waited = true
		}
		var done int64
		if m, err := readMeta(d.metaPath()); err == nil {
			for _, p := range m.Parts {
				done += p.Completed
			}
		}
		fn(pullingEvent(d.layer.Digest, d.layer.Size, done))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (d *blobDownload) unlock() {
	if d.lockF != nil {
		unlockFile(d.lockF, d.path+"-partial.lock")
		d.lockF = nil
	}
}

// commit verifies the finished partial data and moves it into the store.
func (d *blobDownload) commit() error {
	err := d.c.Store.CommitBlob(d.dataPath(), d.layer.Digest)
	var mismatch *store.DigestMismatchError
	if err == nil || errors.As(err, &mismatch) {
		// Either way the partial data is gone (renamed or removed).
		os.Remove(d.metaPath())
	}
	if err == nil {
		d.done = true
	}
	return err
}

// reset forgets all progress, so the next download starts from byte 0.
func (d *blobDownload) reset() {
	removePartial(d.path)
	d.parts = nil
}

// readMeta reads a partial download's bookkeeping.
func readMeta(path string) (*downloadMeta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m downloadMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// saveMeta writes the bookkeeping atomically.
func (d *blobDownload) saveMeta() error {
	m := downloadMeta{Digest: d.layer.Digest, Size: d.layer.Size}
	for _, p := range d.parts {
		m.Parts = append(m.Parts, partMeta{Offset: p.offset, Size: p.size, Completed: p.completed.Load()})
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := d.metaPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, d.metaPath())
}

// prepare sets up the parts: resumed from valid bookkeeping and partial
// data, or fresh. It returns the bytes already done.
func (d *blobDownload) prepare() (int64, error) {
	size := d.layer.Size
	if m, err := readMeta(d.metaPath()); err == nil && m.Digest == d.layer.Digest && m.Size == size && validParts(m.Parts, size) {
		if fi, err := os.Stat(d.dataPath()); err == nil && fi.Size() == size {
			d.parts = nil
			var done int64
			for _, pm := range m.Parts {
				p := &part{offset: pm.Offset, size: pm.Size}
				p.completed.Store(pm.Completed)
				d.parts = append(d.parts, p)
				done += pm.Completed
			}
			if done > 0 {
				d.c.logf("registry: resuming %s at %d of %d bytes", shortDigest(d.layer.Digest), done, size)
			}
			return done, nil
		}
	}
	// Start over.
	removePartial(d.path)
	f, err := os.OpenFile(d.dataPath(), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, fmt.Errorf("registry: %v", err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("registry: %v", err)
	}
	n := int(min(int64(d.c.maxParts()), max(1, size/d.c.minPartSize())))
	partSize := (size + int64(n) - 1) / int64(n)
	d.parts = nil
	for off := int64(0); off < size || len(d.parts) == 0; off += partSize {
		d.parts = append(d.parts, &part{offset: off, size: min(partSize, size-off)})
	}
	return 0, d.saveMeta()
}

// validParts checks that the parts tile [0, size) in order.
func validParts(parts []partMeta, size int64) bool {
	var off int64
	for _, p := range parts {
		if p.Offset != off || p.Size < 0 || p.Completed < 0 || p.Completed > p.Size {
			return false
		}
		off += p.Size
	}
	return off == size && len(parts) > 0
}

// download fetches the missing parts of a blob into its partial file,
// sending progress events, and returns when every byte is there (not yet
// verified) or when it gives up; the partial data stays for a later resume.
func (c *Client) download(ctx context.Context, ep *endpoint, d *blobDownload, fn func(store.Progress)) error {
	done, err := d.prepare()
	if err != nil {
		return err
	}
	fn(pullingEvent(d.layer.Digest, d.layer.Size, done))
	if done == d.layer.Size {
		return nil
	}
	if err := d.resolve(ctx, ep); err != nil {
		return err
	}
	f, err := os.OpenFile(d.dataPath(), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("registry: %v", err)
	}
	defer f.Close()

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(d.parts))
	running := 0
	for _, p := range d.parts {
		if p.remaining() == 0 {
			continue
		}
		running++
		go func(p *part) {
			err := d.runPart(ctx, ep, f, p)
			if err != nil {
				cancel() // one part failing for good ends the download
			}
			errc <- err
		}(p)
	}
	ticker := time.NewTicker(c.progressInterval())
	defer ticker.Stop()
	lastSave := time.Now()
	var firstErr error
	completed := func() int64 {
		var n int64
		for _, p := range d.parts {
			n += p.completed.Load()
		}
		return n
	}
	for running > 0 {
		select {
		case err := <-errc:
			running--
			// Parts cancelled because another one failed report
			// context.Canceled; keep the failure that caused it.
			if err != nil && (firstErr == nil || errors.Is(firstErr, context.Canceled)) {
				firstErr = err
			}
		case <-ticker.C:
			fn(pullingEvent(d.layer.Digest, d.layer.Size, completed()))
			if time.Since(lastSave) >= 250*time.Millisecond {
				if err := d.saveMeta(); err != nil && firstErr == nil {
					firstErr = fmt.Errorf("registry: saving download progress: %v", err)
					cancel()
				}
				lastSave = time.Now()
			}
		}
	}
	saveErr := d.saveMeta()
	fn(pullingEvent(d.layer.Digest, d.layer.Size, completed()))
	if err := parent.Err(); err != nil {
		return err
	}
	if firstErr != nil {
		return fmt.Errorf("registry: downloading %s (%s): %w", shortDigest(d.layer.Digest), ep.label, firstErr)
	}
	if saveErr != nil {
		return fmt.Errorf("registry: saving download progress: %v", saveErr)
	}
	return nil
}

// resolve finds where the blob's bytes are: the registry answers a blob
// request with the data itself or with a redirect to a blob host (a CDN,
// with a signed URL). Asking for one byte keeps a registry that serves the
// data from sending all of it. Credentials are never sent to the blob host.
func (d *blobDownload) resolve(ctx context.Context, ep *endpoint) error {
	h := http.Header{}
	h.Set("Range", "bytes=0-0")
	u := ep.url("blobs", d.layer.Digest)
	resp, err := d.c.do(ctx, &request{method: http.MethodGet, url: u, header: h, ep: ep, action: "pull", stopRedirect: true})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return &permanentError{fmt.Errorf("registry: %s: blob %s is missing from the registry (the manifest names a blob it does not have): %w", ep.label, d.layer.Digest, err)}
		}
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc, err := resp.Location()
		if err != nil {
			return fmt.Errorf("registry: %s: redirect without a usable Location: %v", redact(u), err)
		}
		if loc.Scheme == "http" && u.Scheme == "https" && !d.c.Config.Insecure {
			return fmt.Errorf("registry: refusing a redirect from https to http (%s)", redact(loc))
		}
		d.direct, d.directReg = loc, false
	default:
		d.direct, d.directReg = resp.Request.URL, true
	}
	return nil
}

var errStalled = errors.New("transfer stalled")

// runPart downloads one part, retrying until it is done. Failures in a
// row are limited; any progress resets the count, so a connection that
// keeps dropping but moves forward gets there.
func (d *blobDownload) runPart(ctx context.Context, ep *endpoint, f *os.File, p *part) error {
	failures := 0
	for p.remaining() > 0 {
		before := p.completed.Load()
		err := d.fetch(ctx, ep, f, p)
		if err == nil && p.remaining() == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		if p.completed.Load() > before {
			failures = 0
		}
		failures++
		var se *StatusError
		// A signed blob URL that expired, or a registry token that did:
		// ask the registry again (which renews the token if needed).
		reresolve := errors.As(err, &se) && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden ||
			se.Code == http.StatusNotFound || se.Code == http.StatusGone)
		if !temporary(err) && !reresolve {
			return err
		}
		if failures > d.c.maxRetries() {
			return fmt.Errorf("giving up on bytes %d-%d after %d attempts: %w", p.offset+p.completed.Load(), p.offset+p.size-1, failures, err)
		}
		d.c.logf("registry: %s bytes %d-%d: %v; retrying", shortDigest(d.layer.Digest), p.offset+p.completed.Load(), p.offset+p.size-1, err)
		if err := d.c.backoff(ctx, failures); err != nil {
			return err
		}
		if reresolve {
			if d.isRegistry() {
				d.c.forgetToken(ep)
			}
			if err := d.resolve(ctx, ep); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *blobDownload) isRegistry() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.directReg
}

// fetch makes one ranged request for the rest of a part and writes what
// arrives. A watchdog cancels the request when no byte has come for
// StallTimeout.
func (d *blobDownload) fetch(ctx context.Context, ep *endpoint, f *os.File, p *part) error {
	start := p.offset + p.completed.Load()
	end := p.offset + p.size - 1
	d.mu.Lock()
	u, reg := d.direct, d.directReg
	d.mu.Unlock()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p.lastActive.Store(time.Now().UnixNano())
	stall := d.c.stallTimeout()
	watchdogDone := make(chan struct{})
	defer close(watchdogDone)
	go func() {
		t := time.NewTicker(max(stall/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-watchdogDone:
				return
			case <-t.C:
				if time.Since(time.Unix(0, p.lastActive.Load())) > stall {
					cancel(errStalled)
					return
				}
			}
		}
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return &permanentError{err}
	}
	req.Header.Set("Range", "bytes="+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10))
	req.Header.Set("User-Agent", "golem (registry client)")
	if reg {
		d.c.setAuth(req, ep)
	}
	client := *d.c.HTTP
	client.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if next.URL.Host != req.URL.Host {
			next.Header.Del("Authorization")
		}
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
			return errStalled
		}
		return err
	}
	defer resp.Body.Close()
	body := io.Reader(resp.Body)
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if cr := resp.Header.Get("Content-Range"); cr != "" {
			var a, b int64
			if _, err := fmt.Sscanf(cr, "bytes %d-%d/", &a, &b); err != nil || a != start {
				return fmt.Errorf("server sent range %q, want bytes %d-%d", cr, start, end)
			}
		}
	case http.StatusOK:
		// The server ignored the range and sends the whole blob: skip to
		// where this part resumes.
		if _, err := io.CopyN(io.Discard, body, start); err != nil {
			return err
		}
	default:
		return statusError(resp)
	}

	buf := make([]byte, 256<<10)
	off := start
	for off <= end {
		want := min(int64(len(buf)), end+1-off)
		n, rerr := io.ReadAtLeast(body, buf[:want], 1)
		if n > 0 {
			if _, err := f.WriteAt(buf[:n], off); err != nil {
				return &permanentError{fmt.Errorf("writing %s: %v", d.dataPath(), err)}
			}
			off += int64(n)
			p.completed.Add(int64(n))
			p.lastActive.Store(time.Now().UnixNano())
		}
		if rerr != nil {
			if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
				return errStalled
			}
			if errors.Is(rerr, io.EOF) && off <= end {
				return io.ErrUnexpectedEOF
			}
			if off > end {
				return nil
			}
			return rerr
		}
	}
	return nil
}

// Partials lists the blobs with a partial download in the store, with
// the bytes done and the size, so that a UI can show resumable pulls.
func Partials(st *store.Store) (map[string][2]int64, error) {
	matches, err := filepath.Glob(filepath.Join(st.Root, "blobs", "sha256-*-partial.json"))
	if err != nil {
		return nil, err
	}
	out := map[string][2]int64{}
	for _, m := range matches {
		meta, err := readMeta(m)
		if err != nil || !strings.HasPrefix(meta.Digest, "sha256:") {
			continue
		}
		var done int64
		for _, p := range meta.Parts {
			done += p.Completed
		}
		out[meta.Digest] = [2]int64{done, meta.Size}
	}
	return out, nil
}
