package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProbeCommand: exit 0 when every URL answers 2xx, 1 with one line per
// failing URL otherwise, 2 for a wrong command line.
func TestProbeCommand(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("ok"))
		case "/created":
			w.WriteHeader(http.StatusCreated)
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(release)
	closed := httptest.NewServer(http.NotFoundHandler())
	dead := closed.URL + "/healthz"
	closed.Close()

	run := func(args ...string) (int, string, string) {
		var out, errb strings.Builder
		code := Main(append([]string{"probe"}, args...), nil, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errb := run(srv.URL+"/ok", srv.URL+"/created", srv.URL+"/moved"); code != 0 || errb != "" || strings.Count(out, ": ok") != 3 {
		t.Fatalf("all 2xx: exit %d, %q %q", code, out, errb)
	}
	code, _, errb := run(srv.URL+"/ok", srv.URL+"/busy", srv.URL+"/missing", dead, "ftp://x/y")
	lines := strings.Split(strings.TrimSpace(errb), "\n")
	if code != 1 || len(lines) != 4 {
		t.Fatalf("failures: exit %d, %q", code, errb)
	}
	for i, want := range []string{srv.URL + "/busy: 503 Service Unavailable", srv.URL + "/missing: 404 Not Found", dead + ": ", "ftp://x/y: not an http"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want it to start with %q", i, lines[i], want)
		}
	}
	start := time.Now()
	code, _, errb = run("--timeout", "200ms", srv.URL+"/slow")
	if code != 1 || !strings.Contains(errb, "no answer within 200ms") || time.Since(start) > 5*time.Second {
		t.Fatalf("slow URL: exit %d, %q after %v", code, errb, time.Since(start))
	}
	// Flags after the URLs work too, as the chart may write them.
	if code, _, errb := run(srv.URL+"/ok", "--timeout", "2s"); code != 0 {
		t.Fatalf("flag after the URL: exit %d %q", code, errb)
	}
	for _, args := range [][]string{{}, {"--timeout", "0s", srv.URL}, {"--timeout", "soon", srv.URL}} {
		if code, _, errb := run(args...); code != 2 {
			t.Errorf("probe %v: exit %d, want 2 (%q)", args, code, errb)
		}
	}
}
