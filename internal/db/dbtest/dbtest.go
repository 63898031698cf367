// Package dbtest gives tests a fresh database of each kind: a SQLite file in a temp dir, and — when
// GOLEM_TEST_DATABASE_URL names a PostgreSQL server (scripts/postgres.sh starts one) — a new PostgreSQL
// database on it, dropped when the test ends. With GOLEM_REQUIRE_POSTGRES=1 a missing server fails the
// test instead of leaving PostgreSQL untested.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// Backend is one kind of database a test runs against.
type Backend struct {
	Name string // "sqlite" or "postgres"
	// New returns a DATABASE_URL for an empty database ("" for SQLite: use the data dir) and a data dir.
	New func(t *testing.T) (dbURL, dataDir string)
}

// Backends lists SQLite and, when configured, PostgreSQL.
func Backends(t *testing.T) []Backend {
	t.Helper()
	bs := []Backend{{Name: "sqlite", New: func(t *testing.T) (string, string) { return "", t.TempDir() }}}
	if base, ok := PostgresURL(t); ok {
		bs = append(bs, Backend{Name: "postgres", New: func(t *testing.T) (string, string) {
			return FreshPostgres(t, base), t.TempDir()
		}})
	}
	return bs
}

// Each runs fn as a subtest against every backend.
func Each(t *testing.T, fn func(t *testing.T, dbURL, dataDir string)) {
	t.Helper()
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			u, dir := b.New(t)
			fn(t, u, dir)
		})
	}
}

// PostgresURL returns GOLEM_TEST_DATABASE_URL. When it is unset the result is false, and the test fails
// if GOLEM_REQUIRE_POSTGRES=1.
func PostgresURL(t *testing.T) (string, bool) {
	t.Helper()
	u := os.Getenv("GOLEM_TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("GOLEM_REQUIRE_POSTGRES") == "1" {
			t.Fatal("GOLEM_REQUIRE_POSTGRES=1 but GOLEM_TEST_DATABASE_URL is empty: start one with scripts/postgres.sh")
		}
		t.Log("GOLEM_TEST_DATABASE_URL unset: PostgreSQL cases not run (scripts/postgres.sh starts a server)")
		return "", false
	}
	return u, true
}

// FreshPostgres creates an empty database on the server at base and returns its URL; the database is
// dropped when the test ends.
func FreshPostgres(t *testing.T, base string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "golem_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("GOLEM_TEST_DATABASE_URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatalf("create test database on %s: %v", base, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("GOLEM_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
