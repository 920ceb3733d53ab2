package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kopilka/kopilka/internal/storage"
)

// Tx is a storage.Tx over one database/sql transaction.
type Tx struct {
	db  *DB
	q   querier // a *sql.Tx, or the reader pool for Read
	now time.Time
	// batched: the transaction carries other writes too. Row locks are then
	// taken without waiting (a busy row sends the write to run alone), so
	// two open batches can never wait on each other: no deadlocks.
	batched bool
	// b is the group commit the transaction runs in, nil when it runs
	// alone: writes are then gathered (see batch).
	b *batch
	// custom: the transaction plans statements for their arguments.
	custom bool
	// reader: q is a read-only transaction of the reader pool (Snapshot).
	reader bool
	// conn is the connection of a write transaction on PostgreSQL, for
	// COPY (see copyRows); nil otherwise.
	conn *sql.Conn
}

var _ storage.Tx = (*Tx)(nil)

// querier is what *sql.Tx and *sql.DB have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Now is the transaction's fixed clock reading.
func (tx *Tx) Now() time.Time { return tx.now }

var rebound sync.Map // dialect name + query → rebound query

func (tx *Tx) sql(q string) string {
	if tx.db.d.name() == "postgres" {
		return q
	}
	if s, ok := rebound.Load(q); ok {
		return s.(string)
	}
	s := tx.db.d.rebind(q)
	rebound.Store(q, s)
	return s
}

// exec runs a statement that changes data.
func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if tx.b != nil {
		if err := tx.b.beforeWrite(ctx, tx); err != nil {
			return nil, err
		}
	}
	text := tx.sql(q)
	var res sql.Result
	var err error
	if s := tx.stmt(ctx, text, false); s != nil {
		res, err = s.ExecContext(ctx, args...)
	} else {
		res, err = tx.q.ExecContext(ctx, text, args...)
	}
	return res, tx.db.d.mapErr(err)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if tx.b != nil {
		if err := tx.b.beforeRead(ctx, tx); err != nil {
			return nil, err
		}
	}
	text := tx.sql(q)
	var rows *sql.Rows
	var err error
	if s := tx.stmt(ctx, text, true); s != nil {
		rows, err = s.QueryContext(ctx, args...)
	} else {
		rows, err = tx.q.QueryContext(ctx, text, args...)
	}
	return rows, tx.db.d.mapErr(err)
}

// row runs a query expected to return one row; its Scan returns
// storage.ErrNotFound when there is none.
func (tx *Tx) row(ctx context.Context, q string, args ...any) row {
	if tx.b != nil {
		if err := tx.b.beforeRead(ctx, tx); err != nil {
			return row{err: err}
		}
	}
	text := tx.sql(q)
	if s := tx.stmt(ctx, text, false); s != nil {
		return row{r: s.QueryRowContext(ctx, args...), d: tx.db.d}
	}
	return row{r: tx.q.QueryRowContext(ctx, text, args...), d: tx.db.d}
}

type row struct {
	r   *sql.Row
	d   dialect
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return r.d.mapErr(err)
}

// nowait is the suffix of a row lock that must not wait: inside a batch
// " NOWAIT" (two open batches then never wait on each other), after
// opening the job's savepoint, since a busy row fails the statement.
func (tx *Tx) nowait(ctx context.Context) (string, error) {
	if !tx.batched {
		return "", nil
	}
	if tx.b != nil {
		if err := tx.b.beforeWrite(ctx, tx); err != nil {
			return "", err
		}
	}
	return " NOWAIT", nil
}

// affected returns storage.ErrNotFound when the write touched no row.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
