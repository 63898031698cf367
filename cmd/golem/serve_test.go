package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeCommand starts `golem serve` on a free loopback port, talks
// to it, and stops it with SIGTERM (a graceful shutdown, exit status 0).
func TestServeCommand(t *testing.T) {
	cleanServeEnv(t)
	pr, pw := io.Pipe()
	var stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"serve", "--host", "127.0.0.1:0", "--models", t.TempDir(), "--keep-alive", "1m"}, strings.NewReader(""), pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v (stderr %s)", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("listening line %q", line)
	}
	base := strings.TrimSpace(line[i:])
	resp, err := http.Get(base + "/api/version")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Version string }
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if v.Version != version {
		t.Fatalf("/api/version answered %q, want %q", v.Version, version)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited with %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	if _, err := http.Get(base + "/api/version"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	for _, args := range [][]string{{"serve", "--host", "ftp://x"}, {"serve", "--keep-alive", "soon"}, {"serve", "extra"}} {
		var out, errb strings.Builder
		if code := Main(args, strings.NewReader(""), &out, &errb); code != 2 {
			t.Fatalf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
}
