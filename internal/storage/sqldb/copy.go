package sqldb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL's bulk inserts: COPY … FROM STDIN in the binary format, on
// the write transaction's own connection (Tx.conn). The rows are encoded
// here rather than by pgx's CopyFrom, which planned an encoding for every
// value (a sixth of Kopilka's CPU in a million-row import); the values of
// the bulk inserts are of a handful of Go types, and each column's type is
// read once from the catalog.

// Type OIDs of the columns the bulk inserts write.
const (
	oidBytea     = 17
	oidInt8      = 20
	oidInt4      = 23
	oidText      = 25
	oidTextArray = 1009
)

// copyPlans caches a copyPlan by table and column list.
type copyPlans struct{ m sync.Map }

// copyPlan is how rows go into some columns of a table: the COPY
// statement and the type OIDs of the columns, in their order.
type copyPlan struct {
	sql   string
	types []uint32
}

// copyRows is insertRows on PostgreSQL. Beside an INSERT … SELECT FROM
// unnest of one array a column, which built and read back a set of every
// chunk, COPY took a sixth less of the database's CPU in a million-row
// import (the server writes a page's rows at once).
func (tx *Tx) copyRows(ctx context.Context, table, cols string, rows [][]any) error {
	if tx.conn == nil {
		return fmt.Errorf("insert %s: bulk insert outside a write transaction", table)
	}
	if tx.b != nil {
		if err := tx.b.beforeWrite(ctx, tx); err != nil {
			return err
		}
	}
	plan, err := tx.copyPlan(ctx, table, cols)
	if err != nil {
		return wrap("insert "+table, err)
	}
	data, err := encodeCopy(plan.types, rows)
	if err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	err = tx.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("a connection of %T", dc)
		}
		_, err := c.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), plan.sql)
		return err
	})
	return wrap("insert "+table, tx.db.d.mapErr(err))
}

// copyPlan returns the plan of a COPY into cols (comma-separated) of
// table, reading the columns' types from the catalog the first time.
func (tx *Tx) copyPlan(ctx context.Context, table, cols string) (*copyPlan, error) {
	key := table + "(" + cols + ")"
	if v, ok := tx.db.copyPlans.m.Load(key); ok {
		return v.(*copyPlan), nil
	}
	names := strings.Split(cols, ",")
	for i, n := range names {
		names[i] = strings.TrimSpace(n)
	}
	rows, err := tx.q.QueryContext(ctx, `SELECT a.attname, a.atttypid FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byName := map[string]uint32{}
	for rows.Next() {
		var name string
		var oid uint32
		if err := rows.Scan(&name, &oid); err != nil {
			return nil, err
		}
		byName[name] = oid
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	types := make([]uint32, len(names))
	for i, n := range names {
		oid, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("table %s has no column %s", table, n)
		}
		types[i] = oid
	}
	plan := &copyPlan{sql: "COPY " + table + " (" + strings.Join(names, ", ") + ") FROM STDIN BINARY", types: types}
	tx.db.copyPlans.m.Store(key, plan)
	return plan, nil
}

// copySignature starts a COPY in the binary format: the signature, no
// flags, no header extension.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// encodeCopy writes rows in COPY's binary format, each value as the
// column's type wants it.
func encodeCopy(types []uint32, rows [][]any) ([]byte, error) {
	size := len(copySignature) + 2
	for _, r := range rows[:min(len(rows), 16)] {
		size += rowSize(r)
	}
	size = size * len(rows) / max(1, min(len(rows), 16))
	buf := make([]byte, 0, size+size/8)
	buf = append(buf, copySignature...)
	for _, r := range rows {
		if len(r) != len(types) {
			return nil, fmt.Errorf("a row of %d values for %d columns", len(r), len(types))
		}
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(r)))
		for j, v := range r {
			var err error
			if buf, err = appendCopyValue(buf, types[j], v); err != nil {
				return nil, fmt.Errorf("column %d: %w", j+1, err)
			}
		}
	}
	return binary.BigEndian.AppendUint16(buf, 0xffff), nil // the trailer
}

// rowSize guesses the bytes of a row in the binary format.
func rowSize(r []any) int {
	n := 2
	for _, v := range r {
		n += 12
		switch x := v.(type) {
		case string:
			n += len(x)
		case sql.NullString:
			n += len(x.String)
		case []byte:
			n += len(x)
		case []string:
			n += 20
			for _, e := range x {
				n += 4 + len(e)
			}
		}
	}
	return n
}

// appendCopyValue appends v, its length first, as a value of the type
// oid; nil and invalid sql.Null* values are NULL.
func appendCopyValue(buf []byte, oid uint32, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return binary.BigEndian.AppendUint32(buf, 0xffffffff), nil
	case sql.NullString:
		if !x.Valid {
			return appendCopyValue(buf, oid, nil)
		}
		v = x.String
	case sql.NullInt64:
		if !x.Valid {
			return appendCopyValue(buf, oid, nil)
		}
		v = x.Int64
	case int:
		v = int64(x)
	case []byte:
		if x == nil {
			return appendCopyValue(buf, oid, nil)
		}
	}
	switch x := v.(type) {
	case string:
		if oid == oidText || oid == oidBytea {
			return appendCopyBytes(buf, x), nil
		}
	case []byte:
		if oid == oidBytea || oid == oidText {
			return appendCopyBytes(buf, x), nil
		}
	case int64:
		switch oid {
		case oidInt8:
			buf = binary.BigEndian.AppendUint32(buf, 8)
			return binary.BigEndian.AppendUint64(buf, uint64(x)), nil
		case oidInt4:
			if int64(int32(x)) != x {
				return nil, fmt.Errorf("%d does not fit an integer column", x)
			}
			buf = binary.BigEndian.AppendUint32(buf, 4)
			return binary.BigEndian.AppendUint32(buf, uint32(int32(x))), nil
		}
	case []string:
		if oid == oidTextArray {
			return appendCopyTextArray(buf, x), nil
		}
	}
	return nil, fmt.Errorf("a value of type %T for a column of type oid %d", v, oid)
}

func appendCopyBytes[T string | []byte](buf []byte, b T) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)))
	return append(buf, b...)
}

// appendCopyTextArray appends a one-dimensional text array (no NULLs).
func appendCopyTextArray(buf []byte, elems []string) []byte {
	n := 12
	if len(elems) > 0 {
		n += 8
	}
	for _, e := range elems {
		n += 4 + len(e)
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	if len(elems) == 0 {
		buf = binary.BigEndian.AppendUint32(buf, 0) // dimensions
		buf = binary.BigEndian.AppendUint32(buf, 0) // no NULLs
		return binary.BigEndian.AppendUint32(buf, oidText)
	}
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, oidText)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(elems)))
	buf = binary.BigEndian.AppendUint32(buf, 1) // lower bound
	for _, e := range elems {
		buf = appendCopyBytes(buf, e)
	}
	return buf
}
