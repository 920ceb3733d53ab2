package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

const insertOperationSQL = `INSERT INTO operations (tenant_id, id, customer_id, type, status, amount, purchase_id,
 external_id, message, request_hash, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`

// InsertOperation writes an operation and its postings.
func (tx *Tx) InsertOperation(ctx context.Context, op *kopilka.Operation, ps []ledger.Posting) error {
	return tx.insertOperation(ctx, op, ps, nil)
}

// InsertCredit writes an operation, its postings and the lot it credits.
func (tx *Tx) InsertCredit(ctx context.Context, op *kopilka.Operation, ps []ledger.Posting, lot *kopilka.Lot) error {
	return tx.insertOperation(ctx, op, ps, lot)
}

// insertOperation writes an operation, its postings and, when lot is not
// nil, its lot. On PostgreSQL that is one statement (data-modifying CTEs),
// so the whole write costs one round trip; SQLite runs in-process and
// takes the inserts one by one.
func (tx *Tx) insertOperation(ctx context.Context, op *kopilka.Operation, ps []ledger.Posting, lot *kopilka.Lot) error {
	if err := ledger.Balanced(ps); err != nil {
		return fmt.Errorf("operation %s: %w", op.ID, err)
	}
	op.CreatedAt, op.UpdatedAt = tx.now, tx.now
	args := []any{op.TenantID, op.ID, op.CustomerID, string(op.Type), string(op.Status), op.Amount, op.PurchaseID,
		nullString(op.ExternalID), op.Message, op.RequestHash, micros(tx.now)}
	// Without postings the single PostgreSQL statement would end in an
	// empty VALUES list: take the inserts one by one there too.
	if tx.db.d.name() != "postgres" || len(ps) == 0 {
		if _, err := tx.exec(ctx, insertOperationSQL, args...); err != nil {
			return wrap("insert operation", err)
		}
		if err := tx.insertPostings(ctx, op.TenantID, op.ID, storage.PhaseCreate, ps); err != nil {
			return err
		}
		if lot != nil {
			return tx.InsertLot(ctx, lot)
		}
		return nil
	}
	var b strings.Builder
	b.WriteString(`WITH o AS (` + insertOperationSQL + `)`)
	if lot != nil {
		lot.CreatedAt = tx.now
		args = append(args, lot.ID, lot.Amount, lot.Remaining, lot.State, micros(lot.ActivatesAt), nullMicros(lot.ExpiresAt))
		b.WriteString(`, l AS (INSERT INTO lots (tenant_id, id, customer_id, operation_id, amount, remaining, state,
 activates_at, expires_at, created_at) VALUES ($1, $12, $3, $2, $13, $14, $15, $16, $17, $11))`)
	}
	b.WriteString(` INSERT INTO postings (tenant_id, operation_id, n, customer_id, account, amount) VALUES `)
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($1, $2, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4)
		args = append(args, storage.PhaseCreate+i, p.CustomerID, string(p.Account), p.Amount)
	}
	_, err := tx.exec(ctx, b.String(), args...)
	return wrap("insert operation", err)
}

// insertPostings writes postings numbered from first, in one statement.
func (tx *Tx) insertPostings(ctx context.Context, tenantID, opID string, first int, ps []ledger.Posting) error {
	if len(ps) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO postings (tenant_id, operation_id, n, customer_id, account, amount) VALUES `)
	args := make([]any, 0, 2+4*len(ps))
	args = append(args, tenantID, opID)
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($1, $2, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4)
		args = append(args, first+i, p.CustomerID, string(p.Account), p.Amount)
	}
	_, err := tx.exec(ctx, b.String(), args...)
	return wrap("insert postings", err)
}

const finishOperationSQL = `UPDATE operations SET status = $3, updated_at = $4, message = message || $5
WHERE tenant_id = $1 AND id = $2 AND status = 'pending'`

// FinishOperation posts or voids a pending operation.
func (tx *Tx) FinishOperation(ctx context.Context, tenantID, id string, to kopilka.OpStatus, note string, ps []ledger.Posting) error {
	if err := ledger.Balanced(ps); err != nil {
		return fmt.Errorf("operation %s: %w", id, err)
	}
	err := affected(tx.exec(ctx, finishOperationSQL, tenantID, id, string(to), micros(tx.now), note))
	if err == storage.ErrNotFound {
		return fmt.Errorf("operation %s is not pending: %w", id, storage.ErrConflict)
	}
	if err != nil {
		return wrap("finish operation", err)
	}
	return tx.insertPostings(ctx, tenantID, id, storage.PhaseFinish, ps)
}

// AddPostings writes further postings of an operation (activation).
func (tx *Tx) AddPostings(ctx context.Context, tenantID, opID string, phase int, ps []ledger.Posting) error {
	if err := ledger.Balanced(ps); err != nil {
		return fmt.Errorf("operation %s: %w", opID, err)
	}
	return tx.insertPostings(ctx, tenantID, opID, phase, ps)
}

const operationColumns = `tenant_id, id, customer_id, type, status, amount, purchase_id, external_id, message,
 request_hash, created_at, updated_at`

func scanOperation(scan func(...any) error) (*kopilka.Operation, error) {
	var op kopilka.Operation
	var typ, status string
	var ext sql.NullString
	var created, updated int64
	if err := scan(&op.TenantID, &op.ID, &op.CustomerID, &typ, &status, &op.Amount, &op.PurchaseID, &ext,
		&op.Message, &op.RequestHash, &created, &updated); err != nil {
		return nil, err
	}
	op.Type, op.Status, op.ExternalID = kopilka.OpType(typ), kopilka.OpStatus(status), ext.String
	op.CreatedAt, op.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &op, nil
}

// GetOperation loads an operation.
func (tx *Tx) GetOperation(ctx context.Context, tenantID, id string) (*kopilka.Operation, error) {
	op, err := scanOperation(tx.row(ctx, `SELECT `+operationColumns+` FROM operations WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan)
	return op, wrap("get operation", err)
}

// OperationByExternalID finds an operation of a type by its external id.
func (tx *Tx) OperationByExternalID(ctx context.Context, tenantID string, typ kopilka.OpType, externalID string) (*kopilka.Operation, error) {
	op, err := scanOperation(tx.row(ctx, `SELECT `+operationColumns+` FROM operations
WHERE tenant_id = $1 AND type = $2 AND external_id = $3`, tenantID, string(typ), externalID).Scan)
	return op, wrap("operation by external id", err)
}

const listOperationsSQL = `SELECT ` + operationColumns + ` FROM operations
WHERE tenant_id = $1 AND customer_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3`

const listOperationsAfterSQL = `SELECT ` + operationColumns + ` FROM operations
WHERE tenant_id = $1 AND customer_id = $2
 AND (created_at, id) < (SELECT created_at, id FROM operations WHERE tenant_id = $1 AND id = $4)
ORDER BY created_at DESC, id DESC LIMIT $3`

// ListOperations pages a customer's operations newest first, with those
// of the customers merged into it.
func (tx *Tx) ListOperations(ctx context.Context, tenantID, customerID, after string, limit int) ([]kopilka.Operation, error) {
	merged, err := tx.mergedInto(ctx, tenantID, customerID)
	if err != nil {
		return nil, err
	}
	q, args := listOperationsSQL, []any{tenantID, customerID, limit}
	if after != "" {
		q, args = listOperationsAfterSQL, append(args, after)
	}
	if len(merged) > 0 {
		q = strings.Replace(q, "customer_id = $2", "customer_id IN ($2, "+placeholders(&args, merged)+")", 1)
	}
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list operations", err)
	}
	defer rows.Close()
	var out []kopilka.Operation
	for rows.Next() {
		op, err := scanOperation(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, *op)
	}
	return out, rows.Err()
}

// mergedInto lists the ids of the customers merged into a customer.
func (tx *Tx) mergedInto(ctx context.Context, tenantID, customerID string) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT id FROM customers WHERE tenant_id = $1 AND merged_into = $2 ORDER BY id`, tenantID, customerID)
	if err != nil {
		return nil, wrap("merged customers", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
