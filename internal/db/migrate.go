package db

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Migration is one step of the schema. SQL holds statements separated by ";" at line ends, written in
// the subset both dialects accept (TEXT, BIGINT, BOOLEAN, ON DELETE CASCADE, CREATE INDEX).
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrate applies the migrations newer than the database's version, each recorded in schema_migrations,
// all inside one transaction under the "migrate" lock: when two replicas start at once, one waits for
// the other and then finds nothing left to do. Migrations must be listed in increasing Version order.
func (d *DB) Migrate(ctx context.Context, ms []Migration) error {
	for i := 1; i < len(ms); i++ {
		if ms[i].Version <= ms[i-1].Version {
			return fmt.Errorf("db: migration %d (%s) listed after %d", ms[i].Version, ms[i].Name, ms[i-1].Version)
		}
	}
	return d.InTx(ctx, func(tx *Tx) error {
		if err := tx.Lock(ctx, "migrate"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("db: create schema_migrations: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("db: read schema version: %w", err)
		}
		if len(ms) > 0 && have > ms[len(ms)-1].Version {
			return fmt.Errorf("db: database schema is version %d, newer than this binary knows (%d): upgrade golem",
				have, ms[len(ms)-1].Version)
		}
		for _, m := range ms {
			if m.Version <= have {
				continue
			}
			for _, stmt := range splitStatements(m.SQL) {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("db: migration %d (%s): %w", m.Version, m.Name, err)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("db: record migration %d: %w", m.Version, err)
			}
		}
		return nil
	})
}

// Version reports the schema version the database is at.
func (d *DB) Version(ctx context.Context) (int, error) {
	var v int
	err := d.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// splitStatements cuts a migration at semicolons that end a line; the schema has no semicolons inside
// literals, so nothing smarter is needed.
func splitStatements(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";\n") {
		part = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(part), ";"))
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}
