package sqldb

import (
	"context"
	"encoding/json"

	"github.com/kopilka/kopilka/internal/kopilka"
)

const createPurchaseSQL = `INSERT INTO purchases (tenant_id, id, external_id, customer_id, store_id, status, tier, total,
 eligible, max_redeem, max_redeem_percent, redeem, to_pay, accrue, lines, redeem_op_id, accrue_op_id, accrue_lot_id,
 request_hash, created_at, updated_at, available, whole_points)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20, $21, $22)`

// CreatePurchase stores a purchase; ErrConflict when its external id is
// taken.
func (tx *Tx) CreatePurchase(ctx context.Context, p *kopilka.Purchase) error {
	p.CreatedAt, p.UpdatedAt = tx.now, tx.now
	lines, err := json.Marshal(p.Lines)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, createPurchaseSQL, p.TenantID, p.ID, p.ExternalID, p.CustomerID, p.StoreID, p.Status, p.Tier,
		p.Total, p.Eligible, p.MaxRedeem, int64(p.MaxRedeemPercent), p.Redeem, p.ToPay, p.Accrue, string(lines),
		p.RedeemOpID, p.AccrueOpID, p.AccrueLotID, p.RequestHash, micros(tx.now), p.Available, boolInt(p.WholePoints))
	return wrap("create purchase", err)
}

const purchaseColumns = `tenant_id, id, external_id, customer_id, store_id, status, tier, total, eligible, max_redeem,
 max_redeem_percent, redeem, to_pay, accrue, lines, redeem_op_id, accrue_op_id, accrue_lot_id, request_hash,
 created_at, updated_at, available, whole_points`

func scanPurchase(scan func(...any) error) (*kopilka.Purchase, error) {
	var p kopilka.Purchase
	var lines string
	var pct, created, updated int64
	var whole int
	if err := scan(&p.TenantID, &p.ID, &p.ExternalID, &p.CustomerID, &p.StoreID, &p.Status, &p.Tier, &p.Total,
		&p.Eligible, &p.MaxRedeem, &pct, &p.Redeem, &p.ToPay, &p.Accrue, &lines, &p.RedeemOpID, &p.AccrueOpID,
		&p.AccrueLotID, &p.RequestHash, &created, &updated, &p.Available, &whole); err != nil {
		return nil, err
	}
	p.WholePoints = whole != 0
	p.MaxRedeemPercent = kopilka.Percent(pct)
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(lines), &p.Lines); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetPurchase loads a purchase.
func (tx *Tx) GetPurchase(ctx context.Context, tenantID, id string) (*kopilka.Purchase, error) {
	p, err := scanPurchase(tx.row(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan)
	return p, wrap("get purchase", err)
}

// PurchaseByExternalID finds a purchase by the client's id.
func (tx *Tx) PurchaseByExternalID(ctx context.Context, tenantID, externalID string) (*kopilka.Purchase, error) {
	p, err := scanPurchase(tx.row(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE tenant_id = $1 AND external_id = $2`, tenantID, externalID).Scan)
	return p, wrap("purchase by external id", err)
}

const updatePurchaseSQL = `UPDATE purchases SET status = $3, lines = $4, redeem_op_id = $5, accrue_op_id = $6,
 accrue_lot_id = $7, updated_at = $8 WHERE tenant_id = $1 AND id = $2`

// UpdatePurchase writes a purchase's status, lines (refunded quantities)
// and operation links.
func (tx *Tx) UpdatePurchase(ctx context.Context, p *kopilka.Purchase) error {
	p.UpdatedAt = tx.now
	lines, err := json.Marshal(p.Lines)
	if err != nil {
		return err
	}
	return wrap("update purchase", affected(tx.exec(ctx, updatePurchaseSQL, p.TenantID, p.ID, p.Status, string(lines),
		p.RedeemOpID, p.AccrueOpID, p.AccrueLotID, micros(tx.now))))
}

const createRefundSQL = `INSERT INTO refunds (tenant_id, id, purchase_id, external_id, lines, points_returned,
 points_revoked, debt, amount, total, request_hash, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

// CreateRefund stores a refund; ErrConflict when its external id is taken.
func (tx *Tx) CreateRefund(ctx context.Context, r *kopilka.Refund) error {
	r.CreatedAt = tx.now
	lines, err := json.Marshal(r.Lines)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, createRefundSQL, r.TenantID, r.ID, r.PurchaseID, r.ExternalID, string(lines), r.PointsReturned,
		r.PointsRevoked, r.Debt, r.Amount, r.Total, r.RequestHash, micros(tx.now))
	return wrap("create refund", err)
}

const refundColumns = `tenant_id, id, purchase_id, external_id, lines, points_returned, points_revoked, debt, amount,
 total, request_hash, created_at`

func scanRefund(scan func(...any) error) (*kopilka.Refund, error) {
	var r kopilka.Refund
	var lines string
	var created int64
	if err := scan(&r.TenantID, &r.ID, &r.PurchaseID, &r.ExternalID, &lines, &r.PointsReturned, &r.PointsRevoked,
		&r.Debt, &r.Amount, &r.Total, &r.RequestHash, &created); err != nil {
		return nil, err
	}
	r.CreatedAt = fromMicros(created)
	return &r, json.Unmarshal([]byte(lines), &r.Lines)
}

// RefundByExternalID finds a refund by the client's id.
func (tx *Tx) RefundByExternalID(ctx context.Context, tenantID, externalID string) (*kopilka.Refund, error) {
	r, err := scanRefund(tx.row(ctx, `SELECT `+refundColumns+` FROM refunds WHERE tenant_id = $1 AND external_id = $2`, tenantID, externalID).Scan)
	return r, wrap("refund by external id", err)
}

// ListRefunds lists a purchase's refunds, oldest first.
func (tx *Tx) ListRefunds(ctx context.Context, tenantID, purchaseID string) ([]kopilka.Refund, error) {
	rows, err := tx.query(ctx, `SELECT `+refundColumns+` FROM refunds WHERE tenant_id = $1 AND purchase_id = $2
ORDER BY created_at, id`, tenantID, purchaseID)
	if err != nil {
		return nil, wrap("list refunds", err)
	}
	defer rows.Close()
	var out []kopilka.Refund
	for rows.Next() {
		r, err := scanRefund(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}
