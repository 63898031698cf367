// Package testutil holds helpers shared by tests: locating the read-only
// shared test data that sits beside the repository (../shared).
package testutil

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot returns the directory holding go.mod, found by walking up from
// the working directory of the test.
func RepoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = os.ErrNotExist
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatalf("cannot find the repository root (go.mod): %v", rootErr)
	}
	return rootDir
}

// Shared returns the path of a file or folder under the shared test data
// folder (../shared from the repository root). The test fails, never skips,
// when it is missing: CI always has it.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{RepoRoot(t), "..", "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared test data missing: %v (the tests expect ../shared beside the repository)", err)
	}
	return p
}
