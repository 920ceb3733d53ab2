package sqldb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Maintenance is what Maintain did: the tables it analysed and vacuumed.
type Maintenance struct {
	Analyzed, Vacuumed []string
}

// MaintainMode says how Maintain works.
type MaintainMode int

const (
	// Background is a server's periodic maintenance, autovacuum's work
	// as autovacuum does it: a table is reconsidered a minute after it
	// was last analysed or vacuumed (autovacuum_naptime), and vacuums
	// are throttled with autovacuum's cost limits, so that they do not
	// take the cores from sales.
	Background MaintainMode = iota
	// AfterImport analyses the tables an import filled, at once and
	// unthrottled (their fresh rows need statistics now), and leaves
	// vacuuming them to the servers' background maintenance.
	AfterImport
)

// maintainLock is the advisory lock key of Maintain ("kopilkaM").
const maintainLock int64 = 0x6b6f70696c6b614d

// Maintain does autovacuum's work on Kopilka's tables when the PostgreSQL
// cluster has autovacuum off: it analyses a table once a tenth of its
// rows (and 50 more) changed since its last analysis, and vacuums it once
// a fifth of its rows (and 50 more) are dead or a fifth (and 1,000 more)
// were inserted since its last vacuum, autovacuum's own defaults.
// Without statistics the planner guesses, and a sale ran three times
// slower on a database never analysed. With autovacuum on, and on SQLite,
// it does nothing. Servers call it every few seconds; imports call it at
// their end.
func (db *DB) Maintain(ctx context.Context, mode MaintainMode) (Maintenance, error) {
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
	// get their visibility map set nor their rows frozen. A table never
	// analysed is due at once in any mode: the planner's guesses for it
	// are what made sales slow.
	rows, err := db.r.QueryContext(ctx, `SELECT schemaname, relname, due_vacuum AND $1 FROM (
 SELECT schemaname, relname,
  n_mod_since_analyze > 50 + n_live_tup / 10 AS due_analyze,
  n_dead_tup > 50 + n_live_tup / 5 OR n_ins_since_vacuum > 1000 + n_live_tup / 5 AS due_vacuum,
  last_analyze IS NULL OR NOT $1
   OR GREATEST(last_analyze, last_vacuum) < now() - interval '1 minute' AS rested
 FROM pg_stat_user_tables WHERE schemaname = current_schema()) t
 WHERE rested AND (due_analyze OR (due_vacuum AND $1))
 ORDER BY relname`, mode == Background)
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
	if len(todo) == 0 {
		return m, nil
	}
	// On a connection of the writer pool (a reader session may be
	// read-only), with autovacuum's throttle in the background.
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return m, fmt.Errorf("maintain: %w", err)
	}
	defer conn.Close()
	// One maintainer at a time among the servers and imports sharing the
	// database: a server finding the lock taken leaves the work to its
	// holder; an import waits for it.
	lock := "SELECT true FROM (SELECT pg_advisory_lock($1)) l"
	if mode == Background {
		lock = "SELECT pg_try_advisory_lock($1)"
	}
	var got bool
	if err := conn.QueryRowContext(ctx, lock, maintainLock).Scan(&got); err != nil {
		return m, fmt.Errorf("maintain: %w", err)
	}
	if !got {
		return m, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", maintainLock); err != nil {
			// A session that may still hold the lock leaves the pool
			// (its end releases the lock).
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	if mode == Background {
		if _, err := conn.ExecContext(ctx, "SET vacuum_cost_delay = '2ms'; SET vacuum_cost_limit = 200"); err != nil {
			return m, fmt.Errorf("maintain: %w", err)
		}
		defer func() {
			// The connection goes back to the pool: its writers run
			// unthrottled. Reset even when ctx has ended.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, err := conn.ExecContext(rctx, "RESET vacuum_cost_delay; RESET vacuum_cost_limit"); err != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // drop it from the pool
			}
		}()
	}
	for _, d := range todo {
		name := pgx.Identifier{d.schema, d.table}.Sanitize()
		q := "ANALYZE " + name
		if d.vacuum {
			q = "VACUUM (ANALYZE) " + name
		}
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return m, fmt.Errorf("maintain: %s: %w", q, err)
		}
		m.Analyzed = append(m.Analyzed, d.table)
		if d.vacuum {
			m.Vacuumed = append(m.Vacuumed, d.table)
		}
	}
	return m, nil
}
