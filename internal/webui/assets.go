package webui

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// dist is the built front end (web/ builds into it).
//
//go:embed all:dist
var dist embed.FS

// serveAsset serves a file of the front end, or index.html for any other path so that client-side
// routes survive a reload. Hashed files under assets/ are cached for good; index.html never is. Text
// files go gzipped to clients that accept it.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	st, err := fs.Stat(dist, "dist/"+name)
	if err != nil || st.IsDir() {
		if path.Ext(name) != "" && !strings.HasSuffix(name, ".html") {
			// A missing script or image is a 404, not the app's page.
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		name = "index.html"
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(name, "assets/") {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Add("Vary", "Accept-Encoding")
	file := "dist/" + name
	if compressible[path.Ext(name)] && acceptsGzip(r) {
		if gz := gzipped(file); gz != nil {
			w.Header().Set("Content-Encoding", "gzip")
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(gz))
			return
		}
	}
	f, err := dist.Open(file)
	if err != nil {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, name, time.Time{}, f.(io.ReadSeeker))
}

// compressible lists the extensions worth gzipping (images and fonts are compressed already).
var compressible = map[string]bool{".js": true, ".mjs": true, ".css": true, ".html": true, ".svg": true,
	".json": true, ".txt": true, ".webmanifest": true, ".map": true}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}

// gzipCache holds each embedded file's gzip encoding, made on first request: the build stays
// byte-reproducible (gzip output differs between zlib versions) and each file is compressed once.
// A nil entry means compression did not make the file smaller.
var gzipCache sync.Map // file → []byte

func gzipped(file string) []byte {
	if b, ok := gzipCache.Load(file); ok {
		return b.([]byte)
	}
	raw, err := dist.ReadFile(file)
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(raw)
	zw.Close()
	var b []byte
	if buf.Len() < len(raw) {
		b = buf.Bytes()
	}
	gzipCache.Store(file, b)
	return b
}
