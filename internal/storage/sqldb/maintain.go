package sqldb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Maintenance is what Maintain did: the tables it analysed and vacuumed.
type Maintenance struct {
	Analyzed, Vacuumed []string
}

// Maintain does autovacuum's work on Kopilka's tables when the PostgreSQL
// cluster has autovacuum off: it analyses a table once a tenth of its
// rows (and 50 more) changed since its last analysis, and vacuums it once
// a fifth of its rows (and 50 more) are dead or a fifth (and 1,000 more)
// were inserted since its last vacuum, autovacuum's own defaults.
// Without statistics the planner guesses, and a sale ran three times
// slower on a database never analysed. With autovacuum on, and on SQLite,
// it does nothing. Servers call it every few seconds; imports call it at
// their end.
func (db *DB) Maintain(ctx context.Context) (Maintenance, error) {
	var m Maintenance
	if db.d.name() != "postgres" {
		return m, nil
	}
	var auto string
	if err := db.r.QueryRowContext(ctx, "SHOW autovacuum").Scan(&auto); err != nil {
		return m, fmt.Errorf("maintain: %w", err)
	}
	if auto == "on" {
		return m, nil
	}
	// Vacuum also after 1,000 + 20 % inserts (PostgreSQL 13's insert
	// trigger): append-only tables (operations, postings) otherwise never
	// get their visibility map set nor their rows frozen.
	rows, err := db.r.QueryContext(ctx, `SELECT schemaname, relname, due_vacuum FROM (
 SELECT schemaname, relname,
  n_mod_since_analyze > 50 + n_live_tup / 10 AS due_analyze,
  n_dead_tup > 50 + n_live_tup / 5 OR n_ins_since_vacuum > 1000 + n_live_tup / 5 AS due_vacuum
 FROM pg_stat_user_tables WHERE schemaname = current_schema()) t
 WHERE due_analyze OR due_vacuum
 ORDER BY relname`)
	if err != nil {
		return m, fmt.Errorf("maintain: %w", err)
	}
	// A table due is analysed, or vacuumed and analysed.
	type due struct {
		schema, table string
		vacuum        bool
	}
	var todo []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.schema, &d.table, &d.vacuum); err != nil {
			rows.Close()
			return m, fmt.Errorf("maintain: %w", err)
		}
		todo = append(todo, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return m, fmt.Errorf("maintain: %w", err)
	}
	for _, d := range todo {
		name := pgx.Identifier{d.schema, d.table}.Sanitize()
		q := "ANALYZE " + name
		if d.vacuum {
			q = "VACUUM (ANALYZE) " + name
		}
		// On the writer pool: a reader session may be read-only.
		if _, err := db.w.ExecContext(ctx, q); err != nil {
			return m, fmt.Errorf("maintain: %s: %w", q, err)
		}
		m.Analyzed = append(m.Analyzed, d.table)
		if d.vacuum {
			m.Vacuumed = append(m.Vacuumed, d.table)
		}
	}
	return m, nil
}
