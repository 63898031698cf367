package webui

import (
	"embed"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// dist is the built front end (web/ builds into it).
//
//go:embed all:dist
var dist embed.FS

// serveAsset serves a file of the front end, or index.html for any other path so that client-side
// routes survive a reload. Hashed files under assets/ are cached for good; index.html never is. A
// precompressed name.gz beside a file is sent to clients that accept gzip.
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
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		if _, err := fs.Stat(dist, file+".gz"); err == nil {
			file += ".gz"
			w.Header().Set("Content-Encoding", "gzip")
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
