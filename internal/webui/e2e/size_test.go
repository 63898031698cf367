package e2e

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// budget is the limit on the UI's initial download, gzipped.
const budget = 300 << 10

// TestInitialDownloadBudget sums the gzipped size of index.html and of every file it references (the
// entry script, the stylesheet, the icon): what a browser fetches before the UI can draw anything.
func TestInitialDownloadBudget(t *testing.T) {
	dist := filepath.Join("..", "dist")
	index, err := os.ReadFile(filepath.Join(dist, "index.html"))
	if err != nil {
		t.Fatalf("the built front end is missing (cd web && npm ci && npm run build): %v", err)
	}
	total := gzipSize(t, index)
	refs := regexp.MustCompile(`(?:src|href)="/([^"]+)"`).FindAllSubmatch(index, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d files; want at least the script and the stylesheet", len(refs))
	}
	var sawJS bool
	for _, m := range refs {
		name := string(m[1])
		data, err := os.ReadFile(filepath.Join(dist, filepath.FromSlash(name)))
		if err != nil {
			t.Fatalf("index.html references %s, which is not in dist: %v", name, err)
		}
		if filepath.Ext(name) == ".js" {
			sawJS = true
		}
		n := gzipSize(t, data)
		t.Logf("%-40s %7d bytes, %6d gzipped", name, len(data), n)
		total += n
	}
	if !sawJS {
		t.Fatal("index.html references no script")
	}
	t.Logf("initial download: %d bytes gzipped (budget %d)", total, budget)
	if total >= budget {
		t.Errorf("initial download is %d bytes gzipped, over the %d budget", total, budget)
	}
}

func gzipSize(t *testing.T, data []byte) int {
	t.Helper()
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Len()
}
