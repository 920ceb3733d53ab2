package sqldb

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/kopilka/kopilka/internal/ledger"
	"github.com/kopilka/kopilka/internal/storage"
)

// sqlb builds a statement with numbered placeholders.
type sqlb struct {
	b    strings.Builder
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

// piece is one INSERT or UPDATE of a Writes, written into q.
type piece func(q *sqlb, pg bool) string

const (
	opColumns          = `tenant_id, id, customer_id, type, status, amount, purchase_id, external_id, message, request_hash, created_at, updated_at`
	postingColumns     = `tenant_id, operation_id, n, customer_id, account, amount`
	lotInsertCols      = `tenant_id, id, customer_id, operation_id, amount, remaining, state, activates_at, expires_at, created_at`
	holdColumns        = `tenant_id, operation_id, lot_id, customer_id, amount, state`
	purchaseInsertCols = `tenant_id, id, external_id, customer_id, store_id, status, tier, total, eligible, max_redeem,
 max_redeem_percent, redeem, to_pay, accrue, lines, redeem_op_id, accrue_op_id, accrue_lot_id, request_hash, created_at,
 updated_at, available, whole_points`
	refundInsertCols = `tenant_id, id, purchase_id, external_id, lines, points_returned, points_revoked, debt, amount, total, request_hash, created_at`
)

// pieces turns Writes into statements, filling the rows' times.
func (tx *Tx) pieces(tenantID string, w *storage.Writes) ([]piece, error) {
	now := micros(tx.now)
	var ps []piece
	if len(w.Ops) > 0 {
		var ops, posts [][]any
		for _, o := range w.Ops {
			if err := ledger.Balanced(o.Postings); err != nil {
				return nil, fmt.Errorf("operation %s: %w", o.Op.ID, err)
			}
			op := o.Op
			op.CreatedAt, op.UpdatedAt = tx.now, tx.now
			ops = append(ops, []any{tenantID, op.ID, op.CustomerID, string(op.Type), string(op.Status), op.Amount,
				op.PurchaseID, nullString(op.ExternalID), op.Message, op.RequestHash, now, now})
			for i, p := range o.Postings {
				posts = append(posts, []any{tenantID, op.ID, storage.PhaseCreate + i, p.CustomerID, string(p.Account), p.Amount})
			}
		}
		ps = append(ps, func(q *sqlb, _ bool) string {
			return `INSERT INTO operations (` + opColumns + `) VALUES ` + q.rows(ops)
		})
		if len(posts) > 0 {
			ps = append(ps, func(q *sqlb, _ bool) string {
				return `INSERT INTO postings (` + postingColumns + `) VALUES ` + q.rows(posts)
			})
		}
	}
	if len(w.Lots) > 0 {
		var rows [][]any
		for _, l := range w.Lots {
			l.CreatedAt = tx.now
			rows = append(rows, []any{tenantID, l.ID, l.CustomerID, l.OperationID, l.Amount, l.Remaining, l.State,
				micros(l.ActivatesAt), nullMicros(l.ExpiresAt), now})
		}
		ps = append(ps, func(q *sqlb, _ bool) string {
			return `INSERT INTO lots (` + lotInsertCols + `) VALUES ` + q.rows(rows)
		})
	}
	if len(w.LotDeltas) > 0 {
		if tx.isPG() {
			deltas := w.LotDeltas
			ps = append(ps, func(q *sqlb, _ bool) string {
				var vals strings.Builder
				for i, d := range deltas {
					if i > 0 {
						vals.WriteString(", ")
					}
					fmt.Fprintf(&vals, "(%s::text, %s::bigint)", q.arg(d.LotID), q.arg(d.Delta))
				}
				return `UPDATE lots SET remaining = lots.remaining + v.delta FROM (VALUES ` + vals.String() +
					`) AS v(id, delta) WHERE lots.tenant_id = ` + q.arg(tenantID) + ` AND lots.id = v.id`
			})
		} else {
			for _, d := range w.LotDeltas {
				ps = append(ps, func(q *sqlb, _ bool) string {
					return `UPDATE lots SET remaining = remaining + ` + q.arg(d.Delta) + ` WHERE tenant_id = ` + q.arg(tenantID) +
						` AND id = ` + q.arg(d.LotID)
				})
			}
		}
	}
	if len(w.Holds) > 0 {
		var rows [][]any
		for _, h := range w.Holds {
			rows = append(rows, []any{tenantID, h.OperationID, h.LotID, h.CustomerID, h.Amount, h.State})
		}
		ps = append(ps, func(q *sqlb, _ bool) string {
			return `INSERT INTO holds (` + holdColumns + `) VALUES ` + q.rows(rows)
		})
	}
	if c := w.Customer; c != nil {
		ps = append(ps, func(q *sqlb, _ bool) string {
			return `UPDATE customers SET debt = ` + q.arg(c.Debt) + `, purchases_total = ` + q.arg(c.PurchasesTotal) +
				` WHERE tenant_id = ` + q.arg(tenantID) + ` AND id = ` + q.arg(c.CustomerID)
		})
	}
	if p := w.Purchase; p != nil {
		p.CreatedAt, p.UpdatedAt = tx.now, tx.now
		lines, err := json.Marshal(p.Lines)
		if err != nil {
			return nil, err
		}
		row := []any{tenantID, p.ID, p.ExternalID, p.CustomerID, p.StoreID, p.Status, p.Tier, p.Total, p.Eligible,
			p.MaxRedeem, int64(p.MaxRedeemPercent), p.Redeem, p.ToPay, p.Accrue, string(lines), p.RedeemOpID, p.AccrueOpID,
			p.AccrueLotID, p.RequestHash, now, now, p.Available, boolInt(p.WholePoints)}
		ps = append(ps, func(q *sqlb, _ bool) string {
			return `INSERT INTO purchases (` + purchaseInsertCols + `) VALUES ` + q.rows([][]any{row})
		})
	}
	if p := w.Update; p != nil {
		p.UpdatedAt = tx.now
		lines, err := json.Marshal(p.Lines)
		if err != nil {
			return nil, err
		}
		ps = append(ps, func(q *sqlb, _ bool) string {
			return `UPDATE purchases SET status = ` + q.arg(p.Status) + `, lines = ` + q.arg(string(lines)) +
				`, redeem_op_id = ` + q.arg(p.RedeemOpID) + `, accrue_op_id = ` + q.arg(p.AccrueOpID) +
				`, accrue_lot_id = ` + q.arg(p.AccrueLotID) + `, updated_at = ` + q.arg(now) +
				` WHERE tenant_id = ` + q.arg(tenantID) + ` AND id = ` + q.arg(p.ID)
		})
	}
	if r := w.Refund; r != nil {
		r.CreatedAt = tx.now
		lines, err := json.Marshal(r.Lines)
		if err != nil {
			return nil, err
		}
		row := []any{tenantID, r.ID, r.PurchaseID, r.ExternalID, string(lines), r.PointsReturned, r.PointsRevoked,
			r.Debt, r.Amount, r.Total, r.RequestHash, now}
		ps = append(ps, func(q *sqlb, _ bool) string {
			return `INSERT INTO refunds (` + refundInsertCols + `) VALUES ` + q.rows([][]any{row})
		})
	}
	return ps, nil
}

func (tx *Tx) isPG() bool { return tx.db.d.name() == "postgres" }

// Apply writes w: on PostgreSQL as one statement of data-modifying CTEs
// (one round trip however much it writes), on SQLite a statement a piece.
func (tx *Tx) Apply(ctx context.Context, tenantID string, w *storage.Writes) error {
	ps, err := tx.pieces(tenantID, w)
	if err != nil || len(ps) == 0 {
		return err
	}
	if !tx.isPG() || len(ps) == 1 {
		for _, p := range ps {
			q := &sqlb{}
			text := p(q, tx.isPG())
			if _, err := tx.exec(ctx, text, q.args...); err != nil {
				return wrap("apply", err)
			}
		}
		return nil
	}
	q := &sqlb{}
	q.b.WriteString("WITH ")
	for i, p := range ps {
		if i > 0 {
			q.b.WriteString(", ")
		}
		text := p(q, true)
		fmt.Fprintf(&q.b, "w%d AS (%s)", i, text)
	}
	q.b.WriteString(" SELECT 1")
	_, err = tx.exec(ctx, q.b.String(), q.args...)
	return wrap("apply", err)
}
