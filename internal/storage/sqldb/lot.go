package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

const insertLotSQL = `INSERT INTO lots (tenant_id, id, customer_id, operation_id, amount, remaining, state,
 activates_at, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// InsertLot writes a new lot of points.
func (tx *Tx) InsertLot(ctx context.Context, l *kopilka.Lot) error {
	l.CreatedAt = tx.now
	_, err := tx.exec(ctx, insertLotSQL, l.TenantID, l.ID, l.CustomerID, l.OperationID, l.Amount, l.Remaining,
		l.State, micros(l.ActivatesAt), nullMicros(l.ExpiresAt), micros(tx.now))
	return wrap("insert lot", err)
}

const lotColumns = `tenant_id, id, customer_id, operation_id, amount, remaining, state, activates_at, expires_at, created_at`

// customerLotsOrder is the order CustomerLots returns lots in.
const customerLotsOrder = `created_at, id`

// CustomerLots returns the customer's lots with points left in the states.
func (tx *Tx) CustomerLots(ctx context.Context, tenantID, customerID string, states ...string) ([]kopilka.Lot, error) {
	args := []any{tenantID, customerID}
	ph := make([]string, len(states))
	for i, s := range states {
		args = append(args, s)
		ph[i] = fmt.Sprintf("$%d", i+3)
	}
	q := `SELECT ` + lotColumns + ` FROM lots WHERE tenant_id = $1 AND customer_id = $2 AND remaining > 0
 AND state IN (` + strings.Join(ph, ", ") + `) ORDER BY ` + customerLotsOrder
	if tx.b != nil && len(states) == 1 && states[0] == kopilka.LotActive {
		if lots, ok := tx.b.activeLots(tenantID, customerID); ok {
			return lots, nil
		}
	}
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, wrap("customer lots", err)
	}
	return scanLots(rows)
}

// scanLots reads rows of lotColumns.
func scanLots(rows *sql.Rows) ([]kopilka.Lot, error) {
	defer rows.Close()
	var out []kopilka.Lot
	for rows.Next() {
		var l kopilka.Lot
		var act, created int64
		var exp sql.NullInt64
		if err := rows.Scan(&l.TenantID, &l.ID, &l.CustomerID, &l.OperationID, &l.Amount, &l.Remaining, &l.State,
			&act, &exp, &created); err != nil {
			return nil, err
		}
		l.ActivatesAt, l.ExpiresAt, l.CreatedAt = fromMicros(act), fromNullMicros(exp), fromMicros(created)
		out = append(out, l)
	}
	return out, rows.Err()
}

const addLotRemainingSQL = `UPDATE lots SET remaining = remaining + $3 WHERE tenant_id = $1 AND id = $2`

// AddLotRemaining changes a lot's remaining points; the CHECK constraint
// refuses anything outside 0..amount.
func (tx *Tx) AddLotRemaining(ctx context.Context, tenantID, lotID string, delta kopilka.Amount) error {
	return wrap("lot remaining", affected(tx.exec(ctx, addLotRemainingSQL, tenantID, lotID, delta)))
}

// SetLotState moves a lot to another state.
func (tx *Tx) SetLotState(ctx context.Context, tenantID, lotID, state string) error {
	return wrap("lot state", affected(tx.exec(ctx, `UPDATE lots SET state = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, lotID, state)))
}

const updateLotSQL = `UPDATE lots SET state = $3, remaining = $4, activates_at = $5, expires_at = $6
WHERE tenant_id = $1 AND id = $2`

// UpdateLot writes a lot's state, remaining points and times.
func (tx *Tx) UpdateLot(ctx context.Context, l *kopilka.Lot) error {
	return wrap("update lot", affected(tx.exec(ctx, updateLotSQL, l.TenantID, l.ID, l.State, l.Remaining,
		micros(l.ActivatesAt), nullMicros(l.ExpiresAt))))
}

// GetLot loads a lot.
func (tx *Tx) GetLot(ctx context.Context, tenantID, id string) (*kopilka.Lot, error) {
	var l kopilka.Lot
	var act, created int64
	var exp sql.NullInt64
	err := tx.row(ctx, `SELECT `+lotColumns+` FROM lots WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(
		&l.TenantID, &l.ID, &l.CustomerID, &l.OperationID, &l.Amount, &l.Remaining, &l.State, &act, &exp, &created)
	if err != nil {
		return nil, wrap("get lot", err)
	}
	l.ActivatesAt, l.ExpiresAt, l.CreatedAt = fromMicros(act), fromNullMicros(exp), fromMicros(created)
	return &l, nil
}

const spendableSumSQL = `SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE tenant_id = $1 AND customer_id = $2
 AND remaining > 0 AND state = 'active' AND (expires_at IS NULL OR expires_at > $3)`

// SpendableSum sums the customer's spendable lots.
func (tx *Tx) SpendableSum(ctx context.Context, tenantID, customerID string, now time.Time) (kopilka.Amount, error) {
	var v int64
	err := tx.row(ctx, spendableSumSQL, tenantID, customerID, micros(now)).Scan(&v)
	return v, wrap("spendable sum", err)
}

const insertHoldSQL = `INSERT INTO holds (tenant_id, operation_id, lot_id, customer_id, amount, state)
VALUES ($1, $2, $3, $4, $5, $6)`

// InsertHold records points of a lot reserved by a pending operation.
func (tx *Tx) InsertHold(ctx context.Context, tenantID string, h *storage.Hold) error {
	_, err := tx.exec(ctx, insertHoldSQL, tenantID, h.OperationID, h.LotID, h.CustomerID, h.Amount, h.State)
	return wrap("insert hold", err)
}

// OperationHolds lists the holds of an operation.
func (tx *Tx) OperationHolds(ctx context.Context, tenantID, operationID string) ([]storage.Hold, error) {
	rows, err := tx.query(ctx, `SELECT operation_id, lot_id, customer_id, amount, state FROM holds
WHERE tenant_id = $1 AND operation_id = $2 ORDER BY lot_id`, tenantID, operationID)
	if err != nil {
		return nil, wrap("operation holds", err)
	}
	defer rows.Close()
	var out []storage.Hold
	for rows.Next() {
		var h storage.Hold
		if err := rows.Scan(&h.OperationID, &h.LotID, &h.CustomerID, &h.Amount, &h.State); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// SetHoldsState moves an operation's holds from one state to another.
func (tx *Tx) SetHoldsState(ctx context.Context, tenantID, operationID, from, to string) error {
	_, err := tx.exec(ctx, `UPDATE holds SET state = $4 WHERE tenant_id = $1 AND operation_id = $2 AND state = $3`,
		tenantID, operationID, from, to)
	return wrap("hold state", err)
}

// balanceSQL reads a customer's whole position in one statement, so the
// figures agree with each other even while writes commit.
const balanceSQL = `SELECT c.id, c.debt, c.purchases_total,
 (SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE tenant_id = c.tenant_id AND customer_id = c.id AND remaining > 0
   AND state = 'active' AND (expires_at IS NULL OR expires_at > $3)),
 (SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE tenant_id = c.tenant_id AND customer_id = c.id AND remaining > 0
   AND state IN ('pending', 'inactive')),
 (SELECT COALESCE(SUM(amount), 0) FROM holds WHERE tenant_id = c.tenant_id AND customer_id = c.id AND state = 'held')
FROM customers c WHERE c.tenant_id = $1 AND c.id = ` + resolvedID + live

const expiringSQL = `SELECT expires_at, SUM(remaining) FROM lots
WHERE tenant_id = $1 AND customer_id = $2 AND remaining > 0 AND state = 'active' AND expires_at > $3
GROUP BY expires_at ORDER BY expires_at LIMIT 20`

// Balance sums a customer's lots and holds at now, with the debt and the
// purchase sum, in one statement; ErrNotFound for no such customer.
// Available is the lots' sum before the debt; the tier is the caller's.
func (tx *Tx) Balance(ctx context.Context, tenantID, customerID string, now time.Time) (*kopilka.Balance, error) {
	b := &kopilka.Balance{Expiring: []kopilka.Expiring{}}
	if err := tx.row(ctx, balanceSQL, tenantID, customerID, micros(now)).Scan(&customerID, &b.Debt, &b.PurchasesTotal, &b.Available, &b.Pending, &b.Reserved); err != nil {
		return nil, wrap("balance", err)
	}
	rows, err := tx.query(ctx, expiringSQL, tenantID, customerID, micros(now))
	if err != nil {
		return nil, wrap("expiring", err)
	}
	defer rows.Close()
	for rows.Next() {
		var at, amount int64
		if err := rows.Scan(&at, &amount); err != nil {
			return nil, err
		}
		b.Expiring = append(b.Expiring, kopilka.Expiring{Amount: amount, ExpiresAt: fromMicros(at)})
	}
	return b, rows.Err()
}

// dueCustomersSQL reads each half through its partial index and keeps
// distinct customers. UNION ALL inside, not UNION: to merge two ordered
// halves, SQLite read the first by lots_customer, every lot of the
// database, 1.2 s at each activation and expiry run of a server with a
// million customers and nothing due; DISTINCT over the UNION ALL keeps
// both partial indexes (and stops at the limit). A customer with several
// lots due, on either count, is one row: RunDue takes a short page for
// the last.
const dueCustomersSQL = `SELECT DISTINCT tenant_id, customer_id FROM (
SELECT tenant_id, customer_id FROM lots WHERE state = 'inactive' AND remaining > 0 AND activates_at <= $1
UNION ALL
SELECT tenant_id, customer_id FROM lots WHERE state = 'active' AND remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1
) AS due
LIMIT $2`

// DueCustomers lists customers with lots to activate or expire.
func (tx *Tx) DueCustomers(ctx context.Context, now time.Time, limit int) ([]storage.TenantCustomer, error) {
	rows, err := tx.query(ctx, dueCustomersSQL, micros(now), limit)
	if err != nil {
		return nil, wrap("due customers", err)
	}
	defer rows.Close()
	var out []storage.TenantCustomer
	for rows.Next() {
		var tc storage.TenantCustomer
		if err := rows.Scan(&tc.TenantID, &tc.CustomerID); err != nil {
			return nil, err
		}
		out = append(out, tc)
	}
	return out, rows.Err()
}
