// Package db opens Golem's database — SQLite (pure Go) in the data dir by default, PostgreSQL when a
// postgres:// URL is given — and brings its schema up to date in a way that is safe when several
// replicas start at once. Queries are written once, with ? placeholders, in the SQL both engines share.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"               // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL engine behind a DB.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// DB is a database handle whose query methods take ? placeholders in either dialect.
type DB struct {
	sql     *sql.DB
	Dialect Dialect
	// Where is a human-readable location (file path or host/database), for logs and errors.
	Where string
}

// FileName is the SQLite database's name inside the data dir.
const FileName = "golem.db"

// Open connects to url — "postgres://…" or "postgresql://…" for PostgreSQL, "sqlite:///path/file.db" or ""
// for SQLite (an empty url means dataDir/golem.db) — and applies the schema migrations.
func Open(ctx context.Context, url, dataDir string) (*DB, error) {
	d, err := open(url, dataDir)
	if err != nil {
		return nil, err
	}
	if err := d.connect(ctx); err != nil {
		d.sql.Close()
		return nil, fmt.Errorf("db: connect to %s %s: %w", d.Dialect, d.Where, err)
	}
	if err := d.Migrate(ctx, Schema); err != nil {
		d.sql.Close()
		return nil, err
	}
	return d, nil
}

// connect opens the first connection. SQLite answers SQLITE_BUSY without
// waiting on busy_timeout when another process is switching the same new
// file to WAL at that moment (two replicas starting together), so that one
// case is retried for a while.
func (d *DB) connect(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := d.sql.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || d.Dialect != SQLite || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func open(url, dataDir string) (*DB, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		s, err := sql.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("db: DATABASE_URL: %w", err)
		}
		s.SetMaxOpenConns(16)
		return &DB{sql: s, Dialect: Postgres, Where: redactURL(url)}, nil
	case url == "" || strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" {
			if dataDir == "" {
				return nil, errors.New("db: no database URL and no data dir")
			}
			path = filepath.Join(dataDir, FileName)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("db: data dir: %w", err)
		}
		// WAL lets readers run beside the single writer; immediate transactions take the write lock up
		// front so two writers (or two processes) queue on busy_timeout instead of failing to upgrade.
		dsn := "file:" + path + "?_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		s, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("db: open %s: %w", path, err)
		}
		return &DB{sql: s, Dialect: SQLite, Where: path}, nil
	default:
		return nil, fmt.Errorf("db: DATABASE_URL %q: want postgres://…, postgresql://… or sqlite:///path", redactURL(url))
	}
}

// redactURL hides a password in a connection URL.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	cred := u[scheme+3 : at]
	if i := strings.Index(cred, ":"); i >= 0 {
		return u[:scheme+3] + cred[:i] + ":***" + u[at:]
	}
	return u
}

// Close closes the connection pool.
func (d *DB) Close() error { return d.sql.Close() }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.sql.PingContext(ctx) }

// Exec runs a statement written with ? placeholders.
func (d *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.sql.ExecContext(ctx, d.rebind(q), args...)
}

// Query runs a query written with ? placeholders.
func (d *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.sql.QueryContext(ctx, d.rebind(q), args...)
}

// QueryRow runs a one-row query written with ? placeholders.
func (d *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return d.sql.QueryRowContext(ctx, d.rebind(q), args...)
}

// Tx is a transaction whose methods take ? placeholders.
type Tx struct {
	tx *sql.Tx
	d  *DB
}

// InTx runs fn in a transaction and commits it when fn returns nil. In SQLite every transaction holds
// the write lock from its start, so transactions are serialized across processes too.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	t, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	if err := fn(&Tx{tx: t, d: d}); err != nil {
		t.Rollback()
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	return nil
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(q), args...)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rebind(q), args...)
}

// QueryRow runs a one-row query in the transaction.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(q), args...)
}

// Lock serializes this transaction against every other that takes the same named lock, until it ends:
// a transaction-scoped advisory lock in PostgreSQL. SQLite transactions already hold the database's
// write lock from their start, so there it does nothing.
func (t *Tx) Lock(ctx context.Context, name string) error {
	if t.d.Dialect != Postgres {
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(name)); err != nil {
		return fmt.Errorf("db: lock %q: %w", name, err)
	}
	return nil
}

// lockKey maps a lock name to PostgreSQL's 64-bit advisory lock key space.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("golem:" + name))
	return int64(h.Sum64())
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, … outside quoted text.
func (d *DB) rebind(q string) string {
	if d.Dialect != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// IsUniqueViolation reports whether err is a unique-constraint failure in either dialect.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
