package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// The bulk statements of imports and exports. Their text depends on how
// many rows they carry, so they are written with the dialect's own
// placeholders and bypass the rebinding cache of tx.sql, which would keep
// every shape for ever.

// maxParams bounds the placeholders of one bulk INSERT on SQLite (as
// modernc.org/sqlite builds it, 32766 at most; PostgreSQL's bulk inserts
// are COPYs).
const maxParams = 30000

// binder collects a statement's arguments in the order their placeholders
// appear: $1, $2 … on PostgreSQL, anonymous ? on SQLite, which binds
// numbered parameters in time quadratic in their number.
type binder struct {
	pg   bool
	args []any
}

func (tx *Tx) binder() *binder { return &binder{pg: tx.isPG()} }

// arg adds v and returns its placeholder.
func (b *binder) arg(v any) string {
	b.args = append(b.args, v)
	if b.pg {
		return "$" + strconv.Itoa(len(b.args))
	}
	return "?"
}

// list adds vals and returns "(p, p, …)" for them.
func (b *binder) list(vals []string) string {
	var s strings.Builder
	s.WriteByte('(')
	for i, v := range vals {
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString(b.arg(v))
	}
	s.WriteByte(')')
	return s.String()
}

// probe returns a query of the rows of table whose key column is one of
// vals and that meet cond (written with arguments added before); sel is
// the select list, where %s stands for the key. SQLite takes an IN list.
// PostgreSQL takes an array and looks each value up on its own: with a
// long IN list, and statistics that lag behind a bulk load, its planner
// may scan the whole tenant by tenant_id and filter, which costs a
// million rows a chunk; a lookup per value of a unique key never does.
func (b *binder) probe(sel, table, key, cond string, vals []string) string {
	if !b.pg {
		return "SELECT " + strings.ReplaceAll(sel, "%s", key) + " FROM " + table + " WHERE " + cond + " AND " + key + " IN " + b.list(vals)
	}
	return "SELECT " + strings.ReplaceAll(sel, "%s", "u.v") + " FROM unnest(" + b.arg(vals) + "::text[]) AS u(v) CROSS JOIN LATERAL (SELECT " +
		strings.ReplaceAll(sel, "%s", key) + " FROM " + table + " WHERE " + cond + " AND " + key + " = u.v OFFSET 0) AS x"
}

// customPlans lets the rest of a writer's transaction plan each statement
// for its arguments (the writers' sessions default to generic plans: see
// openPostgres). Reader sessions plan as PostgreSQL chooses already.
func (tx *Tx) customPlans(ctx context.Context) error {
	if !tx.isPG() || tx.custom || tx.q == querier(tx.db.r) {
		return nil
	}
	tx.custom = true
	_, err := tx.q.ExecContext(ctx, "SET LOCAL plan_cache_mode = auto")
	return tx.db.d.mapErr(err)
}

// execRaw runs a statement written with the dialect's placeholders.
func (tx *Tx) execRaw(ctx context.Context, q string, args ...any) error {
	if tx.b != nil {
		if err := tx.b.beforeWrite(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.customPlans(ctx); err != nil {
		return err
	}
	_, err := tx.q.ExecContext(ctx, q, args...)
	return tx.db.d.mapErr(err)
}

// execPrepared is execRaw through a statement kept prepared (tx.stmt:
// on SQLite, whose driver would parse the text on every run).
func (tx *Tx) execPrepared(ctx context.Context, q string, args ...any) error {
	stmt := tx.stmt(ctx, q, false)
	if stmt == nil {
		return tx.execRaw(ctx, q, args...)
	}
	if tx.b != nil {
		if err := tx.b.beforeWrite(ctx, tx); err != nil {
			return err
		}
	}
	_, err := stmt.ExecContext(ctx, args...)
	return tx.db.d.mapErr(err)
}

// queryRaw runs a query written with the dialect's placeholders. On
// PostgreSQL it is planned for its arguments every time rather than
// prepared once: a plan cached while an import's tables were still small
// (and their statistics said so) would scan whole tables for the rest of
// the import.
func (tx *Tx) queryRaw(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if tx.b != nil {
		if err := tx.b.beforeRead(ctx, tx); err != nil {
			return nil, err
		}
	}
	if err := tx.customPlans(ctx); err != nil {
		return nil, err
	}
	if tx.isPG() {
		args = append([]any{pgx.QueryExecModeExec}, args...)
	}
	rows, err := tx.q.QueryContext(ctx, q, args...)
	return rows, tx.db.d.mapErr(err)
}

// insertRows inserts rows (each with len(cols) values): on SQLite with one
// multi-row INSERT per maxParams placeholders, on PostgreSQL by COPY.
func (tx *Tx) insertRows(ctx context.Context, table, cols string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if tx.isPG() {
		return tx.copyRows(ctx, table, cols, rows)
	}
	per := max(1, maxParams/len(rows[0]))
	for len(rows) > 0 {
		k := min(per, len(rows))
		if k < per {
			// What is left runs in statements of powers of two rows: a
			// table's statements so have a handful of texts, each parsed
			// once, where a remainder of its own length was parsed anew
			// on every chunk (5% of an import's CPU).
			k = 1 << (bits.Len(uint(k)) - 1)
		}
		var b strings.Builder
		q := &binder{pg: tx.isPG(), args: make([]any, 0, k*len(rows[0]))}
		// OR FAIL rather than the default ABORT: a multi-row statement
		// that may abort makes SQLite copy every page it changes into a
		// statement journal first (a sixth of an import's writes, to a
		// temporary file). FAIL stops at the bad row and keeps the rows
		// before it, which is harmless here: an error fails the whole
		// transaction (or the batch's savepoint), rolling them back too.
		b.WriteString("INSERT OR FAIL INTO " + table + " (" + cols + ") VALUES ")
		for i, r := range rows[:k] {
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
		// Prepared once for each text: a statement of thousands of
		// placeholders took a sixth of an import's CPU to parse each time.
		if err := tx.execPrepared(ctx, b.String(), q.args...); err != nil {
			return wrap("insert "+table, err)
		}
		rows = rows[k:]
	}
	return nil
}

// ImportLookup resolves an import chunk's keys to customer ids in one
// statement.
func (tx *Tx) ImportLookup(ctx context.Context, tenantID, integration string, k storage.ImportKeys) (*storage.ImportMatches, error) {
	m := &storage.ImportMatches{ExternalIDs: map[string]string{}, IDs: map[string]string{},
		Phones: map[string]string{}, Cards: map[string]string{}, RetiredCards: map[string]bool{}}
	b := tx.binder()
	var parts []string
	phoneOf := make(map[string]string, len(k.Phones))
	if len(k.ExternalIDs) > 0 {
		parts = append(parts, b.probe("'e', %s, customer_id", "customer_external_ids", "external_id",
			"tenant_id = "+b.arg(tenantID)+" AND integration = "+b.arg(integration), k.ExternalIDs))
	}
	if len(k.IDs) > 0 {
		parts = append(parts, b.probe("'i', %s, %s", "customers", "id", "tenant_id = "+b.arg(tenantID), k.IDs))
	}
	if len(k.Phones) > 0 {
		// By the phones' blind indexes, mapped back to the phones below.
		idx := make([]string, len(k.Phones))
		for i, p := range k.Phones {
			idx[i] = tx.db.keys.Index(idxPhone, tenantID, p)
			phoneOf[idx[i]] = p
		}
		parts = append(parts, b.probe("'p', %s, id", "customers", "phone_bidx", "tenant_id = "+b.arg(tenantID), idx))
	}
	if len(k.Cards) > 0 {
		parts = append(parts, b.probe("'c', %s, customer_id", "cards", "number", "tenant_id = "+b.arg(tenantID), k.Cards))
	}
	if len(parts) == 0 {
		return m, nil
	}
	rows, err := tx.queryRaw(ctx, strings.Join(parts, " UNION ALL "), b.args...)
	if err != nil {
		return nil, wrap("import lookup", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, key, id string
		if err := rows.Scan(&kind, &key, &id); err != nil {
			return nil, wrap("import lookup", err)
		}
		switch kind {
		case "e":
			m.ExternalIDs[key] = id
		case "i":
			m.IDs[key] = id
		case "p":
			m.Phones[phoneOf[key]] = id
		case "c":
			m.Cards[key] = id
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("import lookup", err)
	}
	return m, tx.resolveMatches(ctx, tenantID, m)
}

// resolveMatches points the matches of merged customers at their
// survivors and drops those of deleted customers (their cards move to
// m.RetiredCards).
func (tx *Tx) resolveMatches(ctx context.Context, tenantID string, m *storage.ImportMatches) error {
	seen := map[string]bool{}
	var ids []string
	for _, mm := range []map[string]string{m.ExternalIDs, m.IDs, m.Phones, m.Cards} {
		for _, id := range mm {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	b := tx.binder()
	q := `SELECT id, COALESCE(merged_into, ''), CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END FROM customers WHERE tenant_id = ` +
		b.arg(tenantID) + ` AND (merged_into IS NOT NULL OR deleted_at IS NOT NULL) AND `
	if b.pg {
		q += `id = ANY(` + b.arg(ids) + `::text[])`
	} else {
		q += `id IN ` + b.list(ids)
	}
	rows, err := tx.queryRaw(ctx, q, b.args...)
	if err != nil {
		return wrap("import lookup", err)
	}
	defer rows.Close()
	to := map[string]string{} // id → survivor, or "" when deleted
	for rows.Next() {
		var id, merged string
		var deleted int
		if err := rows.Scan(&id, &merged, &deleted); err != nil {
			return wrap("import lookup", err)
		}
		if deleted != 0 {
			merged = ""
		}
		to[id] = merged
	}
	if err := rows.Err(); err != nil || len(to) == 0 {
		return wrap("import lookup", err)
	}
	for n, id := range m.Cards {
		if s, ok := to[id]; ok && s == "" {
			m.RetiredCards[n] = true
		}
	}
	for _, mm := range []map[string]string{m.ExternalIDs, m.IDs, m.Phones, m.Cards} {
		for k, id := range mm {
			if s, ok := to[id]; ok && s == "" {
				delete(mm, k)
			} else if ok {
				mm[k] = s
			}
		}
	}
	return nil
}

// transferColumns are a customer's columns and its points position at the
// placeholder now, for imports and exports.
func transferColumns(now string) string {
	return customerColumns + `,
 (SELECT COALESCE(SUM(l.remaining), 0) FROM lots l WHERE l.tenant_id = c.tenant_id AND l.customer_id = c.id
  AND l.remaining > 0 AND l.state = 'active' AND (l.expires_at IS NULL OR l.expires_at > ` + now + `)),
 (SELECT COALESCE(SUM(l.remaining), 0) FROM lots l WHERE l.tenant_id = c.tenant_id AND l.customer_id = c.id
  AND l.remaining > 0 AND l.state IN ('pending', 'inactive')),
 (SELECT COALESCE(SUM(h.amount), 0) FROM holds h WHERE h.tenant_id = c.tenant_id AND h.customer_id = c.id AND h.state = 'held')`
}

// TransferCustomers loads customers by id, with cards, external ids and
// points position; lock takes their row locks in id order.
func (tx *Tx) TransferCustomers(ctx context.Context, tenantID, integration string, ids []string, lock bool) ([]storage.TransferCustomer, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	b := tx.binder()
	cols := transferColumns(b.arg(micros(tx.now)))
	where := `c.tenant_id = ` + b.arg(tenantID)
	if !b.pg {
		q := `SELECT ` + cols + ` FROM customers c WHERE ` + where + ` AND c.id IN ` + b.list(ids) + ` ORDER BY c.id`
		return tx.transferCustomers(ctx, integration, q, b.args)
	}
	// One lookup per id (see probe), in id order: the order of the locks.
	locking := ""
	if lock {
		nowait, err := tx.nowait(ctx)
		if err != nil {
			return nil, err
		}
		locking = " FOR UPDATE OF c" + nowait
	}
	q := `SELECT x.* FROM unnest(` + b.arg(ids) + `::text[]) WITH ORDINALITY AS u(v, n) CROSS JOIN LATERAL (SELECT ` + cols +
		` FROM customers c WHERE ` + where + ` AND c.id = u.v OFFSET 0` + locking + `) AS x ORDER BY u.n`
	return tx.transferCustomers(ctx, integration, q, b.args)
}

// ExportCustomers pages a tenant's customers in id order.
func (tx *Tx) ExportCustomers(ctx context.Context, tenantID, integration, after string, limit int) ([]storage.TransferCustomer, error) {
	b := tx.binder()
	q := `SELECT ` + transferColumns(b.arg(micros(tx.now))) + ` FROM customers c WHERE c.tenant_id = ` + b.arg(tenantID) +
		` AND c.id > ` + b.arg(after) + live + ` ORDER BY c.id LIMIT ` + b.arg(limit)
	return tx.transferCustomers(ctx, integration, q, b.args)
}

func (tx *Tx) transferCustomers(ctx context.Context, integration, q string, args []any) ([]storage.TransferCustomer, error) {
	rows, err := tx.queryRaw(ctx, q, args...)
	if err != nil {
		return nil, wrap("transfer customers", err)
	}
	defer rows.Close()
	var out []storage.TransferCustomer
	for rows.Next() {
		var spendable, pending, held int64
		c, err := scanCustomer(tx.db.keys, func(dest ...any) error { return rows.Scan(append(dest, &spendable, &pending, &held)...) })
		if err != nil {
			return nil, wrap("transfer customers", err)
		}
		c.Spendable, c.Cards = spendable, []kopilka.Card{}
		out = append(out, storage.TransferCustomer{Customer: *c, Pending: pending, Held: held})
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("transfer customers", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	return out, tx.transferExtras(ctx, integration, out)
}

// transferExtras fills the cards and external ids of customers of one
// tenant, a query each.
func (tx *Tx) transferExtras(ctx context.Context, integration string, cs []storage.TransferCustomer) error {
	at := make(map[string]int, len(cs))
	ids := make([]string, len(cs))
	for i, c := range cs {
		at[c.ID], ids[i] = i, c.ID
	}
	b := tx.binder()
	rows, err := tx.queryRaw(ctx, b.probe("customer_id, number, kind, status, created_at", "cards", "customer_id",
		"tenant_id = "+b.arg(cs[0].TenantID), ids)+" ORDER BY 1, 5, 2", b.args...)
	if err != nil {
		return wrap("transfer cards", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k kopilka.Card
		var created int64
		if err := rows.Scan(&k.CustomerID, &k.Number, &k.Kind, &k.Status, &created); err != nil {
			return wrap("transfer cards", err)
		}
		k.CreatedAt = fromMicros(created)
		c := &cs[at[k.CustomerID]]
		c.Cards = append(c.Cards, k)
	}
	if err := rows.Err(); err != nil {
		return wrap("transfer cards", err)
	}
	rows.Close()
	b = tx.binder()
	rows, err = tx.queryRaw(ctx, b.probe("customer_id, external_id", "customer_external_ids", "customer_id",
		"tenant_id = "+b.arg(cs[0].TenantID)+" AND integration = "+b.arg(integration), ids)+" ORDER BY 1, 2", b.args...)
	if err != nil {
		return wrap("transfer external ids", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, ext string
		if err := rows.Scan(&id, &ext); err != nil {
			return wrap("transfer external ids", err)
		}
		c := &cs[at[id]]
		c.ExternalIDs = append(c.ExternalIDs, ext)
	}
	return wrap("transfer external ids", rows.Err())
}

const (
	customerInsertCols = `tenant_id, id, kind, phone, extra_phone, email, first_name, last_name, middle_name, birth_date,
 gender, ad_consent, ad_consent_at, ad_consent_via, grp, tags, purchases_total, debt, created_at, updated_at, birth_md,
 phone_bidx, email_bidx, pii_key`
	cardInsertCols       = `tenant_id, number, customer_id, kind, status, created_at`
	externalIDInsertCols = `tenant_id, integration, external_id, customer_id, created_at`
	changeInsertCols     = `tenant_id, customer_id, field, old_value, new_value, actor, changed_at, pii_key`
)

// WriteImport writes a chunk of an import, one multi-row INSERT per table.
func (tx *Tx) WriteImport(ctx context.Context, tenantID string, w *storage.ImportWrites) error {
	now := micros(tx.now)
	var customers, cards, exts, ops, posts, lots, changes, docs [][]any
	keys := tx.db.keys
	addCard := func(k *kopilka.Card) {
		k.CreatedAt = tx.now
		if k.Kind == "" {
			k.Kind = "plastic"
		}
		if k.Status == "" {
			k.Status = "active"
		}
		cards = append(cards, []any{tenantID, k.Number, k.CustomerID, k.Kind, k.Status, now})
	}
	for _, c := range w.Customers {
		c.TenantID, c.CreatedAt, c.UpdatedAt = tenantID, tx.now, tx.now
		for i := range c.Cards {
			c.Cards[i].CustomerID = c.ID
			addCard(&c.Cards[i])
		}
	}
	pg := tx.isPG()
	var searchN int64 // the last search document's number (SQLite)
	if !pg && len(w.Customers) > 0 {
		if err := tx.row(ctx, lastSearchNSQL).Scan(&searchN); err != nil {
			return wrap("write import", err)
		}
	}
	// Sealing the personal data and making the search terms is most of
	// the work of a chunk outside the database: it runs beside the
	// inserts of the other tables, which do not need it (on SQLite the
	// one writer would otherwise wait for it on every chunk).
	sealed := make(chan error, 1)
	go func() {
		for _, c := range w.Customers {
			tags, err := json.Marshal(nonNil(c.Tags))
			if err != nil {
				sealed <- err
				return
			}
			s := sealCustomer(keys, c)
			customers = append(customers, []any{tenantID, c.ID, string(c.Kind), s.phone, s.extraPhone, s.email,
				s.firstName, s.lastName, s.middleName, s.birthDate, c.Gender, boolInt(c.AdConsent), nullMicros(c.AdConsentAt),
				c.AdConsentVia, c.Group, string(tags), c.PurchasesTotal, c.Debt, now, now, s.birthMD, s.phoneIdx, s.emailIdx, s.key})
			row := &customers[len(customers)-1]
			if pg {
				*row = append(*row, pgTerms(keys, c))
				continue
			}
			searchN++
			*row = append(*row, searchN)
			if doc := searchDoc(keys, c); doc != "" {
				docs = append(docs, []any{searchN, doc})
			}
		}
		sealed <- nil
	}()
	// Whatever happens below, the goroutine is done with the customers
	// before WriteImport returns.
	wait := sync.OnceValue(func() error { return <-sealed })
	defer wait() //nolint:errcheck // the error is taken where it matters
	for i := range w.Cards {
		addCard(&w.Cards[i])
	}
	for _, e := range w.ExternalIDs {
		exts = append(exts, []any{tenantID, e.Integration, e.ExternalID, e.CustomerID, now})
	}
	for _, o := range w.Ops {
		if err := ledger.Balanced(o.Postings); err != nil {
			return fmt.Errorf("operation %s: %w", o.Op.ID, err)
		}
		op := o.Op
		op.TenantID, op.CreatedAt, op.UpdatedAt = tenantID, tx.now, tx.now
		ops = append(ops, []any{tenantID, op.ID, op.CustomerID, string(op.Type), string(op.Status), op.Amount,
			op.PurchaseID, nullString(op.ExternalID), op.Message, op.RequestHash, now, now})
		for i, p := range o.Postings {
			posts = append(posts, []any{tenantID, op.ID, storage.PhaseCreate + i, p.CustomerID, string(p.Account), p.Amount})
		}
	}
	for _, l := range w.Lots {
		l.TenantID, l.CreatedAt = tenantID, tx.now
		lots = append(lots, []any{tenantID, l.ID, l.CustomerID, l.OperationID, l.Amount, l.Remaining, l.State,
			micros(l.ActivatesAt), nullMicros(l.ExpiresAt), now})
	}
	for _, ch := range w.Changes {
		o, n := sealChange(keys, tenantID, ch)
		changes = append(changes, []any{tenantID, ch.CustomerID, ch.Field, o, n, ch.Actor, now, keys.Current()})
	}
	customerCols := customerInsertCols + ", search_n"
	if pg {
		customerCols = customerInsertCols + ", terms"
	}
	for _, ins := range []struct {
		table, cols string
		rows        *[][]any
	}{
		{"cards", cardInsertCols, &cards},
		{"customer_external_ids", externalIDInsertCols, &exts},
		{"operations", opTable.columns(), &ops},
		{"postings", postingTable.columns(), &posts},
		{"lots", lotTable.columns(), &lots},
		{"customer_changes", changeInsertCols, &changes},
		{"customers", customerCols, &customers},
		{"customer_search", "rowid, terms", &docs},
	} {
		if ins.table == "customers" {
			if err := wait(); err != nil {
				return err
			}
		}
		if err := tx.insertRows(ctx, ins.table, ins.cols, *ins.rows); err != nil {
			return fmt.Errorf("write import: %w", err)
		}
	}
	for _, d := range w.LotDeltas {
		if err := tx.AddLotRemaining(ctx, tenantID, d.LotID, d.Delta); err != nil {
			return fmt.Errorf("write import: %w", err)
		}
	}
	for _, c := range w.Updates {
		if err := tx.UpdateCustomer(ctx, c); err != nil {
			return fmt.Errorf("write import: %w", err)
		}
	}
	for _, b := range w.Balances {
		if err := tx.SetCustomerBalances(ctx, tenantID, b.CustomerID, b.Debt, b.PurchasesTotal); err != nil {
			return fmt.Errorf("write import: %w", err)
		}
	}
	return nil
}

const exportOperationsSQL = `SELECT o.id, o.customer_id, o.type, o.status, o.amount, o.purchase_id, o.external_id, o.message,
 o.created_at, o.updated_at,
 COALESCE((SELECT MIN(e.external_id) FROM customer_external_ids e WHERE e.tenant_id = o.tenant_id
  AND e.integration = $2 AND e.customer_id = o.customer_id), '')
FROM operations o
WHERE o.tenant_id = $1 AND o.created_at >= $3 AND o.created_at < $4
 AND (o.created_at > $5 OR (o.created_at = $5 AND o.id > $6))
ORDER BY o.created_at, o.id LIMIT $7`

// ExportOperations pages a tenant's operations of a period.
func (tx *Tx) ExportOperations(ctx context.Context, tenantID, integration string, from, to time.Time, after storage.OpCursor, limit int) ([]storage.ExportedOperation, error) {
	cur := micros(from)
	if !after.CreatedAt.IsZero() {
		cur = micros(after.CreatedAt)
	}
	rows, err := tx.query(ctx, exportOperationsSQL, tenantID, integration, micros(from), micros(to), cur, after.ID, limit)
	if err != nil {
		return nil, wrap("export operations", err)
	}
	defer rows.Close()
	var out []storage.ExportedOperation
	for rows.Next() {
		o := storage.ExportedOperation{Operation: kopilka.Operation{TenantID: tenantID}}
		var typ, status string
		var ext sql.NullString
		var created, updated int64
		if err := rows.Scan(&o.ID, &o.CustomerID, &typ, &status, &o.Amount, &o.PurchaseID, &ext, &o.Message,
			&created, &updated, &o.CustomerExternalID); err != nil {
			return nil, wrap("export operations", err)
		}
		o.Type, o.Status, o.ExternalID = kopilka.OpType(typ), kopilka.OpStatus(status), ext.String
		o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, o)
	}
	return out, wrap("export operations", rows.Err())
}

const (
	importJobCols = `tenant_id, id, status, phase, format, dry_run, skip_bad_rows, size, percent, rows_total, rows_done,
 created, updated, unchanged, bad_rows, errors, message, created_at, updated_at, finished_at`
	createImportJobSQL = `INSERT INTO import_jobs (` + importJobCols + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`
	updateImportJobSQL = `UPDATE import_jobs SET status = $3, phase = $4, percent = $5, rows_total = $6, rows_done = $7,
 created = $8, updated = $9, unchanged = $10, bad_rows = $11, errors = $12, message = $13, updated_at = $14, finished_at = $15
WHERE tenant_id = $1 AND id = $2 AND status IN ('queued', 'running')`
	getImportJobSQL = `SELECT ` + importJobCols + ` FROM import_jobs WHERE tenant_id = $1 AND id = $2`
)

// jobErrors is a job's row errors as stored: sealed, for their messages
// quote the file's cells (phones, e-mails).
func (tx *Tx) jobErrors(j *storage.ImportJob) (string, error) {
	errs := j.Errors
	if errs == nil {
		errs = []storage.RowError{}
	}
	b, err := json.Marshal(errs)
	return string(sealBlob(tx.db.keys, b, j.TenantID, j.ID, "import errors")), err
}

// CreateImportJob stores a new import job.
func (tx *Tx) CreateImportJob(ctx context.Context, j *storage.ImportJob) error {
	j.CreatedAt, j.UpdatedAt = tx.now, tx.now
	errs, err := tx.jobErrors(j)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, createImportJobSQL, j.TenantID, j.ID, j.Status, j.Phase, j.Format, boolInt(j.DryRun),
		boolInt(j.SkipBadRows), j.Size, j.Percent, j.RowsTotal, j.RowsDone, j.Created, j.Updated, j.Unchanged, j.BadRows,
		errs, j.Message, micros(tx.now), micros(tx.now), nullMicros(j.FinishedAt))
	return wrap("create import job", err)
}

// UpdateImportJob writes a running job's state.
func (tx *Tx) UpdateImportJob(ctx context.Context, j *storage.ImportJob) error {
	errs, err := tx.jobErrors(j)
	if err != nil {
		return err
	}
	err = affected(tx.exec(ctx, updateImportJobSQL, j.TenantID, j.ID, j.Status, j.Phase, j.Percent, j.RowsTotal, j.RowsDone,
		j.Created, j.Updated, j.Unchanged, j.BadRows, errs, j.Message, micros(tx.now), nullMicros(j.FinishedAt)))
	if errors.Is(err, storage.ErrNotFound) {
		if _, gerr := tx.GetImportJob(ctx, j.TenantID, j.ID); gerr == nil {
			return fmt.Errorf("update import job %s: it has finished: %w", j.ID, storage.ErrConflict)
		}
	}
	if err == nil {
		j.UpdatedAt = tx.now
	}
	return wrap("update import job", err)
}

// GetImportJob loads an import job.
func (tx *Tx) GetImportJob(ctx context.Context, tenantID, id string) (*storage.ImportJob, error) {
	j := &storage.ImportJob{}
	var dry, skip int
	var errs string
	var created, updated int64
	var finished sql.NullInt64
	err := tx.row(ctx, getImportJobSQL, tenantID, id).Scan(&j.TenantID, &j.ID, &j.Status, &j.Phase, &j.Format, &dry, &skip,
		&j.Size, &j.Percent, &j.RowsTotal, &j.RowsDone, &j.Created, &j.Updated, &j.Unchanged, &j.BadRows, &errs, &j.Message,
		&created, &updated, &finished)
	if err != nil {
		return nil, wrap("get import job", err)
	}
	j.DryRun, j.SkipBadRows = dry != 0, skip != 0
	j.CreatedAt, j.UpdatedAt, j.FinishedAt = fromMicros(created), fromMicros(updated), fromNullMicros(finished)
	b, err := openBlob(tx.db.keys, []byte(errs), tenantID, id, "import errors")
	if err != nil {
		return nil, fmt.Errorf("import job %s errors: %w", id, err)
	}
	if err := json.Unmarshal(b, &j.Errors); err != nil {
		return nil, wrap("import job errors", err)
	}
	return j, nil
}
