package db_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/golem-llm/golem/internal/db"
	"github.com/golem-llm/golem/internal/db/dbtest"
)

func open(t *testing.T, u, dir string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), u, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestOpenMigratesOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, u, dir string) {
		ctx := context.Background()
		d := open(t, u, dir)
		v, err := d.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := db.Schema[len(db.Schema)-1].Version; v != want {
			t.Fatalf("version %d, want %d", v, want)
		}
		// A second open finds nothing to do and keeps one row per step.
		open(t, u, dir)
		var n int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(db.Schema) {
			t.Fatalf("%d schema_migrations rows, want %d", n, len(db.Schema))
		}
		if u == "" {
			if d.Where != filepath.Join(dir, db.FileName) {
				t.Fatalf("sqlite file at %s, want in the data dir", d.Where)
			}
		}
	})
}

// Replicas starting together: every Open succeeds and each migration is applied exactly once.
func TestMigrationsRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, u, dir string) {
		ctx := context.Background()
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		dbs := make([]*db.DB, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dbs[i], errs[i] = db.Open(ctx, u, dir)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
			defer dbs[i].Close()
		}
		var rows int
		if err := dbs[0].QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != len(db.Schema) {
			t.Fatalf("%d migration rows after a race, want %d", rows, len(db.Schema))
		}
		// A later step applied by racing replicas runs once too.
		extra := append(append([]db.Migration{}, db.Schema...), db.Migration{Version: 1000, Name: "test step",
			SQL: "CREATE TABLE race_probe (id BIGINT PRIMARY KEY);\nINSERT INTO race_probe (id) VALUES (1);"})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = dbs[i].Migrate(ctx, extra)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("migrate %d: %v", i, err)
			}
		}
		if err := dbs[0].QueryRow(ctx, `SELECT COUNT(*) FROM race_probe`).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("race_probe rows %d (%v), want 1", rows, err)
		}
		// Now the database is newer than the original schema: an old binary must refuse it.
		if err := dbs[0].Migrate(ctx, db.Schema); err == nil || !strings.Contains(err.Error(), "newer") {
			t.Fatalf("old schema against newer database: %v", err)
		}
	})
}

// Lock serializes read-modify-write transactions across connections (PostgreSQL advisory lock;
// SQLite's immediate transactions).
func TestLockSerializes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, u, dir string) {
		ctx := context.Background()
		a, b := open(t, u, dir), open(t, u, dir)
		if _, err := a.Exec(ctx, `INSERT INTO config (key, value, updated_at) VALUES ('counter', '0', 0)`); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		const per = 10
		errc := make(chan error, 2*per)
		for _, d := range []*db.DB{a, b} {
			for range per {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errc <- d.InTx(ctx, func(tx *db.Tx) error {
						if err := tx.Lock(ctx, "counter"); err != nil {
							return err
						}
						var v int
						var s string
						if err := tx.QueryRow(ctx, `SELECT value FROM config WHERE key = ?`, "counter").Scan(&s); err != nil {
							return err
						}
						fmt.Sscan(s, &v)
						_, err := tx.Exec(ctx, `UPDATE config SET value = ? WHERE key = ?`, fmt.Sprint(v+1), "counter")
						return err
					})
				}()
			}
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		var s string
		if err := a.QueryRow(ctx, `SELECT value FROM config WHERE key = 'counter'`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		if s != fmt.Sprint(2*per) {
			t.Fatalf("counter %s after %d locked increments", s, 2*per)
		}
	})
}

func TestUniqueViolationAndPlaceholders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, u, dir string) {
		ctx := context.Background()
		d := open(t, u, dir)
		ins := `INSERT INTO config (key, value, updated_at) VALUES (?, ?, ?)`
		if _, err := d.Exec(ctx, ins, "k", "it's '?' here", 1); err != nil {
			t.Fatal(err)
		}
		_, err := d.Exec(ctx, ins, "k", "again", 2)
		if !db.IsUniqueViolation(err) {
			t.Fatalf("duplicate key: %v, want a unique violation", err)
		}
		if db.IsUniqueViolation(errors.New("UNIQUE constraint failed")) {
			t.Fatal("a plain error is not a unique violation")
		}
		// A literal '?' in quotes is not a placeholder.
		var v string
		if err := d.QueryRow(ctx, `SELECT value FROM config WHERE key = ? AND value <> '?'`, "k").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != "it's '?' here" {
			t.Fatalf("value %q", v)
		}
	})
}

func TestOpenBadURL(t *testing.T) {
	for _, u := range []string{"mysql://x", "postgres://golem:secret@127.0.0.1:1/nope?connect_timeout=2"} {
		_, err := db.Open(context.Background(), u, t.TempDir())
		if err == nil {
			t.Fatalf("Open(%q) succeeded", u)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Fatalf("error shows the password: %v", err)
		}
	}
}
