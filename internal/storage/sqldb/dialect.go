package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kopilka/kopilka/internal/storage"
)

// dialect holds what really differs between SQLite and PostgreSQL.
type dialect interface {
	name() string
	gooseDialect() goose.Dialect
	// rebind turns a query written with $N placeholders into the dialect's.
	rebind(q string) string
	// forUpdate is the row-lock suffix of a SELECT.
	forUpdate() string
	committers(asked int) int
	readTxOptions() *sql.TxOptions
	mapErr(err error) error
	checkDurability(ctx context.Context, db *sql.DB) error
}

type postgres struct{}

func (postgres) name() string                { return "postgres" }
func (postgres) gooseDialect() goose.Dialect { return goose.DialectPostgres }
func (postgres) rebind(q string) string      { return q }
func (postgres) forUpdate() string           { return " FOR UPDATE" }
func (postgres) committers(asked int) int {
	if asked > 0 {
		return asked
	}
	// One per core, at least two. A batch locks and reads its customers
	// in one statement and writes everything in one more, so the fuller
	// the batches, the less CPU a write costs the database: sales ran at
	// 1,614/s with 8 committers, 1,732-1,771 with 4 and 1,857-1,927 with
	// 2 on two cores. Two rather than one keep a batch being written
	// while the next gathers (one: 1,785-1,822).
	return min(max(2, runtime.GOMAXPROCS(0)), 32)
}
func (postgres) readTxOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

func (postgres) mapErr(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505":
		return fmt.Errorf("%w: %w", storage.ErrConflict, err)
	case "23514":
		return fmt.Errorf("%w: %w", storage.ErrInsufficient, err)
	case "40001", "40P01", "55P03":
		return fmt.Errorf("%w: %w", storage.ErrRetry, err)
	case "53300", "53400", "57P01", "57P02", "57P03":
		// Too many connections, server shutting down or starting: the
		// client may retry the same request in a moment.
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	if strings.HasPrefix(pe.Code, "08") {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

func (postgres) checkDurability(ctx context.Context, db *sql.DB) error {
	for _, s := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		var v string
		if err := db.QueryRowContext(ctx, "SHOW "+s).Scan(&v); err != nil {
			return fmt.Errorf("read %s: %w", s, err)
		}
		if v != "on" {
			return fmt.Errorf("PostgreSQL has %s=%s: Kopilka refuses to start without durable commits (set %s=on)", s, v, s)
		}
	}
	return nil
}

func (db *DB) openPostgres(url string) error {
	db.d = postgres{}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	// Kopilka's queries are short: compiling one with JIT takes longer
	// than running it (300 ms for a 30 ms lookup of 1000 customers whose
	// plan the statistics-less estimates made look expensive).
	cfg.RuntimeParams["jit"] = "off"
	r := stdlib.OpenDB(*cfg)
	// The writers' statements are lookups by key and writes of rows
	// gathered in arrays: their generic plans are as good as any, while
	// PostgreSQL, comparing costs that assume ten array elements with
	// plans for the two or three a batch holds, would plan them afresh on
	// every call (half a millisecond each for the batch's statements).
	// Imports, whose plans do depend on their arguments, ask for custom
	// plans in their own transactions (execRaw, queryRaw).
	wcfg := cfg.Copy()
	wcfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	w := stdlib.OpenDB(*wcfg)
	n := db.d.committers(db.opts.Committers)
	w.SetMaxOpenConns(n + 2)
	w.SetMaxIdleConns(n + 2)
	readers := min(4*runtime.GOMAXPROCS(0), 32)
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	db.w, db.r = w, r
	return nil
}

type sqliteDialect struct{}

var dollarParam = regexp.MustCompile(`\$(\d+)`)

func (sqliteDialect) name() string                { return "sqlite" }
func (sqliteDialect) gooseDialect() goose.Dialect { return goose.DialectSQLite3 }
func (sqliteDialect) rebind(q string) string      { return dollarParam.ReplaceAllString(q, "?$1") }
func (sqliteDialect) forUpdate() string           { return "" }
func (sqliteDialect) committers(int) int          { return 1 }
func (sqliteDialect) readTxOptions() *sql.TxOptions {
	return &sql.TxOptions{ReadOnly: true}
}

func (sqliteDialect) mapErr(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %w", storage.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		return fmt.Errorf("%w: %w", storage.ErrInsufficient, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_BUSY_SNAPSHOT:
		return fmt.Errorf("%w: %w", storage.ErrRetry, err)
	}
	return err
}

func (sqliteDialect) checkDurability(ctx context.Context, db *sql.DB) error {
	var mode string
	var syncLevel int
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncLevel); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if mode != "wal" || syncLevel != 2 {
		return fmt.Errorf("SQLite has journal_mode=%s synchronous=%d: Kopilka needs journal_mode=wal and synchronous=FULL (2)", mode, syncLevel)
	}
	return nil
}

// bulkCheckpoint is the SQLite writer's wal_autocheckpoint under
// Options.Bulk: 16,000 pages, a log of 64 MiB. A million-row import ran
// 8% faster than with SQLite's 1,000 pages.
const bulkCheckpoint = 16000

func (db *DB) openSQLite(path string) error {
	db.d = sqliteDialect{}
	if path == "" {
		path = "kopilka.db"
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create database folder: %w", err)
		}
	}
	const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	// The writer keeps 64 MiB of pages: random keys (ids, phones, card
	// numbers) land all over the indexes, and an import of a million
	// customers ran at half the speed with the default 2 MiB.
	writer := pragmas + "&_pragma=cache_size(-65536)&_txlock=immediate"
	if db.opts.Bulk {
		writer += "&_pragma=wal_autocheckpoint(" + strconv.Itoa(bulkCheckpoint) + ")"
	}
	w, err := sql.Open("sqlite", "file:"+path+"?"+writer)
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	// Make the file and switch it to WAL before readers open it.
	if err := w.Ping(); err != nil {
		w.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	readers := 2 * runtime.GOMAXPROCS(0)
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	db.w, db.r = w, r
	db.wstmts, db.rstmts = newStmtCache(w), newStmtCache(r)
	return nil
}
