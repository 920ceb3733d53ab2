package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"

	"github.com/kopilka/kopilka/internal/storage"
)

// Writer returns the writer pool, so tests can try raw SQL that no
// storage method issues.
func Writer(db *DB) *sql.DB { return db.w }

// MaintainLock is the advisory lock key Maintain takes.
const MaintainLock = maintainLock

// QueueLen reports how many writes wait for the group committers.
func QueueLen(db *DB) int {
	n := 0
	for _, q := range db.queues {
		n += len(q)
	}
	return n
}

// SQLTx returns what runs a storage.Tx's statements (a *sql.Tx for
// writes), to tell which writes shared a transaction.
func SQLTx(tx storage.Tx) any { return tx.(*Tx).q }

// CheckDurability runs the durability guard of the dialect on db.
func CheckDurability(ctx context.Context, dialect string, db *sql.DB) error {
	switch dialect {
	case "sqlite":
		return sqliteDialect{}.checkDurability(ctx, db)
	case "postgres":
		return postgres{}.checkDurability(ctx, db)
	}
	return fmt.Errorf("unknown dialect %q", dialect)
}

// PreparedStatements counts the statements kept prepared on the writer and
// the reader pool (0, 0 on PostgreSQL, whose driver keeps its own).
func (db *DB) PreparedStatements() (writer, reader int) {
	count := func(c *stmtCache) int {
		n := 0
		if c != nil {
			c.m.Range(func(_, s any) bool {
				if s.(*sql.Stmt) != nil {
					n++
				}
				return true
			})
		}
		return n
	}
	return count(db.wstmts), count(db.rstmts)
}

// QueryTwice runs text in tx while the rows of a first run of it are still
// open, and reads both.
func QueryTwice(ctx context.Context, tx storage.Tx, text string, args ...any) error {
	t := tx.(*Tx)
	a, err := t.query(ctx, text, args...)
	if err != nil {
		return err
	}
	defer a.Close()
	for a.Next() {
		b, err := t.query(ctx, text, args...)
		if err != nil {
			return err
		}
		for b.Next() {
		}
		if err := b.Close(); err != nil {
			return err
		}
	}
	return a.Err()
}

// RowOnce runs text, a query of one row and one column, in tx.
func RowOnce(ctx context.Context, tx storage.Tx, text string, args ...any) error {
	var v any
	return tx.(*Tx).row(ctx, text, args...).Scan(&v)
}

// WaitPrepared waits for the statements being prepared in the background.
func WaitPrepared(db *DB) {
	for _, c := range []*stmtCache{db.wstmts, db.rstmts} {
		if c != nil {
			c.preparing.Wait()
		}
	}
}

// MigrateTo applies the embedded migrations of dialect to raw up to
// version, for tests of data migrations.
func MigrateTo(ctx context.Context, dialect string, raw *sql.DB, version int64) error {
	sub, err := fs.Sub(migrations, "migrations/"+dialect)
	if err != nil {
		return err
	}
	d := map[string]goose.Dialect{"sqlite": goose.DialectSQLite3, "postgres": goose.DialectPostgres}[dialect]
	p, err := goose.NewProvider(d, raw, sub)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// SearchByWalk makes SQLite's name and tag searches walk the customers
// newest first whatever the number of matches (see searchDriveMax).
func SearchByWalk(db *DB) { db.searchWalk = -1 }

// CopyRows runs a bulk insert of rows into table in a write transaction
// of db (COPY on PostgreSQL, see copyRows).
func CopyRows(ctx context.Context, db *DB, table, cols string, rows [][]any) error {
	return db.Write(ctx, func(t storage.Tx) error { return t.(*Tx).insertRows(ctx, table, cols, rows) })
}
