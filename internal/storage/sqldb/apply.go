package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// sqlb builds a statement with numbered placeholders.
type sqlb struct {
	args []any
}

func (q *sqlb) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// rows writes "(a, b), (c, d)" for the rows, each value a placeholder.
func (q *sqlb) rows(rows [][]any) string {
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, v := range r {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(q.arg(v))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// A table is what a write set inserts into or updates: its columns and,
// for PostgreSQL's unnest, each column's array element type ("?" marks a
// nullable one).
type table struct {
	name  string
	cols  []string
	types []string
}

func (t *table) columns() string { return strings.Join(t.cols, ", ") }

var (
	opTable = &table{"operations",
		[]string{"tenant_id", "id", "customer_id", "type", "status", "amount", "purchase_id", "external_id", "message",
			"request_hash", "created_at", "updated_at"},
		[]string{"text", "text", "text", "text", "text", "bigint", "text", "text?", "text", "bytea", "bigint", "bigint"}}
	postingTable = &table{"postings",
		[]string{"tenant_id", "operation_id", "n", "customer_id", "account", "amount"},
		[]string{"text", "text", "bigint", "text", "text", "bigint"}}
	lotTable = &table{"lots",
		[]string{"tenant_id", "id", "customer_id", "operation_id", "amount", "remaining", "state", "activates_at",
			"expires_at", "created_at"},
		[]string{"text", "text", "text", "text", "bigint", "bigint", "text", "bigint", "bigint?", "bigint"}}
	holdTable = &table{"holds",
		[]string{"tenant_id", "operation_id", "lot_id", "customer_id", "amount", "state"},
		[]string{"text", "text", "text", "text", "bigint", "text"}}
	purchaseTable = &table{"purchases",
		[]string{"tenant_id", "id", "external_id", "customer_id", "store_id", "status", "tier", "total", "eligible",
			"max_redeem", "max_redeem_percent", "redeem", "to_pay", "accrue", "lines", "redeem_op_id", "accrue_op_id",
			"accrue_lot_id", "request_hash", "created_at", "updated_at", "available", "whole_points"},
		[]string{"text", "text", "text", "text", "text", "text", "text", "bigint", "bigint", "bigint", "bigint", "bigint",
			"bigint", "bigint", "text", "text", "text", "text", "bytea", "bigint", "bigint", "bigint", "bigint"}}
	refundTable = &table{"refunds",
		[]string{"tenant_id", "id", "purchase_id", "external_id", "lines", "points_returned", "points_revoked", "debt",
			"amount", "total", "request_hash", "created_at"},
		[]string{"text", "text", "text", "text", "text", "bigint", "bigint", "bigint", "bigint", "bigint", "bytea", "bigint"}}
	idemTable = &table{"idempotency",
		[]string{"tenant_id", "scope", "key", "request_hash", "status", "body", "created_at"},
		[]string{"text", "text", "text", "bytea", "bigint", "bytea", "bigint"}}
	// The updates: rows of (tenant_id, id, new values…).
	deltaTable    = &table{"lots", []string{"tenant_id", "id", "delta"}, []string{"text", "text", "bigint"}}
	customerTable = &table{"customers", []string{"tenant_id", "id", "debt", "purchases_total"},
		[]string{"text", "text", "bigint", "bigint"}}
	updateTable = &table{"purchases",
		[]string{"tenant_id", "id", "status", "lines", "redeem_op_id", "accrue_op_id", "accrue_lot_id", "updated_at"},
		[]string{"text", "text", "text", "text", "text", "text", "text", "bigint"}}
)

// insertTables are inserted in this order (a posting after its operation).
var insertTables = []*table{opTable, postingTable, lotTable, holdTable, purchaseTable, refundTable, idemTable}

// The updates' SET clauses, over the update row "v".
const (
	deltaSet    = `remaining = lots.remaining + v.delta`
	customerSet = `debt = v.debt, purchases_total = v.purchases_total`
	updateSet   = `status = v.status, lines = v.lines, redeem_op_id = v.redeem_op_id, accrue_op_id = v.accrue_op_id,
 accrue_lot_id = v.accrue_lot_id, updated_at = v.updated_at`
)

// writeSet gathers the rows of several Writes, of any tenants, per table:
// what one statement writes on PostgreSQL. Updates of one row merge (lot
// deltas add up; a customer's or purchase's last values win), since one
// statement must not update a row twice.
type writeSet struct {
	inserts map[*table][][]any
	deltas  keyed[int64]
	custs   keyed[[]any]
	updates keyed[[]any]
	// customers lists the tenant/customer keys the set writes, so a later
	// reader of one of them can send the set first.
	customers map[string]struct{}
}

// keyed is an insertion-ordered map of rows by tenant and id.
type keyed[V any] struct {
	order []string
	m     map[string]V
}

func (k *keyed[V]) put(key string, merge func(old V, ok bool) V) {
	if k.m == nil {
		k.m = map[string]V{}
	}
	old, ok := k.m[key]
	if !ok {
		k.order = append(k.order, key)
	}
	k.m[key] = merge(old, ok)
}

func (k *keyed[V]) len() int { return len(k.order) }

func (s *writeSet) empty() bool {
	return len(s.inserts) == 0 && s.deltas.len() == 0 && s.custs.len() == 0 && s.updates.len() == 0
}

func (s *writeSet) insert(t *table, row []any) {
	if s.inserts == nil {
		s.inserts = map[*table][][]any{}
	}
	s.inserts[t] = append(s.inserts[t], row)
}

func (s *writeSet) touch(tenantID, customerID string) {
	if s.customers == nil {
		s.customers = map[string]struct{}{}
	}
	s.customers[tenantID+"/"+customerID] = struct{}{}
}

// rowKey names a row of a tenant; ids never hold the separator.
func rowKey(tenantID, id string) string { return tenantID + "/" + id }

// add takes in w's rows, written at now. It fills the times of w's
// objects, as the database will hold them.
func (s *writeSet) add(now time.Time, tenantID string, w *storage.Writes) error {
	at := micros(now)
	for _, o := range w.Ops {
		if err := ledger.Balanced(o.Postings); err != nil {
			return fmt.Errorf("operation %s: %w", o.Op.ID, err)
		}
	}
	for _, o := range w.Ops {
		op := o.Op
		op.CreatedAt, op.UpdatedAt = now, now
		s.insert(opTable, []any{tenantID, op.ID, op.CustomerID, string(op.Type), string(op.Status), op.Amount,
			op.PurchaseID, nullString(op.ExternalID), op.Message, op.RequestHash, at, at})
		s.touch(tenantID, op.CustomerID)
		for i, p := range o.Postings {
			s.insert(postingTable, []any{tenantID, op.ID, storage.PhaseCreate + i, p.CustomerID, string(p.Account), p.Amount})
		}
	}
	for _, l := range w.Lots {
		l.CreatedAt = now
		s.insert(lotTable, []any{tenantID, l.ID, l.CustomerID, l.OperationID, l.Amount, l.Remaining, l.State,
			micros(l.ActivatesAt), nullMicros(l.ExpiresAt), at})
		s.touch(tenantID, l.CustomerID)
	}
	for _, d := range w.LotDeltas {
		s.deltas.put(rowKey(tenantID, d.LotID), func(old int64, _ bool) int64 { return old + int64(d.Delta) })
	}
	for _, h := range w.Holds {
		s.insert(holdTable, []any{tenantID, h.OperationID, h.LotID, h.CustomerID, h.Amount, h.State})
		s.touch(tenantID, h.CustomerID)
	}
	if c := w.Customer; c != nil {
		row := []any{tenantID, c.CustomerID, c.Debt, c.PurchasesTotal}
		s.custs.put(rowKey(tenantID, c.CustomerID), func([]any, bool) []any { return row })
		s.touch(tenantID, c.CustomerID)
	}
	if p := w.Purchase; p != nil {
		p.CreatedAt, p.UpdatedAt = now, now
		lines, err := json.Marshal(p.Lines)
		if err != nil {
			return err
		}
		s.insert(purchaseTable, []any{tenantID, p.ID, p.ExternalID, p.CustomerID, p.StoreID, p.Status, p.Tier, p.Total,
			p.Eligible, p.MaxRedeem, int64(p.MaxRedeemPercent), p.Redeem, p.ToPay, p.Accrue, string(lines), p.RedeemOpID,
			p.AccrueOpID, p.AccrueLotID, p.RequestHash, at, at, p.Available, boolInt(p.WholePoints)})
		s.touch(tenantID, p.CustomerID)
	}
	if p := w.Update; p != nil {
		p.UpdatedAt = now
		lines, err := json.Marshal(p.Lines)
		if err != nil {
			return err
		}
		row := []any{tenantID, p.ID, p.Status, string(lines), p.RedeemOpID, p.AccrueOpID, p.AccrueLotID, at}
		s.updates.put(rowKey(tenantID, p.ID), func([]any, bool) []any { return row })
		s.touch(tenantID, p.CustomerID)
	}
	if r := w.Refund; r != nil {
		r.CreatedAt = now
		lines, err := json.Marshal(r.Lines)
		if err != nil {
			return err
		}
		s.insert(refundTable, []any{tenantID, r.ID, r.PurchaseID, r.ExternalID, string(lines), r.PointsReturned,
			r.PointsRevoked, r.Debt, r.Amount, r.Total, r.RequestHash, at})
	}
	return nil
}

// addIdempotency takes in a stored answer, written at now.
func (s *writeSet) addIdempotency(now time.Time, r *storage.Idempotency) {
	r.CreatedAt = now
	s.insert(idemTable, []any{r.TenantID, r.Scope, r.Key, r.RequestHash, r.Status, r.Body, micros(now)})
}

// merge moves o's rows into s, after s's own.
func (s *writeSet) merge(o *writeSet) {
	for _, t := range insertTables {
		for _, r := range o.inserts[t] {
			s.insert(t, r)
		}
	}
	for _, k := range o.deltas.order {
		d := o.deltas.m[k]
		s.deltas.put(k, func(old int64, _ bool) int64 { return old + d })
	}
	for _, k := range o.custs.order {
		r := o.custs.m[k]
		s.custs.put(k, func([]any, bool) []any { return r })
	}
	for _, k := range o.updates.order {
		r := o.updates.m[k]
		s.updates.put(k, func([]any, bool) []any { return r })
	}
	for k := range o.customers {
		if s.customers == nil {
			s.customers = map[string]struct{}{}
		}
		s.customers[k] = struct{}{}
	}
}

// deltaRows turns the merged lot deltas into update rows.
func (s *writeSet) deltaRows() [][]any {
	rows := make([][]any, 0, s.deltas.len())
	for _, k := range s.deltas.order {
		tenant, id, _ := strings.Cut(k, "/")
		rows = append(rows, []any{tenant, id, s.deltas.m[k]})
	}
	return rows
}

func rowsOf(k *keyed[[]any]) [][]any {
	rows := make([][]any, 0, k.len())
	for _, key := range k.order {
		rows = append(rows, k.m[key])
	}
	return rows
}

// send writes the set: on PostgreSQL one statement whatever it holds (a
// fixed text of data-modifying CTEs over unnest()ed arrays, so it is
// prepared once per session), on SQLite a statement per table.
func (tx *Tx) send(ctx context.Context, s *writeSet) error {
	if s.empty() {
		return nil
	}
	if tx.isPG() {
		var shape uint
		var args []any
		for i, t := range insertTables {
			if rows := s.inserts[t]; len(rows) > 0 {
				shape |= 1 << i
				args = appendColumns(args, t, rows)
			}
		}
		for i, u := range pgUpdates {
			if rows := u.rows(s); len(rows) > 0 {
				shape |= 1 << (len(insertTables) + i)
				args = appendColumns(args, u.t, rows)
			}
		}
		_, err := tx.q.ExecContext(ctx, pgSendSQL(shape), args...)
		return wrap("apply", tx.db.d.mapErr(err))
	}
	for _, t := range insertTables {
		rows := s.inserts[t]
		for len(rows) > 0 {
			n := min(len(rows), 200) // well inside SQLite's bound on placeholders
			q := &sqlb{}
			text := `INSERT INTO ` + t.name + ` (` + t.columns() + `) VALUES ` + q.rows(rows[:n])
			if _, err := tx.q.ExecContext(ctx, tx.sql(text), q.args...); err != nil {
				return wrap("apply", tx.db.d.mapErr(err))
			}
			rows = rows[n:]
		}
	}
	for _, u := range []struct {
		text string
		rows [][]any
	}{
		{`UPDATE lots SET remaining = remaining + $3 WHERE tenant_id = $1 AND id = $2`, s.deltaRows()},
		{`UPDATE customers SET debt = $3, purchases_total = $4 WHERE tenant_id = $1 AND id = $2`, rowsOf(&s.custs)},
		{`UPDATE purchases SET status = $3, lines = $4, redeem_op_id = $5, accrue_op_id = $6, accrue_lot_id = $7,
 updated_at = $8 WHERE tenant_id = $1 AND id = $2`, rowsOf(&s.updates)},
	} {
		for _, r := range u.rows {
			if _, err := tx.q.ExecContext(ctx, tx.sql(u.text), r...); err != nil {
				return wrap("apply", tx.db.d.mapErr(err))
			}
		}
	}
	return nil
}

// pgUpdates are the updates of a write set, after the inserts.
var pgUpdates = []struct {
	t    *table
	set  string
	rows func(*writeSet) [][]any
}{
	{deltaTable, deltaSet, (*writeSet).deltaRows},
	{customerTable, customerSet, func(s *writeSet) [][]any { return rowsOf(&s.custs) }},
	{updateTable, updateSet, func(s *writeSet) [][]any { return rowsOf(&s.updates) }},
}

var pgSendTexts sync.Map // shape → statement

// pgSendSQL is the one statement that writes a write set on PostgreSQL:
// data-modifying CTEs, one a table the set has rows for (shape has bit i
// for insertTables[i], then a bit an update), each table's rows arriving
// as one array a column. A set has one of a few shapes, so each text is
// prepared once per session.
func pgSendSQL(shape uint) string {
	if text, ok := pgSendTexts.Load(shape); ok {
		return text.(string)
	}
	var b strings.Builder
	n := 0
	unnest := func(t *table) string {
		var u strings.Builder
		u.WriteString("unnest(")
		for j, typ := range t.types {
			if j > 0 {
				u.WriteString(", ")
			}
			n++
			fmt.Fprintf(&u, "$%d::%s[]", n, strings.TrimSuffix(typ, "?"))
		}
		u.WriteString(")")
		return u.String()
	}
	var parts []string
	for i, t := range insertTables {
		if shape&(1<<i) != 0 {
			parts = append(parts, fmt.Sprintf("i%d AS (INSERT INTO %s (%s) SELECT * FROM %s)", i, t.name, t.columns(), unnest(t)))
		}
	}
	for i, u := range pgUpdates {
		if shape&(1<<(len(insertTables)+i)) != 0 {
			parts = append(parts, fmt.Sprintf("u%d AS (UPDATE %s SET %s FROM %s AS v(%s) WHERE %s.tenant_id = v.tenant_id AND %s.id = v.id)",
				i, u.t.name, u.set, unnest(u.t), u.t.columns(), u.t.name, u.t.name))
		}
	}
	b.WriteString("WITH " + strings.Join(parts, ", ") + " SELECT 1")
	text, _ := pgSendTexts.LoadOrStore(shape, b.String())
	return text.(string)
}

// appendColumns appends one typed array a column of t holding rows.
func appendColumns(args []any, t *table, rows [][]any) []any {
	for j, typ := range t.types {
		switch typ {
		case "text":
			col := make([]string, len(rows))
			for i, r := range rows {
				col[i] = reflect.ValueOf(r[j]).String()
			}
			args = append(args, col)
		case "text?":
			col := make([]*string, len(rows))
			for i, r := range rows {
				if v := r[j].(sql.NullString); v.Valid {
					col[i] = &v.String
				}
			}
			args = append(args, col)
		case "bigint":
			col := make([]int64, len(rows))
			for i, r := range rows {
				col[i] = reflect.ValueOf(r[j]).Int()
			}
			args = append(args, col)
		case "bigint?":
			col := make([]*int64, len(rows))
			for i, r := range rows {
				if v := r[j].(sql.NullInt64); v.Valid {
					col[i] = &v.Int64
				}
			}
			args = append(args, col)
		case "bytea":
			col := make([][]byte, len(rows))
			for i, r := range rows {
				col[i], _ = r[j].([]byte)
			}
			args = append(args, col)
		default:
			panic("sqldb: column type " + typ)
		}
	}
	return args
}

func (tx *Tx) isPG() bool { return tx.db.d.name() == "postgres" }

// Apply writes w. Inside a group commit it is only gathered, and sent with
// the other writes of the batch in one statement (see batch); alone it is
// sent at once.
func (tx *Tx) Apply(ctx context.Context, tenantID string, w *storage.Writes) error {
	if tx.b != nil {
		return tx.b.own.add(tx.now, tenantID, w)
	}
	s := &writeSet{}
	if err := s.add(tx.now, tenantID, w); err != nil {
		return err
	}
	return tx.send(ctx, s)
}
