// Package registrytest is a registry server for tests: real HTTP on
// loopback, speaking the protocol Golem's registry client uses (Docker
// distribution v2 with Ollama's media types). It issues Bearer tokens on
// 401 challenges, redirects blob downloads to a separate blob host, accepts
// chunked uploads with cross-repository mounts, and injects faults:
// dropped connections, stalls, bursts of 5xx, wrong bytes, missing blobs,
// throttled transfers. It counts the bytes it serves so tests can check
// that a resumed download fetched only the remainder.
package registrytest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/golem-llm/golem/internal/store"
)

// Options configures a Server.
type Options struct {
	// Auth requires a Bearer token on every /v2/ request; tokens come
	// from the server's /token endpoint after a 401 challenge.
	Auth bool
	// PushCredentials, when set ("user:password"), are required (as
	// basic auth at the token endpoint) for tokens with push scope.
	PushCredentials string
	// Redirect sends blob downloads to a separate blob host with a 307.
	Redirect bool
	// Throttle limits each blob response to this many bytes per second.
	Throttle int64
	// PushKeys, when set, are the public keys (authorized_keys lines)
	// allowed to push, as on ollama.com: a token with push scope needs a
	// token request signed by one of them (ts, nonce and an Authorization
	// of "<public key>:<signature>" over "GET,<URL>,<body hash>").
	PushKeys []string
}

// Fault is an injected failure for the GET requests of one blob. Each
// field applies to the first Times requests (all requests when Times is 0).
type Fault struct {
	DropAfter  int64         // close the connection after this many body bytes
	StallAfter int64         // stop sending after this many body bytes...
	StallFor   time.Duration // ...for this long (0: until the client hangs up)
	Status     int           // answer with this status instead
	Corrupt    bool          // send bytes that do not match the digest
	Times      int
	used       int
}

type blob struct {
	data []byte // in memory, or
	path string // served from a file
	size int64
}

type repo struct {
	manifests map[string][]byte // tag (lower case) -> manifest
	blobs     map[string]bool   // digests linked into the repository
}

type upload struct {
	repo string
	buf  bytes.Buffer
}

// Server is a test registry. Its exported methods are safe to call while
// it serves.
type Server struct {
	URL  string // base URL of the registry API, http://127.0.0.1:port
	Host string // 127.0.0.1:port, for model names

	opts     Options
	reg      *httptest.Server
	blobHost *httptest.Server
	secret   string

	mu       sync.Mutex
	repos    map[string]*repo // lower-case "namespace/model"
	blobs    map[string]*blob
	tokens   map[string]string // token -> scope string it grants
	private  map[string]string // repo -> bearer secret that may read it
	uploads  map[string]*upload
	faults   map[string]*Fault
	bursts   map[string]*burst // request kind -> 5xx burst
	served   map[string]int64  // digest -> body bytes written
	requests map[string]int    // request kind -> count
	leaks    []string          // credentials seen on the blob host
	throttle int64
}

type burst struct {
	status int
	n      int
}

// New starts a registry (and, with Redirect, a blob host) and stops them
// when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{
		opts: opts, repos: map[string]*repo{}, blobs: map[string]*blob{}, tokens: map[string]string{},
		private: map[string]string{}, uploads: map[string]*upload{}, faults: map[string]*Fault{},
		bursts: map[string]*burst{}, served: map[string]int64{}, requests: map[string]int{},
		throttle: opts.Throttle, secret: randomHex(8),
	}
	s.reg = httptest.NewServer(http.HandlerFunc(s.serveRegistry))
	s.URL = s.reg.URL
	s.Host = strings.TrimPrefix(s.reg.URL, "http://")
	if opts.Redirect {
		s.blobHost = httptest.NewServer(http.HandlerFunc(s.serveBlobHost))
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the servers.
func (s *Server) Close() {
	s.reg.CloseClientConnections()
	s.reg.Close()
	if s.blobHost != nil {
		s.blobHost.CloseClientConnections()
		s.blobHost.Close()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// AddBlob stores data and returns its digest.
func (s *Server) AddBlob(data []byte) string {
	sum := sha256.Sum256(data)
	d := "sha256:" + hex.EncodeToString(sum[:])
	s.mu.Lock()
	s.blobs[d] = &blob{data: data, size: int64(len(data))}
	s.mu.Unlock()
	return d
}

// AddBlobFile serves a file as a blob (read on each request, so large
// blobs stay on disk) and returns its digest and size.
func (s *Server) AddBlobFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	s.mu.Lock()
	s.blobs[d] = &blob{path: path, size: n}
	s.mu.Unlock()
	return d, n, nil
}

func (s *Server) repoLocked(name string) *repo {
	key := strings.ToLower(name)
	r := s.repos[key]
	if r == nil {
		r = &repo{manifests: map[string][]byte{}, blobs: map[string]bool{}}
		s.repos[key] = r
	}
	return r
}

// AddManifest publishes raw as repo:tag and links the blobs it names into
// the repository (those the server has; a manifest may name a missing
// blob on purpose).
func (s *Server) AddManifest(repoName, tag string, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(repoName)
	r.manifests[strings.ToLower(tag)] = raw
	var m store.Manifest
	if json.Unmarshal(raw, &m) == nil {
		for _, l := range m.Blobs() {
			r.blobs[l.Digest] = true
		}
	}
}

// Model describes a model to publish: a GGUF file plus optional text
// layers.
type Model struct {
	GGUF     string         // path of the model file
	Template string         // optional template layer
	System   string         // optional system layer
	Params   map[string]any // optional params layer
}

// AddModel publishes a model as repo:tag, with a config blob like the one
// Ollama's registry serves, and returns the manifest.
func (s *Server) AddModel(repoName, tag string, m Model) ([]byte, error) {
	d, size, err := s.AddBlobFile(m.GGUF)
	if err != nil {
		return nil, err
	}
	layers := []store.Layer{{MediaType: store.MediaTypeModel, Digest: d, Size: size}}
	text := func(mediaType string, data []byte) {
		layers = append(layers, store.Layer{MediaType: mediaType, Digest: s.AddBlob(data), Size: int64(len(data))})
	}
	if m.Template != "" {
		text(store.MediaTypeTemplate, []byte(m.Template))
	}
	if m.System != "" {
		text(store.MediaTypeSystem, []byte(m.System))
	}
	if m.Params != nil {
		b, _ := json.Marshal(m.Params)
		text(store.MediaTypeParams, b)
	}
	var diffs []string
	for _, l := range layers {
		diffs = append(diffs, l.Digest)
	}
	cfg, _ := json.Marshal(store.ConfigFile{ModelFormat: "gguf", Architecture: "amd64", OS: "linux",
		RootFS: store.RootFS{Type: "layers", DiffIDs: diffs}})
	cd := s.AddBlob(cfg)
	raw, err := json.Marshal(store.Manifest{SchemaVersion: 2, MediaType: store.MediaTypeManifest,
		Config: store.Layer{MediaType: store.MediaTypeConfig, Digest: cd, Size: int64(len(cfg))}, Layers: layers})
	if err != nil {
		return nil, err
	}
	s.AddManifest(repoName, tag, raw)
	return raw, nil
}

// AddFromStore publishes a model of a local store, blobs served from the
// store's files.
func (s *Server) AddFromStore(st *store.Store, name, repoName, tag string) error {
	m, err := st.Get(name)
	if err != nil {
		return err
	}
	for _, l := range m.Manifest.Blobs() {
		p, err := st.BlobPath(l.Digest)
		if err != nil {
			return err
		}
		if _, _, err := s.AddBlobFile(p); err != nil {
			return err
		}
	}
	s.AddManifest(repoName, tag, m.Raw)
	return nil
}

// Manifest returns the manifest published as repo:tag, if any.
func (s *Server) Manifest(repoName, tag string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(repoName)]
	if r == nil {
		return nil, false
	}
	raw, ok := r.manifests[strings.ToLower(tag)]
	return raw, ok
}

// HasBlob reports whether the server holds a blob.
func (s *Server) HasBlob(digest string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blobs[digest] != nil
}

// RemoveBlob forgets a blob, so manifests naming it point at nothing.
func (s *Server) RemoveBlob(digest string) {
	s.mu.Lock()
	delete(s.blobs, digest)
	s.mu.Unlock()
}

// SetPrivate makes a repository readable only with the given bearer
// secret (as Hugging Face does with HF_TOKEN for private repositories).
func (s *Server) SetPrivate(repoName, secret string) {
	s.mu.Lock()
	s.private[strings.ToLower(repoName)] = secret
	s.mu.Unlock()
}

// SetFault injects a fault into GET requests for a blob.
func (s *Server) SetFault(digest string, f Fault) {
	s.mu.Lock()
	s.faults[digest] = &f
	s.mu.Unlock()
}

// ClearFaults removes every injected fault and burst.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = map[string]*Fault{}
	s.bursts = map[string]*burst{}
	s.mu.Unlock()
}

// FailNext answers the next n requests of a kind with status. Kinds:
// "manifest", "blob" (registry blob requests), "blobhost", "token",
// "upload".
func (s *Server) FailNext(kind string, status, n int) {
	s.mu.Lock()
	s.bursts[kind] = &burst{status: status, n: n}
	s.mu.Unlock()
}

// ExpireTokens invalidates every token issued so far.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	s.tokens = map[string]string{}
	s.mu.Unlock()
}

// ExpireBlobURLs invalidates the signed blob-host URLs handed out so far.
func (s *Server) ExpireBlobURLs() {
	s.mu.Lock()
	s.secret = randomHex(8)
	s.mu.Unlock()
}

// SetThrottle changes the per-response rate limit (bytes per second; 0
// for none).
func (s *Server) SetThrottle(bps int64) {
	s.mu.Lock()
	s.throttle = bps
	s.mu.Unlock()
}

// BytesServed returns the body bytes of a blob written to clients so far.
func (s *Server) BytesServed(digest string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[digest]
}

// ResetStats zeroes the byte and request counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	s.served = map[string]int64{}
	s.requests = map[string]int{}
	s.mu.Unlock()
}

// Requests returns how many requests of a kind arrived.
func (s *Server) Requests(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[kind]
}

// Leaks lists requests to the blob host that carried credentials, which a
// client must never send there.
func (s *Server) Leaks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.leaks...)
}

// count records a request and applies a pending 5xx burst.
func (s *Server) count(w http.ResponseWriter, kind string) bool {
	s.mu.Lock()
	s.requests[kind]++
	b := s.bursts[kind]
	fail := b != nil && b.n > 0
	if fail {
		b.n--
	}
	s.mu.Unlock()
	if fail {
		http.Error(w, "injected failure", b.status)
		return true
	}
	return false
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// serveRegistry routes /token and /v2/<namespace>/<model>/...
func (s *Server) serveRegistry(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		s.serveToken(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint")
		return
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 4 {
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", "no such endpoint")
		return
	}
	repoName := parts[0] + "/" + parts[1]
	kind, ref := parts[2], strings.Join(parts[3:], "/")
	push := r.Method != http.MethodGet && r.Method != http.MethodHead
	if !s.authorized(w, r, repoName, push) {
		return
	}
	switch {
	case kind == "manifests" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		if s.count(w, "manifest") {
			return
		}
		raw, ok := s.Manifest(repoName, ref)
		if !ok {
			writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		w.Header().Set("Content-Type", store.MediaTypeManifest)
		w.Header().Set("Docker-Content-Digest", store.DigestOf(raw))
		w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
		if r.Method == http.MethodGet {
			w.Write(raw)
		}
	case kind == "manifests" && r.Method == http.MethodPut:
		s.putManifest(w, r, repoName, ref)
	case kind == "blobs" && ref == "uploads/" || kind == "blobs" && strings.HasPrefix(ref, "uploads"):
		s.serveUpload(w, r, repoName, strings.TrimPrefix(strings.TrimPrefix(ref, "uploads"), "/"))
	case kind == "blobs" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		if s.count(w, "blob") {
			return
		}
		s.mu.Lock()
		rp := s.repos[strings.ToLower(repoName)]
		linked := rp != nil && rp.blobs[ref]
		b := s.blobs[ref]
		s.mu.Unlock()
		if !linked || b == nil {
			writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
			return
		}
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", strconv.FormatInt(b.size, 10))
			w.Header().Set("Docker-Content-Digest", ref)
			return
		}
		if s.blobHost != nil {
			sig := s.sign(ref)
			http.Redirect(w, r, s.blobHost.URL+"/blobs/"+ref+"?sig="+sig, http.StatusTemporaryRedirect)
			return
		}
		s.serveBlob(w, r, ref)
	default:
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", r.Method+" "+r.URL.Path)
	}
}

func (s *Server) sign(digest string) string {
	s.mu.Lock()
	secret := s.secret
	s.mu.Unlock()
	sum := sha256.Sum256([]byte(secret + digest))
	return hex.EncodeToString(sum[:8])
}

// serveBlobHost serves signed blob URLs, like a CDN in front of a registry.
func (s *Server) serveBlobHost(w http.ResponseWriter, r *http.Request) {
	if s.count(w, "blobhost") {
		return
	}
	if a := r.Header.Get("Authorization"); a != "" {
		s.mu.Lock()
		s.leaks = append(s.leaks, r.URL.Path+": "+a)
		s.mu.Unlock()
	}
	digest := strings.TrimPrefix(r.URL.Path, "/blobs/")
	if r.URL.Query().Get("sig") != s.sign(digest) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	s.serveBlob(w, r, digest)
}

// authorized enforces token auth and private repositories.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, repoName string, push bool) bool {
	key := strings.ToLower(repoName)
	s.mu.Lock()
	secret := s.private[key]
	s.mu.Unlock()
	auth := r.Header.Get("Authorization")
	tok, isBearer := strings.CutPrefix(auth, "Bearer ")
	if secret != "" && isBearer && tok == secret && !push {
		return true
	}
	if !s.opts.Auth && secret == "" && !(push && s.opts.PushCredentials != "") {
		return true
	}
	action := "pull"
	if push {
		action = "pull,push"
	}
	if isBearer {
		s.mu.Lock()
		scope, ok := s.tokens[tok]
		s.mu.Unlock()
		if ok && scopeAllows(scope, key, push) {
			return true
		}
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="registrytest",scope="repository:%s:%s"`, s.URL, repoName, action))
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	return false
}

func scopeAllows(scope, repoKey string, push bool) bool {
	for _, sc := range strings.Fields(scope) {
		parts := strings.Split(sc, ":")
		if len(parts) != 3 || parts[0] != "repository" || strings.ToLower(parts[1]) != repoKey {
			continue
		}
		if !push || strings.Contains(parts[2], "push") {
			return true
		}
	}
	return false
}

// serveToken issues tokens for the scopes asked, checking credentials for
// push scopes and private repositories.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if s.count(w, "token") {
		return
	}
	var granted []string
	for _, sc := range r.URL.Query()["scope"] {
		parts := strings.Split(sc, ":")
		if len(parts) != 3 {
			continue
		}
		repoKey := strings.ToLower(parts[1])
		s.mu.Lock()
		secret := s.private[repoKey]
		s.mu.Unlock()
		if secret != "" && r.Header.Get("Authorization") != "Bearer "+secret {
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "repository is private")
			return
		}
		if strings.Contains(parts[2], "push") && len(s.opts.PushKeys) > 0 {
			if err := s.checkSigned(r); err != nil {
				writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "push needs a request signed by a registered key: "+err.Error())
				return
			}
		}
		if strings.Contains(parts[2], "push") && s.opts.PushCredentials != "" {
			user, pass, ok := r.BasicAuth()
			if !ok || user+":"+pass != s.opts.PushCredentials {
				writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "push needs credentials")
				return
			}
		}
		granted = append(granted, sc)
	}
	tok := randomHex(16)
	s.mu.Lock()
	s.tokens[tok] = strings.Join(granted, " ")
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": 300})
}

// serveBlob writes a blob or a range of it, applying faults and throttling.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, digest string) {
	s.mu.Lock()
	b := s.blobs[digest]
	f := s.faults[digest]
	var fault Fault
	if f != nil && (f.Times == 0 || f.used < f.Times) {
		f.used++
		fault = *f
	}
	throttle := s.throttle
	s.mu.Unlock()
	if b == nil {
		writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown")
		return
	}
	if fault.Status != 0 {
		http.Error(w, "injected failure", fault.Status)
		return
	}
	start, end := int64(0), b.size-1
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" && b.size > 0 {
		spec, ok := strings.CutPrefix(rg, "bytes=")
		a, z, ok2 := strings.Cut(spec, "-")
		sa, err1 := strconv.ParseInt(a, 10, 64)
		sz, err2 := strconv.ParseInt(z, 10, 64)
		if z == "" {
			sz, err2 = b.size-1, nil
		}
		if !ok || !ok2 || err1 != nil || err2 != nil || sa > sz || sa >= b.size {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", b.size))
			http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start, end = sa, min(sz, b.size-1)
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, b.size))
	}
	n := end - start + 1
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(status)

	var src io.ReaderAt
	if b.data != nil {
		src = bytes.NewReader(b.data)
	} else {
		fh, err := os.Open(b.path)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		defer fh.Close()
		src = fh
	}
	flusher, _ := w.(http.Flusher)
	chunk := int64(32 << 10)
	if throttle > 0 {
		chunk = max(1024, min(chunk, throttle/50))
	}
	began := time.Now()
	var sent int64
	buf := make([]byte, chunk)
	for sent < n {
		want := min(chunk, n-sent)
		if fault.DropAfter > 0 && sent >= fault.DropAfter {
			if flusher != nil {
				flusher.Flush()
			}
			panic(http.ErrAbortHandler) // drops the connection mid-body
		}
		if fault.DropAfter > 0 {
			want = min(want, fault.DropAfter-sent)
		}
		if fault.StallAfter > 0 && sent >= fault.StallAfter {
			if flusher != nil {
				flusher.Flush()
			}
			if fault.StallFor > 0 {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(fault.StallFor):
				}
				fault.StallAfter = 0
			} else {
				<-r.Context().Done()
				return
			}
		}
		if fault.StallAfter > 0 {
			want = min(want, fault.StallAfter-sent)
		}
		k, err := src.ReadAt(buf[:want], start+sent)
		if k == 0 && err != nil {
			panic(http.ErrAbortHandler)
		}
		out := buf[:k]
		if fault.Corrupt {
			out = append([]byte(nil), out...)
			for i := range out {
				out[i] ^= 0x5a
			}
		}
		wrote, werr := w.Write(out)
		s.mu.Lock()
		s.served[digest] += int64(wrote)
		s.mu.Unlock()
		if werr != nil {
			return
		}
		sent += int64(wrote)
		if throttle > 0 {
			if flusher != nil {
				flusher.Flush()
			}
			// Sleep until the bytes sent fit the rate.
			due := began.Add(time.Duration(float64(sent) / float64(throttle) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(d):
				}
			}
		}
	}
}

// serveUpload handles POST .../blobs/uploads/ (with ?mount= and ?from=),
// PATCH and GET on an upload, and PUT ?digest= to finish it.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, repoName, id string) {
	if s.count(w, "upload") {
		return
	}
	loc := func(id string) string { return "/v2/" + repoName + "/blobs/uploads/" + id }
	switch r.Method {
	case http.MethodPost:
		if d, from := r.URL.Query().Get("mount"), r.URL.Query().Get("from"); d != "" && from != "" {
			s.mu.Lock()
			src := s.repos[strings.ToLower(from)]
			ok := src != nil && src.blobs[d] && s.blobs[d] != nil
			if ok {
				s.repoLocked(repoName).blobs[d] = true
				s.requests["mount"]++
			}
			s.mu.Unlock()
			if ok {
				w.Header().Set("Location", "/v2/"+repoName+"/blobs/"+d)
				w.Header().Set("Docker-Content-Digest", d)
				w.WriteHeader(http.StatusCreated)
				return
			}
		}
		id := randomHex(8)
		s.mu.Lock()
		s.uploads[id] = &upload{repo: repoName}
		s.mu.Unlock()
		w.Header().Set("Location", loc(id))
		w.Header().Set("Range", "0-0")
		w.WriteHeader(http.StatusAccepted)
	case http.MethodPatch, http.MethodGet, http.MethodPut:
		s.mu.Lock()
		u := s.uploads[id]
		s.mu.Unlock()
		if u == nil {
			writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "upload unknown")
			return
		}
		if r.Method == http.MethodPatch {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			if cr := r.Header.Get("Content-Range"); cr != "" {
				a, _, _ := strings.Cut(cr, "-")
				if off, err := strconv.ParseInt(a, 10, 64); err != nil || off != int64(u.buf.Len()) {
					writeError(w, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", "chunk out of order")
					return
				}
			}
			s.mu.Lock()
			u.buf.Write(body)
			s.mu.Unlock()
		}
		if r.Method == http.MethodPut {
			io.Copy(&u.buf, r.Body)
			d := r.URL.Query().Get("digest")
			data := append([]byte(nil), u.buf.Bytes()...)
			if store.DigestOf(data) != d {
				writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "digest does not match the uploaded bytes")
				return
			}
			s.AddBlob(data)
			s.mu.Lock()
			s.repoLocked(repoName).blobs[d] = true
			delete(s.uploads, id)
			s.mu.Unlock()
			w.Header().Set("Location", "/v2/"+repoName+"/blobs/"+d)
			w.Header().Set("Docker-Content-Digest", d)
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.Header().Set("Location", loc(id))
		w.Header().Set("Range", fmt.Sprintf("0-%d", max(0, u.buf.Len()-1)))
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", r.Method)
	}
}

// putManifest accepts a pushed manifest whose blobs are all in the
// repository.
func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, repoName, tag string) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return
	}
	m, err := store.ParseManifest(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", err.Error())
		return
	}
	s.mu.Lock()
	rp := s.repoLocked(repoName)
	for _, l := range m.Blobs() {
		if !rp.blobs[l.Digest] || s.blobs[l.Digest] == nil {
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blob "+l.Digest+" unknown")
			return
		}
	}
	rp.manifests[strings.ToLower(tag)] = raw
	s.mu.Unlock()
	w.Header().Set("Docker-Content-Digest", store.DigestOf(raw))
	w.WriteHeader(http.StatusCreated)
}

// checkSigned verifies a key-signed token request: a recent ts, a nonce,
// and a signature over the request by one of PushKeys.
func (s *Server) checkSigned(r *http.Request) error {
	q := r.URL.Query()
	ts, err := strconv.ParseInt(q.Get("ts"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return fmt.Errorf("bad or stale ts %q", q.Get("ts"))
	}
	if q.Get("nonce") == "" {
		return errors.New("no nonce")
	}
	pub64, sig64, ok := strings.Cut(r.Header.Get("Authorization"), ":")
	if !ok {
		return errors.New("no signature")
	}
	pubRaw, err1 := base64.StdEncoding.DecodeString(pub64)
	sig, err2 := base64.StdEncoding.DecodeString(sig64)
	if err1 != nil || err2 != nil {
		return errors.New("malformed signature")
	}
	pub, err := ssh.ParsePublicKey(pubRaw)
	if err != nil {
		return fmt.Errorf("public key: %v", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	known := false
	for _, k := range s.opts.PushKeys {
		known = known || strings.TrimSpace(k) == line
	}
	if !known {
		return errors.New("unknown key " + line)
	}
	empty := sha256.Sum256(nil)
	data := r.Method + ",http://" + r.Host + r.URL.RequestURI() + "," + base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(empty[:])))
	if err := pub.Verify([]byte(data), &ssh.Signature{Format: pub.Type(), Blob: sig}); err != nil {
		return errors.New("bad signature")
	}
	return nil
}
